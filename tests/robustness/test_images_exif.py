"""One orientation everywhere: points refer to the image as displayed (EXIF orientation applied).

A JPEG is stored 48 x 32 with orientation 6 (shown turned a quarter clockwise, 32 x 48) and has red squares;
its sidecar holds the squares' centres in *displayed* pixels, worked out here by turning a label image with
numpy (not with the product's code). The density export, the training crops and counting must all put the
objects where the red squares are; the canvas test lives in test_images_gui.py.
"""

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "engine"))

from count_fixtures import red_counter_checkpoint, red_counter_registered
from hostile_images import expected_orientation

from engine.cli import main
from engine.training.crops import CropSettings, TrainingCrops
from engine.dataset import Dataset, image_size, read_image
from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar
from engine.density import DensitySettings
from engine.counting.infer import count_images
from engine.models.contract import DEFAULT_NORMALIZATION

STORED_W, STORED_H = 48, 32
SQUARES = [(6, 5), (20, 24), (40, 10)]  # stored top-left corners of the 3 x 3 red squares
ORIENTATION = 6


def write_rotated_dataset(folder: Path) -> tuple[Path, np.ndarray]:
    """(image path, displayed points) of one EXIF-rotated red-square JPEG with its sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    stored = np.zeros((STORED_H, STORED_W, 3), np.uint8)
    labels = np.zeros((STORED_H, STORED_W, 1), np.int32)
    for number, (x, y) in enumerate(SQUARES, start=1):
        stored[y:y + 3, x:x + 3, 0] = 255
        labels[y:y + 3, x:x + 3, 0] = number
    shown_labels = expected_orientation(labels, ORIENTATION)[:, :, 0]
    points = []
    for number in range(1, len(SQUARES) + 1):
        rows, columns = np.nonzero(shown_labels == number)
        points.append((columns.mean() + 0.5, rows.mean() + 0.5))  # the centre of the square, as displayed
    exif = Image.Exif()
    exif[0x0112] = ORIENTATION
    path = folder / "turned.jpg"
    Image.fromarray(stored).save(path, quality=100, subsampling=0, exif=exif.tobytes())
    height, width = shown_labels.shape
    points = np.asarray(points)
    write_sidecar(sidecar_path(path), Annotation(path.name, width, height, points))
    return path, points


@pytest.fixture
def rotated(tmp_path):
    return write_rotated_dataset(tmp_path / "turned")


def red_mask(image: np.ndarray) -> np.ndarray:
    return (image[:, :, 0] > 128) & (image[:, :, 1] < 100)


def test_the_reader_and_the_scan_give_the_displayed_size_and_the_points_land_on_red(rotated):
    path, points = rotated
    assert image_size(path) == (STORED_H, STORED_W)
    image = read_image(path)
    assert image.shape == (STORED_W, STORED_H, 3)
    mask = red_mask(image)
    assert all(mask[int(y), int(x)] for x, y in points)
    entry = Dataset(path.parent).entry(path.name)
    assert (entry.width, entry.height) == (STORED_H, STORED_W) and entry.annotated and entry.count == 3


def test_the_density_export_puts_the_mass_on_the_red_squares(rotated, tmp_path):
    path, _ = rotated
    out = tmp_path / "maps.h5"
    assert main(["density", str(path.parent), "--out", str(out), "--mode", "fixed", "--sigma", "1",
                 "--events", "jsonl"]) == 0
    with h5py.File(out) as handle:
        image, density = handle["images"][0], handle["labels"][0][:, :, 0]
    assert image.shape == (STORED_W, STORED_H, 3) and density.shape == (STORED_W, STORED_H)
    near_red = np.pad(red_mask(image), 1)  # the squares grown by one pixel: sigma 1 spills a little
    near_red = near_red[:-2, 1:-1] | near_red[2:, 1:-1] | near_red[1:-1, :-2] | near_red[1:-1, 2:]
    assert density.sum() == pytest.approx(3, abs=1e-4)
    assert density[near_red].sum() / density.sum() > 0.95


def test_training_crops_have_their_targets_on_the_red_squares(rotated):
    path, points = rotated
    stride = 2
    crops = TrainingCrops([path], [points], [(STORED_H, STORED_W)], CropSettings(16, (1.0, 1.0), True), stride,
                          DensitySettings(mode="fixed", sigma=1.0), samples=40, seed=3)
    mean = np.asarray(DEFAULT_NORMALIZATION["mean"])[:, None, None]
    std = np.asarray(DEFAULT_NORMALIZATION["std"])[:, None, None]
    with_objects = 0
    for index in range(len(crops)):
        image, target, count, _, _ = crops[index]
        pixels = ((image.numpy() * std + mean) * 255).transpose(1, 2, 0)
        target = target.numpy()[0]
        red_cells = red_mask(pixels).reshape(8, stride, 8, stride).any(axis=(1, 3))
        if count.item() >= 1 and target.sum() > 0:
            with_objects += 1
            grown = red_cells | np.roll(red_cells, 1, 0) | np.roll(red_cells, -1, 0) | \
                np.roll(red_cells, 1, 1) | np.roll(red_cells, -1, 1)
            assert target[grown].sum() / target.sum() > 0.9, index
    assert with_objects >= 10


def test_counting_returns_a_map_of_the_displayed_shape_with_the_objects_on_the_red_squares(rotated, tmp_path):
    path, points = rotated
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0)
        (result,) = count_images([path], checkpoint, "cpu")
    assert result.ok and (result.width, result.height) == (STORED_H, STORED_W)
    assert result.density.shape == (STORED_W // 4, STORED_H // 4)  # (rows, columns) of the displayed image
    assert result.count == pytest.approx(27, abs=2)  # three 3 x 3 red squares (JPEG rounding)
    cells = {(int(y) // 4, int(x) // 4) for x, y in points}
    near = np.zeros(result.density.shape, bool)
    for row, column in cells:
        near[max(0, row - 1):row + 2, max(0, column - 1):column + 2] = True
    assert result.density[near].sum() / result.density.sum() > 0.98
