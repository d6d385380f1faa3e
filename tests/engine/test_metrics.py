"""Counting and localisation metrics on hand-made cases with known answers."""

import itertools
import math

import numpy as np
import pytest

from engine.metrics import (
    Evaluation,
    LocalizationScore,
    game,
    localization_score,
    mae,
    match_points,
    region_counts_from_density,
    region_counts_from_points,
    rmse,
)


def test_mae_and_rmse():
    assert mae([10, 12, 7], [11, 12, 4]) == pytest.approx(4 / 3)
    assert rmse([10, 12, 7], [11, 12, 4]) == pytest.approx(math.sqrt(10 / 3))
    assert math.isnan(mae([], []))


def test_region_counts_of_a_density_map_at_its_stride():
    # 8x8 image, stride 2: a 4x4 map; level 1 splits it into four 2x2-cell quadrants.
    density = np.arange(16, dtype=np.float32).reshape(4, 4)
    counts = region_counts_from_density(density, 2, (8, 8), 1)
    expected = [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]
    np.testing.assert_allclose(counts, expected)


def test_a_cell_crossed_by_a_region_border_is_shared_by_area():
    # 6x6 image at stride 4: cell 0 covers pixels [0, 4), the level-1 border is at 3 -> 3/4 and 1/4.
    # Cell 1 covers [4, 8), partly outside the image: its mass stays in the last region.
    density = np.array([[1.0, 0.0], [0.0, 2.0]])
    counts = region_counts_from_density(density, 4, (6, 6), 1)
    np.testing.assert_allclose(counts, [[0.5625, 0.1875], [0.1875, 0.0625 + 2.0]])


def test_region_counts_of_points_including_the_border():
    points = [[1, 1], [5, 1], [7.9, 7.9], [8, 8], [3.99, 4.0]]
    counts = region_counts_from_points(points, (8, 8), 1)
    np.testing.assert_array_equal(counts, [[1, 1], [1, 2]])


def test_game_known_values():
    points = [[1, 1], [7, 7]]  # one object in the top-left and one in the bottom-right quadrant
    density = np.array([[2.0, 0.0], [0.0, 0.0]])  # both predicted in the top-left cell (stride 4)
    assert game(density, 4, points, (8, 8), 0) == pytest.approx(0.0)
    assert game(density, 4, points, (8, 8), 1) == pytest.approx(2.0)  # |2 - 1| + |0 - 1|
    density = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert game(density, 4, points, (8, 8), 1) == pytest.approx(0.0)
    # Level 2 splits each 4x4 cell into four 2x2 regions sharing its mass equally: top-left cell holds 1,
    # its quarter (0..2, 0..2) has 0.25 predicted and 1 true; the other 3 quarters 0.25 each, 0 true.
    assert game(density, 4, points, (8, 8), 2) == pytest.approx(2 * (0.75 + 3 * 0.25))


def test_region_counts_always_add_up_to_the_total():
    rng = np.random.default_rng(0)
    density = rng.random((13, 17))
    for level in (0, 1, 2, 3):
        counts = region_counts_from_density(density, 8, (130, 100), level)
        assert counts.shape == (2**level, 2**level)
        assert counts.sum() == pytest.approx(density.sum())


def test_matching_maximises_the_number_of_pairs():
    # Greedy nearest-first would pair P1 with T2 (3.4 apart) and leave both P2 and T1 alone.
    predicted = [[3.6, 0], [10.5, 0]]
    true = [[0, 0], [7, 0]]
    pred_index, true_index = match_points(predicted, true, radius=4)
    assert sorted(zip(pred_index.tolist(), true_index.tolist())) == [(0, 0), (1, 1)]


def test_matching_prefers_the_shortest_total_distance():
    predicted = [[0, 0], [1, 0]]
    true = [[0.9, 0], [0.1, 0]]
    pred_index, true_index = match_points(predicted, true, radius=2)
    assert dict(zip(pred_index.tolist(), true_index.tolist())) == {0: 1, 1: 0}


def test_matching_edge_cases():
    assert len(match_points([], [[1, 1]], 5)[0]) == 0
    assert len(match_points([[0, 0]], [[10, 10]], 5)[0]) == 0
    pred_index, true_index = match_points([[3, 3], [3, 3]], [[3, 3]], 1)  # coincident points do match
    assert len(pred_index) == 1 and true_index.tolist() == [0]


def test_matching_agrees_with_one_global_assignment_on_random_scenes():
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(3)
    for _ in range(20):
        predicted, true = rng.uniform(0, 60, (12, 2)), rng.uniform(0, 60, (10, 2))
        radius = 9.0
        distance = cdist(predicted, true)
        big = distance[distance <= radius].sum() * 2 + radius * 2 + 1
        cost = np.where(distance <= radius, distance, big)
        rows, cols = linear_sum_assignment(cost)
        keep = cost[rows, cols] < big
        pred_index, true_index = match_points(predicted, true, radius)
        assert len(pred_index) == keep.sum()
        assert distance[pred_index, true_index].sum() == pytest.approx(distance[rows[keep], cols[keep]].sum())
        assert len(set(pred_index.tolist())) == len(pred_index) and len(set(true_index.tolist())) == len(true_index)


def test_matching_brute_force_on_tiny_scenes():
    rng = np.random.default_rng(5)
    for _ in range(30):
        predicted, true = rng.uniform(0, 10, (4, 2)), rng.uniform(0, 10, (3, 2))
        radius = 3.0
        best = 0
        for perm in itertools.permutations(range(4), 3):
            best = max(best, sum(np.hypot(*(predicted[p] - true[t])) <= radius for t, p in enumerate(perm)))
        assert len(match_points(predicted, true, radius)[0]) == best


def test_localization_score_values():
    score = localization_score([[0, 0], [20, 20], [40, 40]], [[1, 0], [60, 60]], radius=3)
    assert (score.tp, score.fp, score.fn) == (1, 2, 1)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == pytest.approx(1 / 2)
    assert score.f1 == pytest.approx(2 / 5)
    assert math.isnan(LocalizationScore().precision)


def test_evaluation_summary_micro_averages_localisation():
    evaluation = Evaluation(radius=2.0)
    # Image A: 8x8, stride 4, predicts 3 for 2 annotated; one of two predicted points is right.
    evaluation.add("a", np.array([[3.0, 0.0], [0.0, 0.0]]), 4, [[1, 1], [6, 6]], (8, 8),
                   predicted_points=[[1, 1], [4, 4]])
    # Image B: predicts 1 for 1, found.
    evaluation.add("b", np.array([[0.0, 0.0], [0.0, 1.0]]), 4, [[6, 6]], (8, 8), predicted_points=[[6.5, 6]])
    summary = evaluation.summary()
    assert summary["images"] == 2
    assert summary["mae"] == pytest.approx(0.5)
    assert summary["rmse"] == pytest.approx(math.sqrt(0.5))
    assert summary["game0"] == pytest.approx(0.5)
    assert summary["game1"] == pytest.approx((2 + 1) / 2)  # A: |3-1| + |0-1|; B: 0
    assert (summary["tp"], summary["fp"], summary["fn"]) == (2, 1, 1)
    assert summary["precision"] == pytest.approx(2 / 3) and summary["recall"] == pytest.approx(2 / 3)
    assert evaluation.images[0].error == pytest.approx(1.0)
