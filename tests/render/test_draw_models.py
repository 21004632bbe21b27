"""Drawing models: the batched painter against the drawing rules written out plainly.

``_Painter.draw_models`` projects, culls, shades and colours the polygons of every model
of a scene in a few array operations and gives them to the rasterizer in one call.
``_reference_draw`` below applies the same rules the slow, obvious way, model by model,
part by part, polygon by polygon, each its own call of the rasterizer (every polygon
that crosses the near plane clipped on its own, every stroke cut into its quads). Both
must leave the same image, instance id map, depth, per-object projections and lamp
lights, for sampled scenes and for cameras that look at things from everywhere, close
up included.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synthgen.render import zbuffer
from synthgen.render.camera import NEAR, clip_near
from synthgen.render.culling import build_models
from synthgen.render.lighting import shading
from synthgen.render.order import draw_order
from synthgen.render.painter import _MATERIAL_ID, DECAL_SLACK, DETAIL_PIXELS, _Painter, single
from synthgen.render.projections import projections
from synthgen.render.shapes import Model
from synthgen.scene.model import SceneObject
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template

SIZE = (320, 192)


def _reference_draw(painter: _Painter, models: list[Model]) -> None:
    camera, light = painter.camera, painter.light
    models = [models[i] for i in draw_order(camera, models)]
    # Camera coordinates of every vertex in one call, like the painter (a matrix product
    # of another shape may round differently in the last bit).
    cam = camera.to_camera(np.concatenate([m.points for m in models]))
    first_vertex = 0
    for model in models:
        local = painter.local_light(model.center) * (1.0 if model.instance_id else 0.4)
        factors = painter_shading(painter, model, local)
        model_cam = cam[first_vertex:first_vertex + len(model.points)]
        first_vertex += len(model.points)
        part_depth = [float(camera.to_camera(c)[2]) for c in model.part_centers]
        # Unlabelled parts (a pole) first, then far to near.
        labelled = [bool(model.labelled[start]) for start, _ in model.parts]
        for part in sorted(range(len(model.parts)), key=lambda k: (labelled[k], -part_depth[k])):
            for i in range(*model.parts[part]):
                face = int(model.parent[i])
                # A face is drawn if it faces the camera; a decal if its face is.
                first = model.points[model.starts[face]]
                if not model.two_sided[face] and \
                        np.dot(camera.position - first, model.normals[face]) <= 0:
                    continue
                face_cam = model_cam[model.starts[face]:model.starts[face] + model.counts[face]]
                if model.detail[i] and not _large(painter, face_cam):
                    continue
                shown = _reference_polygon(painter, model, i, factors[face],
                                           model_cam[model.starts[i]:model.starts[i]
                                                     + model.counts[i]])
                if shown and i in model.batches:
                    _reference_batches(painter, model, i, factors[i])
    np.copyto(painter.depth, painter.model_depth, where=painter.model_depth < np.inf)
    painter.drop_hidden_lights()
    painter.texture_scenery()
    assert light is painter.light


def painter_shading(painter: _Painter, model: Model, local: float) -> np.ndarray:
    return shading(painter.light, model.normals, model.two_sided,
                   np.full(len(model.counts), local))


def _large(painter: _Painter, face_cam: np.ndarray) -> bool:
    """Whether a face (camera coordinates) is large enough on screen for its details:
    it spans DETAIL_PIXELS or more, or it crosses the near plane."""
    if (face_cam[:, 2] < NEAR).any():
        return True
    pixels = painter.camera.camera_to_pixels(face_cam)
    return bool((pixels.max(axis=0) - pixels.min(axis=0)).max() >= DETAIL_PIXELS)


def _draw_one(painter: _Painter, xy: np.ndarray, inverse: np.ndarray, color, value: int,
              slack: float) -> int:
    """One polygon, one call of the rasterizer; its number in the face buffer."""
    number = painter.faces_drawn
    zbuffer.draw(np.asarray(xy, np.float64), np.asarray(inverse, np.float64),
                 np.zeros(1, np.int64), np.array([len(xy)], np.int64), np.zeros(1, np.int64),
                 np.asarray(color, np.float32).reshape(1, 3), np.array([value], np.int64),
                 np.array([slack]), painter.image, painter.ids, painter.model_depth,
                 painter.face, number)
    painter.faces_drawn += 1
    return number


def _reference_polygon(painter: _Painter, model: Model, i: int, factor: np.ndarray,
                       cam: np.ndarray) -> bool:
    """Draw polygon ``i`` by the rules; whether it was drawn (in front and on screen)."""
    closed = bool(model.closed[i])
    width = float(model.line_widths[i])
    depth = unclipped_depth = float(np.add.reduceat(cam[:, 2], [0])[0] / len(cam))
    if (cam[:, 2] < NEAR).any():
        cam = clip_near(cam) if closed else cam[cam[:, 2] >= NEAR]
        if len(cam) < (2 if width > 0 else 3):
            return False
        depth = float(cam[:, 2].mean())
    thickness = (max(1, int(np.rint(width * painter.camera.focal / max(depth, NEAR))))
                 if width > 0 else 0)
    xy = np.clip(painter.camera.camera_to_pixels(cam), -zbuffer.LIMIT, zbuffer.LIMIT)
    inverse = 1.0 / cam[:, 2]
    if thickness:
        # Each segment a quad ``thickness`` wide, with square caps half as long.
        pieces = []
        for a in range(len(xy) if closed else len(xy) - 1):
            b = (a + 1) % len(xy)
            step = xy[b] - xy[a]
            length = float(np.hypot(*step))
            if length:
                along = step / length * (thickness / 2)
                across = np.array([-along[1], along[0]])
                pieces.append((np.array([xy[a] - along + across, xy[b] + along + across,
                                         xy[b] + along - across, xy[a] - along - across]),
                               inverse[[a, b, b, a]]))
    else:
        pieces = [(xy, inverse)]
    signal = model.instance_id > 0 and model.category == "traffic_light"
    if model.emits[i] and (painter.light.lights_on or signal):
        color = model.emissive[i]
    else:
        color = np.minimum(model.colors[i] * factor, 255.0)
    if model.labelled[i] and model.instance_id:
        value = model.instance_id
    else:  # scenery marks its material, for the texture pass
        value = _MATERIAL_ID + int(model.materials[i]) if model.materials[i] else 0
    slack = DECAL_SLACK if model.parent[i] != i else 0.0
    if 0 < value < _MATERIAL_ID:
        painter.polygons.setdefault(value, []).extend(single(p) for p, _ in pieces)
    if not pieces:
        return False
    corners = np.concatenate([p for p, _ in pieces])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    reach = 2 + thickness
    if hi[0] < -reach or hi[1] < -reach or lo[0] > SIZE[0] + reach or lo[1] > SIZE[1] + reach:
        return False
    numbers = [_draw_one(painter, p, w, color, value, slack) for p, w in pieces]
    if model.emits[i] and painter.light.lights_on:
        painter.glowing.append((range(numbers[0], numbers[-1] + 1),
                                [single(p) for p, _ in pieces], model.emissive[i],
                                unclipped_depth))
    return True


def _reference_batches(painter: _Painter, model: Model, i: int, factor: np.ndarray) -> None:
    """A face's decal batches (windows): each quad in front of the near plane, one call
    each, in the colour of its batch lit like the face, marked as the face is (and, on a
    labelled face, part of its object's projection)."""
    if model.labelled[i] and model.instance_id:
        value = model.instance_id
    else:
        value = _MATERIAL_ID + int(model.materials[i]) if model.materials[i] else 0
    for batch in model.batches[i]:
        lit = batch.emissive and painter.light.lights_on
        color = (np.asarray(batch.color, np.float32) if lit
                 else np.minimum(np.asarray(batch.color, np.float32) * factor, 255.0))
        for quad in batch.quads:
            cam = painter.camera.to_camera(quad)
            if (cam[:, 2] >= NEAR).all():
                xy = np.clip(painter.camera.camera_to_pixels(cam), -zbuffer.LIMIT,
                             zbuffer.LIMIT)
                _draw_one(painter, xy, 1.0 / cam[:, 2], color, value, DECAL_SLACK)
                if 0 < value < _MATERIAL_ID:
                    painter.polygons.setdefault(value, []).append(single(xy))


def _both(scene) -> tuple[_Painter, _Painter]:
    painters = []
    for draw in ("batched", "reference"):
        painter = _Painter(scene, *SIZE)
        painter.image[...] = 90
        painter.depth[...] = np.inf
        models = build_models(scene, painter.camera, painter.light)
        if draw == "batched":
            painter.draw_models(models)
        else:
            _reference_draw(painter, models)
        painters.append(painter)
    return painters[0], painters[1]


def _assert_same(batched: _Painter, reference: _Painter) -> None:
    assert np.array_equal(batched.ids, reference.ids)
    assert np.array_equal(batched.depth, reference.depth)
    assert np.array_equal(batched.image, reference.image)
    assert projections(batched.scene.objects, batched.polygons, batched.camera) == \
        projections(reference.scene.objects, reference.polygons, reference.camera)
    assert batched.lights == reference.lights


@pytest.mark.parametrize("name", ["urban", "highway", "rural", "intersection"])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_batched_drawing_follows_the_rules(name, index):
    scene = sample_scene(load_template(name), image_rng(21, index))
    _assert_same(*_both(scene))


@pytest.mark.parametrize("index", range(8))
def test_batched_drawing_follows_the_rules_from_odd_cameras(index):
    # Cameras turned, rolled and pitched far, low or high, with objects close enough to
    # cross the near plane and the frame's edges: clipping, off-screen polygons (still
    # part of an object's projection), decals of back faces, lamps at night.
    rng = np.random.default_rng(index)
    scene = sample_scene(load_template(["urban", "intersection"][index % 2]),
                         image_rng(33, index))
    camera = dataclasses.replace(
        scene.camera, yaw_deg=float(rng.uniform(-180, 180)),
        pitch_deg=float(rng.uniform(-30, 60)), roll_deg=float(rng.uniform(-40, 40)),
        height=float(rng.uniform(0.4, 6.0)), fov_deg=float(rng.uniform(50, 120)))
    objects = tuple(
        dataclasses.replace(o, x=camera.x + float(rng.uniform(-4, 4)),
                            y=float(rng.uniform(-4, 4)))
        if k % 2 else o for k, o in enumerate(scene.objects))
    lighting = dataclasses.replace(scene.lighting, time_of_day=["day", "night"][index % 2])
    scene = dataclasses.replace(scene, camera=camera, objects=objects, lighting=lighting)
    _assert_same(*_both(scene))


def _single(category: str, yaw: float, **fields) -> object:
    """A scene with one object 8 m ahead of a level camera, turned by ``yaw``."""
    scene = sample_scene(load_template("rural"), image_rng(1, 0))
    camera = dataclasses.replace(scene.camera, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0,
                                 fov_deg=70.0, height=1.5)
    sizes = {"car": (4.4, 1.8, 1.5), "traffic_sign": (0.1, 0.8, 0.8),
             "traffic_light": (0.3, 0.35, 1.0)}
    length, width, height = sizes[category]
    obj = SceneObject(instance_id=1, category=category, x=camera.x, y=8.0, yaw=yaw,
                      length=length, width=width, height=height, color=(200, 30, 30),
                      secondary_color=(250, 250, 250), placement="in_lane", **fields)
    return dataclasses.replace(scene, objects=(obj,), props=(), camera=camera,
                               lighting=dataclasses.replace(scene.lighting, time_of_day="day"))


def _light_pixels(painter: _Painter) -> int:
    """Pixels of the object's box brighter than the grey background in every channel."""
    ys, xs = np.nonzero(painter.ids == 1)
    patch = painter.image[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return int(np.count_nonzero(patch.min(axis=2) > 115))


def test_a_sign_seen_from_behind_shows_no_face():
    # The white inner plate is a decal of the front face: culled with it.
    front, _ = _both(_single("traffic_sign", np.pi, elevation=1.2, variant="circle"))
    back, _ = _both(_single("traffic_sign", 0.0, elevation=1.2, variant="circle"))
    assert np.count_nonzero(front.ids == 1) > 200 and np.count_nonzero(back.ids == 1) > 200
    assert _light_pixels(front) > 50
    assert _light_pixels(back) == 0


def test_a_traffic_light_shows_its_signal_by_day():
    painter, _ = _both(_single("traffic_light", np.pi, elevation=2.0, state=0.0))
    red = np.asarray((255, 50, 40), np.uint8)  # LAMP_ON[0], unshaded
    assert (painter.image == red).all(axis=2).sum() > 10
