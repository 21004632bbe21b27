"""``synthgen export``: YOLO and KITTI folders, round trips, mix splits, ignore regions, errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from synthgen import cli as cli_module
from synthgen.categories import CATEGORY_ID, CATEGORY_NAMES
from synthgen.cli import cli
from synthgen.datasets.mix import mix_datasets
from synthgen.datasets.realsets import parse_kitti_label
from synthgen.formats.export import (
    KITTI_UNKNOWN,
    blackout,
    format_yolo_line,
    kitti_line,
    kitti_type,
    parse_yolo_label,
    yolo_box,
    yolo_label_path,
)
from synthgen.storage.images import orientation_reset
from tests.factories import annotation, declared_png, make_coco_folder, oriented

SIZE = (48, 32)
REAL_SIZE = (64, 40)
#: Boxes of the synthetic fixture, one image each, one class each in turn.
SYNTH_BOXES = [(2, 3, 10, 8), (30, 10, 18, 22), (0, 0, 5, 5), (20, 4, 7, 9)]


def rle_rectangle(box: tuple[int, int, int, int], size: tuple[int, int]) -> dict[str, Any]:
    x, y, w, h = box
    mask = np.zeros(size[::-1], np.uint8)
    mask[y:y + h, x:x + w] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def make_synthetic(root: Path, n: int = 4) -> Path:
    """A set like ``synthgen generate`` writes: RLE masks, truncation, occlusion."""
    images, anns = [], []
    for i in range(n):
        images.append({"id": i + 1, "file_name": f"{i:06d}.png", "width": SIZE[0],
                       "height": SIZE[1], "source": "synthetic", "scene": "urban", "seed": i})
        box = SYNTH_BOXES[i % len(SYNTH_BOXES)]
        anns.append(annotation(i + 1, i + 1, i % len(CATEGORY_NAMES) + 1, list(box),
                               segmentation=rle_rectangle(box, SIZE), truncation=0.25 * (i % 3),
                               occluded=i % 3, visibility=0.9))
    return make_coco_folder(root, images, anns, unique_images=True)


def make_real(root: Path, n: int = 10) -> Path:
    """A set like ``real import`` writes: boxes only, a DontCare region on even images."""
    images, anns = [], []
    for i in range(n):
        images.append({"id": i + 1, "file_name": f"{i:06d}.png", "width": REAL_SIZE[0],
                       "height": REAL_SIZE[1], "source": "real"})
        name = ("car", "pedestrian", "cyclist", "truck")[i % 4]
        anns.append(annotation(len(anns) + 1, i + 1, CATEGORY_ID[name], [4.5, 5.25, 20, 10.75],
                               kitti_type=name.title(), truncation=0.5, occluded=1))
        if i % 2 == 0:
            anns.append(annotation(len(anns) + 1, i + 1, CATEGORY_ID["car"], [40, 0, 24, 8],
                                   iscrowd=1, kitti_type="DontCare"))
    return make_coco_folder(root, images, anns, unique_images=True)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A mix output: 4 synthetic images, 10 real ones, real weight 3."""
    synthetic = make_synthetic(tmp_path / "synthetic")
    real = make_real(tmp_path / "real")
    mix_datasets([str(synthetic)], str(real), str(tmp_path / "mixed"), seed=0,
                 val_fraction=0.2, test_fraction=0.2, real_weight=3)
    return tmp_path / "mixed"


# --------------------------------------------------------------------------- conversions

YOLO_BOX_CASES = [
    # inside the image: centre and size over the image size
    ([10, 4, 20, 8], (40, 20), (0.5, 0.4, 0.5, 0.4)),
    # the whole image
    ([0, 0, 40, 20], (40, 20), (0.5, 0.5, 1.0, 1.0)),
    # past the right edge (within validate's tolerance): clipped to the image
    ([30, 0, 10.0005, 20], (40, 20), (0.875, 0.5, 0.25, 1.0)),
    # nothing inside the image: no line
    ([40, 0, 5, 5], (40, 20), None),
]


@pytest.mark.parametrize(("bbox", "size", "expected"), YOLO_BOX_CASES)
def test_yolo_box(bbox: list[float], size: tuple[int, int],
                  expected: tuple[float, ...] | None) -> None:
    result = yolo_box(bbox, *size)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


UNKNOWN_3D = (f"{KITTI_UNKNOWN['alpha']}", f"{KITTI_UNKNOWN['dimensions']} "
              f"{KITTI_UNKNOWN['location']} {KITTI_UNKNOWN['rotation_y']}")
KITTI_LINE_CASES = [
    # synthgen's truncation and occlusion level are KITTI's
    ("Car", [10, 20, 30, 40], {"truncation": 0.25, "occluded": 1},
     "Car 0.25 1 -10 10.00 20.00 40.00 60.00 -1 -1 -1 -1000 -1000 -1000 -10"),
    # neither known (a COCO import): -1 and 3, KITTI's unknown values
    ("Bus", [0.5, 1.25, 2, 3], {},
     "Bus -1 3 -10 0.50 1.25 2.50 4.25 -1 -1 -1 -1000 -1000 -1000 -10"),
    # values outside KITTI's ranges count as unknown
    ("Car", [0, 0, 1, 1], {"truncation": 1.5, "occluded": 3},
     "Car -1 3 -10 0.00 0.00 1.00 1.00 -1 -1 -1 -1000 -1000 -1000 -10"),
    # an ignore region: KITTI's own DontCare line
    ("DontCare", [1, 2, 3, 4], None,
     "DontCare -1 -1 -10 1.00 2.00 4.00 6.00 -1 -1 -1 -1000 -1000 -1000 -10"),
]


@pytest.mark.parametrize(("kind", "bbox", "ann", "expected"), KITTI_LINE_CASES)
def test_kitti_line(kind: str, bbox: list[float], ann: dict[str, Any] | None,
                    expected: str) -> None:
    line = kitti_line(kind, bbox, ann)
    assert line == expected
    assert len(line.split()) == 15


KITTI_TYPE_CASES = [
    ("car", "Car"), ("truck", "Truck"), ("pedestrian", "Pedestrian"), ("cyclist", "Cyclist"),
    # no KITTI type: KITTI's spelling of the name
    ("bus", "Bus"), ("traffic_light", "Traffic_light"), ("traffic_sign", "Traffic_sign"),
    # any case and separators, as synthgen compares names
    ("Traffic Light", "Traffic_light"),
    # a name no table knows keeps one token, so the line keeps 15 fields
    ("road sign", "Road_sign"), ("Van", "Van"),
]


@pytest.mark.parametrize(("name", "expected"), KITTI_TYPE_CASES)
def test_kitti_type(name: str, expected: str) -> None:
    assert kitti_type(name) == expected


@pytest.mark.parametrize(("key", "expected"), [
    ("000001.jpg", "labels/000001.txt"),
    ("real/training/000001.png", "labels/real/training/000001.txt"),
    # Ultralytics replaces the last /images/ of the path: a folder of that name inside
    # the file name moves the label there
    ("real/images/a.b.png", "images/real/labels/a.b.txt"),
])
def test_yolo_label_path_is_where_ultralytics_looks(key: str, expected: str) -> None:
    assert yolo_label_path(key).as_posix() == expected


def test_blackout_keeps_labelled_objects_whole() -> None:
    image = np.full((10, 10, 3), 200, np.uint8)
    painted = blackout(image, regions=[[0, 0, 6, 6]], keep=[[4.5, 4.5, 3, 3]])
    assert (painted[:4, :6] == 0).all() and (painted[4:6, :4] == 0).all()
    assert (painted[4:8, 4:8] == 200).all()  # the object's pixels, edges rounded outwards
    assert (painted[6:, :] == 200).all() and (image == 200).all()  # input untouched


@settings(max_examples=200, deadline=None)
@given(width=st.integers(1, 8192), height=st.integers(1, 8192),
       fractions=st.tuples(*[st.floats(0.0, 1.0)] * 4))
def test_yolo_label_round_trips_within_half_a_pixel(width: int, height: int,
                                                    fractions: tuple[float, ...]) -> None:
    a, b, c, d = fractions
    x0, x1 = sorted((a * width, b * width))
    y0, y1 = sorted((c * height, d * height))
    bbox = [x0, y0, x1 - x0, y1 - y0]
    box = yolo_box(bbox, width, height)
    if box is None:  # no area: no line is written
        assert bbox[2] == 0 or bbox[3] == 0
        return
    [(cls, back)] = parse_yolo_label(format_yolo_line(3, box) + "\n", width, height)
    assert cls == 3
    assert np.allclose(back, bbox, atol=0.5, rtol=0)


# --------------------------------------------------------------------------- YOLO


def test_yolo_export_of_a_synthetic_folder(tmp_path: Path) -> None:
    src = make_synthetic(tmp_path / "synthetic")
    before = tree_digest(src)
    out = tmp_path / "yolo"
    result = invoke("export", str(src), "--format", "yolo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "4 images (4 hardlink), 4 objects" in result.output
    assert tree_digest(src) == before
    assert sorted(p.name for p in out.iterdir()) == [
        "data.yaml", "images", "labels", "manifest.json", "train.txt"]
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str(out.resolve())
    assert (data["train"], data["val"]) == ("train.txt", "train.txt")  # one split: no val
    assert data["names"] == dict(enumerate(CATEGORY_NAMES))
    document = json.loads((src / "annotations.json").read_text())
    for image in document["images"]:
        label = out / "labels" / image["file_name"].replace(".png", ".txt")
        boxes = parse_yolo_label(label.read_text(), image["width"], image["height"])
        expected = [(a["category_id"] - 1, a["bbox"]) for a in document["annotations"]
                    if a["image_id"] == image["id"]]
        assert [c for c, _ in boxes] == [c for c, _ in expected]
        assert np.allclose([b for _, b in boxes], [b for _, b in expected], atol=0.5)
        assert os.path.samefile(out / "images" / image["file_name"],
                                src / "images" / image["file_name"])
    assert (out / "train.txt").read_text().splitlines() == [
        f"./images/{i:06d}.png" for i in range(4)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "export" and manifest["format"] == "yolo"
    assert manifest["counts"]["splits"]["train"]["entries"] == 4
    assert not (out / ".partial").exists()


def test_yolo_export_of_a_mix_output(mixed: Path, tmp_path: Path) -> None:
    before = tree_digest(mixed)
    out = tmp_path / "yolo"
    result = invoke("export", str(mixed), "--format", "yolo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert tree_digest(mixed) == before
    mix_manifest = json.loads((mixed / "manifest.json").read_text())
    lists = {}
    for split in ("pretrain", "finetune", "train", "val", "test"):
        lines = (out / f"{split}.txt").read_text().splitlines()
        document = json.loads((mixed / "annotations" / f"{split}.json").read_text())
        assert lines == [f"./images/{i['file_name']}" for i in document["images"]]
        assert len(lines) == mix_manifest["counts"][split]["images"]
        lists[split] = lines
    # the real weight: each real training image three times in train, once in finetune
    real_train = [line for line in lists["train"] if "/real/" in line]
    assert sorted(real_train) == sorted(lists["finetune"] * 3)
    assert not any("/synthetic" in line for s in ("val", "test") for line in lists[s])
    for split in ("pretrain", "finetune"):
        data = yaml.safe_load((out / f"data-{split}.yaml").read_text())
        assert (data["train"], data["val"], data["test"]) == (f"{split}.txt", "val.txt",
                                                               "test.txt")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"], data["test"]) == ("train.txt", "val.txt", "test.txt")
    every_file = {line for lines in lists.values() for line in lines}
    assert len(list((out / "labels").rglob("*.txt"))) == len(every_file) == 14
    train = mix_manifest["counts"]["train"]
    repeats = train["images"] - len(set(lists["train"]))
    assert repeats == 2 * len(lists["finetune"]) > 0
    assert f"train.txt {train['images']} entries ({repeats} repeats)" in " ".join(
        result.output.split())


def test_yolo_blacks_out_ignore_regions_in_a_copy(tmp_path: Path) -> None:
    src = make_real(tmp_path / "real", n=2)
    out = tmp_path / "yolo"
    result = invoke("export", str(src), "--format", "yolo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "ignore regions: 1, blacked out in 1 copied image" in result.output
    copied, linked = out / "images" / "000000.png", out / "images" / "000001.png"
    assert not os.path.samefile(copied, src / "images" / "000000.png")
    assert os.path.samefile(linked, src / "images" / "000001.png")
    pixels = np.asarray(Image.open(copied))
    original = np.asarray(Image.open(src / "images" / "000000.png"))
    assert (pixels[0:8, 40:64] == 0).all()
    assert (pixels[8:, :] == original[8:, :]).all() and (pixels[:, :40] == original[:, :40]).all()
    # the ignore region is no line: only the object remains
    assert len((out / "labels" / "000000.txt").read_text().splitlines()) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["ignore_regions"] == {"mode": "blackout", "regions": 1,
                                                    "images": 1}


@pytest.mark.parametrize(("width", "height", "message"), [
    # over the blackout limit (179 megapixels, Pillow's when it decoded): refused from
    # the header, before anything is allocated
    (20_000, 20_000, "cannot read as an image (20000x20000 pixels; expected at most "
                     "178956970 to black out, or use --ignore-regions drop)"),
    # under it: decoded, and this file's pixel data is cut short
    (200, 100, "cannot read as an image (its pixels do not decode: cut short, damaged, or "
               "too large for memory)"),
])
def test_blackout_of_an_image_it_cannot_decode_is_one_error_line(
        tmp_path: Path, width: int, height: int, message: str) -> None:
    src = make_real(tmp_path / "real", n=2)
    document = json.loads((src / "annotations.json").read_text())
    document["images"][0].update(width=width, height=height)  # the one with a DontCare
    (src / "annotations.json").write_text(json.dumps(document))
    (src / "images" / "000000.png").write_bytes(declared_png(width, height))
    result = invoke("export", str(src), "--format", "yolo", "--out", str(tmp_path / "yolo"))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"000000.png: {message}" in errors[0], result.output
    assert "Traceback" not in result.output


def real_jpegs(root: Path, cut: int) -> Path:
    """:func:`make_real` with JPEG images, the first (which has a DontCare region to
    black out) cut ``cut`` bytes short."""
    src = make_real(root, n=2)
    document = json.loads((src / "annotations.json").read_text())
    for entry in document["images"]:
        png = src / "images" / entry["file_name"]
        entry["file_name"] = png.with_suffix(".jpg").name
        pixels = np.random.default_rng(entry["id"]).integers(0, 256, (*REAL_SIZE[::-1], 3),
                                                             np.uint8)
        Image.fromarray(pixels).save(png.with_suffix(".jpg"), quality=90)
        png.unlink()
    (src / "annotations.json").write_text(json.dumps(document))
    first = src / "images" / "000000.jpg"
    first.write_bytes(first.read_bytes()[:len(first.read_bytes()) - cut])
    return src


@pytest.mark.parametrize("decoder", ["installed", "grey-filling"])
@pytest.mark.parametrize("cut", [2, 400])  # its EOI marker only, or into its scan
def test_blackout_of_a_jpeg_cut_short_is_one_error_line(
        tmp_path: Path, request: pytest.FixtureRequest, decoder: str, cut: int) -> None:
    # OpenCV 4.x decodes such a JPEG, grey where its data is missing: blacked out and
    # written whole, the loss would pass for a photo. Refused, whatever OpenCV does: its
    # input check finds it cut short from its last bytes, before anything is written.
    if decoder == "grey-filling":
        request.getfixturevalue("grey_filling_decoder")
    src = real_jpegs(tmp_path / "real", cut)
    before = {p.name: p.read_bytes() for p in (src / "images").iterdir()}
    out = tmp_path / "yolo"
    result = invoke("export", str(src), "--format", "yolo", "--out", str(out))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert (f"image 1 ({src / 'images' / '000000.jpg'}): not a readable image (cut short: "
            "no end-of-image marker after its first scan)") in errors[0]
    assert "Traceback" not in result.output
    # nothing that looks finished, no copy of the image; the inputs as they were
    assert not (out / "manifest.json").exists()
    assert not (out / "images" / "000000.jpg").exists()
    assert {p.name: p.read_bytes() for p in (src / "images").iterdir()} == before


def test_blackout_of_whole_jpegs_is_written(tmp_path: Path) -> None:
    src = real_jpegs(tmp_path / "real", cut=0)
    out = tmp_path / "yolo"
    result = invoke("export", str(src), "--format", "yolo", "--out", str(out))
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(out / "images" / "000000.jpg"))
    assert pixels.shape == (REAL_SIZE[1], REAL_SIZE[0], 3)
    assert pixels[0:8, 40:64].mean() < 4  # the DontCare region, black but for JPEG's ringing


def test_yolo_drop_leaves_images_with_ignore_regions_out(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "yolo"
    result = invoke("export", str(mixed), "--format", "yolo", "--out", str(out),
                    "--ignore-regions", "drop")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["ignore_regions"] == {"mode": "drop", "regions": 5, "images": 5}
    assert "5 images holding them left out" in result.output
    listed = {line for split in ("train", "val", "test", "finetune")
              for line in (out / f"{split}.txt").read_text().splitlines()}
    # 14 files (4 synthetic, 10 real), the 5 real ones with a DontCare region left out
    assert len(listed) == 9 == len(list((out / "images").rglob("*.png")))
    document = json.loads((mixed / "annotations" / "train.json").read_text())
    crowded = {i["file_name"] for i in document["images"]
               if any(a["iscrowd"] and a["image_id"] == i["id"]
                      for a in document["annotations"])}
    assert not {line.removeprefix("./images/") for line in listed} & crowded
    assert counts["splits"]["train"]["dropped_entries"] == sum(
        1 for i in document["images"] if i["file_name"] in crowded)


def test_yolo_segment_polygons_from_masks_and_boxes(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "yolo"
    result = invoke("export", str(mixed), "--format", "yolo", "--task", "segment",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "10 objects without a mask written as their box's corners" in result.output
    label = (out / "labels" / "synthetic-0" / "000001.txt").read_text().split()
    points = np.array(label[1:], float).reshape(-1, 2) * SIZE
    x, y, w, h = SYNTH_BOXES[1]
    # the mask's boundary pixel centres: within one pixel of the box edges
    assert np.allclose(points.min(axis=0), (x, y), atol=1)
    assert np.allclose(points.max(axis=0), (x + w, y + h), atol=1)
    real = (out / "labels" / "real" / "000000.txt").read_text().split()
    assert len(real) == 9  # class and the four corners of the box


# --------------------------------------------------------------------------- KITTI


def test_kitti_round_trips_through_synthgens_kitti_reader(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "kitti"
    result = invoke("export", str(mixed), "--format", "kitti", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "ignore regions: 5, written as DontCare" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    names = manifest["kitti_files"]
    train = json.loads((mixed / "annotations" / "train.json").read_text())
    by_file = {i["file_name"]: i for i in train["images"]}
    numbers = (out / "ImageSets" / "train.txt").read_text().splitlines()
    assert [names[n] for n in numbers] == [i["file_name"] for i in train["images"]]
    for number in dict.fromkeys(numbers):
        image = by_file[names[number]]
        objects = parse_kitti_label(out / "training" / "label_2" / f"{number}.txt")
        anns = [a for a in train["annotations"] if a["image_id"] == image["id"]]
        assert len(objects) == len(anns)
        for obj, ann in zip(objects, anns, strict=True):
            x, y, w, h = ann["bbox"]
            assert obj.box == pytest.approx((x, y, x + w, y + h), abs=0.005)
            if ann["iscrowd"]:
                assert obj.name == "DontCare" and "truncation" not in obj.extra
            else:
                name = CATEGORY_NAMES[ann["category_id"] - 1]
                assert obj.name == kitti_type(name)
                assert obj.extra["occluded"] == ann["occluded"]
                assert obj.extra["truncation"] == pytest.approx(ann["truncation"], abs=0.005)
            assert obj.box3d is None  # unknown 3D fields read as unknown
        image_file = out / "training" / "image_2" / f"{number}.png"
        assert os.path.samefile(image_file, mixed / "images" / image["file_name"])


def test_kitti_export_imports_back_as_the_same_dataset(tmp_path: Path) -> None:
    src = make_synthetic(tmp_path / "synthetic")
    out = tmp_path / "kitti"
    assert invoke("export", str(src), "--format", "kitti", "--out", str(out)).exit_code == 0
    mapping = tmp_path / "map.yaml"
    mapping.write_text("Bus: bus\nTraffic_light: traffic_light\nTraffic_sign: traffic_sign\n")
    back = tmp_path / "back"
    result = invoke("real", "import", "--format", "kitti", str(out), "--out", str(back),
                    "--map", str(mapping))
    assert result.exit_code == 0, result.output
    original = json.loads((src / "annotations.json").read_text())["annotations"]
    imported = json.loads((back / "annotations.json").read_text())["annotations"]
    assert [(a["category_id"], a["bbox"], a["occluded"]) for a in imported] == [
        (a["category_id"], a["bbox"], a["occluded"]) for a in original]


# --------------------------------------------------------------------------- output folder


@pytest.mark.parametrize("fmt", ["yolo", "kitti"])
def test_overwrite_is_refused_without_the_option(tmp_path: Path, fmt: str) -> None:
    src = make_synthetic(tmp_path / "synthetic", n=2)
    out = tmp_path / "out"
    assert invoke("export", str(src), "--format", fmt, "--out", str(out)).exit_code == 0
    first = tree_digest(out)
    (out / "notes.txt").write_text("mine")
    result = invoke("export", str(src), "--format", fmt, "--out", str(out))
    assert result.exit_code == 2
    assert "pass --overwrite" in result.output and "Traceback" not in result.output
    assert tree_digest(out) == {**first, "notes.txt": tree_digest(out)["notes.txt"]}
    result = invoke("export", str(src), "--format", fmt, "--out", str(out), "--overwrite",
                    "--copy")
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine"
    assert "2 copy" in result.output


def test_overwrite_removes_the_lists_of_an_earlier_export(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "yolo"
    assert invoke("export", str(mixed), "--format", "yolo", "--out", str(out)).exit_code == 0
    assert (out / "pretrain.txt").is_file()
    result = invoke("export", str(mixed / "annotations" / "val.json"), "--format", "yolo",
                    "--out", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    # val.json may hold no image: the stable split places each fixture image by its
    # bytes, which hold a hash of the tmp path (on some paths none of the 10 falls in
    # val), and an export of no image writes no images/ or labels/.
    val_images = json.loads((mixed / "annotations" / "val.json").read_text())["images"]
    folders = ["images", "labels"] if val_images else []
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["data.yaml", "manifest.json", "val.txt", *folders])
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert (data["train"], data["val"]) == ("val.txt", "val.txt")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_export_says_so_with_the_signals_status(
        mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int,
        status: int) -> None:
    from synthgen.commands import export as command

    def stopped(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signum)

    monkeypatch.setattr(command, "export_dataset", stopped)
    result = invoke("export", str(mixed), "--format", "yolo", "--out", str(tmp_path / "y"))
    assert result.exit_code == status, result.output  # SIGTERM was 130 too
    assert "Interrupted before anything was written." in result.output
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert not cli_module._SIGTERM_TAKEN.is_set()  # the next command takes it again


def bad_json(src: Path) -> None:
    (src / "annotations.json").write_text("{not json")


def box_outside(src: Path) -> None:
    document = json.loads((src / "annotations.json").read_text())
    document["annotations"][0]["bbox"] = [40, 0, 20, 5]
    (src / "annotations.json").write_text(json.dumps(document))


def image_missing(src: Path) -> None:
    (src / "images" / "000001.png").unlink()


def unfinished(src: Path) -> None:
    (src / ".partial").mkdir()


def same_file_other_boxes(src: Path) -> None:
    document = json.loads((src / "annotations.json").read_text())
    document["images"][1]["file_name"] = document["images"][0]["file_name"]
    (src / "annotations.json").write_text(json.dumps(document))


def categories_missing(src: Path) -> None:
    document = json.loads((src / "annotations.json").read_text())
    del document["categories"]
    (src / "annotations.json").write_text(json.dumps(document))


BAD_INPUTS = [
    # (breakage, extra options, words of the one Error: line)
    (bad_json, [], "annotations.json: not valid JSON (line 1"),
    (categories_missing, [], "expected a list under 'categories'"),
    (box_outside, [], "not a valid COCO dataset (2 problem(s): annotations[0] (id 1): bbox"),
    (image_missing, [], "000001.png): file not found"),
    (unfinished, [], "synthetic: unfinished (it holds .partial/"),
    (same_file_other_boxes, [], "names the same file as"),
    (None, ["--task", "segment", "--format", "kitti"], "--task segment applies to --format yolo"),
]


@pytest.mark.parametrize(("breakage", "options", "message"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_error_line(tmp_path: Path, breakage: Any,
                                               options: list[str], message: str) -> None:
    src = make_synthetic(tmp_path / "synthetic", n=2)
    if breakage is not None:
        breakage(src)
    before = tree_digest(src)
    options = options or ["--format", "yolo"]
    result = invoke("export", str(src), *options, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output
    assert tree_digest(src) == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("src", "out", "message"), [
    # a missing source
    ("missing", "out", "missing: no such file or folder"),
    # an output inside the input
    ("synthetic", "synthetic/yolo", "overlaps the input"),
    # an output that is the input's image folder
    ("synthetic", "synthetic/images", "overlaps the input"),
])
def test_bad_paths_exit_2(tmp_path: Path, src: str, out: str, message: str) -> None:
    make_synthetic(tmp_path / "synthetic", n=1)
    before = tree_digest(tmp_path / "synthetic")
    result = invoke("export", str(tmp_path / src), "--format", "yolo",
                    "--out", str(tmp_path / out))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output
    assert tree_digest(tmp_path / "synthetic") == before


def test_help_describes_both_formats() -> None:
    text = " ".join(invoke("export", "--help").output.split())
    for words in ("--format [yolo|kitti]", "DontCare", "--ignore-regions [blackout|drop]",
                  "data.yaml", "ImageSets/<split>.txt", "--real-weight"):
        assert words in text


@pytest.mark.parametrize("fmt", ["yolo", "kitti"])
def test_export_resets_an_exif_orientation_in_its_copy(tmp_path: Path, fmt: str) -> None:
    # Ultralytics and OpenCV apply a JPEG's EXIF orientation; the labels are on the stored
    # frame, so the exported image is a copy with its orientation reset.
    src = make_coco_folder(tmp_path / "coco", [
        {"id": 1, "file_name": "phone.jpg", "width": 96, "height": 48}], [
        annotation(1, 1, CATEGORY_ID["car"], [60, 10, 20, 20])])
    (src / "images" / "phone.jpg").write_bytes(oriented("JPEG", 6))
    before = (src / "images" / "phone.jpg").read_bytes()
    result = invoke("export", str(src), "--format", fmt, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "(1 orientation-reset copy)" in result.output
    assert (src / "images" / "phone.jpg").read_bytes() == before
    [placed] = [p for p in (tmp_path / "out").rglob("*.jpg")]
    assert placed.read_bytes() == orientation_reset(before)
