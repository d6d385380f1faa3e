"""Reading users' images: any size, grey, RGB, RGBA, 16-bit; never modified.

Orientation: points refer to the image *as displayed*, i.e. after applying the EXIF orientation tag. Every
reader in the project (canvas, training, counting) goes through this module, so they all agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


class ImageReadError(Exception):
    """An image file that cannot be read; the message says why in plain words."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = Path(path)
        self.reason = reason


def is_image_file(path: Path | str) -> bool:
    """True when the file name has one of the image suffixes the app lists."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _open(path: Path) -> Image.Image:
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(path, "the file is empty (0 bytes)")
        image = Image.open(path)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "the file does not exist") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"image is too large to open safely ({exc})") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot open: {exc}") from None
    return image


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make the image unreadable
        orientation = 1
    if orientation in (5, 6, 7, 8):  # rotated by 90 or 270 degrees
        width, height = height, width
    return width, height


def image_size(path: Path | str) -> tuple[int, int]:
    """(width, height) as displayed, read from the header only (fast, no pixel decoding)."""
    path = Path(path)
    with _open(path) as image:
        return _oriented_size(image)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale high-bit-depth or float pixels into 0..255 for display and for the networks."""
    if array.dtype == np.uint8:
        return array
    is_float = array.dtype.kind == "f"  # checked before the cast below, which makes every array float
    array = array.astype(np.float32)
    lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros(array.shape, dtype=np.uint8)
    if lo >= 0 and hi <= 255 and is_float and hi > 1.0:
        scaled = array
    else:
        scaled = (array - lo) * (255.0 / (hi - lo))
    return np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)


def read_image(path: Path | str) -> np.ndarray:
    """Decode an image into an (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Grey images are repeated into three channels, alpha is dropped, 16-bit and float images are scaled to
    their own range. Raises ImageReadError with a plain-words reason for anything unreadable.
    """
    path = Path(path)
    image = _open(path)
    try:
        with image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                array = _to_uint8(np.asarray(image))
            elif image.mode in ("RGB", "L"):
                array = np.asarray(image)
            else:
                array = np.asarray(image.convert("RGB"))
    except ImageReadError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged pixel data
        raise ImageReadError(path, f"damaged image data ({exc})") from None
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] > 3:
        array = array[:, :, :3]
    return np.ascontiguousarray(array, dtype=np.uint8)
