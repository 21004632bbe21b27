"""Tests of the gap rows, of what they say, and of ``synthgen stats`` / ``synthgen compare``
on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from synthgen.analysis import distances, measure, report, wording
from synthgen.categories import CATEGORY_ID
from synthgen.cli import cli
from synthgen.formats.dataset import load_dataset
from tests.factories import annotation, make_coco_folder, make_image

PNG_URI = "data:image/png;base64,"


def _images(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": i, "file_name": f"{i:03d}.png", "width": 200, "height": 100, **extra}
            for i in range(1, count + 1)]


def make_real(root: Path) -> Path:
    """4 images, 8 cars 40 px tall centred at y = 0.6, fully visible, brightness 120."""
    anns = [annotation(n, (n - 1) // 2 + 1, 1, [20 + 80 * (n % 2), 40, 50, 40], occluded=0,
                       truncation=0.0) for n in range(1, 9)]
    folder = make_coco_folder(root, _images(4), anns)
    for image in _images(4):
        make_image(folder / "images" / image["file_name"], 200, 100, value=120)
    return folder


def make_synthetic(root: Path) -> Path:
    """4 images, 8 boxes 20 px tall centred at y = 0.3, cars and pedestrians, brightness 60."""
    anns = [annotation(n, (n - 1) // 2 + 1, 1 if n % 2 else 4, [20 + 80 * (n % 2), 20, 25, 20],
                       occluded=n % 2, visibility=0.8, contrast=0.3 + 0.1 * (n % 3))
            for n in range(1, 9)]
    folder = make_coco_folder(
        root, _images(4, weather={"kind": "rain", "intensity": 0.5},
                      camera={"height": 1.6, "pitch_deg": 2.0, "fov_deg": 90.0}), anns)
    for image in _images(4):
        make_image(folder / "images" / image["file_name"], 200, 100, value=60)
    return folder


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return make_real(tmp_path / "real"), make_synthetic(tmp_path / "synth")


@pytest.fixture()
def rows(pair: tuple[Path, Path]) -> dict[str, distances.GapRow]:
    real, synthetic = (measure.dataset_statistics(load_dataset(p)) for p in pair)
    return {row.key: row for row in distances.compare_stats(real, synthetic)}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- gap rows --------------------------------------------------------------------------


def test_rows_say_which_way_synthetic_differs(rows: dict[str, distances.GapRow]) -> None:
    height = rows["box_height"]
    assert height.measure == "W1" and height.distance == pytest.approx(20.0)
    assert wording.verdict(height) == ("synthetic boxes are smaller: median box height 20 px "
                                       "vs 40 px real")
    assert wording.verdict(rows["box_width"]).startswith("synthetic boxes are narrower")
    assert rows["box_aspect"].distance == pytest.approx(0.0)
    assert wording.verdict(rows["box_aspect"]).startswith("close")
    assert wording.verdict(rows["box_centres"]).startswith("synthetic box centres sit higher")
    assert rows["box_centres"].distance == pytest.approx(1.0)  # no shared heatmap cell
    assert wording.verdict(rows["brightness"]) == ("synthetic images are darker: median image "
                                                   "brightness 60 vs 120 real")
    assert rows["brightness"].distance == pytest.approx(60.0, abs=0.5)
    assert wording.verdict(rows["pixels.red"]).startswith("synthetic images have less red")
    # Half of the synthetic objects are pedestrians, none of the real ones: TV = 0.5.
    classes = rows["classes"]
    assert classes.measure == "TV" and classes.distance == pytest.approx(0.5)
    assert wording.verdict(classes) == ("synthetic over-represents pedestrian (50% vs 0% real) "
                                        "and under-represents car (50% vs 100% real)")
    assert rows["occluded"].distance == pytest.approx(0.5)
    assert rows["objects_per_image"].distance == 0.0
    assert wording.verdict(rows["objects_per_image"]).startswith("close")


def test_row_cells_summarise_each_set(rows: dict[str, distances.GapRow]) -> None:
    assert wording.summaries(rows["box_height"]) == ("median 40 px", "median 20 px")
    assert wording.summaries(rows["classes"]) == ("8 total, car 100%", "8 total, car 50%")
    assert wording.summaries(rows["box_centres"]) == ("mean (0.43, 0.60)", "mean (0.36, 0.30)")
    assert wording.summaries(rows["pixels.red"]) == ("mean 124", "mean 60")
    assert wording.summaries(rows["visibility"]) == ("n/a", "median 0.8")
    # The numbers behind the cells stay numbers.
    assert rows["box_height"].values["synthetic"]["median"] == 20


def test_rows_for_what_one_set_lacks(rows: dict[str, distances.GapRow]) -> None:
    for key, side in (("visibility", "real"), ("weather", "real"), ("camera.height", "real"),
                      ("horizon", "real"), ("truncation", "synthetic"),
                      ("object_contrast", "real")):
        assert rows[key].distance is None
        assert rows[key].recorded == (side == "synthetic", side == "real")
        assert wording.verdict(rows[key]) == f"not recorded in the {side} set"
    # Nobody records time of day: no row at all.
    assert "time_of_day" not in rows


def test_rows_say_why_a_set_has_nothing_to_compare(pair: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    # Images listed, but their files not there and not one object on them.
    real = make_coco_folder(tmp_path / "bare", _images(2), [], write_images=False)
    rows = {row.key: row for row in distances.compare_stats(
        measure.dataset_statistics(load_dataset(real)),
        measure.dataset_statistics(load_dataset(pair[1])))}
    assert wording.verdict(rows["classes"]) == "no objects in the real set"
    assert wording.verdict(rows["brightness"]) == "no image file read in the real set"
    assert wording.verdict(rows["pixels.red"]) == "no image file read in the real set"
    assert wording.summaries(rows["pixels.red"])[0] == "mean n/a"
    assert rows["objects_per_image"].distance is not None  # zero objects is a value


def test_numeric_verdict_falls_back_to_mean_then_spread() -> None:
    same_median = distances.compare_quantity("box_height", np.array([10, 20, 30.0]),
                                             np.array([10, 20, 90.0]))
    assert wording.verdict(same_median) == ("synthetic boxes are taller: mean box height "
                                            "40 px vs 20 px real")
    spread = distances.compare_quantity("visibility", np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
                                        np.array([0.45, 0.5, 0.5, 0.5, 0.55]))
    assert wording.verdict(spread).startswith("synthetic visibility varies less: "
                                              "interquartile range")
    close = distances.compare_quantity("box_width", np.array([100, 101.0]),
                                       np.array([101, 102.0]))
    assert wording.verdict(close) == "close: median box width 102 px vs 100 px real"
    assert close.distance == pytest.approx(1.0)
    camera = distances.compare_quantity("camera.pitch_deg", np.array([1.0]), np.array([3.0]))
    assert wording.verdict(camera) == ("synthetic camera pitch_deg is higher: median camera "
                                       "pitch_deg 3 vs 1 real")


def test_gap_json_holds_numbers(pair: tuple[Path, Path]) -> None:
    real, synthetic = (measure.dataset_statistics(load_dataset(p)) for p in pair)
    document = report.gap_to_json(real, synthetic, distances.compare_stats(real, synthetic))
    row = next(r for r in document["gap"] if r["key"] == "box_height")
    assert row["values"]["real"]["median"] == 40 and row["values"]["synthetic"]["median"] == 20
    assert document["real"]["objects"] == document["synthetic"]["objects"] == 8


# --- the command line ------------------------------------------------------------------


def test_stats_cli_writes_table_html_and_json(pair: tuple[Path, Path], tmp_path: Path) -> None:
    html_path, json_path = tmp_path / "report.html", tmp_path / "stats.json"
    result = invoke("stats", pair[1], "--html", html_path, "--json", json_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "dataset synth: 4 images, 8 objects, 0 crowd regions on 0 images"
    assert any(line.split()[:3] == ["car", "4", "50.0%"] for line in lines)
    assert any(line.split()[:5] == ["box", "height", "(px)", "8", "20"] for line in lines)
    assert "weather          rain: 4 (100.0%)" in result.stdout
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["classes"]["pedestrian"] == 4
    assert document["distributions"]["box_height"]["summary"]["median"] == 20
    page = html_path.read_text(encoding="utf-8")
    assert page.count(f'<img src="{PNG_URI}') >= 8
    assert "<script" not in page and "<link" not in page and 'src="http' not in page
    assert str(tmp_path) not in page and str(tmp_path) not in json_path.read_text()


def test_stats_output_is_deterministic(pair: tuple[Path, Path], tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        html_path, json_path = tmp_path / f"{run}.html", tmp_path / f"{run}.json"
        assert invoke("stats", pair[0], "--html", html_path, "--json", json_path).exit_code == 0
        outputs.append((html_path.read_bytes(), json_path.read_bytes()))
    assert outputs[0] == outputs[1]


def test_compare_cli(pair: tuple[Path, Path], tmp_path: Path) -> None:
    html_path, json_path = tmp_path / "gap.html", tmp_path / "gap.json"
    result = invoke("compare", *pair, "--html", html_path, "--json", json_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[3].split() == [
        "metric", "measure", "real", "synthetic", "distance", "how", "synthetic", "differs"]
    height_line = next(line for line in result.stdout.splitlines()
                       if line.startswith("box height"))
    assert height_line.split()[2:4] == ["W1", "median"]
    assert height_line.endswith("synthetic boxes are smaller: median box height 20 px "
                                "vs 40 px real")
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert {row["key"] for row in document["gap"]} >= {"classes", "box_height", "box_centres",
                                                      "brightness", "pixels.blue"}
    page = html_path.read_text(encoding="utf-8")
    assert page.count(f'<img src="{PNG_URI}') >= 10
    assert "synthetic boxes are smaller" in page
    assert "<script" not in page and str(tmp_path) not in page


@pytest.mark.parametrize(("args", "message"), [
    # A path that does not exist.
    (["stats", "{tmp}/nowhere"], "no such file or folder"),
    # A folder without annotations.json.
    (["stats", "{tmp}/empty"], "no annotations.json in this folder"),
    # A file that is not JSON.
    (["stats", "{tmp}/empty/notes.txt"], "not valid JSON"),
    # The second compare argument is wrong.
    (["compare", "{real}", "{tmp}/nowhere"], "no such file or folder"),
    # An output in a folder that does not exist.
    (["stats", "{real}", "--json", "{tmp}/no/dir/out.json"], "does not exist"),
    # An output that already exists.
    (["stats", "{real}", "--html", "{tmp}/empty/notes.txt"], "pass --overwrite"),
    # The same file for both outputs.
    (["compare", "{real}", "{real}", "--html", "{tmp}/x", "--json", "{tmp}/x"],
     "given for two outputs"),
])
def test_bad_input_gives_exit_2_and_a_message(pair: tuple[Path, Path], tmp_path: Path,
                                              args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello", encoding="utf-8")
    result = invoke(*[a.format(tmp=tmp_path, real=pair[0]) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_overwrite(pair: tuple[Path, Path], tmp_path: Path) -> None:
    json_path = tmp_path / "stats.json"
    json_path.write_text("old", encoding="utf-8")
    assert invoke("stats", pair[0], "--json", json_path).exit_code == 2
    assert json_path.read_text(encoding="utf-8") == "old"
    assert invoke("stats", pair[0], "--json", json_path, "--overwrite").exit_code == 0
    assert json.loads(json_path.read_text(encoding="utf-8"))["objects"] == 8


@pytest.mark.parametrize("args", [
    ["stats", "{real}", "--json", "{real}/annotations.json", "--overwrite"],
    ["stats", "{real}", "--html", "{real}/images/report.html"],
    ["compare", "{real}", "{synth}", "--json", "{real}/annotations.json", "--overwrite"],
    ["compare", "{real}", "{synth}", "--html", "{synth}/gap.html"],
])
def test_a_report_is_never_written_into_an_input(pair: tuple[Path, Path], args: list[str]
                                                 ) -> None:
    before = {p: p.read_bytes() for folder in pair for p in sorted(folder.rglob("*"))
              if p.is_file()}
    result = invoke(*[a.format(real=pair[0], synth=pair[1]) for a in args])
    assert result.exit_code == 2 and "read as input" in result.output, result.output
    assert "Traceback" not in result.output
    after = {p: p.read_bytes() for folder in pair for p in sorted(folder.rglob("*"))
             if p.is_file()}
    assert after == before


def test_names_with_dollar_signs_do_not_break_the_html_report(tmp_path: Path) -> None:
    # matplotlib reads $...$ as mathematics: a folder or category named so must neither
    # crash the report nor be drawn as a formula.
    folder = make_coco_folder(tmp_path / "run_$1_$2", _images(2),
                              [annotation(1, 1, 1, [10, 10, 20, 20])])
    document = json.loads((folder / "annotations.json").read_text(encoding="utf-8"))
    document["categories"][0]["name"] = "$\\frac{$"
    (folder / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    result = invoke("stats", folder, "--html", tmp_path / "report.html")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").read_text(encoding="utf-8").count(PNG_URI) >= 3


def test_help_is_the_docstring() -> None:
    assert "Print statistics of a COCO DATASET" in invoke("stats", "--help").output
    assert "Measure how the SYNTHETIC dataset differs" in invoke("compare", "--help").output


# --- the real KITTI sample -------------------------------------------------------------

KITTI_CLASSES = {"Car": "car", "Van": "car", "Truck": "truck", "Pedestrian": "pedestrian",
                 "Cyclist": "cyclist"}


def kitti_to_coco(kitti_dir: Path, out: Path) -> tuple[Path, dict[str, int], int]:
    """A COCO folder over the KITTI labels, images linked not copied.

    Returns:
        The folder, objects per class, and the number of DontCare regions.
    """
    out.mkdir()
    (out / "images").symlink_to(kitti_dir / "training" / "image_2", target_is_directory=True)
    images, anns, counts, dont_care = [], [], dict.fromkeys(KITTI_CLASSES.values(), 0), 0
    for image_id, label in enumerate(sorted((kitti_dir / "training" / "label_2").glob("*.txt")),
                                     start=1):
        with Image.open(out / "images" / f"{label.stem}.png") as image:
            width, height = image.size
        images.append({"id": image_id, "file_name": f"{label.stem}.png", "width": width,
                       "height": height})
        for line in label.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            left, top, right, bottom = map(float, fields[4:8])
            box = [left, top, right - left, bottom - top]
            if fields[0] == "DontCare":
                dont_care += 1
                anns.append(annotation(len(anns) + 1, image_id, 1, box, iscrowd=1))
            elif fields[0] in KITTI_CLASSES:
                name = KITTI_CLASSES[fields[0]]
                counts[name] += 1
                anns.append(annotation(len(anns) + 1, image_id, CATEGORY_ID[name], box,
                                       truncation=float(fields[1]), occluded=int(fields[2])))
    make_coco_folder(out, images, anns, write_images=False)
    return out, counts, dont_care


def test_kitti_sample_against_synthetic(kitti_dir: Path, tmp_path: Path) -> None:
    folder, counts, dont_care = kitti_to_coco(kitti_dir, tmp_path / "kitti")
    json_path = tmp_path / "kitti.json"
    result = invoke("stats", folder, "--json", json_path, "--sample-images", "6")
    assert result.exit_code == 0, result.output
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["images"] == 50
    assert document["objects"] == sum(counts.values())
    assert document["crowd_regions"] == dont_care
    assert {k: document["classes"][k] for k in counts} == counts
    assert document["pixels"]["images_sampled"] == 6
    brightness = document["distributions"]["brightness"]["summary"]
    assert 20 < brightness["median"] < 235  # daylight photos, neither black nor white
    assert set(document["categorical"]["occluded"]) <= {"0", "1", "2", "3"}

    synthetic = make_synthetic(tmp_path / "synth")
    result = invoke("compare", folder, synthetic, "--sample-images", "6")
    assert result.exit_code == 0, result.output
    height_line = next(line for line in result.stdout.splitlines()
                       if line.startswith("box height"))
    # KITTI boxes are tens of pixels tall; the synthetic fixture's are all 20 px.
    assert "synthetic boxes are smaller" in height_line


@pytest.mark.parametrize("real_size,synthetic_size,warned", [
    # the same resolution: nothing to say
    ((64, 40), (64, 40), False),
    # different resolutions: pixel sizes would mislead
    ((64, 40), (128, 80), True),
])
def test_compare_warns_when_resolutions_differ(tmp_path, real_size, synthetic_size, warned):
    from synthgen.cli import cli
    from tests.factories import annotation, make_coco_folder

    def folder(name, size):
        images = [{"id": 1, "file_name": "a.png", "width": size[0], "height": size[1]}]
        return make_coco_folder(tmp_path / name, images, [annotation(1, 1, 1, [1, 1, 8, 8])])

    result = CliRunner().invoke(
        cli, ["compare", str(folder("real", real_size)), str(folder("synth", synthetic_size)),
              "--sample-images", "0"])
    assert result.exit_code == 0, result.output
    assert ("generate with --size 64x40" in result.stderr) == warned


def test_object_contrast_row(tmp_path: Path) -> None:
    # Two synthetic sets, one of fainter objects: the row says which way it differs.
    clear = make_synthetic(tmp_path / "clear")
    foggy = make_coco_folder(
        tmp_path / "foggy", _images(4),
        [annotation(n, (n - 1) // 2 + 1, 1, [20, 20, 25, 20], contrast=0.1 * (n % 3))
         for n in range(1, 9)])
    rows = {row.key: row for row in distances.compare_stats(
        measure.dataset_statistics(load_dataset(clear)),
        measure.dataset_statistics(load_dataset(foggy)))}
    row = rows["object_contrast"]
    assert row.measure == "W1" and row.distance == pytest.approx(0.3)
    assert wording.verdict(row).startswith("synthetic objects stand out less from their "
                                           "surroundings")


def test_every_quantity_and_count_has_its_words():
    """The wording tables live apart from the quantities they word: a quantity added
    without its words would be worded as a camera's, a count without its prefix would
    raise in compare."""
    from synthgen.analysis import measure, wording

    assert set(wording.DIRECTIONS) == set(measure.QUANTITIES)
    assert set(wording.PREFIXES) == {"classes", *measure.CATEGORICAL}
