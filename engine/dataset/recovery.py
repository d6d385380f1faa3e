"""The recovery journal: unsaved points of a dataset's images, kept on disk until they are saved.

The window saves an image's points to its sidecar after a pause in editing (autosave). Edits made since then
would die with the process (a crash, a kill, a power cut, a frozen machine), so the window also writes each
edited image's current points, a fraction of a second after the edit, to
``<dataset>/.crowdgui/recovery/<image>.unsaved.npz``, and deletes that file once the points are in the
sidecar. A journal file found when the dataset opens therefore holds edits that never reached the sidecar;
:meth:`RecoveryJournal.pending` lists them (with what the sidecar holds now) so the window can offer to
restore them or say what is lost.

Format: an ``.npz`` (numpy's zip of arrays, read back with ``allow_pickle=False``, so a hostile file cannot
run code) holding ``points`` (N, 2) float64, ``proposed`` (M, 2) float64 and ``meta``, a JSON string:
``{"format": "crowdgui-recovery", "version": 1, "image": NAME, "written": UNIX_TIME, "has_proposed": BOOL}``,
plus ``"regions": [...]`` (the sidecar's form, engine.dataset.regions) when the window recorded them and
``"no_objects": true`` when a person marked the image "annotated: no objects", and a ``labels`` array (one class
name per point, numpy unicode) when the points have classes.
Written atomically but without fsync (see engine/atomic.py): one write of 50k points costs ~2 ms, and a
journal that a power cut loses costs no more than the sidecar it backs up.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes, is_temp_file
from engine.dataset.regions import Region
from engine.dataset.sidecar import SidecarError, as_points, read_sidecar, sidecar_path

RECOVERY_FOLDER = Path(".crowdgui") / "recovery"
SUFFIX = ".unsaved.npz"
FORMAT_NAME = "crowdgui-recovery"
VERSION = 1


@dataclass
class UnsavedEdits:
    """One image's points as they were on screen when last journaled, and what its sidecar holds now."""

    image: str
    points: np.ndarray
    proposed: np.ndarray | None  # None: the journal did not record proposals (keep the sidecar's)
    written: float  # when the journal was written (seconds since the epoch)
    file: Path  # the journal file
    saved_count: int | None  # points in the sidecar now (None: no sidecar, or one that cannot be read)
    saved_proposed: int = 0
    sidecar_newer: bool = False  # the sidecar was written after the journal (by another program?)
    image_missing: bool = False  # the image is no longer in the folder: nothing to restore it to
    regions: list[Region] | None = None  # None: the journal did not record regions (keep the sidecar's)
    labels: list[str] | None = None  # the class of each point (None: the points have no labels)
    no_objects: bool = False  # a person marked the image "annotated: no objects"

    @property
    def count(self) -> int:
        return len(self.points)

    def describe(self) -> str:
        """``IMG_1.jpg: 1,234 unsaved points (its points file holds 1,200)`` and such."""
        saved = "no points file" if self.saved_count is None else f"its points file holds {self.saved_count:,}"
        what = "marked as holding no objects" if self.no_objects and not self.count else \
            f"{self.count:,} point{'s' if self.count != 1 else ''}"
        text = f"{self.image}: {what} ({saved}"
        if self.proposed is not None and len(self.proposed):
            text += f"; {len(self.proposed):,} proposed"
        if self.regions:
            text += f"; {len(self.regions)} region{'s' if len(self.regions) != 1 else ''}"
        if self.sidecar_newer:
            text += "; the points file was changed after these edits"
        if self.image_missing:
            text += "; the image is no longer in the folder"
        return text + ")"


class RecoveryJournal:
    """The journal files of one dataset folder."""

    def __init__(self, dataset_folder: Path | str):
        self.dataset_folder = Path(dataset_folder)
        self.folder = self.dataset_folder / RECOVERY_FOLDER

    def path_for(self, image: str) -> Path:
        return self.folder / f"{image}{SUFFIX}"

    def write(self, image: str, points, proposed=None, regions=None, labels=None, no_objects=False) -> Path:
        """Record ``image``'s current points (and proposals, regions, the points' labels and the "no objects"
        mark, when known). Raises OSError when it cannot."""
        meta = {"format": FORMAT_NAME, "version": VERSION, "image": image, "written": time.time(),
                "has_proposed": proposed is not None}
        if regions is not None:
            meta["regions"] = [region.to_json() for region in regions]
        if no_objects:
            meta["no_objects"] = True  # an optional key: older readers of version 1 ignore it
        buffer = io.BytesIO()
        arrays = {} if labels is None else {"labels": np.array(labels, dtype=str)}
        np.savez(buffer, points=as_points(points),
                 proposed=as_points([] if proposed is None else proposed), meta=np.array(json.dumps(meta)),
                 **arrays)
        path = self.path_for(image)
        atomic_write_bytes(path, buffer.getvalue(), durable=False)
        return path

    def remove(self, image: str) -> None:
        """Forget ``image``'s unsaved points (they were saved, or the user discarded them)."""
        try:
            self.path_for(image).unlink(missing_ok=True)
        except OSError:
            pass  # a journal left behind is compared with the sidecar next time and dropped if equal

    def read(self, path: Path) -> UnsavedEdits:
        """What one journal file holds (the ``saved_*`` fields are left for :meth:`pending` to fill in);
        ValueError for a file that is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                points, proposed = as_points(data["points"]), as_points(data["proposed"])
                labels = [str(label) for label in data["labels"]] if "labels" in data.files else None
        except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a readable recovery file ({type(exc).__name__}: {exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or meta.get("version") != VERSION:
            raise ValueError("not a CrowdGUI recovery file of a version this CrowdGUI reads")
        image = meta.get("image")
        if not isinstance(image, str) or f"{image}{SUFFIX}" != path.name:
            raise ValueError("the recovery file names another image than its file name")
        if labels is not None and len(labels) != len(points):
            raise ValueError(f"the recovery file holds {len(labels)} labels for {len(points)} points")
        if not (np.all(np.isfinite(points)) and np.all(np.isfinite(proposed))):
            raise ValueError("the recovery file holds non-finite coordinates")
        written = meta.get("written")
        written = float(written) if isinstance(written, (int, float)) else path.stat().st_mtime
        raw_regions = meta.get("regions")
        if raw_regions is not None and not isinstance(raw_regions, list):
            raise ValueError("the recovery file's regions are not a list")
        regions = None if raw_regions is None else [Region.from_json(raw) for raw in raw_regions]
        return UnsavedEdits(image=image, points=points, proposed=proposed if meta.get("has_proposed") else None,
                            written=written, file=path, saved_count=None, regions=regions, labels=labels,
                            no_objects=meta.get("no_objects") is True)

    def pending(self, image_names) -> tuple[list[UnsavedEdits], list[str]]:
        """(unsaved edits worth offering, problems in plain words) found in the journal folder.

        A journal whose points equal what the sidecar holds is deleted silently: the process died after
        saving but before deleting it, so nothing was lost. Unreadable journal files are renamed to
        ``.unreadable`` (kept, never read again) and reported.
        """
        found, problems = [], []
        if not self.folder.is_dir():
            return found, problems
        names = set(image_names)
        for path in sorted(self.folder.iterdir()):
            if is_temp_file(path) or not path.name.endswith(SUFFIX) or not path.is_file():
                continue
            try:
                journaled = self.read(path)
            except ValueError as exc:
                problems.append(f"{path.name}: {exc} (renamed to {path.name}.unreadable)")
                try:
                    path.replace(path.with_name(path.name + ".unreadable"))
                except OSError:
                    pass
                continue
            edits = self._compare(journaled, journaled.image in names)
            if edits is None:
                self.remove(journaled.image)
            else:
                found.append(edits)
        return found, problems

    def _compare(self, journaled: UnsavedEdits, present: bool) -> UnsavedEdits | None:
        """``journaled`` with what the sidecar holds now, or None when the sidecar already holds it all."""
        sidecar = sidecar_path(self.dataset_folder / journaled.image)
        points, proposed, regions, labels = journaled.points, journaled.proposed, journaled.regions, journaled.labels
        saved_points = saved_proposed = saved_regions = saved_labels = None
        newer = False
        if sidecar.exists():
            try:
                annotation = read_sidecar(sidecar)
                saved_points, saved_proposed = annotation.points, annotation.proposed
                saved_regions = [region.to_json() for region in annotation.regions]
                saved_labels = annotation.labels
            except SidecarError:
                pass
            try:
                newer = sidecar.stat().st_mtime > journaled.written + 1.0
            except OSError:
                pass
        same_points = saved_points is not None and np.array_equal(saved_points, points)
        same_proposed = proposed is None or (saved_proposed is not None and np.array_equal(saved_proposed, proposed))
        same_regions = regions is None or saved_regions == [region.to_json() for region in regions]
        same_points = same_points and (labels is None or labels == saved_labels)
        # No file and nothing journaled is nothing lost, unless a person had said "no objects" (an empty file).
        no_file_no_edits = (not sidecar.exists() and not len(points) and (proposed is None or not len(proposed))
                            and not regions and not journaled.no_objects)
        if (same_points and same_proposed and same_regions) or no_file_no_edits:
            return None
        return replace(journaled, saved_count=None if saved_points is None else len(saved_points),
                       saved_proposed=0 if saved_proposed is None else len(saved_proposed),
                       sidecar_newer=newer, image_missing=not present)
