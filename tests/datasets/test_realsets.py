"""``synthgen real import``: KITTI and COCO sources, mapping tables, links, errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO

from synthgen import cli as cli_module
from synthgen.categories import CATEGORY_ID, coco_categories
from synthgen.cli import cli
from synthgen.datasets import realsets
from synthgen.datasets.realsets import (
    COCO_SYNONYMS,
    IGNORE_CATEGORY,
    KITTI_MAPPING,
    CategoryMapper,
    MappingError,
    RealObject,
    _area,
    clip_box,
    coco_synonym_table,
    import_real_set,
    load_mapping,
    parse_kitti_label,
    same_images,
)
from synthgen.errors import DatasetError
from synthgen.formats.boxes import Box
from synthgen.formats.validate import validate_path
from synthgen.storage.images import decode_rgb, read_header
from tests.factories import (
    declared_png,
    disposed_gif,
    make_coco_folder,
    make_image,
    oriented,
)

# --------------------------------------------------------------------------- helpers


def kitti_line(kind: str, ltrb: tuple[float, float, float, float], truncated: float = 0.0,
               occluded: int = 0) -> str:
    """A KITTI label line with made-up 3D fields."""
    left, top, right, bottom = ltrb
    return (f"{kind} {truncated:.2f} {occluded} -1.57 {left:.2f} {top:.2f} {right:.2f} "
            f"{bottom:.2f} 1.50 1.60 3.90 1.00 1.70 20.00 0.01")


def write_kitti(root: Path, labels: dict[str, list[str]], size: tuple[int, int] = (64, 48),
                nested: bool = True) -> Path:
    """A tiny KITTI set: ``root/training/{image_2,label_2}`` (or without ``training``)."""
    base = root / "training" if nested else root
    for stem, lines in labels.items():
        make_image(base / "image_2" / f"{stem}.png", *size)
        label = base / "label_2" / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (folders listed as well)."""
    digest = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        digest[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return digest


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


TINY_LABELS = {
    "000000": [kitti_line("Car", (10, 10, 30, 25)),
               kitti_line("Van", (40, 5, 70.5, 20), truncated=0.3, occluded=1),
               kitti_line("DontCare", (0, 30, 12, 40), truncated=-1, occluded=-1)],
    "000001": [kitti_line("Pedestrian", (5, 8, 12, 40), occluded=2),
               kitti_line("Person_sitting", (20, 20, 28, 35)),
               kitti_line("Cyclist", (30, 10, 44, 47.9))],
    "000002": [kitti_line("Truck", (2, 2, 20, 20)), kitti_line("Tram", (30, 0, 60, 30)),
               kitti_line("Misc", (50, 30, 60, 40))],
}


@pytest.fixture
def tiny_kitti(tmp_path: Path) -> Path:
    return write_kitti(tmp_path / "kitti", TINY_LABELS)


# --------------------------------------------------------------------------- units

CLIP_CASES = [
    # inside: plain conversion to [x, y, w, h]
    ((10.0, 20.0, 30.0, 50.0), (100, 50), [10.0, 20.0, 20.0, 30.0]),
    # float noise from the subtraction is rounded away (a KITTI line, 1242 x 375 image)
    ((712.40, 143.00, 810.73, 307.92), (1242, 375), [712.4, 143.0, 98.33, 164.92]),
    # past the right and bottom edges: clipped to the image
    ((90.0, 40.0, 120.0, 70.0), (100, 50), [90.0, 40.0, 10.0, 10.0]),
    # negative left/top: clipped to 0
    ((-5.0, -3.0, 10.0, 10.0), (100, 50), [0.0, 0.0, 10.0, 10.0]),
    # entirely outside the image: nothing left
    ((110.0, 10.0, 130.0, 20.0), (100, 50), None),
    # zero width
    ((10.0, 10.0, 10.0, 20.0), (100, 50), None),
    # right < left
    ((30.0, 10.0, 10.0, 20.0), (100, 50), None),
    # not finite
    ((float("nan"), 10.0, 20.0, 20.0), (100, 50), None),
]


@pytest.mark.parametrize(("ltrb", "size", "expected"), CLIP_CASES)
def test_clip_box(ltrb: tuple[float, float, float, float], size: tuple[int, int],
                  expected: list[float] | None) -> None:
    assert clip_box(Box(*ltrb), *size) == expected


LABEL_CASES = [
    # a DontCare line's -1 values mean "none": left out
    ("DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n",
     None, {"kitti_type": "DontCare"}),
    # blank lines are skipped
    ("\n" + kitti_line("Car", (1, 2, 3, 4), 0.5, 2) + "\n\n",
     None, {"kitti_type": "Car", "truncation": 0.5, "occluded": 2}),
    # occlusion level 3 is KITTI's "unknown", not a fourth level: left out
    (kitti_line("Car", (1, 2, 3, 4), 0.25, 3) + "\n",
     None, {"kitti_type": "Car", "truncation": 0.25}),
    # a detection result line (16 fields, with score) is not a label
    (kitti_line("Car", (1, 2, 3, 4)) + " 0.98\n", "expected 15 space-separated fields", None),
    # a field that is not a number
    ("Car 0.00 0 -1.57 left 2 3 4 1 1 1 1 1 1 1\n", "field 'left' is 'left'", None),
    # occlusion is a level, not a fraction
    ("Car 0.00 0.5 -1.57 1 2 3 4 1 1 1 1 1 1 1\n", "field 'occluded'", None),
]


@pytest.mark.parametrize(("text", "error", "extra"), LABEL_CASES)
def test_parse_kitti_label(tmp_path: Path, text: str, error: str | None,
                           extra: dict[str, Any] | None) -> None:
    label = tmp_path / "000000.txt"
    label.write_text(text, encoding="utf-8")
    if error is not None:
        with pytest.raises(DatasetError, match=error) as info:
            parse_kitti_label(label)
        assert str(label) in str(info.value)
        return
    (obj,) = parse_kitti_label(label)
    assert obj.extra == extra


MAP_CASES = [
    # names and targets are compared ignoring case, spaces, '_' and '-'
    ("Van: truck\ndont_care: Drop\nmotor bike: Cyclist\n", None,
     {"Van": "truck", "dont_care": "drop", "motor bike": "cyclist"}),
    # a target that is not a synthgen class, ignore or drop
    ("Van: lorry\n", "'Van' maps to 'lorry'; expected one of: car, truck", None),
    # YAML reads `yes` as a boolean key
    ("yes: car\n", "key True must be a category name", None),
    # a number as target
    ("Van: 3\n", "'Van' maps to 3", None),
    # not a mapping
    ("- Van\n- car\n", "expected a YAML mapping .* found a list", None),
    # empty file
    ("", "found an empty document", None),
    # broken YAML
    ("Van: [car\n", "not valid YAML", None),
    # the same name twice, written differently
    ("Van: car\nVAN: truck\n", "'Van' and 'VAN' name the same category", None),
    # the same key twice: YAML alone would keep the second without a word
    ("Van: car\nTram: bus\nVan: truck\n", "'Van' is given twice .first on line 1", None),
]


@pytest.mark.parametrize(("text", "error", "expected"), MAP_CASES)
def test_load_mapping(tmp_path: Path, text: str, error: str | None,
                      expected: dict[str, str] | None) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    if error is not None:
        with pytest.raises(MappingError, match=error) as info:
            load_mapping(path)
        assert str(path) in str(info.value)
        return
    assert load_mapping(path) == expected


def test_load_mapping_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="nothere.yaml: cannot read"):
        load_mapping(tmp_path / "nothere.yaml")


SYNONYM_CASES = [
    # the built-in COCO synonym table, case/space/underscore-insensitive
    ("person", "pedestrian"),
    ("Pedestrian", "pedestrian"),
    ("rider", "cyclist"),
    ("bicyclist", "cyclist"),
    ("traffic light", "traffic_light"),
    ("Traffic_Light", "traffic_light"),
    ("TrafficLight", "traffic_light"),
    ("stop sign", "traffic_sign"),
    ("car", "car"),
    ("truck", "truck"),
    ("bus", "bus"),
    # no synthgen class: dropped
    ("motorcycle", "drop"),
    ("dog", "drop"),
]


@pytest.mark.parametrize(("name", "target"), SYNONYM_CASES)
def test_coco_synonyms(name: str, target: str) -> None:
    assert CategoryMapper(coco_synonym_table()).target(name) == target


def test_user_map_wins_over_builtin_and_reports_unused() -> None:
    mapper = CategoryMapper(KITTI_MAPPING, {"Van": "truck", "Lorry": "truck"})
    assert mapper.target("Van") == "truck"
    assert mapper.target("Car") == "car"
    assert mapper.unused_user_entries() == ["Lorry"]


# --------------------------------------------------------------------------- KITTI via CLI


def test_import_kitti_writes_coco_folder(tiny_kitti: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = tree_digest(tiny_kitti)
    result = run("real", "import", "--format", "kitti", "kitti", "--out", "out")
    assert result.exit_code == 0, result.output
    assert "Imported 3 images" in result.output
    assert tree_digest(tiny_kitti) == before

    out = tmp_path / "out"
    doc = read_json(out / "annotations.json")
    assert doc["categories"] == coco_categories()
    assert doc["info"]["segmentation"] == "none"  # says it has no masks
    assert [(i["id"], i["file_name"], i["width"], i["height"], i["source"], i["source_file"])
            for i in doc["images"]] == [
        (1, "000000.png", 64, 48, "real", "training/image_2/000000.png"),
        (2, "000001.png", 64, 48, "real", "training/image_2/000001.png"),
        (3, "000002.png", 64, 48, "real", "training/image_2/000002.png"),
    ]
    rows = [(a["image_id"], a["kitti_type"], a["category_id"], a["iscrowd"], a["bbox"], a["area"])
            for a in doc["annotations"]]
    car, truck = CATEGORY_ID["car"], CATEGORY_ID["truck"]
    ped, cyc = CATEGORY_ID["pedestrian"], CATEGORY_ID["cyclist"]
    ignore = CATEGORY_ID[IGNORE_CATEGORY]
    assert rows == [
        (1, "Car", car, 0, [10.0, 10.0, 20.0, 15.0], 300.0),
        # right edge 70.5 is past the 64 px image: clipped
        (1, "Van", car, 0, [40.0, 5.0, 24.0, 15.0], 360.0),
        (1, "DontCare", ignore, 1, [0.0, 30.0, 12.0, 10.0], 120.0),
        (2, "Pedestrian", ped, 0, [5.0, 8.0, 7.0, 32.0], 224.0),
        (2, "Person_sitting", ped, 0, [20.0, 20.0, 8.0, 15.0], 120.0),
        (2, "Cyclist", cyc, 0, [30.0, 10.0, 14.0, 37.9], 530.6),
        (3, "Truck", truck, 0, [2.0, 2.0, 18.0, 18.0], 324.0),
        (3, "Tram", ignore, 1, [30.0, 0.0, 30.0, 30.0], 900.0),
        (3, "Misc", ignore, 1, [50.0, 30.0, 10.0, 10.0], 100.0),
    ]
    van = doc["annotations"][1]
    assert (van["truncation"], van["occluded"]) == (0.3, 1)
    assert [a["id"] for a in doc["annotations"]] == list(range(1, 10))

    manifest = read_json(out / "manifest.json")
    assert manifest["source"] == "kitti"  # as given, not made absolute
    assert manifest["format"] == "kitti"
    assert manifest["options"]["out"] == "out"
    assert manifest["mapping"]["used"]["Van"] == "car"
    assert manifest["counts"]["per_class"] == {
        "car": 2, "truck": 1, "bus": 0, "pedestrian": 2, "cyclist": 1, "traffic_light": 0,
        "traffic_sign": 0}
    assert manifest["counts"]["ignore_regions"] == 3
    assert manifest["counts"]["links"] == {"hardlink": 3}

    coco = COCO(str(out / "annotations.json"))
    assert len(coco.getImgIds()) == 3
    assert len(coco.getAnnIds(catIds=[ped])) == 2
    assert validate_path(out).ok


def test_import_kitti_accepts_folder_with_image_2(tmp_path: Path) -> None:
    src = write_kitti(tmp_path / "flat", {"000007": [kitti_line("Car", (1, 1, 9, 9))]},
                      nested=False)
    result = run("real", "import", "--format", "kitti", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    (image,) = read_json(tmp_path / "o" / "annotations.json")["images"]
    assert image["source_file"] == "image_2/000007.png"


def test_links_copies_and_symlink_fallback(tiny_kitti: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    source = tiny_kitti / "training" / "image_2" / "000000.png"
    assert run("real", "import", "--format", "kitti", str(tiny_kitti),
               "--out", str(tmp_path / "hard")).exit_code == 0
    assert os.path.samefile(tmp_path / "hard" / "images" / "000000.png", source)

    assert run("real", "import", "--format", "kitti", str(tiny_kitti), "--copy",
               "--out", str(tmp_path / "copy")).exit_code == 0
    copied = tmp_path / "copy" / "images" / "000000.png"
    assert not os.path.samefile(copied, source) and not copied.is_symlink()
    assert copied.read_bytes() == source.read_bytes()

    def no_hard_links(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_hard_links)
    result = run("real", "import", "--format", "kitti", str(tiny_kitti),
                 "--out", str(tmp_path / "soft"))
    assert result.exit_code == 0, result.output
    linked = tmp_path / "soft" / "images" / "000000.png"
    assert linked.is_symlink() and Path(os.readlink(linked)) == source.resolve()
    assert read_json(tmp_path / "soft" / "manifest.json")["counts"]["links"] == {"symlink": 3}


def test_map_file_overrides_builtin_table(tiny_kitti: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("Van: truck\nDontCare: drop\nTram: bus\nGhost: car\n", encoding="utf-8")
    result = run("real", "import", "--format", "kitti", str(tiny_kitti), "--map", str(mapping),
                 "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "dropped (no synthgen class, or mapped to drop): DontCare 1" in result.output
    assert "--map entries matching no source category: Ghost" in result.output
    doc = read_json(tmp_path / "out" / "annotations.json")
    by_type = {a["kitti_type"]: a for a in doc["annotations"]}
    assert by_type["Van"]["category_id"] == CATEGORY_ID["truck"]
    assert (by_type["Tram"]["category_id"], by_type["Tram"]["iscrowd"]) == (CATEGORY_ID["bus"], 0)
    assert "DontCare" not in by_type
    manifest = read_json(tmp_path / "out" / "manifest.json")
    assert manifest["mapping"]["file"] == str(mapping)
    assert manifest["counts"]["dropped"] == {"DontCare": 1}
    assert manifest["mapping"]["unused_map_entries"] == ["Ghost"]


BOX3D_CASES = [
    # h w l x y z: KITTI's own range, and the limits themselves, are 3D boxes
    ("1.50 1.60 3.90 1.00 1.70 20.00", True),
    ("30 2.5 30 -500 500 500", True),
    # a dimension over 30 m, |x|, |y| or z over 500 m: a typo, not a box
    ("1e300 1.60 3.90 1.00 1.70 20.00", False),
    ("1e6 1.60 3.90 1.00 1.70 20.00", False),
    ("1.50 1.60 30.5 1.00 1.70 20.00", False),
    ("1.50 1.60 3.90 -501 1.70 20.00", False),
    ("1.50 1.60 3.90 1.00 -600 20.00", False),
    ("1.50 1.60 3.90 1.00 1.70 1e4", False),
]


@pytest.mark.parametrize(("fields", "is_box"), BOX3D_CASES)
def test_implausible_3d_fields_leave_the_2d_box_and_the_import_alone(
        tmp_path: Path, fields: str, is_box: bool) -> None:
    line = f"Car 0.00 0 -1.57 10.00 10.00 30.00 25.00 {fields} 0.01"
    label = tmp_path / "000000.txt"
    label.write_text(line + "\n", encoding="utf-8")
    (obj,) = parse_kitti_label(label)
    assert obj.box == Box(10.0, 10.0, 30.0, 25.0)
    assert (obj.box3d is not None) == is_box
    # real import never writes the 3D fields: the same set with KITTI's own 3D fields
    # imports to the same annotations.
    plain = write_kitti(tmp_path / "plain", {"0": [kitti_line("Car", (10, 10, 30, 25))]})
    odd = write_kitti(tmp_path / "odd", {"0": [line]})
    for src in (plain, odd):
        result = run("real", "import", "--format", "kitti", str(src), "--out",
                     str(src.with_name(src.name + "-out")))
        assert result.exit_code == 0, result.output
    assert (read_json(tmp_path / "plain-out" / "annotations.json")
            == read_json(tmp_path / "odd-out" / "annotations.json"))


def test_unknown_kitti_type_is_dropped_and_counted(tmp_path: Path) -> None:
    src = write_kitti(tmp_path / "k", {"0": [kitti_line("Bus", (1, 1, 9, 9)),
                                             kitti_line("Car", (1, 1, 9, 9))]})
    result = run("real", "import", "--format", "kitti", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert read_json(tmp_path / "o" / "manifest.json")["counts"]["dropped"] == {"Bus": 1}


IMPORT_ERRORS = [
    # a --map file that does not exist
    (["--map", "{tmp}/missing.yaml"], "missing.yaml: cannot read"),
    # a --map target that is not a class
    (["--map", "{tmp}/bad.yaml"], "bad.yaml: 'Van' maps to 'lorry'; expected one of"),
    # --images is for COCO sources
    (["--images", "{tmp}"], "--images applies to --format coco only"),
    # output folder exists and is not empty
    (["--out", "{tmp}/full"], "folder exists and is not empty; pass --overwrite"),
    # output inside the source set
    (["--out", "{tmp}/kitti/out"], "overlaps the input"),
    # output is the source set itself, even with --overwrite
    (["--out", "{tmp}/kitti", "--overwrite"], "overlaps the input"),
    # output is the parent of the source: --overwrite would remove things around it
    (["--out", "{tmp}", "--overwrite"], "overlaps the input"),
]


@pytest.mark.parametrize(("extra", "message"), IMPORT_ERRORS)
def test_import_errors_exit_2_and_leave_source_alone(tiny_kitti: Path, tmp_path: Path,
                                                     extra: list[str], message: str) -> None:
    (tmp_path / "bad.yaml").write_text("Van: lorry\n", encoding="utf-8")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine", encoding="utf-8")
    before = tree_digest(tiny_kitti)
    args = [arg.format(tmp=tmp_path) for arg in extra]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    result = run("real", "import", "--format", "kitti", str(tiny_kitti), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert tree_digest(tiny_kitti) == before
    assert (tmp_path / "full" / "keep.txt").read_text(encoding="utf-8") == "mine"


KITTI_SOURCE_ERRORS = [
    # no KITTI layout at all
    (lambda root: root.mkdir(), "not a KITTI set; expected training/image_2/"),
    # a label file without its image: the image is what is missing, and said so
    (lambda root: (root / "training" / "image_2" / "000001.png").unlink(),
     "image_2: no image for 1 label file(s) of label_2/: 000001"),
    # an image without its label file
    (lambda root: (root / "training" / "label_2" / "000001.txt").unlink(),
     "label_2: no label file for 1 image(s) of image_2/: 000001"),
    # a label line with too few fields
    (lambda root: (root / "training" / "label_2" / "000002.txt").write_text("Car 0 0\n"),
     "000002.txt:1: expected 15 space-separated fields"),
    # an image file that is not an image
    (lambda root: (root / "training" / "image_2" / "000000.png").write_text("not a png"),
     "000000.png: cannot read as an image"),
    # an image cut short (a copy that stopped): its header whole, its end chunk missing
    (lambda root: (root / "training" / "image_2" / "000000.png").write_bytes(
        (root / "training" / "image_2" / "000000.png").read_bytes()[:-12]),
     "000000.png: cannot read as an image (cut short: no IEND chunk at its end)"),
]


@pytest.mark.parametrize(("breakage", "message"), KITTI_SOURCE_ERRORS)
def test_bad_kitti_source_exits_2(tmp_path: Path, breakage: Any, message: str) -> None:
    root = tmp_path / "kitti"
    if "not a KITTI" not in message:
        write_kitti(root, TINY_LABELS)
    breakage(root)
    result = run("real", "import", "--format", "kitti", str(root), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_overwrite_replaces_only_what_synthgen_wrote(tiny_kitti: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("real", "import", "--format", "kitti", str(tiny_kitti),
               "--out", str(out)).exit_code == 0
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "images" / "stale.png").write_bytes(b"old")
    result = run("real", "import", "--format", "kitti", str(tiny_kitti), "--copy",
                 "--out", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "000000.png", "000001.png", "000002.png"]
    assert (tiny_kitti / "training" / "image_2" / "000000.png").is_file()


# --------------------------------------------------------------------------- COCO via CLI

FOREIGN_CATEGORIES = [
    {"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}, {"id": 3, "name": "Car"},
    {"id": 4, "name": "motorcycle"}, {"id": 5, "name": "Traffic_Light"},
    {"id": 6, "name": "stop sign"}, {"id": 7, "name": "dog"},
]


def foreign_coco(root: Path) -> Path:
    """A COCO set with COCO-style names, a sub-folder, a crowd region and a clipped box."""
    images = [{"id": 10, "file_name": "a/x.png", "width": 80, "height": 60},
              {"id": 20, "file_name": "y.png", "width": 40, "height": 30}]
    anns = [
        {"id": 100, "image_id": 10, "category_id": 1, "bbox": [1, 2, 10, 20], "area": 150.0,
         "iscrowd": 0, "segmentation": [[1, 2, 11, 2, 11, 22]]},
        {"id": 101, "image_id": 10, "category_id": 4, "bbox": [5, 5, 5, 5], "area": 25,
         "iscrowd": 0},
        {"id": 102, "image_id": 10, "category_id": 3, "bbox": [70, 50, 20, 20], "area": 400,
         "iscrowd": 1},
        {"id": 103, "image_id": 20, "category_id": 5, "bbox": [0, 0, 4, 9], "area": 36,
         "iscrowd": 0},
        {"id": 104, "image_id": 20, "category_id": 2, "bbox": [10, 10, 8, 8], "area": 64,
         "iscrowd": 0},
        {"id": 105, "image_id": 20, "category_id": 6, "bbox": [30, 1, 5, 5], "area": 25,
         "iscrowd": 0},
    ]
    return make_coco_folder(root, images, anns, FOREIGN_CATEGORIES)


def test_import_coco_maps_names_and_reports_dropped(tmp_path: Path) -> None:
    src = foreign_coco(tmp_path / "coco")
    before = tree_digest(src)
    result = run("real", "import", "--format", "coco", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    # a bicycle box holds no rider (parked bikes too): not a cyclist unless mapped
    assert ("dropped (no synthgen class, or mapped to drop): bicycle 1, dog 0, motorcycle 1"
            in result.output)
    assert tree_digest(src) == before

    doc = read_json(tmp_path / "o" / "annotations.json")
    assert [(i["id"], i["file_name"], i["source_id"], i["source"]) for i in doc["images"]] == [
        (1, "a/x.png", 10, "real"), (2, "y.png", 20, "real")]
    assert (tmp_path / "o" / "images" / "a" / "x.png").is_file()
    rows = [(a["source_id"], a["source_category"], a["category_id"], a["iscrowd"], a["bbox"],
             a["area"]) for a in doc["annotations"]]
    assert rows == [
        # the source's mask area, not the box's (COCOeval's size ranges go by it)
        (100, "person", CATEGORY_ID["pedestrian"], 0, [1.0, 2.0, 10.0, 20.0], 150.0),
        # a crowd region keeps its class and is clipped to the 80 x 60 image; its area
        # shrinks with its box
        (102, "Car", CATEGORY_ID["car"], 1, [70.0, 50.0, 10.0, 10.0], 100.0),
        (103, "Traffic_Light", CATEGORY_ID["traffic_light"], 0, [0.0, 0.0, 4.0, 9.0], 36.0),
        (105, "stop sign", CATEGORY_ID["traffic_sign"], 0, [30.0, 1.0, 5.0, 5.0], 25.0),
    ]
    assert all("segmentation" not in a for a in doc["annotations"])
    manifest = read_json(tmp_path / "o" / "manifest.json")
    assert manifest["counts"]["dropped"] == {"bicycle": 1, "dog": 0, "motorcycle": 1}
    assert manifest["mapping"]["used"]["Traffic_Light"] == "traffic_light"
    assert validate_path(tmp_path / "o").ok
    COCO(str(tmp_path / "o" / "annotations.json"))


def test_import_coco_file_with_explicit_images_folder(tmp_path: Path) -> None:
    src = foreign_coco(tmp_path / "coco")
    (src / "annotations.json").rename(tmp_path / "labels.json")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("motorcycle: cyclist\ndog: ignore\nbicycle: cyclist\n", encoding="utf-8")
    result = run("real", "import", "--format", "coco", str(tmp_path / "labels.json"),
                 "--images", str(src / "images"), "--map", str(mapping),
                 "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    doc = read_json(tmp_path / "o" / "annotations.json")
    moto = [a for a in doc["annotations"] if a["source_category"] == "motorcycle"]
    assert [a["category_id"] for a in moto] == [CATEGORY_ID["cyclist"]]
    bikes = [a for a in doc["annotations"] if a["source_category"] == "bicycle"]
    assert [a["category_id"] for a in bikes] == [CATEGORY_ID["cyclist"]], "--map opts in"
    assert read_json(tmp_path / "o" / "manifest.json")["counts"]["dropped"] == {}


def _edit_coco(root: Path, edit: Any) -> None:
    doc = read_json(root / "annotations.json")
    edit(doc)
    (root / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")


COCO_SOURCE_ERRORS = [
    # not JSON
    (lambda root: (root / "annotations.json").write_text("{oops"), "not valid JSON (line 1"),
    # duplicate image ids: structurally unusable
    (lambda root: _edit_coco(root, lambda d: d["images"][1].update(id=10)),
     "image id 10 is used more than once"),
    # an annotation pointing at no category
    (lambda root: _edit_coco(root, lambda d: d["annotations"][0].update(category_id=99)),
     "category_id 99 names no category"),
    # a file_name climbing out of the image folder
    (lambda root: _edit_coco(root, lambda d: d["images"][1].update(file_name="../y.png")),
     "file_name '../y.png' must be a relative path inside the image folder"),
    # an image file that is not there
    (lambda root: (root / "images" / "y.png").unlink(), "y.png: image file not found"),
    # the entry's size disagrees with the file
    (lambda root: _edit_coco(root, lambda d: d["images"][1].update(width=41)),
     "is 40x30 pixels but its entry says 41x30"),
]


@pytest.mark.parametrize(("breakage", "message"), COCO_SOURCE_ERRORS)
def test_bad_coco_source_exits_2(tmp_path: Path, breakage: Any, message: str) -> None:
    src = foreign_coco(tmp_path / "coco")
    breakage(src)
    before = tree_digest(src)
    result = run("real", "import", "--format", "coco", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert tree_digest(src) == before


# --------------------------------------------------------------------------- the real sample


def _label_boxes(label_file: Path) -> list[tuple[str, list[float]]]:
    """Type and raw left, top, right, bottom of each line, read independently of synthgen."""
    rows = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        rows.append((fields[0], [float(v) for v in fields[4:8]]))
    return rows


def test_import_real_kitti_sample(kitti_dir: Path, tmp_path: Path) -> None:
    """The 50 KITTI photos: validate passes and every box matches its label line."""
    before = tree_digest(kitti_dir)
    out = tmp_path / "kitti50"
    result = run("real", "import", "--format", "kitti", str(kitti_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert tree_digest(kitti_dir) == before

    report = validate_path(out)
    assert report.ok, report.to_text()
    doc = read_json(out / "annotations.json")
    assert len(doc["images"]) == 50
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    checked = 0
    for image in doc["images"]:
        label = kitti_dir / "training" / "label_2" / (Path(image["file_name"]).stem + ".txt")
        expected = _label_boxes(label)
        anns = by_image.get(image["id"], [])
        assert [a["kitti_type"] for a in anns] == [kind for kind, _ in expected]
        for ann, (kind, (left, top, right, bottom)) in zip(anns, expected, strict=True):
            right, bottom = min(right, image["width"]), min(bottom, image["height"])
            assert ann["bbox"] == pytest.approx([left, top, right - left, bottom - top],
                                                abs=1e-6)
            assert ann["iscrowd"] == int(KITTI_MAPPING[kind] == "ignore")
            checked += 1
    assert checked == 349  # every label line of the sample, none lost
    counts = read_json(out / "manifest.json")["counts"]
    assert counts["per_class"]["car"] == 147 + 14  # Car + Van
    assert counts["ignore_regions"] == 145 + 4 + 2  # DontCare + Tram + Misc
    COCO(str(out / "annotations.json"))


def test_import_help_lists_the_coco_names_that_are_mapped_and_no_others():
    text = " ".join(CliRunner().invoke(cli, ["real", "import", "--help"]).output.split())
    mapping = text[text.index("COCO mapping"):]
    for names in COCO_SYNONYMS.values():
        for name in names:
            assert name in mapping, name
    assert "bicycle/bike too" in mapping  # dropped, and said so


@pytest.mark.parametrize("source_area,ltrb,bbox,expected", [
    (150.0, (1, 2, 11, 22), [1.0, 2.0, 10.0, 20.0], 150.0),   # kept as the source has it
    (400.0, (70, 50, 90, 70), [70.0, 50.0, 10.0, 10.0], 100.0),  # clipped to a quarter
    (500.0, (0, 0, 10, 10), [0.0, 0.0, 10.0, 10.0], 100.0),   # never more than the box
    (None, (0, 0, 4, 9), [0.0, 0.0, 4.0, 9.0], 36.0),          # KITTI: the box
    (0.0, (0, 0, 4, 9), [0.0, 0.0, 4.0, 9.0], 36.0),           # unusable: the box
    (float("nan"), (0, 0, 4, 9), [0.0, 0.0, 4.0, 9.0], 36.0),
])
def test_imported_area_is_the_sources_within_the_kept_box(source_area, ltrb, bbox, expected):
    obj = RealObject(name="person", box=Box(*ltrb), area=source_area)
    assert _area(obj, bbox) == expected


def test_a_synthetic_set_is_not_imported_as_real(tmp_path: Path) -> None:
    """Imported, rendered images would pass for real ones in mix's val and test."""
    src = make_coco_folder(tmp_path / "synth", [
        {"id": 1, "file_name": "000000.png", "width": 16, "height": 8, "scene": "urban",
         "seed": 3}], [])
    result = run("real", "import", "--format", "coco", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert "is synthetic" in result.output and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- --append


def kitti_batch(root: Path, stems: list[str], kind: str = "Car") -> Path:
    """A KITTI set whose images differ from every other fixture image (a hash of their
    path in their first pixels): a weekly batch of new images."""
    write_kitti(root, {stem: [kitti_line(kind, (2, 3, 20, 30)),
                              kitti_line("DontCare", (40, 0, 60, 10))] for stem in stems})
    for stem in stems:
        make_image(root / "training" / "image_2" / f"{stem}.png", 64, 48, unique=True)
    return root


def append(src: Path, out: Path, *extra: str) -> Any:
    return run("real", "import", "--format", "kitti", str(src), "--out", str(out), "--append",
               *extra)


def entries(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    doc = read_json(out / "annotations.json")
    return doc["images"], doc["annotations"]


def test_append_adds_a_batch_and_keeps_ids_and_file_names(tmp_path: Path) -> None:
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001", "000002"])
    week2 = kitti_batch(tmp_path / "week2", ["000001", "000007"], kind="Pedestrian")
    out = tmp_path / "real"
    assert run("real", "import", "--format", "kitti", str(week1), "--out", str(out)).exit_code == 0
    images_before, anns_before = entries(out)
    inode = os.stat(out / "images" / "000001.png").st_ino
    source_before = tree_digest(week2)

    result = append(week2, out)
    assert result.exit_code == 0, result.output
    assert "Appended 2 images to" in result.output and "(ids 4-5;" in result.output
    assert "1 renamed" in result.output
    assert tree_digest(week2) == source_before
    images, anns = entries(out)
    assert images[:3] == images_before and anns[:len(anns_before)] == anns_before
    assert os.stat(out / "images" / "000001.png").st_ino == inode  # the old file, untouched
    assert [(i["id"], i["file_name"], i["source_file"]) for i in images[3:]] == [
        (4, "000001-2.png", "training/image_2/000001.png"),
        (5, "000007.png", "training/image_2/000007.png")]
    assert [a["id"] for a in anns] == list(range(1, len(anns) + 1))
    assert {a["image_id"] for a in anns[len(anns_before):]} == {4, 5}
    assert (out / "images" / "000001-2.png").samefile(week2 / "training/image_2/000001.png")

    manifest = read_json(out / "manifest.json")
    assert manifest["source"] == str(week1)  # the first import's record stays
    (batch,) = manifest["appended"]
    assert (batch["source"], batch["image_ids"], batch["renamed"]) == (str(week2), [4, 5], 1)
    assert batch["counts"]["per_class"]["pedestrian"] == 2
    assert manifest["counts"]["images"] == 5
    assert manifest["counts"]["per_class"]["car"] == 3
    assert manifest["counts"]["ignore_regions"] == 5
    assert manifest["counts"]["links"] == {"hardlink": 5}
    assert not (out / ".partial").exists()
    assert validate_path(out).ok


def _append_errors() -> list[tuple[Any, list[str], str]]:
    def same_batch_again(tmp: Path) -> Path:
        return tmp / "week1"

    def byte_copy_in_batch(tmp: Path) -> Path:
        src = kitti_batch(tmp / "week2", ["000010", "000011"])
        image_dir = src / "training" / "image_2"
        (image_dir / "000011.png").write_bytes((image_dir / "000010.png").read_bytes())
        return src

    def renamed_copy_of_an_old_image(tmp: Path) -> Path:
        src = kitti_batch(tmp / "week2", ["000010", "000011"])
        old = tmp / "week1" / "training" / "image_2" / "000002.png"
        (src / "training" / "image_2" / "000011.png").write_bytes(old.read_bytes())
        return src

    def new_batch(tmp: Path) -> Path:
        return kitti_batch(tmp / "week2", ["000010"])

    return [
        # the batch imported before, given again
        (same_batch_again, [], "000000.png is already in {out} as images/000000.png (the "
                               "same file, a link or a byte copy; 3 of the 3 source image(s)"),
        # a byte copy of an old image under a new name
        (renamed_copy_of_an_old_image, [], "000011.png is already in {out} as "
                                           "images/000002.png"),
        # the same image twice in the batch
        (byte_copy_in_batch, [], "000010.png and {src}/training/image_2/000011.png are the "
                                 "same image"),
        # a flag that contradicts --append
        (new_batch, ["--overwrite"], "--append and --overwrite: give one"),
        # a mapping other than the first import's
        (new_batch, ["--map", "{tmp}/map.yaml"], "--map {tmp}/map.yaml: 'Car' maps to 'truck', "
                                                 "but {out} was imported with 'Car' mapped to "
                                                 "'car'"),
    ]


@pytest.mark.parametrize(("batch", "extra", "message"), _append_errors())
def test_append_errors_exit_2_and_leave_the_folder_alone(tmp_path, batch, extra, message):
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001", "000002"])
    out = tmp_path / "real"
    assert run("real", "import", "--format", "kitti", str(week1), "--out", str(out)).exit_code == 0
    (tmp_path / "map.yaml").write_text("Car: truck\n", encoding="utf-8")
    src = batch(tmp_path)
    before, source_before = tree_digest(out), tree_digest(src)
    result = append(src, out, *[arg.format(tmp=tmp_path) for arg in extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert message.format(out=out, src=src, tmp=tmp_path) in error, error
    assert tree_digest(out) == before and tree_digest(src) == source_before


def _folders_that_are_not_imports() -> list[tuple[Any, str]]:
    def missing(out: Path) -> None:
        pass

    def no_manifest(out: Path) -> None:
        make_coco_folder(out, [], [])

    def a_mix(out: Path) -> None:
        make_coco_folder(out, [], [])
        (out / "manifest.json").write_text(json.dumps({"command": "mix"}), encoding="utf-8")

    def unfinished(out: Path) -> None:
        make_coco_folder(out, [], [])
        (out / ".partial").mkdir()

    return [
        (missing, "--out {out}: no such folder to append to; import the first images without"),
        (no_manifest, "--out {out}: no manifest.json (--append adds to a folder written by"),
        (a_mix, "manifest.json: field 'command' is 'mix', expected 'real import'"),
        (unfinished, "no manifest.json (it holds .partial/: a synthgen command was stopped"),
    ]


@pytest.mark.parametrize(("make", "message"), _folders_that_are_not_imports())
def test_append_needs_a_finished_real_import(tmp_path, make, message):
    src = kitti_batch(tmp_path / "week2", ["000010"])
    out = tmp_path / "out"
    make(out)
    result = append(src, out)
    assert result.exit_code == 2, result.output
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert message.format(out=out) in error, error


def test_an_append_stopped_before_its_swap_leaves_the_old_folder(tmp_path, monkeypatch):
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001"])
    week2 = kitti_batch(tmp_path / "week2", ["000005", "000006"])
    out = tmp_path / "real"
    assert run("real", "import", "--format", "kitti", str(week1), "--out", str(out)).exit_code == 0
    document, manifest = (out / "annotations.json").read_bytes(), read_json(out / "manifest.json")

    def stopped(out: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("synthgen.datasets.realsets._swap_staged", stopped)
    with pytest.raises(KeyboardInterrupt):
        import_real_set(str(week2), str(out), fmt="kitti", append=True)
    # The finished folder as it was (plus unused files), which mix and validate read.
    assert (out / "annotations.json").read_bytes() == document
    assert read_json(out / "manifest.json") == manifest
    assert validate_path(out).ok
    monkeypatch.undo()

    result = append(week2, out)
    assert result.exit_code == 0, result.output
    assert [i["file_name"] for i in entries(out)[0]] == [
        "000000.png", "000001.png", "000005.png", "000006.png"]
    assert not (out / ".partial").exists()


def test_an_append_stopped_during_its_swap_is_finished_by_the_next(tmp_path, monkeypatch,
                                                                   caplog):
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001"])
    week2 = kitti_batch(tmp_path / "week2", ["000005"])
    week3 = kitti_batch(tmp_path / "week3", ["000009"])
    out = tmp_path / "real"
    assert run("real", "import", "--format", "kitti", str(week1), "--out", str(out)).exit_code == 0
    real_replace = os.replace

    def stop_before_the_manifest(src: Any, dst: Any) -> None:
        if Path(dst) == out / "manifest.json" and Path(src).parent.name == ".partial":
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", stop_before_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        import_real_set(str(week2), str(out), fmt="kitti", append=True)
    monkeypatch.undo()
    assert not (out / "manifest.json").exists()  # looks unfinished: mix refuses it
    synth = make_coco_folder(tmp_path / "synth", [
        {"id": 1, "file_name": "s.png", "width": 16, "height": 8, "source": "synthetic"}], [],
        unique_images=True)
    result = run("mix", "--synthetic", str(synth), "--real", str(out), "--seed", "0",
                 "--out", str(tmp_path / "m"))
    assert result.exit_code == 2 and "is unfinished" in result.output, result.output

    result = append(week3, out)
    assert result.exit_code == 0, result.output
    assert "finished an earlier --append" in caplog.text
    images, _ = entries(out)
    assert [(i["id"], i["file_name"]) for i in images] == [
        (1, "000000.png"), (2, "000001.png"), (3, "000005.png"), (4, "000009.png")]
    manifest = read_json(out / "manifest.json")
    assert [b["image_ids"] for b in manifest["appended"]] == [[3, 3], [4, 4]]
    assert validate_path(out).ok


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=4, unique=True),
                        min_size=1, max_size=4))
def test_append_keeps_every_existing_id(batches: list[list[int]]) -> None:
    """Whatever batches arrive (file names reused across batches), each append leaves
    every image and annotation entry before it as it was and numbers on after it."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = root / "real"
        for number, stems in enumerate(batches):
            src = kitti_batch(root / f"week{number}", [f"{stem:06d}" for stem in stems])
            if number == 0:
                import_real_set(str(src), str(out), fmt="kitti")
            else:
                images_before, anns_before = entries(out)
                summary = import_real_set(str(src), str(out), fmt="kitti", append=True)
                images, anns = entries(out)
                assert images[:len(images_before)] == images_before
                assert anns[:len(anns_before)] == anns_before
                assert [i["id"] for i in images] == list(range(1, len(images) + 1))
                assert [a["id"] for a in anns] == list(range(1, len(anns) + 1))
                assert summary.first_id == len(images_before) + 1
                assert len({i["file_name"] for i in images}) == len(images)
                assert [i["source_file"] for i in images[len(images_before):]] == [
                    f"training/image_2/{stem:06d}.png" for stem in sorted(stems)]
        assert validate_path(out).ok


def test_append_a_coco_batch_with_names_in_sub_folders(tmp_path: Path) -> None:
    out = tmp_path / "real"
    first = foreign_coco(tmp_path / "coco1")
    assert run("real", "import", "--format", "coco", str(first), "--out", str(out)).exit_code == 0
    second = make_coco_folder(tmp_path / "coco2", [
        {"id": 7, "file_name": "a/x.png", "width": 80, "height": 60}], [
        {"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 2, 10, 20], "area": 150.0,
         "iscrowd": 0}], FOREIGN_CATEGORIES, unique_images=True)
    result = run("real", "import", "--format", "coco", str(second), "--out", str(out),
                 "--append")
    assert result.exit_code == 0, result.output
    images, anns = entries(out)
    assert [(i["id"], i["file_name"], i["source_id"]) for i in images] == [
        (1, "a/x.png", 10), (2, "y.png", 20), (3, "a/x-2.png", 7)]
    assert anns[-1]["image_id"] == 3 and anns[-1]["category_id"] == CATEGORY_ID["pedestrian"]
    assert validate_path(out).ok


def test_images_over_pillows_bomb_limits_are_imported_like_any_other(tmp_path: Path) -> None:
    # Sizes come from headers, which decode nothing: 100 MP (over Pillow's warning limit)
    # and 400 MP (over its error limit) are imported with their header's size, neither
    # warned about nor refused, as validate measures them (real import used to warn about
    # the one and refuse the other).
    sizes = {"mid.png": (10_000, 10_000), "huge.png": (20_000, 20_000)}
    images = [{"id": i, "file_name": name, "width": w, "height": h}
              for i, (name, (w, h)) in enumerate(sizes.items(), 1)]
    src = make_coco_folder(tmp_path / "coco", images, [], FOREIGN_CATEGORIES,
                           write_images=False)
    for name, (w, h) in sizes.items():
        (src / "images").mkdir(exist_ok=True)
        (src / "images" / name).write_bytes(declared_png(w, h))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run("real", "import", "--format", "coco", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    doc = read_json(tmp_path / "o" / "annotations.json")
    assert [(i["file_name"], i["width"], i["height"]) for i in doc["images"]] == [
        (name, w, h) for name, (w, h) in sizes.items()]
    assert validate_path(tmp_path / "o").ok


def test_a_gif_whose_opening_would_allocate_gigabytes_is_one_error_line(tmp_path: Path) -> None:
    # Opening a GIF disposed to the background allocates its whole frame: 43 bytes can
    # declare 4 gigapixels. Such a file is refused under Pillow's limits, not allocated.
    images = [{"id": 1, "file_name": "bomb.gif", "width": 65_535, "height": 65_535}]
    src = make_coco_folder(tmp_path / "coco", images, [], FOREIGN_CATEGORIES,
                           write_images=False)
    (src / "images").mkdir(exist_ok=True)
    (src / "images" / "bomb.gif").write_bytes(disposed_gif(65_535, 65_535))
    result = run("real", "import", "--format", "coco", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "bomb.gif" in errors[0] and "exceeds limit" in errors[0]
    assert "Traceback" not in result.output


def test_import_resets_an_exif_orientation_in_its_copy_only(tmp_path: Path) -> None:
    # A phone photo whose EXIF turns it: the boxes are on the stored frame, so the imported
    # image's orientation is reset (a trainer applying it would turn the photo under them).
    src = make_coco_folder(tmp_path / "coco", [
        {"id": 1, "file_name": "phone.jpg", "width": 96, "height": 48},
        {"id": 2, "file_name": "plain.png", "width": 96, "height": 48}], [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [60, 10, 20, 20], "area": 400,
         "iscrowd": 0}])
    (src / "images" / "phone.jpg").write_bytes(oriented("JPEG", 6))
    before = tree_digest(src)
    result = run("real", "import", "--format", "coco", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert "1 hardlink, 1 orientation-reset copy" in result.output
    assert tree_digest(src) == before
    placed = tmp_path / "o" / "images" / "phone.jpg"
    assert read_header(placed, exif=True).exif_turned is False
    assert np.array_equal(decode_rgb(placed.read_bytes(), as_shown=True),
                          decode_rgb(oriented("JPEG", 6)))


def test_a_photo_and_its_orientation_reset_copy_are_one_image(tmp_path: Path) -> None:
    # import writes a turned photo as a copy with its orientation reset: --append, mix and
    # benchmark must still know the photo when they meet it as it was.
    src = make_coco_folder(tmp_path / "coco", [
        {"id": 1, "file_name": "phone.jpg", "width": 96, "height": 48}], [])
    (src / "images" / "phone.jpg").write_bytes(oriented("JPEG", 6))
    out = tmp_path / "o"
    assert run("real", "import", "--format", "coco", str(src), "--out", str(out)).exit_code == 0
    placed = out / "images" / "phone.jpg"
    assert placed.read_bytes() != (src / "images" / "phone.jpg").read_bytes()
    assert same_images([src / "images" / "phone.jpg", placed], 1) == [[0, 1]]
    # the same photo again, appended: refused as already there
    again = make_coco_folder(tmp_path / "again", [
        {"id": 1, "file_name": "copy.jpg", "width": 96, "height": 48}], [])
    (again / "images" / "copy.jpg").write_bytes(oriented("JPEG", 6))
    result = run("real", "import", "--format", "coco", str(again), "--out", str(out),
                 "--append")
    assert result.exit_code == 2, result.output
    assert "copy.jpg is already in" in result.output


@pytest.mark.parametrize("edit,field", [
    (lambda m: m.update(appended=5), "appended"),
    (lambda m: m.update(appended=[5]), "appended[0]"),
    (lambda m: m.update(mapping=[1]), "mapping"),
    (lambda m: m["mapping"].update(used=[1]), "mapping"),
    (lambda m: m.update(counts=[1]), "counts"),
    (lambda m: m["counts"].update(invalid_boxes="x"), "counts.invalid_boxes"),
    (lambda m: m["counts"].update(dropped=5), "counts.dropped"),
    (lambda m: m["counts"].update(links={"hardlink": "x"}), "counts.links"),
], ids=["appended-a-number", "appended-a-list-of-numbers", "mapping-a-list", "used-a-list",
        "counts-a-list", "invalid-boxes-a-string", "dropped-a-number", "links-a-string"])
def test_append_refuses_an_edited_manifest_before_writing(tmp_path: Path, edit: Any,
                                                          field: str) -> None:
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001"])
    week2 = kitti_batch(tmp_path / "week2", ["000005"])
    out = tmp_path / "real"
    assert run("real", "import", "--format", "kitti", str(week1), "--out", str(out)).exit_code == 0
    manifest = out / "manifest.json"
    document = json.loads(manifest.read_text(encoding="utf-8"))
    edit(document)
    manifest.write_text(json.dumps(document), encoding="utf-8")
    before = tree_digest(out)
    result = append(week2, out)
    assert result.exit_code == 2, result.output
    assert f"field {field!r} is not" in result.output
    assert "Traceback" not in result.output and result.output.count("Error:") == 1
    assert tree_digest(out) == before


# --------------------------------------------------------------------------- stopped


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_import_says_so_and_leaves_its_output_unfinished(
        tiny_kitti: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        signum: int, status: int) -> None:
    """SIGTERM (a scheduler's stop) stops every command as Ctrl-C does: its clean-up
    runs, exit status 128 + the signal, the output left marked unfinished, the handler
    put back (it was Python's default death, with no clean-up, outside generate and
    merge; Ctrl-C was click's "Aborted!", status 1)."""
    real_place = realsets.place_images

    def stopped(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signum)
        return real_place(*args, **kwargs)

    monkeypatch.setattr(realsets, "place_images", stopped)
    before = tree_digest(tiny_kitti)
    result = run("real", "import", "--format", "kitti", str(tiny_kitti),
                 "--out", str(tmp_path / "out"))
    assert result.exit_code == status, result.output
    assert result.output.splitlines()[-1] == "Interrupted."
    assert (tmp_path / "out" / ".partial").is_dir()
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert not cli_module._SIGTERM_TAKEN.is_set()  # the next command takes it again
    assert tree_digest(tiny_kitti) == before
    monkeypatch.setattr(realsets, "place_images", real_place)
    again = run("real", "import", "--format", "kitti", str(tiny_kitti),
                "--out", str(tmp_path / "out"), "--overwrite")
    assert again.exit_code == 0, again.output
