"""``synthgen generate`` as a user meets it: files, COCO validity, determinism, safety."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import synthgen
from synthgen.categories import CATEGORY_NAMES
from synthgen.cli import cli, log_level

SMALL = ["--size", "192x112", "--image-format", "png"]


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def generate(out: Path, *extra: str, scene: str = "urban", count: int = 4, seed: int = 3):
    result = run("-q", "generate", "--scene", scene, "--count", str(count), "--out", str(out),
                 "--seed", str(seed), *SMALL, *extra)
    assert result.exit_code == 0, result.output
    return result


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "urban"
    generate(out, "--workers", "1", count=6)
    return out


def test_writes_images_annotations_and_manifest(dataset):
    assert sorted(p.name for p in dataset.iterdir()) == ["annotations.json", "images",
                                                         "images.sha256", "manifest.json"]
    document = json.loads((dataset / "annotations.json").read_text())
    assert [c["id"] for c in document["categories"]] == list(range(1, 8))
    assert [c["name"] for c in document["categories"]] == list(CATEGORY_NAMES)
    assert len(document["images"]) == 6
    for image in document["images"]:
        with Image.open(dataset / "images" / image["file_name"]) as picture:
            assert picture.size == (image["width"], image["height"]) == (192, 112)
        for key in ("scene", "seed", "camera", "time_of_day", "weather"):
            assert key in image
    ids = [a["id"] for a in document["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["template"]["name"] == "urban"
    assert manifest["options"]["size"] == [192, 112]
    # the folder's content pinned by the manifest: every byte of it, as sha256sum says
    assert manifest["digests"] == {
        "annotations.json": hashlib.sha256((dataset / "annotations.json").read_bytes()).hexdigest(),
        "images.sha256": hashlib.sha256((dataset / "images.sha256").read_bytes()).hexdigest()}
    assert (dataset / "images.sha256").read_text() == "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  images/{p.name}\n"
        for p in sorted((dataset / "images").iterdir()))
    # and the template's file with the file it extends
    bundled = Path(synthgen.__file__).parent / "scenes"
    assert manifest["inputs"] == {"template": {
        "sha256": hashlib.sha256((bundled / "urban.yaml").read_bytes()).hexdigest(),
        "extends": [{"file": "_base.yaml", "sha256": hashlib.sha256(
            (bundled / "_base.yaml").read_bytes()).hexdigest()}]}}
    text = (dataset / "manifest.json").read_text() + (dataset / "annotations.json").read_text()
    assert str(dataset) not in text and "/tmp" not in text, "no absolute paths in outputs"


def test_every_box_is_the_tight_bound_of_its_mask_and_inside_the_image(dataset):
    document = json.loads((dataset / "annotations.json").read_text())
    sizes = {i["id"]: (i["width"], i["height"]) for i in document["images"]}
    assert document["annotations"], "a 6-image urban set has objects"
    for ann in document["annotations"]:
        rle = {"size": ann["segmentation"]["size"],
               "counts": ann["segmentation"]["counts"].encode()}
        mask = mask_utils.decode(rle)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert ann["bbox"] == [cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0]]
        assert ann["area"] == mask.sum()
        width, height = sizes[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height and w > 0 and h > 0
        ax, ay, aw, ah = ann["bbox_amodal"]
        assert ax <= x and ay <= y and ax + aw >= x + w and ay + ah >= y + h
        assert 0 < ann["visibility"] <= 1 and 0 <= ann["truncation"] < 1
        assert ann["occluded"] in (0, 1, 2) and ann["iscrowd"] in (0, 1)
        # An ignore region (an object seen too little, or too faint) says which rule.
        assert (ann["iscrowd"] == 1) == ("ignored" in ann)


def test_coco_ground_truth_against_itself_scores_ap_1(dataset):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(dataset / "annotations.json"))
        detections = [{"image_id": a["image_id"], "category_id": a["category_id"],
                       "bbox": a["bbox"], "score": 1.0} for a in coco.dataset["annotations"]]
        evaluation = COCOeval(coco, coco.loadRes(detections), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_workers_do_not_change_a_byte(tmp_path, dataset):
    generate(tmp_path / "two", "--workers", "2", count=6)
    assert folder_bytes(tmp_path / "two") == folder_bytes(dataset)


def test_jpeg_is_the_default_format(tmp_path):
    result = run("-q", "generate", "--scene", "rural", "--count", "1", "--out",
                 str(tmp_path / "j"), "--size", "128x80", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "j" / "images").iterdir()] == ["000000.jpg"]
    assert "1 image, " in result.output and "car" in result.output


def test_an_existing_folder_is_never_overwritten_without_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "notes.txt"
    keep.write_text("mine")
    args = ["generate", "--scene", "rural", "--count", "1", "--out", str(out), "--workers", "1",
            *SMALL]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    accepted = CliRunner().invoke(cli, ["-q", *args, "--overwrite"])
    assert accepted.exit_code == 0, accepted.output
    assert keep.read_text() == "mine", "--overwrite removes only what synthgen wrote"
    assert (out / "annotations.json").is_file()


@pytest.mark.parametrize("args,message", [
    # unknown bundled scene
    (["--scene", "mars", "--count", "1"], "unknown scene 'mars'"),
    # a size that is not WxH
    (["--scene", "urban", "--count", "1", "--size", "big"], "WIDTHxHEIGHT"),
    # a side too small to render
    (["--scene", "urban", "--count", "1", "--size", "10x10"], "between 64 and 8192"),
    # zero images
    (["--scene", "urban", "--count", "0"], "--count"),
    # unsupported image format
    (["--scene", "urban", "--count", "1", "--image-format", "bmp"], "--image-format"),
])
def test_bad_options_exit_2_with_a_message(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["generate", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_every_template_gives_busy_scenes_with_many_categories(tmp_path):
    categories, busy, total = set(), 0, 0
    for scene in ("urban", "highway", "rural", "intersection"):
        out = tmp_path / scene
        generate(out, "--workers", "1", "--size", "320x192", scene=scene, count=8, seed=7)
        document = json.loads((out / "annotations.json").read_text())
        per_image = {i["id"]: 0 for i in document["images"]}
        for ann in document["annotations"]:
            per_image[ann["image_id"]] += 1
            categories.add(ann["category_id"])
        busy += sum(n >= 2 for n in per_image.values())
        total += len(per_image)
    assert len(categories) >= 5
    assert busy / total > 0.6, "most images hold several objects"


@pytest.mark.parametrize("verbose,quiet,level", [
    (0, 0, logging.WARNING),
    (1, 0, logging.INFO),     # what each step does
    (2, 0, logging.DEBUG),
    (0, 1, logging.WARNING),  # -q hides progress bars, not warnings
    (0, 2, logging.ERROR),
    (5, 0, logging.DEBUG),
    (0, 9, logging.CRITICAL),
])
def test_log_level_of_v_and_q(verbose, quiet, level):
    assert log_level(verbose, quiet) == level


@pytest.mark.parametrize("flags,bar", [
    ([], True),
    (["-q"], False),
    (["-q", "-v"], False),  # -v adds log lines; -q still hides the bar
    (["-v"], True),
])
def test_q_hides_the_progress_bar_whatever_v_says(tmp_path, flags, bar):
    result = CliRunner().invoke(cli, [*flags, "generate", "--scene", "rural", "--count", "2",
                                      "--size", "160x96", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert ("generate rural: 100%" in result.output) is bar, result.output


def test_workers_start_before_the_template_is_read_and_render_the_run(tmp_path, monkeypatch):
    """Two workers are started first (they import the renderer while the command reads
    the template and prepares the folder), then given the run: the same bytes as one
    worker."""
    import synthgen.commands.generate as command
    import synthgen.scene.templates as templates

    events: list[str] = []
    start, load = command.start_workers, templates.load_template
    monkeypatch.setattr(command, "start_workers",
                        lambda *args: events.append("workers") or start(*args))
    monkeypatch.setattr(templates, "load_template",
                        lambda *args: events.append("template") or load(*args))
    generate(tmp_path / "two", "--workers", "2", count=6)
    assert events == ["workers", "template"]
    generate(tmp_path / "one", "--workers", "1", count=6)
    assert folder_bytes(tmp_path / "one" / "images") == \
        folder_bytes(tmp_path / "two" / "images")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_started_for_a_run_that_fails_its_checks_are_stopped(tmp_path):
    from tests.generate.test_workers import _children

    template = tmp_path / "bad.yaml"
    template.write_text("name: bad\ncamera: 3\n")
    result = run("generate", "--scene", str(template), "--count", "4", "--workers", "2",
                 "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "Error:" in result.output
    assert not _children()
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("workers", "images", "processes"), [
    (2, 1, 1), (2, 4, 1), (2, 5, 2), (2, 1000, 2), (8, 9, 3), (1, 100, 1),
])
def test_worker_processes_are_as_many_as_the_images_keep_busy(workers, images, processes):
    from synthgen.generate.worker_start import worker_processes

    assert worker_processes(workers, images) == processes


@pytest.mark.parametrize(("extra", "images"), [
    ((), 12),
    (("--shard", "2/3"), 4),
])
def test_workers_are_started_for_the_images_the_run_renders(tmp_path, monkeypatch, extra,
                                                             images):
    import synthgen.commands.generate as command

    asked: list[tuple[int, int]] = []
    start = command.start_workers
    monkeypatch.setattr(command, "start_workers",
                        lambda *args: asked.append(args) or start(*args))
    generate(tmp_path / "o", "--workers", "2", *extra, count=12)
    assert asked == [(2, images)]


def test_workers_are_started_for_the_images_an_extend_adds(tmp_path, monkeypatch):
    import synthgen.commands.generate as command

    generate(tmp_path / "o", "--workers", "1", count=1)
    asked: list[tuple[int, int]] = []
    start = command.start_workers
    monkeypatch.setattr(command, "start_workers",
                        lambda *args: asked.append(args) or start(*args))
    generate(tmp_path / "o", "--workers", "2", "--extend", "12", count=1)
    assert asked == [(2, 12)]
