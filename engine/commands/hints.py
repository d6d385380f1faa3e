"""``python -m engine hints DATASET --checkpoint CKPT --images NAME ...``: the model's objects, for click hints.

For each named image the model's density map is turned into objects (as ``propose`` does) and each object's
confidence (the density's integral near it). The window matches them with the points it holds, saved or not
(engine.counting.hints.hints_from_objects), to mark objects nobody clicked and objects clicked twice. With
``--density-dir`` each image's map is saved as ``NAME.density.npy`` for the residual overlay.

Events (``--events jsonl``): ``start`` {command, total, stride, radius}; one ``result`` per image
{image, objects: [[x, y], ...], masses: [...], missed: [[x, y], ...], doubled: [i, ...], density: path|null}
(missed and doubled against the points saved on disk); ``warning`` for an image that cannot be used;
``done`` {images}. Exit code 1 for a bad dataset or checkpoint, 2 for bad options.
"""

from __future__ import annotations

from pathlib import Path

from engine.commands._model_options import add_model_arguments, open_dataset_and_model

NAME = "hints"
HELP = "the model's objects in some images: which objects no point covers, which were clicked twice"


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="a CrowdGUI dataset folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained model (.pt)")
    parser.add_argument("--images", nargs="+", metavar="NAME", required=True, help="image file names")
    parser.add_argument("--density-dir", type=Path, help="also save each image's density map here (.npy)")
    add_model_arguments(parser)


def run(args, events) -> int:
    import numpy as np

    from engine.atomic import atomic_path
    from engine.counting.hints import hints_from_objects, model_objects
    from engine.counting.infer import count_images, model_stride
    from engine.counting.propose import cancel_radius
    from engine.dataset import SidecarError

    opened = open_dataset_and_model(args, events)
    if isinstance(opened, int):
        return opened
    dataset, model, record = opened
    stride = model_stride(model, record)
    radius = cancel_radius(record, stride)
    known = [name for name in dict.fromkeys(args.images) if name in dataset.names()]
    for name in set(args.images) - set(known):
        events.warning(f"{name}: not in the dataset (skipped)")
    events.emit("start", command=NAME, total=len(known), stride=stride, radius=radius)
    paths = [dataset.entry(name).path for name in known]
    for name, result in zip(known, count_images(paths, (model, record), batch_size=args.batch,
                                                 max_pixels=args.max_pixels)):
        if not result.ok:
            events.warning(f"{name}: {result.error} (skipped)", path=str(result.path))
            continue
        objects, masses = model_objects(result.density, stride, (result.width, result.height), radius)
        try:
            points = dataset.load_points_inside(name)
        except SidecarError:
            points = np.zeros((0, 2))
        hints = hints_from_objects(objects, masses, points, radius)
        saved = None
        if args.density_dir is not None:
            args.density_dir.mkdir(parents=True, exist_ok=True)
            saved = args.density_dir / f"{name}.density.npy"
            with atomic_path(saved) as temporary, open(temporary, "wb") as handle:
                np.save(handle, result.density.astype(np.float32))
        events.emit("result", image=name, objects=np.round(objects, 2).tolist(),
                    masses=np.round(masses, 3).tolist(), missed=np.round(hints.missed, 2).tolist(),
                    doubled=hints.doubled.tolist(), density=str(saved) if saved else None)
    events.emit("done", images=len(known))
    return 0
