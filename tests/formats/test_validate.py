"""``synthgen validate``: every problem kind, the report formats and exit codes."""

from __future__ import annotations

import copy
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from synthgen.cli import cli
from synthgen.formats.validate import (
    KINDS,
    Problem,
    decode_rle_string,
    in_one_line,
    rle_area_and_bounds,
    rle_counts,
    validate_document,
    validate_path,
)
from tests.factories import annotation, declared_png, make_coco_folder, make_image

WIDTH, HEIGHT = 40, 30


def rect_rle(x: int, y: int, w: int, h: int) -> dict[str, Any]:
    """A compressed RLE of a filled rectangle in a WIDTH x HEIGHT image."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[y:y + h, x:x + w] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def valid_document() -> dict[str, Any]:
    """Two images; a box with an RLE mask, a plain box, a crowd region, a polygon."""
    images = [{"id": 1, "file_name": "a.png", "width": WIDTH, "height": HEIGHT},
              {"id": 2, "file_name": "b.png", "width": WIDTH, "height": HEIGHT}]
    anns = [
        annotation(1, 1, 1, [2, 3, 10, 5], segmentation=rect_rle(2, 3, 10, 5),
                   bbox_amodal=[0, 3, 12, 5], visibility=0.8),
        annotation(2, 1, 4, [20.5, 0.25, 19.5, 29.75]),
        annotation(3, 2, 1, [0, 0, 40, 30], iscrowd=1),
        annotation(4, 2, 5, [5, 5, 10, 10], segmentation=[[5, 5, 15, 5, 15, 15, 5, 15]]),
    ]
    return {"images": images, "annotations": anns,
            "categories": [{"id": i, "name": n} for i, n in
                           [(1, "car"), (4, "pedestrian"), (5, "cyclist")]]}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    doc = valid_document()
    return make_coco_folder(tmp_path / "ds", doc["images"], doc["annotations"],
                            doc["categories"])


def write_doc(root: Path, doc: Any) -> Path:
    (root / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting ``doc[a][i][key] = value`` for ``path`` = ``"a.i.key"``."""
    *parents, last = path.split(".")

    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return edit


def _append(key: str, entry: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc[key].append(entry)


def _write_file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda root: (root / "images" / name).write_bytes(data)


BROKEN = [
    # (edit of the JSON document, edit of the files, expected kinds; None = still valid)
    # top-level list missing
    (_delete("categories"), None, {"structure"}),
    # top-level value of the wrong type
    (_set("annotations", {"1": 2}), None, {"structure"}),
    # an entry that is not an object
    (_append("annotations", [1, 2]), None, {"structure"}),
    # an id as a string: the annotations of image 1 now point at nothing, too
    (_set("images.0.id", "1"), None, {"structure", "reference"}),
    # a boolean is not an id
    (_set("annotations.1.id", True), None, {"structure"}),
    # an id as a float: reported once, its annotations not again as naming no image
    (_set("images.0.id", 1.0), None, {"structure"}),
    # annotation id 0: COCOeval would score a match to it as a false positive
    (_set("annotations.1.id", 0), None, {"annotation_id"}),
    # width 0
    (_set("images.1.width", 0), None, {"structure"}),
    # a missing file_name
    (_delete("images.1.file_name"), None, {"structure"}),
    # a box of three numbers
    (_set("annotations.1.bbox", [1, 2, 3]), None, {"structure"}),
    # a box holding a string
    (_set("annotations.1.bbox", [1, 2, "3", 4]), None, {"structure"}),
    # iscrowd missing (COCOeval needs it)
    (_delete("annotations.1.iscrowd"), None, {"structure"}),
    # a polygon of two points
    (_set("annotations.3.segmentation", [[1, 2, 3, 4]]), None, {"structure"}),
    # segmentation of the wrong type
    (_set("annotations.3.segmentation", "mask"), None, {"structure"}),
    # two images with one id
    (_set("images.1.id", 1), None, {"duplicate_id", "reference"}),
    # two annotations with one id
    (_set("annotations.1.id", 1), None, {"duplicate_id"}),
    # two categories with one id
    (_set("categories.1.id", 1), None, {"duplicate_id", "reference"}),
    # 0-based category ids
    (_append("categories", {"id": 0, "name": "background"}), None, {"category_id"}),
    # two categories with one name
    (_set("categories.2.name", "car"), None, {"duplicate_name"}),
    # an annotation of an image that does not exist
    (_set("annotations.1.image_id", 9), None, {"reference"}),
    # an annotation of a category that does not exist
    (_set("annotations.1.category_id", 2), None, {"reference"}),
    # iscrowd 2
    (_set("annotations.1.iscrowd", 2), None, {"iscrowd"}),
    # a NaN in a box
    (_set("annotations.1.bbox", [float("nan"), 1, 2, 3]), None, {"bbox"}),
    # an infinite width
    (_set("annotations.1.bbox", [1, 1, float("inf"), 3]), None, {"bbox"}),
    # zero width
    (_set("annotations.1.bbox", [1, 1, 0, 3]), None, {"bbox"}),
    # negative height
    (_set("annotations.1.bbox", [1, 1, 3, -3]), None, {"bbox"}),
    # one pixel past the right edge
    (_set("annotations.1.bbox", [20.5, 0.25, 20.5, 29.75]), None, {"bbox_outside"}),
    # starts left of the image
    (_set("annotations.1.bbox", [-0.5, 0.25, 19.5, 29.75]), None, {"bbox_outside"}),
    # past the bottom edge by float32 rounding only: accepted
    (_set("annotations.1.bbox", [20.5, 0.25, 19.5, 29.7505]), None, None),
    # area zero
    (_set("annotations.1.area", 0), None, {"area"}),
    # area larger than its box
    (_set("annotations.1.area", 600), None, {"area"}),
    # an image side too large for a float (and for any decoder)
    (_set("images.1.height", 10**400), None, {"structure"}),
    # an area too large for a float
    (_set("annotations.1.area", 10**400), None, {"area"}),
    # RLE pixel count differs from area
    (_set("annotations.0.area", 49), None, {"segmentation"}),
    # RLE bounds 3 px away from the box
    (_set("annotations.0.segmentation", rect_rle(5, 3, 10, 5)), None, {"segmentation"}),
    # RLE bounds within 1 px of the box: accepted
    (_set("annotations.0.segmentation", rect_rle(3, 3, 10, 5)), None, None),
    # RLE of another image size
    (_set("annotations.0.segmentation", {"size": [31, 40], "counts": [1, 2]}), None,
     {"segmentation"}),
    # RLE runs not covering the image
    (_set("annotations.0.segmentation", {"size": [30, 40], "counts": [10, 50]}), None,
     {"segmentation"}),
    # compressed counts with a character out of range
    (_set("annotations.0.segmentation", {"size": [30, 40], "counts": "\x01\x02"}), None,
     {"segmentation"}),
    # an empty mask
    (_set("annotations.0.segmentation", {"size": [30, 40], "counts": [1200]}), None,
     {"segmentation"}),
    # an image file that is not there
    (None, lambda root: (root / "images" / "b.png").unlink(), {"image_missing"}),
    # an image file that is not an image
    (None, _write_file("b.png", b"not a png"), {"image_unreadable"}),
    # an image file cut short: its header whole, its end chunk missing
    (None, lambda root: (root / "images" / "b.png").write_bytes(
        (root / "images" / "b.png").read_bytes()[:-12]), {"image_unreadable"}),
    # an image file of another size than declared
    (None, lambda root: make_image(root / "images" / "b.png", WIDTH, HEIGHT + 1),
     {"image_size"}),
]


@pytest.mark.parametrize(("doc_edit", "file_edit", "kinds"), BROKEN)
def test_each_problem_kind(tmp_path: Path, doc_edit: Any, file_edit: Any,
                           kinds: set[str] | None) -> None:
    doc = valid_document()
    root = make_coco_folder(tmp_path / "ds", doc["images"], doc["annotations"],
                            doc["categories"])
    if doc_edit is not None:
        doc_edit(doc)
        write_doc(root, doc)
    if file_edit is not None:
        file_edit(root)
    report = validate_path(root)
    assert report.readable
    assert {p.kind for p in report.problems} == (kinds or set()), report.to_text()
    assert set(report.problem_counts()) <= set(KINDS)


def test_valid_dataset_passes_and_loads_in_pycocotools(dataset: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(dataset)])
    assert result.exit_code == 0, result.output
    assert "OK: no problems found" in result.output
    assert "2 images, 4 annotations, 3 categories" in result.output


def test_broken_file_is_reported_problem_by_problem(dataset: Path) -> None:
    doc = json.loads((dataset / "annotations.json").read_text(encoding="utf-8"))
    doc["annotations"][1]["bbox"] = [30, 0.25, 19.5, 29.75]  # past the right edge
    doc["annotations"][2]["image_id"] = 7                    # no such image
    doc["annotations"][3]["iscrowd"] = "no"                  # wrong type
    doc["images"][1]["height"] = 31                          # file is 30 px high
    write_doc(dataset, doc)
    result = CliRunner().invoke(cli, ["validate", str(dataset)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    expected = [
        "annotations[1] (id 2): bbox [30, 0.25, 19.5, 29.75] (right 49.5, bottom 30) extends "
        "past the 40x30 image",
        "annotations[2] (id 3): image_id 7 names no image",
        "annotations[3] (id 4): 'iscrowd' is \"no\", expected an integer (0 or 1)",
        f"image 2 ({dataset / 'images' / 'b.png'}): file is 40x30 but the entry says 40x31",
    ]
    for message in expected:
        assert f"  {message}" in lines
    assert lines[-1] == ("FAILED: 4 problems (structure 1, reference 1, bbox_outside 1, "
                         "image_size 1)")


def test_json_report_and_problem_cap(dataset: Path) -> None:
    doc = json.loads((dataset / "annotations.json").read_text(encoding="utf-8"))
    for ann in doc["annotations"]:
        ann["area"] = -1.0
    write_doc(dataset, doc)
    result = CliRunner().invoke(cli, ["validate", str(dataset), "--json", "--max-problems", "3"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["path"] == str(dataset)
    assert report["ok"] is False
    assert report["counts"] == {"images": 2, "annotations": 4, "categories": 3}
    assert report["problem_counts"] == {"area": 4}
    assert [(p["kind"], p["annotation_id"], p["image_id"]) for p in report["problems"]] == [
        ("area", 1, 1), ("area", 2, 1), ("area", 3, 2)]

    text = CliRunner().invoke(cli, ["validate", str(dataset), "--max-problems", "1"]).output
    assert "area (4 problems, first 1 shown)" in text
    assert text.count("is not a positive number") == 1


@pytest.mark.parametrize("messages,line", [
    # one
    (["a"], "1 problem(s): a"),
    # more than three: all counted, the first three shown
    (["a", "b", "c", "d"], "4 problem(s): a; b; c"),
])
def test_a_refusal_names_the_problems_in_one_line(messages: list[str], line: str) -> None:
    assert in_one_line([Problem("bbox", m) for m in messages]) == line


def test_mix_layout_finds_images_beside_annotations_folder(tmp_path: Path) -> None:
    doc = valid_document()
    root = make_coco_folder(tmp_path / "mixed", doc["images"], doc["annotations"],
                            doc["categories"])
    (root / "annotations").mkdir()
    (root / "annotations.json").rename(root / "annotations" / "train.json")
    assert validate_path(root / "annotations" / "train.json").ok
    result = CliRunner().invoke(cli, ["validate", str(root / "annotations" / "train.json"),
                                      "--images", str(tmp_path)])
    assert result.exit_code == 1
    assert "image_missing (2 problems)" in result.output


def test_a_very_large_image_is_measured_not_refused(tmp_path: Path) -> None:
    # 400 megapixels: Pillow refuses to open it as a possible decompression bomb, but
    # validate reads only the header.
    doc = valid_document()
    doc["images"] = doc["images"][:1]
    doc["images"][0].update(width=20_000, height=20_000)
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] == 1
                          and "segmentation" not in a]
    root = make_coco_folder(tmp_path / "ds", doc["images"], doc["annotations"],
                            doc["categories"], write_images=False)
    (root / "images").mkdir(exist_ok=True)
    (root / "images" / doc["images"][0]["file_name"]).write_bytes(declared_png(20_000, 20_000))
    report = validate_path(root)
    assert report.problems == [], report.to_text()


def test_a_missing_images_folder_is_bad_input(dataset: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(dataset), "--images",
                                      str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output


UNREADABLE = [
    # no such path
    (None, "no such file or folder"),
    # a folder without annotations.json
    ("folder", "no annotations.json in this folder"),
    # not JSON
    ("{not json", "not valid JSON (line 1, column 2"),
    # JSON, but a list at the top level
    ("[1, 2]", "expected a JSON object at the top level, found a list"),
    # not UTF-8
    (b"\xff\xfe{}", "cannot read"),
]


@pytest.mark.parametrize(("content", "message"), UNREADABLE)
def test_unreadable_exits_2(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "data.json"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output

    as_json = CliRunner().invoke(cli, ["validate", str(path), "--json"])
    assert as_json.exit_code == 2
    report = json.loads(as_json.output)
    assert report["ok"] is False and report["problems"][0]["kind"] == "unreadable"
    assert message in report["problems"][0]["message"]


def _annotations_as(kind: str) -> Callable[[Path], None]:
    """Make ``folder/annotations.json`` what ``kind`` says (or leave it out)."""
    def make(folder: Path) -> None:
        target = folder / "annotations.json"
        if kind == "folder":
            target.mkdir()
        elif kind == "fifo":
            try:
                os.mkfifo(target)
            except (AttributeError, OSError):
                pytest.skip("no FIFOs here")
        elif kind == "dangling-link":
            target.symlink_to(folder / "gone.json")
        elif kind != "missing":
            target.write_bytes(kind.encode() if kind != "not-utf8" else b'{"a": "\xe9"}')
    return make


# (what annotations.json is, the file the Error line names, what it says)
SAME_ERROR_CASES = [
    ("{not json", "annotations.json", "not valid JSON (line 1, column 2: Expecting property "
                                      "name enclosed in double quotes)"),
    ("", "annotations.json", "not valid JSON (line 1, column 1: Expecting value)"),
    ("not-utf8", "annotations.json", "cannot read (not UTF-8 text: invalid continuation byte "
                                     "at byte 7)"),
    ("[1, 2]", "annotations.json", "expected a JSON object at the top level, found a list"),
    ("[" * 100_000 + "]" * 100_000, "annotations.json",
     "cannot read (its JSON nests too deep to parse)"),
    ("folder", "annotations.json", "not a regular file"),
    ("fifo", "annotations.json", "not a regular file"),
    ("dangling-link", "annotations.json", "cannot read (a link to nothing)"),
    # the problem is in the folder: it holds no annotations file
    ("missing", "", "no annotations.json in this folder"),
]


@pytest.mark.parametrize(("kind", "named", "says"), SAME_ERROR_CASES,
                         ids=[case[0][:12] or "empty" for case in SAME_ERROR_CASES])
def test_validate_and_load_dataset_give_the_same_error(tmp_path: Path, kind: str, named: str,
                                                       says: str) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    _annotations_as(kind)(folder)
    expected = f"Error: {folder / named if named else folder}: {says}"
    for command in ("validate", "stats", "preview"):
        args = [command, str(folder)] + (["--out", str(tmp_path / "p.png")]
                                         if command == "preview" else [])
        result = CliRunner().invoke(cli, args)
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert (result.exit_code, errors) == (2, [expected]), (command, result.output)
    report = json.loads(CliRunner().invoke(cli, ["validate", str(folder), "--json"]).output)
    assert report["problems"] == [{"kind": "unreadable", "message": expected[len("Error: "):]}]


@pytest.mark.parametrize("given", ["name too long", "permission denied"])
def test_a_path_the_system_will_not_look_at_is_an_error_line(tmp_path: Path, given: str,
                                                             monkeypatch) -> None:
    # Path.is_dir() raises for anything but a missing path: a name too long for the file
    # system, a folder it may not search (simulated: tests may run as root).
    if given == "name too long":
        path = tmp_path / ("a" * 300)
        says = f"Error: {path}: cannot read ({os.strerror(errno.ENAMETOOLONG)})"
    else:
        path = tmp_path / "locked" / "set"
        real_stat = Path.stat

        def stat(self, *args, **kwargs):
            if self == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_stat(self, *args, **kwargs)
        monkeypatch.setattr(Path, "stat", stat)
        says = f"Error: {path}: cannot read ({os.strerror(errno.EACCES)})"
    for command in ("validate", "stats"):
        result = CliRunner().invoke(cli, [command, str(path)])
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert (result.exit_code, errors) == (2, [says]), (command, result.output)
    report = json.loads(CliRunner().invoke(cli, ["validate", str(path), "--json"]).output)
    assert report["problems"] == [{"kind": "unreadable", "message": says[len("Error: "):]}]


RLE_STRING_ERRORS = [
    # a character below '0'
    ("0/", "invalid character"),
    # ends while the continuation bit (0x20) is set
    ("P", "end in the middle of a run"),
    # decodes to a negative first run (sign bit 0x10 set)
    ("@", "negative run"),
]


@pytest.mark.parametrize(("text", "error"), RLE_STRING_ERRORS)
def test_decode_rle_string_rejects_malformed(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decode_rle_string(text)


@settings(max_examples=150, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)),
              elements=st.integers(0, 1)))
def test_rle_decoding_matches_pycocotools(mask: np.ndarray) -> None:
    rle = mask_utils.encode(np.asfortranarray(mask))
    runs, size = rle_counts({"size": rle["size"], "counts": rle["counts"].decode("ascii")})
    assert size == mask.shape
    area, bounds = rle_area_and_bounds(runs, mask.shape[0])
    assert area == int(mask.sum()) == int(mask_utils.area(rle))
    if area:
        assert list(bounds) == mask_utils.toBbox(rle).tolist()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_validate_survives_anything(tmp_path_factory: pytest.TempPathFactory,
                                    data: st.DataObject) -> None:
    """Any field replaced by any JSON value gives problems, never an exception."""
    doc = valid_document()
    for _ in range(data.draw(st.integers(1, 4))):
        key = data.draw(st.sampled_from(["images", "annotations", "categories"]))
        entry = data.draw(st.sampled_from(doc[key]))
        field = data.draw(st.sampled_from(sorted(entry) + ["segmentation"]))
        entry[field] = data.draw(JSON_VALUES)
    if data.draw(st.booleans()):
        doc[data.draw(st.sampled_from(sorted(doc)))] = data.draw(JSON_VALUES)
    root = tmp_path_factory.getbasetemp()
    report = validate_document(copy.deepcopy(doc), image_root=root, check_files=True)
    assert all(p.kind in KINDS for p in report.problems)
    json.dumps(report.to_dict())
