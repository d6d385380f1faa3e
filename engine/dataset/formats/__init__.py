"""Annotation formats users already have: one module per format, each reading one image's points and
finding (image, annotation) pairs in a source folder.

Coordinates. CrowdGUI's points are float (x, y) image pixels with the origin at the top-left corner of the
top-left pixel, so the pixel in row r, column c covers [c, c + 1) x [r, r + 1) and its centre is
(c + 0.5, r + 0.5). Dot-annotation images mark a pixel, and the point is that pixel's centre. Every other
format stores numbers, and they are imported and exported unchanged: ShanghaiTech, UCF-QNRF and NWPU .mat
files, CSV files, LabelMe, DotDotGoose, QuPath, COCO and CVAT all put the origin at the image's top-left
corner as used by the tools that read them (``int(x)`` is the column), and keeping the numbers makes import
and export exact inverses. Fiji's Cell Counter stores whole pixels, read as pixel centres like dots.

Formats with classes (Fiji marker types, QuPath classifications, COCO categories, CVAT and LabelMe labels, dot
colours when asked) import them as the points' labels and export them back; LabelMe also carries regions.

Points outside the image ([0, width) x [0, height)) are not imported: the importer drops them and says how
many (see engine/dataset/importers.py).

Each module defines ``NAME``, ``DESCRIPTION``, a reader (``read_<format>_points(path, size, notes)``; COCO
and CVAT, one file for many images, read one image's entry: ``read_<format>_entry``) and
``discover(src) -> Discovery`` (see common.py); a reader returns the points, or an ``Imported`` with classes
and regions too. Formats that export also define the writer used by engine/dataset/export_writers.py.
"""

from engine.dataset.formats import (
    coco,
    csv_points,
    cvat,
    dotdotgoose,
    dots,
    fiji,
    labelme,
    mall,
    nwpu,
    qnrf,
    qupath,
    shanghaitech,
    ucsd,
)
from engine.dataset.formats.common import AnnotationError, Discovery, Imported, SourceItem

# The order breaks ties in automatic detection: the more specific naming schemes come first.
FORMATS = {module.NAME: module for module in (shanghaitech, qnrf, nwpu, ucsd, mall, dots, fiji, cvat, coco,
                                               labelme, qupath, dotdotgoose, csv_points)}

__all__ = ["FORMATS", "AnnotationError", "Discovery", "Imported", "SourceItem"]
