"""Points in MATLAB .mat files: ShanghaiTech's ``image_info`` and UCF-QNRF / NWPU-Crowd's ``annPoints``.

Both MATLAB file generations are read: v5-v7 files with scipy.io, v7.3 files (HDF5 inside) with h5py.

``image_info`` (ShanghaiTech) is a 1x1 cell holding a 1x1 struct with fields ``location`` (N x 2 double, x
then y) and ``number`` (N, stored as the smallest unsigned integer class that holds it), so that
``scipy.io.loadmat(p)["image_info"][0, 0][0, 0][0]`` is the (N, 2) array. ``annPoints`` is a plain N x 2
double array. Coordinates are taken as they are stored (see engine/dataset/formats/__init__.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from engine.dataset.formats.common import AnnotationError, point_array
from engine.dataset.sidecar import atomic_write_bytes

# Variables holding points, in the order they are looked for.
POINT_VARIABLES = ("image_info", "annPoints", "location", "points")


def read_mat_points(path: Path | str, notes: list[str] | None = None) -> np.ndarray:
    """The (N, 2) float64 x, y points of a .mat file holding ``image_info`` or ``annPoints``.

    Raises AnnotationError with a plain-words reason for a file that is not a readable MATLAB file or
    holds none of the known variables. ``notes`` receives remarks, such as a ``number`` field that
    disagrees with the number of points (the points are what is imported).
    """
    path = Path(path)
    notes = notes if notes is not None else []
    try:
        import h5py

        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc}") from None
    if is_hdf5:
        return _read_v73(path, notes)
    return _read_v5(path, notes)


def _read_v5(path: Path, notes: list[str]) -> np.ndarray:
    import scipy.io

    try:
        contents = scipy.io.loadmat(path, variable_names=POINT_VARIABLES)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError... for damaged files
        raise AnnotationError(f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    if "image_info" in contents:
        return _from_image_info(contents["image_info"], notes)
    for name in POINT_VARIABLES[1:]:
        if name in contents:
            return point_array(contents[name], f"'{name}'", notes)
    raise AnnotationError(_missing_message(path))


def _from_image_info(info: np.ndarray, notes: list[str]) -> np.ndarray:
    # Unwrap the cell (object array) layers down to the struct, whatever their depth.
    while isinstance(info, np.ndarray) and info.dtype == object and info.size:
        info = info.flat[0]
    if not isinstance(info, np.ndarray) or info.dtype.names is None or "location" not in info.dtype.names:
        raise AnnotationError("'image_info' has no 'location' field")
    points = point_array(_unwrap(info["location"].flat[0]), "image_info.location", notes)
    if "number" in info.dtype.names:
        number = _unwrap(info["number"].flat[0])
        try:
            stated = int(np.asarray(number, dtype=np.float64).ravel()[0])
        except (TypeError, ValueError, IndexError):
            stated = None
        if stated is not None and stated != len(points):
            notes.append(f"image_info.number says {stated} but the file holds {len(points)} points; "
                         f"the {len(points)} points were imported")
    return points


def _unwrap(value):
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _read_v73(path: Path, notes: list[str]) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if "image_info" in handle:
                return _v73_image_info(handle, handle["image_info"], notes)
            for name in POINT_VARIABLES[1:]:
                if name in handle and isinstance(handle[name], h5py.Dataset):
                    return point_array(_v73_matrix(handle[name]), f"'{name}'", notes)
    except AnnotationError:
        raise
    except Exception as exc:
        raise AnnotationError(f"not a readable MATLAB v7.3 file ({type(exc).__name__}: {exc})") from None
    raise AnnotationError(_missing_message(path))


def _v73_matrix(dataset) -> np.ndarray:
    # MATLAB stores column-major, so an N x 2 matrix appears as 2 x N; empty matrices are stored as their
    # dimensions with a MATLAB_empty attribute.
    if dataset.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 2))
    return np.asarray(dataset[()], dtype=np.float64).T


def _v73_image_info(handle, node, notes: list[str]) -> np.ndarray:
    import h5py

    # A cell is a dataset of object references; follow the first one until we reach the struct (a group).
    for _ in range(4):
        if isinstance(node, h5py.Group):
            break
        if node.dtype != h5py.ref_dtype or node.size == 0:
            raise AnnotationError("'image_info' is not a cell holding a struct")
        node = handle[node[()].flat[0]]
    if not isinstance(node, h5py.Group) or "location" not in node:
        raise AnnotationError("'image_info' has no 'location' field")
    points = point_array(_v73_matrix(node["location"]), "image_info.location", notes)
    if "number" in node and not node["number"].attrs.get("MATLAB_empty", 0):
        stated = int(np.asarray(node["number"][()]).ravel()[0])
        if stated != len(points):
            notes.append(f"image_info.number says {stated} but the file holds {len(points)} points; "
                         f"the {len(points)} points were imported")
    return points


def _missing_message(path: Path) -> str:
    try:
        import scipy.io

        found = [name for name, *_ in scipy.io.whosmat(path)]
    except Exception:
        found = []
    shown = ", ".join(found) if found else "none"
    return f"holds none of the point variables {', '.join(POINT_VARIABLES)} (variables found: {shown})"


def _count_class(count: int):
    # The original ShanghaiTech files store ``number`` as the smallest unsigned integer class that holds it
    # (uint8 for 233 points, uint16 for 283); MATLAB scripts that read it get the same class back.
    for dtype in (np.uint8, np.uint16, np.uint32):
        if count <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def image_info_bytes(points: np.ndarray) -> bytes:
    """A MATLAB v5 file holding ShanghaiTech's ``image_info`` cell for these (N, 2) x, y points."""
    import scipy.io

    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    struct = np.zeros((1, 1), dtype=[("location", object), ("number", object)])
    struct[0, 0]["location"] = points
    struct[0, 0]["number"] = np.array([[len(points)]], dtype=_count_class(len(points)))
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = struct
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"image_info": cell}, format="5", oned_as="column")
    return buffer.getvalue()


def write_image_info_mat(path: Path | str, points: np.ndarray) -> None:
    """Write a ShanghaiTech-style ``GT_*.mat`` atomically (readable by scipy.io.loadmat and by MATLAB)."""
    atomic_write_bytes(path, image_info_bytes(points))
