"""Reading users' images: any size up to a limit, grey, RGB, RGBA, CMYK, 16-bit; never modified.

Orientation: points refer to the image *as displayed*, i.e. after applying the EXIF orientation tag. Every
reader in the project (canvas, training, counting) goes through this module, so they all agree.

Size limit: images of at most ``MAX_PIXELS`` pixels open (500 megapixels, e.g. 22000 x 22000). Decoding needs
about 7 bytes per pixel at its peak (Pillow's 4-byte pixels plus the 3-byte array handed out), so the limit
keeps one image under ~3.5 GB; bigger ones, and decompression bombs (a small file whose header claims a huge
image), are refused from their header alone with a message that names the limit. Pillow's own bomb check is
set to this limit (it refuses only above twice it, and that refusal is reworded here too).

Damaged files: ``image_size`` (used by every folder scan) reads the header and also checks that the file
ends the way its format requires (a JPEG's end-of-image marker after its image data, a PNG's IEND chunk), so
an image cut short while copying is reported at scan time, not half-way through a training run. Other damage
is found when the pixels are decoded, and ``read_image`` reports it as ``ImageReadError`` too.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")

MAX_PIXELS = 500_000_000
# Pillow warns above its MAX_IMAGE_PIXELS and refuses above twice that; our own check (below) refuses first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_ORIENTATION_TAG = 0x0112
_STRIP_BYTES = 4 << 20  # pixels are converted in bands of about this size (bounded extra memory)
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _check_size says it better
            image = Image.open(path)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "the file does not exist") from None
    except IsADirectoryError:
        raise ImageReadError(path, "this is a folder, not an image file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied: this user may not read the file") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError:  # only past twice our limit; the header size is not known here
        limit = Image.MAX_IMAGE_PIXELS / 1e6  # Pillow refuses above twice its limit, which is ours
        raise ImageReadError(path, f"the header claims more than {2 * limit:g} megapixels; CrowdGUI opens "
                                   f"images of at most {MAX_PIXELS / 1e6:g} megapixels (a damaged header or a decompression "
                                   "bomb)") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot open: {exc}") from None
    try:
        _check_size(path, image)
    except ImageReadError:
        image.close()
        raise
    return image


def _check_size(path: Path, image: Image.Image) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"the header claims an empty image ({width} x {height} pixels)")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            path, f"the image is {width} x {height} pixels ({width * height / 1e6:,.0f} megapixels); CrowdGUI "
                  f"opens images of at most {MAX_PIXELS / 1e6:g} megapixels (decoding needs about 7 bytes "
                  "per pixel). Cut it into tiles or scale it down first (or the header is damaged)")


def _orientation(image: Image.Image) -> int:
    try:
        orientation = int(image.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make the image unreadable
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    if _orientation(image) in (5, 6, 7, 8):  # rotated by 90 or 270 degrees
        width, height = height, width
    return width, height


# ------------------------------------------------------------------------------ cut-short files
def _jpeg_scan_start(handle) -> int | None:
    """Offset of the first start-of-scan (SOS) marker, found by walking the segments; None if malformed."""
    handle.seek(0)
    if handle.read(2) != b"\xff\xd8":
        return None
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        while marker[1] == 0xFF:  # fill bytes before a marker
            byte = handle.read(1)
            if not byte:
                return None
            marker = marker[1:] + byte
        if marker[1] == 0xDA:
            return handle.tell() - 2
        if 0xD0 <= marker[1] <= 0xD7 or marker[1] == 0x01:  # markers without a length
            continue
        length = handle.read(2)
        if len(length) < 2:
            return None
        handle.seek(int.from_bytes(length, "big") - 2, 1)


def _jpeg_is_complete(handle, size: int) -> bool:
    """True when an end-of-image marker follows the image data (FF D9 cannot occur inside scan data)."""
    scan = _jpeg_scan_start(handle)
    if scan is None:
        return False
    tail_start = max(scan, size - 4096)
    handle.seek(tail_start)
    if b"\xff\xd9" in handle.read():
        return True
    # Rare: data appended after the image (a phone's motion-photo video, a vendor trailer). Walk it once.
    handle.seek(scan)
    previous = b""
    while True:
        chunk = handle.read(1 << 20)
        if not chunk:
            return False
        if b"\xff\xd9" in previous + chunk:
            return True
        previous = chunk[-1:]


def _png_is_complete(handle, size: int) -> bool:
    handle.seek(max(0, size - 4096))
    return _PNG_END in handle.read()  # IEND is the last chunk; a few stray bytes after it are tolerated


def _check_complete(path: Path, image: Image.Image) -> None:
    checks = {"JPEG": _jpeg_is_complete, "MPO": _jpeg_is_complete, "PNG": _png_is_complete}
    check = checks.get(image.format or "")
    if check is None:
        return
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        complete = check(handle, size)
    if not complete:
        raise ImageReadError(path, f"the {image.format} file is truncated (it ends before its image data "
                                   "does; it was probably cut short while being copied or downloaded)")


def image_size(path: Path | str) -> tuple[int, int]:
    """(width, height) as displayed, from the header, after checking the file is not cut short (fast)."""
    path = Path(path)
    with _open(path) as image:
        _check_complete(path, image)
        return _oriented_size(image)


# --------------------------------------------------------------------------------------- pixels
def _range(image: Image.Image) -> tuple[float, float, bool]:
    """(lowest, highest, is_float) of a high-bit-depth or float image, for scaling it into 0..255."""
    lo, hi = image.getextrema()
    return float(lo), float(hi), image.mode == "F"


def _to_uint8(array: np.ndarray, lo: float, hi: float, is_float: bool) -> np.ndarray:
    """Scale high-bit-depth or float pixels into 0..255 for display and for the networks.

    ``lo``/``hi`` are the whole image's extremes (the image is converted band by band).
    """
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros(array.shape, dtype=np.uint8)
    array = array.astype(np.float32)
    if lo >= 0 and hi <= 255 and is_float and hi > 1.0:
        scaled = array
    else:
        scaled = (array - lo) * (255.0 / (hi - lo))
    return np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)


def _band_to_rgb(band: Image.Image, scale: tuple[float, float, bool] | None) -> np.ndarray:
    """One band of rows of the stored image -> (rows, W, 3) uint8."""
    if scale is not None:
        array = _to_uint8(np.asarray(band), *scale)
    elif band.mode in ("RGB", "L"):
        array = np.asarray(band)
    elif band.mode == "1":
        array = np.asarray(band.convert("L"))
    else:  # RGBA, LA, P, CMYK, YCbCr, LAB ...: Pillow's conversion (alpha dropped, CMYK to RGB)
        array = np.asarray(band.convert("RGB"))
    if array.ndim == 2:
        array = array[:, :, None]
    return array[:, :, :3] if array.shape[2] >= 3 else array


# What Pillow must do to a stored band to turn it as the EXIF orientation says (as ImageOps.exif_transpose).
_TURN = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
         5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}


def _bands(width: int, height: int, orientation: int, lines: int):
    """(box of the stored image, first and end displayed row) for each band, covering the whole image.

    Orientations 5-8 swap the axes: their bands are columns of the stored image, which become whole rows of
    the displayed one, so every band is written into one contiguous block of the result.
    """
    swapped = orientation in (5, 6, 7, 8)
    extent = width if swapped else height  # stored columns (swapped) or rows, = displayed rows
    reversed_rows = orientation in (3, 4, 7, 8)  # displayed rows run against the stored ones
    for start in range(0, extent, lines):
        end = min(extent, start + lines)
        box = (start, 0, end, height) if swapped else (0, start, width, end)
        yield box, *((extent - end, extent - start) if reversed_rows else (start, end))


def read_image(path: Path | str) -> np.ndarray:
    """Decode an image into an (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Grey images are repeated into three channels, alpha is dropped, CMYK is converted, 16-bit and float
    images are scaled to their own range. Pixels are converted and oriented band by band straight into the
    returned array, so memory holds Pillow's decoded image and that array, never a third full copy.
    Raises ImageReadError with a plain-words reason for anything unreadable.
    """
    path = Path(path)
    image = _open(path)
    width, height = image.size
    with _decoding(path, image):
        orientation = _orientation(image)
        image.load()
        scale = _range(image) if image.mode.startswith(("I", "F")) else None
        shape = (width, height, 3) if orientation in (5, 6, 7, 8) else (height, width, 3)
        out = np.empty(shape, dtype=np.uint8)
        lines = max(1, _STRIP_BYTES // (4 * (height if orientation in (5, 6, 7, 8) else width)))
        for box, first, end in _bands(width, height, orientation, lines):
            band = image.crop(box)
            if orientation in _TURN:
                band = band.transpose(_TURN[orientation])
            out[first:end] = _band_to_rgb(band, scale)  # broadcasts grey to RGB
    return out


@contextmanager
def _decoding(path: Path, image: Image.Image):
    """Close ``image`` at the end and turn decoding failures into ImageReadError in plain words."""
    width, height = image.size
    try:
        with image:
            yield
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(path, f"not enough memory to decode this {width} x {height} image") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or damaged pixel data
        reason = str(exc)
        if "truncated" in reason:
            raise ImageReadError(path, f"damaged image data: the file is truncated ({reason})") from None
        raise ImageReadError(path, f"damaged image data ({reason})") from None


def read_thumbnail(path: Path | str, size: int) -> np.ndarray:
    """A small (h, w, 3) uint8 RGB picture of the image, at most ``size`` x ``size``, as read_image shows it.

    The same rules as read_image (EXIF orientation applied; 16-bit and float scaled to the whole image's own
    range, where Pillow's plain RGB conversion would clip them to white; the same size limit), but JPEGs are
    decoded at a reduced scale, so a big photo costs little. Raises ImageReadError like read_image.
    """
    path = Path(path)
    image = _open(path)
    with _decoding(path, image):
        orientation = _orientation(image)
        image.draft("RGB", (size * 2, size * 2))  # JPEG only: decode at 1/2..1/8 scale
        image.load()
        scale = _range(image) if image.mode.startswith(("I", "F")) else None
        small = image.convert("I") if image.mode.startswith("I;") else image  # Pillow cannot resize I;16
        small.thumbnail((size, size))  # in place
        if orientation in _TURN:
            small = small.transpose(_TURN[orientation])
        return np.ascontiguousarray(np.broadcast_to(_band_to_rgb(small, scale), (small.height, small.width, 3)))
