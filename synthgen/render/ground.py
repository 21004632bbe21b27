"""The ground: road surface, shoulders, sidewalks, paint and the crossing road.

Everything here lies on ``z = 0`` and is returned as world polygons with a colour, in
drawing order; the renderer projects and fills them. Bands follow the road's curve by
sampling its centre line at distances that grow with range (perspective makes far
samples small on screen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.scene.model import RoadParams

#: Distances (m) at which the road's centre line is sampled: dense near, sparse far.
_SAMPLES = np.concatenate([np.linspace(-6.0, 30.0, 19), np.geomspace(32.0, 600.0, 30)])
#: Paint is drawn up to this distance (beyond it a line is thinner than a pixel).
PAINT_RANGE = 160.0
CROSS_ROAD_HALF_LENGTH = 400.0
#: Paving joints are drawn up to this distance (m), this wide (m).
JOINT_RANGE = 40.0
JOINT_WIDTH = 0.03
#: Segments of one crack in the asphalt.
_CRACK_SEGMENTS = 4


@dataclass(frozen=True)
class GroundPolygon:
    """A polygon on the ground (``points`` ``(n, 3)``, ``z = 0``) and its colour."""

    points: np.ndarray
    color: tuple[int, int, int]


def _band(road: RoadParams, left: float, right: float, y0: float = _SAMPLES[0],
          y1: float = _SAMPLES[-1]) -> np.ndarray:
    """A strip between two lateral offsets, following the curve from ``y0`` to ``y1``."""
    ys = _SAMPLES[(_SAMPLES > y0) & (_SAMPLES < y1)]
    ys = np.concatenate([[y0], ys, [y1]])
    cx = road.center_x(ys)
    left_edge = np.stack([cx + left, ys, np.zeros_like(ys)], axis=1)
    right_edge = np.stack([cx + right, ys, np.zeros_like(ys)], axis=1)
    return np.concatenate([left_edge, right_edge[::-1]])


def _quad(road: RoadParams, left: float, right: float, y0: float, y1: float) -> np.ndarray:
    """A short straight piece between two offsets (a dash, a stripe)."""
    return _quads(road, np.array([left]), np.array([right]), np.array([y0]), np.array([y1]))[0]


def _quads(road: RoadParams, left: np.ndarray, right: np.ndarray, y0: np.ndarray,
           y1: np.ndarray) -> np.ndarray:
    """Many :func:`_quad` pieces at once, ``(k, 4, 3)``; arguments broadcast to ``(k,)``."""
    left, right, y0, y1 = np.broadcast_arrays(left, right, y0, y1)
    ys = np.stack([y0, y0, y1, y1], axis=1)
    xs = road.center_x(ys) + np.stack([left, right, right, left], axis=1)
    return np.stack([xs, ys, np.zeros_like(ys)], axis=2)


def _pieces(quads: np.ndarray, color: tuple[int, int, int]) -> list[GroundPolygon]:
    """One polygon of ``color`` per piece of ``quads`` ``(k, n, 3)``."""
    return [GroundPolygon(points, color) for points in quads]


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b, strict=True))  # type: ignore


def _gaps(road: RoadParams) -> list[tuple[float, float]]:
    """Stretches of the main road along which lengthwise paint is drawn (not in a junction)."""
    if road.intersection_y is None:
        return [(_SAMPLES[0], PAINT_RANGE)]
    half = road.cross_width / 2
    stop = road.crosswalk_y - 2.0 if road.crosswalk_y is not None else road.intersection_y - half
    return [(_SAMPLES[0], stop), (road.intersection_y + half + 3.5, PAINT_RANGE)]


def _line(road: RoadParams, offset: float, style: str, paint: tuple[int, int, int],
          stretches: list[tuple[float, float]]) -> list[GroundPolygon]:
    """A lengthwise line: solid, dashed or doubled, over the given stretches."""
    half = road.line_width / 2
    if style == "none":
        return []
    if style == "double_solid":
        return [*_line(road, offset - 1.5 * half - 0.06, "solid", paint, stretches),
                *_line(road, offset + 1.5 * half + 0.06, "solid", paint, stretches)]
    polygons = []
    for y0, y1 in stretches:
        if y1 <= y0:
            continue
        if style == "solid":
            polygons.append(GroundPolygon(_band(road, offset - half, offset + half, y0, y1),
                                          paint))
            continue
        period = road.dash_length + road.gap_length
        start = y0 - (y0 % period)
        ys = np.arange(start, y1, period)
        a, b = np.maximum(ys, y0), np.minimum(ys + road.dash_length, y1)
        polygons.extend(_pieces(_quads(road, offset - half, offset + half, a[b > a], b[b > a]),
                                paint))
    return polygons


def _crosswalk(road: RoadParams, y: float, paint, left: float, right: float) -> list[GroundPolygon]:
    xs = np.arange(left + 0.3, right - 0.3, 1.0)
    return _pieces(_quads(road, xs, xs + 0.5, y - 1.5, y + 1.5), paint)


def _joints(road: RoadParams, rng: np.random.Generator,
            color: tuple[int, int, int]) -> list[GroundPolygon]:
    """Joints between the paving slabs of both sidewalks, as far as they can show: across
    every slab's length, and one along the middle of a wide sidewalk."""
    sw = road.sidewalk_width
    slab = float(rng.uniform(0.8, 1.8))
    ys = np.arange(-6.0 + float(rng.uniform(0.0, slab)), JOINT_RANGE, slab)
    polygons = []
    for inner, outer in ((road.right_edge, road.right_edge + sw),
                         (road.left_edge - sw, road.left_edge)):
        polygons += _pieces(_quads(road, inner, outer, ys, ys + JOINT_WIDTH), color)
        if sw > 2.5:
            middle = (inner + outer) / 2
            polygons.append(GroundPolygon(_band(road, middle, middle + JOINT_WIDTH, -6.0,
                                                JOINT_RANGE), color))
    return polygons


def _wear(road: RoadParams, rng: np.random.Generator,
          surface: tuple[int, int, int]) -> list[GroundPolygon]:
    """What traffic and age leave on the road: patches of newer or older asphalt, darker
    tracks where tyres run in each lane, and cracks (each a chain of thin segments
    wandering along or across the road). Every value is drawn in a few array calls."""
    left = road.left_edge + road.shoulder_width
    right = road.right_edge - road.shoulder_width
    n = int(rng.integers(2, 7))
    x = rng.uniform(left, max(left, right - 1.0), n)
    y = rng.uniform(2.0, 80.0, n)
    size = rng.uniform((0.8, 1.0), (3.0, 7.0), (n, 2))
    newer = rng.random(n) >= 0.6
    amount = rng.uniform(0.08, 0.2, n)
    quads = _quads(road, x, np.minimum(x + size[:, 0], right), y, y + size[:, 1])
    polygons = [GroundPolygon(quad, _mix(surface, (165, 165, 165) if light else (0, 0, 0), a))
                for quad, light, a in zip(quads, newer.tolist(), amount.tolist(), strict=True)]
    track = _mix(surface, (0, 0, 0), float(rng.uniform(0.05, 0.14)))
    lanes = [road.lane_center(lane, False) for lane in range(road.forward_lanes)]
    lanes += [road.lane_center(lane, True) for lane in range(road.oncoming_lanes)]
    for center in lanes:
        for side in (-0.85, 0.85):
            polygons.append(GroundPolygon(_band(road, center + side - 0.3, center + side + 0.3,
                                                _SAMPLES[0], PAINT_RANGE), track))
    cracks = int(rng.integers(3, 10))
    start = np.stack([rng.uniform(left, right, cracks), rng.uniform(1.0, 50.0, cracks)], axis=1)
    across = rng.random(cracks) < 0.4
    lo = np.where(across[:, None], (0.4, -0.4), (-0.5, 0.4))
    hi = np.where(across[:, None], (1.4, 0.4), (0.5, 1.6))
    steps = lo[:, None] + (hi - lo)[:, None] * rng.random((cracks, _CRACK_SEGMENTS, 2))
    width = rng.uniform(0.015, 0.035, cracks)[:, None, None]
    points = np.concatenate([start[:, None], start[:, None] + np.cumsum(steps, axis=1)], axis=1)
    points[..., 0] = np.clip(points[..., 0], left, right)
    a, b = points[:, :-1], points[:, 1:]
    along = b - a
    normal = np.stack([along[..., 1], -along[..., 0]], axis=-1)
    normal *= width / np.maximum(np.hypot(along[..., 0], along[..., 1]), 1e-6)[..., None]
    corners = np.stack([a - normal, b - normal, b + normal, a + normal], axis=2).reshape(-1, 4, 2)
    corners[..., 0] += road.center_x(corners[..., 1])
    crack = _mix(surface, (0, 0, 0), 0.45)
    polygons += _pieces(np.concatenate([corners, np.zeros((len(corners), 4, 1))], axis=2), crack)
    return polygons


def ground_polygons(road: RoadParams, *, wet: float = 0.0, snow: float = 0.0,
                    texture_seed: int | None = None) -> list[GroundPolygon]:
    """Every ground polygon of a road, in drawing order (later ones cover earlier ones).

    Args:
        road: The sampled road.
        wet: 0-1; a wet road is darker.
        snow: 0-1; snow whitens sidewalks and shoulders and fades the paint.
        texture_seed: A sampled seed: if given, the road shows wear (patches, tyre
            tracks, cracks) and sidewalks their paving joints, laid out by this seed.
    """
    white = (236, 238, 242)
    surface = _mix(road.surface_color, (20, 20, 22), 0.35 * wet)
    surface = _mix(surface, (150, 150, 155), 0.35 * snow)
    shoulder = _mix(road.shoulder_color, white, 0.7 * snow)
    sidewalk = _mix(road.sidewalk_color, white, 0.85 * snow)
    paint = _mix(road.marking_color, surface, min(0.9, road.wear + 0.5 * snow))
    left, right = road.left_edge, road.right_edge
    sw = road.sidewalk_width
    rng = None if texture_seed is None else np.random.default_rng(texture_seed)
    polygons = []
    if sw > 0:
        polygons.append(GroundPolygon(_band(road, left - sw, left), sidewalk))
        polygons.append(GroundPolygon(_band(road, right, right + sw), sidewalk))
        if rng is not None:
            polygons += _joints(road, rng, _mix(sidewalk, (0, 0, 0), 0.3 * (1 - snow)))
        curb = _mix(sidewalk, (90, 90, 90), 0.5)
        polygons.append(GroundPolygon(_band(road, left - 0.15, left), curb))
        polygons.append(GroundPolygon(_band(road, right, right + 0.15), curb))
    polygons.append(GroundPolygon(_band(road, left, right), shoulder))
    inner_left = left + road.shoulder_width
    inner_right = right - road.shoulder_width
    polygons.append(GroundPolygon(_band(road, inner_left, inner_right), surface))
    if rng is not None and snow < 0.5:
        polygons += _wear(road, rng, surface)
    if road.median_width > 0:
        polygons.append(GroundPolygon(_band(road, -road.median_width / 2, road.median_width / 2),
                                      _mix(road.ground_color, white, 0.8 * snow)))

    if road.intersection_y is not None:
        half = road.cross_width / 2
        iy = road.intersection_y
        polygons.append(GroundPolygon(np.array([
            [-CROSS_ROAD_HALF_LENGTH, iy - half, 0], [CROSS_ROAD_HALF_LENGTH, iy - half, 0],
            [CROSS_ROAD_HALF_LENGTH, iy + half, 0], [-CROSS_ROAD_HALF_LENGTH, iy + half, 0]]),
            surface))
        if sw > 0:
            for y0, y1 in ((iy - half - sw, iy - half), (iy + half, iy + half + sw)):
                for x0, x1 in ((-CROSS_ROAD_HALF_LENGTH, left), (right, CROSS_ROAD_HALF_LENGTH)):
                    polygons.append(GroundPolygon(np.array(
                        [[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]]), sidewalk))
        # The crossing road's centre line, broken where it crosses the main road.
        h = road.line_width / 2
        for x0, x1 in ((-CROSS_ROAD_HALF_LENGTH, left), (right, CROSS_ROAD_HALF_LENGTH)):
            x = np.arange(x0, x1 - road.dash_length, road.dash_length + road.gap_length)
            corners = np.zeros((len(x), 4, 3))
            corners[:, :, 0] = np.stack([x, x + road.dash_length, x + road.dash_length, x],
                                        axis=1)
            corners[:, :, 1] = [iy - h, iy - h, iy + h, iy + h]
            polygons.extend(_pieces(corners, paint))
        far_walk = iy + half + 2.5
        polygons.extend(_crosswalk(road, far_walk, paint, inner_left, inner_right))

    stretches = _gaps(road)
    center = 0.0 if road.median_width == 0 else None
    if road.oncoming_lanes > 0 and center is not None:
        polygons.extend(_line(road, center, road.center_style, paint, stretches))
    if road.lane_dashes:
        dashed = "dashed"
        for lane in range(1, road.forward_lanes):
            polygons.extend(_line(road, road.median_width / 2 + lane * road.lane_width, dashed,
                                  paint, stretches))
        for lane in range(1, road.oncoming_lanes):
            polygons.extend(_line(road, -(road.median_width / 2 + lane * road.lane_width),
                                  dashed, paint, stretches))
    if road.edge_lines:
        polygons.extend(_line(road, inner_right - road.line_width, "solid", paint, stretches))
        if road.oncoming_lanes > 0:
            polygons.extend(_line(road, inner_left + road.line_width, "solid", paint, stretches))
        if road.median_width > 0:
            for side in (-1, 1):
                polygons.extend(_line(road, side * (road.median_width / 2 + road.line_width),
                                      "solid", paint, stretches))
    if road.crosswalk_y is not None:
        polygons.extend(_crosswalk(road, road.crosswalk_y, paint, inner_left, inner_right))
        if road.intersection_y is not None:
            # Stop line before the crossing, across the forward lanes.
            y = road.crosswalk_y - 2.0
            polygons.append(GroundPolygon(_quad(road, road.median_width / 2, inner_right,
                                                y - 0.4, y), paint))
    return polygons


def horizon_profile(kind: str, seed: int) -> np.ndarray:
    """A far silhouette (hills, treeline or skyline) as a world polygon at 700 m.

    The shape comes from ``seed``, a value drawn by :mod:`synthgen.scene.sampling`.

    Returns:
        ``(n, 3)`` polygon, or an empty array for a flat horizon.
    """
    if kind == "flat":
        return np.zeros((0, 3))
    rng = np.random.default_rng(seed)
    distance = 700.0
    xs = np.linspace(-2500.0, 2500.0, 121)
    if kind == "hills":
        heights = np.zeros_like(xs)
        for wavelength in (2400.0, 900.0, 350.0):
            phase = rng.uniform(0, 2 * np.pi)
            heights += rng.uniform(0.4, 1.0) * wavelength / 40 * (
                1 + np.sin(2 * np.pi * xs / wavelength + phase))
        heights = 6.0 + heights * 0.8
    elif kind == "trees":
        heights = 14.0 + rng.uniform(-4.0, 6.0, xs.size)
    else:  # city: blocks of towers
        xs = np.sort(np.concatenate([np.arange(-2500.0, 2500.0, 45.0) + rng.uniform(0, 30, 112)]))
        tops = rng.uniform(15.0, 110.0, xs.size)
        xs = np.repeat(xs, 2)[1:]
        heights = np.repeat(tops, 2)[:-1]
    top = np.stack([xs, np.full_like(xs, distance), heights], axis=1)
    bottom = np.array([[xs[-1], distance, -10.0], [xs[0], distance, -10.0]])
    return np.concatenate([top, bottom])
