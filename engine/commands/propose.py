"""``python -m engine propose DATASET --checkpoint CKPT``: points a model proposes, for a person to correct.

Interface (the GUI depends on it):

    python -m engine propose DATASET --checkpoint CKPT [--images NAME ...] [--replace] [--no-write]
                             [--device auto|cpu|cuda|mps] [--batch N] [--max-pixels N] [--events jsonl]

Which images:
  without --images   every readable image with no sidecar gets its proposals written as pending
                     (points=[], proposed=[...]). Skipped: annotated images (reason "annotated"), images with
                     pending proposals (reason "pending proposals", unless --replace: they are recomputed).
  --images NAME ...  those images only, annotated ones and ones with pending proposals included: their
                     confirmed points are kept and the new proposals (replacing any pending ones) cover only
                     what is missing (a confirmed point cancels the one proposal nearest it, see engine.counting.propose).
  Always skipped, with the reason: unreadable images, malformed sidecars (never touched), names not in the
  dataset. An image for which the model proposes nothing is not written (an empty sidecar would mean "annotated:
  no objects", which only a person can say); pending proposals it had are then left as they were.
--no-write         nothing on disk changes; the points travel in the events only (what the window uses; it
                   can drop proposals near points it holds in memory, saved or not, with
                   engine.counting.propose.without_confirmed(points, confirmed, radius), the radius from ``start``).
Writes are atomic (Dataset.save_points); the split and confirmed points in the sidecar are kept.

Events (``--events jsonl``, one JSON object per line):
  start     {command: "propose", total, checkpoint, arch, stride, radius, device, write}
            total = images considered (skipped ones included); radius = cancel radius in pixels
  result    one per image, in folder order (or --images order), fields exactly:
            {image, count, points, confirmed, written}            proposed
            (+ labels: [class, ...] aligned with points, from a model of 2+ classes; also written to the
            sidecar as proposed_labels)
            {image, count, skipped, confirmed, written: false}    skipped
            count: the density map's integral (float; null when the model did not run), points: [[x, y], ...]
            proposals rounded to 2 decimals, confirmed: confirmed points the image had (int; null when its
            sidecar is malformed or the name is not in the dataset), skipped: the reason (a string starting with a fixed word: "annotated",
            "pending proposals", "unreadable image", "malformed sidecar", "not in the dataset", "model failed" e.g.
            out of memory, "not written" when the sidecar could not be saved, e.g. a read-only folder).
  progress  {done, total}
  warning   {message, path}  per unreadable image, malformed sidecar, model failure or failed write
  error     {message}        bad dataset folder or checkpoint, bad options (exit code 1 or 2); also after
                             ``done`` when the model could process none of the images (exit code 1)
  done      {images, proposed, written, points, skipped: {reason: number}, seconds}
            proposed = images the model ran on, points = proposals in total
Exit code 0 when the run finished (also when every image was skipped); 1 when the dataset or checkpoint cannot be
used, or when the model could process none of the images it should have; 2 for bad options.
On a terminal each image gets one line (name, count, number of proposals, confirmed points; or why it was
skipped) and a summary.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.commands._model_options import (
    add_model_arguments,
    open_dataset_and_model,
    terminate_as_interrupt,
)

NAME = "propose"
HELP = "propose points with a trained model for images to annotate (written as pending, for a person to correct)"

ANNOTATED = "annotated"
PENDING = "pending proposals"
UNREADABLE = "unreadable image"
MALFORMED = "malformed sidecar"
UNKNOWN = "not in the dataset"
NOT_WRITTEN = "not written"
MODEL_FAILED = "model failed"


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="a CrowdGUI dataset folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained model (.pt)")
    parser.add_argument("--images", nargs="+", metavar="NAME", default=None,
                        help="only these images (file names in the dataset folder), annotated ones included: "
                             "their confirmed points are kept and proposals cover what is missing")
    parser.add_argument("--replace", action="store_true",
                        help="recompute the proposals of images that already have pending ones (default: skip)")
    parser.add_argument("--no-write", action="store_true",
                        help="change nothing on disk: the proposals are only reported in the events")
    add_model_arguments(parser)


@dataclass
class Item:
    """One image of the run: what is known before the model runs."""

    name: str
    skipped: str | None = None  # the reason, when the model will not run on it
    confirmed: int | None = 0


def plan(dataset, names: list[str] | None, replace: bool) -> list[Item]:
    """The images to consider, in order, each with the reason it is skipped (if it is)."""
    explicit = names is not None
    if explicit:
        names = list(dict.fromkeys(names))  # each once, in the order given
    else:
        names = dataset.names()
    items = []
    for name in names:
        try:
            entry = dataset.entry(name)
        except KeyError:
            items.append(Item(name, UNKNOWN, None))
            continue
        item = Item(name, confirmed=entry.count or 0)
        if entry.sidecar_error is not None:
            item.skipped, item.confirmed = f"{MALFORMED}: {entry.sidecar_error} (left as it is)", None
        elif entry.image_error is not None:
            item.skipped = f"{UNREADABLE}: {entry.image_error}"
        elif not explicit and entry.annotated:
            item.skipped = ANNOTATED
        elif not explicit and entry.proposed and not replace:
            item.skipped = f"{PENDING} ({entry.proposed}; --replace recomputes them)"
        items.append(item)
    return items


def reason_word(reason: str) -> str:
    """The fixed word a skip reason starts with (the key of the done event's ``skipped`` totals)."""
    for word in (ANNOTATED, PENDING, UNREADABLE, MALFORMED, UNKNOWN, NOT_WRITTEN, MODEL_FAILED):
        if reason.startswith(word):
            return word
    return reason


def run(args, events) -> int:
    opened = open_dataset_and_model(args, events)
    return opened if isinstance(opened, int) else Proposer(args, events, *opened).run()


class Proposer:
    """One run of the command: the model over the planned images, a result event per image."""

    def __init__(self, args, events, dataset, model, record):
        from engine.counting.infer import model_stride
        from engine.counting.propose import cancel_radius
        from engine.models.checkpoint import checkpoint_classes

        self.args, self.events, self.dataset = args, events, dataset
        self.model, self.record = model, record
        self.stride = model_stride(model, record)
        self.radius = cancel_radius(record, self.stride)
        self.classes = checkpoint_classes(record)
        self.write = not args.no_write
        self.explicit = args.images is not None
        self.skipped: dict[str, int] = {}
        self.proposed = self.written = self.points = self.failed = 0
        self.out = TextReport(args.events == "text")

    def run(self) -> int:
        from engine.counting.infer import count_images, model_device

        items = plan(self.dataset, self.args.images, self.args.replace)
        events = self.events
        events.emit("start", command=NAME, total=len(items), checkpoint=str(self.args.checkpoint),
                    arch=self.record.get("arch"), stride=self.stride, radius=self.radius,
                    device=str(model_device(self.model)), write=self.write)
        started = time.perf_counter()
        to_run = [item for item in items if item.skipped is None]
        paths = [self.dataset.entry(item.name).path for item in to_run]
        results = count_images(paths, (self.model, self.record), batch_size=self.args.batch,
                               max_pixels=self.args.max_pixels)
        try:
            with terminate_as_interrupt():
                for done, item in enumerate(items, start=1):
                    if item.skipped is None:
                        self.propose(item, next(results))
                    else:
                        self.skip(item, item.skipped)
                    events.emit("progress", done=done, total=len(items))
        finally:
            results.close()
        summary = {"images": len(items), "proposed": self.proposed, "written": self.written,
                   "points": self.points, "skipped": dict(self.skipped),
                   "seconds": round(time.perf_counter() - started, 3)}
        self.out.summary(summary, self.write)
        events.emit("done", **summary)
        if to_run and self.failed == len(to_run):
            events.error(f"none of the {len(to_run)} image(s) to propose points for could be processed "
                         "(unreadable, or the model failed on them)")
            return 1
        return 0

    def skip(self, item: Item, reason: str, count: float | None = None) -> None:
        word = reason_word(reason)
        self.skipped[word] = self.skipped.get(word, 0) + 1
        if word in (UNREADABLE, MALFORMED, NOT_WRITTEN, MODEL_FAILED):
            entry = self.dataset.entry(item.name)
            path = entry.sidecar if word in (MALFORMED, NOT_WRITTEN) else entry.path
            self.events.warning(f"{item.name} skipped: {reason}", path=str(path))  # the terminal's line too
        else:
            self.out.skipped(item.name, reason)
        self.events.emit("result", image=item.name, count=count, skipped=reason, confirmed=item.confirmed,
                         written=False)

    def propose(self, item: Item, result) -> None:
        from engine.dataset import SidecarError
        from engine.counting.localize import rounded_inside
        from engine.counting.propose import proposals_from_class_densities, proposals_from_density

        if not result.ok:  # the image could not be decoded, or the forward pass failed (e.g. out of memory)
            self.failed += 1
            failed_word = MODEL_FAILED if result.error.startswith("counting failed") else UNREADABLE
            self.skip(item, f"{failed_word}: {result.error}")
            return
        # The sidecar is read again now, not trusted from the scan: the window may have saved points since.
        try:
            annotation = self.dataset.load_annotation(item.name)
        except SidecarError as exc:
            item.confirmed = None
            self.skip(item, f"{MALFORMED}: {exc.reason} (left as it is)", result.count)
            return
        item.confirmed = annotation.count
        if not self.explicit and self.dataset.entry(item.name).sidecar.exists():  # changed while the model ran?
            if not annotation.pending:
                self.skip(item, ANNOTATED, result.count)
                return
            if not self.args.replace:  # it had no sidecar when the run began
                self.skip(item, f"{PENDING} ({len(annotation.proposed)}; --replace recomputes them)", result.count)
                return
        size = (result.width, result.height)
        if result.class_densities is not None:
            proposal = proposals_from_class_densities(result.class_densities, self.classes, self.stride, size,
                                                      annotation.points, self.radius)
        else:
            proposal = proposals_from_density(result.density, self.stride, size, annotation.points, self.radius)
        points = rounded_inside(proposal.points, size)
        written = False
        if self.write and len(points):
            try:
                self.dataset.save_points(item.name, annotation.points, proposed=points,
                                         proposed_labels=proposal.labels)
            except OSError as exc:  # e.g. a read-only folder: nothing changed on disk, the run goes on
                self.skip(item, f"{NOT_WRITTEN}: {exc}", proposal.count)
                return
            written = True
        self.proposed += 1
        self.written += written
        self.points += len(points)
        labels = {} if proposal.labels is None else {"labels": proposal.labels}
        self.events.emit("result", image=item.name, count=proposal.count, points=points.tolist(),
                         confirmed=item.confirmed, written=written, **labels)
        self.out.proposed(item.name, proposal.count, len(points), item.confirmed, written, self.write)


class TextReport:
    """The terminal's view: one line per image on stdout (tqdm.write keeps the progress bar intact)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def _line(self, text: str) -> None:
        if self.enabled:
            from tqdm import tqdm

            tqdm.write(text, file=sys.stdout)

    def proposed(self, name: str, count: float, proposals: int, confirmed: int, written: bool,
                 write: bool) -> None:
        text = f"{name}: count {count:.1f}, {proposals} proposal(s)"
        if confirmed:
            text += f" besides {confirmed} confirmed point(s)"
        if write and not written:
            text += " (nothing to write)"
        self._line(text)

    def skipped(self, name: str, reason: str) -> None:
        self._line(f"{name}: skipped, {reason}")

    def summary(self, summary: dict, write: bool) -> None:
        skipped = ", ".join(f"{word} {number}" for word, number in summary["skipped"].items()) or "none"
        saved = f"{summary['written']} sidecar(s) written" if write else "nothing written (--no-write)"
        self._line(f"{summary['points']} point(s) proposed for {summary['proposed']} image(s), {saved}; "
                   f"skipped: {skipped}")
