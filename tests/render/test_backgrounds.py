"""``--backgrounds``: the bank of real photos, how one is fitted to an image, what drawing
over it does to the image and the labels, and the command."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from synthgen.cli import cli
from synthgen.datasets.backgrounds import background_bank
from synthgen.errors import DatasetError
from synthgen.formats.boxes import Box
from synthgen.generate.images import render_sample
from synthgen.labels import LabelOptions, background_regions
from synthgen.render.backdrop import PHOTO_DEPTH
from synthgen.render.backgrounds import Background, FittedRegion, SetLabel, fit_background
from synthgen.render.painter import render
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template
from tests.render.test_sprites import kitti_line, write_set

SIZE = (160, 96)
TEMPLATES = {name: load_template(name) for name in ("urban", "highway", "kitti")}


def _photo(width: int, height: int, boxes: list[tuple[int, int, int, int]],
           regions: list[tuple[str, Box]] | None = None) -> Background:
    """A black PNG photo, white inside each of ``boxes``."""
    rgb = np.zeros((height, width, 3), np.uint8)
    for x0, y0, x1, y1 in boxes:
        rgb[y0:y1, x0:x1] = 255
    data = cv2.imencode(".png", rgb)[1].tobytes()
    if regions is None:
        regions = [("car", Box(*b)) for b in boxes]
    return Background("p.png", data, width, height, tuple(regions))


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    return write_set(tmp_path_factory.mktemp("backgrounds") / "real")


# --------------------------------------------------------------------------- fitting

@pytest.mark.parametrize("photo,size,mirrored,expected", [
    # Same aspect, half the size: boxes halve.
    ((200, 100), (100, 50), False, [(10.0, 5.0, 30.0, 25.0)]),
    # Mirrored: x runs from the right.
    ((200, 100), (100, 50), True, [(70.0, 5.0, 90.0, 25.0)]),
    # A square image takes the photo's middle 100x100 (x from 50): the box is cut at 50.
    ((200, 100), (100, 100), False, [(0.0, 10.0, 10.0, 50.0)]),
    # Grown twice: boxes double.
    ((200, 100), (400, 200), False, [(40.0, 20.0, 120.0, 100.0)]),
])
def test_a_photo_is_cropped_about_its_centre_and_its_boxes_follow(photo, size, mirrored,
                                                                  expected):
    background = _photo(*photo, [(20, 10, 60, 50)])
    fitted, regions = fit_background(background, size, mirrored)
    assert fitted.shape == (size[1], size[0], 3) and fitted.dtype == np.uint8
    assert [tuple(r.box) for r in regions] == [pytest.approx(box) for box in expected]


def test_a_region_the_crop_leaves_out_is_dropped():
    background = _photo(200, 100, [(5, 10, 40, 50), (120, 10, 140, 50)])
    _, regions = fit_background(background, (100, 100), False)  # keeps x in [50, 150)
    assert [tuple(r.box) for r in regions] == [(70.0, 10.0, 90.0, 50.0)]


@settings(max_examples=120, deadline=None)
@given(st.integers(40, 300), st.integers(40, 300), st.integers(40, 300), st.integers(40, 300),
       st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0.05, 0.6),
                          st.floats(0.05, 0.6)), min_size=1, max_size=4),
       st.booleans())
def test_fitted_regions_lie_on_the_fitted_pixels_of_their_objects(pw, ph, w, h, raw,
                                                                   mirrored):
    """Each region's box is where its white object is in the fitted image: the pixels
    well inside it are white, those well outside every region black."""
    boxes = []
    for fx, fy, fw, fh in raw:
        bw, bh = max(1, int(fw * pw)), max(1, int(fh * ph))
        x0, y0 = int(fx * (pw - bw)), int(fy * (ph - bh))
        boxes.append((x0, y0, x0 + bw, y0 + bh))
    fitted, regions = fit_background(_photo(pw, ph, boxes), (w, h), mirrored)
    gray = fitted[..., 0].astype(int)
    # Resampling blurs an edge over about a photo pixel: the crop's magnification.
    margin = 2 + int(np.ceil(max(w / pw, h / ph)))
    inside = np.zeros((h, w), bool)
    near = np.zeros((h, w), bool)
    for region in regions:
        box = region.box
        assert 0 <= box.x0 < box.x1 <= w and 0 <= box.y0 < box.y1 <= h
        x0, y0, x1, y1 = box
        r0, r1 = int(np.ceil(y0)) + margin, int(np.floor(y1)) - margin
        c0, c1 = int(np.ceil(x0)) + margin, int(np.floor(x1)) - margin
        if r1 > r0 and c1 > c0:
            inside[r0:r1, c0:c1] = True
        near[max(0, int(y0) - margin):int(np.ceil(y1)) + margin,
             max(0, int(x0) - margin):int(np.ceil(x1)) + margin] = True
    assert (gray[inside] >= 240).all()
    assert (gray[~near] <= 15).all()


def test_a_photo_changed_since_the_bank_was_read_is_an_error():
    background = dataclasses.replace(_photo(200, 100, []), width=201)
    with pytest.raises(ValueError, match="not the 201x100 image"):
        fit_background(background, SIZE, False)


# --------------------------------------------------------------------------- regions

@pytest.mark.parametrize("box,expected", [
    # Every pixel the box touches, as whole pixels.
    (Box(1.2, 2.7, 10.1, 5.0), (1, 2, 11, 5)),
    (Box(0.0, 0.0, 4.0, 3.0), (0, 0, 4, 3)),
    # Clipped to the image (20x10).
    (Box(15.5, 8.5, 30.0, 30.0), (15, 8, 20, 10)),
    # Nothing of it in the image: none.
    (Box(20.0, 0.0, 25.0, 5.0), None),
])
def test_a_background_region_covers_the_pixels_its_box_touches(box, expected):
    labels = background_regions([FittedRegion("truck", box)], np.zeros((10, 20), np.uint16))
    if expected is None:
        assert labels == []
        return
    (label,) = labels
    x0, y0, x1, y1 = expected
    assert label.ignored == "background" and not label.is_box and label.instance_id == 0
    assert label.category == "truck"
    assert tuple(label.bbox) == expected and tuple(label.bbox_amodal) == expected
    assert label.area == (x1 - x0) * (y1 - y0)
    decoded = mask_utils.decode(label.rle)
    assert decoded.shape == (10, 20) and decoded.sum() == label.area
    assert decoded[y0:y1, x0:x1].all()


def test_what_a_drawn_object_covers_is_left_out_of_a_background_region():
    ids = np.zeros((10, 20), np.uint16)
    ids[:, :6] = 3  # a drawn object over the left of the region
    ids[4, 8] = 5   # and one pixel inside it
    (label,) = background_regions([FittedRegion("car", Box(2.0, 1.0, 12.0, 9.0))], ids)
    decoded = mask_utils.decode(label.rle).astype(bool)
    expected = np.zeros((10, 20), bool)
    expected[1:9, 6:12] = True
    expected[4, 8] = False
    assert np.array_equal(decoded, expected)
    assert tuple(label.bbox) == (6.0, 1.0, 12.0, 9.0) and label.area == 47
    # A region wholly covered by drawn objects is no region.
    assert background_regions([FittedRegion("car", Box(0.0, 0.0, 5.0, 5.0))], ids) == []


LOOSE = LabelOptions(min_pixels=1, min_visibility=0, min_contrast=0)


def _covered(*rects: tuple[int, int, int, int]) -> np.ndarray:
    """A 10x20 id map with drawn object 3 over each ``(x0, y0, x1, y1)``."""
    ids = np.zeros((10, 20), np.uint16)
    for x0, y0, x1, y1 in rects:
        ids[y0:y1, x0:x1] = 3
    return ids


def _unlabelled(*rects: tuple[int, int, int, int]) -> np.ndarray:
    """Where something unlabelled was drawn (a sign's pole, a decoy): a 10x20 mask."""
    drawn = np.zeros((10, 20), bool)
    for x0, y0, x1, y1 in rects:
        drawn[y0:y1, x0:x1] = True
    return drawn


@pytest.mark.parametrize("region,covered,poles,options,expected", [
    # Nothing over it: the pixels the set's box touches.
    ({}, (), (), LOOSE, ("box", (2.0, 1.0, 13.0, 9.0), 0)),
    # A quarter cut off (by the set's frame and the crop): visibility says so.
    ({"truncation": 0.25}, (), (), LOOSE, ("box", (2.0, 1.0, 13.0, 9.0), 0)),
    # More than KITTI's moderate 0.3: what is left of the box may show little of it.
    ({"truncation": 0.35}, (), (), LOOSE, ("ignored", (2.0, 1.0, 13.0, 9.0), 0)),
    # The set's own occlusion: partly occluded is a box at that level, largely (or
    # KITTI's unknown) an ignore region.
    ({"occluded": 1}, (), (), LOOSE, ("box", (2.0, 1.0, 13.0, 9.0), 1)),
    ({"occluded": 2}, (), (), LOOSE, ("ignored", (2.0, 1.0, 13.0, 9.0), 0)),
    ({"occluded": 3}, (), (), LOOSE, ("ignored", (2.0, 1.0, 13.0, 9.0), 0)),
    # A drawn object over its left 4 of 11 pixel columns (36 % hidden): cut to the rest,
    # partly occluded.
    ({}, ((0, 0, 6, 10),), (), LOOSE, ("box", (6.0, 1.0, 13.0, 9.0), 1)),
    # ... but --min-visibility 0.7 asks for more of it.
    ({}, ((0, 0, 6, 10),), (), LabelOptions(min_pixels=1, min_visibility=0.7,
                                            min_contrast=0),
     ("ignored", (6.0, 1.0, 13.0, 9.0), 0)),
    # A corner hidden: the bounds are the whole box, still partly occluded.
    ({}, ((0, 0, 5, 4),), (), LOOSE, ("box", (2.0, 1.0, 13.0, 9.0), 1)),
    # Half or more hidden: what is left may show little of it, so an ignore region.
    ({}, ((0, 0, 8, 10),), (), LOOSE, ("ignored", (8.0, 1.0, 13.0, 9.0), 0)),
    # An unlabelled pole down its middle hides it too (the id map does not say so).
    ({}, (), ((6, 0, 9, 10),), LOOSE, ("box", (2.0, 1.0, 13.0, 9.0), 1)),
    # Pole and drawn object together hide more than half.
    ({}, ((0, 0, 6, 10),), ((8, 0, 11, 10),), LOOSE, ("ignored", (6.0, 1.0, 13.0, 9.0), 0)),
    # Too few pixels left for --min-pixels.
    ({}, (), (), LabelOptions(min_pixels=89), ("ignored", (2.0, 1.0, 13.0, 9.0), 0)),
    # Not a labelled object of the set (its ignore region, or a class synthgen lacks).
    ({"labelled": False}, (), (), LOOSE, ("ignored", (2.0, 1.0, 13.0, 9.0), 0)),
])
def test_a_labelled_region_of_the_photo_is_a_box_while_enough_of_it_shows(
        region, covered, poles, options, expected):
    region = FittedRegion("car", Box(2.5, 1.0, 12.5, 9.0), **{"labelled": True, **region})
    ids, drawn = _covered(*covered), _unlabelled(*poles)
    (label,) = background_regions([region], ids, options, drawn=drawn | (ids > 0))
    kind, bbox, occluded = expected
    assert ("box" if label.is_box else "ignored") == kind
    assert tuple(label.bbox) == bbox and label.occluded == occluded
    mask = mask_utils.decode(label.rle).astype(bool)
    assert mask.sum() == label.area and not ids[mask].any()  # only pixels the photo shows
    window = np.zeros_like(mask)
    window[1:9, 2:13] = True
    if label.is_box:
        assert np.array_equal(mask, window & (ids == 0) & ~drawn)
        hidden = 1 - label.area / window.sum()
        assert label.source == "photo" and label.instance_id == 0 and label.distance == 0
        assert tuple(label.bbox_amodal) == (2.0, 1.0, 13.0, 9.0)
        assert label.truncation == region.truncation
        assert label.visibility == pytest.approx((1 - hidden) * (1 - region.truncation))
    else:
        # An ignore region is what it always was: what no labelled object covers.
        assert np.array_equal(mask, window & (ids == 0))
        assert label.ignored == "background" and label.source is None


def test_a_photo_box_faint_in_the_final_image_is_an_ignore_region():
    region = FittedRegion("car", Box(4.0, 2.0, 12.0, 8.0), labelled=True)
    ids = np.zeros((10, 20), np.uint16)
    flat = np.full((10, 20, 3), 120, np.uint8)
    seen = flat.copy()
    seen[2:8, 4:12] = 230
    (faint,) = background_regions([region], ids, LabelOptions(min_contrast=0.05), image=flat)
    (clear,) = background_regions([region], ids, LabelOptions(min_contrast=0.05), image=seen)
    assert faint.ignored == "background" and faint.contrast is None
    assert clear.is_box and clear.contrast > 0.05


RECTS = st.lists(st.tuples(st.integers(-5, 25), st.integers(-5, 15), st.integers(1, 20),
                           st.integers(1, 12)), max_size=4)


@settings(max_examples=150, deadline=None)
@given(RECTS, RECTS,
       st.tuples(st.floats(-3, 18), st.floats(-3, 8), st.floats(0.5, 15), st.floats(0.5, 9)),
       st.booleans())
def test_photo_boxes_hold_only_what_the_photo_shows(objects, poles, raw, labelled):
    """Whatever drawn objects and unlabelled drawn parts cover: a box or region lies in
    the pixels the region's box touches, its mask is those left to the photo, its box
    tight on them, and a box is never half hidden."""
    ids = _covered(*((x, y, x + w, y + h) for x, y, w, h in objects))
    drawn = _unlabelled(*((x, y, x + w, y + h) for x, y, w, h in poles)) | (ids > 0)
    x, y, w, h = raw
    box = Box(x, y, x + w, y + h).clip(20, 10)
    if not (box.x1 > box.x0 and box.y1 > box.y0):
        return
    region = FittedRegion("car", box, labelled=labelled)
    for label in background_regions([region], ids, LOOSE, drawn=drawn):
        mask = mask_utils.decode(label.rle).astype(bool)
        assert mask.sum() == label.area > 0 and not (drawn if label.is_box else ids)[mask].any()
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert math.floor(box.x0) <= label.bbox.x0 < label.bbox.x1 <= math.ceil(box.x1)
        assert math.floor(box.y0) <= label.bbox.y0 < label.bbox.y1 <= math.ceil(box.y1)
        # Tight on the pixels left to the photo.
        assert label.bbox == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        if label.is_box:
            window = (math.ceil(box.x1) - math.floor(box.x0)) * (
                math.ceil(box.y1) - math.floor(box.y0))
            assert labelled and label.area > window / 2 and label.occluded < 2


def test_the_crop_sets_a_regions_truncation():
    # A square image takes the photo's middle 100x100 (x from 50): 10 of the box's 40
    # columns are kept.
    background = _photo(200, 100, [(20, 10, 60, 50), (60, 10, 80, 50)])
    _, regions = fit_background(background, (100, 100), False)
    assert [round(r.truncation, 6) for r in regions] == [0.75, 0.0]
    assert not any(r.labelled for r in regions)  # a bank that keeps no boxes
    # The set's own truncation adds to the crop's: half outside the photo, then a
    # quarter of the rest kept.
    labels = (SetLabel(True, 1, 0.5), SetLabel(True, 0, 0.0))
    _, regions = fit_background(dataclasses.replace(background, labels=labels),
                                (100, 100), False)
    assert [round(r.truncation, 6) for r in regions] == [0.875, 0.0]
    assert [(r.labelled, r.occluded) for r in regions] == [(True, 1), (True, 0)]


def test_the_layers_say_where_anything_was_drawn_over_the_photo():
    """Poles of signs and lights are drawn but unlabelled (id 0): ``drawn`` knows them,
    so a photo's object behind one is hidden there."""
    photo = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    unlabelled = 0
    for index in range(30):
        scene = sample_scene(TEMPLATES["urban"], image_rng(5, index))
        layers = render(scene, *SIZE, background=photo)
        assert layers.drawn.shape == layers.instance_map.shape
        assert layers.drawn[layers.instance_map > 0].all()
        unlabelled += int((layers.drawn & (layers.instance_map == 0)).sum())
    assert unlabelled > 0  # some poles (or unlabelled parts) were drawn


# --------------------------------------------------------------------------- the bank

def test_bank_of_a_kitti_set(tiny_set):
    bank = background_bank(str(tiny_set))
    assert [b.file_name for b in bank.backgrounds] == ["000000.png", "000001.png"]
    first, second = bank.backgrounds
    assert (first.width, first.height) == (200, 100)
    # Every labelled object is a region, in its class; DontCare is a car region.
    assert [c for c, _ in first.regions] == ["car", "pedestrian", "car"]
    assert [c for c, _ in second.regions] == ["car", "car", "car", "cyclist", "car"]
    assert second.regions[-1][1] == Box(140.0, 60.0, 160.0, 80.0)
    assert bank.recorded() == {"digest": bank.digest, "images": 2, "regions": 8,
                               "per_class": {"car": 6, "pedestrian": 1, "cyclist": 1}}


def test_a_bank_that_keeps_boxes_knows_which_regions_are_labelled(tiny_set):
    plain, boxes = background_bank(str(tiny_set)), background_bank(str(tiny_set), boxes=True)
    assert [b.regions for b in boxes.backgrounds] == [b.regions for b in plain.backgrounds]
    assert [b.labels for b in plain.backgrounds] == [(), ()]
    first, second = boxes.backgrounds
    # Every labelled object (the Van is a car) is labelled, with KITTI's occlusion and
    # truncation; DontCare is a region only (its -1s: unknown, the worst).
    assert first.labels == (SetLabel(True), SetLabel(True), SetLabel(True))
    assert second.labels == (SetLabel(True), SetLabel(True, 1), SetLabel(True, 0, 0.3),
                             SetLabel(True), SetLabel(False, 3, 1.0))
    assert boxes.digest != plain.digest and not plain.boxes and boxes.boxes
    assert boxes.recorded() == {**plain.recorded(), "digest": boxes.digest,
                                "labels": "boxes", "labelled": 7}


def test_what_a_kitti_set_says_of_an_object_decides_its_box(tmp_path):
    """Through the KITTI reader: occlusion 0-1 and truncation up to 0.3 (exactly 0.3
    too) make boxes; level 2, KITTI's unknown level 3 and more truncation ignore
    regions; DontCare is never labelled."""
    lines = [kitti_line("Car", (10.0, 10.0, 40.0, 40.0)),
             kitti_line("Car", (50.0, 10.0, 80.0, 40.0), occluded=1),
             kitti_line("Car", (90.0, 10.0, 120.0, 40.0), truncated=0.3),
             kitti_line("Car", (130.0, 10.0, 160.0, 40.0), occluded=2),
             kitti_line("Car", (10.0, 50.0, 40.0, 80.0), occluded=3),
             kitti_line("Car", (50.0, 50.0, 80.0, 80.0), truncated=0.31),
             "DontCare -1 -1 -10 90.00 50.00 120.00 80.00 -1 -1 -1 -1000 -1000 -1000 -10"]
    root = write_set(tmp_path / "k", {"000000": lines})
    (photo,) = background_bank(str(root), boxes=True).backgrounds
    assert [(label.labelled, label.occluded) for label in photo.labels] == [
        (True, 0), (True, 1), (True, 0), (True, 2), (True, 3), (True, 0), (False, 3)]
    _, regions = fit_background(photo, (200, 100), False)  # no crop: the photo's size
    labels = background_regions(regions, np.zeros((100, 200), np.uint16), LOOSE)
    assert [label.is_box for label in labels] == [True, True, True, False, False, False,
                                                   False]
    assert [label.occluded for label in labels[:3]] == [0, 1, 0]
    assert labels[2].truncation == pytest.approx(0.3)


def test_bank_of_a_coco_set(tmp_path):
    images = tmp_path / "coco" / "images"
    images.mkdir(parents=True)
    Image.fromarray(np.full((40, 80, 3), 90, np.uint8)).save(images / "a.png")
    Image.fromarray(np.full((40, 80, 3), 90, np.uint8)).save(images / "b.png")
    (tmp_path / "coco" / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 80, "height": 40},
                   {"id": 2, "file_name": "b.png", "width": 80, "height": 40}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10],
             "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [20, 2, 10, 10],
             "area": 100, "iscrowd": 1},
            {"id": 3, "image_id": 1, "category_id": 3, "bbox": [30, 2, 10, 10],
             "area": 100, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"},
                       {"id": 3, "name": "dog"}]}))
    bank = background_bank(str(tmp_path / "coco"))
    a, b = bank.backgrounds
    # A crowd is a region of its class; a class synthgen has not is a car region.
    assert a.regions == (("car", Box(1, 2, 11, 12)), ("pedestrian", Box(20, 2, 30, 12)),
                         ("car", Box(30, 2, 40, 12)))
    assert b.regions == ()
    # Kept as boxes: only the car is a labelled object; the crowd and the dog are not.
    assert [label.labelled for label in background_bank(
        str(tmp_path / "coco"), boxes=True).backgrounds[0].labels] == [True, False, False]


def test_the_digest_follows_pixels_and_labels(tmp_path, tiny_set):
    bank = background_bank(str(tiny_set))
    assert background_bank(str(write_set(tmp_path / "same"))).digest == bank.digest
    assert background_bank(str(write_set(tmp_path / "pixels", seed=3))).digest != bank.digest
    labels = {"000000": [kitti_line("Car", (20.2, 20.0, 80.4, 61.0))], "000001": []}
    assert background_bank(str(write_set(tmp_path / "labels", labels))).digest != bank.digest


def test_a_photo_of_another_size_than_its_labels_is_refused(tmp_path):
    root = write_set(tmp_path / "r")
    coco = tmp_path / "coco"
    (coco / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 80, 3), np.uint8)).save(coco / "images" / "a.png")
    (coco / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 81, "height": 40}],
        "annotations": [], "categories": [{"id": 1, "name": "car"}]}))
    assert background_bank(str(root)).backgrounds  # the KITTI set itself is fine
    with pytest.raises(DatasetError, match="--backgrounds: .*a.png"):
        background_bank(str(coco))


# --------------------------------------------------------------------------- rendering

def test_a_scene_without_objects_is_the_photo_itself():
    scene = dataclasses.replace(sample_scene(TEMPLATES["kitti"], image_rng(0, 0)),
                                objects=())
    photo = np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
    layers = render(scene, *SIZE, background=photo)
    assert np.array_equal(layers.image, photo)
    assert not layers.instance_map.any() and np.isinf(layers.depth).all()
    assert layers.objects == []


@pytest.mark.parametrize("name", ["urban", "highway"])
def test_nothing_but_the_objects_changes_the_photo_at_any_hour(name):
    """No street lamp, lamp pool or headlight beam of the (undrawn) scenery lights the
    photo, at night either: without objects the image is the photo."""
    photo = np.random.default_rng(1).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
    hours = set()
    for index in range(40):
        scene = dataclasses.replace(sample_scene(TEMPLATES[name], image_rng(1, index)),
                                    objects=())
        hours.add(scene.lighting.time_of_day)
        assert np.array_equal(render(scene, *SIZE, background=photo).image, photo), index
    assert hours == {"day", "dusk", "night"}


def test_weather_veils_the_photo_as_far_away_as_photo_depth():
    photo = np.random.default_rng(1).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
    kinds = set()
    for index in range(60):
        scene = dataclasses.replace(sample_scene(TEMPLATES["urban"], image_rng(1, index)),
                                    objects=())
        kinds.add(scene.weather.kind)
        depth = render(scene, *SIZE, background=photo).depth
        clear = scene.weather.kind in ("clear", "overcast")
        assert (np.isinf(depth) if clear else depth == PHOTO_DEPTH).all()
    assert {"clear", "fog"} <= kinds


def test_a_photo_of_the_wrong_size_is_refused():
    scene = sample_scene(TEMPLATES["kitti"], image_rng(0, 0))
    with pytest.raises(ValueError, match="background is"):
        render(scene, *SIZE, background=np.zeros((SIZE[1], SIZE[0] + 1, 3), np.uint8))


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(TEMPLATES)), st.integers(0, 2**31), st.integers(0, 10**6))
def test_labels_over_a_photo(tiny_set_bank, name, seed, index):
    """The scene is the one drawn without a photo; boxes are tight on the id map's pixels
    as ever; the photo's objects follow, as ignore regions, in the photo's order."""
    options = LabelOptions(min_pixels=1, min_visibility=0, min_contrast=0)
    plain = render_sample(TEMPLATES[name], seed=seed, index=index, size=SIZE,
                          label_options=options)
    over = render_sample(TEMPLATES[name], seed=seed, index=index, size=SIZE,
                         label_options=options, backgrounds=tiny_set_bank)
    assert over.scene.objects == plain.scene.objects
    assert over.scene.metadata() == plain.scene.metadata()
    ids = over.instance_map
    drawn = [label for label in over.labels if label.ignored != "background"]
    regions = [label for label in over.labels if label.ignored == "background"]
    assert over.labels == drawn + regions  # the photo's regions last
    assert {label.instance_id for label in drawn} == set(np.unique(ids)) - {0}
    for label in drawn:
        mask = ids == label.instance_id
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert label.bbox == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    mirrored = over.background.endswith("~")
    photo = next(b for b in tiny_set_bank.backgrounds
                 if b.file_name == over.background.removesuffix("~"))
    _, fitted = fit_background(photo, SIZE, mirrored)
    # Each of the photo's objects, but those the drawn objects hide wholly.
    shown = [r.category for r in fitted
             if (ids[int(r.box.y0):math.ceil(r.box.y1), int(r.box.x0):math.ceil(r.box.x1)]
                 == 0).any()]
    assert [label.category for label in regions] == shown
    assert all(label.instance_id == 0 and not label.is_box for label in regions)


@pytest.fixture(scope="module")
def tiny_set_bank(tiny_set):
    return background_bank(str(tiny_set))


# --------------------------------------------------------------------------- the command

def _generate(out: Path, real: Path, *extra: str):
    return CliRunner().invoke(cli, ["-q", "generate", "--scene", "kitti", "--count", "4",
                                    "--size", "160x96", "--out", str(out), "--backgrounds",
                                    str(real), *extra])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_over_photos_is_deterministic_whatever_the_workers(tmp_path, tiny_set):
    one = _generate(tmp_path / "one", tiny_set, "--workers", "1", "--sprites", str(tiny_set))
    two = _generate(tmp_path / "two", tiny_set, "--workers", "2", "--sprites", str(tiny_set))
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["options"]["backgrounds"]["images"] == 2
    coco = json.loads((tmp_path / "one" / "annotations.json").read_text())
    assert all(image["background"].rstrip("~") in ("000000.png", "000001.png")
               for image in coco["images"])
    regions = [ann for ann in coco["annotations"] if ann.get("ignored") == "background"]
    assert regions and all(ann["iscrowd"] == 1 for ann in regions)
    validated = CliRunner().invoke(cli, ["validate", str(tmp_path / "one")])
    assert validated.exit_code == 0, validated.output


def test_generate_with_the_photos_boxes(tmp_path, tiny_set):
    """--background-labels boxes: the photo's labelled objects are boxes marked as the
    photo's, its DontCare an ignore region; the images are those of the run without it,
    only the labels differ; --resume refuses a change of the option. (Twelve images:
    in fewer, the kitti template's pasted cars may hide every photo box.)"""
    pastes = ("--sprites", str(tiny_set), "--decoys", "0.5")
    assert _generate(tmp_path / "regions", tiny_set, "--count", "12", *pastes).exit_code == 0
    result = _generate(tmp_path / "boxes", tiny_set, "--count", "12", *pastes,
                       "--background-labels", "boxes")
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "boxes" / "annotations.json").read_text())
    plain = json.loads((tmp_path / "regions" / "annotations.json").read_text())
    photo = [ann for ann in coco["annotations"] if ann.get("source") == "photo"]
    assert photo and all(ann["iscrowd"] == 0 and "ignored" not in ann for ann in photo)
    assert (len(photo) + sum(ann.get("ignored") == "background" for ann in coco["annotations"])
            == sum(ann.get("ignored") == "background" for ann in plain["annotations"]))
    def drawn(annotations):  # the drawn objects' labels, without the ids that shift
        return [{k: v for k, v in ann.items() if k != "id"} for ann in annotations
                if ann.get("ignored") != "background" and "source" not in ann]

    assert drawn(coco["annotations"]) == drawn(plain["annotations"])
    files = _files(tmp_path / "boxes")
    assert {k: v for k, v in files.items() if k.startswith("images/")} == {
        k: v for k, v in _files(tmp_path / "regions").items() if k.startswith("images/")}
    manifest = json.loads((tmp_path / "boxes" / "manifest.json").read_text())
    assert manifest["options"]["backgrounds"]["labels"] == "boxes"
    # Counted in the summary and the manifest; a run without them records no count.
    assert manifest["counts"]["photo_boxes"] == len(photo)
    assert f"({len(photo)} from the background photos' labels)" in result.output
    regions_manifest = json.loads((tmp_path / "regions" / "manifest.json").read_text())
    assert "photo_boxes" not in regions_manifest["counts"]
    assert CliRunner().invoke(cli, ["validate", str(tmp_path / "boxes")]).exit_code == 0
    resumed = _generate(tmp_path / "boxes", tiny_set, "--count", "12", *pastes, "--resume")
    assert resumed.exit_code == 2 and "backgrounds" in resumed.output
    assert _files(tmp_path / "boxes") == files


def test_photo_boxes_are_counted_across_shards_and_a_finished_folder(tmp_path, tiny_set):
    """Shards' counts of photo boxes add up to the unsharded run's in the merged
    manifest; a finished folder given to --resume says how many there are."""
    boxes = ("--count", "6", "--background-labels", "boxes")
    assert _generate(tmp_path / "whole", tiny_set, *boxes).exit_code == 0
    for k in (1, 2):
        assert _generate(tmp_path / f"s{k}", tiny_set, *boxes,
                         "--shard", f"{k}/2").exit_code == 0
    merged = CliRunner().invoke(cli, ["-q", "merge", str(tmp_path / "s1"), str(tmp_path / "s2"),
                                      "--out", str(tmp_path / "merged")])
    assert merged.exit_code == 0, merged.output
    whole = json.loads((tmp_path / "whole" / "manifest.json").read_text())["counts"]
    shards = [json.loads((tmp_path / f"s{k}" / "manifest.json").read_text())["counts"]
              for k in (1, 2)]
    assert whole["photo_boxes"] > 0
    assert sum(c.get("photo_boxes", 0) for c in shards) == whole["photo_boxes"]
    merged_counts = json.loads((tmp_path / "merged" / "manifest.json").read_text())["counts"]
    assert merged_counts["photo_boxes"] == whole["photo_boxes"]
    # A shard whose manifest predates the count: merge counts its annotations instead.
    manifest_path = tmp_path / "s2" / "manifest.json"
    old = json.loads(manifest_path.read_text())
    old["counts"].pop("photo_boxes", None)
    manifest_path.write_text(json.dumps(old))
    remerged = CliRunner().invoke(cli, ["-q", "merge", str(tmp_path / "s1"),
                                        str(tmp_path / "s2"), "--out", str(tmp_path / "m2")])
    assert remerged.exit_code == 0, remerged.output
    counts = json.loads((tmp_path / "m2" / "manifest.json").read_text())["counts"]
    assert counts["photo_boxes"] == whole["photo_boxes"]
    # One whose count was edited is refused, naming it.
    old["counts"]["photo_boxes"] = whole["photo_boxes"] + 1
    manifest_path.write_text(json.dumps(old))
    edited = CliRunner().invoke(cli, ["-q", "merge", str(tmp_path / "s1"),
                                      str(tmp_path / "s2"), "--out", str(tmp_path / "m3")])
    assert edited.exit_code == 2
    assert "its manifest counts" in edited.output and "was it changed?" in edited.output
    assert not (tmp_path / "m3").exists()
    again = _generate(tmp_path / "whole", tiny_set, *boxes, "--resume")
    assert again.exit_code == 0, again.output
    assert "already complete" in again.output
    assert f"({whole['photo_boxes']} from the background photos' labels)" in again.output


def test_without_backgrounds_nothing_is_recorded_of_them(tmp_path, tiny_set):
    """A run without --backgrounds records nothing of it (its bytes are pinned by the
    golden and determinism tests of tests/generate)."""
    plain = CliRunner().invoke(cli, ["-q", "generate", "--scene", "kitti", "--count", "2",
                                     "--size", "160x96", "--out", str(tmp_path / "p")])
    assert plain.exit_code == 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert "backgrounds" not in manifest["options"]
    coco = json.loads((tmp_path / "p" / "annotations.json").read_text())
    assert not any("background" in image for image in coco["images"])


def test_preview_draws_what_generate_draws(tmp_path, tiny_set):
    from synthgen.viz.sheet import SHEET_PADDING

    assert _generate(tmp_path / "out", tiny_set, "--seed", "2", "--image-format",
                     "png").exit_code == 0
    written = cv2.imread(str(tmp_path / "out" / "images" / "000001.png"))
    sample = render_sample(TEMPLATES["kitti"], seed=2, index=1, size=SIZE,
                           backgrounds=background_bank(str(tiny_set)))
    assert np.array_equal(cv2.cvtColor(written, cv2.COLOR_BGR2RGB), sample.image)
    sheet_file = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, [
        "preview", "--scene", "kitti", "--seed", "2", "--count", "2", "--layers",
        "--size", "160x96", "--tile-width", "160", "--backgrounds", str(tiny_set),
        "--out", str(sheet_file)])
    assert result.exit_code == 0, result.output
    sheet = cv2.cvtColor(cv2.imread(str(sheet_file)), cv2.COLOR_BGR2RGB)
    panels = [sheet[top:top + 96, SHEET_PADDING:SHEET_PADDING + 160]
              for top in range(sheet.shape[0] - 95)]
    assert any(np.array_equal(panel, sample.image) for panel in panels)


def test_resume_refuses_another_background_set(tmp_path, tiny_set):
    assert _generate(tmp_path / "out", tiny_set).exit_code == 0
    other = write_set(tmp_path / "other", seed=7)
    result = _generate(tmp_path / "out", other, "--resume")
    assert result.exit_code == 2
    assert "backgrounds" in result.output


@pytest.mark.parametrize("make,extra,message", [
    (lambda root: root / "missing", [], "--backgrounds: "),
    (lambda root: write_set(root / "r"), ["--look-like", "LOOK"],
     "--look-like and --backgrounds cannot be combined"),
    (lambda root: write_set(root / "r"), ["--background-labels", "maybe"],
     "'maybe' is not one of 'ignore', 'boxes'"),
])
def test_bad_background_options_are_one_error_line(tmp_path, make, extra, message):
    (tmp_path / "look").mkdir()
    extra = [str(tmp_path / "look") if a == "LOOK" else a for a in extra]
    result = _generate(tmp_path / "out", make(tmp_path), *extra)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_background_labels_without_backgrounds_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["-q", "generate", "--scene", "kitti", "--count", "1",
                                      "--size", "160x96", "--out", str(tmp_path / "out"),
                                      "--background-labels", "boxes"])
    assert result.exit_code == 2 and not (tmp_path / "out").exists()
    assert "--background-labels only works with --backgrounds" in result.output


def test_an_out_that_holds_an_input_is_refused(tmp_path):
    real = write_set(tmp_path / "real")
    before = _files(real)
    for out in (real, real / "training"):
        result = CliRunner().invoke(cli, ["-q", "generate", "--scene", "kitti", "--count", "1",
                                          "--size", "160x96", "--out", str(out),
                                          "--backgrounds", str(real), "--overwrite"])
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(lines) == 1 and "overlaps the input" in lines[0], result.output
    assert _files(real) == before


def test_classes_the_set_labels_nowhere_are_warned_of(tmp_path, tiny_set, caplog):
    with caplog.at_level("WARNING"):
        assert _generate(tmp_path / "out", tiny_set, "--count", "1").exit_code == 0
    warned = [r.getMessage() for r in caplog.records if "labels no" in r.getMessage()]
    # The kitti template places trucks, lights and signs; the tiny set labels none.
    assert len(warned) == 1 and "truck" in warned[0] and "car," not in warned[0]


@pytest.mark.parametrize(("size", "warned"), [
    ("160x96", None),  # the 200x100 photos cropped to 167x100: shrunk, no warning
    ("400x200", "2 of its 2 photos enlarged (up to 2.00x) to fill 400x200 images"),
    ("400x100", "2 of its 2 photos enlarged (up to 2.00x) to fill 400x100 images"),
    ("100x400", "2 of its 2 photos enlarged (up to 4.00x) to fill 100x400 images"),
])
def test_photos_enlarged_to_fill_the_images_are_warned_of(tmp_path, tiny_set, caplog, size,
                                                          warned):
    with caplog.at_level("WARNING"):
        result = CliRunner().invoke(cli, ["generate", "--scene", "kitti", "--count", "1",
                                          "--size", size, "--out", str(tmp_path / "out"),
                                          "--backgrounds", str(tiny_set)])
    assert result.exit_code == 0, result.output
    messages = [r.getMessage() for r in caplog.records if "enlarged" in r.getMessage()]
    assert messages == ([] if warned is None else [f"--backgrounds {tiny_set}: {warned}, "
                                                   "blurrier than what is drawn over them; "
                                                   "a --size no larger than the photos' "
                                                   "crop to its aspect avoids it"])


@pytest.mark.parametrize("option", ["--sprites", "--backgrounds", "--look-like"])
def test_an_input_the_system_will_not_look_at_is_one_error_line(tmp_path, option):
    # A name too long for the file system: Path.exists() raises instead of answering.
    path = tmp_path / ("a" * 300)
    result = CliRunner().invoke(cli, ["generate", "--scene", "kitti", "--count", "1",
                                      "--out", str(tmp_path / "out"), option, str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "cannot read (File name too long)" in lines[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["generate", "preview"])
def test_an_input_given_as_out_is_refused_naming_its_option(tmp_path, command):
    real = write_set(tmp_path / "real")
    before = _files(real)
    photo = real / "training" / "image_2" / "000000.png"
    out = real if command == "generate" else photo
    args = (["generate", "--count", "1"] if command == "generate" else ["preview"])
    result = CliRunner().invoke(cli, [*args, "--scene", "kitti", "--size", "160x96",
                                      "--out", str(out), "--sprites", str(real),
                                      "--overwrite"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "overlaps the input" in lines[0], result.output
    assert "(--sprites)" in lines[0]
    assert _files(real) == before


def test_the_same_sprite_set_twice_is_refused(tmp_path):
    real = write_set(tmp_path / "real")
    result = CliRunner().invoke(cli, ["generate", "--scene", "kitti", "--count", "1",
                                      "--out", str(tmp_path / "out"), "--sprites", str(real),
                                      "--sprites", str(tmp_path / "." / "real")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "given twice" in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_a_missing_sprite_set_given_twice_is_reported_missing(tmp_path):
    gone = tmp_path / "gone"
    result = CliRunner().invoke(cli, ["generate", "--scene", "kitti", "--count", "1",
                                      "--out", str(tmp_path / "out"), "--sprites", str(gone),
                                      "--sprites", str(gone)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "given twice" not in lines[0], result.output
    assert str(gone) in lines[0] and "no such" in lines[0], result.output
