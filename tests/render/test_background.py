"""The renderer's background stages (sky, ground, road, shadows, lamp pools) against plain
full-frame reference versions: the shortcuts they take (rows by the horizon, batched
projection, work only inside the rectangles that change) must not change a pixel."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.render import backdrop, raster
from synthgen.render.camera import Camera
from synthgen.render.culling import build_models
from synthgen.render.ground import ground_polygons
from synthgen.render.ground_light import ground_light
from synthgen.render.lighting import face_light, lit
from synthgen.render.painter import _Painter
from synthgen.scene.model import CameraParams
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template


def offscreen(pts: np.ndarray, width: int, height: int, margin: int = 0) -> bool:
    """Whether fixed-point ``pts`` lie wholly outside a ``width`` x ``height`` frame grown
    by ``margin`` pixels each way (the painter's rule before the z-buffer; kept here for
    the reference drawings)."""
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    m = margin * raster.ONE
    return bool(hi[0] < -m or hi[1] < -m or lo[0] > width * raster.ONE + m
                or lo[1] > height * raster.ONE + m)


def _drawing(p: _Painter) -> tuple:
    """What the background's functions draw on and with, as :func:`render` passes it."""
    return p.image, p.depth, p.scene, p.camera, p.light


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


def _reference_sky_and_ground(p: _Painter) -> None:
    """Both colour fields resized over the whole frame, then chosen pixel by pixel."""
    light, cam, size = p.light, p.camera, (p.width, p.height)
    t = np.clip(cam.ray_rise(8) / 0.45, 0.0, 1.0)[..., None] ** 0.55
    sky = light.sky_horizon + (light.sky_top - light.sky_horizon) * t
    texture = np.random.default_rng(p.scene.effects.ground_texture_seed).normal(
        1.0, 0.07, (p.height // 16 + 1, p.width // 16 + 1))
    snow = p.scene.weather.intensity if p.scene.weather.kind == "snow" else 0.0
    base = np.asarray(p.scene.road.ground_color, np.float32)
    base = base * (1 - 0.8 * snow) + np.array([232, 234, 238], np.float32) * 0.8 * snow
    ground = base * face_light(p.light, np.array([0.0, 0.0, 1.0])) * texture[..., None]
    p.image[...] = cv2.resize(_to_uint8(sky), size, interpolation=cv2.INTER_LINEAR)
    rise = cam.ray_rise()
    with np.errstate(divide="ignore"):
        p.depth[...] = np.where(rise < 0, np.float32(-cam.params.height) / rise, np.inf)
    np.copyto(p.image, cv2.resize(_to_uint8(ground), size, interpolation=cv2.INTER_CUBIC),
              where=np.isfinite(p.depth)[..., None])


def _reference_fill(p: _Painter, mask: np.ndarray, xy: np.ndarray, value: int) -> None:
    projected = raster.project(p.camera, np.concatenate([xy, np.zeros((len(xy), 1))], axis=1))
    if projected is not None and not offscreen(projected[0], p.width, p.height):
        cv2.fillPoly(mask, [projected[0]], value, cv2.LINE_AA, 4)


def _reference_road(p: _Painter) -> None:
    """One projection and fill per ground polygon."""
    snow = p.scene.weather.intensity if p.scene.weather.kind == "snow" else 0.0
    factor = face_light(p.light, np.array([0.0, 0.0, 1.0]))
    for polygon in ground_polygons(p.scene.road, wet=p.light.wet, snow=snow,
                                   texture_seed=p.scene.effects.ground_texture_seed + 2):
        projected = raster.project(p.camera, polygon.points)
        if projected is not None and not offscreen(projected[0], p.width, p.height):
            cv2.fillPoly(p.image, [projected[0]], lit(polygon.color, factor), cv2.LINE_AA, 4)
    backdrop.grain(p.image, p.depth, p.scene.effects.ground_texture_seed)


def _reference_ground_light(p: _Painter, models) -> None:
    """Shadows multiplied and lamp light added over the whole frame, in floats."""
    light, sun = p.light, p.light.sun_direction
    shade = np.zeros((p.height, p.width), np.uint8)
    if light.shadow > 0 and sun[2] > 0.05:
        for model in models:
            if model.casts_shadow:
                points = model.vertices()
                on_ground = points[:, :2] - points[:, 2:3] / sun[2] * sun[:2]
                hull = cv2.convexHull(on_ground.astype(np.float32)).reshape(-1, 2)
                _reference_fill(p, shade, hull, int(255 * light.shadow))
    for model in models:
        if model.contact_shadow:
            hull = cv2.convexHull(model.vertices()[:, :2].astype(np.float32)).reshape(-1, 2)
            center = hull.mean(axis=0)
            for scale, value in ((1.16, 80), (1.06, 140), (0.96, 195)):
                _reference_fill(p, shade, center + (hull - center) * scale, value)
    keep = (255 - shade)[..., None].astype(np.float64)
    p.image[...] = np.round(p.image * keep / 255).astype(np.uint8)
    if not (light.lights_on and p.scene.lighting.time_of_day != "day"):
        return
    pool = np.zeros((p.height, p.width), np.uint8)
    cam = p.scene.camera
    if p.scene.lighting.time_of_day == "night":
        beam = np.array([[cam.x - 1.0, 4.0], [cam.x + 1.0, 4.0], [cam.x + 3.5, 28.0],
                         [cam.x - 3.5, 28.0]])
        _reference_fill(p, pool, beam, 55)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    for lamp in p.lamps:
        _reference_fill(p, pool, lamp[:2] + 7.0 * np.stack([np.cos(angles), np.sin(angles)], 1),
                        150)
    small = cv2.resize(pool, (p.width // 4, p.height // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(2.0, p.width / 160))
    glow = cv2.resize(small, (p.width, p.height), interpolation=cv2.INTER_LINEAR)
    lit = p.image + glow[..., None].astype(np.float32) * (
        np.array([1.0, 0.9, 0.72], np.float32) * 0.6)
    p.image[...] = np.clip(lit, 0, 255).astype(np.uint8)


def _scene(name: str, index: int, **camera):
    scene = sample_scene(load_template(name), image_rng(1, index))
    return dataclasses.replace(scene, camera=dataclasses.replace(scene.camera, **camera))


@pytest.mark.parametrize("name,index,camera,size", [
    # day, rain, city skyline
    ("urban", 0, {}, (1280, 720)),
    # dusk: low sun, long shadows crossing the near plane, lamps lit
    ("urban", 1, {}, (1280, 720)),
    # night and snow: headlight beam and lamp pools
    ("urban", 4, {}, (1280, 720)),
    # night fog, treeline
    ("rural", 0, {}, (1280, 720)),
    # junction: crossing road, crosswalks, stop line
    ("intersection", 4, {}, (1280, 720)),
    # a size that does not divide into 4- or 8-pixel cells takes the whole-frame paths
    ("urban", 4, {}, (250, 141)),
    ("highway", 2, {}, (250, 141)),
    # a strongly rolled camera: a wide band of rows holds both sky and ground
    ("intersection", 1, {"roll_deg": 20.0}, (640, 360)),
    # upside down: no row is pure ground below the sky
    ("rural", 3, {"roll_deg": 180.0}, (320, 192)),
    # looking down (no sky) and up (hardly any ground)
    ("highway", 1, {"pitch_deg": 60.0}, (320, 192)),
    ("urban", 4, {"pitch_deg": -40.0}, (320, 192)),
])
def test_background_matches_the_full_frame_reference(name, index, camera, size):
    scene = _scene(name, index, **camera)
    fast, slow = _Painter(scene, *size), _Painter(scene, *size)
    backdrop.sky_and_ground(*_drawing(fast))
    _reference_sky_and_ground(slow)
    assert np.array_equal(fast.depth, slow.depth)
    assert np.array_equal(fast.image, slow.image)
    backdrop.horizon(*_drawing(fast))
    backdrop.horizon(*_drawing(slow))
    backdrop.road(*_drawing(fast))
    _reference_road(slow)
    assert np.array_equal(fast.image, slow.image)
    models = build_models(scene, fast.camera, fast.light)
    ground_light(fast.image, scene, fast.camera, fast.light, models, fast.lamps)
    _reference_ground_light(slow, models)
    assert np.array_equal(fast.image, slow.image)
    assert np.array_equal(fast.depth, slow.depth)


cameras = st.builds(
    CameraParams,
    x=st.floats(-5, 5), height=st.floats(0.5, 5.0), pitch_deg=st.floats(-90, 90),
    yaw_deg=st.floats(-45, 45), roll_deg=st.floats(-180, 180), fov_deg=st.floats(30, 120))


@settings(max_examples=60, deadline=None)
@given(cameras, st.tuples(st.integers(1, 700), st.integers(1, 400)))
def test_horizon_band_splits_rows_exactly(params, size):
    camera = Camera(params, *size)
    rise = camera.ray_rise()
    band = camera.horizon_band()
    if band is None:
        # Only a camera whose image has the ground above the sky has no band.
        assert (rise[0] <= rise[-1]).all()
    else:
        top, bottom = band
        assert 0 <= top <= bottom <= size[1]
        assert (rise[:top] >= 0).all() and (rise[bottom:] < 0).all()
        assert all((row >= 0).any() and (row < 0).any() for row in rise[top:bottom])
    depth = camera.ground_depth()
    with np.errstate(divide="ignore"):
        expected = np.where(rise < 0, np.float32(-params.height) / rise, np.inf)
    assert depth.dtype == np.float32 and np.array_equal(depth, expected)
    out = np.full(size[::-1], -1.0, np.float32)
    assert camera.ground_depth(out=out) is out and np.array_equal(out, expected)


ground_shapes = st.lists(
    st.lists(st.tuples(st.floats(-30, 30), st.floats(-10, 60)), min_size=1, max_size=12),
    min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(cameras, ground_shapes)
def test_batched_ground_projection_is_project(params, shapes):
    # One batch, clipped at the near plane all at once, gives what project() gives one by
    # one (None for what is clipped away or off screen).
    camera = Camera(params, 320, 192)
    polygons = [np.array(shape) for shape in shapes]
    for xy, pts in zip(polygons, raster.project_ground(camera, polygons), strict=True):
        projected = raster.project(camera, np.concatenate([xy, np.zeros((len(xy), 1))], axis=1))
        if projected is None or offscreen(projected[0], 320, 192):
            assert pts is None
        else:
            assert pts is not None and np.array_equal(pts, projected[0])
