"""Sampling: the one place where random values are drawn.

:func:`sample_scene` turns a template and a :class:`numpy.random.Generator` into a
:class:`~synthgen.scene.model.Scene`. Every later stage is a deterministic function of that
scene. :func:`image_rng` derives each image's generator from ``(seed, index)`` alone, so
an image is the same whichever worker renders it and whatever was rendered before.

Where a renderer needs a whole field of random values (sensor noise, road wear and
paving joints, the horizon's skyline, the offset into a tiled texture) this module draws
the field's *seed* (``EffectParams.noise_seed``, ``ground_texture_seed``,
``AppearanceParams.noise_seed``) and the renderer expands it with a generator of its own
(:func:`numpy.random.default_rng` of that seed): the field is a function of the scene,
like everything else the renderer does, and costs nothing here when an image does not
need it. Nothing else that makes an image draws from a generator it was not given or
did not build from such a seed; patterns that are not random at all (which windows of a
building are lit, from its place; the fixed-seed textures of :mod:`synthgen.render.textures`)
are functions of the scene too.

Placement rules (``objects.<category>.placements`` in a template):

- ``in_lane``: in a forward lane (same direction as the camera), heading along the road;
  cyclists keep to the right edge of the rightmost lane;
- ``oncoming``: in an oncoming lane, heading towards the camera;
- ``parked``: against the road edge on either side, along the road; with a class's
  ``parked_setback_range`` above ``[0, 0]``, that far further out (parking lanes, bays,
  lots), and the scenery drawn there (buildings, trees, street lights, barriers) gives
  way to it;
- ``sidewalk``: on a sidewalk (templates with ``sidewalk_width_range`` above 0);
- ``crosswalk``: on a zebra crossing, crossing the road;
- ``cross_traffic``: on the crossing road of an intersection, moving across the view;
- ``roadside``: just beyond the road edge (pedestrians on the verge; traffic lights and
  signs on poles, at the intersection or crosswalk when there is one).

A placement the sampled road cannot offer (``crosswalk`` without a crossing,
``cross_traffic`` without an intersection, ``oncoming`` on a one-way road, ``sidewalk``
without sidewalks) is left out and the other placements' weights are renormalised; an
object whose placements are all unavailable, or that finds no free spot in a bounded
number of tries, is not placed. Both are properties of the sampled road, not fallbacks
for bad settings: the template itself was validated.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from synthgen.categories import CATEGORY_NAMES
from synthgen.scene.model import (
    RGB,
    AppearanceParams,
    BackgroundPick,
    CameraParams,
    EffectParams,
    LightingParams,
    Prop,
    RoadParams,
    Scene,
    SceneObject,
    SpritePick,
    WeatherParams,
)
from synthgen.scene.templates import ObjectClass, SceneTemplate

if TYPE_CHECKING:
    from synthgen.render.sprites import SpriteBank

#: Weather intensity range used when a template gives none for a kind.
DEFAULT_INTENSITY = (0.3, 0.9)
#: How many positions to try for one object before giving up on it.
PLACEMENT_TRIES = 12
#: Rain drops / snow flakes at full intensity, per megapixel.
RAIN_DROPS = 900
SNOW_FLAKES = 1400
#: ``--look-like``: ranges of each image's tone-curve strength and blur and noise factors.
APPEARANCE_STRENGTH_RANGE = (0.6, 1.0)
APPEARANCE_BLUR_RANGE = (0.5, 1.5)
APPEARANCE_NOISE_RANGE = (0.5, 1.5)

CAR_VARIANTS = ("sedan", "hatchback", "suv", "van")
SIGN_SHAPES = ("circle", "triangle", "octagon", "square", "diamond")
TROUSERS: Sequence[RGB] = ((40, 45, 60), (30, 30, 32), (70, 60, 50), (90, 95, 110),
                           (120, 110, 90))


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for image ``index`` of a run seeded with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low) if low == high else float(rng.uniform(low, high))


def _integer(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _weighted(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """One name, drawn with probability proportional to its weight.

    The same draw as ``rng.choice(len(names), p=p)`` (one ``rng.random()`` placed on the
    cumulative distribution, as numpy does it), without choice's per-call validation and
    array set-up, which cost ten times the draw itself.
    """
    # Sorted, so the order keys are written in a template never changes what is drawn
    # (two templates that compare equal must give the same images).
    names, cdf = _cumulative(tuple(sorted(weights.items())))
    if cdf is None:
        # Weights numpy would refuse: let it raise its own error.
        p = np.array([weights[n] for n in names], dtype=np.float64)
        return names[int(rng.choice(len(names), p=p / p.sum()))]
    return names[bisect.bisect_right(cdf, rng.random())]


@functools.lru_cache(maxsize=256)
def _cumulative(items: tuple[tuple[str, float], ...]
                ) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """Names and the cumulative distribution numpy's ``Generator.choice`` builds for them.

    Computed with the same numpy operations as ``Generator.choice(n, p=p)`` with
    ``p = weights / weights.sum()`` (``cdf = p.cumsum(); cdf /= cdf[-1]``), so the values
    are the same to the bit; ``searchsorted(u, side="right")`` on them is
    ``bisect_right``. ``None`` for weights that choice would reject (checked a little
    more strictly than numpy does, so nothing it rejects gets through).
    """
    names = tuple(name for name, _ in items)
    p = np.array([weight for _, weight in items], dtype=np.float64)
    p = p / p.sum()
    if not (np.isfinite(p).all() and (p >= 0).all() and abs(p.sum() - 1.0) < 1e-9):
        return names, None
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return names, tuple(cdf.tolist())


def _color(rng: np.random.Generator, palette: Sequence[Sequence[int]], jitter: int = 8) -> RGB:
    """A palette colour, each channel shifted by up to ``jitter`` and clipped to 0..255."""
    base = palette[int(rng.integers(len(palette)))]
    shift = rng.integers(-jitter, jitter + 1, size=3).tolist()
    # Plain ints rather than np.clip on small arrays: same values, a fraction of the cost.
    return (min(max(int(base[0]) + shift[0], 0), 255),
            min(max(int(base[1]) + shift[1], 0), 255),
            min(max(int(base[2]) + shift[2], 0), 255))


def _either(rng: np.random.Generator, first: float, second: float) -> float:
    """``float(rng.choice([first, second]))``: the same single ``integers(0, 2)`` draw."""
    return second if rng.integers(2) else first


def sample_road(template: SceneTemplate, rng: np.random.Generator) -> RoadParams:
    """Draw the road's layout, widths, curve, colours and paint."""
    spec, marks = template.road, template.road.markings
    intersection = spec.layout == "intersection"
    lane_width = _uniform(rng, spec.lane_width_range)
    cross_lanes = _integer(rng, spec.cross_lanes_range)
    intersection_y = _uniform(rng, spec.intersection_distance_range) if intersection else None
    crosswalk_y = None
    if intersection_y is not None:
        crosswalk_y = intersection_y - cross_lanes * lane_width - 2.5
    elif rng.random() < marks.crosswalk_probability:
        crosswalk_y = _uniform(rng, (10.0, 35.0))
    return RoadParams(
        layout=spec.layout,
        forward_lanes=_integer(rng, spec.forward_lanes_range),
        oncoming_lanes=_integer(rng, spec.oncoming_lanes_range),
        lane_width=lane_width,
        # Crossing roads are drawn straight; a curve would bend them off the junction.
        curvature=0.0 if intersection else _uniform(rng, spec.curvature_range),
        median_width=_uniform(rng, spec.median_width_range),
        shoulder_width=_uniform(rng, spec.shoulder_width_range),
        sidewalk_width=_uniform(rng, spec.sidewalk_width_range),
        surface_color=_color(rng, spec.surface_palette, 5),
        shoulder_color=_color(rng, spec.shoulder_palette, 5),
        sidewalk_color=_color(rng, spec.sidewalk_palette, 6),
        ground_color=_color(rng, template.roadside.ground_palette, 10),
        marking_color=marks.color,
        center_style=marks.center_styles[int(rng.integers(len(marks.center_styles)))],
        lane_dashes=marks.lane_dashes,
        edge_lines=marks.edge_lines,
        line_width=_uniform(rng, marks.line_width_range),
        dash_length=_uniform(rng, marks.dash_length_range),
        gap_length=_uniform(rng, marks.gap_length_range),
        wear=_uniform(rng, marks.wear_range),
        crosswalk_y=crosswalk_y,
        intersection_y=intersection_y,
        cross_lanes=cross_lanes,
    )


def sample_camera(template: SceneTemplate, road: RoadParams,
                  rng: np.random.Generator) -> CameraParams:
    """Put the camera in one of the forward lanes and draw its pose."""
    spec = template.camera
    lane = int(rng.integers(road.forward_lanes))
    return CameraParams(
        x=road.lane_center(lane, oncoming=False) + _uniform(rng, spec.lateral_offset_range),
        height=_uniform(rng, spec.height_range),
        pitch_deg=_uniform(rng, spec.pitch_range),
        yaw_deg=_uniform(rng, spec.yaw_range),
        roll_deg=_uniform(rng, spec.roll_range),
        fov_deg=_uniform(rng, spec.fov_range),
    )


def sample_lighting(template: SceneTemplate, rng: np.random.Generator) -> LightingParams:
    """Draw the time of day, the sun's position and the exposure."""
    spec = template.lighting
    time_of_day = _weighted(rng, spec.time_of_day)
    if time_of_day == "day":
        elevation = _uniform(rng, spec.sun_elevation_range)
    elif time_of_day == "dusk":
        elevation = _uniform(rng, spec.dusk_sun_elevation_range)
    else:
        elevation = -20.0
    return LightingParams(time_of_day=time_of_day, sun_elevation_deg=elevation,
                          sun_azimuth_deg=_uniform(rng, spec.sun_azimuth_range),
                          exposure=_uniform(rng, spec.exposure_range))


def sample_weather(template: SceneTemplate, rng: np.random.Generator) -> WeatherParams:
    """Draw the weather kind and its intensity."""
    kind = _weighted(rng, template.weather.weights)
    if kind == "clear":
        return WeatherParams(kind=kind, intensity=0.0)
    bounds = template.weather.intensity_range.get(kind, DEFAULT_INTENSITY)
    return WeatherParams(kind=kind, intensity=_uniform(rng, bounds))


class _Occupancy:
    """Ground footprints taken so far, as circles, so objects never overlap."""

    def __init__(self, camera_x: float) -> None:
        # The ego car occupies the space around the camera.
        self._circles: list[tuple[float, float, float]] = [(camera_x, -1.0, 3.5)]

    def free(self, x: float, y: float, radius: float) -> bool:
        return all(math.hypot(x - cx, y - cy) >= radius + cr for cx, cy, cr in self._circles)

    def take(self, x: float, y: float, radius: float) -> None:
        self._circles.append((x, y, radius))


Spot = tuple[float, float, float]  # x, y, yaw
#: Gap (m) between a parked object's side and the road's edge it is parked against
#: (``synthgen fit`` measures setbacks from the same spot).
KERB_GAP = 0.15


def _placements(road: RoadParams) -> dict[str, bool]:
    return {
        "in_lane": True,
        "oncoming": road.oncoming_lanes > 0,
        "parked": True,
        "sidewalk": road.sidewalk_width > 0.5,
        "crosswalk": road.crosswalk_y is not None,
        "cross_traffic": road.intersection_y is not None,
        "roadside": True,
    }


def _spot(rng: np.random.Generator, road: RoadParams, category: str, placement: str,
          distance: tuple[float, float], width: float,
          setback: tuple[float, float] = (0.0, 0.0)) -> Spot:
    """One candidate position and heading for an object (may collide; caller checks);
    ``setback`` is the class's ``parked_setback_range``."""
    y = _uniform(rng, distance)
    jitter = float(rng.normal(0.0, 0.03))
    if placement in ("in_lane", "oncoming"):
        oncoming = placement == "oncoming"
        lanes = road.oncoming_lanes if oncoming else road.forward_lanes
        if category == "cyclist":
            lane, lateral = lanes - 1, road.lane_width / 2 - 0.6
        else:
            lane, lateral = int(rng.integers(lanes)), float(rng.normal(0.0, 0.2))
        offset = road.lane_center(lane, oncoming) + (-lateral if oncoming else lateral)
        return (float(road.center_x(y)) + offset, y,
                road.heading(y) + (math.pi if oncoming else 0.0) + jitter)
    if placement == "parked":
        right = rng.random() < 0.6 or road.oncoming_lanes == 0
        edge = road.right_edge if right else road.left_edge
        offset = edge - math.copysign(width / 2 + KERB_GAP, edge)
        if setback[1] > 0:  # drawn only when asked: other templates sample as before
            offset += math.copysign(_uniform(rng, setback), edge)
        return (float(road.center_x(y)) + offset, y,
                road.heading(y) + (0.0 if right else math.pi) + jitter)
    if placement == "sidewalk":
        right = rng.random() < 0.5
        edge = road.right_edge if right else road.left_edge
        offset = edge + math.copysign(_uniform(rng, (0.4, max(0.5, road.sidewalk_width - 0.4))),
                                      edge)
        heading = road.heading(y) + _either(rng, 0.0, math.pi) + float(
            rng.normal(0.0, 0.25))
        return float(road.center_x(y)) + offset, y, heading
    if placement == "crosswalk":
        assert road.crosswalk_y is not None
        y = road.crosswalk_y + _uniform(rng, (-1.2, 1.2))
        x = float(road.center_x(y)) + _uniform(rng, (road.left_edge, road.right_edge))
        return x, y, _either(rng, -1.0, 1.0) * math.pi / 2 + jitter * 3
    if placement == "cross_traffic":
        assert road.intersection_y is not None
        lane = int(rng.integers(road.cross_lanes))
        eastbound = rng.random() < 0.5
        offset = (lane + 0.5) * road.lane_width
        y = road.intersection_y + (offset if eastbound else -offset)
        if category == "cyclist":
            y += math.copysign(road.lane_width / 2 - 0.6, y - road.intersection_y)
        x = _uniform(rng, (-45.0, 45.0))
        # Right-hand traffic: the near half of the crossing road flows leftwards.
        return x, y, (math.pi / 2 if eastbound else -math.pi / 2) + jitter
    # roadside
    right = rng.random() < (0.8 if category == "traffic_sign" else 0.65)
    if category == "traffic_light":
        anchor = road.intersection_y if road.intersection_y is not None else road.crosswalk_y
        if anchor is not None:
            near = road.cross_width / 2 + 1.0 if road.intersection_y is not None else 2.0
            y = anchor + (-near if rng.random() < 0.6 else near + 2.0)
    edge = road.right_edge if right else road.left_edge
    beyond = 0.4 if category in ("traffic_light", "traffic_sign") else _uniform(rng, (0.5, 2.5))
    beyond += road.sidewalk_width * (0.15 if category != "pedestrian" else 0.6)
    offset = edge + math.copysign(beyond, edge)
    if category == "pedestrian":
        heading = road.heading(y) + _either(rng, 0.0, math.pi) + jitter
    else:
        # Signals and signs face the traffic that comes towards them on their side.
        heading = road.heading(y) + math.pi + float(rng.normal(0.0, 0.08))
    return float(road.center_x(y)) + offset, y, heading


def _variant(rng: np.random.Generator, category: str) -> tuple[str, float, RGB]:
    """Category-specific style, state and second colour."""
    if category == "car":
        # A car's state is its style value: paint finish, rims, trim and proportions.
        variant = CAR_VARIANTS[int(rng.integers(len(CAR_VARIANTS)))]
        return variant, float(rng.random()), (30, 30, 34)
    if category in ("pedestrian", "cyclist"):
        skin = f"skin{int(rng.integers(4))}"
        return skin, float(rng.random()), TROUSERS[int(rng.integers(len(TROUSERS)))]
    if category == "traffic_light":
        return "", float(rng.integers(3)), (25, 25, 25)
    if category == "traffic_sign":
        return SIGN_SHAPES[int(rng.integers(len(SIGN_SHAPES)))], 0.0, (245, 245, 240)
    return ("semi" if category == "truck" and rng.random() < 0.35 else "", 0.0, (30, 30, 34))


def sample_objects(template: SceneTemplate, road: RoadParams, camera: CameraParams,
                   rng: np.random.Generator) -> tuple[SceneObject, ...]:
    """Draw every labelled object: count, placement, position, size, colour, style."""
    available = _placements(road)
    occupancy = _Occupancy(camera.x)
    objects: list[SceneObject] = []
    for category in CATEGORY_NAMES:
        spec: ObjectClass | None = template.objects.get(category)
        if spec is None:
            continue
        weights = {k: w for k, w in spec.placements.items() if available[k] and w > 0}
        for _ in range(_integer(rng, spec.count_range)):
            if not weights:
                break
            placement = _weighted(rng, weights)
            length = _uniform(rng, spec.length_range)
            width = _uniform(rng, spec.width_range)
            height = _uniform(rng, spec.height_range)
            color = _color(rng, spec.palette)
            variant, state, secondary = _variant(rng, category)
            elevation = (_uniform(rng, spec.mount_height_range)
                         if category in ("traffic_light", "traffic_sign") else 0.0)
            radius = 0.5 * math.hypot(length, width) * 0.85
            for _try in range(PLACEMENT_TRIES):
                x, y, yaw = _spot(rng, road, category, placement, spec.distance_range, width,
                                  spec.parked_setback_range)
                if occupancy.free(x, y, radius):
                    occupancy.take(x, y, radius)
                    objects.append(SceneObject(
                        instance_id=len(objects) + 1, category=category, x=x, y=y, yaw=yaw,
                        length=length, width=width, height=height, color=color,
                        placement=placement, variant=variant, state=state,
                        secondary_color=secondary, elevation=elevation))
                    break
    return tuple(objects)


def _along_road(start: float, stop: float, step: Callable[[], float]) -> list[float]:
    """Distances from ``start`` to ``stop`` separated by ``step()`` metres."""
    positions, y = [], start
    while y < stop:
        positions.append(y)
        y += step()
    return positions


def _clear_of_junction(road: RoadParams, y: float, margin: float) -> bool:
    if road.intersection_y is None:
        return True
    return abs(y - road.intersection_y) > road.cross_width / 2 + road.sidewalk_width + margin


#: Ground (m) kept clear around a set-back parked object's body; what scenery is taken
#: to cover on the ground: a tree's trunk and a street light's pole (half a side of the
#: square they stand on) and a barrier (half its thickness).
SETBACK_CLEARANCE = 0.2
TRUNK_HALF = 0.3
POLE_HALF = 0.15
BARRIER_HALF = 0.25

#: A rectangle on the ground: centre x, y, heading (radians from +y, positive to the
#: right), half length along the heading, half width across it.
Footprint = tuple[float, float, float, float, float]


def _set_back(template: SceneTemplate, objects: Sequence[SceneObject]) -> list[Footprint]:
    """Footprints of the objects scenery gives way to: parked objects of a class with a
    ``parked_setback_range``, their bodies grown by :data:`SETBACK_CLEARANCE`."""
    classes = {name for name, spec in template.objects.items()
               if spec.parked_setback_range[1] > 0}
    return [(obj.x, obj.y, obj.yaw, obj.length / 2 + SETBACK_CLEARANCE,
             obj.width / 2 + SETBACK_CLEARANCE)
            for obj in objects if obj.placement == "parked" and obj.category in classes]


def _corners(rect: Footprint) -> list[tuple[float, float]]:
    x, y, yaw, half_length, half_width = rect
    # Unit vectors along the heading (x = sin, y = cos: yaw is measured from +y) and across.
    ax, ay = math.sin(yaw), math.cos(yaw)
    cx, cy = ay, -ax
    return [(x + i * half_length * ax + j * half_width * cx,
             y + i * half_length * ay + j * half_width * cy)
            for i, j in ((1, 1), (1, -1), (-1, -1), (-1, 1))]


def _overlap(a: Footprint, b: Footprint) -> bool:
    """Whether two ground rectangles overlap (separating axes: they do unless one of
    their four edge directions separates their projections)."""
    corners_a, corners_b = _corners(a), _corners(b)
    for yaw in (a[2], b[2]):
        for ux, uy in ((math.sin(yaw), math.cos(yaw)), (math.cos(yaw), -math.sin(yaw))):
            pa = [x * ux + y * uy for x, y in corners_a]
            pb = [x * ux + y * uy for x, y in corners_b]
            if max(pa) <= min(pb) or max(pb) <= min(pa):
                return False
    return True


def _clear(footprints: list[Footprint], rect: Footprint) -> bool:
    """Whether a piece of scenery standing on ``rect`` keeps clear of every footprint."""
    return not any(_overlap(rect, footprint) for footprint in footprints)


def sample_props(template: SceneTemplate, road: RoadParams, time_of_day: str,
                 rng: np.random.Generator,
                 objects: Sequence[SceneObject] = ()) -> tuple[Prop, ...]:
    """Draw the unlabelled scenery: buildings, trees, street lights and barriers.

    A piece that would stand where a set-back parked object stands (see the module
    docstring) is left out; its random values are drawn all the same, so the rest of
    the scenery is what it would be without the object.
    """
    spec = template.roadside
    far = template.max_distance + 40.0
    props: list[Prop] = []
    footprints = _set_back(template, objects)
    night = time_of_day != "day"
    edges = {1.0: road.right_edge + road.sidewalk_width,
             -1.0: road.left_edge - road.sidewalk_width}

    buildings = spec.buildings
    density = _uniform(rng, buildings.density_range)
    if density > 0:
        for side, edge in edges.items():
            y = -15.0
            while y < far:
                length = _uniform(rng, buildings.length_range)
                gap = float(rng.exponential(6.0 * (1.0 - density) + 0.5))
                centre = y + length / 2
                if rng.random() < density and _clear_of_junction(road, centre, length / 2 + 1):
                    depth = _uniform(rng, (8.0, 16.0))
                    offset = edge + side * (_uniform(rng, buildings.setback_range) + depth / 2)
                    building = Prop(
                        kind="building", x=float(road.center_x(centre)) + offset, y=centre,
                        yaw=road.heading(centre), length=length, width=depth,
                        height=_uniform(rng, buildings.height_range),
                        color=_color(rng, buildings.palette, 12),
                        secondary_color=buildings.window_color,
                        lit_fraction=_uniform(rng, (0.2, 0.6)) if night else 0.0)
                    if _clear(footprints, (building.x, centre, building.yaw, length / 2,
                                           depth / 2)):
                        props.append(building)
                y += length + gap

    trees = spec.trees
    density = _uniform(rng, trees.density_range)
    if density > 0:
        for side, edge in edges.items():
            for y in _along_road(-5.0, far,
                                 lambda: float(rng.exponential(4.0 / density)) + 2.0):
                if not _clear_of_junction(road, y, 2.0):
                    continue
                height = _uniform(rng, trees.height_range)
                offset = edge + side * _uniform(rng, trees.setback_range)
                tree = Prop(kind="tree", x=float(road.center_x(y)) + offset, y=y, yaw=0.0,
                            length=height * 0.5, width=height * 0.5, height=height,
                            color=_color(rng, trees.palette, 14),
                            secondary_color=(85, 65, 45),
                            variant="conifer" if rng.random() < 0.3 else "broadleaf")
                if _clear(footprints, (tree.x, y, 0.0, TRUNK_HALF, TRUNK_HALF)):
                    props.append(tree)

    spacing = _uniform(rng, spec.street_light_spacing_range)
    if spacing > 0:
        start = _uniform(rng, (2.0, spacing))
        for i, y in enumerate(_along_road(start, far, lambda: spacing)):
            side = 1.0 if i % 2 == 0 or road.oncoming_lanes == 0 else -1.0
            edge = road.right_edge if side > 0 else road.left_edge
            # The arm reaches over the road: the lamp's local +y points at the centre line.
            facing = -math.pi / 2 if side > 0 else math.pi / 2
            x = float(road.center_x(y)) + edge + side * 0.5
            if not _clear(footprints, (x, y, 0.0, POLE_HALF, POLE_HALF)):
                continue
            props.append(Prop(kind="street_light", x=x,
                              y=y, yaw=road.heading(y) + facing,
                              length=0.3, width=min(2.5, abs(edge) + 0.5), height=8.0,
                              color=(110, 112, 115), lit_fraction=1.0 if night else 0.0))

    if spec.barriers != "none":
        offsets = []
        if spec.barriers in ("edge", "both"):
            offsets += [road.right_edge + 0.3, road.left_edge - 0.3]
        if spec.barriers in ("median", "both") and road.median_width > 0:
            offsets.append(0.0)
        color = _color(rng, spec.barrier_palette, 4)
        segment = 6.0
        for offset in offsets:
            for y in np.arange(-4.0, far, segment):
                centre = float(y) + segment / 2
                x = float(road.center_x(centre)) + offset
                if not _clear_of_junction(road, centre, 1.0) or not _clear(
                        footprints, (x, centre, road.heading(centre), segment / 2,
                                     BARRIER_HALF)):
                    continue
                props.append(Prop(kind="barrier", x=x,
                                  y=centre, yaw=road.heading(centre), length=segment,
                                  width=0.5, height=0.85, color=color))
    return tuple(props)


def sample_effects(template: SceneTemplate, weather: WeatherParams,
                   rng: np.random.Generator) -> EffectParams:
    """Draw sensor imperfections and weather particles."""
    spec = template.sensor
    blur = 0
    if rng.random() < spec.motion_blur_probability:
        blur = _integer(rng, spec.motion_blur_range) | 1
    particles = np.zeros((0, 3), np.float32)
    slant = 0.0
    if weather.kind in ("rain", "snow"):
        per_mpx = RAIN_DROPS if weather.kind == "rain" else SNOW_FLAKES
        count = int(per_mpx * weather.intensity)
        # Columns: u, v in [0, 1) and a size/brightness factor in [0, 1).
        particles = rng.random((count, 3)).astype(np.float32)
        slant = _uniform(rng, (-0.25, 0.25))
    return EffectParams(
        noise=_uniform(rng, spec.noise_range),
        noise_seed=int(rng.integers(2**31)),
        motion_blur=blur,
        motion_angle_deg=_uniform(rng, (-20.0, 20.0)),
        vignetting=_uniform(rng, spec.vignetting_range),
        particles=particles,
        rain_slant=slant,
        ground_texture_seed=int(rng.integers(2**31)),
    )


def sample_scene(template: SceneTemplate, rng: np.random.Generator, *, seed: int = 0,
                 index: int = 0) -> Scene:
    """Draw every random value of one image from ``rng``.

    Args:
        template: A validated template.
        rng: The image's generator (see :func:`image_rng`); nothing else is random.
        seed: Recorded in the scene for provenance only.
        index: Recorded in the scene for provenance only.

    Returns:
        The fully determined scene.
    """
    road = sample_road(template, rng)
    camera = sample_camera(template, road, rng)
    lighting = sample_lighting(template, rng)
    weather = sample_weather(template, rng)
    objects = sample_objects(template, road, camera, rng)
    props = sample_props(template, road, lighting.time_of_day, rng, objects)
    effects = sample_effects(template, weather, rng)
    return Scene(template=template.name, seed=seed, index=index, camera=camera,
                 lighting=lighting, weather=weather, road=road, horizon=template.roadside.horizon,
                 objects=objects, props=props, effects=effects)


def sample_appearance(rng: np.random.Generator) -> AppearanceParams:
    """Draw how strongly an image is matched to the ``--look-like`` camera.

    Drawn from the image's generator after :func:`sample_scene`, and only with
    ``--look-like``: the scene itself is the same with or without it.
    """
    return AppearanceParams(strength=_uniform(rng, APPEARANCE_STRENGTH_RANGE),
                            blur=_uniform(rng, APPEARANCE_BLUR_RANGE),
                            noise=_uniform(rng, APPEARANCE_NOISE_RANGE),
                            noise_seed=int(rng.integers(2**31)))


def sample_sprites(bank: SpriteBank, scene: Scene, rng: np.random.Generator,
                   size: tuple[int, int]) -> tuple[SpritePick, ...]:
    """Draw which real cut-out (``--sprites``) stands in for each object of a class the
    bank holds: one of those that fit the angle it is seen from, its height in an image
    of ``size`` and the aspect of its box best (see
    :meth:`synthgen.render.sprites.SpriteBank.candidates`), how soft its pasted edge
    is, and whether the cut-out's decoy is pasted instead (the bank's ``decoy_share`` of
    those that have one; nothing is drawn for it when the share is 0).

    Drawn from the image's generator after everything else, and only with ``--sprites``:
    the scene itself is the same with or without it.
    """
    from synthgen.render.camera import Camera  # noqa: PLC0415
    from synthgen.render.sprites import MAX_FEATHER, box_aspect, view_of  # noqa: PLC0415

    camera = Camera(scene.camera, *size)
    picks = []
    for obj in scene.objects:
        view = view_of(obj.yaw, obj.x, obj.y, scene.camera.x)
        depth = float(camera.to_camera(np.array([obj.x, obj.y, obj.elevation
                                                 + obj.height / 2]))[2])
        height = obj.height * camera.focal / depth if depth > 1.0 else None
        aspect = box_aspect(obj.length, obj.width, obj.height, view)
        candidates = bank.candidates(obj.category, view, height, aspect)
        if not candidates:
            continue
        sprite, mirrored = candidates[int(rng.integers(len(candidates)))]
        feather = float(rng.uniform(0.0, MAX_FEATHER))
        # Drawn only when decoys are asked for: without, the draws are those of before.
        decoy = (bank.decoy_share > 0 and bool(rng.random() < bank.decoy_share)
                 and bank.sprites[sprite].decoy is not None)
        picks.append(SpritePick(instance_id=obj.instance_id, sprite=sprite,
                                mirrored=mirrored, feather=feather, decoy=decoy))
    return tuple(picks)


def sample_background(photos: int, rng: np.random.Generator) -> BackgroundPick:
    """Draw which of a bank's ``photos`` real photos (``--backgrounds``) an image is
    drawn over, and whether it is mirrored.

    Drawn from the image's generator after everything else (``--sprites``' picks too),
    and only with ``--backgrounds``: the scene itself is the same with or without it.
    """
    return BackgroundPick(background=int(rng.integers(photos)),
                          mirrored=bool(rng.random() < 0.5))
