"""Models as flat arrays: consistent, outward-facing, closed where they must be."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synthgen.render.shapes import (
    FACADE,
    PLAIN,
    DecalBatch,
    Face,
    FaceGroup,
    Model,
    _box,
    _frustum,
    _Polygons,
    car_model,
    object_model,
    prop_model,
)
from synthgen.scene.model import Prop, SceneObject
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template

TEMPLATES = ("urban", "highway", "rural", "intersection")


def _scene_models(name: str, index: int) -> list[Model]:
    scene = sample_scene(load_template(name), image_rng(5, index))
    return [prop_model(p) for p in scene.props] + [object_model(o) for o in scene.objects]


def _polygon(model: Model, i: int) -> np.ndarray:
    return model.points[model.starts[i]:model.starts[i] + model.counts[i]]


def _area_vector(polygon: np.ndarray) -> np.ndarray:
    """Area times unit normal of a planar polygon (right-hand order of its vertices)."""
    return 0.5 * np.cross(polygon, np.roll(polygon, -1, axis=0)).sum(axis=0)


@pytest.mark.parametrize("name,index", [(name, i) for name in TEMPLATES for i in (0, 1)])
def test_model_arrays_are_consistent(name, index):
    for model in _scene_models(name, index):
        n = len(model.counts)
        assert model.starts[0] == 0 and (model.counts >= 2).all()
        assert np.array_equal(model.starts[1:], np.cumsum(model.counts)[:-1])
        assert model.starts[-1] + model.counts[-1] == len(model.points)
        for array in (model.colors, model.normals, model.emissive):
            assert array.shape == (n, 3)
        # Parts cover every polygon once, in order; a decal follows its face in its part.
        assert [a for a, _ in model.parts][0] == 0 and model.parts[-1][1] == n
        assert all(b == c for (_, b), (c, _) in zip(model.parts[:-1], model.parts[1:], strict=True))
        faces = model.parent == np.arange(n)
        part_of = np.repeat(np.arange(len(model.parts)), [b - a for a, b in model.parts])
        assert (model.parent <= np.arange(n)).all() and faces[model.parent].all()
        assert np.array_equal(part_of[model.parent], part_of)
        assert model.two_sided[~faces].all()
        assert np.array_equal(model.face_vertex, np.repeat(faces, model.counts))


@pytest.mark.parametrize("name,index", [(name, i) for name in TEMPLATES for i in (0, 1)])
def test_faces_have_unit_normals_pointing_out_of_their_part(name, index):
    for model in _scene_models(name, index):
        for part, (a, b) in enumerate(model.parts):
            one_sided = [i for i in range(a, b)
                         if model.parent[i] == i and not model.two_sided[i]]
            if not one_sided:
                continue
            center = np.concatenate([_polygon(model, i) for i in one_sided]).mean(axis=0)
            for i in one_sided:
                normal = model.normals[i]
                assert np.linalg.norm(normal) == pytest.approx(1.0), (model.category, part, i)
                polygon = _polygon(model, i)
                # Planar, and facing away from the centre of its convex part.
                assert np.abs((polygon - polygon[0]) @ normal).max() < 1e-6
                assert (polygon.mean(axis=0) - center) @ normal > 0


@settings(max_examples=40, deadline=None)
@given(width=st.floats(1.0, 9.0), height=st.floats(3.0, 20.0),
       variant=st.sampled_from(["broadleaf", "conifer"]), yaw=st.floats(-3.2, 3.2))
def test_a_tree_crown_is_a_closed_surface(width, height, variant, yaw):
    # A closed polyhedron's area vectors sum to zero: no face is missing (a crown seen
    # from below once showed the sky through its missing bottom cone).
    tree = prop_model(Prop(kind="tree", x=3.0, y=20.0, yaw=yaw, length=width, width=width,
                           height=height, color=(60, 110, 50), variant=variant))
    a, b = tree.parts[1]
    vectors = np.array([_area_vector(_polygon(tree, i)) for i in range(a, b)])
    scale = np.abs(vectors).sum()
    assert np.abs(vectors.sum(axis=0)).max() < 1e-9 * scale
    # Each face's normal agrees with the winding-independent area vector's direction.
    directions = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.abs(np.abs((directions * tree.normals[a:b]).sum(axis=1)) - 1).max() < 1e-9


def test_repeated_scenery_shares_its_local_model_and_placing_copies():
    barrier = Prop(kind="barrier", x=2.0, y=10.0, yaw=0.1, length=6.0, width=0.5, height=0.85,
                   color=(200, 200, 200))
    first = prop_model(barrier)
    moved = prop_model(Prop(**{**barrier.__dict__, "x": -4.0, "y": 40.0}))
    assert np.allclose(first.points - first.center, moved.points - moved.center)
    again = prop_model(barrier)
    assert np.array_equal(first.points, again.points) and first.points is not again.points
    assert first.colors is moved.colors  # shared with the cached model...
    for model in (first, moved, prop_model(Prop(kind="tree", x=1.0, y=9.0, yaw=0.0, length=3.0,
                                                 width=3.0, height=7.0, color=(60, 110, 50)))):
        with pytest.raises(ValueError, match="read-only"):
            model.colors[0, 0] = 0  # ...so nobody may write it
        assert isinstance(model.parts, tuple)


def test_batches_follow_their_face_across_face_groups():
    # Batch keys count faces over all parts, a face group's faces included.
    group = FaceGroup(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1],
                                [0, 1, 1]]), np.array([3, 3]), np.array([[0.0, 0, -1], [0, 0, 1]]),
                      (1, 2, 3))
    box = _box(2.0, 3.0, 2.0, 3.0, 0.0, 1.0, (9, 9, 9))  # 5 faces, no decals
    batch = [DecalBatch(np.zeros((1, 4, 3)), (7, 7, 7))]
    for ordinal in range(12):
        model = Model.from_parts([box, group, box], {ordinal: batch})
        (index,) = model.batches
        assert index == ordinal  # no decals: face ordinal == polygon index


def _model_arrays(model: Model) -> dict[str, object]:
    return {name: value for name, value in vars(model).items() if name != "batches"}


@st.composite
def _boxes_with_decals(draw):
    """Parts of boxes, each face with random decals: ``(parts, decals)`` where ``decals``
    holds, per part and face, ``(outlines, colours, details, lights)``."""
    parts, decals = [], []
    for _ in range(draw(st.integers(1, 3))):
        x0, y0, z0 = (draw(st.floats(-5.0, 5.0)) for _ in range(3))
        size = [draw(st.floats(0.1, 4.0)) for _ in range(3)]
        color = tuple(draw(st.integers(0, 255)) for _ in range(3))
        faces = _box(x0, x0 + size[0], y0, y0 + size[1], z0, z0 + size[2], color)
        on_faces = []
        for face in faces:
            k, n = draw(st.integers(0, 3)), draw(st.integers(3, 8))
            outlines = draw(st.lists(st.floats(-9.0, 9.0), min_size=k * n * 3,
                                     max_size=k * n * 3))
            outlines = np.array(outlines, np.float64).reshape(k, n, 3)
            colors = [tuple(draw(st.integers(0, 255)) for _ in range(3)) for _ in range(k)]
            details = [draw(st.booleans()) for _ in range(k)]
            lights = [draw(st.one_of(st.none(), st.just((255, 200, 100)))) for _ in range(k)]
            face.decals = [Face(points=o, color=c, detail=d, emissive=e)
                           for o, c, d, e in zip(outlines, colors, details, lights,
                                                 strict=True)]
            on_faces.append((outlines, colors, details, lights))
        parts.append(faces)
        decals.append(on_faces)
    return parts, decals


@settings(max_examples=60, deadline=None)
@given(_boxes_with_decals())
def test_polygons_gathered_as_arrays_make_the_model_faces_make(boxes):
    """A model built without Face objects (a car's) has every array that
    Model.from_parts makes of the same faces and decals, bit for bit."""
    parts, decals = boxes
    polygons = _Polygons()
    for faces, on_faces in zip(parts, decals, strict=True):
        for face, (outlines, colors, details, lights) in zip(faces, on_faces, strict=True):
            polygons.face(face.points, face.color, face.normal)
            if len(outlines):
                polygons.decals(outlines, colors, details, lights)
        polygons.end_part()
    _assert_same_arrays(polygons.model(), Model.from_parts(parts))


def _assert_same_arrays(built: Model, expected: Model) -> None:
    built, expected = _model_arrays(built), _model_arrays(expected)
    assert built.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert built[name].dtype == value.dtype, name
            assert np.array_equal(built[name], value), name
        else:
            assert built[name] == value, name


_SIZES = st.one_of(st.just(0.0), st.floats(0.01, 5.0))  # 0: a flat solid


@settings(max_examples=80, deadline=None)
@given(corner=st.tuples(*[st.floats(-5.0, 5.0)] * 3), size=st.tuples(*[_SIZES] * 3),
       top=st.tuples(st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.floats(-0.5, 0.5)),
       frustum=st.booleans(), material=st.sampled_from([PLAIN, FACADE]),
       roof=st.booleans())
def test_solids_gathered_as_arrays_are_the_boxes_and_frustums_of_faces(
        corner, size, top, frustum, material, roof):
    """_Polygons.box and .frustum make the faces _box and _frustum make (flat ones, whose
    faces without area are left out, included), in one colour or one per face."""
    (x0, y0, z0), (dx, dy, dz) = corner, size
    colors = (10, 20, 30) if not roof else [(10, 20, 30)] * 4 + [(1, 2, 3)]
    polygons = _Polygons(material)
    shrink, cut, shift = top
    base = (x0, x0 + dx, y0, y0 + dy)
    upper = (x0 + shrink * dx, x0 + dx - shrink * dx, y0 + cut * dy + shift, y0 + dy + shift)
    faces = (_frustum(base, upper, z0, z0 + dz, colors) if frustum
             else _box(x0, x0 + dx, y0, y0 + dy, z0, z0 + dz, colors))
    assume(faces)  # a solid without area anywhere is no model either way
    if frustum:
        polygons.frustum(base, upper, z0, z0 + dz, colors)
    else:
        polygons.box(x0, x0 + dx, y0, y0 + dy, z0, z0 + dz, colors)
    for face in faces:
        face.material = material
    _assert_same_arrays(polygons.model(), Model.from_parts([faces]))


@settings(max_examples=60, deadline=None)
@given(length=st.floats(2.5, 6.5), width=st.floats(1.4, 2.3), height=st.floats(1.1, 2.4),
       state=st.floats(0.0, 1.0, exclude_max=True),
       variant=st.sampled_from(["sedan", "hatchback", "suv", "van", "other"]))
def test_a_cars_decals_lie_just_off_their_faces(length, width, height, state, variant):
    car = car_model(SceneObject(instance_id=1, category="car", x=0.0, y=0.0, yaw=0.0,
                                length=length, placement="lane",
                                width=width, height=height, color=(120, 20, 30),
                                variant=variant, state=state))
    assert len(car.parts) == 2 and car.labelled.all()
    body_end = car.parts[0][1]
    for i in np.flatnonzero(car.parent != np.arange(len(car.counts))):
        face = car.parent[i]
        distance = (_polygon(car, i) - _polygon(car, face)[0]) @ car.normals[face]
        if i < body_end:  # in front of the body's face, by its offset
            assert (distance > 0.005).all() and (distance < 0.035).all(), (i, distance)
        else:  # glass, shrunk towards its centre more in height than across: a slanted
            # window leaves its face's plane by up to a few centimetres either way
            assert (np.abs(distance) < 0.05).all(), (i, distance)
    # Lights glow, in the colours of head and tail lights.
    assert car.emits.sum() == 4
