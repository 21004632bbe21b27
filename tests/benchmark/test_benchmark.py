"""synthgen benchmark: targets and decoding, COCO scoring, the schedule, augmentation, and
the command end to end on tiny sets (a few training steps: what is tested is the
plumbing and the rules, not the detector's skill)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from synthgen.cli import cli
from synthgen.errors import DatasetError
from tests.factories import annotation, make_coco_folder, scene_set

torch = pytest.importorskip("torch", reason="the bench extra (torch) is not installed")

from synthgen.benchmark import model as m  # noqa: E402
from synthgen.benchmark import report  # noqa: E402
from synthgen.benchmark import train as t  # noqa: E402
from synthgen.benchmark.data import (  # noqa: E402
    LabelledImage,
    load_labelled_set,
    parse_classes,
)

# --- targets and decoding ----------------------------------------------------------------

OUT_H, OUT_W = 24, 40  # a 160 x 96 input


@st.composite
def boxes_strategy(draw):
    """Up to five boxes inside a 160 x 96 input, at least 6 px a side, centres in distinct
    output cells."""
    n = draw(st.integers(1, 5))
    boxes, cells = [], set()
    for _ in range(n):
        w = draw(st.floats(6, 80))
        h = draw(st.floats(6, 60))
        x0 = draw(st.floats(0, 160 - w))
        y0 = draw(st.floats(0, 96 - h))
        cell = (int((x0 + w / 2) / m.STRIDE), int((y0 + h / 2) / m.STRIDE))
        if cell in cells:
            continue
        cells.add(cell)
        boxes.append([x0, y0, x0 + w, y0 + h])
    return np.asarray(boxes, np.float32)


def _outputs_from(targets: dict[str, np.ndarray], out_h: int = OUT_H,
                  out_w: int = OUT_W) -> dict[str, torch.Tensor]:
    """Network outputs that are exactly the targets (logits of the heatmap)."""
    # Only peaks stay above the decoding threshold: squash the Gaussian tails.
    heat = np.where(targets["heatmap"] == 1, 1 - 1e-6,
                    np.clip(targets["heatmap"] * 0.005, 1e-6, None))
    size = np.zeros((2, out_h * out_w), np.float32)
    offset = np.zeros((2, out_h * out_w), np.float32)
    for k in np.flatnonzero(targets["mask"]):
        size[:, targets["index"][k]] = targets["size"][k]
        offset[:, targets["index"][k]] = targets["offset"][k]
    return {"heatmap": torch.from_numpy(np.log(heat / (1 - heat)))[None],
            "size": torch.from_numpy(size.reshape(2, out_h, out_w))[None],
            "offset": torch.from_numpy(offset.reshape(2, out_h, out_w))[None]}


@settings(max_examples=40, deadline=None)
@given(boxes_strategy())
def test_targets_decode_back_to_the_boxes(boxes):
    classes = np.zeros(len(boxes), np.int64)
    targets = m.make_targets(boxes, classes, np.zeros(len(boxes), bool), 1, OUT_H, OUT_W)
    assert targets["mask"].sum() == len(boxes)
    assert (targets["heatmap"] == 1).sum() == len(boxes)
    (decoded,) = m.decode(m.probabilities(_outputs_from(targets)), min_score=0.5)
    assert len(decoded) == len(boxes)
    for box in boxes:
        error = np.abs(decoded[:, :4] - box).max(axis=1).min()
        assert error < 1e-3


@settings(max_examples=30, deadline=None)
@given(boxes_strategy(), st.data())
def test_ignore_regions_are_neither_positive_nor_negative(boxes, data):
    ignore = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(boxes),
                                           max_size=len(boxes))))
    classes = np.zeros(len(boxes), np.int64)
    targets = m.make_targets(boxes, classes, ignore, 1, OUT_H, OUT_W)
    assert targets["mask"].sum() == (~ignore).sum()
    peaks = targets["heatmap"][0] == 1
    assert peaks.sum() == (~ignore).sum()
    assert np.all(targets["weight"][0][peaks] == 1)  # a peak always counts
    for box in boxes[ignore]:
        x0, y0, x1, y1 = box / m.STRIDE
        inner = targets["weight"][0, math.ceil(y0):math.floor(y1), math.ceil(x0):math.floor(x1)]
        inner_peaks = peaks[math.ceil(y0):math.floor(y1), math.ceil(x0):math.floor(x1)]
        assert np.all(inner[~inner_peaks] == 0)


def test_boxes_of_other_classes_give_no_target():
    boxes = np.array([[10, 10, 50, 40], [60, 20, 100, 60]], np.float32)
    targets = m.make_targets(boxes, np.array([0, -1]), np.array([False, True]), 1, OUT_H,
                             OUT_W)
    assert targets["mask"].sum() == 1
    assert (targets["heatmap"] == 1).sum() == 1


def test_losses_are_finite_and_fall_towards_the_targets():
    boxes = np.array([[10, 10, 50, 40]], np.float32)
    targets = m.make_targets(boxes, np.array([0]), np.array([False]), 1, OUT_H, OUT_W)
    batch = {k: torch.from_numpy(v)[None] for k, v in targets.items()}
    perfect = m.losses(_outputs_from(targets), batch)
    blank = m.losses({"heatmap": torch.full((1, 1, OUT_H, OUT_W), -4.6),
                      "size": torch.zeros(1, 2, OUT_H, OUT_W),
                      "offset": torch.zeros(1, 2, OUT_H, OUT_W)}, batch)
    assert all(math.isfinite(float(v)) for v in perfect.values())
    assert float(perfect["size"]) == pytest.approx(0, abs=1e-6)
    assert float(perfect["total"]) < float(blank["total"])


# --- scoring -----------------------------------------------------------------------------


def _image(boxes, classes=None, crowd=None, width=200, height=100):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return LabelledImage(path=Path("x.png"), width=width, height=height, boxes=boxes,
                         classes=np.zeros(len(boxes), np.int64) if classes is None
                         else np.asarray(classes),
                         crowd=np.zeros(len(boxes), bool) if crowd is None
                         else np.asarray(crowd))


def _dets(rows):
    return np.asarray(rows, np.float64).reshape(-1, 6)


@pytest.mark.parametrize(("detections", "ap50"), [
    ([[10, 10, 50, 40, 0.9, 0]], 100.0),          # the object, found
    ([[10, 10, 50, 40, 0.9, 0], [120, 20, 160, 60, 0.8, 0]], 100.0),  # + one in the crowd
    ([[120, 20, 160, 60, 0.9, 0]], 0.0),          # only inside the ignore region
    ([[100, 60, 140, 90, 0.9, 0], [10, 10, 50, 40, 0.5, 0]], None),  # a false positive first
    ([], 0.0),
])
def test_coco_metrics_score_ignore_regions_as_crowds(detections, ap50):
    gt = t.ground_truth([_image([[10, 10, 50, 40], [115, 15, 165, 65]], crowd=[False, True])],
                        ["car"])
    metrics = t.coco_metrics(gt, [_dets(detections)], ["car"])
    if ap50 is None:
        assert 0 < metrics["car"]["ap50"] < 100
    else:
        assert metrics["car"]["ap50"] == ap50


def test_a_class_the_evaluation_set_lacks_has_no_score():
    gt = t.ground_truth([_image([[10, 10, 50, 40]])], ["car", "cyclist"])
    metrics = t.coco_metrics(gt, [_dets([[10, 10, 50, 40, 0.9, 0]])], ["car", "cyclist"])
    assert metrics == {"car": {"ap": 100.0, "ap50": 100.0}, "cyclist": {"ap": None,
                                                                         "ap50": None}}


# --- schedule and augmentation -------------------------------------------------------------


@pytest.mark.parametrize(("step", "expected"), [
    (0, 2e-3 / 50), (49, 2e-3), (50, 2e-3), (699, 2e-3), (700, 2e-3), (999, None),
])
def test_learning_rate_warms_up_holds_then_decays(step, expected):
    value = t.learning_rate(step, 1000, 2e-3)
    if expected is None:
        assert 2e-3 * 0.02 <= value < 2e-3 * 0.03
    else:
        assert value == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_augmented_boxes_stay_on_their_object(seed):
    """A white box on black, augmented: every target box still frames white pixels, and
    no white pixel lies outside the boxes (flip, scale, crop and placement agree)."""
    image = np.zeros((48, 160, 3), np.uint8)
    image[10:30, 40:90] = 255
    source = _image([[80, 20, 180, 60]], width=320, height=96)
    item = t.Scaled(image, source)
    rng = np.random.default_rng(seed)
    canvas, boxes, classes, ignore = t.augment(item, rng, 128, 64)
    assert canvas.shape == (64, 128, 3)
    white = canvas[..., 0] > 200
    if len(boxes) == 0:
        assert not white.any()
        return
    (x0, y0, x1, y1), = boxes
    assert 0 <= x0 <= x1 <= 128 and 0 <= y0 <= y1 <= 64
    ys, xs = np.nonzero(white)
    if xs.size:
        assert xs.min() >= math.floor(x0) - 1 and xs.max() <= math.ceil(x1)
        assert ys.min() >= math.floor(y0) - 1 and ys.max() <= math.ceil(y1)


# --- the command ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bench")
    return {"synthetic": scene_set(root / "synthetic", 8, 1, "synthetic"),
            "real": scene_set(root / "real", 4, 2, "real"),
            "eval": scene_set(root / "eval", 4, 3, None)}


FAST = ["--steps", "4", "--batch", "2", "--size", "128x64", "--threads", "1"]


def _run(sets, *extra, **roles):
    args = ["-q", "benchmark"]
    for option in ("synthetic", "real", "eval"):
        args += [f"--{option}", str(roles.get(option, sets[option]))]
    return CliRunner().invoke(cli, args + FAST + list(extra))


def test_benchmark_writes_a_table_json_and_html(sets, tmp_path):
    result = _run(sets, "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    for arm in t.ARMS:
        assert arm in result.output
    assert "gain of pre-training" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert [(r["seed"], r["arm"]) for r in report["runs"]] == [(0, arm) for arm in t.ARMS]
    for run in report["runs"]:
        assert set(run["metrics"]["car"]) == {"ap", "ap50"}
        assert run["loss"] and run["loss"][-1][0] == 4
    synthetic_real = report["runs"][2]["loss"]
    assert [step for step, _ in synthetic_real] == [1, 2, 3, 4]
    assert synthetic_real[:2] == report["runs"][1]["loss"][:2]  # the same first steps
    assert report["inputs"]["eval"][0]["objects"]["car"] > 0
    page = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64" in page and "data:image/jpeg;base64" in page
    assert "http://" not in page and "https://" not in page


def test_same_seed_same_numbers(sets, tmp_path):
    for name in ("a", "b"):
        result = _run(sets, "--seeds", "3", "--json", str(tmp_path / f"{name}.json"))
        assert result.exit_code == 0, result.output
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["runs"] == [{**r, "seconds": a["runs"][i]["seconds"]}
                         for i, r in enumerate(b["runs"])]


def test_arms_can_be_left_out(sets, tmp_path):
    result = _run(sets, "--arms", "synthetic+real", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["arm"] for r in report["runs"]] == ["synthetic+real"]
    assert report["summary"]["gain"]["car"]["ap50"] is None


def test_several_classes_are_trained_and_scored(sets, tmp_path):
    """Two heatmap channels (decoding flattened them with .view and crashed)."""
    result = _run(sets, "--classes", "car,pedestrian", "--arms", "real",
                  "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["runs"][0]["metrics"]
    assert set(metrics) == {"car", "pedestrian"}
    assert metrics["pedestrian"] == {"ap": None, "ap50": None}  # none in the eval set


def test_decoding_reads_every_class_channel():
    heat = torch.full((1, 16, 20, 3), -20.0).permute(0, 3, 1, 2)  # not contiguous
    heat[0, 2, 5, 7] = 5.0
    outputs = {"heatmap": heat, "size": torch.zeros(1, 2, 16, 20),
               "offset": torch.zeros(1, 2, 16, 20)}
    (rows,) = m.decode(m.probabilities(outputs))
    assert len(rows) == 1 and rows[0][5] == 2
    assert rows[0][:4] == pytest.approx([7 * m.STRIDE - m.STRIDE / 2, 5 * m.STRIDE
                                         - m.STRIDE / 2, 7 * m.STRIDE + m.STRIDE / 2,
                                         5 * m.STRIDE + m.STRIDE / 2])


def test_two_seeds_give_mean_and_range(sets):
    result = _run(sets, "--seeds", "0,1", "--arms", "real")
    assert result.exit_code == 0, result.output
    assert "over seeds 0, 1" in result.output


def test_the_gain_is_given_per_seed_too():
    """The mean gain hides a seed that carries it: each seed's own gain (same starting
    weights in both arms) is in the summary and its range in the table."""
    def run(arm: str, seed: int, ap50: float) -> t.ArmResult:
        return t.ArmResult(arm=arm, seed=seed, metrics={"car": {"ap50": ap50, "ap": 1.0}},
                           loss=[], seconds=0.0)

    results = [run("real", 0, 40.0), run("synthetic+real", 0, 50.0),
               run("real", 1, 36.0), run("synthetic+real", 1, 52.0)]
    summary = report.summarise(results, ["car"])
    assert summary["gain"]["car"]["ap50"] == 13.0
    assert summary["gain_per_seed"]["car"]["ap50"] == {"0": 10.0, "1": 16.0}
    assert summary["gain_per_seed"]["car"]["ap"] == {"0": 0.0, "1": 0.0}
    text = report.table(summary, ["car"], [0, 1])
    assert "+13.0 (+10.0 to +16.0)" in text and "each seed's own gain" in text
    one = report.summarise(results[:2], ["car"])
    assert "(+" not in report.table(one, ["car"], [0])  # one seed: no range
    # A seed without its real arm has no gain of its own.
    assert report.summarise(results[1:], ["car"])["gain_per_seed"]["car"]["ap50"] == {
        "1": 16.0}


def _copy_set(src: Path, dst: Path, source: str | None) -> Path:
    shutil.copytree(src, dst)
    doc = json.loads((dst / "annotations.json").read_text())
    for image in doc["images"]:
        image.pop("source", None)
        if source:
            image["source"] = source
    (dst / "annotations.json").write_text(json.dumps(doc))
    return dst


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_refuses_an_evaluation_image_that_is_trained_on(sets, tmp_path):
    leaky = _copy_set(sets["eval"], tmp_path / "leaky", None)
    shutil.copy(sets["real"] / "images" / "002.png", leaky / "images" / "004.png")
    line = _error_line(_run(sets, eval=leaky))
    assert "004.png" in line and "training image" in line


@pytest.mark.parametrize(("role", "source", "says"), [
    ("real", "synthetic", "synthetic"),
    ("eval", "synthetic", "synthetic"),
    ("synthetic", "real", "real"),
])
def test_refuses_a_set_in_the_wrong_role(sets, tmp_path, role, source, says):
    wrong = _copy_set(sets[role], tmp_path / "wrong", source)
    line = _error_line(_run(sets, **{role: wrong}))
    assert f"says it is {says}" in line


@pytest.mark.parametrize(("extra", "expected"), [
    (["--classes", "lorry"], "not a synthgen category"),
    (["--classes", "cyclist"], "no object of cyclist"),
    (["--size", "100x64"], "multiple of 32"),
    (["--seeds", "1,1"], "distinct seeds"),
    (["--arms", "real,bogus"], "expected distinct arms"),
])
def test_bad_options_are_refused(sets, extra, expected):
    assert expected in _error_line(_run(sets, *extra))


def test_never_overwrites_a_report(sets, tmp_path):
    (tmp_path / "r.json").write_text("keep")
    assert "--overwrite" in _error_line(_run(sets, "--json", str(tmp_path / "r.json")))
    assert (tmp_path / "r.json").read_text() == "keep"


def test_refuses_a_report_inside_an_input(sets):
    line = _error_line(_run(sets, "--html", str(sets["eval"] / "report.html")))
    assert "never writes" in line


@pytest.mark.parametrize("role", ["synthetic", "real", "eval"])
def test_missing_input_is_a_clear_error(sets, tmp_path, role):
    line = _error_line(_run(sets, **{role: tmp_path / "nope"}))
    assert f"--{role} {tmp_path / 'nope'}: no such file or folder" in line


# --- reading sets ----------------------------------------------------------------------------


def test_short_boxes_and_crowds_are_ignore_regions(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}]
    anns = [annotation(1, 1, 1, [0, 0, 30, 30]), annotation(2, 1, 1, [40, 0, 30, 10]),
            annotation(3, 1, 1, [0, 40, 50, 30], iscrowd=1),
            annotation(4, 1, 4, [60, 40, 20, 30])]
    folder = make_coco_folder(tmp_path / "set", images, anns)
    (image,) = load_labelled_set(str(folder), classes=["car"], min_height=20,
                                 kind="real").images
    assert image.classes.tolist() == [0, 0, 0, -1]
    assert image.crowd.tolist() == [False, True, True, False]
    assert image.targets().tolist() == [True, False, False, False]


@pytest.mark.parametrize(("ann", "box", "crowd"), [
    # A partly hidden car: trained on its whole box.
    (annotation(1, 1, 1, [20, 10, 20, 30], bbox_amodal=[10, 10, 40, 30]), [10, 10, 50, 40],
     False),
    # Whole box cut by the frame's edge, as every box is.
    (annotation(1, 1, 1, [0, 10, 20, 30], bbox_amodal=[-30, 10, 50, 30]), [0, 10, 20, 40],
     False),
    # The height rule reads the box trained on: a car whose visible part is short.
    (annotation(1, 1, 1, [20, 30, 20, 10], bbox_amodal=[20, 10, 20, 30]), [20, 10, 40, 40],
     False),
    # Ignore regions keep their visible extent: a crowd, and an object of another class.
    (annotation(1, 1, 1, [20, 10, 20, 30], bbox_amodal=[0, 0, 90, 60], iscrowd=1),
     [20, 10, 40, 40], True),
    (annotation(1, 1, 4, [20, 10, 20, 30], bbox_amodal=[0, 0, 90, 60]), [20, 10, 40, 40],
     False),
])
def test_amodal_boxes_are_read_for_the_objects_trained_on(tmp_path, ann, box, crowd):
    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}]
    folder = make_coco_folder(tmp_path / "set", images, [ann])
    (visible,) = load_labelled_set(str(folder), classes=["car"], min_height=20,
                                   kind="synthetic").images
    (image,) = load_labelled_set(str(folder), classes=["car"], min_height=20,
                                 kind="synthetic", boxes="amodal").images
    assert image.boxes.tolist() == [box]
    assert image.crowd.tolist() == [crowd]
    assert image.classes.tolist() == visible.classes.tolist()
    x, y, w, h = ann["bbox"]
    assert visible.boxes.tolist() == [[x, y, x + w, y + h]]


@pytest.mark.parametrize("value", [None, [1, 2, 3], [0, 0, float("nan"), 5], "box"])
def test_a_missing_or_bad_amodal_box_is_named(tmp_path, value):
    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}]
    extra = {} if value is None else {"bbox_amodal": value}
    folder = make_coco_folder(tmp_path / "set", images,
                              [annotation(7, 1, 1, [20, 10, 20, 30], **extra)])
    assert len(load_labelled_set(str(folder), classes=["car"], min_height=20,
                                 kind="synthetic").images) == 1
    with pytest.raises(DatasetError, match=r"annotation 7: bbox_amodal: expected \[x, y, w, "
                                           r"h\] finite numbers .*got " +
                                           ("nothing" if value is None else ".")):
        load_labelled_set(str(folder), classes=["car"], min_height=20, kind="synthetic",
                          boxes="amodal")


def _amodal_set(src: Path, dst: Path) -> Path:
    """A copy of ``src`` whose every object's whole box is 6 px wider each side."""
    shutil.copytree(src, dst)
    doc = json.loads((dst / "annotations.json").read_text())
    for ann in doc["annotations"]:
        x, y, w, h = ann["bbox"]
        ann["bbox_amodal"] = [x - 6, y, w + 12, h]
    (dst / "annotations.json").write_text(json.dumps(doc))
    return dst


def test_synthetic_boxes_amodal_trains_the_synthetic_sets_on_their_whole_boxes(
        sets, tmp_path, monkeypatch):
    """Only the synthetic sets are read with their whole boxes; real and evaluation sets
    as before; the choice is recorded."""
    seen = []
    run_seed = t.run_seed

    def spy(seed, synthetic, real, evaluation, settings, **kw):
        seen.append([[s.source.boxes.copy() for s in data]
                     for data in (synthetic, real, evaluation)])
        return run_seed(seed, synthetic, real, evaluation, settings, **kw)
    monkeypatch.setattr(t, "run_seed", spy)
    amodal = _amodal_set(sets["synthetic"], tmp_path / "amodal")
    runs = {}
    for name, extra in (("visible", []), ("amodal", ["--synthetic-boxes", "amodal"])):
        out = tmp_path / f"{name}.json"
        result = _run(sets, "--json", str(out), *extra, synthetic=amodal)
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(out.read_text())
        assert runs[name]["settings"]["synthetic_boxes"] == name
    (visible_sets, amodal_sets) = seen
    for mine, theirs in zip(amodal_sets[0], visible_sets[0], strict=True):
        widened = theirs.copy()
        widened[:, 0] = np.maximum(theirs[:, 0] - 6, 0)
        widened[:, 2] = np.minimum(theirs[:, 2] + 6, 160)
        np.testing.assert_array_equal(mine, widened)
    for mine, theirs in zip(amodal_sets[1:], visible_sets[1:], strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    # The real arm does not read the synthetic set: the same numbers either way.
    real = [[r for r in runs[name]["runs"] if r["arm"] == "real"] for name in runs]
    assert real[0][0]["metrics"] == real[1][0]["metrics"]


def test_synthetic_boxes_need_a_synthetic_set_to_change(sets, tmp_path):
    line = _error_line(_run(sets, "--arms", "real", "--synthetic-boxes", "amodal"))
    assert "--synthetic-boxes amodal: --arms real trains on no synthetic set" in line
    # A set without whole boxes: its annotation and field named, as the input it was.
    line = _error_line(_run(sets, "--synthetic-boxes", "amodal"))
    assert line.startswith(f"Error: --synthetic {sets['synthetic']}: annotation ")
    assert "bbox_amodal: expected" in line
    # A real set given as synthetic is refused as that, whatever its boxes.
    real = _copy_set(sets["real"], tmp_path / "real", "real")
    line = _error_line(_run(sets, "--synthetic-boxes", "amodal", synthetic=real))
    assert "says it is real" in line and "bbox_amodal" not in line


def test_reads_a_kitti_folder(kitti_dir):
    labelled = load_labelled_set(str(kitti_dir), classes=["car", "pedestrian"], min_height=20,
                                 kind="real")
    assert len(labelled.images) == 50
    assert labelled.real_evidence == "its KITTI layout"
    counts = labelled.object_counts(["car", "pedestrian"])
    assert 100 < counts["car"] <= 161 and 0 < counts["pedestrian"] <= 23


@pytest.mark.parametrize(("text", "ok"), [("car", True), ("car, cyclist", True),
                                          ("", False), ("car,car", False), ("van", False)])
def test_parse_classes(text, ok):
    if ok:
        assert parse_classes(text)[0] == "car"
    else:
        with pytest.raises(Exception, match="--classes"):
            parse_classes(text)


# --- from review: the measurement end to end, and inputs that used to slip through ----------


class _Oracle(torch.nn.Module):
    """A "network" that outputs the exact targets of the boxes it is told, whatever the
    input: detect() and COCOeval must then score AP 100."""

    def __init__(self, per_image: list[np.ndarray], widths: list[float]):
        super().__init__()
        self.per_image, self.widths, self.calls = per_image, widths, 0

    def forward(self, images):
        n, _, h, w = images.shape
        heat, size, offset = [], [], []
        for _ in range(n):
            boxes = self.per_image[self.calls]
            scaled = boxes * (w / self.widths[self.calls])
            self.calls += 1
            targets = m.make_targets(scaled, np.zeros(len(boxes), np.int64),
                                     np.zeros(len(boxes), bool), 1, h // m.STRIDE,
                                     w // m.STRIDE)
            outputs = _outputs_from(targets, h // m.STRIDE, w // m.STRIDE)
            heat.append(outputs["heatmap"])
            size.append(outputs["size"])
            offset.append(outputs["offset"])
        return {"heatmap": torch.cat(heat), "size": torch.cat(size),
                "offset": torch.cat(offset)}


def test_exact_outputs_score_100_through_detect_and_cocoeval():
    """Source pixels -> scaled input -> output grid -> source pixels -> COCOeval."""
    boxes = [np.array([[100, 120, 260, 230], [700, 150, 760, 200]], np.float32),
             np.array([[10, 200, 400, 370]], np.float32)]
    sources = [_image(b, width=1242, height=375) for b in boxes]
    data = [t.Scaled(np.zeros((193, 640, 3), np.uint8), source) for source in sources]
    _assert_exact(t.detect(_Oracle(boxes, [1242.0, 1242.0]), data, batch=2), boxes, sources)


def _assert_exact(detections: list[np.ndarray], boxes: list[np.ndarray],
                  sources: list[LabelledImage]) -> None:
    """Each expected box found once, within 0.01 px, and COCOeval scoring AP 100."""
    for found, expected in zip(detections, boxes, strict=True):
        assert len(found) == len(expected)
        for box in expected:
            assert np.abs(found[:, :4] - box).max(axis=1).min() < 0.01
    gt = t.ground_truth(sources, ["car"])
    assert t.coco_metrics(gt, detections, ["car"])["car"] == {"ap": 100.0, "ap50": 100.0}


def test_ignore_regions_of_another_class_are_crowds_of_every_class():
    """KITTI's DontCare is a car crowd: a pedestrian detection there is not a false
    positive either."""
    source = _image([[10, 10, 50, 90], [120, 10, 170, 90]], classes=[1, 0],
                    crowd=[False, True])
    gt = t.ground_truth([source], ["car", "pedestrian"])
    found = _dets([[10, 10, 50, 90, 0.9, 1], [120, 10, 170, 90, 0.95, 1]])
    assert t.coco_metrics(gt, [found], ["car", "pedestrian"])["pedestrian"]["ap50"] == 100.0
    only_pedestrians = t.ground_truth([_image([[10, 10, 50, 90], [120, 10, 170, 90]],
                                              classes=[0, -1], crowd=[False, True])],
                                      ["pedestrian"])
    assert t.coco_metrics(only_pedestrians, [_dets([[10, 10, 50, 90, 0.9, 0],
                                                    [120, 10, 170, 90, 0.95, 0]])],
                          ["pedestrian"])["pedestrian"]["ap50"] == 100.0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_augmented_boxes_are_tight_and_cut_boxes_ignored(seed):
    image = np.zeros((48, 160, 3), np.uint8)
    image[10:30, 40:90] = 255
    item = t.Scaled(image, _image([[80, 20, 180, 60]], width=320, height=96))
    canvas, boxes, _, ignore = t.augment(item, np.random.default_rng(seed), 128, 64)
    white = canvas[..., 0] > 127
    if not len(boxes):
        return
    (x0, y0, x1, y1), = boxes
    ys, xs = np.nonzero(white)
    assert xs.size
    seen = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert np.abs(np.array([x0, y0, x1, y1]) - np.array(seen)).max() <= 1.5
    # The whole box in canvas pixels: augment() draws its rescale first.
    scale = np.random.default_rng(seed).uniform(*t.SCALE_RANGE)
    whole = (100 * 0.5 * scale) * (40 * 0.5 * scale)
    assert ignore[0] == ((x1 - x0) * (y1 - y0) < t.KEEP_SHARE * whole)


def test_leaving_arms_out_gives_the_same_numbers(sets, tmp_path):
    for name, arms in (("all", ",".join(t.ARMS)), ("one", "synthetic+real")):
        result = _run(sets, "--arms", arms, "--json", str(tmp_path / f"{name}.json"))
        assert result.exit_code == 0, result.output
    full, one = (json.loads((tmp_path / f"{n}.json").read_text())["runs"]
                 for n in ("all", "one"))
    assert one[0]["metrics"] == full[2]["metrics"]
    assert one[0]["loss"] == full[2]["loss"]


def _broken(sets, tmp_path, edit):
    broken = _copy_set(sets["eval"], tmp_path / "broken", None)
    doc = json.loads((broken / "annotations.json").read_text())
    edit(broken, doc)
    (broken / "annotations.json").write_text(json.dumps(doc))
    return broken


def _jpeg_rotated(folder):
    image = Image.open(folder / "images" / "001.png").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated 180 degrees
    image.save(folder / "images" / "001.png", format="JPEG", exif=exif)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda f, d: (f / "images" / "002.png").write_bytes(b""), "cannot decode"),
    (lambda f, d: d["images"][0].update(width=320, height=128), "its entry says 320 x 128"),
    (lambda f, d: d["annotations"][0].update(iscrowd="yes"), "iscrowd: expected 0 or 1"),
    (lambda f, d: d["images"][0].update(width=True), "positive integer width"),
    (lambda f, d: d["images"][1].update(source="synthetic"), "says it is synthetic"),
    (lambda f, d: (f / "images" / "003.png").unlink(), "image file not found"),
])
def test_broken_evaluation_sets_are_refused(sets, tmp_path, edit, expected):
    assert expected in _error_line(_run(sets, eval=_broken(sets, tmp_path, edit)))


def test_exif_orientation_is_ignored_like_every_synthgen_reader(sets, tmp_path):
    from synthgen.benchmark.data import read_images

    folder = _copy_set(sets["eval"], tmp_path / "exif", None)
    before = np.asarray(Image.open(folder / "images" / "001.png").convert("RGB"))
    _jpeg_rotated(folder)
    (image, *_) = load_labelled_set(str(folder), classes=["car"], min_height=0,
                                    kind="real").images
    (decoded,) = read_images([image], 160)
    assert np.abs(decoded.astype(int) - before.astype(int)).mean() < 8  # not turned over


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_fifo_images_are_refused_without_blocking(sets, tmp_path):
    import os

    broken = _copy_set(sets["eval"], tmp_path / "fifo", None)
    for name in ("002.png", "003.png"):
        (broken / "images" / name).unlink()
        os.mkfifo(broken / "images" / name)
    assert "not a regular file" in _error_line(_run(sets, eval=broken))


def test_a_report_inside_a_mix_style_input_is_refused(sets, tmp_path):
    root = tmp_path / "mixout"
    shutil.copytree(sets["eval"] / "images", root / "images")
    (root / "annotations").mkdir()
    shutil.copy(sets["eval"] / "annotations.json", root / "annotations" / "test.json")
    line = _error_line(_run(sets, "--json", str(root / "report.json"),
                            eval=root / "annotations" / "test.json"))
    assert "never writes" in line


def test_real_arm_alone_needs_no_synthetic_set(sets):
    result = CliRunner().invoke(cli, ["-q", "benchmark", "--real", str(sets["real"]),
                                      "--eval", str(sets["eval"]), "--arms", "real", *FAST])
    assert result.exit_code == 0, result.output
    missing = CliRunner().invoke(cli, ["-q", "benchmark", "--real", str(sets["real"]),
                                       "--eval", str(sets["eval"]), *FAST])
    assert "--synthetic: missing" in _error_line(missing)


def test_synthetic_arm_alone_needs_no_real_set(sets, tmp_path):
    report = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["-q", "benchmark", "--synthetic", str(sets["synthetic"]),
                                      "--eval", str(sets["eval"]), "--arms", "synthetic",
                                      "--json", str(report), *FAST])
    assert result.exit_code == 0, result.output
    document = json.loads(report.read_text())
    assert document["inputs"]["real"] == []
    assert {run["arm"] for run in document["runs"]} == {"synthetic"}
    for arms in ("real", "synthetic,synthetic+real"):
        missing = CliRunner().invoke(cli, ["-q", "benchmark", "--synthetic",
                                           str(sets["synthetic"]), "--eval", str(sets["eval"]),
                                           "--arms", arms, *FAST])
        assert missing.exit_code == 2
        assert "--real: missing" in _error_line(missing)


@pytest.mark.parametrize(("share", "batch", "synthetic"), [
    (0.0, 16, 0), (0.5, 16, 8), (0.25, 16, 4), (0.9, 16, 14), (0.9, 2, 1), (0.5, 1, 0),
    (0.3, 5, 2),
])
def test_finetune_batches_keep_at_least_one_real_image(share, batch, synthetic):
    settings = t.Settings(classes=["car"], batch=batch, finetune_synthetic=share)
    assert settings.finetune_synthetic_images == synthetic


def test_mixed_batches_take_their_share_from_each_set(monkeypatch):
    """train() with mixed images: every batch holds mixed_per_batch of them, the rest
    from its data, each set in shuffled passes of its own (each image once per pass)."""
    data = [t.Scaled(np.zeros((64, 128, 3), np.uint8), None) for _ in range(5)]
    mixed = [t.Scaled(np.zeros((64, 128, 3), np.uint8), None) for _ in range(4)]
    names = {id(item): ("data", k) for k, item in enumerate(data)}
    names.update({id(item): ("mixed", k) for k, item in enumerate(mixed)})
    batches = []
    settings = t.Settings(classes=["car"], batch=4, width=128, height=64)
    empty = m.make_targets(np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                           np.zeros(0, bool), 1, 64 // m.STRIDE, 128 // m.STRIDE)

    def record(items, rng, settings):  # the batch's images, as blank ones with no object
        batches.append([names[id(item)] for item in items])
        stacked = {key: torch.from_numpy(np.stack([value] * len(items)))
                   for key, value in empty.items()}
        return torch.zeros(len(items), 3, 64, 128), stacked

    monkeypatch.setattr(t, "make_batch", record)
    t.train(t.new_net(settings, 0), data, 10, settings, np.random.default_rng(0),
            mixed=mixed, mixed_per_batch=3)
    assert all([kind for kind, _ in batch] == ["data"] + ["mixed"] * 3 for batch in batches)
    data_order = [k for batch in batches for kind, k in batch if kind == "data"]
    mixed_order = [k for batch in batches for kind, k in batch if kind == "mixed"]
    assert sorted(data_order[:5]) == sorted(data_order[5:]) == [0, 1, 2, 3, 4]
    passes = [tuple(mixed_order[start:start + 4]) for start in range(0, 28, 4)]
    assert all(sorted(one) == [0, 1, 2, 3] for one in passes)  # across batches
    assert len(set(passes)) > 1  # shuffled anew each pass


@pytest.mark.parametrize(("option", "same", "other", "recorded"), [
    ("--finetune-synthetic", "0", "0.5",
     {"finetune_synthetic": 0.5, "finetune_synthetic_images": 1}),  # 1 of --batch 2
    ("--finetune-lr", "0.002", "2e-4", {"finetune_lr": 2e-4}),
])
def test_a_fine_tuning_option_changes_only_the_fine_tuning(sets, tmp_path, option, same,
                                                           other, recorded):
    """At the default's value it is the default run; at another it changes the
    synthetic+real arm after its synthetic steps, and nothing else."""
    runs = {}
    for name, extra in (("default", []), ("same", [option, same]), ("other", [option, other])):
        result = _run(sets, *extra, "--json", str(tmp_path / f"{name}.json"))
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    without = lambda doc: [{k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
                           for r in doc["runs"]]
    assert without(runs["same"]) == without(runs["default"])
    assert runs["default"]["settings"]["finetune_lr"] == 0.002  # recorded as used
    changed = runs["other"]
    assert {key: changed["settings"][key] for key in recorded} == recorded
    assert without(changed)[:2] == without(runs["default"])[:2]  # real and synthetic arms
    pre = changed["settings"]["pretrain_steps"]
    tuned, plain = changed["runs"][2]["loss"], runs["default"]["runs"][2]["loss"]
    assert tuned[:pre] == plain[:pre] and tuned[pre:] != plain[pre:]


@pytest.mark.parametrize("value", ["1", "0.95", "-0.1", "nan"])
def test_finetune_synthetic_out_of_range_is_refused(sets, value):
    assert "--finetune-synthetic" in _error_line(_run(sets, "--finetune-synthetic", value))


@pytest.mark.parametrize(("extra", "says"), [
    (["--arms", "real", "--finetune-synthetic", "0.5"],
     "--finetune-synthetic 0.5: only the synthetic+real arm is fine-tuned"),
    (["--arms", "real,synthetic", "--finetune-synthetic", "0.5"], "--arms is real,synthetic"),
    (["--finetune-synthetic", "0.2"], "not one synthetic image in a --batch of 2"),
    (["--arms", "synthetic", "--finetune-lr", "1e-4"],
     "--finetune-lr 0.0001: only the synthetic+real arm is fine-tuned, and --arms is "
     "synthetic; leave it out"),
    (["--arms", "real", "--finetune-lr", "1e-4", "--finetune-synthetic", "0.5"],
     "--finetune-synthetic 0.5, --finetune-lr 0.0001: only the synthetic+real arm is "
     "fine-tuned, and --arms is real; leave them out"),
    (["--arms", "real,synthetic", "--pretrain-fraction", "0.5"],
     "--pretrain-fraction 0.5: only the synthetic+real arm is fine-tuned"),
    (["--arms", "synthetic", "--average-pretrained", "0.5"],
     "--average-pretrained 0.5: only the synthetic+real arm is fine-tuned, and --arms is "
     "synthetic; leave it out"),
])
def test_fine_tuning_options_that_change_nothing_are_refused(sets, extra, says):
    assert says in _error_line(_run(sets, *extra))


@pytest.mark.parametrize("arms", ["synthetic+real", "real,synthetic+real"])
def test_pretrain_fraction_is_accepted_where_something_is_fine_tuned(sets, arms):
    assert _run(sets, "--arms", arms, "--pretrain-fraction", "0.5").exit_code == 0


def test_the_fine_tuning_schedule_peaks_at_finetune_lr(sets, monkeypatch):
    """The synthetic steps follow --lr's schedule, the fine-tuning steps their own
    schedule peaking at --finetune-lr."""
    seen: list[tuple[int, float]] = []
    real_rate = t.learning_rate
    monkeypatch.setattr(t, "learning_rate",
                        lambda step, steps, base: seen.append((steps, base))
                        or real_rate(step, steps, base))
    assert _run(sets, "--arms", "synthetic+real", "--finetune-lr", "3e-4").exit_code == 0
    pre = round(0.5 * 4)
    assert seen == [(4, 0.002)] * pre + [(4 - pre, 3e-4)] * (4 - pre)


@pytest.mark.parametrize("value", ["0", "-1e-4", "2", "nan"])
def test_finetune_lr_out_of_range_is_refused(sets, value):
    assert "--finetune-lr" in _error_line(_run(sets, "--finetune-lr", value))


# --- averaged weights (--average-pretrained) ----------------------------------------------

def _state(value: float) -> dict[str, torch.Tensor]:
    return {"w": torch.full((2, 3), value), "bn.num_batches_tracked": torch.tensor(int(value))}


@pytest.mark.parametrize(("share", "expected"), [(0.0, 4.0), (1.0, -2.0), (0.25, 2.5),
                                                 (0.5, 1.0)])
def test_averaged_weights_take_the_share_of_the_pretrained(share, expected):
    """share of the pre-trained weights, the rest the fine-tuned ones; integer counters
    the fine-tuned ones', and neither input changed."""
    tuned, pretrained = _state(4.0), _state(-2.0)
    averaged = t.averaged_weights(tuned, pretrained, share)
    assert torch.equal(averaged["w"], torch.full((2, 3), expected))
    assert averaged["bn.num_batches_tracked"].item() == 4
    assert torch.equal(tuned["w"], torch.full((2, 3), 4.0))
    assert torch.equal(pretrained["w"], torch.full((2, 3), -2.0))


def _scaled_set(given: Path, kind: str) -> list[t.Scaled]:
    from synthgen.benchmark.data import read_images

    images = load_labelled_set(str(given), classes=["car"], min_height=20, kind=kind).images
    return [t.Scaled(a, s) for a, s in zip(read_images(images, 128), images, strict=True)]


def test_batchnorm_statistics_are_measured_again_on_training_batches(sets):
    """Only the running statistics change, to the mean over the batches of what each
    layer sees (here the first one, after the first convolution), whatever they held
    before; momentum and mode restored."""
    settings = t.Settings(classes=["car"], batch=2, width=128, height=64)
    net = t.new_net(settings, 0)
    first = net.stem[0][1]
    first.running_mean.fill_(5.0)
    first.num_batches_tracked.fill_(3000)  # as after training
    net.eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k
               and "num_batches" not in k}
    seen: list[torch.Tensor] = []
    hook = net.stem[0][0].register_forward_hook(
        lambda _module, _input, out: seen.append(out.mean((0, 2, 3))))
    t.reestimate_batchnorm(net, _scaled_set(sets["real"], "real"), settings,
                           np.random.default_rng(1), batches=3)
    hook.remove()
    assert len(seen) == 3 and first.momentum == 0.1 and not net.training
    assert first.num_batches_tracked.item() == 3
    torch.testing.assert_close(first.running_mean, torch.stack(seen).mean(0))
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in weights.items())


def test_average_pretrained_changes_only_the_synthetic_real_arm(sets, tmp_path):
    """The synthetic+real arm pre-trains with a schedule of its own and ends averaged:
    its numbers change, the other arms' do not, every step is on its loss curve. (Twelve
    steps: at four, a schedule over the first two has the learning rates of the first
    two of four.)"""
    runs = {}
    for name, extra in (("default", []), ("same", ["--average-pretrained", "0"]),
                        ("averaged", ["--average-pretrained", "0.5"])):
        result = _run(sets, *extra, "--steps", "12", "--json", str(tmp_path / f"{name}.json"))
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    without = lambda doc: [{k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
                           for r in doc["runs"]]
    assert without(runs["same"]) == without(runs["default"])
    averaged = runs["averaged"]
    assert averaged["settings"]["average_pretrained"] == 0.5
    assert runs["default"]["settings"]["average_pretrained"] == 0
    assert without(averaged)[:2] == without(runs["default"])[:2]
    tuned, plain = averaged["runs"][2]["loss"], runs["default"]["runs"][2]["loss"]
    assert [step for step, _ in tuned] == list(range(1, 13))
    # The rates differ from the sixth step on (the cosine of the six-step schedule
    # starts at its fifth at full rate): its loss is before its update.
    assert tuned[:6] == plain[:6] and tuned[6] != plain[6]


def test_the_averaged_arm_is_the_average_of_its_pretrained_and_fine_tuned_weights(
        sets, monkeypatch):
    """The arm's detector holds the share of the weights at the end of its own
    pre-training (a whole schedule over the pre-training steps) and the rest of its
    fine-tuned weights, with statistics measured again; and the same run again gives the
    same weights."""
    settings = t.Settings(classes=["car"], steps=4, batch=2, width=128, height=64, threads=1,
                          average_pretrained=0.25, finetune_synthetic=0.5)
    synthetic, real = _scaled_set(sets["synthetic"], "synthetic"), _scaled_set(sets["real"], "real")
    schedules: list[int] = []
    real_rate = t.learning_rate
    monkeypatch.setattr(t, "learning_rate", lambda step, steps, base: schedules.append(steps)
                        or real_rate(step, steps, base))
    net, curve = t.synthetic_then_real(5, synthetic, real, settings)
    assert schedules == [2, 2, 2, 2] and [step for step, _ in curve] == [1, 2, 3, 4]
    again, _ = t.synthetic_then_real(5, synthetic, real, settings)
    for key, value in net.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    # The same steps by hand: every weight the average, the statistics (and nothing
    # else) measured again on fine-tuning batches of the stream seeded (5, 3).
    pretrained = t.new_net(settings, 5)
    t.train(pretrained, synthetic, 2, settings, t.seeded_rng(5, 1))
    tuned = t.new_net(settings, 5)
    tuned.load_state_dict(pretrained.state_dict())
    t.train(tuned, real, 2, settings, t.seeded_rng(5, 2), first_step=2, mixed=synthetic,
            mixed_per_batch=1)
    conv = "stages.0.0.conv1.weight"
    torch.testing.assert_close(net.state_dict()[conv],
                               0.75 * tuned.state_dict()[conv]
                               + 0.25 * pretrained.state_dict()[conv])
    hand = t.new_net(settings, 5)
    hand.load_state_dict(t.averaged_weights(tuned.state_dict(), pretrained.state_dict(), 0.25))
    before = {k: v.clone() for k, v in hand.state_dict().items()}
    t.reestimate_batchnorm(hand, real, settings, t.seeded_rng(5, 3), mixed=synthetic,
                           mixed_per_batch=1)
    for key, value in hand.state_dict().items():
        assert torch.equal(value, net.state_dict()[key]), key
        assert torch.equal(value, before[key]) == ("running" not in key
                                                   and "num_batches" not in key), key


@pytest.mark.parametrize("value", ["-0.1", "0.95", "1", "nan"])
def test_average_pretrained_out_of_range_is_refused(sets, value):
    assert "--average-pretrained" in _error_line(_run(sets, "--average-pretrained", value))


# --- the flip test (--flip-test) -----------------------------------------------------------

class _Mirrored(torch.nn.Module):
    """A "network" whose outputs are pooled from its input: mirroring the input mirrors
    them exactly, so the flip test must give back its plain outputs."""

    def forward(self, images):
        pooled = torch.nn.functional.avg_pool2d(images, m.STRIDE)
        return {"heatmap": 4 * pooled[:, :1], "size": pooled[:, 1:], "offset": pooled[:, :2]}


def test_the_flip_test_of_a_mirror_equivariant_network_is_its_plain_output():
    images = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, 32, 48))
                              .astype(np.float32))
    plain, flipped = m.predict(_Mirrored(), images), m.predict(_Mirrored(), images, flip=True)
    assert set(flipped) == {"heat", "size", "offset"}
    for key in plain:
        torch.testing.assert_close(flipped[key], plain[key])


class _TwoFaced(torch.nn.Module):
    """Outputs ``plain`` for the images it was made with, ``mirror`` for anything else."""

    def __init__(self, images, plain, mirror):
        super().__init__()
        self.images, self.plain, self.mirror = images, plain, mirror

    def forward(self, images):
        return self.plain if torch.equal(images, self.images) else self.mirror


def test_the_flip_test_averages_probabilities_and_lengths_mirrored_back():
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.normal(size=(1, 3, 8, 12)).astype(np.float32))

    def outputs():
        return {key: torch.from_numpy(rng.normal(size=(1, c, 2, 3)).astype(np.float32))
                for key, c in (("heatmap", 2), ("size", 2), ("offset", 2))}
    plain, mirror = outputs(), outputs()
    found = m.predict(_TwoFaced(images, plain, mirror), images, flip=True)
    for y, x in ((0, 0), (1, 2), (0, 1)):
        back = 2 - x  # the mirror's column seen in the image
        heat = (torch.sigmoid(plain["heatmap"][0, :, y, x])
                + torch.sigmoid(mirror["heatmap"][0, :, y, back])) / 2
        torch.testing.assert_close(found["heat"][0, :, y, x], heat)
        size = (plain["size"][0, :, y, x].exp() + mirror["size"][0, :, y, back].exp()) / 2
        torch.testing.assert_close(found["size"][0, :, y, x].exp(), size)
    assert torch.equal(found["offset"], plain["offset"])


class _MirrorAwareOracle(torch.nn.Module):
    """Exact targets of the boxes of the image it is shown, mirrored or not: which image
    and which way round is written in its top row (a mark of ``10 * (index + 1)`` at the
    left end, 0 at the right)."""

    def __init__(self, per_image: list[np.ndarray], widths: list[float]):
        super().__init__()
        self.per_image, self.widths = per_image, widths

    def forward(self, images):
        n, _, h, w = images.shape
        raw = ((images[:, 0, 0] * t.STD + t.MEAN) * 255).round().int()
        outputs: dict[str, list[torch.Tensor]] = {"heatmap": [], "size": [], "offset": []}
        for i in range(n):
            mirrored = int(raw[i, 0]) == 0
            index = int(raw[i, -1 if mirrored else 0]) // 10 - 1
            boxes = self.per_image[index] * (w / self.widths[index])
            if mirrored:
                boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
            targets = m.make_targets(boxes, np.zeros(len(boxes), np.int64),
                                     np.zeros(len(boxes), bool), 1, h // m.STRIDE,
                                     w // m.STRIDE)
            for key, value in _outputs_from(targets, h // m.STRIDE, w // m.STRIDE).items():
                outputs[key].append(value)
        return {key: torch.cat(value) for key, value in outputs.items()}


def test_exact_outputs_both_ways_score_100_through_the_flip_test():
    """The mirror's heatmap and sizes land back on the image's own cells: a peak one cell
    off would be a second, half-scored detection, a size one cell off a wrong box."""
    boxes = [np.array([[100, 120, 260, 230], [700, 150, 760, 200]], np.float32),
             np.array([[10, 200, 400, 370], [1100, 100, 1240, 300]], np.float32),
             np.array([[333, 17, 371, 93]], np.float32)]
    sources = [_image(b, width=1242, height=375) for b in boxes]
    data = []
    for index, source in enumerate(sources):
        pixels = np.full((193, 640, 3), 40, np.uint8)
        pixels[0, 0], pixels[0, -1] = 10 * (index + 1), 0
        data.append(t.Scaled(pixels, source))
    _assert_exact(t.detect(_MirrorAwareOracle(boxes, [1242.0] * 3), data, batch=2, flip=True),
                  boxes, sources)


def test_an_arm_detects_with_the_flip_test_when_asked(sets):
    """Training is the same; the evaluation's detections are the flip test's."""
    settings = t.Settings(classes=["car"], steps=4, batch=2, width=128, height=64, threads=1,
                          flip_test=True)
    real, evaluation = _scaled_set(sets["real"], "real"), _scaled_set(sets["eval"], "real")
    (result,) = t.run_seed(2, [], real, evaluation, settings, arms=["real"])
    net = t.new_net(settings, 2)
    curve, _ = t.train(net, real, 4, settings, t.seeded_rng(2, 0))
    assert curve == result.loss
    flipped, plain = t.detect(net, evaluation, flip=True), t.detect(net, evaluation)
    for mine, theirs in zip(flipped, result.detections, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert any(a.shape != b.shape or not np.array_equal(a, b)
               for a, b in zip(flipped, plain, strict=True))


def test_flip_test_is_used_recorded_and_leaves_training_alone(sets, tmp_path, detect_flips):
    """Every arm detects as --flip-test says; the JSON and the table say so; the loss
    curves are the same."""
    flips = detect_flips
    runs, said = {}, {}
    for name, extra in (("plain", []), ("flip", ["--flip-test"])):
        flips.clear()
        result = _run(sets, "--arms", "real,synthetic", *extra,
                      "--json", str(tmp_path / f"{name}.json"))
        assert result.exit_code == 0, result.output
        assert flips == [name == "flip"] * 2
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
        said[name] = "detected with the flip test" in result.output
    assert said == {"plain": False, "flip": True}
    assert runs["plain"]["settings"]["flip_test"] is False
    assert runs["flip"]["settings"]["flip_test"] is True
    for plain, flipped in zip(runs["plain"]["runs"], runs["flip"]["runs"], strict=True):
        assert flipped["loss"] == plain["loss"]


# --- --calibrate-sizes ---------------------------------------------------------------------


class _Skewed(torch.nn.Module):
    """The oracle's exact outputs with every log size shifted by its size head's bias
    (the head :func:`train.calibrate_sizes` moves), read afresh at each detect call."""

    def __init__(self, per_image: list[np.ndarray], widths: list[float], skew: tuple):
        super().__init__()
        self.oracle = _Oracle(per_image, widths)
        self.size = torch.nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            self.size.bias.copy_(torch.tensor(skew))

    def forward(self, images):
        if self.oracle.calls == len(self.oracle.per_image):
            self.oracle.calls = 0
        outputs = self.oracle(images)
        outputs["size"] = outputs["size"] + self.size.bias.view(1, 2, 1, 1)
        return outputs


def _calibration_set(count: int):
    """``count`` separate boxes of various sizes, well inside 1242 x 375 frames."""
    rng = np.random.default_rng(count)
    boxes, sources = [], []
    for start in range(0, count, 4):
        rows = []
        for k in range(min(4, count - start)):
            w, h = rng.uniform(40, 160), rng.uniform(30, 90)
            x0, y0 = 60 + 300 * k, rng.uniform(100, 240)
            rows.append([x0, y0, x0 + w, y0 + h])
        boxes.append(np.array(rows, np.float32))
        sources.append(_image(boxes[-1], width=1242, height=375))
    data = [t.Scaled(np.zeros((193, 640, 3), np.uint8), source) for source in sources]
    return boxes, sources, data


@pytest.mark.parametrize("skew", [(-0.2, 0.05), (0.15, -0.1), (0.0, 0.0)])
def test_calibration_removes_a_size_bias_and_leaves_exact_boxes_exact(skew):
    boxes, sources, data = _calibration_set(12)
    net = _Skewed(boxes, [1242.0] * len(boxes), skew)
    width, height, found = t.size_bias(net, data)
    assert found == 12
    assert width == pytest.approx(skew[0], abs=2e-3)
    assert height == pytest.approx(skew[1], abs=2e-3)
    assert t.calibrate_sizes(net, data) == (width, height, 12)
    _assert_exact(t.detect(net, data), boxes, sources)


def test_too_few_boxes_found_change_nothing():
    boxes, _, data = _calibration_set(t.CALIBRATION_MIN_BOXES - 1)
    net = _Skewed(boxes, [1242.0] * len(boxes), (-0.2, 0.1))
    assert t.calibrate_sizes(net, data) is None
    assert net.size.bias.tolist() == pytest.approx([-0.2, 0.1])


def test_boxes_found_too_far_off_are_not_measured():
    """A detection 0.3 times as wide as its box (same centre and height) overlaps it by
    IoU 0.3, under the 0.5 needed: nothing is measured or changed."""
    boxes, _, data = _calibration_set(12)
    net = _Skewed(boxes, [1242.0] * len(boxes), (math.log(0.3), 0.0))
    assert t.size_bias(net, data) == (0.0, 0.0, 0)
    assert t.calibrate_sizes(net, data) is None


def test_only_found_boxes_of_their_own_benchmarked_class_are_measured(monkeypatch):
    """Per labelled box, the detection of its class that overlaps it most: boxes of
    another class, crowds and boxes of classes not benchmarked are not measured, nor a
    detection of another class; the median, not the mean."""
    boxes = np.array([[0, 0, 100, 50], [200, 0, 300, 50], [400, 0, 500, 50],
                      [600, 0, 700, 50], [800, 0, 900, 50], [1000, 0, 1100, 50]], np.float32)
    crowd = np.array([0, 0, 0, 0, 1, 0], bool)
    source = _image(boxes, classes=[0, 0, 1, -1, 0, 1], crowd=crowd, width=1242, height=375)
    wider = np.exp([0.0, 0.0, 0.3, 0.5, 0.5, 0.5])  # each box's detection, as wide as this
    rows = [[x0, y0, x0 + (x1 - x0) * k, y1, 0.9, cls] for (x0, y0, x1, y1), k, cls
            in zip(boxes.tolist(), wider, [0, 0, 1, 0, 0, 0], strict=True)]
    monkeypatch.setattr(t, "detect", lambda net, data, **kw: [np.array(rows, np.float64)])
    width, height, found = t.size_bias(None, [t.Scaled(np.zeros((1, 1, 3), np.uint8),
                                                       source)])
    # Measured: the two class-0 boxes (0, 0) and the class-1 box found as class 1 (0.3);
    # the last class-1 box's only overlapping detection is of class 0.
    assert found == 3
    assert width == pytest.approx(0.0, abs=1e-6) and height == pytest.approx(0.0, abs=1e-6)


@pytest.fixture
def calibrations(monkeypatch) -> list[tuple[int, bool]]:
    """How many labelled images each ``train.calibrate_sizes`` call measured on, and its
    ``flip`` (the calls themselves made as usual)."""
    calls: list[tuple[int, bool]] = []
    calibrate = t.calibrate_sizes

    def spy(net, data, **kw):
        calls.append((len(data), kw.get("flip")))
        return calibrate(net, data, **kw)
    monkeypatch.setattr(t, "calibrate_sizes", spy)
    return calls


def test_calibrate_sizes_calibrates_the_arms_trained_on_real_and_says_so(
        sets, tmp_path, calibrations):
    runs, said = {}, {}
    for name, extra in (("plain", []), ("calibrated", ["--calibrate-sizes"]),
                        ("flipped", ["--calibrate-sizes", "--flip-test"])):
        calibrations.clear()
        result = _run(sets, *extra, "--json", str(tmp_path / f"{name}.json"))
        assert result.exit_code == 0, result.output
        # The real and synthetic+real arms, on the 4 real images, detecting as the
        # evaluation does; never the synthetic arm.
        assert calibrations == {"plain": [], "calibrated": [(4, False)] * 2,
                                "flipped": [(4, True)] * 2}[name]
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
        # Four steps find none of the real boxes: the table says nothing changed.
        said[name] = ("calibrated on the real set in 0 of the 2 runs trained on it (the "
                      "others found too few of its boxes: unchanged)" in result.output)
    assert said == {"plain": False, "calibrated": True, "flipped": True}
    assert runs["plain"]["settings"]["calibrate_sizes"] is False
    assert runs["calibrated"]["settings"]["calibrate_sizes"] is True
    for plain, calibrated in zip(runs["plain"]["runs"], runs["calibrated"]["runs"],
                                 strict=True):
        assert calibrated["loss"] == plain["loss"]
        assert "size_bias" not in plain


def test_a_calibrated_arm_records_the_bias_it_removed(sets, monkeypatch):
    monkeypatch.setattr(t, "CALIBRATION_MIN_BOXES", 1)
    settings = t.Settings(classes=["car"], steps=30, batch=2, width=128, height=64,
                          threads=1, calibrate_sizes=True)
    real, evaluation = _scaled_set(sets["real"], "real"), _scaled_set(sets["eval"], "real")
    (result,) = t.run_seed(0, [], real, evaluation, settings, arms=["real"])
    assert result.size_bias is not None
    net = t.new_net(settings, 0)
    t.train(net, real, 30, settings, t.seeded_rng(0, 0))
    assert t.calibrate_sizes(net, real) == result.size_bias
    # The arm is scored with the calibrated weights.
    for mine, theirs in zip(t.detect(net, evaluation), result.detections, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    doc = report.document([result], report.summarise([result], ["car"]), settings={},
                          inputs={})
    assert doc["runs"][0]["size_bias"]["boxes"] == result.size_bias[2]


def test_calibrate_sizes_needs_an_arm_trained_on_real(sets):
    result = _run(sets, "--arms", "synthetic", "--calibrate-sizes")
    line = _error_line(result)
    assert "--calibrate-sizes" in line and "--arms synthetic" in line
