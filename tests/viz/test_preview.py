"""Tests of ``synthgen preview``: the pixels drawn, the images chosen, the errors given."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from synthgen.categories import CATEGORY_NAMES
from synthgen.cli import cli
from synthgen.viz import sheet as sheet_module
from synthgen.viz.draw import (
    CATEGORY_COLORS,
    DIM_ALPHA,
    IGNORE_COLOR,
    THICKNESS,
    Boxes,
    category_color,
    instance_colors,
)
from synthgen.viz.preview import layers_cell
from synthgen.viz.sheet import LINE_HEIGHT, SHEET_PADDING
from tests.factories import annotation, make_coco_folder, make_image

GREY = 90
CAR = CATEGORY_COLORS["car"]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["preview", *map(str, args)])


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit 2, a message naming each fragment, and no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def image_entry(image_id: int, width: int = 100, height: int = 80, **extra: Any) -> dict:
    return {"id": image_id, "file_name": f"{image_id:04d}.png", "width": width,
            "height": height, **extra}


def one_box_dataset(root: Path, bbox: list[float], **ann_extra: Any) -> Path:
    """One flat grey 100x80 image with one car box."""
    return make_coco_folder(root, [image_entry(1)], [annotation(1, 1, 1, bbox, **ann_extra)])


def first_tile(sheet: np.ndarray, width: int, height: int) -> np.ndarray:
    return sheet[SHEET_PADDING:SHEET_PADDING + height, SHEET_PADDING:SHEET_PADDING + width]


def is_color(pixels: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    return np.all(pixels == np.array(color, np.uint8), axis=-1)


# --- pixels of the dataset sheet --------------------------------------------------------


@pytest.mark.parametrize(("tile_width", "bbox", "edges"), [
    # scale 1: the box over columns 10..39, rows 20..44
    (100, [10, 20, 30, 25], (10, 20, 40, 45)),
    # scale 2: every edge doubles
    (200, [10, 20, 30, 24], (20, 40, 80, 88)),
    # scale 0.5: edges on even image coordinates land on whole tile pixels
    (50, [10, 40, 30, 24], (5, 20, 20, 32)),
])
def test_outline_lies_on_scaled_box_edges(tmp_path: Path, tile_width: int, bbox: list[float],
                                          edges: tuple[int, int, int, int]) -> None:
    data = one_box_dataset(tmp_path / "ds", bbox)
    out = tmp_path / "sheet.png"
    result = run(data, "--out", out, "--columns", "1", "--tile-width", tile_width)
    assert result.exit_code == 0, result.output
    tile = first_tile(read_png(out), tile_width, tile_width * 80 // 100)
    c0, r0, c1, r1 = edges
    middle_row, middle_col = (r0 + r1) // 2, (c0 + c1) // 2
    # The outline's outermost pixels are exactly on the edges, all the way round...
    assert is_color(tile[r0:r1, c0], CAR).all()
    assert is_color(tile[r0:r1, c1 - 1], CAR).all()
    assert is_color(tile[r0, c0:c1], CAR).all()
    assert is_color(tile[r1 - 1, c0:c1], CAR).all()
    # ...it is THICKNESS wide, so 2 px inside is the image again...
    inside = [tile[middle_row, c0 + 2], tile[middle_row, c1 - 3], tile[r1 - 3, middle_col]]
    assert all((px == GREY).all() for px in inside)
    # ...and nothing spills outside (above the box is the name patch).
    outside = [tile[middle_row, c0 - 1], tile[middle_row, c1], tile[r1, middle_col]]
    assert all((px == GREY).all() for px in outside)


def test_low_visibility_box_is_thin_and_half_transparent(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25], visibility=0.2)
    out = tmp_path / "sheet.png"
    assert run(data, "--out", out, "--columns", "1", "--tile-width", 100).exit_code == 0
    tile = first_tile(read_png(out), 100, 80)
    blended = np.round((1 - DIM_ALPHA) * GREY + DIM_ALPHA * np.array(CAR)).astype(np.uint8)
    assert is_color(tile[20:45, 10], tuple(blended)).all()
    assert (tile[32, 11] == GREY).all()  # 1 px wide


def test_ignore_region_is_hatched(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 40, 40], iscrowd=1)
    out = tmp_path / "sheet.png"
    assert run(data, "--out", out, "--columns", "1", "--tile-width", 100).exit_code == 0
    interior = first_tile(read_png(out), 100, 80)[22:58, 12:48]
    hatched = ~np.all(interior == GREY, axis=-1)
    # Diagonal lines every few pixels: a fair share of the inside, far from all of it.
    assert 0.05 < hatched.mean() < 0.5
    assert hatched.any(axis=0).all() and hatched.any(axis=1).all()


def test_caption_and_name_are_written(tmp_path: Path) -> None:
    data = make_coco_folder(
        tmp_path / "ds",
        [image_entry(1, scene="urban", weather={"kind": "fog", "intensity": 0.5},
                     time_of_day="dusk")],
        [annotation(1, 1, 1, [10, 40, 30, 25])])
    plain = make_coco_folder(tmp_path / "plain", [image_entry(1)],
                             [annotation(1, 1, 1, [10, 40, 30, 25])])
    sheets = []
    for folder in (data, plain):
        out = tmp_path / f"{folder.name}.png"
        assert run(folder, "--out", out, "--columns", "1", "--tile-width", 100).exit_code == 0
        sheets.append(read_png(out))
    tile = first_tile(sheets[1], 100, 80)
    # The name patch sits right above the box, in the box colour, with dark text on it.
    assert is_color(tile[39, 10:25], CAR).all() and is_color(tile[30:40, 10:12], CAR).all()
    assert (tile[26:40, 10:30].sum(axis=-1) < 200).any()
    # The caption strip under the image holds light text; more metadata, more text.
    captions = [sheet[SHEET_PADDING + 80:SHEET_PADDING + 80 + 2 * LINE_HEIGHT] for sheet in sheets]
    ink = [int((strip > 150).all(axis=-1).sum()) for strip in captions]
    assert ink[0] > ink[1] > 0


def test_sheet_legend_lists_the_categories_drawn(tmp_path: Path) -> None:
    data = make_coco_folder(tmp_path / "ds", [image_entry(1)],
                            [annotation(1, 1, 1, [10, 20, 30, 25]),
                             annotation(2, 1, 3, [50, 50, 2, 2])])
    out = tmp_path / "sheet.png"
    assert run(data, "--out", out, "--columns", 1, "--tile-width", 100).exit_code == 0
    sheet = read_png(out)
    below_cell = sheet[SHEET_PADDING + 80 + 2 * LINE_HEIGHT + 4:]
    for name in CATEGORY_NAMES:
        assert is_color(below_cell, CATEGORY_COLORS[name]).any() == (name in ("car", "bus"))


# --- choosing images --------------------------------------------------------------------


def shaded_dataset(root: Path, categories_per_image: list[list[int]],
                   **image_extra: list[Any]) -> Path:
    """Images 64x32, image i flat grey of value 20 * (i + 1), small boxes at the top left."""
    images, anns = [], []
    for i, categories in enumerate(categories_per_image):
        extra = {key: values[i] for key, values in image_extra.items()}
        images.append(image_entry(i + 1, 64, 32, **extra))
        for category_id in categories:
            anns.append(annotation(len(anns) + 1, i + 1, category_id, [0, 0, 4, 4]))
    make_coco_folder(root, images, anns)
    for i in range(len(images)):
        make_image(root / "images" / images[i]["file_name"], 64, 32, value=20 * (i + 1))
    return root


def shown_images(sheet_path: Path) -> list[int]:
    """Which images of a :func:`shaded_dataset` a one-row sheet shows, by 1-based id."""
    sheet = read_png(sheet_path)
    n = (sheet.shape[1] - SHEET_PADDING) // (64 + SHEET_PADDING)
    shades = [int(sheet[SHEET_PADDING + 28, SHEET_PADDING + i * (64 + SHEET_PADDING) + 60, 0])
              for i in range(n)]
    return [shade // 20 for shade in shades]


def test_category_filter_keeps_only_images_with_that_category(tmp_path: Path) -> None:
    data = shaded_dataset(tmp_path / "ds", [[1], [4], [1, 4], [2], [4, 4]])
    out = tmp_path / "sheet.png"
    result = run(data, "--out", out, "--category", "pedestrian", "--columns", 16,
                 "--tile-width", 64)
    assert result.exit_code == 0, result.output
    assert shown_images(out) == [2, 3, 5]


def test_category_filter_ignores_ignore_regions(tmp_path: Path) -> None:
    data = shaded_dataset(tmp_path / "ds", [[1], [1]])
    document = json.loads((data / "annotations.json").read_text(encoding="utf-8"))
    document["annotations"].append(annotation(9, 1, 4, [10, 10, 9, 9], iscrowd=1))
    document["annotations"].append(annotation(10, 2, 4, [10, 10, 9, 9]))
    (data / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    out = tmp_path / "sheet.png"
    result = run(data, "--out", out, "--category", "pedestrian", "--columns", 16,
                 "--tile-width", 64)
    assert result.exit_code == 0, result.output
    assert shown_images(out) == [2]


def test_weather_filter_accepts_strings_and_kind_dicts(tmp_path: Path) -> None:
    weathers = ["fog", {"kind": "fog", "intensity": 0.4}, "rain", {"kind": "clear"}, None]
    data = shaded_dataset(tmp_path / "ds", [[1]] * 5, weather=weathers)
    out = tmp_path / "sheet.png"
    result = run(data, "--out", out, "--weather", "fog", "--columns", 16, "--tile-width", 64)
    assert result.exit_code == 0, result.output
    assert shown_images(out) == [1, 2]


def test_count_and_seed_choose_a_repeatable_subset(tmp_path: Path) -> None:
    data = shaded_dataset(tmp_path / "ds", [[1]] * 12)
    shown = {}
    for name, seed in [("a", 0), ("b", 0), ("c", 1)]:
        out = tmp_path / f"{name}.png"
        result = run(data, "--out", out, "--count", 4, "--seed", seed, "--columns", 16,
                     "--tile-width", 64)
        assert result.exit_code == 0, result.output
        shown[name] = shown_images(out)
    assert len(shown["a"]) == 4 and shown["a"] == sorted(shown["a"])
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert shown["c"] != shown["a"]


def test_count_above_dataset_size_shows_every_image(tmp_path: Path) -> None:
    data = shaded_dataset(tmp_path / "ds", [[1]] * 3)
    out = tmp_path / "sheet.png"
    assert run(data, "--out", out, "--columns", 16, "--tile-width", 64).exit_code == 0
    assert shown_images(out) == [1, 2, 3]


# --- bad input --------------------------------------------------------------------------


def with_annotation_text(text: str) -> Any:
    def setup(root: Path) -> Path:
        (root / "annotations.json").write_text(text, encoding="utf-8")
        return root
    return setup


@pytest.mark.parametrize(("setup", "fragments"), [
    # a path that is not there
    (lambda root: root / "nope", ["no such file or folder"]),
    # a folder without annotations.json
    (lambda root: root, ["no annotations.json"]),
    # annotations that are not JSON
    (with_annotation_text("{oops"), ["not valid JSON"]),
    # JSON that is not COCO
    (with_annotation_text("[]"), ["JSON object"]),
    (with_annotation_text('{"images": []}'), ["list under 'annotations'"]),
    # a box that is not [x, y, w, h]
    (lambda root: make_coco_folder(root, [image_entry(1)],
                                   [{"id": 7, "image_id": 1, "category_id": 1,
                                     "bbox": [1, 2, 3]}]), ["annotation 7", "bbox"]),
    (lambda root: make_coco_folder(root, [image_entry(1)],
                                   [{"id": 8, "image_id": 1, "category_id": 1,
                                     "bbox": [1, 2, "3", 4]}]), ["annotation 8", "bbox"]),
    (lambda root: make_coco_folder(root, [image_entry(1)],
                                   [annotation(9, 1, 1, [10, 10, -5, 4])]), ["annotation 9"]),
    # an image entry that is not an object
    (with_annotation_text('{"images": ["a.png"], "annotations": [], "categories": []}'),
     ["images[0]"]),
    # an image entry without file_name
    (lambda root: make_coco_folder(root, [{"id": 1, "width": 10, "height": 10}], [],
                                   write_images=False), ["file_name"]),
    # no images at all
    (lambda root: make_coco_folder(root, [], []), ["no images"]),
])
def test_unreadable_datasets_exit_2(tmp_path: Path, setup: Any, fragments: list[str]) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    result = run(setup(root), "--out", tmp_path / "sheet.png")
    assert_user_error(result, *fragments)
    assert not (tmp_path / "sheet.png").exists()


@pytest.mark.parametrize(("args", "fragments"), [
    # neither a dataset nor a template
    ([], ["exactly one of DIR", "--scene"]),
    # both
    (["{ds}", "--scene", "urban"], ["exactly one of DIR"]),
    # template-only options on a dataset
    (["{ds}", "--layers"], ["--layers", "--scene"]),
    (["{ds}", "--size", "320x192"], ["--size"]),
    (["{ds}", "--sprites", "{ds}"], ["--sprites", "--scene"]),
    # dataset-only options on a template
    (["--scene", "urban", "--category", "car"], ["--category", "dataset"]),
    # an unknown category lists the valid ones
    (["{ds}", "--category", "tractor"], ["tractor", "valid names: bus, car, cyclist"]),
    # a category no image has
    (["{ds}", "--category", "bus"], ["no image", "bus"]),
    # a weather no image has, naming those there are
    (["{ds}", "--weather", "snow"], ["snow", "weather found: fog"]),
    # not a PNG name
    (["{ds}", "--out", "{tmp}/sheet.jpg"], ["*.png"]),
    # a folder that does not exist
    (["{ds}", "--out", "{tmp}/missing/sheet.png"], ["does not exist"]),
    # a folder, not a file
    (["{ds}", "--out", "{tmp}"], ["directory"]),
    # inside the dataset being previewed
    (["{ds}", "--out", "{ds}/sheet.png"], ["inside the dataset folder"]),
    (["{ds}", "--out", "{ds}/images/sheet.png"], ["inside the dataset folder"]),
    # bad numbers
    (["{ds}", "--count", "0"], ["--count"]),
    (["--scene", "urban", "--size", "big"], ["WIDTHxHEIGHT"]),
])
def test_bad_options_exit_2(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    data = make_coco_folder(tmp_path / "ds", [image_entry(1, weather="fog")],
                            [annotation(1, 1, 1, [1, 1, 5, 5])])
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    argv = [a.format(ds=data, tmp=tmp_path) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "sheet.png")]
    assert_user_error(run(*argv), *fragments)
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


def test_coco_file_outside_a_dataset_folder(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25])
    out = tmp_path / "sheet.png"
    result = run(data / "annotations.json", "--out", out, "--tile-width", 100)
    assert result.exit_code == 0, result.output
    assert is_color(first_tile(read_png(out), 100, 80)[20:45, 10], CAR).all()


def test_existing_png_is_kept_without_overwrite(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25])
    out = tmp_path / "sheet.png"
    out.write_bytes(b"old")
    assert_user_error(run(data, "--out", out), "--out", "sheet.png", "--overwrite")
    assert out.read_bytes() == b"old"
    assert_user_error(run("--scene", "urban", "--count", 1, "--out", out), "--overwrite")
    assert out.read_bytes() == b"old"


def test_existing_png_is_replaced_with_overwrite(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25])
    out = tmp_path / "sheet.png"
    out.write_bytes(b"old")
    assert run(data, "--out", out, "--overwrite").exit_code == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


@pytest.mark.parametrize("damage", [
    Path.unlink,
    # an empty file: OpenCV raises on empty input rather than returning None
    lambda path: path.write_bytes(b""),
    lambda path: path.write_bytes(b"not an image"),
])
def test_missing_image_file_is_drawn_blank_and_named(tmp_path: Path, damage: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25])
    damage(data / "images" / "0001.png")
    out = tmp_path / "sheet.png"
    result = run(data, "--out", out, "--columns", "1", "--tile-width", 100)
    assert result.exit_code == 0, result.output
    assert "0001.png" in caplog.text
    tile = first_tile(read_png(out), 100, 80)
    assert is_color(tile[20:45, 10], CAR).all()
    assert not (tile[60, 80] == GREY).all()


def test_missing_image_of_any_claimed_size_is_drawn_at_tile_size(tmp_path: Path) -> None:
    # A trillion-pixel blank image is never made: the tile is drawn at its own size.
    data = make_coco_folder(tmp_path / "ds", [image_entry(1, 10**6, 10**6)],
                            [annotation(1, 1, 1, [0, 0, 500_000, 10**6])], write_images=False)
    out = tmp_path / "sheet.png"
    result = run(data, "--out", out, "--tile-width", 100)
    assert result.exit_code == 0, result.output
    tile = first_tile(read_png(out), 100, 100)
    assert is_color(tile[30:70, 0], CAR).all() and not is_color(tile[30:70, 80], CAR).any()


def test_a_sheet_too_large_is_refused_before_it_is_drawn(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr(sheet_module, "MAX_SHEET_SIDE", 500)
    data = make_coco_folder(tmp_path / "ds", [image_entry(i) for i in range(1, 21)], [])
    out = tmp_path / "sheet.png"
    assert_user_error(run(data, "--out", out, "--count", 20, "--columns", 1,
                          "--tile-width", 100), "over 500 pixels tall", "--count")
    assert_user_error(run(data, "--out", out, "--count", 20, "--columns", 20,
                          "--tile-width", 100), "over 500 pixels wide")
    assert not out.exists()
    assert run(data, "--out", out, "--count", 20, "--columns", 4,
               "--tile-width", 32).exit_code == 0


def test_the_legend_counts_towards_the_largest_sheet(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25])
    out = tmp_path / "sheet.png"
    assert run(data, "--out", out, "--tile-width", 100).exit_code == 0
    height = read_png(out).shape[0]  # cells and legend
    monkeypatch.setattr(sheet_module, "MAX_SHEET_SIDE", height - 1)  # the cells fit
    assert_user_error(run(data, "--out", out, "--tile-width", 100, "--overwrite"),
                      f"with its legend would be over {height - 1} pixels tall")
    monkeypatch.setattr(sheet_module, "MAX_SHEET_SIDE", height)
    assert run(data, "--out", out, "--tile-width", 100, "--overwrite").exit_code == 0


def test_images_option_finds_a_coco_downloads_image_folder(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "coco", [10, 20, 30, 25])
    (data / "images").rename(data / "val2017")
    (data / "annotations").mkdir()
    (data / "annotations.json").rename(data / "annotations" / "instances_val2017.json")
    out = tmp_path / "sheet.png"
    result = run(data / "annotations" / "instances_val2017.json", "--out", out,
                 "--images", data / "val2017", "--tile-width", 100)
    assert result.exit_code == 0, result.output
    assert "IMAGE MISSING" not in result.output
    assert is_color(first_tile(read_png(out), 100, 80)[20:45, 10], CAR).all()
    # The folder holding annotations/ and the images is the dataset's: nothing goes there.
    assert_user_error(run(data / "annotations" / "instances_val2017.json", "--out",
                          data / "sheet.png", "--images", data / "val2017"),
                      "inside the dataset folder")
    assert_user_error(run("--scene", "urban", "--images", data, "--out", out),
                      "--images only work with a dataset DIR")


@pytest.mark.parametrize("size", [{}, {"width": 640, "height": 10**400},
                                  {"width": 10**400, "height": 480}])
def test_missing_image_without_usable_size_exits_2(tmp_path: Path,
                                                  size: dict[str, int]) -> None:
    data = make_coco_folder(tmp_path / "ds", [{"id": 1, "file_name": "a.png", **size}], [],
                            write_images=False)
    assert_user_error(run(data, "--out", tmp_path / "sheet.png"), "a.png", "width/height")


def test_help_describes_both_modes() -> None:
    result = CliRunner().invoke(cli, ["preview", "--help"])
    assert result.exit_code == 0
    assert "--scene" in result.output and "--layers" in result.output
    assert "synthgen preview DIR --out sheet.png" in result.output


# --- template previews ------------------------------------------------------------------

SMALL = (320, 192)


def test_template_sheet_is_repeatable(tmp_path: Path) -> None:
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        result = run("--scene", "urban", "--seed", 3, "--count", 2, "--size", "320x192",
                     "--tile-width", 160, "--out", out)
        assert result.exit_code == 0, result.output
    assert outs[0].read_bytes() == outs[1].read_bytes()
    sheet = read_png(outs[0])
    assert sheet.shape[1] == 2 * 160 + 3 * SHEET_PADDING
    tiles = [sheet[SHEET_PADDING:SHEET_PADDING + 96,
                   SHEET_PADDING + i * (160 + SHEET_PADDING):][:, :160] for i in range(2)]
    assert not np.array_equal(tiles[0], tiles[1])  # two different samples


def test_layers_show_the_sample_layers(tmp_path: Path) -> None:
    from synthgen.generate.images import render_sample
    from synthgen.scene.templates import load_template

    # Seed 19: a scene with an object clear of the others (see below).
    sample = render_sample(load_template("intersection"), seed=19, index=0, size=SMALL)
    out = tmp_path / "layers.png"
    result = run("--scene", "intersection", "--seed", 19, "--count", 1, "--layers",
                 "--size", "320x192", "--tile-width", 320, "--out", out)
    assert result.exit_code == 0, result.output
    sheet = read_png(out)
    width, height = SMALL
    panels = [sheet[SHEET_PADDING:SHEET_PADDING + height,
                    SHEET_PADDING + i * (width + SHEET_PADDING):][:, :width] for i in range(4)]
    assert np.array_equal(panels[0], sample.image)
    assert np.array_equal(panels[1], instance_colors(sample.instance_map))
    sky = ~np.isfinite(sample.depth)
    assert sky.any() and (panels[2][sky] == 0).all() and (panels[2][~sky] != 0).any(axis=-1).all()
    # The biggest object clear of other boxes (whose names could cover its edges) has its
    # modal box drawn on its edges.
    def isolated(lab) -> bool:
        x0, y0, x1, y1 = lab.bbox
        return all(other is lab or other.bbox[2] < x0 - 16 or other.bbox[0] > x1 + 16
                   or other.bbox[3] < y0 - 16 or other.bbox[1] > y1 + 16
                   for other in sample.labels)

    label = max((lab for lab in filter(isolated, sample.labels) if lab.is_box),
                key=lambda lab: lab.area)
    x0, y0, x1, y1 = (math.floor(v + 0.5) for v in label.bbox)
    drawn = is_color(panels[3], category_color(label.category))
    edges = [drawn[y0:y1, x0], drawn[y0:y1, x1 - 1], drawn[y0, x0:x1], drawn[y1 - 1, x0:x1]]
    assert all(edge.mean() > 0.5 for edge in edges)
    assert not drawn[y0 + THICKNESS:y1 - THICKNESS, x0 + THICKNESS:x1 - THICKNESS].all()


def test_unknown_scene_exits_2(tmp_path: Path) -> None:
    assert_user_error(run("--scene", "moonbase", "--out", tmp_path / "s.png"),
                      "moonbase", "urban")
    assert not (tmp_path / "s.png").exists()


def test_image_size_differing_from_its_entry_is_noted(tmp_path: Path) -> None:
    data = one_box_dataset(tmp_path / "ds", [10, 20, 30, 25])
    sheets = []
    for name in ("same", "differs"):
        if name == "differs":
            make_image(data / "images" / "0001.png", 50, 40)
        out = tmp_path / f"{name}.png"
        result = run(data, "--out", out, "--columns", 1, "--tile-width", 100)
        assert result.exit_code == 0, result.output
        sheets.append(read_png(out))
    # Boxes stay in the file's pixels (scale 2 here); a third caption line flags the mismatch.
    assert is_color(first_tile(sheets[1], 100, 80)[40:80, 20], CAR).all()
    assert sheets[1].shape[0] == sheets[0].shape[0] + LINE_HEIGHT
    third_line = sheets[1][SHEET_PADDING + 80 + 2 * LINE_HEIGHT:][:LINE_HEIGHT, :100]
    assert (third_line > 150).all(axis=-1).any()


def test_layers_cell_shows_ignore_regions_grey() -> None:
    # One box and one ignore region: the fourth panel outlines the ignore region in grey.
    ids = np.zeros((120, 200), np.uint16)
    ids[20:80, 20:90] = 1
    image = np.full((120, 200, 3), 100, np.uint8)
    boxes = Boxes.create([[20, 20, 90, 80], [110, 30, 180, 90]], ["car", "car"],
                         crowd=[False, True], contrast=[0.3, 0.01])
    cell = layers_cell(image, ids, np.full(ids.shape, 10.0, np.float32), boxes, boxes,
                       width=200, title="t")
    assert cell.shape[1] == 4 * 200 + 3 * SHEET_PADDING
    fourth = cell[:120, 3 * (200 + SHEET_PADDING):]
    assert is_color(fourth, IGNORE_COLOR).any()
    assert not is_color(cell[:120, :200], IGNORE_COLOR).any()  # the image itself is plain
