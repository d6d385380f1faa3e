"""The dataset on disk: images, annotation sidecars, importers and exporters (no Qt, no torch)."""

from engine.dataset.images import (
    IMAGE_SUFFIXES,
    ImageReadError,
    image_size,
    is_image_file,
    read_image,
    read_thumbnail,
)
from engine.dataset.sidecar import (
    Annotation,
    SidecarError,
    atomic_write_bytes,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from engine.dataset.store import Dataset, DatasetSettings, ImageEntry

__all__ = [
    "IMAGE_SUFFIXES", "ImageReadError", "image_size", "is_image_file", "read_image", "read_thumbnail",
    "Annotation", "SidecarError", "atomic_write_bytes", "read_sidecar", "sidecar_path", "write_sidecar",
    "Dataset", "DatasetSettings", "ImageEntry",
]
