"""synthgen fit: camera and object statistics recovered from sets of known geometry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from synthgen.analysis import fit as fitting
from synthgen.cli import cli
from synthgen.datasets.realsets import read_real_set
from synthgen.errors import TemplateError
from synthgen.generate.images import render_sample
from synthgen.scene.templates import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- factories


def kitti_box(x: float, y: float, z: float, ry: float, dims: tuple[float, float, float],
              focal: float, cx: float, cy: float) -> tuple[float, float, float, float]:
    """The 2D box of a KITTI 3D box, projected as the KITTI devkit does it."""
    h, w, length = dims
    xs = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * length / 2
    ys = np.array([0, 0, 0, 0, -1, -1, -1, -1]) * h
    zs = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * w / 2
    rot = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0],
                    [-math.sin(ry), 0, math.cos(ry)]])
    pts = rot @ np.stack([xs, ys, zs]) + np.array([[x], [y], [z]])
    u, v = focal * pts[0] / pts[2] + cx, focal * pts[1] / pts[2] + cy
    return float(u.min()), float(v.min()), float(u.max()), float(v.max())


def make_kitti(root: Path, *, focal: float, cx: float, cy: float, camera_height: float,
               size: tuple[int, int] = (800, 240), images: int = 12,
               lines_per_image: int = 5, seed: int = 0) -> Path:
    """A KITTI-layout folder of blank images whose labels a camera of the given focal
    length, principal point and height (level, over flat ground) would see."""
    rng = np.random.default_rng(seed)
    image_dir, label_dir = root / "training" / "image_2", root / "training" / "label_2"
    image_dir.mkdir(parents=True)
    label_dir.mkdir(parents=True)
    width, height = size
    for index in range(images):
        Image.new("RGB", size, (120, 130, 140)).save(image_dir / f"{index:06d}.png")
        lines = []
        while len(lines) < lines_per_image:
            kind = "Pedestrian" if len(lines) == 0 and index % 2 else "Car"
            dims = (1.75, 0.6, 0.8) if kind == "Pedestrian" else (1.5, 1.7, 4.2)
            x, z = float(rng.uniform(-8, 8)), float(rng.uniform(8, 45))
            ry = float(rng.choice([-math.pi / 2, math.pi / 2]) + rng.normal(0, 0.05))
            left, top, right, bottom = kitti_box(x, camera_height, z, ry, dims, focal, cx, cy)
            if left < 2 or right > width - 3 or top < 2 or bottom > height - 3:
                continue
            h, w, length = dims
            lines.append(f"{kind} 0.00 0 0.00 {left:.2f} {top:.2f} {right:.2f} {bottom:.2f} "
                         f"{h:.2f} {w:.2f} {length:.2f} {x:.2f} {camera_height:.2f} {z:.2f} "
                         f"{ry:.2f}")
        lines.append("DontCare -1 -1 -10 10.00 10.00 40.00 30.00 -1 -1 -1 -1000 -1000 -1000 -10")
        (label_dir / f"{index:06d}.txt").write_text("\n".join(lines) + "\n")
    return root


def make_coco(root: Path, *, focal: float, camera_height: float,
              size: tuple[int, int] = (640, 360), images: int = 10, seed: int = 0) -> Path:
    """A COCO folder of cars 1.5 m tall seen by a level camera (principal point centred)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    width, height = size
    entries, anns = [], []
    for index in range(images):
        name = f"{index:04d}.png"
        Image.new("RGB", size, (100, 100, 100)).save(root / "images" / name)
        entries.append({"id": index + 1, "file_name": name, "width": width, "height": height})
        for _ in range(4):
            x, z = float(rng.uniform(-6, 6)), float(rng.uniform(8, 40))
            bottom = height / 2 + focal * camera_height / z
            top = height / 2 + focal * (camera_height - 1.5) / z
            u = width / 2 + focal * x / z
            half = focal * 0.9 / z
            anns.append({"id": len(anns) + 1, "image_id": index + 1, "category_id": 1,
                         "bbox": [u - half, top, 2 * half, bottom - top],
                         "area": 2 * half * (bottom - top), "iscrowd": 0})
    document = {"images": entries, "annotations": anns,
                "categories": [{"id": 1, "name": "car"}]}
    (root / "annotations.json").write_text(json.dumps(document))
    return root


def run_fit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["fit", *args])
    return result.exit_code, result.output


# --------------------------------------------------------------------------- pure functions


@pytest.mark.parametrize("mean,std,present,expected", [
    (0.0, 0.0, False, [0, 0]),    # a class never seen
    (0.1, 0.3, True, [0, 1]),     # rare but present: at least 0..1
    (3.0, 0.0, True, [3, 3]),     # always three
    (4.0, 1.0, True, [2, 6]),     # mean 4, uniform 2..6 has std ~1.4 (close, integer ends)
    (3.0, 3.0, True, [0, 6]),     # low end clipped at 0, high end keeps the mean
    (100.0, 5.0, True, [60, 60]),  # the schema's maximum
])
def test_count_range(mean, std, present, expected):
    assert fitting.count_range(mean, std, present=present) == expected


@pytest.mark.parametrize("fov,width", [(81.5, 1242), (60.0, 640), (110.0, 1920)])
def test_fov_and_focal_round_trip(fov, width):
    assert fitting.fov_deg(fitting.focal_px(fov, width), width) == pytest.approx(fov)


@pytest.mark.parametrize("category,x,heading,expected", [
    # urban's average road: centre line -2.44 m, lanes -7.31..2.44 m, road edges +-0.35 m more
    ("car", 0.0, 1.0, "in_lane"),          # ahead, driving away
    ("car", -4.0, -1.0, "oncoming"),       # left lane, towards us
    ("car", -4.0, 1.0, "in_lane"),         # left lane, away: overtaking, not oncoming
    ("car", 4.0, 1.0, "parked"),           # beyond the right lane line
    ("car", -9.0, -1.0, "parked"),         # beyond the left lane line
    ("car", -4.0, None, "oncoming"),       # no heading: by side of the centre line
    ("car", 0.0, 0.0, "in_lane"),          # across the road: by side
    ("cyclist", 4.5, 1.0, "in_lane"),      # rides along the road's edge
    ("cyclist", 6.0, 0.0, "sidewalk"),     # beyond the lanes, not riding along
    ("pedestrian", 0.0, 0.1, "crosswalk"),  # on the road, heading across
    ("pedestrian", 0.0, 1.0, "sidewalk"),  # walking along the road: on its side
    ("pedestrian", 5.0, 0.0, "sidewalk"),  # off the road
])
def test_placement_on_the_base_road(category, x, heading, expected):
    road = fitting.RoadModel.of(load_template("urban"))
    assert road.placement(category, x, heading) == expected


@pytest.mark.parametrize(("side", "beyond", "width"), [
    (1, 0.0, 1.7), (1, 2.5, 1.7), (-1, 0.0, 1.8), (-1, 6.0, 1.5), (1, -0.5, 1.7)])
def test_setback_on_the_base_road(side, beyond, width):
    """A parked object against the road's edge (its side 0.15 m inside it, as synthgen
    parks them) is set back 0; one ``beyond`` metres further out, ``beyond``."""
    road = fitting.RoadModel.of(load_template("urban"))
    edge = road.right_road_edge if side > 0 else road.left_road_edge
    x = edge - side * (width / 2 + 0.15) + side * beyond
    assert road.setback(x, width) == pytest.approx(beyond)


def _parked(beyond: list[float], width: float = 1.7) -> list:
    road = fitting.RoadModel.of(load_template("urban"))
    x = [road.right_road_edge - width / 2 - 0.15 + b for b in beyond]
    return [fitting.ObjectGeometry("car", 20.0, v, 1.0, None) for v in x]


@pytest.mark.parametrize(("beyond", "base_setback", "expected"), [
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 0, [0.0, 8.0]),  # quartiles 2 and 6
    ([4.0, 4.5, 5.0, 5.5, 6.0], 0, [4.0, 6.0]),                      # kept within the values
    # The quartile range would start below 0: from 0 with the same median.
    ([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 9.0, 10.0], 0, [0.0, 3.5]),
    ([0.0, 0.0, 0.05, 0.0, 0.02, 0.0], 0, None),                    # at the edge: no row...
    ([0.0, 0.0, 0.05, 0.0, 0.02, 0.0], 4, [0.0, 0.0]),              # ...unless the base's is
    ([], 4, [0.0, 0.0]),                                             # none parked, likewise
    ([1.0, 2.0, 3.0, 4.0], 4, None),                                 # too few: the base's
])
def test_parked_setback_range_follows_the_parked_objects(beyond, base_setback, expected):
    urban = load_template("urban")
    spec = urban.objects["car"].model_copy(update={"parked_setback_range": (0, base_setback)})
    road = fitting.RoadModel.of(urban)
    # The base's mean car width stands in for a KITTI width the objects lack.
    width = sum(spec.width_range) / 2
    rows = fitting._setback_row("car", _parked(beyond, width), road, spec, "measured")
    if expected is None:
        assert rows == []
    else:
        (row,) = rows
        assert row.key == "objects.car.parked_setback_range"
        assert row.value == expected


def test_a_car_at_the_kerb_is_parked_though_its_centre_is_on_the_lanes():
    road = fitting.RoadModel.of(load_template("urban"))
    kerb = road.right_road_edge - 1.7 / 2 - 0.15  # where synthgen parks a 1.7 m car
    assert kerb < road.right_lanes_edge
    assert road.placement("car", kerb, 1.0, 1.7) == "parked"
    assert road.placement("car", kerb - fitting.KERB_TOLERANCE + 0.01, 1.0, 1.7) == "parked"
    # The outer lane's own cars (its centre, give or take) are not.
    lane = road.right_lanes_edge - 3.25 / 2
    assert road.placement("car", lane + 0.4, 1.0, 1.7) == "in_lane"
    # Without a width, as before: by the lane line.
    assert road.placement("car", kerb, 1.0) == "in_lane"


def test_fit_on_a_base_that_sets_cars_back_writes_a_template_that_loads(tmp_path):
    """A real set without parked cars, fitted on a base whose cars are set back (the
    bundled kitti): the fitted placements have no parked weight, so the setback must go
    too."""
    assert load_template("kitti").objects["car"].parked_setback_range[1] > 0
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    for label in (src / "training" / "label_2").iterdir():  # every car in the centre lane
        lines = []
        for line in label.read_text().splitlines():
            parts = line.split()
            if parts[0] == "Car":
                parts[11] = "0.00"
            lines.append(" ".join(parts))
        label.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fitted.yaml"
    code, output = run_fit(str(src), "--base", "kitti", "--out", str(out), "--calibrate", "0",
                           "--weather-renders", "0")
    assert code == 0, output
    template = load_template(str(out))
    assert template.objects["car"].parked_setback_range == (0.0, 0.0)
    assert "parked" not in template.objects["car"].placements


@pytest.mark.parametrize("base,placement,category,expected", [
    ("urban", "sidewalk", "pedestrian", "sidewalk"),
    ("rural", "sidewalk", "pedestrian", "roadside"),  # no sidewalks on rural roads
    ("rural", "crosswalk", "pedestrian", "roadside"),
    ("highway", "sidewalk", "cyclist", "in_lane"),
    ("urban", "cross_traffic", "car", None),         # urban has no crossing road
])
def test_placement_the_base_cannot_offer_falls_back(base, placement, category, expected):
    road = fitting.RoadModel.of(load_template(base))
    assert fitting._available(placement, category, road) == expected


def test_robust_lstsq_ignores_outliers():
    x = np.linspace(0, 10, 40)
    y = 2.0 * x + 1.0
    y[::10] += 50.0
    (intercept, slope), _, keep = fitting.robust_lstsq(np.stack([np.ones_like(x), x], 1), y)
    assert (intercept, slope) == (pytest.approx(1.0), pytest.approx(2.0))
    assert keep.sum() == 36


# --------------------------------------------------------------------------- KITTI geometry


@pytest.mark.parametrize("focal,cx,cy,camera_height,size", [
    (500.0, 400.0, 120.0, 1.65, (800, 240)),  # centred principal point, KITTI's height
    (450.0, 390.0, 105.0, 1.30, (800, 240)),  # horizon above the centre: pitched down
    (620.0, 410.0, 130.0, 2.20, (800, 240)),  # a van-mounted camera, horizon below centre
])
def test_kitti_camera_is_recovered(tmp_path, focal, cx, cy, camera_height, size):
    src = make_kitti(tmp_path / "kitti", focal=focal, cx=cx, cy=cy,
                     camera_height=camera_height, size=size)
    result = fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    assert result.size == size
    values = {row.key: row.value for row in result.rows}
    fov = fitting.fov_deg(focal, size[0])
    low, high = values["camera.fov_range"]
    assert low <= fov <= high and high - low <= 1.2
    # Labels are written with 2 decimals: heights within a few centimetres.
    low, high = values["camera.height_range"]
    assert camera_height - 0.03 <= low <= high <= camera_height + 0.03
    pitch = math.degrees(math.atan((size[1] / 2 - cy) / focal))
    assert np.mean(values["camera.pitch_range"]) == pytest.approx(pitch, abs=0.1)
    yaw = math.degrees(math.atan((size[0] / 2 - cx) / focal))
    assert np.mean(values["camera.yaw_range"]) == pytest.approx(yaw, abs=0.1)
    assert {row.source for row in result.rows if row.key.startswith("camera.")} <= {
        "measured", "measured+assumed"}


def test_kitti_objects_are_fitted(tmp_path):
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    result = fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    values = {row.key: row.value for row in result.rows}
    assert values["objects.car.count_range"] == [4, 5]  # 4 or 5 cars in every image
    low, high = values["objects.car.distance_range"]
    assert 8 <= low < high <= 45
    assert values["objects.car.height_range"] == [1.5, 1.5]
    assert values["objects.car.length_range"] == [4.2, 4.2]
    assert values["objects.pedestrian.width_range"] == [0.6, 0.6]
    assert "objects.pedestrian.length_range" not in values  # KITTI's includes the stride
    assert set(values["objects.car.placements"]) <= {"in_lane", "oncoming", "parked"}
    assert sum(values["objects.car.placements"].values()) == pytest.approx(1.0, abs=0.02)
    # Classes KITTI never labels keep the base's counts unless asked.
    assert not any(key.startswith("objects.traffic_light") for key in values)


def test_calibration_divides_counts_by_the_labelled_share(tmp_path, monkeypatch):
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    key = "objects.car.count_range"
    raw = fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    before = dict((r.key, r.value) for r in raw.rows)[key]
    mean, std = fitting.count_moments(raw.real)["car"]
    assert before == fitting.count_range(mean, std, present=True) == [4, 5]
    # synthgen labelling half of the cars it places: twice as many are placed.
    seen = []
    monkeypatch.setattr(fitting, "labelled_share",
                        lambda template, size, images: seen.append(images) or {"car": 0.5})
    calibrated = fitting.fit_real_set(str(src), calibrate_images=6, sample_images=0)
    row = next(r for r in calibrated.rows if r.key == key)
    assert seen == [6, 6]  # two rounds of 6 renders
    assert row.value == fitting.count_range(2 * mean, 2 * std, present=True) == [7, 11]
    assert "synthgen labels 50% of placed objects (6 renders at 800x240)" in row.note


def test_calibration_raises_counts_for_objects_synthgen_does_not_label(tmp_path):
    # 11-12 cars per image: synthgen, placing that many, labels clearly fewer (occlusion).
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65,
                     lines_per_image=12)
    raw = fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    calibrated = fitting.fit_real_set(str(src), calibrate_images=6, sample_images=0)
    key = "objects.car.count_range"
    before = dict((r.key, r.value) for r in raw.rows)[key]
    after = dict((r.key, r.value) for r in calibrated.rows)[key]
    assert before == [11, 12]
    assert after[0] > before[1]  # the whole range moved up
    note = next(r.note for r in calibrated.rows if r.key == key)
    share = int(note.split("synthgen labels ")[1].split("%")[0])
    assert 40 <= share <= 90
    assert after == fitting.count_range(11.5 / (share / 100), 0.5 / (share / 100), present=True)


def test_cli_writes_a_template_that_loads_and_generates(tmp_path):
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    out = tmp_path / "mine.yaml"
    code, output = run_fit(str(src), "--out", str(out), "--calibrate", "2",
                           "--only-real-classes", "--weather-renders", "0")
    assert code == 0, output
    assert "--size 800x240" in output
    assert "camera.fov_range" in output and "measured" in output
    text = out.read_text()
    assert text.startswith("# Fitted by `synthgen fit`")
    assert "--size 800x240" in text and "12 images" in text
    document = yaml.safe_load(text)
    assert document["extends"] == "urban"
    assert document["objects"]["traffic_light"]["count_range"] == [0, 0]
    assert "road" not in document and "weather" not in document  # only what was fitted
    template = load_template(str(out))
    assert template.name == "mine"
    assert template.road == load_template("urban").road
    sample = render_sample(template, seed=0, index=0, size=(320, 96))
    assert sample.image.shape == (96, 320, 3)
    assert all(label.category != "traffic_light" for label in sample.labels)

    result = CliRunner().invoke(cli, ["generate", "--scene", str(out), "--count", "1",
                                      "--size", "320x96", "--out", str(tmp_path / "gen")])
    assert result.exit_code == 0, result.output


def test_same_input_gives_the_same_bytes(tmp_path):
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    for name in ("a.yaml", "b.yaml"):
        code, output = run_fit(str(src), "--out", str(tmp_path / name), "--calibrate", "2",
                               "--weather-renders", "2")
        assert code == 0, output
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()


def test_daylight_from_brightness(tmp_path):
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    values = {r.key: r.value for r in fitting.fit_real_set(
        str(src), calibrate_images=0, sample_images=4, weather_renders=0).rows}
    assert values["lighting.time_of_day"] == {"day": 1.0}  # blank images of luma ~128


# --------------------------------------------------------------------------- COCO


def test_coco_camera_from_boxes_of_assumed_height(tmp_path):
    focal, camera_height = 400.0, 1.5
    src = make_coco(tmp_path / "coco", focal=focal, camera_height=camera_height)
    fov = fitting.fov_deg(focal, 640)
    result = fitting.fit_real_set(str(src), fov=fov, calibrate_images=0, sample_images=0)
    rows = {row.key: row for row in result.rows}
    assert rows["camera.fov_range"].source == "option"
    assert np.mean(rows["camera.height_range"].value) == pytest.approx(camera_height, abs=0.05)
    assert np.mean(rows["camera.pitch_range"].value) == pytest.approx(0.0, abs=0.1)
    assert "assumed" in rows["camera.height_range"].source
    low, high = rows["objects.car.distance_range"].value
    assert 8 <= low < high <= 40.5
    assert rows["objects.car.distance_range"].source == "measured+assumed"
    assert not any(key.endswith("length_range") for key in rows)  # no 3D: sizes not fitted


def test_coco_without_fov_says_the_focal_length_is_not_measured(tmp_path):
    src = make_coco(tmp_path / "coco", focal=400, camera_height=1.5)
    out = tmp_path / "c.yaml"
    code, output = run_fit(str(src / "annotations.json"), "--out", str(out), "--calibrate", "0",
                           "--sample-images", "0")
    assert code == 0, output
    assert "fov_range: inherited (no 3D labels; give --fov)" in out.read_text()
    assert "fov_range" not in yaml.safe_load(out.read_text()).get("camera", {})


# --------------------------------------------------------------------------- errors


def _only_dontcare(tmp_path: Path) -> Path:
    src = make_kitti(tmp_path / "dc", focal=500, cx=400, cy=120, camera_height=1.65, images=2)
    for label in (src / "training" / "label_2").iterdir():
        label.write_text("DontCare -1 -1 -10 1 1 20 20 -1 -1 -1 -1000 -1000 -1000 -10\n")
    return src


@pytest.mark.parametrize("setup,out_name,existing,extra,message", [
    # REAL is missing
    (lambda p: p / "nope", "out.yaml", False, [], "no such file or folder"),
    # only ignore regions: nothing to fit
    (_only_dontcare, "out.yaml", False, [], "no labelled objects"),
    # a file is there already: refused, left as it was
    (None, "out.yaml", True, [], "file exists; pass --overwrite"),
    # the template must be a .yaml file for generate --scene to take it as a path
    (None, "t.txt", False, [], "must end in .yaml"),
    # --base names bundled templates only
    (None, "out.yaml", False, ["--base", "moon"], "not a bundled template"),
    # --fov outside what templates allow
    (None, "out.yaml", False, ["--fov", "10"], "--fov"),
])
def test_errors_exit_2_with_one_error_line(tmp_path, setup, out_name, existing, extra, message):
    if setup is None:
        src = make_kitti(tmp_path / "k", focal=500, cx=400, cy=120, camera_height=1.65,
                         images=3)
    else:
        src = setup(tmp_path)
    out = tmp_path / out_name
    if existing:
        out.write_text("mine\n")
    code, output = run_fit(str(src), "--out", str(out), "--calibrate", "0", *extra)
    assert code == 2, output
    assert message in output
    assert output.count("Error:") == 1 and "Traceback" not in output
    if existing:
        assert out.read_text() == "mine\n"
    else:
        assert not out.exists()


def test_out_inside_the_real_set_is_refused(tmp_path):
    src = make_kitti(tmp_path / "k", focal=500, cx=400, cy=120, camera_height=1.65, images=3)
    code, output = run_fit(str(src), "--out", str(src / "t.yaml"))
    assert code == 2 and "inside the real set" in output
    assert not (src / "t.yaml").exists()


def test_out_beside_a_file_named_like_the_base_is_refused(tmp_path):
    src = make_kitti(tmp_path / "k", focal=500, cx=400, cy=120, camera_height=1.65, images=3)
    (tmp_path / "urban.yaml").write_text("extends: rural\n")
    code, output = run_fit(str(src), "--out", str(tmp_path / "t.yaml"))
    assert code == 2 and "would take that file" in output


def _set_label_field(src: Path, stem: str, line: int, field: int, value: str) -> None:
    label = src / "training" / "label_2" / f"{stem}.txt"
    lines = label.read_text().splitlines()
    fields = lines[line].split()
    fields[field] = value
    lines[line] = " ".join(fields)
    label.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("field,value", [
    (8, "1e300"),    # height: its squares overflowed, the solver spun
    (8, "1e6"),      # height: one row dominated the fit (fov 180 deg)
    (10, "45"),      # length over 30 m
    (13, "1e4"),     # z over 500 m
    (11, "-800"),    # x over 500 m to the left
])
def test_an_implausible_3d_box_keeps_its_2d_box_only(tmp_path, field, value):
    src = make_kitti(tmp_path / "kitti", focal=500, cx=400, cy=120, camera_height=1.65)
    _set_label_field(src, "000003", 0, field, value)
    real = read_real_set(str(src))
    (odd,) = [o for o in real.objects if o.image == 3 and o.box3d is None]
    assert len(real.objects) == 12 * 5  # still counted, by its 2D box
    out = tmp_path / "k.yaml"
    code, output = run_fit(str(src), "--out", str(out), "--calibrate", "0",
                           "--sample-images", "0")
    assert code == 0, output
    low, high = load_template(str(out)).camera.fov_range
    assert low <= fitting.fov_deg(500, 800) <= high


def test_robust_lstsq_refuses_values_it_cannot_solve():
    a = np.stack([np.ones(20), np.linspace(0, 1, 20)], axis=1)
    for bad in (np.inf, np.nan, 1e300):
        b = np.linspace(0, 1, 20)
        b[3] = bad
        with pytest.raises(fitting.FitError, match="edges of k: a label holds a number"):
            fitting.robust_lstsq(a, b, what="edges of k")


def test_a_focal_length_outside_30_120_degrees_is_refused(tmp_path):
    # Labels of a 127 deg camera: no template can hold it.
    src = make_kitti(tmp_path / "wide", focal=200, cx=400, cy=120, camera_height=1.65)
    code, output = run_fit(str(src), "--out", str(tmp_path / "w.yaml"), "--calibrate", "0",
                           "--sample-images", "0")
    assert code == 2 and output.count("Error:") == 1 and "Traceback" not in output
    assert "focal length could not be fitted" in output and "give --fov" in output
    assert "fov 126.9 deg" in output
    assert not (tmp_path / "w.yaml").exists()
    # Given, the field of view is not fitted: the principal point still is.
    result = fitting.fit_real_set(str(src), fov=120.0, calibrate_images=0, sample_images=0)
    rows = {r.key: r for r in result.rows}
    assert rows["camera.fov_range"].value == [120.0, 120.0]
    assert rows["camera.fov_range"].source == "option"


@pytest.mark.parametrize("images,lines", [(3, 1), (2, 1)])
def test_fov_and_camera_height_rescue_a_small_kitti_set(tmp_path, images, lines):
    focal, cx, cy, height = 500.0, 390.0, 105.0, 1.65
    src = make_kitti(tmp_path / "small", focal=focal, cx=cx, cy=cy, camera_height=height,
                     images=images, lines_per_image=lines)
    fov = fitting.fov_deg(focal, 800)
    enough_edges = images * lines * 4 >= fitting.MIN_EDGES
    with pytest.raises(fitting.FitError, match="give --camera-height" if enough_edges
                       else "give --fov"):
        fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    with pytest.raises(fitting.FitError, match="give --camera-height"):
        fitting.fit_real_set(str(src), fov=fov, calibrate_images=0, sample_images=0)
    if not enough_edges:
        with pytest.raises(fitting.FitError, match="give --fov"):
            fitting.fit_real_set(str(src), camera_height=height, calibrate_images=0,
                                 sample_images=0)
    result = fitting.fit_real_set(str(src), fov=fov, camera_height=height, calibrate_images=0,
                                  sample_images=0)
    rows = {r.key: r for r in result.rows}
    assert rows["camera.fov_range"].source == rows["camera.height_range"].source == "option"
    assert rows["camera.height_range"].value == [height, height]
    if enough_edges:
        # The focal length given, the edges give the principal point; the objects' bottoms
        # at the given height give the ground's tilt.
        pitch = math.degrees(math.atan((120 - cy) / focal))
        yaw = math.degrees(math.atan((400 - cx) / focal))
        assert np.mean(rows["camera.pitch_range"].value) == pytest.approx(pitch, abs=0.15)
        assert np.mean(rows["camera.yaw_range"].value) == pytest.approx(yaw, abs=0.15)
        assert "at --camera-height 1.65" in rows["camera.pitch_range"].note
    else:
        # Too few edges for the principal point: pitch and yaw are the base's.
        assert "camera.pitch_range" not in rows and "camera.yaw_range" not in rows
        base = load_template("urban").camera
        assert result.template.camera.pitch_range == base.pitch_range


def test_fov_given_is_used_for_pitch_and_yaw(tmp_path):
    focal, cx, cy = 450.0, 390.0, 105.0
    src = make_kitti(tmp_path / "k", focal=focal, cx=cx, cy=cy, camera_height=1.3)
    fov = fitting.fov_deg(focal, 800)
    rows = {r.key: r.value for r in fitting.fit_real_set(
        str(src), fov=fov, calibrate_images=0, sample_images=0).rows}
    assert rows["camera.fov_range"] == [round(fov, 1)] * 2
    pitch = math.degrees(math.atan((120 - cy) / focal))
    assert np.mean(rows["camera.pitch_range"]) == pytest.approx(pitch, abs=0.1)
    assert np.mean(rows["camera.yaw_range"]) == pytest.approx(
        math.degrees(math.atan((400 - cx) / focal)), abs=0.1)


@pytest.mark.parametrize("base,name", [("urban", "urban.yaml"), ("urban", "urban.yml"),
                                        ("kitti", "kitti.yaml")])
def test_out_named_after_the_base_is_refused(tmp_path, base, name):
    src = make_kitti(tmp_path / "k", focal=500, cx=400, cy=120, camera_height=1.65, images=3)
    out = tmp_path / "somewhere" / name
    out.parent.mkdir()
    if base == "kitti":  # a copy of the bundled template, as --overwrite would replace it
        out.write_text(fitting.resolve_template_path("kitti").read_text())
    before = out.read_text() if out.exists() else None
    code, output = run_fit(str(src), "--out", str(out), "--base", base, "--overwrite",
                           "--calibrate", "0", "--sample-images", "0")
    assert code == 2 and output.count("Error:") == 1 and "Traceback" not in output
    assert f"named like --base {base}" in output
    assert (out.read_text() if out.exists() else None) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ([name] if before else [])


def test_a_template_that_does_not_load_is_never_written(tmp_path):
    src = make_kitti(tmp_path / "k", focal=500, cx=400, cy=120, camera_height=1.65, images=3)
    result = fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    folder = tmp_path / "out"
    folder.mkdir()
    # Named like its base, the file would extend itself (check_out refuses the name first).
    with pytest.raises(TemplateError, match="would find the file itself"):
        fitting.write_template(result, folder / "urban.yaml")
    assert list(folder.iterdir()) == []
    # A template that does not validate leaves an existing file as it was.
    out = folder / "mine.yaml"
    out.write_text("mine\n")
    broken = result.yaml_text().replace("count_range: [4, 5]", "count_range: [5, 4]")
    assert broken != result.yaml_text()
    result.yaml_text = lambda: broken
    with pytest.raises(TemplateError, match="count_range"):
        fitting.write_template(result, out)
    assert out.read_text() == "mine\n" and [p.name for p in folder.iterdir()] == ["mine.yaml"]


def test_a_coco_file_protects_itself_and_its_images_only(tmp_path):
    src = make_coco(tmp_path / "coco", focal=400, camera_height=1.5, images=3)
    options = ["--calibrate", "0", "--sample-images", "0", "--fov", "70"]
    # Beside the JSON file is fine: the file and its images are not touched.
    code, output = run_fit(str(src / "annotations.json"), "--out", str(src / "fit.yaml"),
                           *options)
    assert code == 0, output
    for real, out in ((src / "annotations.json", src / "images" / "fit.yaml"),
                      (src, src / "fit2.yaml")):  # a folder protects all of it
        code, output = run_fit(str(real), "--out", str(out), *options)
        assert code == 2 and "inside the real set" in output, output
        assert not out.exists()
    # --images elsewhere: that folder is the one protected.
    elsewhere = tmp_path / "pictures"
    (src / "images").rename(elsewhere)
    code, output = run_fit(str(src / "annotations.json"), "--images", str(elsewhere),
                           "--out", str(elsewhere / "fit.yaml"), *options)
    assert code == 2 and "inside the real set" in output, output


def test_count_row_says_when_a_range_cannot_hold_the_wanted_mean():
    truck = fitting.count_row("truck", 0.14, 0.35, "0.14 labelled")
    assert truck.value == [0, 1]  # the fitted value itself is unchanged
    assert truck.warning.startswith("count_range averages 0.50 per image, 3.6x the 0.14 wanted")
    assert "cannot average under 0.5" in truck.warning
    calibrated = fitting.count_row("cyclist", 0.14, 0.35, "n", share=0.79)
    assert "2.8x the 0.18 wanted" in calibrated.warning
    assert fitting.count_row("car", 4.0, 1.0, "n").warning == ""
    assert fitting.count_row("pedestrian", 0.46, 1.06, "n", share=0.83).warning == ""


def test_a_rare_class_is_flagged_in_the_header_and_the_table(tmp_path):
    src = make_kitti(tmp_path / "k", focal=500, cx=400, cy=120, camera_height=1.65)
    for label in sorted((src / "training" / "label_2").iterdir())[2:]:
        label.write_text("".join(line + "\n" for line in label.read_text().splitlines()
                                 if not line.startswith("Pedestrian")))
    result = fitting.fit_real_set(str(src), calibrate_images=0, sample_images=0)
    row = next(r for r in result.rows if r.key == "objects.pedestrian.count_range")
    assert row.value == [0, 1]
    note = "NOTE: count_range averages 0.50 per image, 6.0x the 0.08 wanted"
    assert (f"#   objects.pedestrian.count_range: measured; 0.08 +- 0.28 labelled per image; "
            f"{note}") in result.yaml_text()
    (line,) = [x for x in result.table().splitlines() if "pedestrian.count_range" in x]
    assert note in line
    assert not any("NOTE" in x for x in result.table().splitlines() if "car.count" in x)


# --------------------------------------------------------------------------- real KITTI


def test_real_kitti_sample(kitti_dir):
    result = fitting.fit_real_set(str(kitti_dir), calibrate_images=0, sample_images=5,
                                  weather_renders=8)
    values = {row.key: row.value for row in result.rows}
    assert result.size == (1242, 375)
    # KITTI's published calibration: f = 721.5 px at 1242 wide (81.4 deg), camera 1.65 m up.
    low, high = values["camera.fov_range"]
    assert low <= 81.4 <= high
    low, high = values["camera.height_range"]
    assert low <= 1.65 <= high
    assert values["lighting.time_of_day"] == {"day": 1.0}
    # KITTI was recorded on sunny days: contrast far above any synthgen overcast render.
    assert values["weather.weights"] == {"clear": 1.0}
    assert values["sensor.noise_range"][0] == 0.0


def _header_and_values(text: str) -> tuple[list[str], dict]:
    header = [line for line in text.splitlines() if line.startswith("#")]
    return header, yaml.safe_load(text)


def test_bundled_kitti_template_is_the_documented_fit(kitti_dir, tmp_path, monkeypatch):
    """scenes/kitti.yaml is what README's command writes, unedited: re-run it and compare
    the values and the header (the real set's path as the command gives it)."""
    bundled = fitting.resolve_template_path("kitti").read_text()
    documented = "../shared/real/kitti_obj_000000-000049"
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert f"`synthgen fit {documented} --out scenes/kitti.yaml`, unedited" in readme
    monkeypatch.chdir(REPO_ROOT)
    given = documented if (REPO_ROOT / documented).resolve() == kitti_dir.resolve() \
        else str(kitti_dir)
    out = tmp_path / "kitti.yaml"
    code, output = run_fit(given, "--out", str(out))
    assert code == 0, output
    header, values = _header_and_values(out.read_text().replace(given, documented))
    bundled_header, bundled_values = _header_and_values(bundled)
    assert values == bundled_values
    assert header == bundled_header
    assert "--size 1242x375" in bundled and "weather classifier on its" in bundled
    template = load_template("kitti")
    assert template.camera.fov_range[0] <= 81.4 <= template.camera.fov_range[1]


# --------------------------------------------------------------------------- weather


THRESHOLDS = fitting.WeatherThresholds(haze=66.0, saturation=0.1, specks=0.004,
                                       streaks=0.013, contrast=100.0)


def measures(**changes: float) -> fitting.ImageMeasures:
    """A sunny image's measures, with some changed."""
    values = dict(contrast=200.0, haze=40.0, saturation=0.2, streaks=0.005, specks=0.01,
                  noise=0.5)
    return fitting.ImageMeasures(**{**values, **changes})


@pytest.mark.parametrize("changes,expected", [
    ({}, "clear"),                                              # sunny, colourful
    ({"contrast": 80.0}, "overcast"),                           # flat light, no streaks
    ({"contrast": 80.0, "streaks": 0.03}, "rain"),              # flat light, streaked
    ({"streaks": 0.03}, "clear"),                               # real detail: sunny wins
    ({"haze": 110.0, "saturation": 0.05, "specks": 0.001}, "fog"),
    ({"haze": 90.0, "saturation": 0.07, "specks": 0.008}, "snow"),
    ({"haze": 80.0}, "clear"),                                  # bright but colourful
    ({"haze": 66.0, "saturation": 0.099, "specks": 0.0}, "fog"),  # thresholds inclusive
])
def test_classify_weather_table(changes, expected):
    assert fitting.classify_weather(measures(**changes), THRESHOLDS) == expected


def test_flat_grey_is_fog_and_a_contrasty_colourful_image_is_clear():
    rng = np.random.default_rng(0)
    fog = np.full((120, 400, 3), 178, np.uint8) + rng.integers(0, 3, (120, 400, 3),
                                                                  dtype=np.uint8)
    sunny = np.zeros((120, 400, 3), np.uint8)
    sunny[:40] = (90, 150, 230)          # blue sky
    sunny[40:, ::40] = (20, 20, 20)      # dark poles in shadow
    sunny[40:, 20::40] = (200, 60, 40)   # red facades
    sunny[40:, 10::40] = (60, 160, 60)   # green trees
    fog_m, sunny_m = fitting.measure_image(fog), fitting.measure_image(sunny)
    assert fog_m.contrast < 10 and fog_m.haze > 170 and fog_m.saturation < 0.02
    assert sunny_m.contrast > 120 and sunny_m.haze < 30
    assert fitting.classify_weather(fog_m, THRESHOLDS) == "fog"
    assert fitting.classify_weather(sunny_m, THRESHOLDS) == "clear"


def test_noise_estimate_follows_added_noise():
    rng = np.random.default_rng(1)
    flat = np.full((200, 300, 3), 120, np.float32)
    levels = [fitting.measure_image(np.clip(flat + rng.normal(0, s, (200, 300, 1)), 0, 255)
                                    .astype(np.uint8)).noise for s in (0.0, 2.0, 6.0)]
    assert levels[0] < 0.1 and levels[0] < levels[1] < levels[2]


@pytest.mark.parametrize("low,high,expected", [
    ([1.0, 2.0], [4.0, 5.0], 3.0),          # separable: the midpoint of the gap
    ([1.0, 2.0, 6.0], [4.0, 5.0], 3.0),     # one outlier does not move it
])
def test_best_split(low, high, expected):
    assert fitting.best_split(low, high) == pytest.approx(expected)


def fake_calibration() -> fitting.WeatherCalibration:
    """Calibration renders whose fog intensity is (haze - 60) / 100."""
    fog = [(measures(haze=h, saturation=0.05, specks=0.0), (h - 60) / 100)
           for h in (80.0, 100.0, 120.0)]
    kinds = {k: [] for k in fitting.WEATHER_KINDS}
    kinds["fog"] = fog
    confusion = {k: dict.fromkeys(fitting.WEATHER_KINDS, 0) for k in fitting.WEATHER_KINDS}
    return fitting.WeatherCalibration(THRESHOLDS, 3, confusion, kinds,
                                      [0.0, 0.1, 0.2], [0.3, 1.0, 1.0])


def test_weather_weights_are_the_shares_of_the_kinds():
    real = [measures()] * 6 + [measures(contrast=80.0)] + \
        [measures(haze=h, saturation=0.05, specks=0.0) for h in (90.0, 100.0, 110.0)]
    base = load_template("urban")
    rows = {r.key: r for r in fitting.fit_weather(real, fake_calibration(), base)}
    assert rows["weather.weights"].value == {"clear": 0.6, "overcast": 0.1, "fog": 0.3}
    assert "10 images classified (clear 6, overcast 1, fog 3)" in rows["weather.weights"].note
    # Fog seen 3 times: its intensity from haze through the renders' line (0.3-0.5).
    intensity = rows["weather.intensity_range"].value
    assert intensity["fog"] == pytest.approx([0.32, 0.48], abs=0.01)
    assert set(intensity) <= {"overcast", "fog"}


def test_noise_range_through_the_rendered_curve():
    real = [measures(noise=v) for v in (0.3, 0.5, 0.65, 1.0)]
    (row,) = fitting.fit_noise(real, fake_calibration())
    low, high = row.value
    # 0.3 lies below the noise-free renders' 0.3 -> 0; 1.0 is amount 0.1's level.
    assert low == pytest.approx(0.01, abs=0.02) and 0.05 <= high <= 0.1
    assert row.key == "sensor.noise_range" and row.source == "measured"


def test_cli_fits_weather_from_the_images(tmp_path):
    src = make_kitti(tmp_path / "kitti", focal=250, cx=200, cy=60, camera_height=1.65,
                     size=(400, 120), images=10)
    out = tmp_path / "w.yaml"
    code, output = run_fit(str(src), "--out", str(out), "--calibrate", "0",
                           "--weather-renders", "3")
    assert code == 0, output
    assert "weather.weights" in output and "sensor.noise_range" in output
    text = out.read_text()
    assert "#   weather.weights: measured; 10 images classified" in text
    assert "weather classifier on its 3 renders per kind at 400x120" in text
    weights = load_template(str(out)).weather.weights
    # The blank test images have no contrast at all: never clear.
    assert sum(weights.values()) == pytest.approx(1.0) and "clear" not in weights
