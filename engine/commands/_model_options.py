"""Options shared by the commands that run a trained model (count, evaluate, propose), and SIGTERM handling.

Not a command itself: the leading underscore keeps it out of ``python -m engine``'s list.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from engine.counting.tiles import DEFAULT_BATCH, DEFAULT_MAX_PIXELS


def add_model_arguments(parser) -> None:
    """Options shared by count and evaluate: where and how the model runs."""
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="where the model runs (auto: CUDA, then Apple MPS, then CPU)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"at most this many same-sized images per forward pass (default {DEFAULT_BATCH})")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help="input pixels per forward pass; bigger images are counted in tiles "
                             f"(default {DEFAULT_MAX_PIXELS})")


def check_model_arguments(args, events) -> bool:
    if args.batch < 1 or args.max_pixels < 4096:
        events.error("--batch must be at least 1 and --max-pixels at least 4096")
        return False
    return True


def load_for_counting(args, events):
    """(model, record) from --checkpoint on --device, or None after an error event."""
    from engine.models.checkpoint import CheckpointError
    from engine.models.device import DeviceError
    from engine.counting.infer import load_counter

    try:
        return load_counter(args.checkpoint, args.device)
    except CheckpointError as exc:
        events.error(str(exc), path=str(args.checkpoint))
    except DeviceError as exc:
        events.error(str(exc))
    return None


def open_dataset(folder, events):
    """The Dataset in ``folder``, or None after an error event saying it is not there."""
    from engine.dataset import Dataset

    try:
        return Dataset(folder)
    except FileNotFoundError as exc:
        events.error(str(exc))
        return None


def open_dataset_and_model(args, events):
    """(dataset, model, record) for a command on ``args.dataset`` with ``--checkpoint``, or the exit code
    (2: bad options, 1: no such folder or an unusable checkpoint) after an error event."""
    if not check_model_arguments(args, events):
        return 2
    dataset = open_dataset(args.dataset, events)
    if dataset is None:
        return 1
    loaded = load_for_counting(args, events)
    return 1 if loaded is None else (dataset, *loaded)


@contextlib.contextmanager
def terminate_as_interrupt():
    """Treat SIGTERM (the window's Cancel) like Ctrl-C, so the run stops between images and cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
