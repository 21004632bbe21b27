"""``synthgen diff OLD NEW``: what changed between two versions of a dataset folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synthgen.cli import cli
from synthgen.datasets.mix import mix_datasets
from tests.datasets.test_mix import make_synthetic
from tests.datasets.test_realsets import append, kitti_batch
from tests.datasets.test_stable_splits import make_real
from tests.factories import turned_photo_set

GENERATE = ["generate", "--scene", "urban", "--seed", "4", "--size", "96x64", "--workers", "1"]


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, ["-q", *(str(a) for a in args)])


def diff(old: Path, new: Path, *extra: str) -> Any:
    result = invoke("diff", old, new, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in extra else result.output


@pytest.fixture(scope="module")
def v1(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("v1") / "urban"
    assert invoke(*GENERATE, "--count", "3", "--out", out).exit_code == 0
    return out


@pytest.fixture(scope="module")
def v2(tmp_path_factory, v1) -> Path:
    """v1 extended by two images."""
    out = Path(shutil.copytree(v1, tmp_path_factory.mktemp("v2") / "urban"))
    assert invoke(*GENERATE, "--count", "3", "--extend", "2", "--out", out).exit_code == 0
    return out


def test_an_extended_set_shows_the_new_images_classes_and_count(v1, v2):
    text = diff(v1, v2)
    assert "Images: 2 added, 0 removed, 0 changed, 0 relabelled, 3 unchanged" in text
    assert "added: 000003.jpg, 000004.jpg" in text
    assert "options.count: 3 -> 5" in text
    assert "Boxes per class:" in text and "car" in text
    report = diff(v1, v2, "--json")
    assert report["images"]["added"] == ["000003.jpg", "000004.jpg"]
    assert report["images"]["compared_by"] == "content"
    old = json.loads((v1 / "annotations.json").read_text())
    new = json.loads((v2 / "annotations.json").read_text())
    assert sum(was for was, _ in report["per_class"].values()) == len(
        [a for a in old["annotations"] if not a["iscrowd"]])
    assert sum(now for _, now in report["per_class"].values()) == len(
        [a for a in new["annotations"] if not a["iscrowd"]])
    assert [r["path"] for r in report["records"]] == ["options.count"]


def test_a_version_against_itself_changes_nothing(v1):
    text = diff(v1, v1)
    assert "0 added, 0 removed, 0 changed, 0 relabelled, 3 unchanged" in text
    assert "Manifest records: the same" in text


def test_removed_images_are_listed(v1, v2):
    report = diff(v2, v1, "--json")
    assert report["images"]["removed"] == ["000003.jpg", "000004.jpg"]
    assert report["records"][0] == {"path": "options.count", "old": 5, "new": 3}


@pytest.mark.parametrize("extra,changed,relabelled,record", [
    # other JPEG bytes, the same labels
    (["--jpeg-quality", "70"], 3, 0, "options.jpeg_quality: 90 -> 70"),
    # the same images, labels of fewer objects
    (["--min-pixels", "400"], 0, None, "options.labels.min_pixels: 20 -> 400"),
])
def test_changed_bytes_and_changed_labels_are_told_apart(tmp_path, v1, extra, changed,
                                                         relabelled, record):
    out = tmp_path / "other"
    assert invoke(*GENERATE, "--count", "3", "--out", out, *extra).exit_code == 0
    report = diff(v1, out, "--json")
    assert len(report["images"]["changed"]) == changed
    if relabelled is None:
        assert report["images"]["relabelled"], "some object falls under 400 pixels"
        assert sum(now for _, now in report["per_class"].values()) < sum(
            was for was, _ in report["per_class"].values())
    else:
        assert report["images"]["relabelled"] == []
    assert record in diff(v1, out)


def test_a_template_change_is_shown_as_a_short_record_diff(tmp_path):
    template = tmp_path / "mine.yaml"
    template.write_text("extends: urban\n")
    args = [*GENERATE[:1], "--scene", template, *GENERATE[3:], "--count", "2"]
    assert invoke(*args, "--out", tmp_path / "a").exit_code == 0
    template.write_text("extends: urban\ncamera:\n  fov_range: [60, 60]\n")
    assert invoke(*args, "--out", tmp_path / "b").exit_code == 0
    text = diff(tmp_path / "a", tmp_path / "b")
    assert "template.camera.fov_range: [" in text and "-> [60.0, 60.0]" in text
    assert "inputs.template.sha256: '" in text
    assert len(text.splitlines()) < 40


def test_a_real_import_grown_by_an_append(tmp_path):
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001"])
    week2 = kitti_batch(tmp_path / "week2", ["000005"], kind="Pedestrian")
    old = tmp_path / "real-v1"
    assert invoke("real", "import", "--format", "kitti", week1, "--out", old).exit_code == 0
    new = Path(shutil.copytree(old, tmp_path / "real-v2", symlinks=True))
    assert append(week2, new).exit_code == 0
    report = diff(old, new, "--json")
    assert report["old"]["kind"] == report["new"]["kind"] == "real import"
    assert report["images"]["added"] == ["000005.png"]
    assert report["images"]["compared_by"] == "name"
    assert report["per_class"]["pedestrian"] == [0, 1]
    assert report["appended"] == [{"source": str(week2), "images": 1}]
    text = diff(old, new)
    assert f"Appended: 1 images from {week2}" in text
    assert "compared only where both folders record their digests" in text


def test_two_mixes_per_split_by_content(tmp_path):
    synth = make_synthetic(tmp_path / "synth", 2)
    make_real(tmp_path / "real1", list(range(12)))
    # one more week of images, and the old ones renamed: matched by content all the same
    make_real(tmp_path / "real2", list(range(16)), [f"w2-{k}.png" for k in range(16)])
    mix_datasets([str(synth)], str(tmp_path / "real1"), str(tmp_path / "m1"), seed=0,
                 val_fraction=0.25, test_fraction=0.25)
    mix_datasets([str(synth)], str(tmp_path / "real2"), str(tmp_path / "m2"), seed=0,
                 val_fraction=0.25, test_fraction=0.25, previous=str(tmp_path / "m1"))
    report = diff(tmp_path / "m1", tmp_path / "m2", "--json")
    real = report["splits"]["real"]
    assert sum(len(split["added"]) for split in real.values()) == 4
    assert all(split["removed"] == [] for split in real.values())
    assert all(split["new"] - split["old"] == len(split["added"]) for split in real.values())
    assert report["splits"]["moved"] == []
    assert report["splits"]["files"]["pretrain"]["images"] == [2, 2]
    text = diff(tmp_path / "m1", tmp_path / "m2")
    assert "Real images per split (matched by content):" in text
    assert "no real image moved between splits" in text
    assert "options.real:" in text and "options.previous: None ->" in text


def test_an_image_moved_between_splits_is_reported(tmp_path):
    synth = make_synthetic(tmp_path / "synth", 2)
    make_real(tmp_path / "real", list(range(12)))
    for name, seed in (("m1", 0), ("m2", 1)):  # another seed places images elsewhere
        mix_datasets([str(synth)], str(tmp_path / "real"), str(tmp_path / name), seed=seed,
                     val_fraction=0.25, test_fraction=0.25)
    report = diff(tmp_path / "m1", tmp_path / "m2", "--json")
    assert report["splits"]["moved"], "seed 1 places some image elsewhere"
    assert "an earlier evaluation image may now be trained on" in diff(tmp_path / "m1",
                                                                        tmp_path / "m2")


@pytest.mark.parametrize("make,message", [
    # a mix against a generate folder
    (lambda tmp, v1: _mix(tmp), "diff compares two versions of one dataset"),
    # a folder that is not there
    (lambda tmp, v1: tmp / "nothing", "no such folder"),
    # an unfinished folder
    (lambda tmp, v1: _unfinished(tmp, v1), "unfinished"),
])
def test_diff_errors_exit_2_with_one_line(tmp_path, v1, make, message):
    result = invoke("diff", v1, make(tmp_path, v1))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.count("Error:") == 1


def _mix(tmp: Path) -> Path:
    synth = make_synthetic(tmp / "synth", 2)
    make_real(tmp / "real", list(range(8)))
    mix_datasets([str(synth)], str(tmp / "real"), str(tmp / "m"), seed=0, val_fraction=0.25,
                 test_fraction=0.25)
    return tmp / "m"


def _unfinished(tmp: Path, v1: Path) -> Path:
    copy = Path(shutil.copytree(v1, tmp / "copy"))
    (copy / "manifest.json").unlink()
    (copy / ".partial").mkdir()
    return copy


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["counts"]["val"].update(per_class=5), "field 'counts.val' is not what mix"),
    (lambda m: m["counts"]["val"].update(per_class={"car": "x"}),
     "field 'counts.val' is not what mix"),
    (lambda m: m["counts"]["val"].update(images="x"), "field 'counts.val' is not what mix"),
], ids=["per-class-a-number", "per-class-a-string-count", "images-a-string"])
def test_an_edited_mix_manifest_is_one_error_line(tmp_path, edit, message):
    mix = _mix(tmp_path)
    manifest = mix / "manifest.json"
    document = json.loads(manifest.read_text(encoding="utf-8"))
    edit(document)
    manifest.write_text(json.dumps(document), encoding="utf-8")
    result = invoke("diff", mix, mix)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.count("Error:") == 1


@pytest.mark.parametrize("appended", [5, [5], [{"counts": [1]}]],
                         ids=["a-number", "a-list-of-numbers", "counts-a-list"])
def test_an_edited_appended_record_is_one_error_line(tmp_path, appended):
    old = tmp_path / "real-v1"
    week1 = kitti_batch(tmp_path / "week1", ["000000", "000001"])
    assert invoke("real", "import", "--format", "kitti", week1, "--out", old).exit_code == 0
    new = Path(shutil.copytree(old, tmp_path / "real-v2", symlinks=True))
    manifest = new / "manifest.json"
    document = json.loads(manifest.read_text(encoding="utf-8"))
    document["appended"] = appended
    manifest.write_text(json.dumps(document), encoding="utf-8")
    result = invoke("diff", old, new)
    assert result.exit_code == 2, result.output
    assert "field 'appended' is not what real import writes" in result.output
    assert "Traceback" not in result.output and result.output.count("Error:") == 1


def test_a_turned_photo_an_earlier_mix_recorded_as_it_was_is_matched(tmp_path):
    # An earlier synthgen linked a turned photo as it was and recorded those bytes' digest;
    # a later mix holds it with its orientation reset: the same image, in the same split.
    synth = make_synthetic(tmp_path / "synth", 2)
    real = turned_photo_set(tmp_path / "real", 8)
    for name in ("m1", "m2"):
        mix_datasets([str(synth)], str(real), str(tmp_path / name), seed=0,
                     val_fraction=0.25, test_fraction=0.25)
    # m1 as an earlier synthgen wrote it: the photos as they were, their digests recorded
    manifest = tmp_path / "m1" / "manifest.json"
    document = json.loads(manifest.read_text(encoding="utf-8"))
    for record in document["real_images"]:
        photo = (real / "images" / Path(record["file_name"]).name).read_bytes()
        placed = tmp_path / "m1" / "images" / record["file_name"]
        placed.unlink()
        placed.write_bytes(photo)
        record["sha256"] = hashlib.sha256(photo).hexdigest()
    manifest.write_text(json.dumps(document), encoding="utf-8")
    report = diff(tmp_path / "m1", tmp_path / "m2", "--json")
    assert all(s["added"] == [] and s["removed"] == [] for s in report["splits"]["real"].values())
    assert report["splits"]["moved"] == []
