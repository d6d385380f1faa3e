"""engine/training/runs.py: the run history read back from run folders (no Qt, and no torch for logged runs)."""

import datetime as dt
import json
import os
import subprocess
import sys
import time


from engine.training.runs import STALE_AFTER_S, list_runs, new_run_dir, read_run, runs_folder


def _write_run(folder, records, config=None, checkpoints=("best.pt", "last.pt")):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as file:
        file.writelines((record if isinstance(record, str) else json.dumps(record)) + "\n" for record in records)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name in checkpoints:
        (folder / name).write_bytes(b"not read unless the log is missing")
    return folder


def _start(t=1_700_000_000.0, **extra):
    return {"type": "start", "time": t, "model": "fcrn_a", "device": "cpu", "train_images": 7, "val_images": 2,
            "epochs": 3, **extra}


def _epoch(n, mae, **extra):
    return {"type": "epoch", "epoch": n, "loss": 1.0 / n, "val_mae": mae, "val_rmse": mae * 1.5, **extra}


def test_new_run_dir_is_stamped_created_and_unique(tmp_path):
    now = dt.datetime(2024, 5, 1, 14, 3, 12)
    first = new_run_dir(tmp_path, "fcrn_a", now=now)
    second = new_run_dir(tmp_path, "fcrn_a", now=now)
    assert first == runs_folder(tmp_path) / "20240501-140312-fcrn_a" and first.is_dir()
    assert second.name == "20240501-140312-fcrn_a-2" and second.is_dir()
    assert new_run_dir(tmp_path, "a/b c", now=now).name == "20240501-140312-a_b_c"


def test_finished_run_summary(tmp_path):
    folder = _write_run(runs_folder(tmp_path) / "20240501-140312-fcrn_a",
                        [_start(), {"type": "progress", "done": 1, "total": 9, "loss": 2.0},
                         _epoch(1, 9.0), _epoch(2, 4.0), _epoch(3, 5.0),
                         {"type": "done", "stopped": "finished", "epochs": 3}],
                        config={"model": "fcrn_a", "epochs": 3, "minutes": None})
    [run] = list_runs(tmp_path)
    assert (run.model, run.status, run.train_images, run.val_images) == ("fcrn_a", "finished", 7, 2)
    assert (run.epochs_done, run.epochs_planned, run.best_mae, run.best_rmse) == (3, 3, 4.0, 6.0)
    assert run.best_checkpoint == folder / "best.pt" and run.last_checkpoint == folder / "last.pt"
    assert run.started == dt.datetime.fromtimestamp(1_700_000_000.0)
    assert not run.can_resume and "finished at epoch 3" in run.label


def test_stopped_then_resumed_then_stopped_again(tmp_path):
    folder = runs_folder(tmp_path) / "20240501-140312-unet"
    records = [_start(), _epoch(1, 3.0), {"type": "done", "stopped": "stop requested", "steps": 5},
               _start(t=1_700_000_100.0, resumed_from_step=5), _epoch(2, 2.5),
               {"type": "done", "stopped": "stop requested", "steps": 9}]
    _write_run(folder, records, config={"model": "unet", "epochs": 10})
    run = read_run(folder)
    assert run.status == "stopped" and run.can_resume and run.epochs_done == 2 and run.best_mae == 2.5
    assert run.started == dt.datetime.fromtimestamp(1_700_000_000.0)  # when the run began, not the last session


def test_time_budget_counts_as_finished_and_partial_epochs_are_not_done(tmp_path):
    folder = _write_run(runs_folder(tmp_path) / "r", [_start(epochs=None, minutes=2.0), _epoch(1, 3.0),
                                                      _epoch(2, 2.0, partial=True),
                                                      {"type": "done", "stopped": "time budget"}],
                        config={"model": "fcrn_a", "epochs": None, "minutes": 2.0})
    run = read_run(folder)
    assert run.status == "finished" and run.epochs_done == 1 and run.minutes_planned == 2.0
    assert run.best_mae == 2.0  # the partial epoch's validation still counts for the best model


def test_failed_runs_keep_the_engine_message(tmp_path):
    during = _write_run(runs_folder(tmp_path) / "20240501-140312-csrnet",
                        [_start(model="csrnet"), {"type": "error", "message": "the training loss became nan"}],
                        config={"model": "csrnet"}, checkpoints=("last.pt",))
    before_start = _write_run(runs_folder(tmp_path) / "20240502-090000-unet",
                              [{"type": "error", "message": "no annotated images to train on"}], checkpoints=())
    assert (read_run(during).status, read_run(during).message) == ("failed", "the training loss became nan")
    assert read_run(during).can_resume  # a crash after checkpoints can continue from last.pt
    early = read_run(before_start)
    assert (early.status, early.model, early.best_checkpoint) == ("failed", "unet", None)
    assert "no annotated images" in early.message and not early.can_resume


def test_a_run_without_final_event_is_running_until_it_goes_quiet(tmp_path):
    folder = _write_run(runs_folder(tmp_path) / "r", [_start(), _epoch(1, 3.0),
                                                      '{"type": "progress", "do'])  # torn last line
    assert read_run(folder).status == "running"
    later = time.time() + STALE_AFTER_S + 60
    dead = read_run(folder, now=later)
    assert dead.status == "failed" and "without a final report" in dead.message


def test_list_runs_newest_first_and_skips_non_runs(tmp_path):
    parent = runs_folder(tmp_path)
    _write_run(parent / "old", [_start(t=1_600_000_000.0), {"type": "done"}])
    _write_run(parent / "new", [_start(t=1_700_000_000.0), {"type": "done"}])
    (parent / "notes").mkdir()
    (parent / "readme.txt").write_text("not a run")
    assert [run.name for run in list_runs(tmp_path)] == ["new", "old"]
    assert list_runs(tmp_path / "no such dataset") == []


def test_a_checkpoint_without_log_is_summarised_from_the_checkpoint(tmp_path):
    from engine.models.checkpoint import save_checkpoint
    from engine.models import get_model

    model = get_model("fcrn_a", width=2)
    folder = runs_folder(tmp_path) / "20240501-140312-fcrn_a"
    save_checkpoint(folder / "best.pt", {
        "arch": "fcrn_a", "model_config": model.config, "stride": 1, "normalization": {}, "density_scale": 100.0,
        "state_dict": model.state_dict(), "metrics": {"val_mae": 1.5, "val_rmse": 2.0},
        "train_summary": {"train_images": 11, "val_images": 3, "epochs": 20}})
    run = read_run(folder)
    assert (run.model, run.status, run.best_mae, run.train_images, run.epochs_done) == ("fcrn_a", "finished",
                                                                                         1.5, 11, 20)


def test_reading_logged_runs_does_not_import_torch(tmp_path):
    _write_run(runs_folder(tmp_path) / "r", [_start(), {"type": "done"}], config={"model": "fcrn_a"})
    code = ("import sys; from engine.training.runs import list_runs; runs = list_runs(sys.argv[1]); "
            "assert runs[0].status == 'finished'; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            timeout=60, check=False, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_log_is_read_incrementally_and_progress_is_skipped(tmp_path):
    from engine.training.runs import read_metrics

    folder = _write_run(runs_folder(tmp_path) / "r", [_start(), {"type": "progress", "done": 1}, _epoch(1, 3.0)])
    assert [r["type"] for r in read_metrics(folder)] == ["start", "epoch"]
    with open(folder / "metrics.jsonl", "a", encoding="utf-8") as file:
        file.write(json.dumps(_epoch(2, 2.0)) + "\n" + '{"type": "done", "stop')  # the run is writing
    assert [r.get("epoch") for r in read_metrics(folder)] == [None, 1, 2]
    with open(folder / "metrics.jsonl", "a", encoding="utf-8") as file:
        file.write('ped": "finished"}\n')  # the torn line completes
    assert read_run(folder).status == "finished"
    # A new log in the same file, even a longer one, is read afresh.
    _write_run(folder, [_start(t=1_800_000_000.0)] + [_epoch(n, 1.0) for n in range(1, 6)]
               + [{"type": "error", "message": "rewritten"}])
    assert [r["type"] for r in read_metrics(folder)] == ["start"] + ["epoch"] * 5 + ["error"]
