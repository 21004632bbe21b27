"""synthgen real pseudo-label: which detections become labels and ignore regions, that the
labelling detector is the benchmark's arm, and the command end to end on tiny sets."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.cli import cli
from synthgen.datasets.realsets import read_real_set
from synthgen.errors import DatasetError
from tests.factories import scene_set

torch = pytest.importorskip("torch", reason="the bench extra (torch) is not installed")

from synthgen.benchmark import pseudo  # noqa: E402
from synthgen.benchmark import train as t  # noqa: E402
from synthgen.benchmark.data import load_labelled_set, read_images  # noqa: E402

# --- which detections are kept -----------------------------------------------------------


@pytest.mark.parametrize(("score", "height", "kept"), [
    (0.9, 40, "label"),
    (0.5, 40, "label"),       # min_score itself is a label
    (0.49, 40, "ignore"),
    (0.2, 40, "ignore"),      # ignore_score itself is an ignore region
    (0.19, 40, None),
    (0.9, 19.9, None),        # shorter than min_height: never learnt, never kept
    (0.9, 20, "label"),
])
def test_a_detection_is_a_label_an_ignore_region_or_nothing(score, height, kept):
    row = np.array([[10, 5, 60, 5 + height, score, 0]], np.float32)
    objects = pseudo.pseudo_objects(row, ["car"], pseudo.Thresholds(0.5, 0.2, 20))
    if kept is None:
        assert objects == []
        return
    (obj,) = objects
    assert obj.name == "car" and obj.iscrowd == (kept == "ignore")
    assert obj.box == pytest.approx((10, 5, 60, 5 + height))
    assert obj.extra == {"score": round(float(np.float32(score)), 4)}


def test_objects_come_best_score_first():
    rows = np.array([[0, 0, 50, 40, 0.3, 0], [60, 0, 90, 40, 0.8, 1],
                     [0, 0, 30, 30, 0.6, 0]], np.float32)
    objects = pseudo.pseudo_objects(rows, ["car", "pedestrian"], pseudo.Thresholds())
    assert [(o.name, o.iscrowd) for o in objects] == [
        ("pedestrian", False), ("car", False), ("car", True)]


def test_a_duplicate_of_a_better_detection_is_left_out():
    """Two boxes on one car would be a wrong label: the lower-scored one goes, whether a
    label or an ignore region; another class, or a box overlapping less, stays."""
    rows = np.array([[100, 50, 200, 120, 0.9, 0],    # the car
                     [110, 55, 205, 125, 0.7, 0],    # the same car again (IoU ~0.77)
                     [105, 50, 190, 118, 0.3, 0],    # and as a doubt
                     [100, 50, 200, 120, 0.6, 1],    # another class: kept
                     [170, 50, 270, 120, 0.8, 0]],   # beside it, IoU 0.2: kept
                    np.float32)
    objects = pseudo.pseudo_objects(rows, ["car", "pedestrian"], pseudo.Thresholds())
    assert [(o.name, o.extra["score"]) for o in objects] == [
        ("car", 0.9), ("car", 0.8), ("pedestrian", 0.6)]


@given(st.lists(st.tuples(st.floats(0, 300), st.floats(0, 100), st.floats(1, 200),
                          st.floats(20, 150), st.floats(0.2, 1.0), st.integers(0, 1)),
                max_size=30))
@settings(max_examples=60, deadline=None)
def test_no_two_kept_boxes_of_a_class_are_duplicates(rows):
    array = np.array([[x, y, x + w, y + h, s, c] for x, y, w, h, s, c in rows],
                     np.float32).reshape(-1, 6)
    objects = pseudo.pseudo_objects(array, ["car", "pedestrian"], pseudo.Thresholds())
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            if a.name == b.name:
                assert a.box.iou(b.box) < pseudo.DUPLICATE_IOU
    assert [o.extra["score"] for o in objects] == sorted(
        (o.extra["score"] for o in objects), reverse=True)


@pytest.mark.parametrize(("min_score", "ignore_score"), [(0.5, 0.6), (0.5, 0.0), (1.1, 0.2)])
def test_thresholds_out_of_order_are_refused(min_score, ignore_score):
    with pytest.raises(DatasetError, match="--ignore-score"):
        pseudo.Thresholds(min_score, ignore_score)


# --- the labelling detector --------------------------------------------------------------


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pseudo")
    # Frames are a plain folder of images, no labels beside them.
    plain = root / "frames"
    shutil.copytree(scene_set(root / "unlabelled", 5, 4, None) / "images", plain)
    return {"synthetic": scene_set(root / "synthetic", 8, 1, "synthetic"),
            "real": scene_set(root / "real", 4, 2, "real"),
            "eval": scene_set(root / "eval", 4, 3, None), "frames": plain}


SETTINGS = t.Settings(classes=["car"], steps=4, batch=2, width=128, height=64, threads=1)


def _scaled(given: Path, kind: str) -> list[t.Scaled]:
    images = load_labelled_set(str(given), classes=["car"], min_height=20, kind=kind).images
    return [t.Scaled(a, s) for a, s in zip(read_images(images, 128), images, strict=True)]


@pytest.mark.parametrize(("arm", "mixed", "finetune_lr", "average", "calibrate"), [
    ("synthetic+real", 0.0, None, 0.0, False), ("real", 0.0, None, 0.0, False),
    ("synthetic+real", 0.5, None, 0.0, False), ("synthetic+real", 0.0, 3e-4, 0.0, False),
    ("synthetic+real", 0.0, None, 0.5, False), ("synthetic+real", 0.5, None, 0.5, False),
    ("synthetic+real", 0.0, None, 0.5, True)])
def test_the_labeller_is_the_benchmarks_arm(sets, monkeypatch, arm, mixed, finetune_lr,
                                            average, calibrate):
    """Trained with --pretrain it is benchmark's synthetic+real arm of the seed (with
    its --finetune-synthetic, --finetune-lr, --average-pretrained and --calibrate-sizes
    too), without it the real arm: the very same detections."""
    # A few steps find few boxes: any is enough for the calibration to change the sizes.
    monkeypatch.setattr(t, "CALIBRATION_MIN_BOXES", 1)
    settings = dataclasses.replace(SETTINGS, finetune_synthetic=mixed, finetune_lr=finetune_lr,
                                   average_pretrained=average, calibrate_sizes=calibrate)
    synthetic = _scaled(sets["synthetic"], "synthetic") if arm != "real" else []
    real, evaluation = _scaled(sets["real"], "real"), _scaled(sets["eval"], "real")
    (expected,) = t.run_seed(3, synthetic, real, evaluation, settings, arms=[arm])
    assert (expected.size_bias is not None) == calibrate
    net, bias = pseudo.train_labeller(3, synthetic, real, settings)
    assert bias == expected.size_bias
    for mine, theirs in zip(t.detect(net, evaluation), expected.detections, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_labeller_trained_on_real_alone_is_calibrated_too(sets, monkeypatch):
    calls = []
    monkeypatch.setattr(t, "calibrate_sizes",
                        lambda net, data, **kw: calls.append((len(data), kw)))
    settings = dataclasses.replace(SETTINGS, calibrate_sizes=True, flip_test=True)
    pseudo.train_labeller(3, [], _scaled(sets["real"], "real"), settings)
    assert calls == [(4, {"flip": True})]


# --- the command -------------------------------------------------------------------------

FAST = ["--steps", "4", "--batch", "2", "--size", "128x64", "--threads", "1"]
# Thirty steps find the tiny sets' dark boxes at scores near 0.8; four find nothing.
LEARNT = ["--steps", "30"]


def _label(sets, out: Path, *extra: str):
    args = ["-q", "real", "pseudo-label", str(sets["frames"]), "--train", str(sets["real"]),
            "--pretrain", str(sets["synthetic"]), "--out", str(out)]
    return CliRunner().invoke(cli, args + FAST + list(extra))


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_writes_a_real_set_of_pseudo_labels(sets, tmp_path):
    out = tmp_path / "pseudo"
    result = _label(sets, out, *LEARNT)
    assert result.exit_code == 0, result.output
    assert "Labelled 5 frames" in result.output
    doc = json.loads((out / "annotations.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "real pseudo-label" and manifest["labels"] == "pseudo"
    assert manifest["thresholds"] == {"min_score": 0.5, "ignore_score": 0.2,
                                      "min_height": 20.0}
    assert manifest["trained_on"]["train"]["images"] == 4
    assert manifest["options"]["finetune_lr"] == manifest["options"]["lr"] == 0.002
    assert sorted(image["file_name"] for image in doc["images"]) == [
        p.name for p in sorted(sets["frames"].iterdir())]
    for image in doc["images"]:
        assert image["source"] == "real" and image["labels"] == "pseudo"
        assert (out / "images" / image["file_name"]).is_file()
    assert any(not ann["iscrowd"] for ann in doc["annotations"])
    for ann in doc["annotations"]:
        assert ann["iscrowd"] == (ann["score"] < 0.5) and ann["score"] >= 0.2
        assert ann["bbox"][3] >= 20
    # synthgen's own readers take it: --sprites and fit read real sets this way.
    real = read_real_set(str(out))
    assert len(real.images) == 5
    assert CliRunner().invoke(cli, ["validate", str(out)]).exit_code == 0


def test_same_seed_same_labels(sets, tmp_path):
    for name in ("a", "b"):
        assert _label(sets, tmp_path / name, *LEARNT).exit_code == 0
    assert ((tmp_path / "a" / "annotations.json").read_bytes()
            == (tmp_path / "b" / "annotations.json").read_bytes())


def test_the_benchmark_refuses_pseudo_labels_as_its_evaluation_set(sets, tmp_path):
    out = tmp_path / "pseudo"
    assert _label(sets, out, *LEARNT).exit_code == 0
    result = CliRunner().invoke(cli, ["-q", "benchmark", "--real", str(sets["real"]),
                                      "--eval", str(out), "--arms", "real", *FAST])
    line = _error_line(result)
    assert f"--eval {out}: its manifest says its labels are a detector's" in line
    # Without the manifest, every image entry still says so.
    (out / "manifest.json").unlink()
    line = _error_line(CliRunner().invoke(cli, [
        "-q", "benchmark", "--real", str(sets["real"]), "--eval", str(out / "annotations.json"),
        "--arms", "real", *FAST]))
    assert "says its labels are a detector's" in line and "image 1" in line


def test_pseudo_labels_stay_marked_through_real_import_and_mix_refuses_them(sets, tmp_path):
    out = tmp_path / "pseudo"
    assert _label(sets, out, *LEARNT).exit_code == 0
    again = tmp_path / "again"
    result = CliRunner().invoke(cli, ["real", "import", "--format", "coco", str(out),
                                      "--out", str(again)])
    assert result.exit_code == 0, result.output
    doc = json.loads((again / "annotations.json").read_text())
    assert all(image["labels"] == "pseudo" for image in doc["images"])
    assert doc["annotations"] and all("score" in ann for ann in doc["annotations"])
    line = _error_line(CliRunner().invoke(cli, [
        "-q", "benchmark", "--real", str(sets["real"]), "--eval", str(again), "--arms", "real",
        *FAST]))
    assert "says its labels are a detector's" in line
    line = _error_line(CliRunner().invoke(cli, [
        "mix", "--synthetic", str(sets["synthetic"]), "--real", str(out), "--out",
        str(tmp_path / "mixed"), "--seed", "0"]))
    assert f"--real {out}: image 1" in line and "human-labelled images only" in line
    assert not (tmp_path / "mixed").exists()


def test_never_overwrites_and_says_so_before_training(sets, tmp_path, monkeypatch):
    out = tmp_path / "pseudo"
    out.mkdir()
    (out / "mine.txt").write_text("keep")

    def not_now(*args, **kwargs):
        raise AssertionError("trained before refusing the output folder")

    monkeypatch.setattr(pseudo, "train_labeller", not_now)
    line = _error_line(_label(sets, out))
    assert f"--out {out}: folder exists and is not empty" in line
    assert (out / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize(("edit", "expected"), [
    ("missing", "no such folder"),
    ("a_file", "not a folder"),
    ("other_file", "notes.txt is not an image file"),
    ("broken_link", "b.png is not a regular file"),
    ("link_loop", "b.png is not a regular file"),
    ("fifo", "b.png is not a regular file"),
    ("empty", "no .jpg, .jpeg, .png files in the folder"),
])
def test_a_bad_frames_folder_is_one_error_line(sets, tmp_path, edit, expected):
    """Never a frame skipped without a word (a subfolder is not read: that is said in
    the help)."""
    frames = tmp_path / "frames"
    if edit == "a_file":
        frames.write_text("x")
    elif edit != "missing":
        frames.mkdir()
        (frames / "sub").mkdir()
        shutil.copy(next(sets["frames"].iterdir()), frames / "a.png")
    if edit == "other_file":
        (frames / "notes.txt").write_text("x")
    elif edit == "broken_link":
        (frames / "b.png").symlink_to(tmp_path / "nowhere.png")
    elif edit == "link_loop":
        (frames / "b.png").symlink_to(frames / "b.png")
    elif edit == "fifo":
        os.mkfifo(frames / "b.png")
    elif edit == "empty":
        (frames / "a.png").unlink()
    args = ["-q", "real", "pseudo-label", str(frames), "--train", str(sets["real"]),
            "--out", str(tmp_path / "out"), *FAST]
    line = _error_line(CliRunner().invoke(cli, args))
    assert expected in line and str(frames) in line
    assert not (tmp_path / "out").exists()


def test_refuses_the_images_of_a_synthetic_set_as_frames(tmp_path):
    out = tmp_path / "synthetic"
    assert CliRunner().invoke(cli, ["-q", "generate", "--scene", "urban", "--count", "2",
                                    "--size", "160x96", "--out", str(out)]).exit_code == 0
    with pytest.raises(DatasetError, match="kind: synthetic"):
        pseudo.frame_files(out / "images")


@pytest.mark.parametrize("make", ["under_a_file", "link_loop"])
def test_an_output_that_cannot_be_made_is_refused_before_training(sets, tmp_path, make,
                                                                  monkeypatch):
    def not_now(*args, **kwargs):
        raise AssertionError("trained before refusing the output folder")

    monkeypatch.setattr(pseudo, "train_labeller", not_now)
    if make == "under_a_file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "sub"
        expected = f"--out {out}: cannot create folder ({tmp_path / 'afile'} is not a folder)"
    else:
        out = tmp_path / "loop"
        out.symlink_to(out)
        expected = f"--out {out}: cannot follow its links"
    assert expected in _error_line(_label(sets, out))


def test_refuses_thresholds_out_of_order(sets, tmp_path):
    line = _error_line(_label(sets, tmp_path / "out", "--min-score", "0.3",
                              "--ignore-score", "0.4"))
    assert "--ignore-score 0.4 and --min-score 0.3" in line


def test_refuses_a_synthetic_set_as_train(sets, tmp_path):
    args = ["-q", "real", "pseudo-label", str(sets["frames"]), "--train",
            str(sets["synthetic"]), "--out", str(tmp_path / "out"), *FAST]
    line = _error_line(CliRunner().invoke(cli, args))
    assert f"--train {sets['synthetic']}" in line and "takes real images only" in line


def test_refuses_an_output_inside_the_frames_folder(sets, tmp_path):
    frames = tmp_path / "frames"
    shutil.copytree(sets["frames"], frames)
    args = ["-q", "real", "pseudo-label", str(frames), "--train", str(sets["real"]),
            "--out", str(frames / "out"), *FAST]
    _error_line(CliRunner().invoke(cli, args))
    assert not (frames / "out").exists()


@pytest.mark.parametrize(("extra", "recorded"), [
    ([], {"finetune_lr": 0.002, "average_pretrained": 0.0, "flip_test": False,
          "calibrate_sizes": False, "synthetic_boxes": "visible"}),
    (["--finetune-lr", "3e-4"], {"finetune_lr": 3e-4, "average_pretrained": 0.0}),
    (["--average-pretrained", "0.5"], {"finetune_lr": 0.002, "average_pretrained": 0.5}),
    (["--flip-test"], {"average_pretrained": 0.0, "flip_test": True}),
    (["--calibrate-sizes"], {"calibrate_sizes": True, "flip_test": False}),
])
def test_records_the_options_given(sets, tmp_path, detect_flips, extra, recorded):
    """Recorded in the manifest, and the frames are labelled as --flip-test says."""
    out = tmp_path / "pseudo"
    assert _label(sets, out, *extra).exit_code == 0
    options = json.loads((out / "manifest.json").read_text())["options"]
    assert {key: options[key] for key in recorded} == recorded
    assert options["lr"] == 0.002
    # With --calibrate-sizes the labeller detects in its training set too, the same way.
    assert detect_flips == [options["flip_test"]] * (2 if options["calibrate_sizes"] else 1)
    trained_on = json.loads((out / "manifest.json").read_text())["trained_on"]
    # Asked: what was taken off (null when too few boxes were found); else not there.
    assert ("size_bias" in trained_on) == options["calibrate_sizes"]


@pytest.mark.parametrize(("extra", "says"), [
    (["--finetune-synthetic", "0.5"], "--finetune-synthetic 0.5: no --pretrain set"),
    (["--finetune-lr", "1e-4"], "--finetune-lr 0.0001: no --pretrain set to train on first"),
    (["--average-pretrained", "0.5"],
     "--average-pretrained 0.5: no --pretrain set to train on first"),
    (["--pretrain-fraction", "0.7"], "--pretrain-fraction 0.7: no --pretrain set"),
    (["--synthetic-boxes", "amodal"], "--synthetic-boxes amodal: no --pretrain set to train on"),
])
def test_refuses_fine_tuning_options_without_a_pretrain_set(sets, tmp_path, extra, says):
    args = ["-q", "real", "pseudo-label", str(sets["frames"]), "--train", str(sets["real"]),
            "--out", str(tmp_path / "out"), *extra, *FAST]
    line = _error_line(CliRunner().invoke(cli, args))
    assert says in line
    assert not (tmp_path / "out").exists()


def test_pretrain_sets_are_read_with_the_boxes_asked_for(sets, tmp_path, monkeypatch):
    """--synthetic-boxes amodal: the --pretrain sets' whole boxes, the --train set's own;
    recorded in the manifest."""
    pretrain = tmp_path / "amodal"
    shutil.copytree(sets["synthetic"], pretrain)
    doc = json.loads((pretrain / "annotations.json").read_text())
    for ann in doc["annotations"]:
        x, y, w, h = ann["bbox"]
        ann["bbox_amodal"] = [x, y - 4, w, h + 4]
    (pretrain / "annotations.json").write_text(json.dumps(doc))
    seen = []
    train_labeller = pseudo.train_labeller

    def spy(seed, synthetic, real, settings, **kw):
        seen.append(([s.source.boxes.copy() for s in synthetic],
                     [s.source.boxes.copy() for s in real]))
        return train_labeller(seed, synthetic, real, settings, **kw)
    monkeypatch.setattr(pseudo, "train_labeller", spy)
    args = ["-q", "real", "pseudo-label", str(sets["frames"]), "--train", str(sets["real"]),
            "--pretrain", str(pretrain), "--synthetic-boxes", "amodal",
            "--out", str(tmp_path / "out"), *FAST]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    options = json.loads((tmp_path / "out" / "manifest.json").read_text())["options"]
    assert options["synthetic_boxes"] == "amodal"
    ((synthetic, real),) = seen
    expected = [(a["bbox"][0], max(0, a["bbox"][1] - 4)) for a in sorted(
        doc["annotations"], key=lambda a: (str(a["image_id"]), a["id"]))]
    assert [tuple(row[:2]) for boxes in synthetic for row in boxes.tolist()] == expected
    trained = load_labelled_set(str(sets["real"]), classes=["car"], min_height=20,
                                kind="real").images
    for mine, theirs in zip(real, trained, strict=True):
        np.testing.assert_array_equal(mine, theirs.boxes)
