"""Stable real splits in ``synthgen mix`` and ``mix --previous``: growing the real set
never moves an image already placed."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthgen.categories import CATEGORY_ID
from synthgen.cli import cli
from synthgen.datasets.mix import MixError, mix_datasets, stable_split
from synthgen.storage.images import image_digests
from tests.datasets.test_mix import make_synthetic
from tests.factories import annotation, make_coco_folder, turned_photo_set

SPLIT_FILES = ("finetune", "val", "test")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_content(path: Path, key: int) -> None:
    """A small PNG whose pixels depend on ``key`` only: equal keys, equal images."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(key).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def make_real(root: Path, keys: list[int], names: list[str] | None = None) -> Path:
    """A real set of one image per content key (ids 1.., in the order given), a car in
    every image, a pedestrian in every third."""
    names = names or [f"{key:06d}.png" for key in keys]
    images, anns = [], []
    for image_id, (key, name) in enumerate(zip(keys, names, strict=True), start=1):
        images.append({"id": image_id, "file_name": name, "width": 16, "height": 12,
                       "source": "real"})
        anns.append(annotation(len(anns) + 1, image_id, CATEGORY_ID["car"], [1, 1, 5, 4]))
        if key % 3 == 0:
            anns.append(annotation(len(anns) + 1, image_id, CATEGORY_ID["pedestrian"],
                                   [8, 2, 3, 6]))
    make_coco_folder(root, images, anns, write_images=False)
    for key, name in zip(keys, names, strict=True):
        write_content(root / "images" / name, key)
    return root


def placement(out: Path) -> dict[str, str]:
    """Content digest -> split file, read from the written split files themselves."""
    placed = {}
    for name in SPLIT_FILES:
        for image in read_json(out / "annotations" / f"{name}.json")["images"]:
            placed[image_digests(out / "images" / image["file_name"])[0]] = name
    return placed


def run_mix(*args: str) -> Any:
    return CliRunner().invoke(cli, ["mix", *args])


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    return make_synthetic(tmp_path / "synth", 3)


# --------------------------------------------------------------------------- properties

fractions = st.floats(0.0, 0.35)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=st.lists(st.integers(0, 10_000), min_size=2, max_size=12, unique=True),
       added=st.lists(st.integers(10_001, 20_000), max_size=8, unique=True),
       seed=st.integers(0, 2**40), val=fractions, test=fractions, shuffle=st.randoms(),
       rename=st.booleans())
def test_adding_images_never_moves_an_existing_one(old, added, seed, val, test, shuffle,
                                                   rename):
    """Without --previous: the grown set (in another order, renamed or not, so other
    ids and file names) places every earlier image where the first mix did."""
    grown = old + added
    shuffle.shuffle(grown)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synth = make_synthetic(root / "synth", 2)
        make_real(root / "real1", old)
        names = [f"new-{i}.png" for i in range(len(grown))] if rename else None
        make_real(root / "real2", grown, names)
        try:
            mix_datasets([str(synth)], str(root / "real1"), str(root / "m1"), seed=seed,
                         val_fraction=val, test_fraction=test)
        except MixError:
            assume(False)  # too few images for fine-tuning at these fractions
        mix_datasets([str(synth)], str(root / "real2"), str(root / "m2"), seed=seed,
                     val_fraction=val, test_fraction=test)
        first, second = placement(root / "m1"), placement(root / "m2")
        assert len(first) == len(old) and len(second) == len(grown)
        assert {digest: second[digest] for digest in first} == first


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=st.lists(st.integers(0, 10_000), min_size=2, max_size=10, unique=True),
       added=st.lists(st.integers(10_001, 20_000), max_size=6, unique=True),
       removed=st.integers(0, 3), seeds=st.tuples(st.integers(0, 99), st.integers(0, 99)),
       val=fractions, test=fractions, record=st.booleans())
def test_previous_keeps_every_earlier_assignment(old, added, removed, seeds, val, test,
                                                 record):
    """With --previous: earlier images keep their split whatever the new seed and
    fractions; new ones follow the stable rule; gone ones are reported. ``record`` False
    is a mix written before manifests held digests (found through its image files)."""
    kept = old[removed:] if removed < len(old) else old[-1:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synth = make_synthetic(root / "synth", 2)
        make_real(root / "real1", old)
        make_real(root / "real2", kept + added)
        try:
            mix_datasets([str(synth)], str(root / "real1"), str(root / "m1"), seed=seeds[0],
                         val_fraction=0.2, test_fraction=0.2)
        except MixError:
            assume(False)
        if not record:
            manifest = read_json(root / "m1" / "manifest.json")
            del manifest["real_images"]
            (root / "m1" / "manifest.json").write_text(json.dumps(manifest))
        first = placement(root / "m1")
        try:
            manifest = mix_datasets([str(synth)], str(root / "real2"), str(root / "m2"),
                                    seed=seeds[1], val_fraction=val, test_fraction=test,
                                    previous=str(root / "m1"))
        except MixError as exc:
            assert "falls to fine-tuning" in str(exc)
            return
        second = placement(root / "m2")
        for digest, name in second.items():
            if digest in first:
                assert name == first[digest]
            else:
                split = stable_split(digest, seeds[1], val, test)
                assert name == ("finetune" if split == "train" else split)
        changes = manifest["previous"]
        assert sum(changes["new"].values()) == len(added)
        assert sum(changes["kept"].values()) == len(kept)
        gone = {first[image_digests(root / "m1" / "images" / name)[0]]
                for names in changes["removed_images"].values() for name in names}
        assert sum(changes["removed"].values()) == len(set(old) - set(kept))
        assert gone <= set(SPLIT_FILES)


# --------------------------------------------------------------------------- --previous


def test_previous_reports_new_kept_and_gone_images(synth: Path, tmp_path: Path) -> None:
    make_real(tmp_path / "real1", list(range(20)))
    result = run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real1"), "--seed", "4",
                     "--out", str(tmp_path / "m1"))
    assert result.exit_code == 0, result.output
    first = placement(tmp_path / "m1")
    # week 2: image 0 left the set (re-labelled away), 10 new ones arrived
    make_real(tmp_path / "real2", list(range(1, 20)) + list(range(100, 110)))
    before = tree_digest(tmp_path / "m1")
    result = run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real2"), "--seed", "4",
                     "--previous", str(tmp_path / "m1"), "--out", str(tmp_path / "m2"))
    assert result.exit_code == 0, result.output
    assert tree_digest(tmp_path / "m1") == before  # the previous mix is only read

    manifest = read_json(tmp_path / "m2" / "manifest.json")
    changes = manifest["previous"]
    second = placement(tmp_path / "m2")
    gone_digest = image_digests(tmp_path / "real1" / "images" / "000000.png")[0]
    new_digests = {image_digests(tmp_path / "real2" / "images" / f"{k:06d}.png")[0]
                   for k in range(100, 110)}
    assert changes["mix"] == str(tmp_path / "m1") and changes["seed"] == 4
    assert changes["removed_images"] == {
        name: (["real/000000.png"] if name == first[gone_digest] else [])
        for name in SPLIT_FILES}
    assert sum(changes["new"].values()) == 10 and sum(changes["kept"].values()) == 19
    for name in SPLIT_FILES:
        new_here = {d for d, split in second.items() if split == name and d in new_digests}
        assert changes["new"][name] == len(new_here) == len(changes["new_images"][name])
    assert manifest["options"]["previous"] == str(tmp_path / "m1")

    summary = ", ".join(f"{name} +{changes['new'][name]} ({changes['kept'][name]} kept)"
                        for name in SPLIT_FILES)
    assert f"Since {tmp_path / 'm1'}: {summary}" in result.output
    assert "1 image(s) of" in result.output and f"{first[gone_digest]}: real/000000.png" in \
        result.output


def test_previous_keeps_a_stratified_split_from_before_the_stable_rule(synth, tmp_path):
    """A mix written before the stable rule (no real_images in its manifest, images
    placed by another rule) keeps its test set: found by hashing its image files."""
    make_real(tmp_path / "real", list(range(12)))
    assert run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                   "--out", str(tmp_path / "old")).exit_code == 0
    old = tmp_path / "old"
    # Make it an old mix whose test set the stable rule would not have chosen: swap
    # the val and test files, drop the digests.
    val, test = (old / "annotations" / "val.json", old / "annotations" / "test.json")
    val_bytes, test_bytes = val.read_bytes(), test.read_bytes()
    val.write_bytes(test_bytes)
    test.write_bytes(val_bytes)
    manifest = read_json(old / "manifest.json")
    del manifest["real_images"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    before = placement(old)

    result = run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                     "--previous", str(old), "--out", str(tmp_path / "new"))
    assert result.exit_code == 0, result.output
    assert placement(tmp_path / "new") == before
    changes = read_json(tmp_path / "new" / "manifest.json")["previous"]
    assert changes["new"] == dict.fromkeys(SPLIT_FILES, 0)


def _previous_errors() -> list[tuple[Any, str]]:
    def no_such(m: Path) -> Path:
        return m.parent / "nothere"

    def real_import(m: Path) -> Path:
        (m / "manifest.json").write_text(json.dumps({"command": "real import"}))
        return m

    def unfinished(m: Path) -> Path:
        (m / "manifest.json").unlink()
        (m / ".partial").mkdir()
        return m

    def bad_split(m: Path) -> Path:
        manifest = read_json(m / "manifest.json")
        manifest["real_images"][0]["split"] = "train2"
        (m / "manifest.json").write_text(json.dumps(manifest))
        return m

    def bad_digest(m: Path) -> Path:
        manifest = read_json(m / "manifest.json")
        manifest["real_images"][1]["sha256"] = "XYZ"
        (m / "manifest.json").write_text(json.dumps(manifest))
        return m

    def old_mix_lost_an_image(m: Path) -> Path:
        manifest = read_json(m / "manifest.json")
        del manifest["real_images"]
        (m / "manifest.json").write_text(json.dumps(manifest))
        (m / "images" / "real" / "000003.png").unlink()
        return m

    def not_json(m: Path) -> Path:
        (m / "manifest.json").write_text("{")
        return m

    return [
        # a folder that does not exist
        (no_such, "--previous {m}: no such folder"),
        # a folder of another command
        (real_import, "field 'command' is 'real import', expected 'mix'"),
        # a mix stopped halfway
        (unfinished, "no manifest.json (it holds .partial/: that mix was stopped"),
        # an edited record: the split names the file
        (bad_split, "real_images[0].split is 'train2', expected one of finetune, val, test"),
        # an edited record: the digest
        (bad_digest, "real_images[1].sha256 is 'XYZ', expected 64 lower-case hex digits"),
        # an old mix (no digests) whose image file is gone
        (old_mix_lost_an_image, "000003.png (No such file or directory)"),
        # a broken manifest
        (not_json, "manifest.json: not valid JSON (line 1"),
    ]


@pytest.mark.parametrize(("breakage", "message"), _previous_errors())
def test_bad_previous_exits_2(synth: Path, tmp_path: Path, breakage: Any, message: str) -> None:
    make_real(tmp_path / "real", list(range(8)))
    assert run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                   "--out", str(tmp_path / "m1")).exit_code == 0
    previous = breakage(tmp_path / "m1")
    result = run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                     "--previous", str(previous), "--out", str(tmp_path / "m2"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message.format(m=previous) in error_lines[0], result.output
    assert not (tmp_path / "m2").exists()


def test_the_previous_mix_cannot_be_the_output(synth: Path, tmp_path: Path) -> None:
    make_real(tmp_path / "real", list(range(8)))
    assert run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                   "--out", str(tmp_path / "m1")).exit_code == 0
    before = tree_digest(tmp_path / "m1")
    result = run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                     "--previous", str(tmp_path / "m1"), "--out", str(tmp_path / "m1"),
                     "--overwrite")
    assert result.exit_code == 2, result.output
    assert f"--out {tmp_path / 'm1'}: overlaps the input" in result.output
    assert tree_digest(tmp_path / "m1") == before


def test_another_seed_with_previous_is_warned_about(synth, tmp_path, caplog):
    make_real(tmp_path / "real", list(range(8)))
    assert run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "0",
                   "--out", str(tmp_path / "m1")).exit_code == 0
    result = run_mix("--synthetic", str(synth), "--real", str(tmp_path / "real"), "--seed", "3",
                     "--previous", str(tmp_path / "m1"), "--out", str(tmp_path / "m2"))
    assert result.exit_code == 0, result.output
    assert "was mixed with --seed 0" in caplog.text
    assert placement(tmp_path / "m2") == placement(tmp_path / "m1")


def test_a_turned_photo_keeps_its_split_through_real_import(synth: Path, tmp_path: Path) -> None:
    # The split follows a photo's content: the same for the photo as it was and for the
    # copy `real import` writes with its EXIF orientation reset, and --previous keeps it.
    raw = turned_photo_set(tmp_path / "raw", 12)
    imported = tmp_path / "imported"
    assert CliRunner().invoke(cli, ["real", "import", "--format", "coco", str(raw),
                                    "--out", str(imported)]).exit_code == 0
    for name, real in (("m1", raw), ("m2", imported)):
        result = run_mix("--synthetic", str(synth), "--real", str(real), "--seed", "7",
                         "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    assert placement(tmp_path / "m1") == placement(tmp_path / "m2")
    result = run_mix("--synthetic", str(synth), "--real", str(imported), "--seed", "8",
                     "--previous", str(tmp_path / "m1"), "--out", str(tmp_path / "m3"))
    assert result.exit_code == 0, result.output
    previous = read_json(tmp_path / "m3" / "manifest.json")["previous"]
    assert sum(previous["kept"].values()) == 12 and not any(previous["new"].values())


def test_a_mix_that_recorded_turned_photos_as_they_were_keeps_them(synth: Path,
                                                                  tmp_path: Path) -> None:
    # An earlier synthgen linked a turned photo as it was and recorded the digest of those
    # bytes; the photo now arrives with its orientation reset (`real import`): --previous
    # still knows it, from the old mix's own copy.
    raw = turned_photo_set(tmp_path / "raw", 10, orientation=8)
    old = tmp_path / "old"
    assert run_mix("--synthetic", str(synth), "--real", str(raw), "--seed", "3",
                   "--out", str(old)).exit_code == 0
    # made as an older synthgen made it: the photos as they were, their digests recorded
    manifest = read_json(old / "manifest.json")
    for record in manifest["real_images"]:
        photo = raw / "images" / Path(record["file_name"]).name
        (old / "images" / record["file_name"]).write_bytes(photo.read_bytes())
        record["sha256"] = hashlib.sha256(photo.read_bytes()).hexdigest()
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = placement(old)
    imported = tmp_path / "imported"
    assert CliRunner().invoke(cli, ["real", "import", "--format", "coco", str(raw),
                                    "--out", str(imported)]).exit_code == 0
    result = run_mix("--synthetic", str(synth), "--real", str(imported), "--seed", "9",
                     "--previous", str(old), "--out", str(tmp_path / "new"))
    assert result.exit_code == 0, result.output
    previous = read_json(tmp_path / "new" / "manifest.json")["previous"]
    assert sum(previous["kept"].values()) == 10 and not any(previous["removed"].values())
    assert placement(tmp_path / "new") == before
