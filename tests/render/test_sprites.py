"""``--sprites``: the bank of real cut-outs, how one is chosen, and what pasting it does to
the image and the labels."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
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

from synthgen.cli import cli
from synthgen.datasets.cutouts import (
    BANK_FORMAT,
    BORDER,
    DECOY_GAP,
    DECOY_REACH,
    MIN_HEIGHT,
    decoy_box,
    eligible,
    sprite_bank,
    sprite_banks,
)
from synthgen.errors import DatasetError
from synthgen.formats.boxes import Box
from synthgen.generate.images import render_sample
from synthgen.labels import LabelOptions, compute_labels
from synthgen.render.lighting import face_light, illumination
from synthgen.render.painter import _DAYLIGHT, _Painter, render
from synthgen.render.sprites import (
    DECOY_SHARE,
    MAX_MISFIT,
    NEAREST,
    Sprite,
    SpriteBank,
    box_aspect,
    outline,
    paste_pixels,
    view_from_kitti,
    view_of,
)
from synthgen.scene import sampling
from synthgen.scene.model import SceneObject, SpritePick
from synthgen.scene.sampling import image_rng, sample_scene, sample_sprites
from synthgen.scene.templates import load_template
from synthgen.storage.images import decode_rgb

SIZE = (320, 160)
TEMPLATES = {name: load_template(name)
             for name in ("urban", "highway", "rural", "intersection", "kitti")}


def kitti_line(kind: str, ltrb: tuple[float, float, float, float], *, truncated: float = 0.0,
               occluded: int = 0, alpha: float = -1.57) -> str:
    left, top, right, bottom = ltrb
    return (f"{kind} {truncated:.2f} {occluded} {alpha:.2f} {left:.2f} {top:.2f} "
            f"{right:.2f} {bottom:.2f} 1.50 1.60 3.90 1.00 1.70 20.00 0.01")


#: Per image: label lines; the comments say which are cut out.
LABELS = {
    "000000": [kitti_line("Car", (20.2, 20.0, 80.4, 60.0)),                # yes
               kitti_line("Pedestrian", (120.0, 10.0, 140.0, 70.0), alpha=0.3),  # yes
               kitti_line("Car", (150.0, 60.0, 190.0, 70.0))],             # too short
    "000001": [kitti_line("Car", (10.0, 10.0, 70.0, 50.0), alpha=1.6),     # yes
               kitti_line("Car", (100.0, 10.0, 160.0, 50.0), occluded=1),  # occluded
               kitti_line("Van", (20.0, 55.0, 90.0, 95.0), truncated=0.3),  # truncated
               kitti_line("Cyclist", (120.0, 52.0, 150.0, 98.0)),          # overlaps DontCare
               "DontCare -1 -1 -10 140.00 60.00 160.00 80.00 -1 -1 -1 -1000 -1000 -1000 -10"],
}


def write_set(root: Path, labels: dict[str, list[str]] = LABELS, seed: int = 0) -> Path:
    """A tiny KITTI set of noise photos 200x100 (every cut-out different)."""
    rng = np.random.default_rng(seed)
    for stem, lines in labels.items():
        image = root / "training" / "image_2" / f"{stem}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)).save(image)
        label = root / "training" / "label_2" / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    return write_set(tmp_path_factory.mktemp("sprites") / "real")


@pytest.fixture(scope="module")
def bank(tiny_set) -> SpriteBank:
    return sprite_bank(str(tiny_set))


# --------------------------------------------------------------------------- angles

@pytest.mark.parametrize("alpha,view", [
    (-math.pi / 2, 0.0),        # KITTI: seen from behind
    (math.pi / 2, math.pi),     # from the front
    (0.0, math.pi / 2),         # heading to the camera's right
    (math.pi, -math.pi / 2),    # heading to its left
])
def test_view_from_kitti(alpha, view):
    assert view_from_kitti(alpha) == pytest.approx(view)


@pytest.mark.parametrize("yaw,x,y,view", [
    (0.0, 0.0, 20.0, 0.0),                  # ahead, driving away: its back
    (math.pi, 0.0, 30.0, math.pi),          # oncoming: its front
    (math.pi / 2, 0.0, 20.0, math.pi / 2),  # crossing to the right
    (0.0, 20.0, 20.0, -math.pi / 4),        # ahead to the right, driving away: back-left
])
def test_view_of_an_object(yaw, x, y, view):
    assert view_of(yaw, x, y, 0.0) == pytest.approx(view, abs=1e-6)


def test_box_aspect_is_the_aspect_of_the_rendered_box():
    """The aspect a cut-out of unknown angle is chosen by is the drawn car's: measured on
    the amodal boxes of rendered cars wholly in frame (perspective makes near ones a bit
    wider than seen from afar)."""
    from synthgen.scene.templates import load_template

    errors = []
    for index in range(12):
        sample = render_sample(load_template("kitti"), seed=4, index=index, size=(1242, 375))
        objects = {obj.instance_id: obj for obj in sample.scene.objects}
        for label in sample.labels:
            x0, y0, x1, y1 = label.bbox_amodal
            if label.category != "car" or x0 < 1 or y0 < 1 or x1 > 1241 or y1 > 374:
                continue
            obj = objects[label.instance_id]
            view = view_of(obj.yaw, obj.x, obj.y, sample.scene.camera.x)
            expected = box_aspect(obj.length, obj.width, obj.height, view)
            errors.append(math.log2((x1 - x0) / (y1 - y0) / expected))
    assert len(errors) > 20
    assert np.percentile(np.abs(errors), 90) < 0.35, sorted(errors)


def _bank(views: list[float | None], heights: list[int] | None = None,
          category: str = "car") -> SpriteBank:
    heights = heights or [40] * len(views)
    sprites = tuple(Sprite(category, np.zeros((h, 2 * h, 3), np.uint8), v, f"x#{k}")
                    for k, (v, h) in enumerate(zip(views, heights, strict=True)))
    return SpriteBank("x", sprites, "0", 1)


def test_candidates_are_the_nearest_views_mirrored_where_nearer():
    bank = _bank([0.05, 0.5, 1.0, 2.0, 3.0, -3.0, 1.5, -0.2])
    chosen = bank.candidates("car", 1.0)
    assert len(chosen) == NEAREST
    assert chosen[0] == (2, False)
    # 2.0 mirrored is -2.0, far; unmirrored 1.5 and 0.5 are as near as each other.
    assert (6, False) in chosen and (1, False) in chosen
    # -0.2 seen mirrored is 0.2: nearer to 1.0 than 0.05 is.
    assert chosen.index((7, True)) < chosen.index((0, False))
    assert bank.candidates("pedestrian", 1.0) == []


def test_a_cutout_much_smaller_than_the_object_is_chosen_last():
    bank = _bank([0.0, 0.0], heights=[30, 200])
    assert bank.candidates("car", 0.0, 400.0)[0][0] == 1
    assert bank.candidates("car", 0.0, 40.0)[0][0] == 0  # enlarging 1.3x costs nothing


def test_sets_without_angles_take_any_cutout():
    bank = _bank([None] * (NEAREST + 3))
    assert sorted(bank.candidates("car", 2.0)) == [(k, False) for k in range(NEAREST + 3)]


def test_a_cutout_of_unknown_angle_is_chosen_by_its_aspect():
    """Without angles, a cut-out as wide for its height as the object's box fits best:
    a car seen from the side is not squeezed over one seen from behind."""
    sprites = tuple(Sprite("car", np.zeros((40, w, 3), np.uint8), None, f"x#{k}")
                    for k, w in enumerate([40, 80, 120, 60, 100, 160, 20, 240]))
    bank = SpriteBank("x", sprites, "0", 1)
    assert [k for k, _ in bank.candidates("car", 0.0, 40.0, aspect=3.0)][:3] == [2, 4, 5]
    assert bank.candidates("car", 0.0, 40.0, aspect=1.0)[0] == (0, False)
    # Over 2**(MAX_MISFIT / ASPECT_COST) times too wide or narrow: never pasted.
    wide = [k for k, _ in bank.candidates("car", 0.0, 40.0, aspect=6.0)]
    assert 7 in wide and 0 not in wide and 6 not in wide
    # Mirroring changes no aspect; with no aspect given every cut-out fits alike.
    assert len(bank.candidates("car", 0.0, 40.0)) == len(sprites)


def test_no_cutout_that_misfits_too_much_is_pasted():
    bank = _bank([0.0, 0.1])  # seen from behind only
    assert bank.candidates("car", math.pi) == []  # an oncoming car is drawn
    assert bank.candidates("car", MAX_MISFIT - 0.2)[0] == (1, False)


def test_cutouts_with_and_without_angles_compete_on_their_misfits():
    """In a bank of a KITTI set and a COCO one, a cut-out without an angle misfits by
    its aspect as one with an angle misfits by its angle (both in radians)."""
    bank = _bank([None, 0.2, 0.5])  # the first is twice as wide as tall
    assert bank.candidates("car", 0.0, aspect=2.0) == [
        (0, False), (1, False), (1, True), (2, False), (2, True)]
    # Twice too wide for a car seen from behind: 1 rad of misfit, after both others.
    assert bank.candidates("car", 0.0, aspect=1.0)[-1] == (0, False)
    # Four times: beyond MAX_MISFIT, never pasted.
    assert (0, False) not in bank.candidates("car", 0.0, aspect=0.5)


# --------------------------------------------------------------------------- the bank

def _obj(target, box, *, crowd=False, occluded=0, truncation=0.0):
    return (target, Box(*box), crowd, {"occluded": occluded, "truncation": truncation})


@pytest.mark.parametrize("objects,kitti,expected", [
    ([_obj("car", (10, 10, 60, 50))], True, [0]),
    ([_obj("car", (10, 10, 60, 10 + MIN_HEIGHT - 1))], True, []),       # too short
    ([_obj("car", (10, 10, 15, 50))], True, []),                        # too narrow
    ([_obj("car", (10, 10, 60, 50), occluded=1)], True, []),
    ([_obj("car", (10, 10, 60, 50), occluded=1)], False, [0]),          # COCO: not said
    ([_obj("car", (10, 10, 60, 50), truncation=0.2)], True, []),
    ([_obj("car", (10, 10, 60, 50), crowd=True)], True, []),
    ([_obj("ignore", (10, 10, 60, 50))], True, []),
    ([_obj("traffic_light", (10, 10, 60, 50))], True, []),
    ([_obj("car", (0, 10, 60, 50))], False, []),                        # at the border
    ([_obj("car", (10, 10, 60, 50)), _obj("ignore", (50, 10, 90, 50))], True, []),
    ([_obj("car", (10, 10, 60, 50)), _obj("car", (58, 10, 120, 50))], True, [0, 1]),  # 4 %
    ([_obj("car", (10, 10, 60, 50)), _obj("drop", (20, 20, 40, 40))], True, []),  # a bicycle
    # A person in front of a bus: 4 % of the bus box, but all of the person's: neither.
    ([_obj("bus", (10, 5, 190, 95)), _obj("pedestrian", (80, 40, 92, 90))], True, []),
    ([_obj("car", (10, float("nan"), 60, 50))], True, []),
    ([_obj("car", (10, 10, 60, 50)), _obj("car", (float("nan"), 10, 60, 50))], True, [0]),
])
def test_which_objects_are_cut_out(objects, kitti, expected):
    assert eligible(objects, 200, 100, kitti=kitti) == expected


def test_bank_of_a_kitti_set(tiny_set, bank):
    assert [s.source for s in bank.sprites] == ["000000.png#0", "000000.png#1",
                                                "000001.png#0"]
    assert [s.category for s in bank.sprites] == ["car", "pedestrian", "car"]
    assert bank.sprites[0].view == pytest.approx(view_from_kitti(-1.57))
    photo = np.asarray(Image.open(tiny_set / "training" / "image_2" / "000000.png"))
    # The box 20.2-80.4 x 20-60 rounded to whole pixels.
    assert np.array_equal(bank.sprites[0].pixels, photo[20:60, 20:80])
    assert not bank.sprites[0].pixels.flags.writeable
    assert bank.recorded()["per_class"] == {"car": 2, "pedestrian": 1}
    assert sprite_bank(str(tiny_set)).digest == bank.digest


def test_the_digest_follows_the_pixels(tmp_path, bank):
    other = write_set(tmp_path / "other", seed=1)
    assert sprite_bank(str(other)).digest != bank.digest


@pytest.mark.parametrize("constant,value", [
    ("MAX_FEATHER", 2.0), ("NEAREST", 5), ("MAX_MISFIT", 1.0), ("UPSCALE_COST", 0.3),
    ("ASPECT_COST", 0.5),
])
def test_the_digest_follows_the_rules_of_pasting(tiny_set, bank, monkeypatch, constant,
                                                 value):
    # A constant the sampling or the painter reads changes what pastes look like without
    # changing their code: it changes the digest, so --resume and merge refuse the mix.
    from synthgen.render import sprites  # noqa: PLC0415

    monkeypatch.setattr(sprites, constant, value)
    assert sprite_bank(str(tiny_set)).digest != bank.digest


def test_the_digest_and_record_follow_the_decoy_share(tiny_set, bank):
    other = sprite_bank(str(tiny_set), decoy_share=0.5)
    assert other.digest != bank.digest
    assert (bank.recorded()["decoy_share"], other.recorded()["decoy_share"]) == (
        DECOY_SHARE, 0.5)


# --------------------------------------------------------------------------- decoys

@pytest.mark.parametrize("box,others,width,expected", [
    # Nearest first: one width to the left.
    ((100, 10, 140, 40), [], 400, (60, 10, 100, 40)),
    # The left would leave the photo's border: the right.
    ((30, 10, 70, 40), [], 400, (70, 10, 110, 40)),
    ((100, 10, 140, 40), [(50, 0, 70, 20)], 400, (140, 10, 180, 40)),
    # Both sides blocked at one width: one and a half widths, left first.
    ((100, 10, 140, 40), [(90, 30, 95, 35), (150, 0, 160, 100)], 400, (40, 10, 80, 40)),
    # The object's own box keeps the decoy a gap (an eighth of its width) away from it.
    ((100, 10, 140, 40), [(100, 10, 140, 40)], 400, (40, 10, 80, 40)),
    ((100, 10, 140, 40), [(100.2, 10, 140, 40)], 400, (40, 10, 80, 40)),
    # A box within the gap above blocks; one beyond it does not.
    ((100, 10, 140, 40), [(60, 0, 100, 6)], 400, (140, 10, 180, 40)),
    ((100, 10, 140, 40), [(60, 0, 100, 4.9)], 400, (60, 10, 100, 40)),
    # An odd width moves by whole pixels of half widths.
    ((100, 10, 141, 40), [(50, 0, 70, 100), (141, 0, 170, 100)], 400, (182, 10, 223, 40)),
    # Nowhere in reach, or no room in the photo.
    ((100, 10, 140, 40), [(0, 0, 99, 100), (141, 0, 400, 100)], 400, None),
    ((2, 10, 40, 40), [], 40 + 38 + BORDER - 1, None),
    # A box reaching out of the photo blocks what it covers; one with a NaN, everything.
    ((100, 10, 140, 40), [(-math.inf, 0, 99, 100)], 400, (140, 10, 180, 40)),
    ((100, 10, 140, 40), [(math.nan, 0, 20, 10)], 400, None),
])
def test_where_a_decoy_is_cut(box, others, width, expected):
    assert decoy_box(box, [Box(*o) for o in others], width) == expected


def _clear(place, others, gap) -> bool:
    a, y0, b, y1 = place
    return not any(a - gap < o.x1 and o.x0 < b + gap and y0 - gap < o.y1 and o.y0 < y1 + gap
                   for o in others)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 300), st.integers(0, 80), st.integers(10, 120), st.integers(5, 60),
       st.lists(st.tuples(st.floats(-20, 400), st.floats(-20, 120), st.floats(0.5, 80),
                          st.floats(0.5, 80)), max_size=6), st.integers(100, 400))
def test_a_decoy_is_the_nearest_clear_place_in_the_photo(x0, y0, w, h, raw, width):
    box = (x0, y0, x0 + w, y0 + h)
    others = [Box(*box)] + [Box(x, y, x + bw, y + bh) for x, y, bw, bh in raw]
    gap = max(BORDER, DECOY_GAP * w)
    # Every place within reach, nearest first (left before right).
    places = [(x0 + s, y0, x0 + w + s, y0 + h)
              for halves in range(2, 2 * DECOY_REACH + 1)
              for s in (-(halves * w // 2), halves * w // 2)]
    fitting = [p for p in places if BORDER <= p[0] and p[2] <= width - BORDER
               and _clear(p, others, gap)]
    assert decoy_box(box, others, width) == (fitting[0] if fitting else None)
    assert fitting[:1] == [] or _clear(fitting[0], others, 0.0)


DECOY_LABELS = {
    # The car has room one and a half widths to its left (a piece 40 wide of rows 20-60);
    # the pedestrian's neighbours are blocked by the cars, the DontCare region along the
    # top and the photo's edge.
    "000000": [kitti_line("Car", (80.0, 20.0, 120.0, 60.0)),
               kitti_line("Pedestrian", (160.0, 10.0, 190.0, 70.0), alpha=0.3),
               kitti_line("Car", (120.0, 40.0, 150.0, 95.0), occluded=2),
               "DontCare -1 -1 -10 30.00 0.00 76.00 8.00 -1 -1 -1 -1000 -1000 -1000 -10"],
}


def test_a_cutout_gets_the_piece_of_its_photo_beside_it_as_its_decoy(tmp_path):
    real = write_set(tmp_path / "real", DECOY_LABELS)
    decoyed = sprite_bank(str(real))
    photo = np.asarray(Image.open(real / "training" / "image_2" / "000000.png"))
    car, person = decoyed.sprites
    assert np.array_equal(car.decoy, photo[20:60, 20:60])
    assert not car.decoy.flags.writeable
    assert person.decoy is None
    # Where the decoy is cut goes into the digest.
    moved = dict(DECOY_LABELS)
    moved["000000"] = [*DECOY_LABELS["000000"],
                       "DontCare -1 -1 -10 10.00 50.00 30.00 70.00 -1 -1 -1 -1000 -1000 -1000 -10"]
    other = sprite_bank(str(write_set(tmp_path / "moved", moved)))
    assert np.array_equal(other.sprites[0].pixels, car.pixels)
    assert other.sprites[0].decoy is None
    assert other.digest != decoyed.digest


def test_a_share_of_objects_get_their_decoy_and_only_where_there_is_one():
    def sprite(k, decoy):
        pixels = np.zeros((40, 80, 3), np.uint8)
        return Sprite("car", pixels, None, f"x#{k}", pixels if decoy else None)

    picks = []
    for with_decoy in (True, False):
        bank = SpriteBank("x", (sprite(0, with_decoy),), "d", 1, decoy_share=0.25)
        for index in range(60):
            scene = sample_scene(TEMPLATES["kitti"], image_rng(7, index))
            picks.append([p.decoy for p in sample_sprites(bank, scene, image_rng(8, index),
                                                          SIZE)])
    decoyed = [d for row in picks[:60] for d in row]
    assert len(decoyed) > 200
    assert abs(np.mean(decoyed) - 0.25) < 0.06
    assert not any(d for row in picks[60:] for d in row)


@pytest.mark.parametrize("labels,message", [
    ({"000000": [kitti_line("Car", (20.0, 20.0, 80.0, 30.0))]}, "no object to cut out"),
    ({"000000": ["DontCare -1 -1 -10 1 1 50 50 -1 -1 -1 -1000 -1000 -1000 -10"]},
     "no labelled objects of synthgen's classes .* to cut out;"),
])
def test_a_set_with_nothing_to_cut_out_is_refused(tmp_path, labels, message):
    with pytest.raises(DatasetError, match=message):
        sprite_bank(str(write_set(tmp_path / "real", labels)))


def test_a_photo_of_another_size_than_its_labels_is_refused(tmp_path):
    root = write_set(tmp_path / "real")
    # A COCO set says each image's size (KITTI's are read from the files themselves).
    coco = tmp_path / "coco"
    (coco / "images").mkdir(parents=True)
    Image.open(root / "training" / "image_2" / "000000.png").resize((100, 50)).save(
        coco / "images" / "a.png")
    (coco / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 200, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 60, 40],
                         "area": 2400, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "car"}]}))
    with pytest.raises(DatasetError, match="--sprites: .* is 100x50 pixels"):
        sprite_bank(str(coco))


@pytest.mark.parametrize("orientation", [3, 6])
def test_a_photo_turned_by_exif_is_cut_where_its_labels_are(tmp_path, orientation):
    # Labels refer to the pixels as stored; a viewer would turn this photo (a quarter
    # turn for 6, which made it look 100x200 and refused; half a turn for 3, which
    # cut the wrong pixels).
    coco = tmp_path / "coco"
    (coco / "images").mkdir(parents=True)
    pixels = np.random.default_rng(3).integers(0, 256, (100, 200, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(coco / "images" / "a.jpg", quality=95, exif=exif)
    (coco / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 60, 40],
                         "area": 2400, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "car"}]}))
    [sprite] = sprite_bank(str(coco)).sprites
    stored = decode_rgb((coco / "images" / "a.jpg").read_bytes())
    assert np.array_equal(sprite.pixels, stored[20:60, 20:80])


def test_the_real_kitti_sample_gives_cars_people_and_cyclists(kitti_dir):
    bank = sprite_bank(str(kitti_dir))
    counts = bank.recorded()["per_class"]
    assert counts["car"] >= 20 and counts["pedestrian"] >= 5 and counts["cyclist"] >= 1
    assert all(s.pixels.shape[0] >= MIN_HEIGHT for s in bank.sprites)
    assert all(s.view is not None and -math.pi < s.view <= math.pi for s in bank.sprites)


# --------------------------------------------------------------------------- pasting

def _pastes(bank: SpriteBank, scene, size=SIZE) -> dict:
    rng = np.random.default_rng(5)
    return {p.instance_id: (bank.sprites[p.sprite], p)
            for p in sample_sprites(bank, scene, rng, size)}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(TEMPLATES)), st.integers(0, 2**31), st.integers(0, 10**6))
def test_labels_stay_tight_on_what_is_pasted(bank, name, seed, index):
    bank = dataclasses.replace(bank, decoy_share=0.5)
    rng = image_rng(seed, index)
    scene = sample_scene(TEMPLATES[name], rng)
    pastes = {p.instance_id: (bank.sprites[p.sprite], p)
              for p in sample_sprites(bank, scene, rng, SIZE)}
    layers = render(scene, *SIZE, pastes)
    ids = layers.instance_map
    height, width = ids.shape
    labels = compute_labels(ids, layers.objects, LabelOptions(min_pixels=1, min_visibility=0))
    by_id = {o.instance_id: o for o in layers.objects}
    # Exactly the objects with a visible pixel are labelled, tight on those pixels,
    # which lie inside the object's own projection.
    assert {label.instance_id for label in labels} == set(np.unique(ids)) - {0}
    for label in labels:
        mask = ids == label.instance_id
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert label.bbox == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        obj = by_id[label.instance_id]
        x0, y0, x1, y1 = obj.amodal_xyxy
        assert mask[y0:y1, x0:x1].sum() == mask.sum()
        assert mask.sum() <= obj.inframe_area <= obj.projected_area
    # Only objects of a class the bank holds get a cut-out (cars and people, not lights),
    # and only those are reported pasted.
    categories = {obj.instance_id: obj.category for obj in scene.objects}
    assert {categories[i] for i in pastes} <= {"car", "pedestrian"}
    assert set(layers.pasted) <= set(pastes)
    # An object whose decoy was pasted is neither labelled nor seen in the id map; only
    # objects given a decoy are (one reaching behind the camera is drawn instead).
    assert set(layers.decoys) <= {i for i, (_, pick) in pastes.items() if pick.decoy}
    assert not set(layers.decoys) & set(np.unique(ids))
    assert not set(layers.decoys) & set(layers.pasted)


def _one_car(template: str = "kitti", index: int = 0):
    """A scene of one car 12 m ahead and no scenery."""
    scene = sample_scene(TEMPLATES[template], image_rng(0, index))
    car = SceneObject(instance_id=1, category="car", x=scene.camera.x, y=12.0, yaw=0.0,
                      length=4.2, width=1.8, height=1.5, color=(200, 30, 30),
                      placement="in_lane")
    return dataclasses.replace(scene, objects=(car,), props=())


@pytest.mark.parametrize("mirrored", [False, True])
def test_the_pasted_pixels_are_the_cutout_lit_by_the_scene(bank, mirrored):
    scene = _one_car()
    sprite = bank.sprites[0]
    pick = SpritePick(instance_id=1, sprite=0, mirrored=mirrored, feather=0.0)
    layers = render(scene, *SIZE, {1: (sprite, pick)})
    mask = layers.instance_map == 1
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    gain = face_light(illumination(scene), None) / _DAYLIGHT
    expected = np.clip(paste_pixels(sprite.pixels, mirrored, (x1 - x0, y1 - y0),
                                    (0, 0, x1 - x0, y1 - y0), gain) + 0.5, 0, 255)
    # Inside the outline (away from its antialiased edge) the image is the cut-out.
    inner = mask[y0:y1, x0:x1].copy()
    inner[:, [0, -1]] = inner[[0, -1], :] = False
    inner = inner & np.roll(inner, 1, 0) & np.roll(inner, -1, 0) & np.roll(inner, 1, 1) \
        & np.roll(inner, -1, 1)
    got = layers.image[y0:y1, x0:x1][inner].astype(int)
    assert np.abs(got - expected.astype(np.uint8)[inner].astype(int)).max() <= 1
    # The labelled pixels are the outline filled over the box: all four sides touched.
    filled = mask[y0:y1, x0:x1]
    assert filled[0].any() and filled[-1].any() and filled[:, 0].any() and filled[:, -1].any()
    assert filled[-1].all()  # a vehicle's outline has a flat bottom
    assert outline("car")[:, 1].max() == 1.0


def test_a_decoy_is_pasted_like_its_object_but_left_unlabelled(bank):
    scene = _one_car()
    sprite = dataclasses.replace(bank.sprites[0],
                                 decoy=np.full_like(bank.sprites[0].pixels, 90))
    car = render(scene, *SIZE, {1: (sprite, SpritePick(1, 0, False, 0.0))})
    decoy = render(scene, *SIZE, {1: (sprite, SpritePick(1, 0, False, 0.0, decoy=True))})
    where = car.instance_map == 1
    assert where.sum() > 100
    # Nothing of the object is left in the id map, its projection or the labels...
    assert not (decoy.instance_map == 1).any() and decoy.pasted == []
    assert [o.projected_area for o in decoy.objects] == [0]
    assert compute_labels(decoy.instance_map, decoy.objects,
                          LabelOptions(min_pixels=1, min_visibility=0)) == []
    # ...while the picture shows the decoy where the object would be, at its depth.
    lit = np.floor(90 * face_light(illumination(scene), None) / _DAYLIGHT + 0.5)
    inner = cv2.erode(where.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.abs(decoy.image[inner].astype(int) - lit).max() <= 1
    assert np.array_equal(decoy.depth, car.depth)
    # Outside the outline and its antialiased edge, the two images are the same.
    near = cv2.dilate(where.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(decoy.image[~near], car.image[~near])


def test_a_paste_lit_beyond_white_has_no_glowing_edge(bank):
    # Colours lit beyond 255 (daylight scales a cut-out by a little more than 1) are
    # clipped before an edge pixel's coverage mixes them in: the edge of a cut-out of 250
    # is that of one of 255, both saturated.
    scene = _one_car()
    assert (face_light(illumination(scene), None) / _DAYLIGHT).min() * 250 > 255
    images = [render(scene, *SIZE, {1: (dataclasses.replace(
        bank.sprites[0], pixels=np.full_like(bank.sprites[0].pixels, value)),
        SpritePick(1, 0, False, 1.0))}).image for value in (250, 255)]
    assert np.array_equal(images[0], images[1])


def test_no_pasted_colour_lies_outside_the_labelled_pixels(bank):
    scene = _one_car()
    sprite = bank.sprites[0]
    hot = dataclasses.replace(sprite, pixels=np.full_like(sprite.pixels, 255))
    base = render(scene, *SIZE, {1: (dataclasses.replace(sprite, pixels=np.zeros_like(
        sprite.pixels)), SpritePick(1, 0, False, 1.5))}).image
    for feather in (0.0, 1.5):
        layers = render(scene, *SIZE, {1: (hot, SpritePick(1, 0, False, feather))})
        changed = (layers.image != base).any(axis=2)
        assert changed.any()
        # The antialiased edge may tint the pixels touching the outline, no further.
        labelled = (layers.instance_map == 1).astype(np.uint8)
        near = cv2.dilate(labelled, np.ones((3, 3), np.uint8)).astype(bool)
        assert not (changed & ~near).any()


def test_a_pasted_object_behind_another_is_hidden_by_it(bank):
    scene = _one_car()
    front = dataclasses.replace(scene.objects[0], instance_id=2, y=8.0, x=scene.objects[0].x
                                + 0.6)
    scene = dataclasses.replace(scene, objects=(scene.objects[0], front))
    pastes = {1: (bank.sprites[0], SpritePick(1, 0, False, 0.0)),
              2: (bank.sprites[2], SpritePick(2, 2, False, 0.0))}
    ids = render(scene, *SIZE, pastes).instance_map
    alone = render(dataclasses.replace(scene, objects=scene.objects[:1]), *SIZE,
                   {1: pastes[1]}).instance_map
    assert (ids == 2).sum() > 0
    # Where the near one stands, the far one is not seen.
    assert ((alone == 1) & (ids == 2)).any()
    assert not ((ids == 1) & ~(alone == 1)).any()


def test_an_object_reaching_behind_the_camera_is_drawn_not_pasted(bank):
    scene = _one_car()
    near = dataclasses.replace(scene.objects[0], y=1.0)
    scene = dataclasses.replace(scene, objects=(near,))
    pastes = {1: (bank.sprites[0], SpritePick(1, 0, False, 0.0))}
    assert np.array_equal(render(scene, *SIZE, pastes).image, render(scene, *SIZE).image)


def test_the_scene_and_other_draws_do_not_change_with_sprites(bank):
    template = TEMPLATES["urban"]
    with_sprites = render_sample(template, seed=3, index=1, size=SIZE, sprites=bank)
    without = render_sample(template, seed=3, index=1, size=SIZE)
    assert with_sprites.scene.objects == without.scene.objects
    assert with_sprites.scene.props == without.scene.props
    assert with_sprites.scene.metadata() == without.scene.metadata()
    assert with_sprites.pasted and set(with_sprites.pasted) <= {
        o.instance_id for o in without.scene.objects}
    records = with_sprites.annotation_records()
    named = {label.instance_id for label, record in zip(with_sprites.labels, records,
                                                        strict=True) if "sprite" in record}
    assert named == {label.instance_id for label in with_sprites.labels} & set(
        with_sprites.pasted)
    assert not any("sprite" in record for record in without.annotation_records())


# --------------------------------------------------------------------------- the command

def _generate(out: Path, real: Path, *extra: str):
    return CliRunner().invoke(cli, ["-q", "generate", "--scene", "kitti", "--count", "4",
                                    "--size", "160x96", "--out", str(out), "--sprites",
                                    str(real), *extra])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_with_sprites_is_deterministic_whatever_the_workers(tmp_path, tiny_set):
    one = _generate(tmp_path / "one", tiny_set, "--workers", "1")
    two = _generate(tmp_path / "two", tiny_set, "--workers", "2")
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    recorded = manifest["options"]["sprites"]
    assert recorded["sprites"] == 3 and recorded["per_class"] == {"car": 2, "pedestrian": 1}
    assert recorded["decoys"] == 1  # the pedestrian of 000000 has room beside it
    annotations = json.loads((tmp_path / "one" / "annotations.json").read_text())[
        "annotations"]
    assert any(ann.get("sprite", "").startswith("00000") for ann in annotations)


@pytest.mark.parametrize("decoys", [[], ["--decoys", "1"]])
def test_preview_pastes_what_generate_pastes(tmp_path, tiny_set, decoys):
    """preview --scene --sprites shows image i of generate --sprites with the same seed."""
    from synthgen.scene.templates import load_template
    from synthgen.viz.sheet import SHEET_PADDING

    share = float(decoys[1]) if decoys else DECOY_SHARE

    template = load_template("kitti")
    banks = {s: sprite_bank(str(tiny_set), decoy_share=s) for s in {0.0, DECOY_SHARE, share}}

    @functools.cache
    def sample(index: int, decoy_share: float):
        return render_sample(template, seed=2, index=index, size=(160, 96),
                             sprites=banks[decoy_share])

    if decoys:  # an image only --decoys 1 makes: the share must reach the renderer
        index = next(i for i in range(40) if sample(i, share).decoys and not any(
            np.array_equal(sample(i, other).image, sample(i, share).image)
            for other in (0.0, DECOY_SHARE)))
    else:
        assert _generate(tmp_path / "out", tiny_set, "--seed", "2").exit_code == 0
        annotations = json.loads((tmp_path / "out" / "annotations.json").read_text())
        index = next(ann["image_id"] - 1 for ann in annotations["annotations"]
                     if "sprite" in ann)
    sheet_file = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, [
        "preview", "--scene", "kitti", "--seed", "2", "--count", str(index + 1), "--layers",
        "--size", "160x96", "--tile-width", "160", "--sprites", str(tiny_set), *decoys,
        "--out", str(sheet_file)])
    assert result.exit_code == 0, result.output
    sheet = cv2.cvtColor(cv2.imread(str(sheet_file)), cv2.COLOR_BGR2RGB)
    pasted = sample(index, share)
    assert pasted.pasted or pasted.decoys
    # The sheet's image panels, one per sample, stacked at the left padding.
    panels = [sheet[top:top + 96, SHEET_PADDING:SHEET_PADDING + 160]
              for top in range(sheet.shape[0] - 95)]
    assert any(np.array_equal(panel, pasted.image) for panel in panels)
    if decoys:
        for other in (0.0, DECOY_SHARE):
            assert not any(np.array_equal(panel, sample(index, other).image)
                           for panel in panels)


def test_decoys_sets_the_share_and_zero_pastes_none(tmp_path, tiny_set):
    every = _generate(tmp_path / "every", tiny_set, "--decoys", "1", "--count", "12")
    none = _generate(tmp_path / "none", tiny_set, "--decoys", "0", "--count", "12")
    assert every.exit_code == 0 and none.exit_code == 0, every.output + none.output

    def people(folder: Path) -> int:
        annotations = json.loads((folder / "annotations.json").read_text())["annotations"]
        return sum(ann["category_id"] == 4 and not ann["iscrowd"] for ann in annotations)

    # The bank's one decoy is a pedestrian's: with every decoy pasted, fewer people are
    # labelled than with none; the share is recorded.
    assert people(tmp_path / "every") < people(tmp_path / "none")
    shares = [json.loads((tmp_path / name / "manifest.json").read_text())["options"][
        "sprites"]["decoy_share"] for name in ("every", "none")]
    assert shares == [1.0, 0.0]
    resumed = _generate(tmp_path / "none", tiny_set, "--decoys", "1", "--count", "12",
                        "--resume")
    assert resumed.exit_code == 2 and "sprites" in resumed.output


@pytest.mark.parametrize("args,message", [
    (["generate", "--scene", "kitti", "--count", "1", "--decoys", "0.5"],
     "--decoys only works with --sprites"),
    (["preview", "--scene", "kitti", "--decoys", "0.5"], "--decoys only works with --sprites"),
    (["preview", "DATASET", "--decoys", "0.5"], "--decoys only work with --scene"),
    (["generate", "--scene", "kitti", "--count", "1", "--sprites", "REAL", "--decoys", "1.5"],
     "1.5"),
])
def test_decoys_out_of_place_is_one_error_line(tmp_path, tiny_set, args, message):
    args = [str(tiny_set) if a == "REAL" else str(tmp_path) if a == "DATASET" else a
            for a in args]
    extra = ["--out", str(tmp_path / ("x.png" if args[0] == "preview" else "out"))]
    result = CliRunner().invoke(cli, [*args, *extra])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.png").exists()


def test_resume_refuses_another_sprite_set(tmp_path, tiny_set):
    assert _generate(tmp_path / "out", tiny_set).exit_code == 0
    other = write_set(tmp_path / "other", seed=7)
    result = _generate(tmp_path / "out", other, "--resume")
    assert result.exit_code == 2
    assert "sprites" in result.output


@pytest.mark.parametrize("make,message", [
    (lambda root: root / "missing", "no such file or folder"),
    (lambda root: write_set(root / "r", {"000000": [kitti_line("Car", (1, 1, 9, 9))]}),
     "no object to cut out"),
])
def test_bad_sprite_sets_are_one_error_line(tmp_path, make, message):
    result = _generate(tmp_path / "out", make(tmp_path))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and message in lines[0] and "--sprites" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_pasted_object_in_front_of_drawn_ones_hides_them(bank):
    """Whatever stands behind a pasted object (a drawn bus, scenery) is drawn first."""
    scene = _one_car()
    car = scene.objects[0]
    bus = SceneObject(instance_id=2, category="bus", x=car.x + 0.5, y=22.0, yaw=0.0,
                      length=11.0, width=2.5, height=3.2, color=(40, 90, 160),
                      placement="in_lane")
    full = sample_scene(TEMPLATES["urban"], image_rng(4, 2))
    pastes = {1: (bank.sprites[0], SpritePick(1, 0, False, 0.0))}
    alone = render(dataclasses.replace(scene, objects=(car,)), *SIZE, pastes).instance_map
    for props in ((), full.props):
        behind = dataclasses.replace(scene, objects=(car, bus), props=props)
        ids = render(behind, *SIZE, pastes).instance_map
        assert (ids == 2).any()
        # Scenery may stand in front of the car; the bus 10 m behind it never does.
        assert not ((alone == 1) & (ids == 2)).any()
        if not props:
            assert np.array_equal(ids == 1, alone == 1)


@pytest.mark.parametrize("size,window", [
    ((90, 60), (0, 0, 90, 60)),          # enlarged, whole
    ((90, 60), (30, 10, 70, 50)),        # enlarged, a window
    ((20, 12), (0, 0, 20, 12)),          # shrunk
    ((20, 12), (5, 2, 15, 12)),
])
def test_a_window_of_a_paste_is_that_window_of_the_whole(bank, size, window):
    sprite = bank.sprites[0]
    gain = np.ones(3, np.float32)
    whole = paste_pixels(sprite.pixels, False, size, (0, 0, *size), gain)
    x0, y0, x1, y1 = window
    part = paste_pixels(sprite.pixels, False, size, window, gain)
    assert part.shape == (y1 - y0, x1 - x0, 3)
    assert np.abs(part - whole[y0:y1, x0:x1]).max() <= 1.0
    if size[0] > sprite.pixels.shape[1]:
        reference = cv2.resize(np.ascontiguousarray(sprite.pixels), size,
                               interpolation=cv2.INTER_LINEAR).astype(np.float32)
        assert np.abs(whole - reference).max() <= 1.0


def test_a_box_far_larger_than_the_frame_costs_only_the_frame(bank):
    part = paste_pixels(bank.sprites[0].pixels, True, (40000, 20000), (20000, 9000, 20064, 9032),
                        np.ones(3, np.float32))
    assert part.shape == (32, 64, 3)


def test_the_bank_format_changes_with_the_paste_code():
    """A tripwire: the code that decides what a paste looks like is pinned with the bank
    format that goes into every manifest. Changed code that changes pastes must bump
    ``BANK_FORMAT`` (else --resume, --extend and merge would mix pastes of two kinds in
    one run); then update both values here. Changed code that does not (a comment, a
    rename) updates the hash only."""
    source = "".join(inspect.getsource(f) for f in (paste_pixels, _Painter.paste,
                                                    sampling.sample_sprites,
                                                    SpriteBank.candidates, box_aspect))
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "ebb009bc3bfa2db9b3ddf207b4612c1cdb583a8d1d39ae2f44ccc9a698550077")
    assert BANK_FORMAT == b"synthgen sprites 8\0"


# --------------------------------------------------------------------------- several sets

def _coco_set(root: Path) -> Path:
    """A tiny COCO set of two noise photos 200x100, a car in each (no angles)."""
    rng = np.random.default_rng(5)
    (root / "images").mkdir(parents=True)
    images, annotations = [], []
    for k in range(2):
        name = f"{k:06d}.png"  # the KITTI set's names too
        Image.fromarray(rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)).save(
            root / "images" / name)
        images.append({"id": k + 1, "file_name": name, "width": 200, "height": 100})
        annotations.append({"id": k + 1, "image_id": k + 1, "category_id": 1,
                            "bbox": [20 + 40 * k, 20, 80, 40], "area": 3200, "iscrowd": 0})
    (root / "annotations.json").write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "car"}]}))
    return root


def test_a_bank_of_one_set_is_that_sets_bank(tiny_set, bank):
    one = sprite_banks([str(tiny_set)])
    assert one.digest == bank.digest
    assert [s.source for s in one.sprites] == [s.source for s in bank.sprites]


def test_a_bank_of_several_sets_holds_each_sets_cutouts_in_order(tmp_path, tiny_set, bank):
    coco = _coco_set(tmp_path / "coco")
    both = sprite_banks([str(tiny_set), str(coco)])
    alone = sprite_bank(str(coco))
    assert [s.source for s in both.sprites] == (
        [f"1:{s.source}" for s in bank.sprites] + [f"2:{s.source}" for s in alone.sprites])
    assert all(np.array_equal(a.pixels, b.pixels)
               for a, b in zip(both.sprites, (*bank.sprites, *alone.sprites), strict=True))
    assert both.images == bank.images + alone.images
    assert both.per_class() == {"car": 4, "pedestrian": 1}
    reversed_ = sprite_banks([str(coco), str(tiny_set)])
    assert len({both.digest, reversed_.digest, bank.digest, alone.digest}) == 4


def test_cutouts_without_angles_are_pasted_beside_those_with(tmp_path, tiny_set):
    """A KITTI set and a COCO set together: both sets' cars get pasted."""
    both = sprite_banks([str(tiny_set), str(_coco_set(tmp_path / "coco"))])
    places = set()
    for index in range(30):
        rng = image_rng(0, index)
        scene = sample_scene(TEMPLATES["kitti"], rng)
        for pick in sample_sprites(both, scene, rng, SIZE):
            places.add(both.sprites[pick.sprite].source.split(":")[0])
    assert places == {"1", "2"}


def test_generate_with_two_sprite_sets(tmp_path, tiny_set):
    coco = _coco_set(tmp_path / "coco")
    one = _generate(tmp_path / "one", tiny_set, "--sprites", str(coco), "--count", "12",
                    "--workers", "1")
    two = _generate(tmp_path / "two", tiny_set, "--sprites", str(coco), "--count", "12",
                    "--workers", "2")
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    recorded = json.loads((tmp_path / "one" / "manifest.json").read_text())["options"][
        "sprites"]
    assert recorded["sprites"] == 5 and recorded["images"] == 4
    names = {ann["sprite"].split(":")[0] for ann in json.loads(
        (tmp_path / "one" / "annotations.json").read_text())["annotations"] if "sprite" in ann}
    assert names <= {"1", "2"} and names
    # Another order is another bank: --resume refuses it.
    resumed = CliRunner().invoke(cli, [
        "-q", "generate", "--scene", "kitti", "--count", "12", "--size", "160x96", "--out",
        str(tmp_path / "one"), "--sprites", str(coco), "--sprites", str(tiny_set),
        "--resume"])
    assert resumed.exit_code == 2 and "sprites" in resumed.output

