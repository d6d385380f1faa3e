"""Counting images with a trained checkpoint: whole or tiled, batched, streaming one result per image.

The checkpoint decides the preprocessing (its normalisation, density scale, stride and input multiple), never
this module's defaults, so an old checkpoint counts the way it was trained. Two entry points:

    model, record = engine.models.checkpoint.load_model("best.pt", device)
    density = predict_density(model, record, image)          # (ceil(H/s), ceil(W/s)) float32, sum = count
    maps = predict_class_densities(model, record, image)     # (C, ceil(H/s), ceil(W/s)): one map per class

    for result in count_images(paths, "best.pt", "auto"):    # one CountResult per image, as they finish
        print(result.path, result.count, result.error)

Every image is seen with a margin of mirrored pixels around it (engine.models.contract.with_context), so objects
at its edges are counted with context rather than against the convolutions' zero padding. Images bigger
than ``max_pixels`` (input pixels per forward pass, the memory bound) are cut into overlapping tiles
(engine/counting/tiles.py) of that mirrored image; the stitched map equals the whole-image map up to float rounding.

A model has one output channel per class (engine.models.checkpoint.checkpoint_classes names them). The
``density`` of a result is always the total over the classes, so everything that reads it counts every
object; a model of 2+ classes also gives each class's own map (``CountResult.class_densities``).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.counting.allocator import keep_freed_memory
from engine.counting.folded import fold_batch_norms
from engine.counting.prefetch import DecodedImage, prefetch_images
from engine.models.contract import (
    alignment,
    context_margin,
    context_shape,
    image_cell_box,
    mirrored_window,
    round_up,
    with_context,
)
from engine.counting.tiles import DEFAULT_BATCH, DEFAULT_MAX_PIXELS, Tile, plan_tiles
from engine.counting.uncertainty import mirror_averaged

# The receptive radius is where all but this fraction of the input gradient's mass lies: beyond it an input
# pixel changes the output by less than float rounding would.
_RECEPTIVE_MASS_LEFT = 1e-5
_PROBE_CELLS = 4  # the side of the block of output cells whose gradient is measured


@dataclass
class CountResult:
    """What counting one image produced; ``error`` (plain words) is set instead of ``count`` on failure."""

    index: int
    path: Path
    count: float | None = None
    density: np.ndarray | None = None  # objects per cell at the model's stride
    seconds: float = 0.0  # decoding + this image's share of the forward pass
    error: str | None = None
    width: int = 0
    height: int = 0
    # (C, h, w): each class's own map, when the model counts 2+ classes (``density`` is their sum).
    class_densities: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def class_counts(self) -> list[float] | None:
        """Each class's count over the whole image (None for a one-class model or a failed image)."""
        if self.class_densities is None:
            return None
        return [float(channel.sum(dtype=np.float64)) for channel in self.class_densities]


def total_density(maps: np.ndarray) -> np.ndarray:
    """(C, h, w) per-class maps -> the (h, w) map of every object (a one-class map as it is, bit for bit)."""
    return maps[0] if len(maps) == 1 else maps.sum(axis=0, dtype=np.float32)


# ------------------------------------------------------------------------------------- model geometry
def model_stride(model: torch.nn.Module, record: dict) -> int:
    """The output stride: the checkpoint's word first, the model class's otherwise."""
    return int(record.get("stride") or getattr(model, "stride", 1))


def input_alignment(model: torch.nn.Module, record: dict) -> int:
    """What input sides (and tile edges) must be multiples of: lcm(input multiple, stride)."""
    multiple = int(record.get("input_multiple") or getattr(model, "input_multiple", 1))
    return alignment(multiple, model_stride(model, record))


def model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


_margins: weakref.WeakKeyDictionary[torch.nn.Module, int] = weakref.WeakKeyDictionary()


def receptive_margin(model: torch.nn.Module, record: dict) -> int:
    """How many input pixels around an output cell influence it (measured once per model, then cached).

    A model may declare ``receptive_radius`` (pixels); otherwise the gradient of a central block of output
    cells with respect to random inputs shows how far their influence reaches. A block and two inputs, not one
    cell and one input: a ReLU that happens to be off at one cell would otherwise hide all of it. The probe
    grows until that reach stays well inside it.
    """
    declared = getattr(model, "receptive_radius", None)
    if declared is not None:
        return int(declared)
    if model in _margins:
        return _margins[model]
    stride, align = model_stride(model, record), input_alignment(model, record)
    device = model_device(model)
    size = round_up(128, align)
    generator = torch.Generator().manual_seed(0)
    while True:
        probe = torch.randn(2, 3, size, size, generator=generator).to(device).requires_grad_(True)
        with torch.inference_mode(False), torch.enable_grad():
            output = model(probe)
            c0 = output.shape[-1] // 2 - _PROBE_CELLS // 2  # output is square: so is the probe
            block = output[:, :, c0:c0 + _PROBE_CELLS, c0:c0 + _PROBE_CELLS]  # every class's channel
            (gradient,) = torch.autograd.grad(block.sum(), probe)
        weight = gradient.abs().sum(dim=(0, 1)).double().cpu().numpy()
        # Chebyshev distance (in pixels) of every input pixel from the pixels the block's cells cover.
        reach = np.arange(size)
        first, last = c0 * stride, (c0 + _PROBE_CELLS) * stride - 1
        gap = np.maximum(np.maximum(first - reach, reach - last), 0)
        distance = np.maximum(gap[:, None], gap[None, :])
        mass = np.bincount(distance.ravel(), weights=weight.ravel())
        total = mass.sum()
        if total <= 0:  # the output ignores its input: no margin needed
            radius = 0
        else:
            radius = int(np.searchsorted(np.cumsum(mass), (1 - _RECEPTIVE_MASS_LEFT) * total))
        if radius < size // 2 - 2 * align - _PROBE_CELLS * stride or size >= 2048:
            break
        size *= 2
    _margins[model] = radius
    return radius


# ------------------------------------------------------------------------------------------- forward
def network_input(images: list[np.ndarray], record: dict, shape: tuple[int, int], device: torch.device,
                  channels_last: bool = False) -> torch.Tensor:
    """(h, w, 3) uint8 images -> one normalised (B, 3, H, W) float32 batch on ``device``, zero-padded.

    The arithmetic of engine.models.contract (normalize_image, then pad_to_multiple: zeros after normalising,
    bottom and right), done on the device: the uint8 pixels travel (4x less than floats) and the CPU's
    decoding thread only decodes. Each image may be smaller than ``shape`` = (H, W).
    """
    norm = record["normalization"]
    mean = torch.tensor(norm["mean"], dtype=torch.float32, device=device)[:, None, None]
    std = torch.tensor(norm["std"], dtype=torch.float32, device=device)[:, None, None]
    memory = torch.channels_last if channels_last else torch.contiguous_format
    batch = torch.zeros((len(images), 3, *shape), dtype=torch.float32, device=device).contiguous(
        memory_format=memory)
    for index, image in enumerate(images):
        if not image.flags.writeable or not image.flags.c_contiguous:  # torch wants its own, writable memory
            image = np.array(image, order="C")
        pixels = torch.from_numpy(image).to(device, non_blocking=True)
        height, width = image.shape[:2]
        batch[index, :, :height, :width] = (pixels.permute(2, 0, 1).float() / 255.0 - mean) / std
    return batch


def forward(model: torch.nn.Module, record: dict, inputs: torch.Tensor) -> np.ndarray:
    """A prepared (B, 3, H, W) batch -> (B, C, H/s, W/s) float32 densities in objects per cell, C classes."""
    with torch.inference_mode():
        output = model(inputs).float() / float(record["density_scale"])
    return output.cpu().numpy()


def run_batch(model: torch.nn.Module, record: dict, images: list[np.ndarray], shape: tuple[int, int],
              channels_last: bool = False) -> np.ndarray:
    """uint8 images (each within ``shape``) -> their (B, C, H/s, W/s) densities, in one forward pass."""
    with torch.inference_mode():
        inputs = network_input(images, record, shape, model_device(model), channels_last)
    return forward(model, record, inputs)


def predict_tiled(model: torch.nn.Module, record: dict, image: np.ndarray, max_pixels: int,
                  batch_size: int = DEFAULT_BATCH, channels_last: bool = False) -> np.ndarray:
    """The (C, h, w) densities of an image of any size with bounded memory: overlapping tiles, centres kept,
    stitched.

    Memory is the uint8 image, the output map and one batch of tile windows; neither the whole normalised
    image nor a padded copy of it is ever built. The tiles cover the image with its mirrored margin (as
    predict_density sees it), each window copying only its own pixels, mirrored where it reaches past the image.
    """
    stride, align = model_stride(model, record), input_alignment(model, record)
    margin = context_margin(align)
    height, width = image.shape[:2]
    full_h, full_w = context_shape(height, width, margin, align)
    tiles = plan_tiles(full_h, full_w, max_pixels, receptive_margin(model, record), align)
    stitched = None  # (C, ...) once the first batch shows how many classes the model counts
    by_shape: dict[tuple[int, int], list[Tile]] = {}
    for tile in tiles:
        by_shape.setdefault(tile.window_shape, []).append(tile)
    for shape, group in by_shape.items():
        per_pass = max(1, min(batch_size, max_pixels // (shape[0] * shape[1])))
        for start in range(0, len(group), per_pass):
            chunk = group[start:start + per_pass]
            crops = [mirrored_window(image, t.window[0] - margin, t.window[1] - margin, t.window[2] - margin,
                                     t.window[3] - margin) for t in chunk]
            outputs = run_batch(model, record, crops, shape, channels_last)
            if stitched is None:
                stitched = np.zeros((outputs.shape[1], full_h // stride, full_w // stride), np.float32)
            for tile, output in zip(chunk, outputs):
                (wy0, _, wx0, _), (cy0, cy1, cx0, cx1) = tile.window, tile.core
                stitched[:, cy0 // stride:cy1 // stride, cx0 // stride:cx1 // stride] = output[
                    :, (cy0 - wy0) // stride:(cy1 - wy0) // stride, (cx0 - wx0) // stride:(cx1 - wx0) // stride]
    return image_cells(stitched, height, width, stride, margin)


def predict_density(model: torch.nn.Module, record: dict, image: np.ndarray, *,
                    max_pixels: int = DEFAULT_MAX_PIXELS, batch_size: int = DEFAULT_BATCH,
                    channels_last: bool = False) -> np.ndarray:
    """Density map of one (H, W, 3) uint8 RGB image: (ceil(H/s), ceil(W/s)) float32 objects per cell.

    Its sum is the predicted count of every class together. The image runs whole when its padded size fits
    ``max_pixels``, tiled otherwise.
    """
    return total_density(predict_class_densities(model, record, image, max_pixels=max_pixels,
                                                 batch_size=batch_size, channels_last=channels_last))


def predict_class_densities(model: torch.nn.Module, record: dict, image: np.ndarray, *,
                            max_pixels: int = DEFAULT_MAX_PIXELS, batch_size: int = DEFAULT_BATCH,
                            channels_last: bool = False) -> np.ndarray:
    """Each class's density map of one (H, W, 3) uint8 RGB image: (C, ceil(H/s), ceil(W/s)) float32."""
    stride, align = model_stride(model, record), input_alignment(model, record)
    margin = context_margin(align)
    height, width = image.shape[:2]
    shape = context_shape(height, width, margin, align)
    if shape[0] * shape[1] > max_pixels:
        return predict_tiled(model, record, image, max_pixels, batch_size, channels_last)
    maps = run_batch(model, record, [with_context(image, margin, align)], shape, channels_last)[0]
    return image_cells(maps, height, width, stride, margin)


def image_cells(density: np.ndarray, height: int, width: int, stride: int, margin: int) -> np.ndarray:
    """The cells of a density map (or of (C, h, w) maps) predicted with ``margin`` mirrored pixels that belong
    to the image itself."""
    first, rows, columns = image_cell_box(height, width, stride, margin)
    return np.ascontiguousarray(density[..., first:first + rows, first:first + columns])


# ------------------------------------------------------------------------------------------ streaming
def prefers_channels_last(device: torch.device) -> bool:
    """Whether counting runs faster in the channels_last memory layout on ``device``.

    On CUDA, and on the CPU too: the default U-Net counts a 1024x768 image 1.5x faster in it on this
    project's 2-core CPU (bench/models.py). Apple MPS is left in the default layout (not measured).
    """
    return device.type in ("cuda", "cpu")


def load_counter(checkpoint, device: str | torch.device = "auto") -> tuple[torch.nn.Module, dict]:
    """(model, record) from a checkpoint path, or the pair itself when already loaded (device ignored then).

    A model loaded here only counts, so its batch norms are folded into its convolutions
    (engine/counting/folded.py): the same counts, the default U-Net's forward pass 0.76x as long on the CPU.
    The process then keeps freed memory for the next forward pass (engine/counting/allocator.py): 0.79x the
    CPU time again.
    """
    if isinstance(checkpoint, tuple):
        return checkpoint
    from engine.models.checkpoint import load_model
    from engine.models.device import pick_device

    target = device if isinstance(device, torch.device) else pick_device(device)
    model, record = load_model(checkpoint, target)
    keep_freed_memory()
    return fold_batch_norms(model.eval()), record


def count_images(paths: Iterable[Path | str], checkpoint, device: str | torch.device = "auto", *,
                 batch_size: int = DEFAULT_BATCH, max_pixels: int = DEFAULT_MAX_PIXELS,
                 channels_last: bool | None = None, prefetch: int = 4, flips: bool = False) -> Iterator[CountResult]:
    """Count image files one by one, yielding a :class:`CountResult` per path in order, as each finishes.

    A background thread decodes the next images while the model runs (Pillow releases the GIL while
    decoding), and runs far enough ahead that batches fill without waiting. See :func:`count_decoded`.
    """
    decoded = prefetch_images(paths, depth=max(prefetch, batch_size))
    try:
        yield from count_decoded(decoded, checkpoint, device, batch_size=batch_size, max_pixels=max_pixels,
                                 channels_last=channels_last, flips=flips)
    finally:
        decoded.close()


def count_decoded(decoded: Iterable[DecodedImage], checkpoint, device: str | torch.device = "auto", *,
                  batch_size: int = DEFAULT_BATCH, max_pixels: int = DEFAULT_MAX_PIXELS,
                  channels_last: bool | None = None, flips: bool = False) -> Iterator[CountResult]:
    """Count decoded images (image files, video frames) in order, one :class:`CountResult` each.

    ``checkpoint`` is a checkpoint file or an already loaded ``(model, record)`` pair. Results carry the
    items' ``index`` and ``path``. Consecutive images of the same padded size share a
    forward pass (at most ``batch_size`` images and ``max_pixels`` pixels); bigger images are tiled. An
    unreadable image or a failing forward pass yields a result with ``error`` set and the run goes on.
    ``channels_last`` defaults to :func:`prefers_channels_last` (the model is converted). ``flips`` averages
    each map with that of the image mirrored left to right (engine.counting.uncertainty.mirror_averaged).
    """
    model, record = load_counter(checkpoint, device)
    if channels_last is None:
        channels_last = prefers_channels_last(model_device(model))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    stride, align = model_stride(model, record), input_alignment(model, record)
    margin = context_margin(align)
    options = {"max_pixels": max_pixels, "batch_size": batch_size, "channels_last": channels_last}

    def finish(item: DecodedImage, maps: np.ndarray, share: float) -> CountResult:
        if flips:
            started = time.perf_counter()
            try:
                maps = mirror_averaged(model, record, item.image, maps, **options)
            except (RuntimeError, MemoryError) as exc:
                return CountResult(item.index, item.path, seconds=item.seconds, width=item.width,
                                   height=item.height, error=f"counting the mirrored image failed: {_first_line(exc)}")
            share += time.perf_counter() - started
        density = total_density(maps)
        return CountResult(item.index, item.path, float(density.sum(dtype=np.float64)), density,
                           item.seconds + share, None, item.width, item.height,
                           class_densities=maps if len(maps) > 1 else None)

    def alone(item: DecodedImage) -> CountResult:
        started = time.perf_counter()
        try:
            maps = predict_class_densities(model, record, item.image, **options)
        except (RuntimeError, MemoryError) as exc:
            return CountResult(item.index, item.path, seconds=item.seconds, width=item.width,
                               height=item.height, error=f"counting failed: {_first_line(exc)}")
        return finish(item, maps, time.perf_counter() - started)  # already the image's cells

    def run(pending: list[DecodedImage], shape: tuple[int, int]) -> list[CountResult]:
        if len(pending) == 1:
            return [alone(pending[0])]
        started = time.perf_counter()
        try:
            inputs = [with_context(item.image, margin, align) for item in pending]
            outputs = run_batch(model, record, inputs, shape, channels_last)
        except (RuntimeError, MemoryError):  # e.g. out of memory: retry one by one, each may still succeed
            return [alone(item) for item in pending]
        share = (time.perf_counter() - started) / len(pending)
        return [finish(item, image_cells(output, item.height, item.width, stride, margin), share)
                for item, output in zip(pending, outputs)]

    pending: list[DecodedImage] = []
    pending_shape = (0, 0)
    for item in decoded:
        shape = context_shape(item.height, item.width, margin, align)
        pixels = shape[0] * shape[1]
        per_pass = max(1, min(batch_size, max_pixels // max(1, pixels)))
        if pending and (item.error is not None or shape != pending_shape or len(pending) >= per_pass):
            yield from run(pending, pending_shape)  # flushed first: results stay in order
            pending = []
        if item.error is not None:
            yield CountResult(item.index, item.path, seconds=item.seconds, error=item.error)
        elif pixels > max_pixels:
            yield alone(item)  # tiled
        else:
            pending.append(item)
            pending_shape = shape
            if len(pending) >= per_pass:
                yield from run(pending, pending_shape)
                pending = []
    if pending:
        yield from run(pending, pending_shape)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
