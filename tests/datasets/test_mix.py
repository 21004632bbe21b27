"""``synthgen mix``: split files, weights, stratification, determinism, errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from synthgen.categories import CATEGORY_ID, CATEGORY_NAME
from synthgen.cli import cli
from synthgen.datasets.mix import (
    OUTPUT_FILES,
    MixError,
    check_fractions,
    split_position,
    split_sizes,
    stable_split,
)
from synthgen.formats.validate import validate_path
from synthgen.storage.images import image_digests
from tests.factories import annotation, make_coco_folder

SYNTH_SIZE = (48, 32)
CLASSES = ("car", "truck", "bus", "pedestrian", "cyclist", "traffic_light", "traffic_sign")


def synthetic_annotation(ann_id: int, image_id: int, name: str,
                         box: tuple[int, int, int, int]) -> dict[str, Any]:
    """An annotation like ``synthgen generate`` writes: RLE mask and extra fields."""
    x, y, w, h = box
    mask = np.zeros(SYNTH_SIZE[::-1], np.uint8)
    mask[y:y + h, x:x + w] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return annotation(ann_id, image_id, CATEGORY_ID[name], [x, y, w, h],
                      segmentation={"size": rle["size"], "counts": rle["counts"].decode()},
                      bbox_amodal=[x - 1, y, w + 1, h], visibility=0.75, truncation=0.1,
                      occluded=1)


def make_synthetic(root: Path, n: int, names: tuple[str, ...] = CLASSES,
                   categories: list[dict[str, Any]] | None = None) -> Path:
    """``n`` synthetic images (files 000000.png...), one object each, classes in turn."""
    images, anns = [], []
    for i in range(n):
        images.append({"id": i + 1, "file_name": f"{i:06d}.png", "width": SYNTH_SIZE[0],
                       "height": SYNTH_SIZE[1], "source": "synthetic",
                       "weather": {"kind": "rain", "intensity": 0.5}, "scene_seed": 1000 + i})
        anns.append(synthetic_annotation(i + 1, i + 1, names[i % len(names)], (2, 3, 10, 8)))
    return make_coco_folder(root, images, anns, categories, unique_images=True)


#: Classes of the real images: 30 images, car everywhere, the others rarer.
REAL_CLASSES = (
    [("car",)] * 12 + [("car", "pedestrian")] * 6 + [("pedestrian",)] * 3
    + [("cyclist",)] * 3 + [("car", "truck")] * 3 + [("bus",)] * 2 + [()] * 1
)


def make_real(root: Path) -> Path:
    """A real set like ``real import`` writes (boxes only, ``source: real``, a crowd region)."""
    images, anns = [], []
    for i, names in enumerate(REAL_CLASSES):
        images.append({"id": i + 1, "file_name": f"{i:06d}.png", "width": 64, "height": 40,
                       "source": "real", "source_file": f"training/image_2/{i:06d}.png"})
        for name in names:
            anns.append(annotation(len(anns) + 1, i + 1, CATEGORY_ID[name], [4.5, 5, 20, 10.25],
                                   kitti_type=name.title(), truncation=0.0, occluded=0))
        anns.append(annotation(len(anns) + 1, i + 1, CATEGORY_ID["car"], [40, 0, 24, 8],
                               iscrowd=1, kitti_type="DontCare"))
    return make_coco_folder(root, images, anns, unique_images=True)


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def run_mix(*args: str) -> Any:
    return CliRunner().invoke(cli, ["mix", *args])


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    return {"s0": make_synthetic(tmp_path / "synth0", 8),
            "s1": make_synthetic(tmp_path / "synth1", 5),
            "real": make_real(tmp_path / "real")}


def mix_into(inputs: dict[str, Path], out: Path, *extra: str) -> Any:
    result = run_mix("--synthetic", str(inputs["s0"]), "--synthetic", str(inputs["s1"]),
                     "--real", str(inputs["real"]), "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    return {name: read_json(out / "annotations" / f"{name}.json") for name in OUTPUT_FILES}


def origins(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return [(image["origin_input"], image["origin_id"]) for image in doc["images"]]


def expected_split(real: Path, seed: int, val: float = 0.2,
                   test: float = 0.2) -> dict[str, set[tuple[str, int]]]:
    """Where the stable rule puts each image of the real set ``real``: split file ->
    origins. Fixture images carry a hash of their path, so this is computed, not fixed."""
    placed: dict[str, set[tuple[str, int]]] = {"finetune": set(), "val": set(), "test": set()}
    for image in read_json(real / "annotations.json")["images"]:
        digest = image_digests(real / "images" / image["file_name"])[0]
        split = stable_split(digest, seed, val, test)
        placed["finetune" if split == "train" else split].add(("real", image["id"]))
    return placed


def seed_where(real: Path, wanted: Any, val: float = 0.2, test: float = 0.2) -> int:
    """The first seed whose stable split of ``real`` satisfies ``wanted(placed)``."""
    return next(seed for seed in range(10_000)
                if wanted(expected_split(real, seed, val, test)))


# --------------------------------------------------------------------------- outputs


def test_mix_writes_the_five_files(inputs: dict[str, Path], tmp_path: Path) -> None:
    before = {name: tree_digest(path) for name, path in inputs.items()}
    out = tmp_path / "out"
    docs = mix_into(inputs, out, "--seed", "7", "--real-weight", "3")
    assert {name: tree_digest(path) for name, path in inputs.items()} == before

    real_ids = {("real", i) for i in range(1, len(REAL_CLASSES) + 1)}
    synth_ids = ([("synthetic-0", i) for i in range(1, 9)]
                 + [("synthetic-1", i) for i in range(1, 6)])
    assert origins(docs["pretrain"]) == synth_ids
    finetune, val, test = (set(origins(docs[n])) for n in ("finetune", "val", "test"))
    assert finetune | val | test == real_ids
    assert not (finetune & val or finetune & test or val & test)
    assert {"finetune": finetune, "val": val, "test": test} == expected_split(inputs["real"], 7)
    n_train = len(finetune)
    for name in ("finetune", "val", "test"):
        assert {image["source"] for image in docs[name]["images"]} == {"real"}
        assert docs[name]["info"]["segmentation"] == "none"  # real sets: boxes only
    assert {image["source"] for image in docs["pretrain"]["images"]} == {"synthetic"}

    # train = synthetic + each real training image 3 times, as separate entries
    train = docs["train"]
    assert origins(train)[:13] == synth_ids
    assert Counter(origins(train)[13:]) == {origin: 3 for origin in finetune}
    real_entries = [image for image in train["images"] if image["source"] == "real"]
    assert Counter(image["repeat"] for image in real_entries) == dict.fromkeys(range(3), n_train)
    assert {image["weight"] for image in train["images"]} == {1.0}
    by_file = Counter(image["file_name"] for image in real_entries)
    assert set(by_file.values()) == {3}

    for name, doc in docs.items():
        assert [image["id"] for image in doc["images"]] == list(range(1, len(doc["images"]) + 1))
        assert [a["id"] for a in doc["annotations"]] == list(range(1, len(doc["annotations"]) + 1))
        report = validate_path(out / "annotations" / f"{name}.json")
        assert report.ok, report.to_text()
        coco = COCO(str(out / "annotations" / f"{name}.json"))
        assert len(coco.getImgIds()) == len(doc["images"])
        assert all(image["weight"] == 1.0 and image["source"] for image in doc["images"])
    result = CliRunner().invoke(cli, ["validate", str(out / "annotations" / "train.json")])
    assert result.exit_code == 0, result.output

    # train.json holds 3 copies of every real annotation, each with its own id
    real_anns = sum(len([a for a in docs["finetune"]["annotations"]]) for _ in range(3))
    assert len(train["annotations"]) == len(docs["pretrain"]["annotations"]) + real_anns


def test_images_are_linked_per_input_without_collisions(inputs: dict[str, Path],
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    docs = mix_into(inputs, out, "--seed", "1")
    # (real/000000.png may be in any split: where is decided by its content)
    names = {image["file_name"] for doc in docs.values() for image in doc["images"]}
    assert {"synthetic-0/000000.png", "synthetic-1/000000.png", "real/000000.png"} <= names
    assert (out / "images" / "synthetic-1" / "000000.png").samefile(
        inputs["s1"] / "images" / "000000.png")
    linked = {p.relative_to(out / "images").as_posix()
              for p in (out / "images").rglob("*.png")}
    assert linked == {image["file_name"] for doc in docs.values() for image in doc["images"]}


def test_extra_fields_are_kept(inputs: dict[str, Path], tmp_path: Path) -> None:
    docs = mix_into(inputs, tmp_path / "out", "--seed", "1")
    source = read_json(inputs["s0"] / "annotations.json")
    first_image, first_ann = docs["pretrain"]["images"][0], docs["pretrain"]["annotations"][0]
    assert first_image["weather"] == {"kind": "rain", "intensity": 0.5}
    assert first_image["scene_seed"] == 1000
    original = source["annotations"][0]
    for key in ("bbox", "area", "segmentation", "bbox_amodal", "visibility", "truncation",
                "occluded", "iscrowd", "category_id"):
        assert first_ann[key] == original[key]
    real_crowd = [a for name in ("finetune", "val", "test") for a in docs[name]["annotations"]
                  if a["iscrowd"]]
    assert real_crowd and {a["kitti_type"] for a in real_crowd} == {"DontCare"}


def test_manifest_records_provenance_and_counts(inputs: dict[str, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_mix("--synthetic", "synth0", "--synthetic", "synth1", "--real", "real",
                     "--out", "out", "--seed", "3", "--val-fraction", "0.1",
                     "--test-fraction", "0.3", "--real-weight", "2")
    assert result.exit_code == 0, result.output
    manifest = read_json(tmp_path / "out" / "manifest.json")
    assert manifest["inputs"] == {"synthetic-0": "synth0", "synthetic-1": "synth1",
                                  "real": "real"}
    assert (manifest["seed"], manifest["fractions"], manifest["real_weight"]) == (
        3, {"val": 0.1, "test": 0.3}, 2)
    for name in OUTPUT_FILES:
        doc = read_json(tmp_path / "out" / "annotations" / f"{name}.json")
        counts = manifest["counts"][name]
        assert counts["images"] == len(doc["images"])
        per_class = Counter(CATEGORY_NAME[a["category_id"]] for a in doc["annotations"]
                            if not a["iscrowd"])
        assert {k: v for k, v in counts["per_class"].items() if v} == dict(per_class)
    placed = expected_split(tmp_path / "real", 3, 0.1, 0.3)
    assert manifest["counts"]["val"]["images"] == len(placed["val"])
    assert manifest["counts"]["test"]["images"] == len(placed["test"])
    assert manifest["counts"]["train"]["per_source"] == {
        "synthetic": 13, "real": 2 * len(placed["finetune"])}
    assert "train.json" in result.output
    # every real image's content digest and split, for a later mix --previous
    records = {r["file_name"]: (r["sha256"], r["split"]) for r in manifest["real_images"]}
    assert len(records) == len(REAL_CLASSES)
    assert records["real/000000.png"][0] == image_digests(tmp_path / "real/images/000000.png")[0]
    split_of = {f"real/{i - 1:06d}.png": name for name, ids in placed.items() for _, i in ids}
    assert {name: split for name, (_, split) in records.items()} == split_of
    assert manifest["previous"] is None and "stable" in manifest["split_rule"]


def test_same_seed_same_bytes_other_seed_other_split(inputs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    first = mix_into(inputs, tmp_path / "a", "--seed", "11")
    again = mix_into(inputs, tmp_path / "b", "--seed", "11")
    other = mix_into(inputs, tmp_path / "c", "--seed", "12")
    for name in OUTPUT_FILES:
        assert ((tmp_path / "a" / "annotations" / f"{name}.json").read_bytes()
                == (tmp_path / "b" / "annotations" / f"{name}.json").read_bytes())
    assert first == again
    assert origins(first["val"]) != origins(other["val"])


def test_a_class_missing_from_val_or_test_is_warned_about(inputs, tmp_path, caplog):
    """The stable rule places each image on its own: it cannot make sure every class
    reaches val and test (the stratified split it replaced did), so it says when not."""
    bus = {("real", i + 1) for i, names in enumerate(REAL_CLASSES) if "bus" in names}
    seed = seed_where(inputs["real"], lambda placed: placed["val"] and placed["test"]
                      and not bus & placed["test"])
    with caplog.at_level(logging.WARNING, logger="synthgen.datasets.mix"):
        docs = mix_into(inputs, tmp_path / "out", "--seed", str(seed))
    assert not {CATEGORY_NAME[a["category_id"]] for a in docs["test"]["annotations"]} & {"bus"}
    assert "test.json holds no image of bus (2 real image(s) have one)" in caplog.text


def test_map_file_for_foreign_category_names(tmp_path: Path) -> None:
    foreign = [{"id": 1, "name": "automobile"}, {"id": 2, "name": "Traffic Light"},
               {"id": 3, "name": "tree"}, {"id": 4, "name": "tram"}]
    synth = make_synthetic(tmp_path / "s", 8, names=("car",), categories=[
        {"id": 1, "name": "car"}])
    doc = read_json(synth / "annotations.json")
    doc["categories"] = foreign
    for i, ann in enumerate(doc["annotations"]):
        ann["category_id"] = i % 4 + 1
    (synth / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")
    real = make_real(tmp_path / "real")
    args = ["--synthetic", str(synth), "--real", str(real), "--seed", "0"]

    result = run_mix(*args, "--out", str(tmp_path / "o1"))
    assert result.exit_code == 2
    assert "categories 'automobile', 'tree', 'tram' are not synthgen categories" in result.output
    assert "--map" in result.output
    assert not (tmp_path / "o1").exists()

    mapping = tmp_path / "map.yaml"
    mapping.write_text("automobile: car\ntree: drop\ntram: ignore\n", encoding="utf-8")
    result = run_mix(*args, "--map", str(mapping), "--out", str(tmp_path / "o2"))
    assert result.exit_code == 0, result.output
    pretrain = read_json(tmp_path / "o2" / "annotations" / "pretrain.json")
    rows = Counter((a["category_id"], a["iscrowd"]) for a in pretrain["annotations"])
    assert rows == {(CATEGORY_ID["car"], 0): 2, (CATEGORY_ID["traffic_light"], 0): 2,
                    (CATEGORY_ID["car"], 1): 2}
    assert validate_path(tmp_path / "o2" / "annotations" / "pretrain.json").ok


# --------------------------------------------------------------------------- errors

MIX_ERRORS = [
    # a negative fraction
    (["--val-fraction", "-0.1"], "--val-fraction -0.1: expected a number in [0, 1)"),
    # a fraction of 1
    (["--test-fraction", "1"], "--test-fraction 1.0: expected a number in [0, 1)"),
    # not a number at all
    (["--val-fraction", "nan"], "--val-fraction nan: expected a number in [0, 1)"),
    # fractions leaving no real training image
    (["--val-fraction", "0.5", "--test-fraction", "0.5"], "= 1: must be below 1"),
    # weight 0 (click's own range check, also exit 2)
    (["--real-weight", "0"], "0 is not in the range x>=1"),
    # a missing input
    (["--synthetic", "{tmp}/nothere"], "nothere: no such file or folder"),
    # the output is an input
    (["--out", "{tmp}/real", "--overwrite"], "overlaps the input"),
    # a bad map file
    (["--map", "{tmp}/bad.yaml"], "bad.yaml: 'car' maps to 'auto'"),
    # an existing non-empty output
    (["--out", "{tmp}/synth0"], "overlaps the input"),
]


@pytest.mark.parametrize(("extra", "message"), MIX_ERRORS)
def test_bad_options_exit_2(inputs: dict[str, Path], tmp_path: Path, extra: list[str],
                            message: str) -> None:
    (tmp_path / "bad.yaml").write_text("car: auto\n", encoding="utf-8")
    before = {name: tree_digest(path) for name, path in inputs.items()}
    args = [arg.format(tmp=tmp_path) for arg in extra]
    if "--synthetic" not in args:
        args += ["--synthetic", str(inputs["s0"])]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    result = run_mix("--real", str(inputs["real"]), "--seed", "0", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert {name: tree_digest(path) for name, path in inputs.items()} == before


def test_invalid_input_is_refused_with_pointer_to_validate(inputs: dict[str, Path],
                                                           tmp_path: Path) -> None:
    doc = read_json(inputs["s1"] / "annotations.json")
    doc["annotations"][0]["bbox"] = [40, 3, 10, 8]  # past the 48 px right edge
    (inputs["s1"] / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")
    result = run_mix("--synthetic", str(inputs["s1"]), "--real", str(inputs["real"]),
                     "--seed", "0", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "not a valid COCO dataset" in result.output
    assert f"run `synthgen validate {inputs['s1']}`" in result.output


def test_too_few_real_images(tmp_path: Path) -> None:
    real = make_coco_folder(tmp_path / "real", [
        {"id": 1, "file_name": "a.png", "width": 8, "height": 8},
        {"id": 2, "file_name": "b.png", "width": 8, "height": 8}], [], unique_images=True)
    synth = make_synthetic(tmp_path / "s", 2)
    result = run_mix("--synthetic", str(synth), "--real", str(real), "--seed", "0",
                     "--val-fraction", "0.4", "--test-fraction", "0.4",
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "2 image(s) are too few" in result.output


# --------------------------------------------------------------------------- the split

FRACTION_CASES = [
    # the defaults
    (0.2, 0.2, None),
    # no validation split at all is allowed
    (0.0, 0.3, None),
    # just below 1 together
    (0.5, 0.49, None),
    # together 1
    (0.6, 0.4, "must be below 1"),
    # negative
    (0.2, -0.01, "--test-fraction -0.01"),
    # infinite
    (float("inf"), 0.1, "--val-fraction inf"),
]


@pytest.mark.parametrize(("val", "test", "error"), FRACTION_CASES)
def test_check_fractions(val: float, test: float, error: str | None) -> None:
    if error is None:
        check_fractions(val, test)
    else:
        with pytest.raises(MixError, match=error):
            check_fractions(val, test)


SIZE_CASES = [
    # 30 images at 0.2 / 0.2
    (30, 0.2, 0.2, {"train": 18, "val": 6, "test": 6}),
    # val and test together round once (0.4 of 5 = 2), then val (0.5 -> 1), test the rest
    (5, 0.1, 0.3, {"train": 3, "val": 1, "test": 1}),
    # too few to give val anything: what val and test hold together (0.8 -> 1) goes to test
    (2, 0.2, 0.2, {"train": 1, "val": 0, "test": 1}),
    # two halves do not both round up and leave nothing to fine-tune on
    (50, 0.49, 0.49, {"train": 1, "val": 25, "test": 24}),
]


@pytest.mark.parametrize(("n", "val", "test", "expected"), SIZE_CASES)
def test_split_sizes(n: int, val: float, test: float, expected: dict[str, int]) -> None:
    assert split_sizes(n, val, test) == expected


def test_the_stable_rule_is_fixed() -> None:
    """The rule's numbers are part of every mix's output: changing them moves images
    between splits of every real set. This pins them (see stable_split)."""
    digest = hashlib.sha256(b"").hexdigest()
    assert split_position(digest, 0) == pytest.approx(0.6551433806307098, abs=1e-15)
    assert split_position(digest, 1) != split_position(digest, 0)


STABLE_CASES = [
    # below the val fraction: val
    (0.05, 0.2, 0.2, "val"),
    # between val and val + test: test
    (0.3, 0.2, 0.2, "test"),
    # above both: fine-tuning
    (0.41, 0.2, 0.2, "train"),
    # no val at all: the test band starts at 0
    (0.05, 0.0, 0.2, "test"),
    # no held-out images at all
    (0.0, 0.0, 0.0, "train"),
]


@pytest.mark.parametrize(("position", "val", "test", "expected"), STABLE_CASES)
def test_stable_split_thresholds(monkeypatch: pytest.MonkeyPatch, position: float, val: float,
                                 test: float, expected: str) -> None:
    monkeypatch.setattr("synthgen.datasets.mix.split_position", lambda digest, seed: position)
    assert stable_split("00" * 32, 0, val, test) == expected


def test_stable_split_keeps_the_fractions_on_average() -> None:
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(20_000)]
    shares = Counter(stable_split(d, 5, 0.2, 0.1) for d in digests)
    # 20,000 images: one standard deviation is 0.28 points for val, 0.21 for test
    assert shares["val"] / 20_000 == pytest.approx(0.2, abs=0.012)
    assert shares["test"] / 20_000 == pytest.approx(0.1, abs=0.009)


# --------------------------------------------------------------------------- the real sample


def test_mix_with_real_kitti_sample(kitti_dir: Path, tmp_path: Path) -> None:
    imported = tmp_path / "kitti"
    result = CliRunner().invoke(cli, ["real", "import", "--format", "kitti", str(kitti_dir),
                                      "--out", str(imported)])
    assert result.exit_code == 0, result.output
    synth = make_synthetic(tmp_path / "synth", 6)
    result = run_mix("--synthetic", str(synth), "--real", str(imported), "--seed", "0",
                     "--real-weight", "2", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    for name in OUTPUT_FILES:
        report = validate_path(tmp_path / "out" / "annotations" / f"{name}.json")
        assert report.ok, report.to_text()
    # The stable rule with seed 0 on these 50 images (asked: 10 and 10).
    for name, count in (("val", 9), ("test", 11)):
        doc = read_json(tmp_path / "out" / "annotations" / f"{name}.json")
        assert len(doc["images"]) == count
        present = {CATEGORY_NAME[a["category_id"]] for a in doc["annotations"]
                   if not a["iscrowd"]}
        assert present == {"car", "truck", "pedestrian", "cyclist"}


# --------------------------------------------------------------------------- real only

def test_a_synthetic_set_is_refused_as_real(inputs: dict[str, Path], tmp_path: Path) -> None:
    # val and test must never hold synthetic images, whatever the user passes as --real
    result = run_mix("--synthetic", str(inputs["s0"]), "--real", str(inputs["s1"]),
                     "--out", str(tmp_path / "m"), "--seed", "0")
    assert result.exit_code == 2, result.output
    assert "synthetic" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_a_generated_folder_is_refused_as_real_by_its_manifest(inputs: dict[str, Path],
                                                               tmp_path: Path) -> None:
    fake = make_real(tmp_path / "fake")
    (fake / "manifest.json").write_text(json.dumps({"kind": "synthetic"}))
    result = run_mix("--synthetic", str(inputs["s0"]), "--real", str(fake),
                     "--out", str(tmp_path / "m"), "--seed", "0")
    assert result.exit_code == 2 and "kind: synthetic" in result.output


def test_an_image_in_both_synthetic_and_real_inputs_is_refused(inputs: dict[str, Path],
                                                               tmp_path: Path) -> None:
    # The same file given as real (here: the real set reused as "synthetic") would put
    # evaluation images into training.
    real = inputs["real"]
    twin = tmp_path / "twin"
    (twin / "images").mkdir(parents=True)
    document = read_json(real / "annotations.json")
    for image in document["images"]:
        os.link(real / "images" / image["file_name"], twin / "images" / image["file_name"])
        image["source"] = "synthetic"
    (twin / "annotations.json").write_text(json.dumps(document))
    result = run_mix("--synthetic", str(twin), "--real", str(real), "--out",
                     str(tmp_path / "m"), "--seed", "0")
    assert result.exit_code == 2, result.output
    assert "also the synthetic input" in result.output


def _duplicate_real_image(real: Path, how: str) -> None:
    """Give the real set a second entry for its first image: the same file, a hard link
    or a byte copy under another name."""
    document = read_json(real / "annotations.json")
    first = document["images"][0]
    name = first["file_name"] if how == "same entry" else "twin.png"
    if how == "hard link":
        os.link(real / "images" / first["file_name"], real / "images" / name)
    elif how == "byte copy":
        shutil.copyfile(real / "images" / first["file_name"], real / "images" / name)
    document["images"].append({**first, "id": 999, "file_name": name})
    (real / "annotations.json").write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize("how", ["same entry", "hard link", "byte copy"])
def test_an_image_twice_in_the_real_set_is_refused(inputs, tmp_path, how):
    """The two entries could go to fine-tuning and to test: test would leak."""
    _duplicate_real_image(inputs["real"], how)
    result = run_mix("--synthetic", str(inputs["s0"]), "--real", str(inputs["real"]),
                     "--seed", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2, result.output
    twice = "is listed twice" if how == "same entry" else "is also the real image"
    assert twice in result.output and "remove the duplicate" in result.output
    assert not (tmp_path / "m").exists()


def test_a_byte_copy_of_a_real_image_among_the_synthetic_ones_is_refused(inputs, tmp_path):
    real_image = sorted((inputs["real"] / "images").iterdir())[3]
    shutil.copyfile(real_image, inputs["s1"] / "images" / "copy.png")
    document = read_json(inputs["s1"] / "annotations.json")
    document["images"].append({"id": 99, "file_name": "copy.png", "width": 64, "height": 40,
                               "source": "synthetic"})
    (inputs["s1"] / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    result = run_mix("--synthetic", str(inputs["s1"]), "--real", str(inputs["real"]),
                     "--seed", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2, result.output
    assert "is also the synthetic input" in result.output


@pytest.mark.parametrize("second", [
    # the same folder again
    lambda folder, tmp: folder,
    # the folder, then its annotations.json
    lambda folder, tmp: folder / "annotations.json",
    # a link to the folder
    lambda folder, tmp: (tmp / "link").symlink_to(folder) or tmp / "link",
])
def test_a_synthetic_set_given_twice_is_refused(inputs, tmp_path, second):
    """Pre-training would see its images twice as often as the others'."""
    again = second(inputs["s0"], tmp_path)
    result = run_mix("--synthetic", str(inputs["s0"]), "--synthetic", str(again),
                     "--real", str(inputs["real"]), "--seed", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2, result.output
    assert f"--synthetic {again}: shares its image" in result.output
    assert "give each synthetic set once" in result.output
    assert not (tmp_path / "m").exists()


def test_a_real_set_given_as_synthetic_is_refused(inputs, tmp_path):
    result = run_mix("--synthetic", str(inputs["real"]), "--real", str(inputs["real"]),
                     "--seed", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2, result.output
    assert "--synthetic" in result.output and "says it is real" in result.output


@pytest.mark.parametrize("which,stopped_before_annotations", [
    ("s1", False), ("real", False), ("s1", True)])
def test_an_unfinished_input_is_refused(inputs, tmp_path, which, stopped_before_annotations):
    (inputs[which] / ".partial").mkdir()
    if stopped_before_annotations:  # as a generate still rendering its images
        (inputs[which] / "annotations.json").unlink()
        (inputs[which] / "manifest.json").unlink(missing_ok=True)
    result = run_mix("--synthetic", str(inputs["s1"]), "--real", str(inputs["real"]),
                     "--seed", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2, result.output
    assert "is unfinished" in result.output and not (tmp_path / "m").exists()


def test_a_fraction_too_small_for_one_image_warns(inputs, tmp_path, caplog):
    seed = seed_where(inputs["real"], lambda placed: not placed["val"], 0.001, 0.2)
    with caplog.at_level(logging.WARNING, logger="synthgen.datasets.mix"):
        result = run_mix("--synthetic", str(inputs["s1"]), "--real", str(inputs["real"]),
                         "--seed", str(seed), "--val-fraction", "0.001",
                         "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    assert read_json(tmp_path / "m" / "annotations" / "val.json")["images"] == []
    assert "--val-fraction 0.001 of 30 real images: no image fell into val" in caplog.text


def test_a_split_that_leaves_no_image_for_fine_tuning_is_refused(tmp_path):
    real = make_coco_folder(tmp_path / "real", [
        {"id": i, "file_name": f"{i}.png", "width": 8, "height": 8} for i in range(1, 11)],
        [], unique_images=True)
    seed = seed_where(real, lambda placed: not placed["finetune"], 0.45, 0.45)
    result = run_mix("--synthetic", str(make_synthetic(tmp_path / "s", 2)), "--real", str(real),
                     "--seed", str(seed), "--val-fraction", "0.45", "--test-fraction", "0.45",
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"with --seed {seed}, none of its 10 image(s) falls to fine-tuning" in result.output
    assert not (tmp_path / "out").exists()


def test_a_finished_input_that_kept_its_mark_is_mixed(inputs, tmp_path):
    """A manifest says a folder is finished (an NFS file can keep .partial/ behind)."""
    (inputs["s1"] / ".partial").mkdir()
    (inputs["s1"] / "manifest.json").write_text('{"synthgen_version": "0.3.0"}')
    result = run_mix("--synthetic", str(inputs["s1"]), "--real", str(inputs["real"]),
                     "--seed", "0", "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output


def test_every_file_says_which_objects_have_masks(tmp_path):
    """Real sets carry boxes only: each file's ``info.segmentation`` says which of its
    objects have a mask, so a loader asking for masks knows before it fails."""
    from synthgen.datasets.mix import _segmentation

    masked = {"iscrowd": 0, "segmentation": {"size": [1, 1], "counts": "1"}}
    box = {"iscrowd": 0}
    crowd = {"iscrowd": 1}
    assert _segmentation([masked, crowd]) == "every object"
    assert _segmentation([box, crowd]) == "none"
    assert _segmentation([masked, box]) == "synthetic images only"
