"""Sampling of placements: set-back parked objects, and the scenery giving way to them."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.scene import sampling
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import (
    deep_merge,
    load_raw,
    load_template,
    resolve_template_path,
    validate_template,
)

SETBACK = (2.0, 6.0)


def _template(setback: tuple[float, float], base: str = "urban"):
    """``base`` with its cars' ``parked_setback_range`` set, and more of them parked."""
    raw = deep_merge(load_raw(resolve_template_path(base)), {"objects": {"car": {
        "count_range": [4, 10], "placements": {"parked": 0.7, "in_lane": 0.3},
        "parked_setback_range": list(setback)}}, "name": f"{base}-set-back"})
    return validate_template(raw, base)


SET_BACK = _template(SETBACK)
AT_THE_EDGE = _template((0.0, 0.0))


def _beyond_the_edge(scene, obj) -> float:
    """How far beyond its place against the road's edge a parked object stands."""
    lateral = obj.x - float(scene.road.center_x(obj.y))
    edge = scene.road.right_edge if lateral > 0 else scene.road.left_edge
    return abs(lateral) - abs(edge) + obj.width / 2 + 0.15


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 10_000))
def test_parked_cars_stand_within_their_setback_and_scenery_gives_way(index):
    scene = sample_scene(SET_BACK, image_rng(5, index))
    parked = [o for o in scene.objects if o.placement == "parked" and o.category == "car"]
    for obj in parked:
        assert SETBACK[0] - 1e-9 <= _beyond_the_edge(scene, obj) <= SETBACK[1] + 1e-9
    footprints = [(o.x - float(scene.road.center_x(o.y)), o.y,
                   0.5 * math.hypot(o.length, o.width) * 0.85) for o in parked]
    for prop in scene.props:
        lateral = prop.x - float(scene.road.center_x(prop.y))
        if prop.kind == "building":
            half_across, half_along = prop.width / 2, prop.length / 2
        elif prop.kind == "barrier":
            half_across, half_along = sampling.BARRIER_CLEARANCE, prop.length / 2
        elif prop.kind == "tree":
            half_across = half_along = sampling.TRUNK_CLEARANCE
        else:
            half_across = half_along = sampling.POLE_CLEARANCE
        for fl, fy, r in footprints:
            assert (abs(fy - prop.y) >= half_along + r - 1e-9
                    or abs(fl - lateral) >= half_across + r - 1e-9), (prop, fl, fy, r)


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 10_000))
def test_without_a_setback_parked_cars_stand_against_the_edge(index):
    scene = sample_scene(AT_THE_EDGE, image_rng(5, index))
    for obj in scene.objects:
        if obj.placement == "parked":
            assert _beyond_the_edge(scene, obj) == pytest.approx(0.0, abs=1e-9)


def test_the_scenery_a_set_back_car_leaves_is_what_it_would_be_without_it():
    """Scenery is drawn the same with or without the cars; the cars only take away
    the pieces standing where they stand."""
    scenes_losing_some = 0
    for index in range(12):
        scene = sample_scene(SET_BACK, image_rng(9, index))
        rng = image_rng(9, 1000 + index)
        twin = copy.deepcopy(rng)
        kept = sampling.sample_props(SET_BACK, scene.road, "day", rng, scene.objects)
        every = sampling.sample_props(SET_BACK, scene.road, "day", twin, ())
        assert rng.random() == twin.random()  # the same values drawn
        assert [prop for prop in every if prop in kept] == list(kept)
        left_out = [prop for prop in every if prop not in kept]
        footprints = sampling._set_back(SET_BACK, scene.road, scene.objects)
        for prop in left_out:
            lateral = prop.x - float(scene.road.center_x(prop.y))
            assert any(math.hypot(fl - lateral, fy - prop.y) < r + prop.length + prop.width
                       for fl, fy, r in footprints), prop
        scenes_losing_some += bool(left_out)
    # Cars parked over sidewalks and verges take away scenery in many scenes.
    assert scenes_losing_some >= 4


def test_a_template_without_setbacks_gives_way_to_nothing():
    """Without ``parked_setback_range`` nothing is drawn for it and no scenery is left
    out, so bundled templates without it sample as before."""
    scene = sample_scene(AT_THE_EDGE, image_rng(2, 3))
    rng = image_rng(2, 4)
    twin = copy.deepcopy(rng)
    assert (sampling.sample_props(AT_THE_EDGE, scene.road, "day", rng, scene.objects)
            == sampling.sample_props(AT_THE_EDGE, scene.road, "day", twin, ()))


def test_the_bundled_kitti_template_sets_parked_cars_back():
    """scenes/kitti.yaml (fitted): its parked cars spread beyond the road's edge."""
    kitti = load_template("kitti")
    low, high = kitti.objects["car"].parked_setback_range
    beyond = [_beyond_the_edge(scene, o)
              for scene in (sample_scene(kitti, image_rng(1, i)) for i in range(40))
              for o in scene.objects if o.placement == "parked" and o.category == "car"]
    assert len(beyond) > 20
    assert low - 1e-9 <= min(beyond) and max(beyond) <= high + 1e-9
    assert np.median(beyond) > 1.0
