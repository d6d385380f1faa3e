"""engine.dataset.regions.polygon_mask: a cell belongs to a polygon exactly when its centre does."""

import numpy as np

from engine.dataset.regions import polygon_mask, rectangle


def test_rectangle_on_pixel_edges_holds_exactly_its_pixels():
    mask = polygon_mask([rectangle("roi", 2, 2, 6, 6).polygon], 8, 8)
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True
    assert np.array_equal(mask, expected)


def test_cells_at_a_stride_follow_their_centres():
    # Cell (r, c) at stride 2 has its centre at (2c + 1, 2r + 1): inside [2, 6] for c, r = 1, 2.
    mask = polygon_mask([rectangle("roi", 2, 2, 6, 6).polygon], 8, 8, stride=2)
    assert mask.astype(int).tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_triangle_matches_a_direct_test_of_every_centre():
    triangle = np.array([[1.0, 1.0], [18.3, 4.7], [6.2, 13.9]])
    mask = polygon_mask([triangle], 20, 15)
    ys, xs = np.mgrid[0:15, 0:20] + 0.5
    (ax, ay), (bx, by), (cx, cy) = triangle

    def side(px, py, qx, qy):
        return (qx - px) * (ys - py) - (qy - py) * (xs - px)

    signs = np.stack([side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)])
    expected = np.all(signs > 0, axis=0) | np.all(signs < 0, axis=0)
    assert np.array_equal(mask, expected) and expected.sum() > 50


def test_union_of_polygons_and_cells_outside_the_image_are_cut():
    mask = polygon_mask([rectangle("roi", -5, -5, 2, 2).polygon, rectangle("roi", 6, 6, 50, 50).polygon], 8, 8)
    assert mask.sum() == 4 + 4 and mask[0, 0] and mask[7, 7] and not mask[3, 3]
