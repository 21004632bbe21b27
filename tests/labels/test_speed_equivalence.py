"""The fast paths in sampling and labels give exactly what the plain versions gave.

Sampling: each shortcut must consume the generator exactly as the numpy call it replaces
(same values, same state afterwards), so every scene stays the same. Labels: compared
with a straightforward full-frame oracle, errors included, on consistent and
deliberately inconsistent inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from synthgen.labels import LabelOptions, compute_labels, encode_rle, occlusion_level
from synthgen.render.projections import RenderedObject
from synthgen.scene.sampling import _color, _either, _weighted


def _twin_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    return np.random.default_rng(seed), np.random.default_rng(seed)


def _assert_same_state(a: np.random.Generator, b: np.random.Generator) -> None:
    assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("weights", [
    {"day": 0.7, "dusk": 0.2, "night": 0.1},  # the usual case
    {"only": 1.0},                            # one name: still one draw
    {"b": 3, "a": 1, "c": 0},                 # ints, a zero weight, unsorted keys
    {"x": 1e-12, "y": 1.0, "z": 1e-12},       # tiny weights beside a large one
    {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.15, "e": 0.25},
])
def test_weighted_matches_choice(weights):
    fast, plain = _twin_generators(7)
    names = sorted(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    for _ in range(2000):
        expected = names[int(plain.choice(len(names), p=p / p.sum()))]
        assert _weighted(fast, weights) == expected
        # Interleave another draw, as sampling does, to catch any desynchronisation.
        assert fast.integers(5) == plain.integers(5)
    _assert_same_state(fast, plain)


def test_weighted_rejects_what_choice_rejects():
    # A negative weight: numpy's own error, raised before anything is drawn.
    with pytest.raises(ValueError, match="non-negative"):
        _weighted(np.random.default_rng(0), {"a": 2.0, "b": -0.5})


@pytest.mark.parametrize("pair", [(0.0, np.pi), (-1.0, 1.0)])
def test_either_matches_choice(pair):
    fast, plain = _twin_generators(11)
    for _ in range(2000):
        assert _either(fast, *pair) == float(plain.choice(list(pair)))
        assert fast.normal(0.0, 0.2) == plain.normal(0.0, 0.2)
    _assert_same_state(fast, plain)


@pytest.mark.parametrize("jitter", [4, 8, 14])
def test_color_matches_numpy_clip(jitter):
    # Colours at the ends of the range exercise the clipping.
    palette = [(0, 128, 255), (3, 250, 7), (200, 40, 30), (255, 255, 255)]
    fast, plain = _twin_generators(3)
    for _ in range(2000):
        base = np.array(palette[int(plain.integers(len(palette)))], dtype=np.int64)
        shifted = np.clip(base + plain.integers(-jitter, jitter + 1, size=3), 0, 255)
        color = _color(fast, palette, jitter)
        assert color == tuple(int(v) for v in shifted)
        assert all(type(v) is int for v in color)
    _assert_same_state(fast, plain)


def _oracle_labels(ids: np.ndarray, objects: list[RenderedObject],
                   options: LabelOptions) -> list[tuple]:
    """The label pipeline measured on full-frame masks, with the same two errors."""
    out = []
    height, width = ids.shape
    for obj in sorted(objects, key=lambda o: o.instance_id):
        mask = ids == obj.instance_id
        visible = int(mask.sum())
        if visible == 0 or visible < options.min_pixels:
            continue
        if visible < options.min_visibility * obj.inframe_area:
            continue
        if obj.amodal_xyxy is None:
            raise ValueError(f"object {obj.instance_id} is visible but has no projection")
        x0, y0, x1, y1 = obj.amodal_xyxy
        if int(mask[y0:y1, x0:x1].sum()) != visible:
            raise ValueError(f"object {obj.instance_id}: visible pixels outside its projection")
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        out.append((obj.instance_id, obj.category,
                    (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)),
                    tuple(float(v) for v in obj.amodal_xyxy), visible,
                    visible / obj.projected_area, 1.0 - obj.inframe_area / obj.projected_area,
                    occlusion_level(1.0 - visible / obj.inframe_area), obj.distance,
                    {"size": [height, width], "counts": rle["counts"].decode("ascii")}))
    return out


@st.composite
def maps(draw):
    """Painted rectangles and the renderer's report of them, sometimes wrong on purpose.

    Faults: a reported box smaller than what was painted, no box for a painted object,
    two objects with one id, an id in the map that no object has.
    """
    height, width = draw(st.integers(4, 40)), draw(st.integers(4, 48))
    ids = np.zeros((height, width), np.uint16)
    objects = []
    for number in range(1, draw(st.integers(0, 6)) + 1):
        fault = draw(st.sampled_from(["none"] * 6 + ["shrink", "nobox", "dup", "stray"]))
        instance_id = objects[-1].instance_id if fault == "dup" and objects else number
        x0, y0 = draw(st.integers(-5, width - 1)), draw(st.integers(-5, height - 1))
        w, h = draw(st.integers(1, width + 5)), draw(st.integers(1, height + 5))
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(width, x0 + w), min(height, y0 + h)
        inframe = max(0, fx1 - fx0) * max(0, fy1 - fy0)
        if inframe:
            ids[fy0:fy1, fx0:fx1] = instance_id
        box = (fx0, fy0, fx1, fy1) if inframe else None
        if fault == "shrink" and box is not None:
            box = (box[0], box[1], max(box[0] + 1, box[2] - 1), box[3])
        elif fault == "nobox":
            box = None
        elif fault == "stray":
            continue
        objects.append(RenderedObject(instance_id, "car", w * h, max(inframe, 1), box,
                                      float(instance_id)))
    return ids, objects


def _outcome(fn, *args):
    try:
        return fn(*args)
    except ValueError as error:
        return ("error", str(error))


@settings(max_examples=500, deadline=None)
@given(maps(), st.integers(1, 20), st.floats(0.0, 1.0))
def test_compute_labels_matches_full_frame_oracle(scene, min_pixels, min_visibility):
    ids, objects = scene
    options = LabelOptions(min_pixels=min_pixels, min_visibility=min_visibility)
    got = _outcome(compute_labels, ids, objects, options)
    if isinstance(got, list):
        got = [(lb.instance_id, lb.category, lb.bbox, lb.bbox_amodal, lb.area, lb.visibility,
                lb.truncation, lb.occluded, lb.distance, lb.rle) for lb in got]
    assert got == _outcome(_oracle_labels, ids, objects, options)


@pytest.mark.parametrize("x0,y0,w,h,height,width", [
    (0, 0, 5, 6, 6, 5),    # the whole image
    (2, 0, 3, 6, 6, 5),    # whole columns, touching the last pixel
    (1, 0, 2, 6, 6, 5),    # whole columns inside
    (3, 2, 2, 4, 6, 5),    # bottom-right corner
    (0, 0, 1, 1, 6, 5),    # the first pixel only
    (4, 5, 1, 1, 6, 5),    # the last pixel only
])
@pytest.mark.parametrize("fill", ["full", "random", "empty"])
def test_encode_rle_edges(x0, y0, w, h, height, width, fill):
    rng = np.random.default_rng(x0 * 100 + y0 * 10 + w + h)
    roi = {"full": np.ones((h, w), bool), "empty": np.zeros((h, w), bool),
           "random": rng.random((h, w)) < 0.5}[fill]
    full = np.zeros((height, width), np.uint8)
    full[y0:y0 + h, x0:x0 + w] = roi
    expected = mask_utils.encode(np.asfortranarray(full))["counts"].decode()
    assert encode_rle(roi, x0, y0, height, width)["counts"] == expected
