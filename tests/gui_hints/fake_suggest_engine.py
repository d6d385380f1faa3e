"""A stand-in for ``python -m engine suggest`` whose scores a test chooses (run as ``python -m
fake_suggest_engine suggest DATASET --checkpoint SCORES.json --events jsonl``).

The "checkpoint" is a JSON file {image: score}; every image of DATASET without points gets its score, reported
with the events ``engine suggest`` emits (start, result, progress, done), in the folder's order. The window
then has to rank the images itself, which is what the tests check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.dataset import Dataset


def main(argv: list[str]) -> int:
    dataset = Dataset(Path(argv[1]))
    scores = json.loads(Path(argv[argv.index("--checkpoint") + 1]).read_text(encoding="utf-8"))
    names = [entry.name for entry in dataset if not entry.annotated]
    emit = lambda kind, **fields: print(json.dumps({"type": kind, **fields}), flush=True)
    emit("start", command="suggest", total=len(names))
    for done, name in enumerate(names, start=1):
        emit("result", image=name, score=scores[name], count=10.0)
        emit("progress", done=done, total=len(names))
    emit("done", images=len(names), out=None, top=names[:10])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
