"""How unsure a model is about an image's count, and which images a person should annotate first.

The score is the disagreement of the model with itself on the image seen four ways (as is, mirrored left to
right, upside down, both): a counting network is not equivariant to flips, and where it has not learned what
an object looks like its four counts drift apart. The score is the standard deviation of the four counts, in
objects, so it grows with the error a person would correct by annotating the image (bench/suggest.py measures
how well it ranks images by their real error; ``python -m engine suggest`` uses it). The mean of the four
counts is also returned: averaging flips is a test-time augmentation in its own right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The four views: (flip left-right, flip upside-down).
VIEWS = ((False, False), (True, False), (False, True), (True, True))


@dataclass(frozen=True)
class CountSpread:
    """The four views' counts of one image."""

    counts: tuple[float, ...]

    @property
    def count(self) -> float:
        return float(np.mean(self.counts))

    @property
    def spread(self) -> float:
        """Standard deviation of the views' counts, in objects: the uncertainty score."""
        return float(np.std(self.counts))


def view(image: np.ndarray, left_right: bool, upside_down: bool) -> np.ndarray:
    """``image`` flipped as asked (a view of the same memory)."""
    if left_right:
        image = image[:, ::-1]
    if upside_down:
        image = image[::-1]
    return image


def view_density(model, record: dict, image: np.ndarray, left_right: bool, upside_down: bool,
                 **predict_options) -> np.ndarray:
    """The density the model sees in ``image`` flipped as asked, flipped back onto the image's own cells.

    At a stride above 1 the flipped-back cells of an image whose side is not a multiple of the stride are
    shifted by the part cell at its edge; the map's sum (the count) is exact either way.
    """
    from engine.counting.infer import predict_density

    flipped = np.ascontiguousarray(view(image, left_right, upside_down))
    return np.ascontiguousarray(view(predict_density(model, record, flipped, **predict_options),
                                     left_right, upside_down))


def count_spread(model, record: dict, image: np.ndarray, **predict_options) -> CountSpread:
    """The counts of the four flipped views of an (H, W, 3) uint8 image (four forward passes)."""
    counts = [float(view_density(model, record, image, *flips, **predict_options).sum(dtype=np.float64))
              for flips in VIEWS]
    return CountSpread(tuple(counts))


def mirror_averaged(model, record: dict, image: np.ndarray, maps: np.ndarray,
                    **predict_options) -> np.ndarray:
    """Test-time flips (``count --flips``): the mean of ``maps`` (the image's (C, h, w) class maps) and the maps
    of the image mirrored left to right, mirrored back. One more forward pass per image; see README for what it
    buys."""
    from engine.counting.infer import predict_class_densities

    mirrored = predict_class_densities(model, record, np.ascontiguousarray(image[:, ::-1]), **predict_options)
    return (maps + mirrored[:, :, ::-1]) / 2


def ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    """(name, score) pairs, most uncertain first; ties keep the names' order."""
    return sorted(scores.items(), key=lambda item: -item[1])


def suggest_images(dataset, model, record: dict, events, **predict_options) -> list[tuple[str, float]]:
    """Score every readable image of ``dataset`` that has no confirmed points, most uncertain first.

    Emits one ``result`` event per image ({image, score, count}) and a ``warning`` for an image that cannot
    be read; images with points (complete or partial annotations) are not candidates.
    """
    from engine.dataset import ImageReadError, read_image

    candidates = [entry.name for entry in dataset if entry.usable and not entry.annotated]
    events.emit("start", command="suggest", total=len(candidates))
    scores = {}
    for done, name in enumerate(candidates, start=1):
        try:
            image = read_image(dataset.entry(name).path)
        except ImageReadError as exc:
            events.warning(f"{name}: {exc.reason} (skipped)", path=str(dataset.entry(name).path))
        else:
            spread = count_spread(model, record, image, **predict_options)
            scores[name] = spread.spread
            events.emit("result", image=name, score=round(spread.spread, 4), count=round(spread.count, 3))
        events.emit("progress", done=done, total=len(candidates))
    return ranked(scores)
