"""``generate --extend N``: a finished run grown by N images is the larger run, byte for
byte; anything else is refused, an interrupted extend loses nothing and resumes; and the
digests the manifest records change exactly when the content does."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.cli import cli
from synthgen.generate import folder as run_folder
from synthgen.generate import pipeline
from tests.render.test_appearance import photo_like, write_frame
from tests.render.test_sprites import write_set

BASE, MORE = 3, 2
OPTIONS = ["--scene", "urban", "--seed", "7", "--size", "96x64", "--workers", "1"]
CLI = [sys.executable, "-c", "from synthgen.cli import cli; cli()"]


def invoke(*args: str):
    return CliRunner().invoke(cli, ["-q", *args])


def generate(out: Path, count: int, *extra: str):
    return invoke("generate", *OPTIONS, "--count", str(count), "--out", str(out), *extra)


def folder_bytes(root: Path, *, partial: bool = True) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()
            and (partial or not p.relative_to(root).as_posix().startswith(".partial/"))}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A finished run of BASE images (copied before each use)."""
    out = tmp_path_factory.mktemp("base") / "run"
    assert generate(out, BASE).exit_code == 0
    return out


@pytest.fixture(scope="module")
def larger(tmp_path_factory) -> dict[str, bytes]:
    """The single run of BASE + MORE images."""
    out = tmp_path_factory.mktemp("larger") / "run"
    assert generate(out, BASE + MORE).exit_code == 0
    return folder_bytes(out)


@pytest.fixture
def grown(tmp_path, base) -> Path:
    return Path(shutil.copytree(base, tmp_path / "run"))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_extend_equals_a_single_larger_run_byte_for_byte(grown, base, larger, workers):
    kept = {name: data for name, data in folder_bytes(base).items()
            if name.startswith("images/")}
    inodes = {p.name: p.stat().st_ino for p in (grown / "images").iterdir()}
    result = generate(grown, BASE, "--extend", str(MORE), "--workers", workers)
    assert result.exit_code == 0, result.output
    assert f"{BASE + MORE} images" in result.output
    assert f"{MORE} rendered, {BASE} already in {grown}" in result.output
    assert folder_bytes(grown) == larger, "images, annotations.json, images.sha256, manifest"
    # the images already there were kept, never written again
    assert {p.name: p.stat().st_ino for p in (grown / "images").iterdir()
            if p.name in inodes} == inodes
    assert all(folder_bytes(grown)[name] == data for name, data in kept.items())


def test_extend_twice_equals_one_run(grown, tmp_path):
    assert generate(grown, BASE, "--extend", "1").exit_code == 0
    assert generate(grown, BASE + 1, "--extend", "2", "--workers", "2").exit_code == 0
    assert generate(tmp_path / "one", BASE + 3).exit_code == 0
    assert folder_bytes(grown) == folder_bytes(tmp_path / "one")


def test_a_merged_run_extends_like_any_run(tmp_path, larger):
    shards = []
    for k in (1, 2):
        shards.append(tmp_path / f"shard-{k}")
        assert generate(shards[-1], BASE, "--shard", f"{k}/2").exit_code == 0
    assert invoke("merge", *map(str, shards), "--out", str(tmp_path / "m")).exit_code == 0
    assert generate(tmp_path / "m", BASE, "--extend", str(MORE)).exit_code == 0
    assert folder_bytes(tmp_path / "m") == larger


def _changed(options: list[str], flag: str, value: str) -> list[str]:
    options = list(options)
    if flag in options:
        options[options.index(flag) + 1] = value
    else:
        options += [flag, value]
    return options


@pytest.mark.parametrize("changed,message", [
    # another seed
    (["--seed", "8"], "options.seed: recorded 7, given 8"),
    # another size
    (["--size", "128x64"], "options.size"),
    # a label threshold
    (["--min-pixels", "3"], "options.labels.min_pixels"),
    # another JPEG quality
    (["--jpeg-quality", "80"], "options.jpeg_quality: recorded 90, given 80"),
    # another format
    (["--image-format", "png"], "options.image_format"),
    # another template
    (["--scene", "rural"], "template.name: recorded 'urban', given 'rural'"),
    # a --count that is not what the folder holds
    (["--count", "2"], "options.count: recorded 3, given 2"),
])
def test_extend_with_other_options_is_refused_and_changes_nothing(grown, changed, message):
    before = folder_bytes(grown)
    options = ["--count", str(BASE), *OPTIONS]
    for flag, value in zip(changed[::2], changed[1::2], strict=True):
        options = _changed(options, flag, value)
    result = invoke("generate", *options, "--out", str(grown), "--extend", str(MORE))
    assert result.exit_code == 2, result.output
    assert result.output.count("Error:") == 1 and "Traceback" not in result.output
    # the differences first, the Error: line last
    assert result.output.splitlines()[-1].startswith(
        f"Error: --extend: {grown} holds a finished dataset")
    assert message in result.output
    assert folder_bytes(grown) == before


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("frames")
    for i in range(3):
        write_frame(folder / f"{i:03d}.png", photo_like(i))
    return folder


@pytest.fixture(scope="module")
def real_set(tmp_path_factory) -> Path:
    return write_set(tmp_path_factory.mktemp("sprites") / "real")


@pytest.mark.parametrize("made,extended,message", [
    # made with --look-like, extended without it
    (["look"], [], "options.look_like: recorded {"),
    # made without --sprites, extended with them
    ([], ["sprites"], "options.sprites: not recorded, given {"),
    # made with --look-like, extended with it and --sprites: the fit, made on renders
    # with the sprites pasted, differs first
    (["look"], ["look", "sprites"], "options.look_like.tone_curve_digest: recorded '"),
])
def test_extend_refuses_another_look_like_or_sprite_set(tmp_path, frames, real_set, made,
                                                       extended, message):
    flags = {"look": ["--look-like", str(frames)], "sprites": ["--sprites", str(real_set)]}
    out = tmp_path / "run"
    assert generate(out, 2, *[f for name in made for f in flags[name]]).exit_code == 0
    before = folder_bytes(out)
    result = generate(out, 2, "--extend", "1", *[f for name in extended for f in flags[name]])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.splitlines()) < 12, "differences are listed briefly"
    assert folder_bytes(out) == before


@pytest.mark.parametrize("args,message", [
    # a shard's range depends on --count: shards cannot grow
    (["--shard", "1/2"], "--extend and --shard cannot be combined"),
    # extend adds, overwrite deletes
    (["--overwrite"], "--extend and --overwrite cannot be combined"),
    # not a count
    (["--extend", "0"], "--extend"),
])
def test_extend_refuses_shards_overwrite_and_bad_counts(grown, args, message):
    before = folder_bytes(grown)
    extra = args if "--extend" in args else ["--extend", "2", *args]
    result = generate(grown, BASE, *extra)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert folder_bytes(grown) == before


def test_a_shard_folder_is_not_extended(tmp_path):
    shard = tmp_path / "shard"
    assert generate(shard, 4, "--shard", "1/2").exit_code == 0
    before = folder_bytes(shard)
    result = generate(shard, 4, "--extend", "2")
    assert result.exit_code == 2
    assert "holds shard 1/2 of a run; a shard cannot grow" in result.output
    assert folder_bytes(shard) == before


@pytest.mark.parametrize("prepare,message", [
    # nothing there
    (lambda out: None, "holds no dataset to extend"),
    # an empty folder
    (lambda out: out.mkdir(), "holds no dataset to extend"),
    # someone's files, no run
    (lambda out: (out.mkdir(), (out / "notes.txt").write_text("mine")),
     "holds no finished synthgen run"),
])
def test_extend_needs_a_finished_run(tmp_path, prepare, message):
    out = tmp_path / "run"
    prepare(out)
    result = generate(out, BASE, "--extend", "2")
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (out / "images").exists()


def test_extending_again_is_refused_but_resume_reports_it_done(grown, larger):
    assert generate(grown, BASE, "--extend", str(MORE)).exit_code == 0
    again = generate(grown, BASE, "--extend", str(MORE))
    assert again.exit_code == 2
    assert f"already holds the {BASE + MORE} images" in again.output
    assert f"give --count {BASE + MORE}" in again.output
    done = generate(grown, BASE, "--extend", str(MORE), "--resume")
    assert done.exit_code == 0 and "already complete" in done.output
    assert folder_bytes(grown) == larger


def test_resume_without_extend_points_to_it(grown):
    result = generate(grown, BASE + MORE, "--resume")
    assert result.exit_code == 2 and "options.count: recorded 3, given 5" in result.output
    assert "--extend N" in result.output


# ------------------------------------------------------------------- interruptions

@pytest.fixture
def interrupt_after(monkeypatch) -> Callable[[int], None]:
    """Make the next run in this process stop with Ctrl-C after ``n`` new records."""
    def arm(n: int) -> None:
        real = pipeline._records

        def records(*args, **kwargs) -> Iterator[dict]:
            for done, record in enumerate(real(*args, **kwargs)):
                if done == n:
                    monkeypatch.setattr(pipeline, "_records", real)
                    raise KeyboardInterrupt
                yield record
        monkeypatch.setattr(pipeline, "_records", records)
    return arm


@pytest.mark.parametrize("finish", [
    # the same command with --resume
    ["--count", str(BASE), "--extend", str(MORE), "--resume"],
    # the larger run's own command with --resume
    ["--count", str(BASE + MORE), "--resume"],
])
def test_an_interrupted_extend_keeps_every_image_and_resumes(grown, base, larger,
                                                            interrupt_after, finish):
    interrupt_after(1)
    stopped = generate(grown, BASE, "--extend", str(MORE))
    assert stopped.exit_code == 130 and "--resume" in stopped.output
    assert not (grown / "manifest.json").exists(), "no longer the smaller run, not yet the larger"
    assert (grown / ".partial" / "run.json").is_file()
    for name, data in folder_bytes(base).items():
        if name.startswith("images/"):
            assert (grown / name).read_bytes() == data, f"{name} kept"
    # without --resume it is refused, untouched
    before = folder_bytes(grown)
    refused = generate(grown, BASE, "--extend", str(MORE))
    assert refused.exit_code == 2 and "--resume" in refused.output
    assert folder_bytes(grown) == before
    result = invoke("generate", *OPTIONS, *finish, "--out", str(grown), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert folder_bytes(grown) == larger


def test_an_extend_stopped_before_the_manifest_went_is_still_the_smaller_run(
        grown, base, larger, monkeypatch):
    from synthgen.generate import merge

    real = merge.shard_records

    def stopped(*args, **kwargs):
        yield from list(real(*args, **kwargs))[:1]
        raise KeyboardInterrupt
    monkeypatch.setattr(merge, "shard_records", stopped)
    assert generate(grown, BASE, "--extend", str(MORE)).exit_code == 130
    monkeypatch.undo()
    # still the finished run, byte for byte (the lock of .partial aside: a manifest says
    # the folder is finished), and its .partial holds none of the extend's files
    assert folder_bytes(grown, partial=False) == folder_bytes(base)
    assert [p.name for p in (grown / ".partial").iterdir()] == ["lock"]
    assert generate(grown, BASE, "--extend", str(MORE)).exit_code == 0
    assert folder_bytes(grown) == larger


def test_resume_finishes_an_extend_stopped_between_its_run_file_and_the_manifest(
        grown, larger, tmp_path, interrupt_after):
    """The manifest is removed last: stopped just before, the folder holds the finished
    smaller run and the larger run's run.json; --resume of either command finishes it."""
    other = Path(shutil.copytree(grown, tmp_path / "other"))
    interrupt_after(0)
    assert generate(other, BASE, "--extend", str(MORE)).exit_code == 130
    (grown / ".partial").mkdir()
    shutil.copy(other / ".partial" / "run.json", grown / ".partial" / "run.json")
    result = generate(grown, BASE + MORE, "--resume")
    assert result.exit_code == 0, result.output
    assert folder_bytes(grown) == larger


def _drop_last_box(out: Path) -> None:
    document = json.loads((out / "annotations.json").read_text())
    document["annotations"].pop()
    (out / "annotations.json").write_text(json.dumps(document))


@pytest.mark.parametrize("damage,message", [
    # a file name in the digest list edited
    (lambda out: (out / "images.sha256").write_text(
        (out / "images.sha256").read_text().replace("000001", "000009")), "was it changed"),
    # a digest edited: the list is no longer the one the manifest pins
    (lambda out: (out / "images.sha256").write_text(
        "0" * 64 + (out / "images.sha256").read_text()[64:]),
     "its SHA-256 is not the one manifest.json records"),
    # a box removed from annotations.json
    (_drop_last_box, "was it changed"),
    # an image deleted
    (lambda out: (out / "images" / "000002.jpg").unlink(), "000002.jpg) is missing"),
])
def test_extend_refuses_a_folder_whose_files_were_changed(grown, damage, message):
    damage(grown)
    before = folder_bytes(grown)
    result = generate(grown, BASE, "--extend", str(MORE))
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert folder_bytes(grown, partial=False) == before, "still the finished smaller run"
    assert [p.name for p in (grown / ".partial").iterdir()] == ["lock"]


def test_sigkill_during_an_extend_then_resume(grown, larger):
    child = subprocess.Popen([*CLI, "-q", "generate", *OPTIONS, "--count", str(BASE),
                              "--extend", str(MORE), "--out", str(grown)],
                             start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    records = grown / ".partial" / "records.jsonl"
    try:
        waited = time.monotonic()
        # the first new record: the base's records are in, the manifest is gone
        while child.poll() is None and not (
                records.is_file() and records.read_bytes().count(b"\n") > BASE):
            assert time.monotonic() - waited < 60, "never reached the first new record"
            time.sleep(0.005)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    if (grown / "manifest.json").is_file():  # finished before it could be killed
        assert folder_bytes(grown, partial=False) == larger
        return
    result = generate(grown, BASE, "--extend", str(MORE), "--resume")
    assert result.exit_code == 0, result.output
    assert folder_bytes(grown) == larger


# ------------------------------------------------------------------------- digests

@settings(max_examples=60, deadline=None)
@given(images=st.lists(st.binary(max_size=24), min_size=1, max_size=6),
       index=st.integers(0, 5), replacement=st.binary(max_size=24))
def test_the_listing_digest_changes_exactly_when_an_image_does(tmp_path_factory, images,
                                                               index, replacement):
    folder = tmp_path_factory.mktemp("digests")
    index %= len(images)
    changed = [*images[:index], replacement, *images[index + 1:]]

    def listing_digest(contents: list[bytes]) -> str:
        lines = (run_folder.digest_line(hashlib.sha256(data).hexdigest(),
                                        run_folder.file_name(i, "png"))
                 for i, data in enumerate(contents))
        return run_folder.write_digest_list(folder / "images.sha256", lines)

    assert (listing_digest(images) == listing_digest(changed)) == (images == changed)
    # the digest returned is the file's, as sha256sum computes it
    assert listing_digest(changed) == hashlib.sha256(
        (folder / "images.sha256").read_bytes()).hexdigest()


def _digests(out: Path) -> dict[str, str]:
    return json.loads((out / "manifest.json").read_text())["digests"]


@pytest.mark.parametrize("extra,images_change,labels_change", [
    # the same command again: nothing changes
    ([], False, False),
    # another JPEG quality: other image bytes, the same labels
    (["--jpeg-quality", "70"], True, False),
    # another label threshold: the same images, other labels
    (["--min-pixels", "400"], False, True),
    # another seed: both
    (["--seed", "8"], True, True),
])
def test_manifest_digests_change_exactly_when_the_content_does(base, tmp_path, extra,
                                                              images_change, labels_change):
    options = list(OPTIONS)
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        options = _changed(options, flag, value)
    out = tmp_path / "other"
    result = invoke("generate", *options, "--count", str(BASE), "--out", str(out))
    assert result.exit_code == 0, result.output
    old, new = folder_bytes(base), folder_bytes(out)
    assert ({k: v for k, v in old.items() if k.startswith("images/")}
            != {k: v for k, v in new.items() if k.startswith("images/")}) is images_change
    assert (old["annotations.json"] != new["annotations.json"]) is labels_change
    assert (_digests(base)["images.sha256"] != _digests(out)["images.sha256"]) is images_change
    assert (_digests(base)["annotations.json"] != _digests(out)["annotations.json"]) \
        is labels_change


def test_template_input_digest_follows_the_file_bytes_not_its_meaning(tmp_path):
    """A comment changes the template file's digest (its lineage), not the images; such a
    run can still be extended."""
    template = tmp_path / "mine.yaml"
    template.write_text("extends: rural\n")
    out = tmp_path / "run"
    args = ["generate", "--scene", str(template), "--size", "96x64", "--workers", "1"]
    assert invoke(*args, "--count", "2", "--out", str(out)).exit_code == 0
    first = json.loads((out / "manifest.json").read_text())["inputs"]["template"]
    assert first["sha256"] == hashlib.sha256(template.read_bytes()).hexdigest()
    assert [entry["file"] for entry in first["extends"]] == ["rural.yaml", "_base.yaml"]
    template.write_text("# the same scene\nextends: rural\n")
    assert invoke(*args, "--count", "2", "--out", str(out), "--extend", "1").exit_code == 0
    second = json.loads((out / "manifest.json").read_text())["inputs"]["template"]
    assert second["sha256"] != first["sha256"] and second["extends"] == first["extends"]
    assert invoke(*args, "--count", "3", "--out", str(tmp_path / "one")).exit_code == 0
    assert folder_bytes(out) == folder_bytes(tmp_path / "one")


def _with_albumentations(document_path: Path) -> None:
    """As synthgen wrote it before it drew the rain itself (albumentations 2.0.8)."""
    document = json.loads(document_path.read_text())
    document["libraries"] = {**document["libraries"], "albumentations": "2.0.8"}
    document_path.write_text(json.dumps(document))


def test_a_grown_run_recorded_with_albumentations_is_reported_done(grown, larger):
    assert generate(grown, BASE, "--extend", str(MORE)).exit_code == 0
    _with_albumentations(grown / "manifest.json")
    done = generate(grown, BASE, "--extend", str(MORE), "--resume")
    assert done.exit_code == 0 and "already complete" in done.output, done.output


def test_an_extend_recorded_with_albumentations_stopped_before_the_manifest_went_resumes(
        grown, larger, tmp_path, interrupt_after):
    """Its run.json and the smaller run's manifest both name albumentations 2.0: the
    extend was started, and --resume finishes it."""
    other = Path(shutil.copytree(grown, tmp_path / "other"))
    interrupt_after(0)
    assert generate(other, BASE, "--extend", str(MORE)).exit_code == 130
    (grown / ".partial").mkdir()
    shutil.copy(other / ".partial" / "run.json", grown / ".partial" / "run.json")
    _with_albumentations(grown / ".partial" / "run.json")
    _with_albumentations(grown / "manifest.json")
    result = generate(grown, BASE + MORE, "--resume")
    assert result.exit_code == 0, result.output
    assert folder_bytes(grown) == larger
