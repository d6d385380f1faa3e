"""``python -m engine train DATASET --model NAME --out RUN_DIR``: train a counting network on a dataset.

Ctrl+C or SIGTERM (the GUI's Cancel) stops after the current step and saves a resumable ``last.pt``;
``--resume`` continues it with the run folder's saved configuration (flags given again override it).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

NAME = "train"
HELP = "train a counting network on an annotated dataset folder"


def add_arguments(parser) -> None:
    from engine.training.config import LOSSES  # no torch there: --help stays quick

    parser.add_argument("dataset", metavar="DATASET", help="dataset folder (images + annotation sidecars)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR",
                        help="run folder for config.json, metrics.jsonl, best.pt and last.pt")
    parser.add_argument("--model", help="unet (default), fcrn_a, csrnet or cmtl; on --resume: the run's")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="total epochs of the run (default 50)")
    budget.add_argument("--minutes", type=float, help="total training time of the run, in minutes")
    parser.add_argument("--device", metavar="auto|cpu|cuda|cuda:N|mps",
                        help="auto (default): CUDA, then Apple MPS, then CPU")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last.pt")
    parser.add_argument("--lr", type=float, help="learning rate (default: the model's); under torchrun, for one "
                        "process's batch: N processes train at sqrt(N) x this rate")
    parser.add_argument("--batch", type=int, help="crops per step (default: the model's); under torchrun: crops "
                        "per step of each process")
    parser.add_argument("--crop", type=int, help="training crop side in pixels (default: the model's)")
    parser.add_argument("--sigma-mode", choices=["fixed", "adaptive"],
                        help="density kernel (default: the dataset's)")
    parser.add_argument("--sigma", type=float, help="kernel sigma in pixels (fixed; adaptive: lone points)")
    parser.add_argument("--beta", type=float, help="adaptive: sigma = beta x mean distance to k neighbours")
    parser.add_argument("--k", type=int, help="adaptive mode: number of neighbours")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--val-fraction", type=float,
                        help="share of annotated images held out for validation (default: the dataset's)")
    parser.add_argument("--val-time", type=float, dest="val_time_share", metavar="SHARE",
                        help="validation skips epochs rather than take more than about this share of the "
                             "training time (default 0.1)")
    parser.add_argument("--width", type=int, help="network width (first layer's channels)")
    parser.add_argument("--pretrained", metavar="imagenet|PATH",
                        help="csrnet, unet_vgg16: start the VGG-16 part from torchvision's ImageNet weights "
                             "(downloaded; an error without internet) or from a VGG-16(-BN) weights file")
    parser.add_argument("--workers", type=int,
                        help="data loader processes (default: 0 on the CPU, up to 4 on a GPU)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores)")
    parser.add_argument("--loss", choices=LOSSES,
                        help="mse (default): squared error to the density map made from the points; bayesian: "
                             "Bayesian loss+ (Ma et al. ICCV 2019); dmcount: DM-Count (Wang et al. NeurIPS "
                             "2020); the last two learn from the points themselves. On --resume: the run's")
    parser.add_argument("--unlabeled", action="store_true", default=None,
                        help="also learn from the dataset's unlabeled images: nested crops of one image must "
                             "not be counted in the wrong order (ranking loss, Liu et al. CVPR 2018)")
    parser.add_argument("--rank-weight", type=float, metavar="L",
                        help="with --unlabeled: total loss = density loss + L x ranking loss (default 1)")
    parser.add_argument("--rank-batch", type=int, metavar="N",
                        help="with --unlabeled: unlabeled crop stacks per step (default 1)")


def build_config(args):
    """The TrainConfig for these arguments (on --resume: the run's saved config, overridden by flags)."""
    from engine.training.config import CONFIG_FILE, DEFAULT_MODEL, TrainConfig

    saved = Path(args.out) / CONFIG_FILE
    if args.resume and saved.is_file():
        config = TrainConfig.from_json(json.loads(saved.read_text(encoding="utf-8")))
        config.dataset, config.out = args.dataset, args.out
    else:
        config = TrainConfig(dataset=args.dataset, out=args.out, model=args.model or DEFAULT_MODEL)
    config.resume = bool(args.resume)
    if args.model:
        if args.resume and args.model != config.model:
            raise ValueError(f"cannot resume: the run in {args.out} trains {config.model}, not {args.model}")
        config.model = args.model
    if args.epochs is not None:
        config.epochs, config.minutes = args.epochs, None
    elif args.minutes is not None:
        config.epochs, config.minutes = None, args.minutes
    for flag in ("device", "lr", "batch", "crop", "seed", "val_fraction", "pretrained", "workers", "threads",
                 "unlabeled", "rank_weight", "rank_batch", "loss", "val_time_share"):
        if getattr(args, flag) is not None:
            setattr(config, flag, getattr(args, flag))
    density = dict(config.density or {})
    for flag, key in (("sigma_mode", "mode"), ("sigma", "sigma"), ("beta", "beta"), ("k", "k")):
        if getattr(args, flag) is not None:
            density[key] = getattr(args, flag)
    config.density = density or None
    if args.width is not None:
        config.model_config = {**config.model_config, "width": args.width}
    return config


def run(args, events) -> int:
    from engine.training.fit import TrainingError, fit

    try:
        config = build_config(args)
    except (ValueError, OSError) as exc:
        events.error(str(exc))
        return 2
    stop = {"requested": False}

    def request_stop(signum, _frame):
        # Only a flag: the training loop checks it between steps, saves last.pt and returns.
        stop["requested"] = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        fit(config, events, stop_requested=lambda: stop["requested"])
    except TrainingError:
        return 1  # fit already reported the error event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
