"""End-to-end renderer and label invariants on sampled scenes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.generate.images import render_sample
from synthgen.labels import LabelOptions, compute_labels
from synthgen.render.order import topological
from synthgen.render.painter import render
from synthgen.scene.model import Prop, SceneObject
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template

TEMPLATES = {name: load_template(name) for name in ("urban", "highway", "rural", "intersection")}
SIZE = (256, 144)


@settings(max_examples=24, deadline=None)
@given(st.sampled_from(sorted(TEMPLATES)), st.integers(0, 2**31), st.integers(0, 10**6))
def test_labels_are_tight_on_visible_pixels_of_the_final_map(name, seed, index):
    scene = sample_scene(TEMPLATES[name], image_rng(seed, index))
    layers = render(scene, *SIZE)
    ids = layers.instance_map
    height, width = ids.shape
    assert set(np.unique(ids)) <= {0} | {o.instance_id for o in scene.objects}
    by_id = {o.instance_id: o for o in layers.objects}
    labels = compute_labels(ids, layers.objects, LabelOptions(min_pixels=1, min_visibility=0))
    assert {label.instance_id for label in labels} == set(np.unique(ids)) - {0}
    for label in labels:
        mask = ids == label.instance_id
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert label.bbox == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        assert 0 <= label.bbox[0] and label.bbox[2] <= width
        assert 0 <= label.bbox[1] and label.bbox[3] <= height
        obj = by_id[label.instance_id]
        # What is seen of an object lies inside its own projection: the renderer's
        # projection accounts for every visible pixel without the labels correcting it.
        assert obj.amodal_xyxy is not None
        x0, y0, x1, y1 = obj.amodal_xyxy
        assert mask[y0:y1, x0:x1].sum() == mask.sum()
        assert mask.sum() <= obj.inframe_area <= obj.projected_area
        assert 0 < label.visibility <= 1 and 0 <= label.truncation < 1


def test_rendering_is_deterministic_and_indices_differ():
    template = TEMPLATES["urban"]
    a = render_sample(template, seed=5, index=3, size=SIZE)
    b = render_sample(template, seed=5, index=3, size=SIZE)
    c = render_sample(template, seed=5, index=4, size=SIZE)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.instance_map, b.instance_map)
    assert a.labels == b.labels
    assert not np.array_equal(a.image, c.image)


#: length, width, height (m) of the objects the hand-made scenes below use
DIMENSIONS = {"car": (4.4, 1.8, 1.5), "bus": (12.0, 2.5, 3.1), "pedestrian": (0.3, 0.5, 1.75)}


def _scene_with(template_name: str, *placements):
    """A sampled scene whose objects are replaced: (category, x_offset_from_camera, y)."""
    scene = sample_scene(TEMPLATES[template_name], image_rng(1, 0))
    objects = []
    for i, (category, dx, y) in enumerate(placements, start=1):
        length, width, height = DIMENSIONS[category]
        objects.append(SceneObject(instance_id=i, category=category, x=scene.camera.x + dx, y=y,
                                   yaw=0.0, length=length, width=width, height=height,
                                   color=(150, 30, 30), placement="in_lane", variant="skin0"))
    camera = dataclasses.replace(scene.camera, yaw_deg=0.0, pitch_deg=1.0, roll_deg=0.0,
                                 fov_deg=80.0)
    return dataclasses.replace(scene, objects=tuple(objects), props=(), camera=camera)


@pytest.mark.parametrize("placements,expected", [
    # a car right ahead is seen whole
    ((("car", 0.0, 15.0),), {1}),
    # a car behind the camera is not labelled
    ((("car", 0.0, -12.0),), set()),
    # a car far off to the side, out of the field of view, is not labelled
    ((("car", 60.0, 10.0),), set()),
    # a pedestrian hidden behind a bus gets no label; the bus does
    ((("pedestrian", 0.0, 30.0), ("bus", 0.0, 15.0)), {2}),
])
def test_who_gets_a_label(placements, expected):
    scene = _scene_with("rural", *placements)
    layers = render(scene, 320, 192)
    labels = compute_labels(layers.instance_map, layers.objects)
    assert {label.instance_id for label in labels} == expected


def test_occluded_and_truncated_objects_say_so():
    # A car partly behind a nearer one (offset sideways), and one cut by the frame edge.
    scene = _scene_with("rural", ("car", 1.2, 20.0), ("car", 0.0, 12.0), ("car", -6.5, 8.0))
    layers = render(scene, 320, 192)
    labels = {label.instance_id: label for label in compute_labels(layers.instance_map,
                                                                    layers.objects)}
    assert labels[1].occluded >= 1 and labels[1].visibility < 0.9
    assert labels[2].occluded == 0 and labels[2].truncation == 0
    assert labels[3].truncation > 0 and labels[3].bbox[0] == 0


def test_a_car_mostly_outside_the_frame_is_labelled_with_its_truncation():
    """The frame edge does not count against an object: 97 % of this car's projection is
    outside the frame, but the 2,000-odd pixels inside show plainly and nothing hides them.
    A detector trained without this box would learn that they are background."""
    scene = _scene_with("rural", ("car", -6.0, 5.0))
    layers = render(scene, 640, 384)
    [label] = compute_labels(layers.instance_map, layers.objects)  # default thresholds
    assert label.truncation > 0.95 and label.visibility < LabelOptions().min_visibility
    assert label.occluded == 0 and label.area > 2000 and label.bbox[0] == 0


@pytest.mark.parametrize("frame", [(640, 384), (320, 192)])
@pytest.mark.parametrize("pitch", [-2.0, 0.0, 2.0, 4.0, 8.0])
@pytest.mark.parametrize("category,variant,size,elevation", [
    ("traffic_light", "", (0.3, 0.35, 0.9), 3.0),
    ("traffic_light", "", (0.3, 0.35, 0.9), 1.2),  # below the camera
    ("traffic_sign", "circle", (0.05, 0.7, 0.7), 1.6),
    ("traffic_sign", "octagon", (0.05, 0.8, 0.8), 2.0),
    ("traffic_sign", "square", (0.05, 0.7, 0.7), 1.0),
])
def test_an_unoccluded_light_or_sign_is_not_hidden_by_its_own_pole(
        frame, pitch, category, variant, size, elevation):
    """The pole (unlabelled) stands behind the labelled part and stops below it: seen
    from the front, the depth test never gives it a pixel of the part (a pole reaching
    into the part's face would take pixels of it and mark it occluded)."""
    scene = _scene_with("rural")
    length, width, height = size
    facing_camera = SceneObject(
        instance_id=1, category=category, x=scene.camera.x + 1.5, y=9.0, yaw=np.pi,
        length=length, width=width, height=height, color=(200, 40, 40), placement="beside",
        variant=variant, state=1.0, secondary_color=(240, 240, 240), elevation=elevation)
    camera = dataclasses.replace(scene.camera, pitch_deg=pitch)
    layers = render(dataclasses.replace(scene, objects=(facing_camera,), camera=camera),
                    *frame)
    [label] = compute_labels(layers.instance_map, layers.objects)
    assert label.truncation == 0
    # At most the few pixels where pole and plate meet may go to the pole.
    assert label.occluded == 0 and label.visibility > 0.97, label


@pytest.mark.parametrize("name,index", [("urban", 0), ("highway", 1), ("rural", 2),
                                        ("intersection", 3), ("urban", 5), ("rural", 7)])
def test_culling_what_cannot_show_changes_no_pixel(monkeypatch, name, index):
    import synthgen.render.painter as render_module

    scene = sample_scene(TEMPLATES[name], image_rng(11, index))
    culled = render(scene, *SIZE)
    everything = render_module.build_models
    monkeypatch.setattr(render_module, "build_models",
                        lambda scene, camera=None, light=None: everything(scene))
    full = render(scene, *SIZE)
    assert np.array_equal(culled.image, full.image)
    assert np.array_equal(culled.instance_map, full.instance_map)
    assert np.array_equal(culled.depth, full.depth)
    # Objects in view are measured the same; a culled one has no pixel in the frame, so it
    # could never be labelled (its off-screen projection is simply not measured).
    for a, b in zip(culled.objects, full.objects, strict=True):
        assert a == b if b.inframe_area else a.inframe_area == 0


def _beside_a_building(*placements):
    """:func:`_scene_with` plus a building 50 m long beside the road, 8 m wide, its
    road-facing wall 8 m right of the camera, from 5 m to 55 m ahead: its centre (30 m
    ahead) is nearer than things standing in front of its far half."""
    scene = _scene_with("rural", *placements)
    building = Prop(kind="building", x=scene.camera.x + 12.0, y=30.0, yaw=0.0, length=50.0,
                    width=8.0, height=12.0, color=(120, 110, 100))
    return dataclasses.replace(scene, props=(building,))


def test_a_long_building_is_not_drawn_over_what_stands_in_front_of_it():
    # Far to near by model centres, a painter drew the building last, over the
    # pedestrian; the depth test must not either (at twice the size: the pedestrian is
    # about 20 pixels tall).
    scene = _beside_a_building(("pedestrian", 6.5, 35.0), ("pedestrian", 20.0, 35.0))
    layers = render(scene, 2 * SIZE[0], 2 * SIZE[1])
    in_front, behind = layers.objects
    assert in_front.inframe_area > 40
    assert np.count_nonzero(layers.instance_map == 1) == in_front.inframe_area
    assert behind.inframe_area > 40 and not (layers.instance_map == 2).any()
    labels = compute_labels(layers.instance_map, layers.objects)
    assert [(label.instance_id, label.occluded) for label in labels] == [(1, 0)]


@given(st.permutations(range(6)), st.permutations(range(6)),
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=8))
def test_topological_order_keeps_every_rule_and_otherwise_the_preferred_order(
        preferred, ranking, pairs):
    # Rules that agree with some ranking (so they have no cycle): i before j.
    first = np.zeros((6, 6), bool)
    for a, b in pairs:
        if ranking.index(a) < ranking.index(b):
            first[a, b] = True
    order = topological(first, np.array(preferred))
    position = {item: k for k, item in enumerate(order)}
    assert sorted(order) == list(range(6))
    assert all(position[i] < position[j] for i, j in np.argwhere(first))
    if not first.any():
        assert order == list(preferred)


@pytest.mark.parametrize("distance", [20.0, 60.0, 100.0, 120.0, 160.0])
def test_a_far_lamp_too_small_for_a_pixel_still_glows(distance):
    # At night the tail lights of a car ahead glow at every distance, also once they
    # are too small to take a pixel's centre; behind a nearer bus they do not (only the
    # bus's own lights glow).
    night = dict(time_of_day="night")
    alone = _scene_with("highway", ("car", 0.0, distance))
    alone = dataclasses.replace(alone, lighting=dataclasses.replace(alone.lighting, **night))
    layers = render(alone, 640, 384)
    assert (layers.instance_map == 1).any()
    assert len(layers.lights) == 2
    hidden = _scene_with("highway", ("car", 0.0, distance), ("bus", 0.0, 10.0))
    hidden = dataclasses.replace(hidden, lighting=dataclasses.replace(hidden.lighting, **night))
    bus = dataclasses.replace(hidden, objects=hidden.objects[1:])
    assert render(hidden, 640, 384).lights == render(bus, 640, 384).lights


def test_a_hidden_lamp_casts_no_glow():
    # At night, a car right behind a bus: its lamps are drawn, then the bus over them.
    night = dict(time_of_day="night")
    both = _scene_with("rural", ("car", 0.0, 16.0), ("bus", 0.0, 8.0))
    both = dataclasses.replace(both, lighting=dataclasses.replace(both.lighting, **night))
    layers = render(both, *SIZE)
    assert not (layers.instance_map == 1).any()
    alone = dataclasses.replace(both, objects=both.objects[1:])
    assert layers.lights == render(alone, *SIZE).lights


def test_strokes_reaching_into_the_frame_from_outside_are_drawn():
    # A cyclist's wheels and arms are thick strokes: one whose centre line lies just
    # outside the frame still reaches into it, and was skipped while counted in the
    # cyclist's projection (marking an unoccluded cyclist occluded).
    scene = _scene_with("rural")
    camera = dataclasses.replace(scene.camera, height=1.5, fov_deg=80.0, pitch_deg=0.0)
    for dx in np.arange(-4.6, -3.0, 0.05):
        cyclist = SceneObject(instance_id=1, category="cyclist", x=camera.x + dx, y=4.0,
                              yaw=0.0, length=1.7, width=0.6, height=1.75,
                              color=(200, 50, 40), placement="in_lane", variant="skin0",
                              state=0.3, secondary_color=(40, 45, 60))
        layers = render(dataclasses.replace(scene, camera=camera, objects=(cyclist,)),
                        640, 360)
        [projection] = layers.objects
        assert np.count_nonzero(layers.instance_map == 1) == projection.inframe_area, dx


@pytest.mark.parametrize("name", ["urban", "intersection"])
def test_lights_and_signs_alone_are_never_occluded(name):
    # Every sampled light and sign, alone in its scene (no scenery, no other object): its
    # own pole must not take a pixel of it, whatever the camera's pitch.
    template = TEMPLATES[name]
    for index in range(40):
        scene = sample_scene(template, image_rng(4, index))
        for obj in scene.objects:
            if obj.category in ("traffic_light", "traffic_sign"):
                layers = render(dataclasses.replace(scene, objects=(obj,), props=()), 320, 192)
                for label in compute_labels(layers.instance_map, layers.objects):
                    assert label.occluded == 0, (index, obj)
                    assert label.area == layers.objects[0].inframe_area, (index, obj)
