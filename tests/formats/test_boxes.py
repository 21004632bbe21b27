"""The box type: COCO conversions, clipping and overlaps, as tables and round trips."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.formats.boxes import Box

# (COCO [x, y, w, h], the Box it reads as); each case says what it pins down.
XYWH_CASES = [
    # pixel columns 10..19 and rows 5..9: edges 10-20 and 5-10
    ([10.0, 5.0, 10.0, 5.0], Box(10.0, 5.0, 20.0, 10.0)),
    # ints stay ints: a file read with 5 writes 5 again, not 5.0
    ([0, 0, 4, 3], Box(0, 0, 4, 3)),
    # a box with no width is still a box (clipping and filters decide about it)
    ([3.5, 2.0, 0.0, 1.0], Box(3.5, 2.0, 3.5, 3.0)),
    # sub-pixel edges
    ([0.25, 0.75, 1.5, 2.25], Box(0.25, 0.75, 1.75, 3.0)),
]


@pytest.mark.parametrize(("xywh", "box"), XYWH_CASES)
def test_coco_boxes_convert_both_ways(xywh: list[float], box: Box) -> None:
    assert Box.from_xywh(xywh) == box
    assert [type(v) for v in Box.from_xywh(xywh)] == [type(v) for v in box]
    assert box.to_xywh() == xywh
    assert json.dumps(box.to_xywh()) == json.dumps(xywh)


# (box, image width x height, clipped box)
CLIP_CASES = [
    # inside: unchanged, ints kept
    (Box(1, 2, 3, 4), (10, 10), Box(1, 2, 3, 4)),
    # past every edge: clipped to the frame
    (Box(-5.0, -1.0, 15.0, 12.0), (10, 8), Box(0.0, 0.0, 10, 8)),
    # wholly left of the frame: empty
    (Box(-9.0, 1.0, -2.0, 3.0), (10, 8), Box(0.0, 1.0, 0.0, 3.0)),
]


@pytest.mark.parametrize(("box", "size", "expected"), CLIP_CASES)
def test_clip(box: Box, size: tuple[int, int], expected: Box) -> None:
    assert box.clip(*size) == expected


# (a, b, a.intersects(b), area shared, share of a covered by b, IoU)
OVERLAP_CASES = [
    # one box inside another a quarter its size
    (Box(0, 0, 2, 2), Box(0, 0, 4, 4), True, 4.0, 1.0, 0.25),
    # edges touching: no shared area
    (Box(0, 0, 2, 2), Box(2, 0, 4, 2), False, 0.0, 0.0, 0.0),
    # half of a covered
    (Box(0, 0, 4, 2), Box(2, -1, 6, 3), True, 4.0, 0.5, 4 / 20),
    # apart
    (Box(0, 0, 1, 1), Box(5, 5, 6, 6), False, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("a", "b", "intersects", "shared", "covered", "iou"),
                         OVERLAP_CASES)
def test_overlaps(a: Box, b: Box, intersects: bool, shared: float, covered: float,
                  iou: float) -> None:
    assert a.intersects(b) is intersects and b.intersects(a) is intersects
    assert a.intersection_area(b) == shared == b.intersection_area(a)
    assert a.covered_by(b) == pytest.approx(covered)
    assert a.iou(b) == pytest.approx(iou) == b.iou(a)


def test_iou_of_boxes_without_area_is_zero() -> None:
    assert Box(1.0, 1.0, 1.0, 3.0).iou(Box(1.0, 1.0, 1.0, 3.0)) == 0.0


def test_a_box_unpacks_and_has_its_sizes() -> None:
    x0, y0, x1, y1 = box = Box(1.0, 2.0, 4.0, 8.0)
    assert (x0, y0, x1, y1) == (1.0, 2.0, 4.0, 8.0)
    assert (box.width, box.height, box.area) == (3.0, 6.0, 18.0)
    assert box.is_finite() and not Box(0.0, math.nan, 1.0, 1.0).is_finite()


edges = st.integers(-2000, 2000).map(lambda v: v / 4)  # exact in binary: sums are exact
sizes = st.integers(0, 2000).map(lambda v: v / 4)


@settings(max_examples=200, deadline=None)
@given(x=edges, y=edges, w=sizes, h=sizes)
def test_coco_round_trip(x: float, y: float, w: float, h: float) -> None:
    box = Box.from_xywh([x, y, w, h])
    assert box.to_xywh() == [x, y, w, h]
    assert Box.from_xywh(box.to_xywh()) == box
    assert (box.width, box.height) == (w, h)


@settings(max_examples=200, deadline=None)
@given(x0=edges, y0=edges, w=sizes, h=sizes, width=st.integers(1, 500),
       height=st.integers(1, 500))
def test_clipped_boxes_lie_in_the_image_and_clip_once(x0: float, y0: float, w: float,
                                                      h: float, width: int,
                                                      height: int) -> None:
    clipped = Box(x0, y0, x0 + w, y0 + h).clip(width, height)
    assert 0 <= clipped.x0 <= clipped.x1 <= width
    assert 0 <= clipped.y0 <= clipped.y1 <= height
    assert clipped.clip(width, height) == clipped


@settings(max_examples=200, deadline=None)
@given(a=st.tuples(edges, edges, sizes, sizes), b=st.tuples(edges, edges, sizes, sizes))
def test_overlap_measures_agree(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    box_a, box_b = Box.from_xywh(a), Box.from_xywh(b)
    shared = box_a.intersection_area(box_b)
    assert shared == box_b.intersection_area(box_a)
    assert 0.0 <= shared <= min(box_a.area, box_b.area)
    assert 0.0 <= box_a.iou(box_b) <= 1.0
    if shared > 0:
        assert box_a.intersects(box_b)
        assert box_a.covered_by(box_b) == pytest.approx(shared / box_a.area)
