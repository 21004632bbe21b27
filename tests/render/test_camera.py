"""Projection invariants of the pinhole camera, as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.render.camera import NEAR, Camera, clip_near
from synthgen.scene.model import CameraParams

cameras = st.builds(
    CameraParams,
    x=st.floats(-5, 5), height=st.floats(0.5, 5.0), pitch_deg=st.floats(-20, 30),
    yaw_deg=st.floats(-45, 45), roll_deg=st.floats(-15, 15), fov_deg=st.floats(30, 120))
sizes = st.tuples(st.integers(64, 1920), st.integers(64, 1080))


@settings(max_examples=60, deadline=None)
@given(cameras, sizes, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(1.0, 500.0))
def test_unproject_inverts_project(params, size, u, v, depth):
    camera = Camera(params, *size)
    pixel = np.array([u * size[0], v * size[1]])
    world = camera.unproject(pixel, np.array(depth))
    back, back_depth = camera.project(world)
    assert np.allclose(back, pixel, atol=1e-6 * max(size))
    assert np.isclose(back_depth, depth, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(cameras, sizes, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_ground_depth_lands_on_the_ground(params, size, u, v):
    camera = Camera(params, *size)
    depth = camera.ground_depth()
    col = min(int(u * size[0]), size[0] - 1)
    row = min(int(v * size[1]), size[1] - 1)
    d = depth[row, col]
    if np.isinf(d):
        # At or above the horizon the viewing ray never meets the ground.
        assert camera.ray_rise()[row, col] >= 0
        return
    assert d > 0
    point = camera.unproject(np.array([col + 0.5, row + 0.5]), np.array(d))
    assert abs(point[2]) < 1e-3 * max(1.0, d)


@settings(max_examples=60, deadline=None)
@given(cameras, st.floats(-50, 50), st.floats(0.5, 300), st.floats(0, 20))
def test_points_in_front_project_in_front(params, x, y, z):
    camera = Camera(params, 640, 384)
    _, depth = camera.project(np.array([x, y, z]))
    forward = camera.rotation[2]
    assert np.isclose(depth, np.dot(np.array([x, y, z]) - camera.position, forward))


def test_straight_camera_centre_and_horizon():
    params = CameraParams(x=0.0, height=1.5, pitch_deg=0.0, yaw_deg=0.0, roll_deg=0.0,
                          fov_deg=90.0)
    camera = Camera(params, 640, 480)
    pixel, depth = camera.project(np.array([0.0, 10.0, 1.5]))
    assert np.allclose(pixel, [320, 240]) and np.isclose(depth, 10.0)
    # 90 degrees across 640 px: a point at 45 degrees right lands on the right edge.
    pixel, _ = camera.project(np.array([10.0, 10.0, 1.5]))
    assert np.allclose(pixel, [640, 240])
    # Pixel rows above the centre see the sky; below, the ground.
    rise = camera.ray_rise()
    assert (rise[:240] > 0).all() and (rise[240:] < 0).all()


polygons = st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10), st.floats(-5, 20)),
                    min_size=3, max_size=8)


@given(polygons)
def test_clip_near_keeps_only_what_is_in_front(points):
    polygon = np.array(points)
    clipped = clip_near(polygon)
    assert (clipped[:, 2] >= NEAR - 1e-9).all()
    if (polygon[:, 2] >= NEAR).all():
        assert np.array_equal(clipped, polygon)
    if (polygon[:, 2] < NEAR).all():
        assert len(clipped) == 0


@pytest.mark.parametrize("out", [
    np.zeros((48, 64), np.float64),   # another type: its values would round differently
    np.zeros((48, 65), np.float32),   # another size
    np.zeros((64, 48), np.float32),   # transposed
], ids=["float64", "wider", "transposed"])
def test_ground_depth_refuses_an_output_it_cannot_fill(out):
    camera = Camera(CameraParams(x=0.0, height=1.5, pitch_deg=2.0, yaw_deg=0.0,
                                 roll_deg=0.0, fov_deg=90.0), 64, 48)
    with pytest.raises(ValueError, match="ground_depth: out must be a writeable"):
        camera.ground_depth(out=out)


def test_ground_depth_refuses_a_read_only_output():
    camera = Camera(CameraParams(x=0.0, height=1.5, pitch_deg=2.0, yaw_deg=0.0,
                                 roll_deg=0.0, fov_deg=90.0), 64, 48)
    out = np.zeros((48, 64), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        camera.ground_depth(out=out)
