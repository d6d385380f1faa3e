"""engine.density: count-exact density maps, fixed and adaptive sigma, sum-pooled strides."""

import math

import numpy as np
import pytest

from engine.density import (
    MAX_SIGMA,
    MIN_SIGMA,
    TRUNCATE,
    DensitySettings,
    density_map,
    point_sigmas,
    sum_pool,
)

STRIDES = (1, 2, 4, 8)
FIXED = DensitySettings(mode="fixed", sigma=4.0)
ADAPTIVE = DensitySettings(mode="adaptive", sigma=4.0, beta=0.3, k=3)


def _random_points(count, height, width, seed=0, margin=0.0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-margin, width + margin, count),
                            rng.uniform(-margin, height + margin, count)])


def _inside_count(points, height, width):
    x, y = points[:, 0], points[:, 1]
    return int(np.sum((x >= 0) & (x < width) & (y >= 0) & (y < height)))


def _assert_count(density, expected):
    total = float(density.sum(dtype=np.float64))
    assert abs(total - expected) <= 1e-4 * max(expected, 1), (total, expected)


# ------------------------------------------------------------------------------------------- counts
@pytest.mark.parametrize("settings", [FIXED, ADAPTIVE], ids=["fixed", "adaptive"])
@pytest.mark.parametrize("stride", STRIDES)
def test_sum_equals_count_at_every_stride(settings, stride):
    height, width = 77, 101  # not multiples of any stride: the last blocks are partial
    points = _random_points(400, height, width, seed=stride)
    density = density_map(points, (height, width), settings, stride=stride)
    assert density.dtype == np.float32
    assert density.shape == (math.ceil(height / stride), math.ceil(width / stride))
    _assert_count(density, 400)


@pytest.mark.parametrize("settings", [FIXED, ADAPTIVE], ids=["fixed", "adaptive"])
def test_many_points_stay_count_exact(settings):
    points = _random_points(3000, 240, 320, seed=7)
    for stride in STRIDES:
        _assert_count(density_map(points, (240, 320), settings, stride=stride), 3000)


@pytest.mark.parametrize("stride", STRIDES)
def test_points_on_and_near_the_border_keep_their_full_mass(stride):
    height, width = 50, 60
    eps = 1e-9
    border = np.array([
        [0.0, 0.0], [width - eps, 0.0], [0.0, height - eps], [width - eps, height - eps],  # corners
        [0.0, 25.0], [width - eps, 25.0], [30.0, 0.0], [30.0, height - eps],  # edges
        [0.3, 0.7], [59.6, 49.2], [1.5, 48.5],  # just inside
    ])
    settings = DensitySettings(sigma=8.0)  # wide kernels: most of each one would fall off the image
    for point in border:
        _assert_count(density_map(point[None], (height, width), settings, stride=stride), 1)
    _assert_count(density_map(border, (height, width), settings, stride=stride), len(border))


def test_coincident_points_add_up():
    single = density_map([[20.3, 11.8]], (40, 40), FIXED)
    five = density_map([[20.3, 11.8]] * 5, (40, 40), FIXED)
    np.testing.assert_allclose(five, 5 * single, rtol=1e-5, atol=1e-7)
    _assert_count(five, 5)
    for stride in STRIDES:
        _assert_count(density_map([[20.3, 11.8]] * 5, (40, 40), ADAPTIVE, stride=stride), 5)


@pytest.mark.parametrize("stride", STRIDES)
def test_no_points_gives_zeros(stride):
    for points in (np.zeros((0, 2)), [], np.zeros((0,))):
        density = density_map(points, (30, 45), ADAPTIVE, stride=stride)
        assert density.shape == (math.ceil(30 / stride), math.ceil(45 / stride))
        assert density.dtype == np.float32
        assert not density.any()


def test_points_outside_the_image_are_ignored():
    height, width = 40, 50
    points = _random_points(300, height, width, seed=3, margin=15.0)
    points = np.vstack([points, [[width, 10.0], [10.0, height], [-1e-9, 5.0], [np.nan, 3.0], [4.0, np.inf]]])
    inside = _inside_count(points, height, width)
    assert 0 < inside < len(points) - 5
    for settings in (FIXED, ADAPTIVE):
        for stride in STRIDES:
            _assert_count(density_map(points, (height, width), settings, stride=stride), inside)


def test_stride_equals_sum_pooling_the_full_map():
    points = _random_points(150, 61, 83, seed=11, margin=2.0)
    for settings in (FIXED, ADAPTIVE):
        full = density_map(points, (61, 83), settings)
        for stride in STRIDES[1:]:
            direct = density_map(points, (61, 83), settings, stride=stride)
            np.testing.assert_allclose(direct, sum_pool(full, stride), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------- shape
@pytest.mark.parametrize("x, y, sigma", [(40.5, 30.5, 3.0), (40.27, 30.81, 2.0), (41.93, 29.04, 4.5),
                                          (40.0, 30.0, 1.0)])
def test_centre_of_mass_is_the_point(x, y, sigma):
    density = density_map([[x, y]], (64, 80), DensitySettings(sigma=sigma)).astype(np.float64)
    rows, cols = np.mgrid[0:64, 0:80]
    # Pixel (r, c) has its centre at (c + 0.5, r + 0.5).
    assert abs((density * (cols + 0.5)).sum() - x) < 1e-3
    assert abs((density * (rows + 0.5)).sum() - y) < 1e-3


def test_stamp_is_the_gaussian_integrated_over_each_pixel():
    # Independent check: average a finely sampled Gaussian over each pixel (16 x 16 samples), cut at
    # TRUNCATE sigma on each axis, normalised to 1.
    x, y, sigma = 20.37, 17.82, 2.5
    density = density_map([[x, y]], (36, 40), DensitySettings(sigma=sigma)).astype(np.float64)
    sub = 16
    xs = (np.arange(40 * sub) + 0.5) / sub
    ys = (np.arange(36 * sub) + 0.5) / sub
    gx = np.exp(-((xs - x) ** 2) / (2 * sigma**2)) * (np.abs(xs - x) <= TRUNCATE * sigma)
    gy = np.exp(-((ys - y) ** 2) / (2 * sigma**2)) * (np.abs(ys - y) <= TRUNCATE * sigma)
    fine = np.outer(gy, gx)
    expected = fine.reshape(36, sub, 40, sub).sum(axis=(1, 3))
    expected /= expected.sum()
    assert np.abs(density - expected).max() < 2e-3 * expected.max()


def test_wider_sigma_spreads_the_mass():
    narrow = density_map([[30.5, 30.5]], (61, 61), DensitySettings(sigma=1.5))
    wide = density_map([[30.5, 30.5]], (61, 61), DensitySettings(sigma=6.0))
    assert narrow.max() > 4 * wide.max()
    rows, cols = np.mgrid[0:61, 0:61]
    spread = float((wide * ((cols + 0.5 - 30.5) ** 2 + (rows + 0.5 - 30.5) ** 2)).sum())
    # Variance of a 3-sigma-truncated Gaussian per axis is ~0.973 sigma^2, plus 1/12 for pixel centres.
    assert spread == pytest.approx(2 * (0.9733 * 36 + 1 / 12), rel=2e-3)


# ------------------------------------------------------------------------------------------- sigmas
def _grid(rows, cols, spacing, origin=(20.5, 10.5)):
    ys, xs = np.mgrid[0:rows, 0:cols]
    points = np.column_stack([origin[0] + spacing * xs.ravel(), origin[1] + spacing * ys.ravel()])
    return points, xs.ravel(), ys.ravel()


def test_adaptive_sigma_on_a_square_grid():
    spacing = 10.0
    points, col, row = _grid(6, 6, spacing)
    corner = ((col == 0) | (col == 5)) & ((row == 0) | (row == 5))
    edge = ((col == 0) | (col == 5) | (row == 0) | (row == 5)) & ~corner
    interior = ~(corner | edge)

    sigmas = point_sigmas(points, DensitySettings(mode="adaptive", beta=0.3, k=3))
    # Interior: 4 neighbours at d, the 3 nearest are all at d. Edge: exactly 3 at d.
    np.testing.assert_allclose(sigmas[interior | edge], 0.3 * spacing)
    # Corner: 2 at d, then the diagonal at d*sqrt(2) (nearer than 2d).
    np.testing.assert_allclose(sigmas[corner], 0.3 * spacing * (2 + math.sqrt(2)) / 3)

    sigmas4 = point_sigmas(points, DensitySettings(mode="adaptive", beta=0.5, k=4))
    np.testing.assert_allclose(sigmas4[interior], 0.5 * spacing)
    np.testing.assert_allclose(sigmas4[edge], 0.5 * spacing * (3 + math.sqrt(2)) / 4)
    np.testing.assert_allclose(sigmas4[corner], 0.5 * spacing * (2 + math.sqrt(2) + 2) / 4)


def test_adaptive_sigma_with_few_points():
    settings = DensitySettings(mode="adaptive", sigma=5.0, beta=0.3, k=3)
    np.testing.assert_allclose(point_sigmas([[10.0, 10.0]], settings), [5.0])  # lone point: settings.sigma
    # One neighbour at 20 px: fewer than k, so the one there is is used.
    np.testing.assert_allclose(point_sigmas([[10.0, 10.0], [30.0, 10.0]], settings), [6.0, 6.0])
    # Two neighbours at 10 and 20 px.
    np.testing.assert_allclose(point_sigmas([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]], settings)[0], 0.3 * 15)
    assert point_sigmas(np.zeros((0, 2)), settings).shape == (0,)


def test_sigmas_are_clamped():
    adaptive = DensitySettings(mode="adaptive", sigma=5.0, beta=0.3, k=3)
    np.testing.assert_allclose(point_sigmas([[3.0, 3.0]] * 4, adaptive), MIN_SIGMA)  # coincident: distance 0
    far = point_sigmas([[0.0, 0.0], [5000.0, 0.0]], adaptive)
    np.testing.assert_allclose(far, MAX_SIGMA)
    np.testing.assert_allclose(point_sigmas([[1.0, 1.0]], DensitySettings(sigma=1000.0)), MAX_SIGMA)
    np.testing.assert_allclose(point_sigmas([[1.0, 1.0]], DensitySettings(sigma=0.01)), MIN_SIGMA)


def test_fixed_sigma_and_non_finite_points():
    sigmas = point_sigmas([[1.0, 2.0], [np.nan, 3.0], [9.0, 9.0]], DensitySettings(mode="fixed", sigma=2.5))
    np.testing.assert_allclose(sigmas, [2.5, 2.5, 2.5])
    adaptive = point_sigmas([[0.0, 0.0], [np.nan, 0.0], [10.0, 0.0]], DensitySettings(mode="adaptive", k=3))
    np.testing.assert_allclose(adaptive, [3.0, 4.0, 3.0])  # the NaN point is nobody's neighbour


def test_points_outside_still_count_as_neighbours():
    # A crop sees the same adaptive sigmas as the whole image when given all the image's points.
    points, _, _ = _grid(4, 8, 12.0, origin=(-30.0, 6.0))
    inside = (points[:, 0] >= 0) & (points[:, 0] < 40)
    crop = density_map(points, (48, 40), ADAPTIVE)
    own_sigmas = point_sigmas(points, ADAPTIVE)[inside]
    np.testing.assert_allclose(crop, density_map(points[inside], (48, 40), sigmas=own_sigmas), atol=1e-7)


def test_explicit_sigmas_replace_the_settings():
    points = _random_points(50, 40, 40, seed=5)
    sigmas = np.linspace(1.0, 6.0, 50)
    by_sigmas = density_map(points, (40, 40), FIXED, sigmas=sigmas)
    assert not np.allclose(by_sigmas, density_map(points, (40, 40), FIXED))
    _assert_count(by_sigmas, 50)
    with pytest.raises(ValueError, match="sigmas"):
        density_map(points, (40, 40), sigmas=sigmas[:10])


def test_settings_default_and_from_dict():
    points = _random_points(20, 30, 30, seed=2)
    default = density_map(points, (30, 30))
    np.testing.assert_array_equal(default, density_map(points, (30, 30), DensitySettings()))
    settings = DensitySettings.from_dict({"mode": "nonsense", "sigma": -1, "k": 0, "extra": 1})
    assert (settings.mode, settings.sigma, settings.k) == ("fixed", 4.0, 1)


# ---------------------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_in_plain_words():
    with pytest.raises(ValueError, match="points"):
        density_map(np.zeros((3, 3)), (10, 10))
    with pytest.raises(ValueError, match="shape"):
        density_map([[1.0, 1.0]], (10, -1))
    with pytest.raises(ValueError, match="shape"):
        density_map([[1.0, 1.0]], 10)
    with pytest.raises(ValueError, match="stride"):
        density_map([[1.0, 1.0]], (10, 10), stride=0)
    with pytest.raises(ValueError, match="mode"):
        point_sigmas([[1.0, 1.0]], DensitySettings(mode="magic"))


# ---------------------------------------------------------------------------------------- sum_pool
def test_sum_pool_blocks_and_partial_edges():
    array = np.arange(10 * 13, dtype=np.float32).reshape(10, 13)
    pooled = sum_pool(array, 4)
    assert pooled.shape == (3, 4) and pooled.dtype == np.float32
    assert pooled[0, 0] == array[0:4, 0:4].sum()
    assert pooled[2, 3] == array[8:10, 12:13].sum()  # the partial corner block
    assert pooled.sum() == array.sum()
    batch = np.stack([array, 2 * array])[:, None]  # (B, 1, H, W)
    np.testing.assert_array_equal(sum_pool(batch, 4)[1, 0], 2 * pooled)
    assert sum_pool(array, 1) is array
    with pytest.raises(ValueError, match="stride"):
        sum_pool(array, 2.5)


def test_density_settings_are_suggested_from_the_points_spacing_and_perspective():
    from engine.density import suggest_density_settings

    rng = np.random.default_rng(0)
    # Cells: a jittered grid 10 px apart everywhere -> fixed sigma of half the spacing.
    grid = np.stack(np.meshgrid(np.arange(5, 200, 10.0), np.arange(5, 200, 10.0)), -1).reshape(-1, 2)
    cells = [grid + rng.normal(0, 0.3, grid.shape) for _ in range(3)]
    suggestion = suggest_density_settings(cells)
    assert suggestion.settings.mode == "fixed" and suggestion.settings.sigma == pytest.approx(5.0, abs=0.5)
    assert "nearest-neighbour distance" in suggestion.reason
    assert suggestion.headline == f"fixed sigma {suggestion.settings.sigma:g} px"
    # A crowd in perspective: rows get closer together and denser towards the top of the image.
    rows = []
    for y in np.geomspace(20, 700, 25):
        spacing = y / 10
        rows.append(np.stack([np.arange(0, 1000, spacing), np.full(len(np.arange(0, 1000, spacing)), y)], -1))
    crowd = [np.vstack(rows) + rng.normal(0, 0.2, (sum(len(r) for r in rows), 2))]
    suggestion = suggest_density_settings(crowd)
    assert suggestion.settings.mode == "adaptive" and "perspective" in suggestion.reason
    assert suggestion.headline == "adaptive (beta 0.3, k 3)"
    # Too few points to say anything.
    assert suggest_density_settings([np.zeros((3, 2))]) is None


def test_a_dataset_suggests_density_settings_from_its_annotated_images_only(tmp_path):
    from engine.dataset import Dataset
    from engine.dataset.synthetic import write_synthetic_dataset
    from engine.density import suggest_density_settings

    folder = write_synthetic_dataset(tmp_path / "cells", images=4, size=(128, 128), counts=(30, 40), annotate=2)
    dataset = Dataset(folder)
    suggestion = dataset.suggest_density()
    expected = suggest_density_settings([dataset.load_points_inside(e.name) for e in dataset if e.annotated])
    assert suggestion == expected and suggestion.settings.mode == "fixed"
    for entry in dataset:  # no annotated image left: nothing to suggest from
        if entry.annotated:
            entry.sidecar.unlink()
    assert Dataset(folder).suggest_density() is None


def test_import_chooses_density_settings_from_the_imported_points_and_keeps_existing_ones(tmp_path):
    from PIL import Image

    from engine.dataset import Dataset
    from engine.dataset.importers import import_dataset

    source = tmp_path / "src"
    source.mkdir()
    grid = np.stack(np.meshgrid(np.arange(5, 120, 10.0), np.arange(5, 120, 10.0)), -1).reshape(-1, 2)
    for index in range(2):
        Image.new("RGB", (128, 128)).save(source / f"IMG_{index}.png")
        (source / f"IMG_{index}.csv").write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in grid))
    summary = import_dataset(source, tmp_path / "out", "csv")
    settings = Dataset(tmp_path / "out").settings.density
    assert settings.mode == "fixed" and settings.sigma == pytest.approx(5.0)  # half the 10 px spacing
    assert "sigma 5 px" in summary.density
    # A dataset that already has settings keeps them.
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "crowdgui.json").write_text(
        '{"format": "crowdgui-dataset", "version": 1, "density": {"mode": "fixed", "sigma": 2.0}}')
    assert import_dataset(source, tmp_path / "kept", "csv").density is None
    assert Dataset(tmp_path / "kept").settings.density.sigma == 2.0
