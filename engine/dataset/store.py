"""A dataset is a folder of images plus one annotation sidecar per image (see sidecar.py).

The folder also holds ``crowdgui.json``: the dataset's settings (density map settings used for preview and as
training defaults, the validation fraction). Images are never modified. Subfolders are not scanned, so run
folders and exports can live inside a dataset folder.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic import remove_stale_temp_files
from engine.dataset.images import ImageReadError, image_size, is_image_file
from engine.dataset.pixel_size import PixelSize
from engine.dataset.classes import DEFAULT_CLASS, ObjectClass, class_indices
from engine.dataset.regions import (
    has_annotated_regions,
    known_area,
    nothing_known_beyond_regions,
    region_problems,
    usable_regions,
)
from engine.dataset.sidecar import (
    KEEP,
    Annotation,
    SidecarError,
    annotation_to_json,
    atomic_write_bytes,
    points_outside,
    read_sidecar,
    sidecar_path,
)
from engine.density import DensitySettings, DensitySuggestion, suggest_density_settings

SETTINGS_FILE = "crowdgui.json"
# What happens to confirmed points outside their image, in the words every warning uses.
OUTSIDE_POLICY = "kept in the points file; left out of density maps, training, evaluation and annotated counts"
SETTINGS_FORMAT = "crowdgui-dataset"


@dataclass
class DatasetSettings:
    """Per-dataset choices that travel with the folder."""

    density: DensitySettings = field(default_factory=DensitySettings)
    val_fraction: float = 0.2
    # The classes of objects, in order; a point without a label is of the first. Empty: one class.
    classes: list[ObjectClass] = field(default_factory=list)
    pixel_size: PixelSize | None = None  # for counts per mm² or per hectare (count --pixel-size)

    def to_json(self) -> dict:
        data = {"format": SETTINGS_FORMAT, "version": 1, "density": asdict(self.density),
                "val_fraction": self.val_fraction}
        if self.classes:
            data["classes"] = [asdict(object_class) for object_class in self.classes]
        if self.pixel_size is not None:
            data["pixel_size"] = self.pixel_size.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "DatasetSettings":
        density = DensitySettings.from_dict(data.get("density") or {})
        val_fraction = float(data.get("val_fraction", 0.2))
        raw_classes = data.get("classes") if isinstance(data.get("classes"), list) else []
        classes, seen = [], set()
        for raw in raw_classes:  # a class without a usable name, or named twice, is left out
            object_class = ObjectClass.from_json(raw)
            if object_class is not None and object_class.name not in seen:
                classes.append(object_class)
                seen.add(object_class.name)
        return cls(density=density, val_fraction=min(max(val_fraction, 0.0), 0.9), classes=classes,
                   pixel_size=PixelSize.from_json(data.get("pixel_size")))

    def class_names(self) -> list[str]:
        return [object_class.name for object_class in self.classes] or [DEFAULT_CLASS]


@dataclass
class ImageEntry:
    """One image of the dataset as found on disk."""

    name: str
    path: Path
    width: int = 0
    height: int = 0
    # "unlabeled" (no annotation file, or nothing known), "proposed" (model proposals wait to be accepted),
    # "complete" (every object of the image is clicked) or "partial" (only inside annotated regions, or only
    # stated counts). Partial images train and validate on what is known (engine.dataset.regions).
    status: str = "unlabeled"
    count: int | None = None  # number of confirmed points, when a valid sidecar exists
    proposed: int = 0  # model-proposed points waiting to be accepted (the image is then not annotated)
    split: str | None = None  # the split written in the sidecar, if any
    image_error: str | None = None  # why the image cannot be read (the image is then skipped)
    sidecar_error: str | None = None  # why the sidecar cannot be trusted (it is then kept aside)
    outside: int = 0  # confirmed points outside the image: kept in the file, left out of training and scores
    sidecar_size: tuple[int, int] | None = None  # the (width, height) the sidecar was written for
    regions: int = 0  # usable regions in the sidecar
    region_problems: list[str] = field(default_factory=list)  # regions kept in the file but left out
    labels: list[str] | None = None  # the class of each confirmed point, when the sidecar names them

    @property
    def annotated(self) -> bool:
        """True when a person's annotation says something certain about the image (complete or partial)."""
        return self.status in ("complete", "partial")

    @property
    def sidecar(self) -> Path:
        return sidecar_path(self.path)

    @property
    def usable(self) -> bool:
        return self.image_error is None


class Dataset:
    """The images of one folder and their annotations."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder} is not a folder")
        self.entries: list[ImageEntry] = []
        self._by_name: dict[str, ImageEntry] = {}
        self.settings = self._load_settings()
        # Writers killed mid-save (a crash, kill -9, power cut) leave hidden ``.NAME.*.tmp`` files; they are
        # never listed, and old ones are deleted here so they do not pile up.
        remove_stale_temp_files(self.folder)
        self.rescan()

    # ----------------------------------------------------------------- listing
    def rescan(self) -> None:
        """List the folder's images again and check each one's header and sidecar."""
        # Hidden files are skipped: macOS leaves "._IMG_1.jpg" resource forks beside copied images, and
        # they would otherwise be listed as unreadable images.
        names = sorted((p.name for p in self.folder.iterdir()
                        if p.is_file() and is_image_file(p) and not p.name.startswith(".")),
                       key=natural_key)
        self.entries = [self._inspect(self.folder / name) for name in names]
        self._by_name = {entry.name: entry for entry in self.entries}

    def _inspect(self, path: Path) -> ImageEntry:
        entry = ImageEntry(name=path.name, path=path)
        try:
            entry.width, entry.height = image_size(path)
        except ImageReadError as exc:
            entry.image_error = exc.reason
        self._refresh_annotation(entry)
        return entry

    def _refresh_annotation(self, entry: ImageEntry) -> None:
        entry.status, entry.count, entry.split, entry.sidecar_error = "unlabeled", None, None, None
        entry.proposed, entry.outside, entry.sidecar_size, entry.regions, entry.region_problems = 0, 0, None, 0, []
        entry.labels = None
        if not entry.sidecar.exists():
            return
        try:
            annotation = read_sidecar(entry.sidecar)
        except SidecarError as exc:
            entry.sidecar_error = exc.reason
            return
        self._set_annotation_state(entry, annotation)

    @staticmethod
    def _set_annotation_state(entry: ImageEntry, annotation: Annotation) -> None:
        entry.status = annotation_status(annotation, entry.width or annotation.width,
                                         entry.height or annotation.height)
        entry.count, entry.split, entry.proposed = annotation.count, annotation.split, len(annotation.proposed)
        width, height = entry.width or annotation.width, entry.height or annotation.height
        entry.regions = len(usable_regions(annotation.regions, width, height))
        entry.region_problems = region_problems(annotation.regions, width, height)
        entry.outside = points_outside(annotation.points, entry.width, entry.height) if entry.width else 0
        entry.sidecar_size = (annotation.width, annotation.height)
        entry.labels = annotation.labels

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def entry(self, name: str) -> ImageEntry:
        return self._by_name[name]

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    @property
    def problems(self) -> list[str]:
        """Plain-words reasons for every image or sidecar that was skipped or kept aside."""
        found = []
        for entry in self.entries:
            if entry.image_error:
                found.append(f"{entry.name}: {entry.image_error} (image skipped)")
            if entry.sidecar_error:
                found.append(f"{entry.sidecar.name}: {entry.sidecar_error} (file kept as it is)")
            for problem in entry.region_problems:
                found.append(f"{entry.sidecar.name}: {problem}")
            if entry.outside:
                found.append(f"{entry.sidecar.name}: {entry.outside} of {entry.count} point(s) lie outside the "
                             f"{entry.width} x {entry.height} image ({OUTSIDE_POLICY})")
            if entry.usable and entry.sidecar_size and entry.sidecar_size != (entry.width, entry.height):
                found.append(f"{entry.sidecar.name}: written for a {entry.sidecar_size[0]} x "
                             f"{entry.sidecar_size[1]} image, but the image is {entry.width} x {entry.height} "
                             "now (was it resized or replaced? the points may be misplaced)")
        return found

    # ------------------------------------------------------------- annotations
    def load_annotation(self, name: str) -> Annotation:
        """The image's annotation; an empty one when it has none. Raises SidecarError for a bad sidecar."""
        entry = self.entry(name)
        if entry.sidecar.exists():
            return read_sidecar(entry.sidecar)
        return Annotation(image=name, width=entry.width, height=entry.height)

    def load_points(self, name: str) -> np.ndarray:
        return self.load_annotation(name).points

    def load_points_inside(self, name: str) -> np.ndarray:
        """The image's points that lie inside it: what training, evaluation and annotated counts use.

        Points outside the image are kept in the sidecar (never deleted by CrowdGUI) and listed in
        :attr:`problems`; a density map cannot hold them, so everything that learns or scores leaves them out.
        """
        points = self.load_points(name)
        return points[self._inside(name, points)]

    def load_classes_inside(self, name: str) -> np.ndarray:
        """The class of each point :meth:`load_points_inside` returns, as an index into
        ``settings.class_names()`` (engine.dataset.classes.class_indices: -1 for a label not among them)."""
        annotation = self.load_annotation(name)
        indices = class_indices(annotation.labels, annotation.count, self.settings.class_names())
        return indices[self._inside(name, annotation.points)]

    def _inside(self, name: str, points: np.ndarray) -> np.ndarray:
        """Which of ``points`` lie inside the image (all of them when its size is unknown)."""
        entry = self.entry(name)
        if not entry.width:
            return np.ones(len(points), dtype=bool)
        x, y = points[:, 0], points[:, 1]
        return (x >= 0) & (y >= 0) & (x < entry.width) & (y < entry.height)

    def suggest_density(self) -> DensitySuggestion | None:
        """Density settings suggested from the annotated images' points, with the reason (None: too few
        points); engine.density.suggest_density_settings. Reads every sidecar: ~1 s for 400 crowd images."""
        return suggest_density_settings(self.load_points_inside(entry.name) for entry in self if entry.annotated)

    def known_area(self, name: str, stride: int = 1, annotation: Annotation | None = None):
        """What the image's annotation says is known, as masks at ``stride`` (engine.dataset.regions)."""
        entry = self.entry(name)
        annotation = annotation if annotation is not None else self.load_annotation(name)
        return known_area(annotation.count, annotation.regions, entry.width, entry.height, stride)

    def load_proposed(self, name: str) -> np.ndarray:
        """The image's pending model-proposed points (empty when none). Raises SidecarError for a bad sidecar."""
        return self.load_annotation(name).proposed

    def save_points(self, name: str, points, split=KEEP, proposed=KEEP, labels=KEEP, regions=KEEP,
                    source=KEEP, proposed_labels=KEEP) -> Path | None:
        """Write the image's points atomically. A malformed sidecar is first renamed aside, never overwritten.

        ``split``, ``proposed`` (pending model proposals, an (N, 2) array), ``labels`` and ``regions`` default
        to :data:`KEEP`, what the sidecar holds now, so saving confirmed points never drops proposals, classes,
        regions or a video frame's ``source`` silently (labels are kept only while they still match the
        points one to one; ``proposed_labels``, the proposals' classes, are kept only with the proposals they
        belong to). Returns the
        path the malformed sidecar was moved to, if that happened. Raises ValueError for points that are not
        (N, 2) finite numbers, and OSError (for example PermissionError in a read-only folder), both with
        nothing changed on disk.
        """
        entry = self.entry(name)
        moved_aside = None
        if entry.sidecar_error is None and not entry.annotated and entry.sidecar.exists():
            self._refresh_annotation(entry)  # a sidecar that appeared after the scan: check it before replacing
        on_disk = None
        if any(value is KEEP for value in (proposed, labels, regions, source)) and entry.sidecar_error is None and entry.sidecar.exists():
            on_disk = read_sidecar(entry.sidecar)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if split is KEEP:
            split = entry.split
        if proposed_labels is KEEP:
            proposed_labels = on_disk.proposed_labels if proposed is KEEP and on_disk is not None else None
        if proposed is KEEP:
            proposed = on_disk.proposed if on_disk is not None else None
        if labels is KEEP:
            labels = on_disk.labels if on_disk is not None and on_disk.labels is not None \
                and len(on_disk.labels) == len(points) else None
        if regions is KEEP:
            regions = on_disk.regions if on_disk is not None else []
        if source is KEEP:
            source = on_disk.source if on_disk is not None else None
        annotation = Annotation(image=name, width=entry.width, height=entry.height, points=points,
                                split=split, proposed=[] if proposed is None else proposed, labels=labels,
                                regions=list(regions or []), source=source, proposed_labels=proposed_labels)
        text = annotation_to_json(annotation)  # ValueError for bad points, before anything on disk changes
        if entry.sidecar_error is not None and entry.sidecar.exists():
            moved_aside = _aside_name(entry.sidecar)
            os.replace(entry.sidecar, moved_aside)
            entry.sidecar_error = None
        atomic_write_bytes(entry.sidecar, text.encode("utf-8"))
        self._set_annotation_state(entry, annotation)
        return moved_aside

    def delete_annotation(self, name: str) -> None:
        """Mark an image as not annotated (removes a valid sidecar; a malformed one is left alone)."""
        entry = self.entry(name)
        if entry.sidecar_error is None and entry.sidecar.exists():
            entry.sidecar.unlink()
        self._refresh_annotation(entry)

    def restore_sidecar(self, name: str, content: bytes | None) -> None:
        """Put back a sidecar exactly as it was (``content``, written atomically), or none (None: as
        :meth:`delete_annotation`). Undoing every edit of an image restores the file it was opened with."""
        if content is None:
            self.delete_annotation(name)
            return
        entry = self.entry(name)
        atomic_write_bytes(entry.sidecar, content)
        self._refresh_annotation(entry)

    # ------------------------------------------------------------------ splits
    def split_of(self, name: str) -> str:
        """'train', 'val' or 'test' for an annotated image; 'unlabeled' for one without points file or with
        pending proposals.

        An explicit split in the sidecar wins; otherwise a stable hash of the file name puts about
        ``val_fraction`` of the annotated images in validation, so adding images never reshuffles old ones.
        """
        entry = self.entry(name)
        if not entry.annotated:
            return "unlabeled"
        if entry.split:
            return entry.split
        digest = hashlib.sha1(name.encode("utf-8")).digest()
        fraction = int.from_bytes(digest[:4], "big") / 2**32
        return "val" if fraction < self.settings.val_fraction else "train"

    def images_in(self, split: str) -> list[str]:
        """Names of the usable images in one split ('train', 'val', 'test' or 'unlabeled')."""
        return [e.name for e in self.entries if e.usable and self.split_of(e.name) == split]

    # ---------------------------------------------------------------- settings
    def _load_settings(self) -> DatasetSettings:
        path = self.folder / SETTINGS_FILE
        if not path.exists():
            return DatasetSettings()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != SETTINGS_FORMAT:
                raise ValueError("not a CrowdGUI dataset settings file")
            return DatasetSettings.from_json(data)
        except (OSError, ValueError, TypeError, AttributeError):
            # A broken settings file must not stop the annotations from loading: defaults are used and the
            # file is only replaced when the user changes a setting.
            return DatasetSettings()

    def save_settings(self) -> None:
        text = json.dumps(self.settings.to_json(), indent=2) + "\n"
        atomic_write_bytes(self.folder / SETTINGS_FILE, text.encode("utf-8"))


def annotation_status(annotation: Annotation, width: int, height: int) -> str:
    """'proposed', 'partial', 'complete' or 'unlabeled' (see :class:`ImageEntry`)."""
    if annotation.pending:
        # Pending proposals keep the image out of training and evaluation: its count is not confirmed yet.
        return "proposed"
    regions = annotation.regions
    if annotation.source is not None and annotation.empty:
        return "unlabeled"  # a frame's sidecar that only says where it came from: extracting is not annotating
    if has_annotated_regions(regions, width, height):
        return "partial"
    if nothing_known_beyond_regions(annotation.count, regions, width, height):
        has_counts = any(r.kind == "count" for r in usable_regions(regions, width, height))
        return "partial" if has_counts else "unlabeled"
    return "complete"


def natural_key(name: str):
    """Sort key putting IMG_2 before IMG_10 (case-insensitive; the exact name breaks ties, so the order
    never depends on the order the file system lists files in)."""
    parts = [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]
    return parts, name


def _aside_name(sidecar: Path) -> Path:
    """A free name for keeping a malformed sidecar: ``<name>.malformed-<time>[-n]``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = sidecar.with_name(f"{sidecar.name}.malformed-{stamp}")
    number = 1
    while candidate.exists():  # a second save in the same second must not replace the first kept file
        number += 1
        candidate = sidecar.with_name(f"{sidecar.name}.malformed-{stamp}-{number}")
    return candidate
