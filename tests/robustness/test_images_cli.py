"""The density command on a folder where every hostile image file has annotations: good ones exported at their
displayed size, each bad one named in a warning with its reason, and the run still succeeds."""

import json
import sys
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from hostile_images import write_image_cases

from engine.cli import main
from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar


def test_density_export_of_a_hostile_annotated_folder(tmp_path, capsys):
    folder = tmp_path / "annotated"
    cases = write_image_cases(folder)
    for case in cases:  # one point near the top-left corner of every file, good or bad
        width, height = case.size or (10, 10)
        write_sidecar(sidecar_path(folder / case.name), Annotation(case.name, width, height, np.array([[2.5, 3.5]])))
    out = tmp_path / "maps.h5"
    code = main(["density", str(folder), "--out", str(out), "--layout", "groups", "--sigma", "1",
                 "--events", "jsonl"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0, [e for e in events if e["type"] == "error"]
    warnings = "\n".join(e["message"] for e in events if e["type"] == "warning")
    with h5py.File(out) as handle:
        exported = set(handle)
        for case in cases:
            if case.good:
                width, height = case.size
                assert handle[case.name]["image"].shape == (height, width, 3), case.name
                assert handle[case.name]["density"].shape == (height, width)
                assert abs(float(np.sum(handle[case.name]["density"])) - 1) < 1e-4
            else:
                assert f"{case.name}: " in warnings and case.error in warnings, case.name
    assert exported == {case.name for case in cases if case.good}
    done = next(e for e in events if e["type"] == "done")
    assert done["images"] == len(exported) and done["skipped"] == 1  # bad_corrupt.jpg: found on decoding
