"""Tests of :mod:`synthgen.viz.draw`: boxes drawn on the scaled edges, their names and
colours, ignore regions, label layers in colour, and the boxes read from COCO and labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from synthgen.categories import CATEGORY_NAMES
from synthgen.viz.draw import (
    CATEGORY_COLORS,
    IGNORE_COLOR,
    MIN_NAMED_SIZE,
    THICKNESS,
    Boxes,
    box_text,
    category_color,
    depth_colors,
    draw_boxes,
    instance_colors,
)
from synthgen.viz.sheet import draw_tile

GREY = 90
CAR = CATEGORY_COLORS["car"]


def is_color(pixels: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    return np.all(pixels == np.array(color, np.uint8), axis=-1)


# --- drawing functions, over many boxes and scales --------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    image_size=st.tuples(st.integers(16, 160), st.integers(16, 160)),
    box=st.tuples(*[st.floats(0, 1, allow_nan=False)] * 4),
    tile_width=st.integers(16, 400),
    category=st.sampled_from(CATEGORY_NAMES),
)
# The height comes to 56.5 px exactly, rounded up to 57 (a float product says 56.500...01).
@example(image_size=(156, 26), box=(0.0, 0.0, 1.0, 1.0), tile_width=339, category="car")
def test_outline_lies_on_scaled_edges_property(image_size: tuple[int, int],
                                               box: tuple[float, ...], tile_width: int,
                                               category: str) -> None:
    width, height = image_size
    xs = sorted((box[0] * width, box[2] * width))
    ys = sorted((box[1] * height, box[3] * height))
    sx = tile_width / width
    assume((xs[1] - xs[0]) * sx >= 1.5 and (ys[1] - ys[0]) * sx >= 1.5)
    image = np.full((height, width, 3), GREY, np.uint8)
    boxes = Boxes.create([[xs[0], ys[0], xs[1], ys[1]]], [category])

    tile = draw_tile(image, boxes, tile_width, names=False)

    assert tile.shape[1] == tile_width
    # Within half a pixel of height * sx, in integers: a float product can miss by 1e-14.
    assert abs(2 * tile.shape[0] * width - 2 * height * tile_width) <= width
    sy = tile.shape[0] / height  # the aspect ratio is kept to the nearest pixel
    drawn = is_color(tile, category_color(category))
    rows, cols = np.nonzero(drawn)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    # The drawn outline's outer edges are the scaled box edges, to within half a pixel.
    assert abs(c0 - xs[0] * sx) <= 0.5 and abs(c1 - xs[1] * sx) <= 0.5
    assert abs(r0 - ys[0] * sy) <= 0.5 and abs(r1 - ys[1] * sy) <= 0.5
    # The outline is closed, and only the outline is drawn.
    assert drawn[r0:r1, c0].all() and drawn[r0:r1, c1 - 1].all()
    assert drawn[r0, c0:c1].all() and drawn[r1 - 1, c0:c1].all()
    inner = drawn[r0 + THICKNESS:r1 - THICKNESS, c0 + THICKNESS:c1 - THICKNESS]
    assert not inner.any()
    assert (tile[~drawn] == GREY).all()


def test_box_thinner_than_a_pixel_still_shows() -> None:
    image = np.full((100, 100, 3), GREY, np.uint8)
    tile = draw_tile(image, Boxes.create([[40.2, 10.0, 40.4, 60.0]], ["car"]), 50, names=False)
    cols = np.nonzero(is_color(tile, CAR).any(axis=0))[0]
    assert cols.tolist() == [20]


def test_dashed_outline_has_gaps_on_the_same_edges() -> None:
    canvas = np.full((60, 80, 3), GREY, np.uint8)
    boxes = Boxes.create([[10, 10, 70, 50]], ["bus"])
    solid = is_color(draw_boxes(canvas, boxes, names=False), CATEGORY_COLORS["bus"])
    dashed = is_color(draw_boxes(canvas, boxes, dashed=True, names=False),
                      CATEGORY_COLORS["bus"])
    assert not (dashed & ~solid).any()
    assert 0.3 < dashed.sum() / solid.sum() < 0.7
    assert (canvas == GREY).all()  # drawing works on a copy


def test_small_boxes_go_unnamed() -> None:
    canvas = np.full((60, 80, 3), GREY, np.uint8)
    small = draw_boxes(canvas, Boxes.create([[30, 30, 30 + MIN_NAMED_SIZE - 1, 50]], ["car"]))
    named = draw_boxes(canvas, Boxes.create([[30, 30, 30 + MIN_NAMED_SIZE, 50]], ["car"]))
    assert not (small[:30] != GREY).any()
    assert is_color(named[:30], CAR).any()



def test_unknown_category_colour_is_fixed_and_bright() -> None:
    assert category_color("forklift") == category_color("forklift")
    assert category_color("forklift") != category_color("tram")
    assert max(category_color("forklift")) == 255



# --- label layers -----------------------------------------------------------------------


def test_instance_colours_are_distinct_with_background_black() -> None:
    ids = np.array([[0, 1, 2], [3, 40, 0]], np.uint16)
    colors = instance_colors(ids)
    assert colors.dtype == np.uint8 and colors.shape == (2, 3, 3)
    assert (colors[ids == 0] == 0).all()
    objects = {tuple(px) for px in colors[ids > 0]}
    assert len(objects) == 4 and (0, 0, 0) not in objects


def test_depth_colours_run_near_to_far_with_sky_black() -> None:
    depth = np.array([[2.0, 20.0, 200.0, np.inf, np.nan]], np.float32)
    colors, span = depth_colors(depth)
    assert span == (2.0, 200.0)
    assert (colors[0, 3:] == 0).all()
    near, far = colors[0, 0].astype(int), colors[0, 2].astype(int)
    assert near[0] > near[2] and far[2] > far[0]  # red near, blue far
    assert depth_colors(np.full((2, 2), np.inf, np.float32))[1] is None



def test_ignore_regions_are_dashed_grey_and_contrast_is_named() -> None:
    from synthgen.labels import compute_labels
    from synthgen.render.projections import RenderedObject

    # Two objects on a grey background: one plain (a box), one 3 levels off (ignored).
    ids = np.zeros((120, 200), np.uint16)
    ids[20:80, 20:90] = 1
    ids[30:90, 110:180] = 2
    image = np.full((120, 200, 3), 100, np.uint8)
    image[ids == 1] = 220
    image[ids == 2] = 103
    objects = [RenderedObject(i, "car", 4200, 4200, box, 20.0)
               for i, box in ((1, (20, 20, 90, 80)), (2, (110, 30, 180, 90)))]
    plain, faint = compute_labels(ids, objects, image=image)
    assert plain.is_box and faint.ignored == "contrast"
    boxes = Boxes.from_labels([plain, faint])
    assert boxes.crowd.tolist() == [False, True]
    assert boxes.contrast == pytest.approx([plain.contrast, faint.contrast])
    drawn = draw_boxes(image, boxes, names=False)
    grey = is_color(drawn, IGNORE_COLOR)
    top = grey[30, 110:180]
    assert 0.3 < top.mean() < 0.7  # dashed
    assert not grey[20:80, 20:90].any()  # the box is drawn in its category colour
    assert is_color(drawn[20, 20:90], category_color("car")).all()
    # The layers view names each object with its contrast in the final image.
    assert box_text(boxes, 0, show_contrast=True) == f"car c{plain.contrast:.3f}"
    assert box_text(boxes, 1, show_contrast=True).endswith("(ignore)")



def test_contrast_is_read_from_coco_annotations() -> None:
    boxes = Boxes.from_coco([{"bbox": [0, 0, 5, 5], "category_id": 1, "contrast": 0.25},
                             {"bbox": [0, 0, 5, 5], "category_id": 1}], {1: "car"})
    assert boxes.contrast[0] == 0.25 and math.isnan(boxes.contrast[1])
