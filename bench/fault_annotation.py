"""Fault runs for annotation saves and crash recovery, and what the recovery journal costs.

    python bench/fault_annotation.py [--kills 300] [--points 50000] [--max-delay 0.35]
                                     [--recovery-kills 40] [--cost-adds 120]

1. Sidecar saves under kill -9 (``--kills``). Each round starts a fresh writer process that saves version A and version B of one image's points in turn
(half the rounds through Dataset.save_points, half through atomic_write_bytes with the texts ready, so that
nearly every kill of those lands in the file-system calls), kills it with SIGKILL after a random delay, and
reads the sidecar back. Prints how many kills were tried, how often the complete old version (before the
interrupted save) or the complete new one was found (and which of A and B),
and how often the file was corrupt (must be 0), how many kills interrupted a save, and whether the folder
still scanned cleanly. The harness is tests/robustness/annotation_kill_harness.py (the test runs 20 kills).

2. Crash recovery (``--recovery-kills``). Each round runs a real window (tests/robustness/recovery_child.py,
scenario ``stream``) that adds a point every 40 ms to an image with 50k points and is killed with SIGKILL
after a random number of clicks; then the recovery journal is read as the next window would. Counts: rounds,
journal found and exactly the clicks in order up to some point (restorable), clicks lost (median and max),
wrong or unreadable journals (must be 0).

3. What journaling costs the click (``--cost-adds``): in one window with a 50k-point image, clicks 100 ms
apart (so the journal timer fires between them), timed from the canvas signal to the painted frame like
bench/canvas.py, in alternating blocks with the journal on and off; plus the time of one journal write.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "robustness"))

import annotation_kill_harness as harness
import recovery_harness

from crowdgui.annotation.recovery import JOURNAL_DELAY_MS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--max-delay", type=float, default=0.35, help="seconds; each kill waits uniform(0, this)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recovery-kills", type=int, default=40)
    parser.add_argument("--cost-adds", type=int, default=120, help="timed clicks per journal setting")
    args = parser.parse_args()
    failed = False
    if args.kills:
        failed |= sidecar_kills(args)
    if args.recovery_kills:
        failed |= recovery_kills(args)
    if args.cost_adds:
        journal_cost(args)
    return 1 if failed else 0


def sidecar_kills(args) -> bool:
    print(f"== 1. sidecar saves killed with SIGKILL ({args.kills} kills)")
    with tempfile.TemporaryDirectory(prefix="fault-annotation-") as work:
        folder = harness.make_dataset(Path(work) / "data", args.points)
        size = harness.sidecar_size(folder)
        print(f"sidecar: {args.points} points, {size / 1e6:.2f} MB; delay uniform(0, {args.max_delay}) s after "
              "the writer is ready")
        started = time.perf_counter()
        counts = harness.run_kills(folder, args.kills, args.points, args.max_delay, args.seed, log=print)
        elapsed = time.perf_counter() - started
    print(counts.line())
    print(f"by mode: {counts.by_mode}; {elapsed:.0f} s")
    for problem in counts.problems[:20]:
        print("  PROBLEM", problem)
    return bool(counts.corrupt or counts.scan_broken)


def recovery_kills(args) -> bool:
    import random

    import numpy as np

    from engine.dataset import read_sidecar, sidecar_path
    from engine.dataset.recovery import RecoveryJournal

    print(f"\n== 2. a window adding points killed with SIGKILL ({args.recovery_kills} rounds, "
          f"{args.points} points on the image)")
    rng = random.Random(args.seed)
    tried = restorable = wrong = 0
    lost: list[int] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fault-recovery-") as work:
        for round_ in range(args.recovery_kills):
            folder = recovery_harness.make_dataset(Path(work) / f"r{round_}", args.points)
            target = rng.randint(1, 40)
            _, lines = recovery_harness.kill_after(folder, "stream",
                                                   until=lambda lines, t=target: lines[-1] == f"added {t}")
            tried += 1
            added = max((int(line.split()[1]) for line in lines if line.startswith("added ")), default=0)
            saved = read_sidecar(sidecar_path(folder / "a.png")).points
            found, problems = RecoveryJournal(folder).pending(recovery_harness.NAMES)
            clicks = np.array([[1.0 + i % 50, 2.0 + i // 50] for i in range(added + 1)]).reshape(-1, 2)
            if problems or len(found) > 1:
                wrong += 1
                print(f"  round {round_}: PROBLEM {problems} {[f.image for f in found]}")
                continue
            points = found[0].points if found else saved
            recovered = len(points) - len(saved)
            if (0 <= recovered <= added + 1 and np.array_equal(points[:len(saved)], saved)
                    and np.array_equal(points[len(saved):], clicks[:recovered])):
                restorable += bool(found)
                lost.append(max(added - recovered, 0))
            else:
                wrong += 1
                print(f"  round {round_}: PROBLEM journal holds {recovered} new points after {added} clicks")
            shutil.rmtree(folder)
    elapsed = time.perf_counter() - started
    print(f"rounds {tried}, journal restorable {restorable}, wrong or unreadable journals {wrong}; clicks lost "
          f"per kill: median {statistics.median(lost) if lost else '-'}, max {max(lost) if lost else '-'} "
          f"(clicks 40 ms apart; journal timer {JOURNAL_DELAY_MS} ms); {elapsed:.0f} s")
    return bool(wrong)


def journal_cost(args) -> None:
    import numpy as np
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(ROOT / "bench"))
    from canvas import make_window, settle, write_image_with_points

    print(f"\n== 3. what journaling costs a click ({args.points} points on the image; clicks 100 ms apart)")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="journal-cost-") as work:
        work = Path(work)
        folder = work / "data"
        write_image_with_points(folder, "image.png", 1000, args.points)
        window = make_window(work)
        assert window.open_folder(folder)
        settle(window)
        journal, recovery = window.recovery.journal, window.recovery
        rng = np.random.default_rng(2)
        times = {"on": [], "off": []}
        block = 10
        for start in range(0, 2 * args.cost_adds, block):
            setting = "on" if (start // block) % 2 == 0 else "off"
            recovery.journal = journal if setting == "on" else None
            for _ in range(block):
                x, y = rng.uniform(0, 1000, 2)
                began = time.perf_counter()
                window.canvas.point_add_requested.emit(float(x), float(y))
                settle(window)
                times[setting].append((time.perf_counter() - began) * 1000)
                pause = time.perf_counter() + 0.1
                while time.perf_counter() < pause:  # the event loop runs: the journal timer can fire
                    app.processEvents()
                    time.sleep(0.002)
        recovery.journal = journal
        writes = []
        for _ in range(30):
            began = time.perf_counter()
            journal.write("image.png", window.session.points.points, window.session.proposed.points)
            writes.append((time.perf_counter() - began) * 1000)
        print(f"{'journal':>8} {'clicks':>7} {'median ms':>10} {'p90 ms':>8}")
        for setting, values in times.items():
            print(f"{setting:>8} {len(values):>7} {statistics.median(values):>10.2f} "
                  f"{np.percentile(values, 90):>8.2f}")
        print(f"journal writes during the 'on' clicks: {recovery.writes}; one write of "
              f"{window.session.points.count:,} points: median {statistics.median(writes):.2f} ms "
              f"(p90 {np.percentile(writes, 90):.2f}); it runs from a timer, not inside the click")
        window.close()
        app.processEvents()


if __name__ == "__main__":
    sys.exit(main())
