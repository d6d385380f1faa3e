"""Test helpers: hostile and damaged annotation sidecars, each with the words its reason must contain.

Imported by the robustness tests after they put this folder on sys.path.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from engine.dataset import sidecar_path

HEAD = '{"format": "crowdgui-points", "version": 1, "image": "x.png", "width": 40, "height": 30, '
VALID = HEAD + '"points": [[1.5, 2.5]]}'

# (case name, sidecar bytes or a maker, words the reason must contain)
SIDECAR_CASES = [
    ("empty", b"", "not valid JSON"),
    ("truncated", VALID[:-9].encode(), "not valid JSON"),
    ("binary", os.urandom(300) + b"\xff", "not valid JSON"),
    ("utf16", VALID.encode("utf-16"), "not valid JSON"),
    ("nested_deeply", ("[" * 100_000 + "]" * 100_000).encode(), "nested too deeply"),
    ("points_nested_deeply", (HEAD + '"points": ' + "[" * 50_000 + "]" * 50_000 + "}").encode(),
     "nested too deeply"),
    ("digits_without_end", (HEAD + '"points": [[' + "9" * 5000 + ", 1]]}").encode(), "not valid JSON"),
    ("list_at_top", b"[[1, 2]]", "not a CrowdGUI annotation file"),
    ("other_format", b'{"format": "labelme", "shapes": []}', "not a CrowdGUI annotation file"),
    ("version_3", VALID.replace('"version": 1', '"version": 3').encode(), "schema version 3 is not supported"),
    ("version_text", VALID.replace('"version": 1', '"version": "1"').encode(), "schema version '1'"),
    ("version_true", VALID.replace('"version": 1', '"version": true').encode(), "schema version True"),
    ("version_missing", VALID.replace('"version": 1, ', "").encode(), "schema version None"),
    ("no_points", (HEAD[:-2] + "}").encode(), "missing or invalid field 'points'"),
    ("width_infinite", VALID.replace('"width": 40', '"width": 1e400').encode(), "missing or invalid field"),
    ("width_nan", VALID.replace('"width": 40', '"width": NaN').encode(), "missing or invalid field"),
    ("width_negative", VALID.replace('"width": 40', '"width": -40').encode(), "is not a size"),
    ("width_text", VALID.replace('"width": 40', '"width": "wide"').encode(), "missing or invalid field"),
    ("points_nan", (HEAD + '"points": [[NaN, 2], [1, 2]]}').encode(), "1 point(s) have non-finite"),
    ("points_infinite", (HEAD + '"points": [[1e999, 2]]}').encode(), "non-finite"),
    ("points_text", (HEAD + '"points": [["1", "2"]]}').encode(), "number pairs"),
    ("points_bools", (HEAD + '"points": [[true, false]]}').encode(), "number pairs"),
    ("points_null", (HEAD + '"points": null}').encode(), "number pairs"),
    ("points_object", (HEAD + '"points": {"x": 1, "y": 2}}').encode(), "number pairs"),
    ("points_three", (HEAD + '"points": [[1, 2, 3]]}').encode(), "number pairs"),
    ("points_ragged", (HEAD + '"points": [[1, 2], [3]]}').encode(), "number pairs"),
    ("points_flat", (HEAD + '"points": [1, 2]}').encode(), "number pairs"),
    ("proposed_text", (HEAD + '"points": [], "proposed": "many"}').encode(), "proposed must be"),
    ("proposed_nan", (HEAD + '"points": [], "proposed": [[NaN, 1]]}').encode(), "proposed point(s)"),
    ("split_unknown", (HEAD + '"points": [], "split": "holdout"}').encode(), "unknown split"),
    ("a_folder", "folder", "not a regular file"),
    ("a_named_pipe", "fifo", "not a regular file"),  # reading it would wait forever
]


def make_image(path: Path, size=(40, 30)) -> None:
    Image.new("RGB", size, (90, 120, 150)).save(path)


def write_case(folder: Path, name: str, content) -> Path:
    image = folder / f"{name}.png"
    make_image(image)
    sidecar = sidecar_path(image)
    if content == "folder":
        sidecar.mkdir()
    elif content == "fifo":
        os.mkfifo(sidecar)
    else:
        sidecar.write_bytes(content)
    return sidecar
