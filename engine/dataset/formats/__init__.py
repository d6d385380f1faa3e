"""Annotation formats users already have: one module per format, each reading one image's points and
finding (image, annotation) pairs in a source folder.

Coordinates. CrowdGUI's points are float (x, y) image pixels with the origin at the top-left corner of the
top-left pixel, so the pixel in row r, column c covers [c, c + 1) x [r, r + 1) and its centre is
(c + 0.5, r + 0.5). Dot-annotation images mark a pixel, and the point is that pixel's centre. Every other
format stores numbers, and they are imported and exported unchanged: ShanghaiTech, UCF-QNRF and NWPU .mat
files, CSV files, LabelMe and DotDotGoose all put the origin at the image's top-left corner as used by the
tools that read them (``int(x)`` is the column), and keeping the numbers makes import and export exact
inverses.

Points outside the image ([0, width) x [0, height)) are not imported: the importer drops them and says how
many (see engine/dataset/importers.py).

Each module defines ``NAME``, ``DESCRIPTION``, a ``read_<format>_points(path, size, notes)`` function and
``discover(src) -> Discovery`` (see common.py).
"""

from engine.dataset.formats import csv_points, dotdotgoose, dots, labelme, mall, nwpu, qnrf, shanghaitech, ucsd
from engine.dataset.formats.common import AnnotationError, Discovery, SourceItem

# The order breaks ties in automatic detection: the more specific naming schemes come first.
FORMATS = {module.NAME: module for module in (shanghaitech, qnrf, nwpu, ucsd, mall, dots, labelme, dotdotgoose,
                                               csv_points)}

__all__ = ["FORMATS", "AnnotationError", "Discovery", "SourceItem"]
