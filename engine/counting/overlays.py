"""Files made from a finished count: a density-map bundle (HDF5) and overlay pictures (PNG).

``python -m engine count`` already writes ``counts.csv`` and one ``.npy`` density map per image. This module
turns those into what a user sends on or puts in a report: one HDF5 file holding every density map, and PNG
pictures of each image with its predicted density blended over it and the count written in a corner. No Qt:
the window calls these functions from a worker thread, a script can call them directly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.atomic import atomic_path, atomic_write_bytes

# The "inferno" colormap at its eleven deciles (the matplotlib / pyqtgraph values): dark where nothing was
# counted, bright where objects crowd. The window passes its own table when the user picks
# another colormap, so the saved pictures look like the screen.
_INFERNO_STOPS = [
    (0, 0, 4), (22, 11, 57), (66, 10, 104), (106, 23, 110), (147, 38, 103), (188, 55, 84),
    (221, 81, 58), (243, 120, 25), (252, 165, 10), (246, 215, 70), (252, 255, 164),
]


def default_lut(size: int = 256) -> np.ndarray:
    """A (size, 3) uint8 colour table (inferno) used when the caller gives none."""
    stops = np.asarray(_INFERNO_STOPS, dtype=np.float64)
    where = np.linspace(0.0, 1.0, len(stops))
    at = np.linspace(0.0, 1.0, size)
    return np.stack([np.interp(at, where, stops[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


@dataclass
class CountedImage:
    """One counted image as the exporters need it (the fields of a ``result`` event)."""

    name: str
    path: Path
    count: float
    density_path: Path | None = None
    annotated_count: float | None = None


# ------------------------------------------------------------------------------------------ density maps
def load_density(path: Path | str) -> np.ndarray:
    """A saved density map as a 2-D float32 array (a leading singleton axis is dropped)."""
    array = np.load(Path(path), allow_pickle=False)
    array = np.squeeze(np.asarray(array, dtype=np.float32))
    if array.ndim != 2:
        raise ValueError(f"{Path(path).name}: expected a 2-D density map, got shape {array.shape}")
    return array


def density_to_image_grid(density: np.ndarray, stride: int, height: int, width: int) -> np.ndarray:
    """Density per image pixel, (height, width): each stride x stride cell spreads its value evenly.

    Counting pads images up to the model's input multiple, so the map may reach past the image; the extra
    rows and columns are cut off. Values are divided by stride**2 so the map stays in objects per pixel and
    its sum is unchanged (apart from what lay in the padding).
    """
    stride = max(1, int(stride))
    grid = density if stride == 1 else np.kron(density, np.ones((stride, stride), np.float32)) / stride**2
    grid = grid[:height, :width]
    if grid.shape != (height, width):  # a map shorter than the image (should not happen): pad with zeros
        grid = np.pad(grid, ((0, height - grid.shape[0]), (0, width - grid.shape[1])))
    return grid.astype(np.float32, copy=False)


def write_density_bundle(path: Path | str, images: Iterable[CountedImage], stride: int = 1,
                         attributes: dict | None = None) -> int:
    """Write every image's density map into one HDF5 file; returns how many maps were written.

    Layout: ``/density/<image name>`` float32 datasets (gzip), each with attributes ``count``, ``stride``,
    ``source`` (the image path) and ``annotated_count`` where known. Root attributes: ``stride`` plus
    ``attributes`` (for example the checkpoint path). Written to a temporary file and renamed into place,
    so a crash never leaves half a bundle under the final name. Images without a density file are skipped.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with atomic_path(path) as tmp_name:
        with h5py.File(tmp_name, "w") as bundle:
            bundle.attrs["format"] = "crowdgui-density-bundle"
            bundle.attrs["stride"] = int(stride)
            for key, value in (attributes or {}).items():
                bundle.attrs[key] = value if isinstance(value, (int, float)) else str(value)
            group = bundle.create_group("density")
            for image in images:
                if image.density_path is None or not Path(image.density_path).is_file():
                    continue
                density = load_density(image.density_path)
                # "/" would make a sub-group; image names from one folder never contain it, but be safe.
                dataset = group.create_dataset(image.name.replace("/", "_"), data=density,
                                               compression="gzip", shuffle=True)
                dataset.attrs["count"] = float(image.count)
                dataset.attrs["stride"] = int(stride)
                dataset.attrs["source"] = str(image.path)
                if image.annotated_count is not None:
                    dataset.attrs["annotated_count"] = float(image.annotated_count)
                written += 1
    return written


# ------------------------------------------------------------------------------------------ overlay pictures
def blend_overlay(image: np.ndarray, density: np.ndarray, stride: int = 1, lut: np.ndarray | None = None,
                  opacity: float = 0.6, levels: tuple[float, float] | None = None) -> np.ndarray:
    """The (H, W, 3) uint8 image with its density map drawn over it as a heatmap.

    ``density`` is the saved map (at ``stride``); ``levels`` (objects per pixel) default to 0 .. the map's
    maximum. ``lut`` is an (N, 3) or (N, 4) uint8 table. Each pixel is blended as the window's canvas does
    it: colour weight = opacity x the table's alpha at that level (pyqtgraph's RGBA lookup). A table without
    alpha fades in with the level itself, so empty background keeps the photo as it is either way.
    """
    height, width = image.shape[:2]
    per_pixel = density_to_image_grid(density, stride, height, width)
    lo, hi = levels if levels is not None else (0.0, float(per_pixel.max(initial=0.0)))
    span = hi - lo if hi > lo else 1.0
    level = np.clip((per_pixel - lo) / span, 0.0, 1.0)
    table = default_lut() if lut is None else np.asarray(lut, dtype=np.uint8)
    index = np.round(level * (len(table) - 1)).astype(np.intp)
    colour = table[index, :3].astype(np.float32)
    alpha = table[index, 3].astype(np.float32) / 255.0 if table.shape[1] == 4 else level
    weight = (float(np.clip(opacity, 0.0, 1.0)) * alpha)[..., None]
    blended = image[..., :3].astype(np.float32) * (1.0 - weight) + colour * weight
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font shipped with Pillow
    except TypeError:
        return ImageFont.load_default()


def draw_label(picture: Image.Image, text: str) -> Image.Image:
    """Write ``text`` in the top-left corner on a dark box, sized to the picture so it reads at any size."""
    picture = picture.convert("RGB")
    draw = ImageDraw.Draw(picture, "RGBA")
    size = max(12, int(min(picture.size) * 0.06))
    font = _font(size)
    margin, pad = max(4, size // 3), max(3, size // 4)
    left, top, right, bottom = draw.textbbox((margin + pad, margin + pad), text, font=font)
    draw.rounded_rectangle((margin, margin, right + pad, bottom + pad), radius=pad, fill=(0, 0, 0, 170))
    draw.text((margin + pad, margin + pad), text, font=font, fill=(255, 255, 255, 255))
    return picture


def count_label(count: float, annotated_count: float | None = None) -> str:
    """The corner text: "Count 123.4", plus the annotated count where there is one."""
    text = f"Count {count:.1f}"
    if annotated_count is not None:
        text += f"  (annotated {annotated_count:g})"
    return text


def render_overlay(image: np.ndarray, density: np.ndarray, count: float, stride: int = 1,
                   lut: np.ndarray | None = None, opacity: float = 0.6,
                   levels: tuple[float, float] | None = None, points: np.ndarray | None = None,
                   annotated_count: float | None = None) -> Image.Image:
    """The picture saved for one image: heatmap blended over it, predicted points (if given) and the count."""
    picture = Image.fromarray(blend_overlay(image, density, stride, lut, opacity, levels))
    if points is not None and len(points):
        draw = ImageDraw.Draw(picture)
        radius = max(2, int(min(picture.size) / 150))
        for x, y in np.asarray(points, dtype=np.float64):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=(0, 255, 170), width=2)
    return draw_label(picture, count_label(count, annotated_count))


def save_png(picture: Image.Image, path: Path | str) -> Path:
    """Save a picture as PNG atomically (the old file, if any, stays whole until the new one is complete)."""
    path = Path(path)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def overlay_file_name(image_name: str) -> str:
    """``photo.jpg`` -> ``photo.jpg.overlay.png`` (the full name keeps photo.jpg and photo.png apart)."""
    return f"{image_name}.overlay.png"
