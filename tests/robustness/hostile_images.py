"""Test helpers: a folder of hostile and unusual image files, each with what reading it must give.

``write_image_cases(folder)`` writes every case and returns a list of :class:`ImageCase`: its file name, the
(width, height) it has as displayed when it must open, or the words its error message must contain when it
must be refused. Imported by the robustness tests after they put this folder on sys.path.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# The EXIF orientation tag, and what each value does to a W x H stored image (displayed size).
ORIENTATION = 0x0112
ROTATED = (5, 6, 7, 8)  # these swap width and height


@dataclass
class ImageCase:
    name: str
    size: tuple[int, int] | None = None  # (width, height) as displayed, when the file must open
    error: str | None = None  # words the plain-words reason must contain, when the file must be refused
    detected_at_scan: bool = False  # refused already by the header/tail check of a folder scan

    @property
    def good(self) -> bool:
        return self.error is None


def gradient_rgb(width: int, height: int) -> np.ndarray:
    """A smooth, asymmetric RGB image: every orientation of it is different."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1),
                     (x + 2 * y) % 256], axis=2).astype(np.uint8)


def jpeg_bytes(array: np.ndarray, orientation: int | None = None, **options) -> bytes:
    image = Image.fromarray(array)
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` grey pixels (a decompression bomb's header)."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    data = png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
    return b"\x89PNG\r\n\x1a\n" + header + data + png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is patched to claim ``width`` x ``height`` pixels."""
    data = bytearray(jpeg_bytes(gradient_rgb(16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def write_image_cases(folder: Path) -> list[ImageCase]:
    """Write every case into ``folder`` (created); returns them in file-name order."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[ImageCase] = []
    rgb = gradient_rgb(40, 30)

    def add(name: str, data: bytes | None = None, **expected) -> None:
        if data is not None:
            (folder / name).write_bytes(data)
        cases.append(ImageCase(name, **expected))

    # Refused: nothing, too little, not an image, too big.
    add("bad_empty.jpg", b"", error="empty", detected_at_scan=True)
    whole_jpeg = jpeg_bytes(gradient_rgb(64, 48))
    add("bad_truncated.jpg", whole_jpeg[:len(whole_jpeg) * 2 // 3], error="truncated", detected_at_scan=True)
    buffer = io.BytesIO()
    Image.fromarray(gradient_rgb(64, 48)).save(buffer, "PNG")
    whole_png = buffer.getvalue()
    add("bad_truncated.png", whole_png[:len(whole_png) * 2 // 3], error="truncated", detected_at_scan=True)
    corrupt = bytearray(jpeg_bytes(gradient_rgb(256, 192)))
    scan = corrupt.index(b"\xff\xda")
    corrupt[scan + 400:scan + 460] = b"\xc4\xff" * 30  # markers in the middle of the image data
    add("bad_corrupt.jpg", bytes(corrupt), error="damaged image data")  # whole file: found only by decoding
    add("bad_text.png", b"this is a shopping list, not a picture\n" * 20, error="not a readable image",
        detected_at_scan=True)
    add("bad_bomb.png", png_claiming(100_000, 100_000), error="megapixels", detected_at_scan=True)
    add("bad_bomb.jpg", jpeg_claiming(60_000, 60_000), error="megapixels", detected_at_scan=True)

    # Opened: bit depths, channels, colour spaces.
    grey16 = (np.arange(30 * 40, dtype=np.uint32).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(grey16).save(folder / "deep16.png")  # mode I;16
    add("deep16.png", size=(40, 30))
    Image.fromarray(grey16).save(folder / "deep16.tif")
    add("deep16.tif", size=(40, 30))
    Image.fromarray(rgb[:, :, 0]).save(folder / "grey.png")
    add("grey.png", size=(40, 30))
    Image.fromarray(np.dstack([rgb, np.full((30, 40), 128, np.uint8)])).save(folder / "rgba.png")
    add("rgba.png", size=(40, 30))
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg", quality=90)
    add("cmyk.jpg", size=(40, 30))
    Image.fromarray(rgb).convert("P").save(folder / "palette.png")
    add("palette.png", size=(40, 30))
    # Every EXIF orientation of a 40 x 30 stored image.
    for orientation in range(1, 9):
        name = f"exif_{orientation}.jpg"
        add(name, jpeg_bytes(rgb, orientation), size=(30, 40) if orientation in ROTATED else (40, 30))
    return sorted(cases, key=lambda case: case.name)


def expected_orientation(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for a stored (H, W, C) image with this EXIF orientation (the EXIF 2.3 table)."""
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a.transpose(1, 0, 2), 2),  # transverse: mirrored along the anti-diagonal
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(transforms[orientation](stored))
