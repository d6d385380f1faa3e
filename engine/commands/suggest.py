"""``python -m engine suggest DATASET --checkpoint CKPT --out ranked.csv``: which image to annotate next.

Every readable image of the dataset without confirmed points is scored by how unsure the model is of its count
(engine.counting.uncertainty: the spread of its counts over four flipped views, in objects) and the table
``image,score`` is written most uncertain first. Annotating the top images first spends a person's time where
the model is most likely wrong.

Events (``--events jsonl``): ``start`` {command, total}, one ``result`` {image, score, count} per image,
``progress``, ``warning`` for an unreadable image, ``done`` {images, out, top}; ``error`` and exit code 1 for a
bad dataset or checkpoint, 2 for bad options.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from engine.commands._model_options import add_model_arguments, open_dataset_and_model

NAME = "suggest"
HELP = "rank the images without points by how unsure the model is of their count (annotate the top first)"


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="a CrowdGUI dataset folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained model (.pt)")
    parser.add_argument("--out", type=Path, default=None, help="write image,score as CSV, highest first")
    add_model_arguments(parser)


def run(args, events) -> int:
    from engine.atomic import atomic_write_bytes
    from engine.counting.uncertainty import suggest_images

    opened = open_dataset_and_model(args, events)
    if isinstance(opened, int):
        return opened
    dataset, model, record = opened
    ranking = suggest_images(dataset, model, record, events, max_pixels=args.max_pixels,
                             batch_size=args.batch)
    if args.out is not None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["image", "score"])
        writer.writerows((name, f"{score:.4f}") for name, score in ranking)
        atomic_write_bytes(args.out, text.getvalue().encode("utf-8"))
    events.emit("done", images=len(ranking), out=str(args.out) if args.out else None,
                top=[name for name, _ in ranking[:10]])
    return 0
