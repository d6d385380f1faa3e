"""The preview worker: debounced, threaded, count-exact maps, stale results dropped; robust colour levels."""

import threading

import numpy as np
import pytest

from crowdgui.density.colormaps import COLORMAPS, LUT_SIZE, overlay_lut, scale_for_mode, scale_positions
from crowdgui.density.preview import (
    DensityPreview,
    PreviewRequest,
    compute_preview,
    preview_stride,
    robust_max,
)
from engine.density import DensitySettings


def test_compute_preview_sums_to_count_and_levels_are_robust():
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(0, 200, 50), rng.uniform(0, 100, 50)])
    result = compute_preview(PreviewRequest(points, (100, 200), DensitySettings(sigma=3.0)), generation=7)
    assert result.generation == 7 and result.stride == 1 and result.density.shape == (100, 200)
    assert result.integral == pytest.approx(50, abs=1e-3) and result.count == 50
    low, high = result.levels
    assert low == 0.0 and 0 < high <= result.density.max()


def test_robust_max_ignores_empty_pixels_and_a_few_peaks():
    # One lone point on a big image: most pixels are zero, yet the scale must reach the kernel's peak region.
    single = compute_preview(PreviewRequest(np.array([[500.0, 400.0]]), (768, 1024), DensitySettings()))
    assert single.levels[1] > 0.5 * single.density.max()
    # A smooth field plus a handful of huge spikes: the spikes must not set the top of the scale.
    field = np.full((300, 300), 1.0, dtype=np.float32)
    field[:2, :2] = 1000.0
    assert robust_max(field) == pytest.approx(1.0)
    assert robust_max(np.zeros((10, 10), dtype=np.float32)) == 1.0


def test_large_images_are_previewed_at_a_stride_without_losing_count():
    assert preview_stride((768, 1024)) == 1
    stride = preview_stride((4000, 6000))
    assert stride > 1 and -(-4000 // stride) * -(-6000 // stride) <= 2_000_000
    points = np.array([[10.0, 10.0], [5999.0, 3999.0], [3000.0, 2000.0]])
    result = compute_preview(PreviewRequest(points, (4000, 6000), DensitySettings()))
    assert result.stride == stride and result.integral == pytest.approx(3, abs=1e-4)


def test_overlay_lut_is_clear_at_zero_and_opaque_at_the_top():
    for name in COLORMAPS:
        for scale in ("linear", "sqrt", "log"):
            lut = overlay_lut(name, scale)
            assert lut.shape == (LUT_SIZE, 4) and lut.dtype == np.uint8
            assert lut[0, 3] == 0 and lut[-1, 3] == 255
            assert np.all(np.diff(lut[:, 3].astype(int)) >= 0)


def test_bent_scales_give_faint_density_more_colour():
    linear, sqrt, log = (scale_positions(s) for s in ("linear", "sqrt", "log"))
    assert linear[0] == sqrt[0] == log[0] == 0 and linear[-1] == sqrt[-1] == log[-1] == pytest.approx(1)
    faint = LUT_SIZE // 100  # one hundredth of the top of the scale
    assert linear[faint] < sqrt[faint] < log[faint]
    assert scale_for_mode("auto", "adaptive") == "log" and scale_for_mode("auto", "fixed") == "sqrt"
    assert scale_for_mode("linear", "adaptive") == "linear"


def test_requests_are_debounced_into_one_map(qtbot):
    preview = DensityPreview(debounce_ms=50)
    calls = []

    def counting_compute(request, generation):
        calls.append(len(request.points))
        return compute_preview(request, generation)

    preview.compute = counting_compute
    with qtbot.waitSignal(preview.map_ready, timeout=3000) as blocker:
        for n in range(1, 6):
            preview.request(np.full((n, 2), 20.0), (64, 64), DensitySettings())
    result = blocker.args[0]
    assert calls == [5]
    assert result.count == 5 and result.integral == pytest.approx(5, abs=1e-4)
    preview.wait()


def _held_preview(hold_count):
    """A preview whose computation of a map with ``hold_count`` points waits until released."""
    release, started, computed = threading.Event(), threading.Event(), []

    def held_compute(request, generation):
        computed.append(len(request.points))
        if len(request.points) == hold_count:
            started.set()
            assert release.wait(5)
        return compute_preview(request, generation)

    preview = DensityPreview(debounce_ms=10_000, compute=held_compute)
    received = []
    preview.map_ready.connect(received.append)
    return preview, release, started, computed, received


def _submit(preview, count):
    preview.request(np.full((count, 2), 10.0 + count), (64, 64), DensitySettings())
    preview.flush()


def test_superseded_queued_jobs_are_skipped_and_maps_arrive_in_order(qtbot):
    """Jobs queued behind a slow one are skipped when a newer one exists; the slow map, one edit behind, is
    still shown (the overlay must not freeze while the user keeps clicking), then the newest."""
    preview, release, started, computed, received = _held_preview(hold_count=1)
    _submit(preview, 1)
    assert started.wait(5)  # the first map is being computed and held
    _submit(preview, 2)  # queued behind the held one ...
    _submit(preview, 3)  # ... and superseded by this one before it starts
    release.set()
    qtbot.waitUntil(lambda: len(received) == 2, timeout=3000)
    preview.wait()
    qtbot.wait(50)
    assert [r.count for r in received] == [1, 3]
    assert computed == [1, 3]  # the 2-point job was skipped
    assert received[-1].generation == preview.generation


def test_a_map_from_before_clear_is_dropped(qtbot):
    """The image changed (clear) while its map was computed: that map never reaches the screen."""
    preview, release, started, computed, received = _held_preview(hold_count=1)
    _submit(preview, 1)
    assert started.wait(5)
    preview.clear()  # another image is shown
    _submit(preview, 4)  # the new image's points
    release.set()
    qtbot.waitUntil(lambda: len(received) >= 1, timeout=3000)
    preview.wait()
    qtbot.wait(50)  # let a wrongly delivered stale map arrive, so that it would show up here
    assert [r.count for r in received] == [4]
    assert computed == [1, 4]


def test_clear_drops_the_running_map(qtbot):
    preview = DensityPreview(debounce_ms=0)
    received = []
    preview.map_ready.connect(received.append)
    preview.request(np.array([[5.0, 5.0]]), (32, 32), DensitySettings())
    preview.flush()
    preview.clear()
    preview.wait()
    qtbot.wait(50)
    assert received == []


def test_a_failing_map_reports_a_message(qtbot):
    def broken(request, generation):
        raise ValueError("shape must not be negative")

    preview = DensityPreview(debounce_ms=0, compute=broken)
    with qtbot.waitSignal(preview.failed, timeout=3000) as blocker:
        preview.request(np.zeros((1, 2)), (8, 8), DensitySettings())
    assert "shape must not be negative" in blocker.args[0]
    preview.wait()


def test_the_preview_map_is_zero_inside_ignore_regions_and_says_how_much_it_left_out():
    from engine.dataset.regions import rectangle

    points = np.array([[10.5, 10.5], [50.5, 30.5], [90.5, 50.5]])
    regions = (rectangle("ignore", 40, 20, 64, 44), rectangle("roi", 0, 0, 30, 30))
    result = compute_preview(PreviewRequest(points, (64, 100), DensitySettings(sigma=2.0), regions))
    assert np.all(result.density[20:44, 40:64] == 0)
    assert result.density[10, 10] > 0  # a roi region does not blank anything
    assert result.integral == pytest.approx(2.0, abs=1e-3)
    assert result.ignored == pytest.approx(1.0, abs=1e-3)
