"""The compiled rasterizer (synthgen.render.zbuffer): the depth test, the tie rule on
shared edges, the projection mask agreeing with the id map, antialiased colour only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.render import zbuffer

W, H = 48, 32


class Faces:
    """Flat faces for the rasterizer: polygons in pixels with 1/depth per corner."""

    def __init__(self) -> None:
        self.polygons: list[np.ndarray] = []
        self.inverse: list[np.ndarray] = []
        self.colors: list[tuple[float, float, float]] = []
        self.values: list[int] = []
        self.slack: list[float] = []

    def add(self, polygon, depth, color=(200.0, 100.0, 50.0), value=1, slack=0.0):
        polygon = np.asarray(polygon, np.float64)
        depth = np.broadcast_to(np.asarray(depth, np.float64), (len(polygon),))
        self.polygons.append(polygon)
        self.inverse.append(1.0 / depth)
        self.colors.append(color)
        self.values.append(value)
        self.slack.append(slack)

    def arrays(self):
        counts = np.array([len(p) for p in self.polygons], np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return (np.concatenate(self.polygons), np.concatenate(self.inverse), starts, counts)

    def draw(self, order=None, image=None):
        xy, w, starts, counts = self.arrays()
        order = np.arange(len(counts), dtype=np.int64) if order is None else np.asarray(
            order, np.int64)
        image = np.zeros((H, W, 3), np.uint8) if image is None else image
        ids = np.zeros((H, W), np.uint16)
        depth = np.full((H, W), np.inf, np.float32)
        face = np.full((H, W), -1, np.int32)
        zbuffer.draw(xy, w, starts, counts, order, np.array(self.colors, np.float32),
                    np.array(self.values, np.int64), np.array(self.slack), image, ids,
                    depth, face, 0)
        return image, ids, depth, face

    def cover(self, faces, shape=(H, W), offset=(0, 0)):
        xy, _, starts, counts = self.arrays()
        mask = np.zeros(shape, np.uint8)
        added = zbuffer.cover(xy, starts, counts, np.asarray(faces, np.int64), mask, *offset)
        return mask, added


def centres_inside(polygon: np.ndarray) -> np.ndarray:
    """Oracle: pixel centres strictly inside a convex polygon (any winding), by the sign
    of every edge's cross product."""
    y, x = np.mgrid[0:H, 0:W] + 0.5
    signs = []
    for k in range(len(polygon)):
        (x0, y0), (x1, y1) = polygon[k], polygon[(k + 1) % len(polygon)]
        signs.append((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0))
    signs = np.array(signs)
    return (signs > 0).all(axis=0) | (signs < 0).all(axis=0)


def depth_at(polygon: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Oracle: the face's depth at every pixel centre, from the plane of 1/depth."""
    a = np.column_stack([polygon, np.ones(len(polygon))])
    p, q, r = np.linalg.lstsq(a, inverse, rcond=None)[0]
    y, x = np.mgrid[0:H, 0:W] + 0.5
    return 1.0 / (p * x + q * y + r)


# Convex polygons: corners on a circle at sorted angles, centres and radii off the grid.
polygon = st.builds(
    lambda cx, cy, radius, angles: np.column_stack([
        cx + radius * np.cos(np.sort(angles)), cy + radius * np.sin(np.sort(angles))]),
    st.floats(-5.0, W + 5.0), st.floats(-5.0, H + 5.0), st.floats(1.5, 25.0),
    st.lists(st.floats(0.0, 2 * np.pi), min_size=3, max_size=7, unique=True))
# A face's 1/depth at its corners: a plane tilted across the screen, depth 2-60 m.
tilt = st.tuples(st.floats(2.0, 60.0), st.floats(-0.2, 0.2), st.floats(-0.2, 0.2))


def tilted(polygon: np.ndarray, base: float, gx: float, gy: float) -> np.ndarray:
    """Depths at the corners of a face ``base`` metres away at its centre, whose
    ``1 / depth`` changes across the screen as a plane's does."""
    centre = polygon.mean(axis=0)
    return base / (1.0 + gx * (polygon[:, 0] - centre[0]) / W
                   + gy * (polygon[:, 1] - centre[1]) / H)


def well_formed(polygon: np.ndarray) -> bool:
    area = 0.5 * abs(np.sum(polygon[:, 0] * np.roll(polygon[:, 1], -1)
                            - np.roll(polygon[:, 0], -1) * polygon[:, 1]))
    edges = np.hypot(*(np.roll(polygon, -1, axis=0) - polygon).T)
    return area > 1.0 and edges.min() > 1e-3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(polygon, tilt), min_size=1, max_size=6), st.randoms())
def test_nearest_face_wins_every_pixel(faces_drawn, shuffler):
    """The z-buffer property: at every pixel centre the id map holds the face nearest
    the camera among those whose polygon holds the centre (depth from the face's plane),
    the depth map that face's depth, whatever order the faces are drawn in."""
    faces = Faces()
    planes = []
    for k, (corners, (base, gx, gy)) in enumerate(faces_drawn):
        # On the rasterizer's own grid of positions, so the oracle tests the same edges.
        corners = np.round(corners * zbuffer.STEPS) / zbuffer.STEPS
        if not well_formed(corners):
            continue
        depth = tilted(corners, base, gx, gy)
        faces.add(corners, depth, value=k + 1)
        planes.append((corners, 1.0 / depth, k + 1))
    if not planes:
        return
    order = list(range(len(planes)))
    shuffler.shuffle(order)
    _, ids, depth, face = faces.draw(order)
    best = np.full((H, W), np.inf)
    want = np.zeros((H, W), np.uint16)
    for corners, inverse, value in planes:
        here = np.where(centres_inside(corners), depth_at(corners, inverse), np.inf)
        nearer = here < best
        best[nearer] = here[nearer]
        want[nearer] = value
    # Centres on an edge (the tie rule decides), or where two faces are within a hair of
    # the same depth, may go either way.
    y, x = np.mgrid[0:H, 0:W] + 0.5
    ambiguous = np.zeros((H, W), bool)
    for corners, _, _ in planes:
        for k in range(len(corners)):
            (x0, y0), (x1, y1) = corners[k], corners[(k + 1) % len(corners)]
            distance = np.abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) / np.hypot(
                x1 - x0, y1 - y0)
            ambiguous |= distance < 1e-9
    for corners, inverse, value in planes:
        here = depth_at(corners, inverse)
        ambiguous |= centres_inside(corners) & (want != value) & np.isclose(
            here, best, rtol=1e-6)
    clear = ~ambiguous
    np.testing.assert_array_equal(ids[clear], want[clear])
    np.testing.assert_allclose(depth[clear & (want > 0)], best[clear & (want > 0)],
                               rtol=1e-5)
    assert (face[ids == 0] == -1).all()
    # The projection mask of every face holds every pixel the id map gives it.
    for k in range(len(planes)):
        mask, _ = faces.cover([k])
        assert mask[ids == planes[k][2]].all()


@pytest.mark.parametrize("diagonal", [(0, 2), (1, 3)])
@pytest.mark.parametrize("corners", [
    [(4.0, 3.0), (40.0, 3.0), (40.0, 27.0), (4.0, 27.0)],  # on pixel edges
    [(4.5, 3.5), (40.5, 3.5), (40.5, 27.5), (4.5, 27.5)],  # on pixel centres
    [(3.25, 2.5), (41.0, 6.5), (37.5, 29.5), (6.0, 25.5)],  # skewed
])
def test_shared_edges_give_each_pixel_to_one_face(corners, diagonal):
    """A quad split along a diagonal: every pixel the quad takes is taken by exactly one
    half, ties on the shared edge included, and the halves take what the quad takes."""
    quad = np.array(corners)
    a, b = diagonal
    rest = [k for k in range(4) if k not in diagonal]
    halves = Faces()
    halves.add(quad[[a, rest[0], b]], 10.0, value=1)
    halves.add(quad[[a, b, rest[1]]], 10.0, value=2)
    first, _ = halves.cover([0])
    second, _ = halves.cover([1])
    assert not (first & second).any()
    whole = Faces()
    whole.add(quad, 10.0)
    mask, added = whole.cover([0])
    np.testing.assert_array_equal(first | second, mask)
    assert added == int(mask.sum())
    # Drawn (with the depth test), each half takes exactly its own pixels.
    _, ids, _, _ = halves.draw()
    np.testing.assert_array_equal(ids == 1, first.astype(bool))
    np.testing.assert_array_equal(ids == 2, second.astype(bool))


def test_cover_with_an_offset_is_the_same_pixels():
    faces = Faces()
    faces.add([(-10.3, -4.2), (30.7, 2.1), (12.0, 40.5)], 5.0)
    whole, _ = faces.cover([0], shape=(3 * H, 3 * W), offset=(-W, -H))
    frame, _ = faces.cover([0])
    np.testing.assert_array_equal(whole[H:2 * H, W:2 * W], frame)
    assert whole.sum() > frame.sum()  # the part beyond the frame is counted too


def test_only_colour_is_antialiased():
    """A face's edge blends its colour into pixels it covers in part, nearer than what is
    there; ids and depth change only where it takes the pixel's centre."""
    faces = Faces()
    faces.add([(10.2, 5.0), (30.2, 5.0), (30.2, 20.0), (10.2, 20.0)], 8.0,
              color=(255.0, 255.0, 255.0))
    image, ids, depth, _ = faces.draw()
    # Column 10 (centre 10.5) is taken; column 9 (centre 9.5, 0.7 px outside) is not:
    # a pixel whose centre is less than half a pixel outside gets a share.
    assert ids[10, 10] == 1 and ids[10, 9] == 0 and depth[10, 9] == np.inf
    assert image[10, 9].max() == 0
    assert 0 < image[10, 30, 0] < 255 and ids[10, 30] == 0  # centre 30.5, 0.3 px outside
    assert image[10, 20].tolist() == [255, 255, 255]
    # Behind something nearer, the fringe is not drawn either.
    faces.add([(0.0, 0.0), (48.0, 0.0), (48.0, 32.0), (0.0, 32.0)], 2.0, color=(0, 0, 0),
              value=2)
    image, ids, _, _ = faces.draw(order=[1, 0])
    assert (ids == 2).all() and image.max() == 0


def test_an_exact_tie_keeps_the_face_drawn_first():
    """A face takes a pixel only where it is strictly nearer: the same square drawn twice
    (the same plane, the same bits of depth) leaves every pixel to the first."""
    faces = Faces()
    square = [(2.0, 2.0), (14.0, 2.0), (14.0, 14.0), (2.0, 14.0)]
    faces.add(square, 2.0, value=1)
    faces.add(square, 2.0, value=2)
    _, ids, _, face = faces.draw([0, 1])
    assert (ids[2:14, 2:14] == 1).all() and (face[2:14, 2:14] == 0).all()


def test_no_pixel_is_taken_where_the_face_reaches_infinity():
    """1 / depth falls from 1 to -1 across a face (it crosses the camera's plane), exactly
    0 at the centres of column 8: from there on no pixel is taken or coloured."""
    faces = Faces()
    polygon = np.array([(0.0, 4.0), (17.0, 4.0), (17.0, 20.0), (0.0, 20.0)])
    faces.add(polygon, 1.0)
    faces.inverse[0] = (8.5 - polygon[:, 0]) / 8.5
    image, ids, depth, _ = faces.draw()
    assert (ids[4:20, 1:8] == 1).all()
    assert not ids[:, 8:].any() and np.isinf(depth[:, 8:]).all() and not image[:, 8:].any()


def test_a_decal_a_centimetre_off_its_face_wins_over_it():
    """Decals lie a centimetre or two in front of their face: the depth test alone puts
    them on top, far away too, and the depth map keeps the decal's own depth."""
    faces = Faces()
    square = [(5.0, 5.0), (25.0, 5.0), (25.0, 25.0), (5.0, 25.0)]
    faces.add(square, 200.0, value=1)
    faces.add([(10.0, 10.0), (20.0, 10.0), (20.0, 20.0), (10.0, 20.0)], 199.99, value=2)
    for order in ([0, 1], [1, 0]):
        _, ids, depth, face = faces.draw(order)
        assert ids[15, 15] == 2 and ids[7, 7] == 1
        assert face[15, 15] == 1 and face[7, 7] == 0
        assert depth[15, 15] == pytest.approx(199.99)


def test_slack_puts_a_decal_over_one_in_the_same_plane():
    """Two decals of one face in one plane (glass, then a glint on it): with slack the one
    drawn later lies over the other everywhere (without, the depth map's rounding to
    float32 would settle it pixel by pixel: a speckle)."""
    faces = Faces()
    faces.add([(5.0, 5.0), (25.0, 5.0), (25.0, 25.0), (5.0, 25.0)], 50.0, value=1,
              slack=1e-5)
    # The same plane, tilted so its depths are rounded differently across the pixels.
    corners = np.array([(8.0, 8.0), (22.0, 8.0), (22.0, 22.0), (8.0, 22.0)])
    faces.add(corners, tilted(corners, 50.0, 0.1, 0.07), value=2, slack=1e-5)
    faces.polygons[0] = corners
    faces.inverse[0] = faces.inverse[1].copy()
    _, ids, _, _ = faces.draw([0, 1])
    assert (ids[8:22, 8:22] == 2).all()
    # Drawn the other way round, the other lies over it.
    _, ids, _, _ = faces.draw([1, 0])
    assert (ids[8:22, 8:22] == 1).all()


@pytest.mark.parametrize("polygon", [
    [(5.0, 5.0), (20.0, 5.0), (35.0, 5.0)],  # no area
    [(5.0, 5.0), (5.0, 5.0), (5.0, 5.0)],  # one point
], ids=["collinear", "point"])
def test_degenerate_faces_take_nothing(polygon):
    faces = Faces()
    faces.add(polygon, 5.0)
    image, ids, _, _ = faces.draw()
    assert not ids.any() and not image.any()
    assert faces.cover([0])[1] == 0


def test_repeated_corners_are_ignored():
    faces = Faces()
    faces.add([(5.0, 5.0), (25.0, 5.0), (25.0, 5.0), (25.0, 25.0), (5.0, 25.0)], 5.0)
    plain = Faces()
    plain.add([(5.0, 5.0), (25.0, 5.0), (25.0, 25.0), (5.0, 25.0)], 5.0)
    np.testing.assert_array_equal(faces.draw()[1], plain.draw()[1])
    np.testing.assert_array_equal(faces.draw()[0], plain.draw()[0])
