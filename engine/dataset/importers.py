"""Turn a folder in a known annotation format into a CrowdGUI dataset folder.

The source is never changed: each image is hard-linked into the output folder when both are on the same
file system, or else copied (to a temporary name, then renamed), and its points are written as a sidecar
with the image's real size. What is imported equals what the source holds, point for point, except:

- points that are not finite numbers (NaN, infinity) are dropped, with a warning that says how many (a sidecar,
  being JSON, cannot hold them). Points outside the image ([0, width) x [0, height)) are imported as they
  are, with a warning: CrowdGUI never deletes a point; the dataset lists them among its problems and leaves
  them out of density maps, training, evaluation and annotated counts (see engine/dataset/store.py);
- a file that cannot be read (image or annotation) is skipped with its reason, and the import goes on;
- an image already present in the output folder is left alone (never overwritten) and reported;
- an image that has no annotation file is copied without a sidecar, i.e. unlabeled, and reported.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.dataset.formats import FORMATS, AnnotationError, Discovery, SourceItem
from engine.dataset.formats.common import IMAGE_FOLDERS, existing_folders
from engine.dataset.formats.dot_pairing import pattern_problem
from engine.dataset.images import ImageReadError, image_size, is_image_file
from engine.dataset.sidecar import Annotation, points_outside, read_sidecar, sidecar_path, write_sidecar
from engine.dataset.store import OUTSIDE_POLICY
from engine.events import EventSink, ListSink

SHOWN_NAMES = 5  # how many names a grouped warning lists before "and N more"
# The options each format takes (None values are not passed): --label chooses one class, --dots names the dots
# images by a pattern, --dot-classes makes each dot colour a class.
FORMAT_OPTIONS = {"labelme": ("label",), "dotdotgoose": ("label",), "dots": ("dots", "dot_classes")}
FORMAT_TITLES = {"labelme": "LabelMe", "dotdotgoose": "DotDotGoose", "dots": "dot-image"}


class DatasetImportError(Exception):
    """The import cannot start (no such folder, unknown layout...); the message says why in plain words."""


# Notes of one kind shown file by file; more of the same kind are summed up in one line at the end.
NOTES_SHOWN = 3


@dataclass
class ImportSummary:
    """What an import did; ``skipped`` holds (file, reason) pairs."""

    format: str
    source: str
    out: str
    images: int = 0  # images now in the dataset folder (annotated + unlabeled)
    annotated: int = 0
    unlabeled: int = 0
    points: int = 0
    classified_points: int = 0  # points imported with a class (label)
    regions: int = 0  # regions imported (LabelMe)
    dropped_points: int = 0  # not finite (NaN or infinity): not imported
    outside_points: int = 0  # outside the image: imported, flagged
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    density: str | None = None  # the density settings chosen from the imported points, and why
    class_names: list[str] = field(default_factory=list)  # the labels met, in the order first met
    # Notes of the same kind (their words without numbers) past the first NOTES_SHOWN: file names by kind.
    _notes_seen: dict[str, list[str]] = field(default_factory=dict)

    def note_is_new(self, note: str, file: str = "") -> bool:
        """Whether to show ``note``: the first NOTES_SHOWN of a kind are shown, the rest summed up at the end
        (a dots import of 100 images once gave 80 lines that differed only in their numbers)."""
        seen = self._notes_seen.setdefault(re.sub(r"\d+", "N", note), [])
        seen.append(file)
        return len(seen) <= NOTES_SHOWN

    def repeated_notes(self) -> dict[str, list[str]]:
        return {kind: files[NOTES_SHOWN:] for kind, files in self._notes_seen.items() if len(files) > NOTES_SHOWN}

    def to_dict(self) -> dict:
        return {"format": self.format, "source": self.source, "out": self.out, "images": self.images,
                "annotated": self.annotated, "unlabeled": self.unlabeled, "points": self.points,
                "classified_points": self.classified_points, "regions": self.regions,
                "dropped_points": self.dropped_points, "outside_points": self.outside_points,
                "skipped": len(self.skipped),
                "skipped_files": [{"path": p, "reason": r} for p, r in self.skipped],
                "seconds": round(self.seconds, 3), "density": self.density,
                "classes": list(self.class_names)}


def discover(src: Path | str, fmt: str, **options) -> Discovery:
    """What format ``fmt`` finds in ``src``; ``options`` (see FORMAT_OPTIONS) go to the formats taking them."""
    if fmt not in FORMATS:
        raise DatasetImportError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    taken = {key: value for key, value in options.items()
             if key in FORMAT_OPTIONS.get(fmt, ()) and value is not None}
    return FORMATS[fmt].discover(Path(src), **taken)


def _check_options(fmt: str, options: dict) -> None:
    for key, value in options.items():
        users = [FORMAT_TITLES[name] for name, keys in FORMAT_OPTIONS.items() if key in keys]
        if value is not None and fmt != "auto" and key not in FORMAT_OPTIONS.get(fmt, ()):
            flag = "--" + key.replace("_", "-")
            raise DatasetImportError(f"{flag} applies to {' and '.join(users)} files only")
    problem = pattern_problem(options["dots"]) if options.get("dots") is not None else None
    if problem is not None:
        raise DatasetImportError(problem)


def detect_format(src: Path | str, **options) -> tuple[str, Discovery]:
    """The format that pairs the most images with annotations in ``src``, and what it found.

    Raises DatasetImportError when no format finds any annotated image.
    """
    best: tuple[str, Discovery] | None = None
    for name in FORMATS:
        found = discover(src, name, **options)
        if found.labeled and (best is None or found.labeled > best[1].labeled):
            best = (name, found)
    if best is None:
        looked_for = "\n  ".join(module.DESCRIPTION for module in FORMATS.values())
        raise DatasetImportError(f"found no annotations in {src} in a format I know. I looked for:\n  "
                                 f"{looked_for}\n(point at the folder that holds the images, or at its "
                                 "parent with an images/ folder; or choose one with --format)")
    return best


def link_or_copy(source: Path, target: Path, link: bool = True) -> str:
    """Put ``source``'s bytes at ``target`` (which must not exist): ``"linked"`` or ``"copied"``.

    A copy goes to a temporary name first, so an interrupted import never leaves half an image.
    """
    if link:
        try:
            os.link(source, target)
            return "linked"
        except FileExistsError:
            raise
        except OSError:
            pass  # another file system, or links not allowed: copy instead
    with atomic_path(target) as tmp_name:
        shutil.copyfile(source, tmp_name)
        shutil.copystat(source, tmp_name)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
    return "copied"


def _finite(points: np.ndarray) -> np.ndarray:
    return np.isfinite(points[:, 0]) & np.isfinite(points[:, 1])


def _names(paths: list[str]) -> str:
    shown = ", ".join(Path(p).name for p in paths[:SHOWN_NAMES])
    return shown + (f" and {len(paths) - SHOWN_NAMES} more" if len(paths) > SHOWN_NAMES else "")


def import_dataset(src: Path | str, out: Path | str, fmt: str = "auto", events: EventSink | None = None,
                   label: str | None = None, link: bool = True, dots: str | None = None,
                   dot_classes: bool = False) -> ImportSummary:
    """Import ``src`` (format ``fmt`` or ``"auto"``) into the dataset folder ``out`` (created if needed).

    ``label`` keeps one class (LabelMe, DotDotGoose); ``dots`` is a dots-image name pattern such as
    ``"{stem}_centers.png"`` and ``dot_classes`` makes each dot colour a class (dots images).

    Reports ``start``, then per image ``result`` (or ``warning`` when skipped) and ``progress``, through
    ``events``; returns the summary (the caller reports it as ``done``). Raises DatasetImportError when the
    import cannot start.
    """
    started = time.perf_counter()
    events = events or ListSink()
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if not src.is_dir():
        raise DatasetImportError(f"{src} is not a folder")
    options = {"label": label, "dots": dots, "dot_classes": dot_classes or None}
    _check_options(fmt, options)
    if fmt == "auto" and (dots is not None or dot_classes):
        fmt = "dots"  # only dot images take these options: asking for them says what the source is
    if any(out.resolve() == folder.resolve() for folder in existing_folders(src, IMAGE_FOLDERS)):
        raise DatasetImportError(f"{out} holds the source images; choose a new folder for the dataset "
                                 "(import never changes the source)")
    if fmt == "auto":
        fmt, found = detect_format(src, **options)
    else:
        found = discover(src, fmt, **options)
        if not found.labeled:
            raise DatasetImportError(f"found no {fmt} annotations in {src} ({len(found.items)} images; "
                                     f"expected {FORMATS[fmt].DESCRIPTION})")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetImportError(f"cannot create {out}: {exc.strerror or exc}") from None

    summary = ImportSummary(format=fmt, source=str(src), out=str(out))
    for path, reason in found.skipped:
        summary.skipped.append((str(path), reason))
        events.warning(f"skipped {path.name}: {reason}", path=str(path))
    taken = {p.name.lower() for p in out.iterdir()}
    unlabeled: list[str] = []
    total = len(found.items)
    events.emit("start", command="import", total=total, format=fmt, source=str(src), out=str(out))
    for done, item in enumerate(found.items, start=1):
        reason = _import_one(item, out, taken, link, events, summary)
        if reason is not None:
            bad = item.annotation if reason.startswith("annotation") else item.image
            summary.skipped.append((str(bad), reason))
            events.warning(f"skipped {item.image.name}: {reason}", path=str(bad))
        elif not item.labeled:
            unlabeled.append(item.image.name)
        events.emit("progress", done=done, total=total)
    for kind, files in summary.repeated_notes().items():
        events.warning(f"{len(files)} more annotation file(s) with the same note ({kind}): {_names(files)}")
    if unlabeled:
        events.warning(f"{len(unlabeled)} image(s) have no annotation file and were imported unlabeled: "
                       f"{_names(unlabeled)}")
    summary.density = _suggest_density(out) if summary.annotated else None
    if summary.class_names:
        _register_classes(out, summary.class_names, events)
    summary.seconds = time.perf_counter() - started
    return summary


def _suggest_density(out: Path) -> str | None:
    """A new dataset's density settings, from its own points (engine.density.suggest_density_settings):
    adaptive for crowds seen in perspective, else a fixed sigma from the spacing. A dataset that already
    has settings keeps them. Returns what was chosen and why, or None."""
    from engine.dataset.store import SETTINGS_FILE, Dataset

    if (out / SETTINGS_FILE).exists():
        return None
    dataset = Dataset(out)
    suggestion = dataset.suggest_density()
    if suggestion is None:
        return None
    dataset.settings.density = suggestion.settings
    dataset.save_settings()
    return f"density settings: {suggestion.headline}, because {suggestion.reason}"


def _register_classes(out: Path, names: list[str], events: EventSink) -> None:
    """Add the imported labels the dataset does not list yet to its classes (crowdgui.json), and say so."""
    from engine.dataset.classes import with_classes
    from engine.dataset.store import Dataset

    dataset = Dataset(out)
    before = list(dataset.settings.classes)
    dataset.settings.classes = with_classes(before, names)
    added = [object_class.name for object_class in dataset.settings.classes[len(before):]]
    if added:
        dataset.save_settings()
        events.emit("classes", added=added, classes=dataset.settings.class_names())


def _import_one(item: SourceItem, out: Path, taken: set, link: bool, events: EventSink,
                summary: ImportSummary) -> str | None:
    """Import one image (and its points); the reason it was skipped, or None."""
    name = item.image.name
    if not is_image_file(item.image):
        return f"{item.image.suffix or 'no suffix'} is not an image type CrowdGUI lists"
    if name.lower() in taken:
        return "an image of this name is already in the dataset folder (left as it is)"
    if sidecar_path(name).name.lower() in taken:
        return "the dataset folder already has an annotation file for this name (left as it is)"
    try:
        width, height = image_size(item.image)
    except ImageReadError as exc:
        return f"image unreadable: {exc.reason}"
    points, labels, regions, dropped, outside = None, None, [], 0, 0
    if item.labeled:
        notes: list[str] = []
        try:
            found = item.load((width, height), notes)
            points, labels, regions = found.points, found.labels, found.regions
        except AnnotationError as exc:
            return f"annotation {item.annotation.name} unreadable: {exc}"
        except Exception as exc:  # a damaged file can make any library raise anything; keep going
            return f"annotation {item.annotation.name} unreadable: {type(exc).__name__}: {exc}"
        for note in notes:
            if summary.note_is_new(note, item.annotation.name):
                events.warning(f"{item.annotation.name}: {note}", path=str(item.annotation))
        keep = _finite(points)
        dropped = int(len(points) - keep.sum())
        if dropped:
            events.warning(f"{name}: {dropped} of {len(points)} point(s) are not numbers (NaN or infinity) and "
                           "were not imported", path=str(item.annotation))
            points = points[keep]
            labels = None if labels is None else [name for name, kept in zip(labels, keep) if kept]
        outside = points_outside(points, width, height)
        if outside:
            events.warning(f"{name}: {outside} of {len(points)} point(s) lie outside the {width}x{height} "
                           f"image: {OUTSIDE_POLICY}", path=str(item.annotation))
    target = out / name
    try:
        how = link_or_copy(item.image, target, link)
    except OSError as exc:
        return f"cannot copy into the dataset folder: {exc.strerror or exc}"
    taken.add(name.lower())
    if points is not None:
        try:
            regions = list(regions) + list(item.regions)  # the file's own, and a layout's (UCSD/Mall ROI)
            _write_checked(target, Annotation(name, width, height, points, labels=labels, regions=regions))
        except OSError as exc:
            target.unlink(missing_ok=True)  # we made it a moment ago; an unlabeled copy would mislead
            taken.discard(name.lower())
            return f"cannot write the annotation: {exc.strerror or exc}"
        summary.annotated += 1
        summary.points += len(points)
        summary.classified_points += 0 if labels is None else len(labels)
        for label in dict.fromkeys(labels or []):
            if label not in summary.class_names:
                summary.class_names.append(label)
        summary.regions += len(regions)
        summary.dropped_points += dropped
        summary.outside_points += outside
    else:
        summary.unlabeled += 1
    summary.images += 1
    events.emit("result", image=name, annotated=points is not None,
                count=None if points is None else len(points), dropped=dropped, outside=outside, stored=how,
                source=str(item.image), annotation=str(item.annotation) if item.annotation else None)
    return None


def _write_checked(image: Path, annotation: Annotation) -> None:
    # Reading the sidecar back proves the points on disk are exactly the points read from the source.
    path = sidecar_path(image)
    write_sidecar(path, annotation)
    back = read_sidecar(path)
    if not np.array_equal(back.points, annotation.points) or back.labels != annotation.labels:
        raise OSError(f"{path.name} does not read back the points just written")
