"""Label invariants as properties: tight on visible pixels, inside the image, exact RLE,
none for objects nobody can see."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from synthgen.labels import LabelOptions, compute_labels, encode_rle, occlusion_level
from synthgen.render.projections import RenderedObject


@st.composite
def scenes(draw):
    """An instance map painted with overlapping rectangles, and each object's projection.

    Objects may reach beyond the frame (truncation) and be covered by later ones
    (occlusion); the projection is what the object covers on its own, as the renderer
    reports it.
    """
    height, width = draw(st.integers(8, 48)), draw(st.integers(8, 64))
    n = draw(st.integers(0, 6))
    ids = np.zeros((height, width), np.uint16)
    objects = []
    for instance_id in range(1, n + 1):
        x0 = draw(st.integers(-10, width - 1))
        y0 = draw(st.integers(-10, height - 1))
        w, h = draw(st.integers(1, 30)), draw(st.integers(1, 30))
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(width, x0 + w), min(height, y0 + h)
        inframe = max(0, fx1 - fx0) * max(0, fy1 - fy0)
        if inframe:
            ids[fy0:fy1, fx0:fx1] = instance_id
        box = (fx0, fy0, fx1, fy1) if inframe else None
        objects.append(RenderedObject(instance_id, "car", w * h, inframe, box, 10.0))
    return ids, objects


@settings(max_examples=300, deadline=None)
@given(scenes(), st.integers(1, 30), st.floats(0.0, 1.0))
def test_boxes_are_tight_inside_and_exact(scene, min_pixels, min_visibility):
    ids, objects = scene
    height, width = ids.shape
    options = LabelOptions(min_pixels=min_pixels, min_visibility=min_visibility)
    labels = compute_labels(ids, objects, options)
    by_id = {o.instance_id: o for o in objects}
    labelled = {label.instance_id for label in labels}
    for label in labels:
        mask = ids == label.instance_id
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        # Tight on the visible pixels, in pixel edges, and inside the image.
        assert label.bbox == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        x0, y0, x1, y1 = label.bbox
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert label.area == mask.sum() >= min_pixels
        # The RLE decodes to exactly the visible pixels.
        rle = {"size": label.rle["size"], "counts": label.rle["counts"].encode()}
        assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)
        # The amodal box holds the modal one and stays in the frame.
        ax0, ay0, ax1, ay1 = label.bbox_amodal
        assert ax0 <= x0 and ay0 <= y0 and ax1 >= x1 and ay1 >= y1
        assert 0 <= ax0 and 0 <= ay0 and ax1 <= width and ay1 <= height
        obj = by_id[label.instance_id]
        assert label.visibility == pytest.approx(label.area / obj.projected_area)
        # Occluders, not the frame edge, decide (truncation does not count against it).
        assert label.area >= min_visibility * obj.inframe_area
        assert label.truncation == pytest.approx(1 - obj.inframe_area / obj.projected_area)
        assert 0 <= label.occluded <= 2
    for obj in objects:
        visible = int((ids == obj.instance_id).sum())
        passes = visible >= min_pixels and visible >= min_visibility * obj.inframe_area
        # Exactly the objects that are seen well enough are labelled; never an unseen one.
        assert (obj.instance_id in labelled) == (visible > 0 and passes)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.data())
def test_encode_rle_equals_pycocotools(height, width, data):
    x0 = data.draw(st.integers(0, width - 1))
    y0 = data.draw(st.integers(0, height - 1))
    w = data.draw(st.integers(1, width - x0))
    h = data.draw(st.integers(1, height - y0))
    seed = data.draw(st.integers(0, 2**32 - 1))
    roi = np.random.default_rng(seed).random((h, w)) < 0.5
    full = np.zeros((height, width), np.uint8)
    full[y0:y0 + h, x0:x0 + w] = roi
    expected = mask_utils.encode(np.asfortranarray(full))["counts"].decode()
    assert encode_rle(roi, x0, y0, height, width)["counts"] == expected


@pytest.mark.parametrize("hidden,level", [
    (0.0, 0),    # fully visible
    (0.049, 0),  # a sliver hidden still counts as visible
    (0.05, 1),   # partly occluded from 5 %
    (0.49, 1),
    (0.5, 2),    # largely occluded from half
    (1.0, 2),
])
def test_occlusion_levels(hidden, level):
    assert occlusion_level(hidden) == level


@settings(max_examples=200, deadline=None)
@given(scenes(), st.integers(1, 30), st.floats(0.0, 1.0), st.floats(0.0, 0.2),
       st.integers(0, 2**32 - 1))
def test_with_the_image_every_seen_object_is_a_box_or_an_ignore_region(
        scene, min_pixels, min_visibility, min_contrast, seed):
    ids, objects = scene
    image = np.random.default_rng(seed).integers(0, 256, ids.shape + (3,), dtype=np.uint8)
    options = LabelOptions(min_pixels=min_pixels, min_visibility=min_visibility,
                           min_contrast=min_contrast)
    labels = compute_labels(ids, objects, options, image=image)
    by_id = {o.instance_id: o for o in objects}
    # Every object with a visible pixel gets exactly one label; no other object any.
    assert [label.instance_id for label in labels] == sorted(set(np.unique(ids)) - {0})
    boxes_before = {label.instance_id for label in compute_labels(ids, objects, options)}
    for label in labels:
        mask = ids == label.instance_id
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        # Boxes and ignore regions alike: tight on the visible pixels, exact mask.
        assert label.bbox == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        rle = {"size": label.rle["size"], "counts": label.rle["counts"].encode()}
        assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)
        obj = by_id[label.instance_id]
        small = label.area < min_pixels
        hidden = not small and label.area < min_visibility * obj.inframe_area
        faint = not (small or hidden) and label.contrast < min_contrast
        assert label.ignored == ("pixels" if small else "visibility" if hidden
                                 else "contrast" if faint else None)
        # The image only ever takes boxes away from those labelled without it.
        assert label.is_box <= (label.instance_id in boxes_before)
