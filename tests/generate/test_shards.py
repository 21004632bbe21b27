"""``generate --shard K/N`` and ``synthgen merge``: shards put back together are the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthgen.cli import cli
from synthgen.formats import coco as coco_module
from synthgen.generate import merge as merge_module
from synthgen.generate.folder import Shard
from synthgen.generate.merge import read_shard, shard_records
from synthgen.storage.files import fcntl, new_output_dir

COUNT = 10
OPTIONS = ["--scene", "urban", "--count", str(COUNT), "--seed", "11", "--size", "160x96",
           "--workers", "1"]


def invoke(*args: str):
    return CliRunner().invoke(cli, ["-q", *args])


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def make_shards(root: Path, n: int, *extra: str, options: list[str] = OPTIONS) -> list[Path]:
    folders = []
    for k in range(1, n + 1):
        folder = root / f"shard-{k}"
        result = invoke("generate", *options, "--out", str(folder), "--shard", f"{k}/{n}",
                        *extra)
        assert result.exit_code == 0, result.output
        folders.append(folder)
    return folders


def merge(*args: str | Path):
    return invoke("merge", *(str(a) for a in args))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    result = invoke("generate", *OPTIONS, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[Path]:
    return make_shards(tmp_path_factory.mktemp("shards"), 4)


def test_four_shards_merged_equal_the_unsharded_run_byte_for_byte(tmp_path, run, shards):
    before = {shard: folder_bytes(shard) for shard in shards}
    # given in any order
    result = merge(shards[2], shards[0], shards[3], shards[1], "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert folder_bytes(tmp_path / "m") == folder_bytes(run)
    assert {shard: folder_bytes(shard) for shard in shards} == before, "inputs untouched"
    assert "10 images (10 linked)" in result.output


def test_a_shard_is_its_part_of_the_run(run, shards):
    whole = json.loads((run / "annotations.json").read_text())
    ranges = []
    for k, folder in enumerate(shards, start=1):
        document = json.loads((folder / "annotations.json").read_text())
        manifest = json.loads((folder / "manifest.json").read_text())
        indices = [image["index"] for image in document["images"]]
        ranges.append(indices)
        assert manifest["shard"] == {"index": k, "count": 4,
                                     "indices": [indices[0], indices[-1] + 1]}
        assert manifest["options"]["count"] == COUNT, "the whole run's options"
        assert [image["id"] for image in document["images"]] == [i + 1 for i in indices]
        assert sorted(p.name for p in (folder / "images").iterdir()) == [
            f"{i:06d}.jpg" for i in indices]
        for image in document["images"]:
            assert image == whole["images"][image["index"]]
        ids = [a["id"] for a in document["annotations"]]
        assert ids == list(range(1, len(ids) + 1)), "annotation ids restart in each shard"

        def content(annotations, image_ids):
            return [{k: v for k, v in a.items() if k != "id"} for a in annotations
                    if a["image_id"] in image_ids]
        image_ids = {i + 1 for i in indices}
        assert content(document["annotations"], image_ids) == content(whole["annotations"],
                                                                      image_ids)
    # floor((K-1)*10/4) .. floor(K*10/4): 0-1, 2-4, 5-6, 7-9
    assert ranges == [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]


def test_shard_ranges_cover_every_index_once():
    for count in (1, 2, 7, 10, 1001):
        for n in range(1, min(count, 9) + 1):
            covered = [i for k in range(1, n + 1) for i in Shard(k, n).indices(count)]
            assert covered == list(range(count))


def test_shards_of_different_runs_are_refused(tmp_path, shards):
    other_options = [o if o != "11" else "12" for o in OPTIONS]
    other = make_shards(tmp_path / "other", 4, options=other_options)
    result = merge(*shards[:3], other[3], "--out", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert "different runs" in result.output and "seed" in result.output
    assert not (tmp_path / "m").exists()


def test_shards_of_a_different_split_are_refused(tmp_path, shards):
    halves = make_shards(tmp_path / "halves", 2)
    result = merge(*shards[:2], halves[1], "--out", tmp_path / "m")
    assert result.exit_code == 2 and "shard count" in result.output


@pytest.mark.parametrize("pick,message", [
    # the third of four left out
    (lambda s: [s[0], s[1], s[3]], "missing shard 3/4"),
    # two left out
    (lambda s: [s[1], s[2]], "missing shards 1/4, 4/4"),
    # one given twice
    (lambda s: [s[0], s[1], s[1], s[2], s[3]], "shard 2/4 given twice"),
])
def test_missing_or_duplicate_shards_are_refused(tmp_path, shards, pick, message):
    result = merge(*pick(shards), "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_an_incomplete_shard_is_refused(tmp_path, shards):
    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in shards]
    (copies[1] / "manifest.json").unlink()
    (copies[1] / ".partial").mkdir()
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "incomplete shard" in result.output and "--resume" in result.output
    (copies[1] / "manifest.json").write_bytes((shards[1] / "manifest.json").read_bytes())
    (copies[2] / "images" / "000005.jpg").unlink()
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "images/000005.jpg is missing" in result.output
    assert not (tmp_path / "m").exists(), "checked before anything is written"


def test_an_unsharded_folder_is_not_a_shard(tmp_path, run, shards):
    result = merge(run, *shards[1:], "--out", tmp_path / "m")
    assert result.exit_code == 2 and "not a shard" in result.output


def test_a_shard_whose_annotations_were_edited_is_refused(tmp_path, shards):
    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in shards]
    path = copies[3] / "annotations.json"
    document = json.loads(path.read_text())
    document["annotations"].pop()
    path.write_text(json.dumps(document))
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "was it changed" in result.output


def test_merge_never_overwrites_without_overwrite_nor_writes_into_a_shard(tmp_path, run,
                                                                          shards):
    out = tmp_path / "m"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    refused = merge(*shards, "--out", out)
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    accepted = merge(*shards, "--out", out, "--overwrite")
    assert accepted.exit_code == 0, accepted.output
    assert (out / "notes.txt").read_text() == "mine"
    assert {k: v for k, v in folder_bytes(out).items() if k != "notes.txt"} == folder_bytes(run)
    before = folder_bytes(shards[0])
    into_shard = merge(*shards, "--out", shards[0], "--overwrite")
    assert into_shard.exit_code == 2 and "overlaps the input" in into_shard.output
    assert folder_bytes(shards[0]) == before


def test_an_interrupted_shard_resumes_and_merges(tmp_path, run, shards, monkeypatch):
    from synthgen.generate import pipeline

    real = pipeline._records

    def stop_after_one(*args, **kwargs):
        for done, record in enumerate(real(*args, **kwargs)):
            if done == 1:
                raise KeyboardInterrupt
            yield record
    monkeypatch.setattr(pipeline, "_records", stop_after_one)
    third = tmp_path / "shard-3"
    args = ["generate", *OPTIONS, "--out", str(third), "--shard", "3/4"]
    assert invoke(*args).exit_code == 130
    refused = merge(shards[0], shards[1], third, shards[3], "--out", tmp_path / "m")
    assert refused.exit_code == 2 and "incomplete shard" in refused.output
    monkeypatch.setattr(pipeline, "_records", real)
    assert invoke(*args, "--resume").exit_code == 0
    assert folder_bytes(third) == folder_bytes(shards[2])
    result = merge(shards[0], shards[1], third, shards[3], "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert folder_bytes(tmp_path / "m") == folder_bytes(run)


@pytest.mark.parametrize("shard,message", [
    # K of 0
    ("0/4", "1 <= K <= N"),
    # K beyond N
    ("5/4", "1 <= K <= N"),
    # not K/N
    ("two", "expected K/N"),
    # more shards than images
    ("1/11", "must not exceed --count"),
])
def test_bad_shard_options_exit_2(tmp_path, shard, message):
    result = invoke("generate", *OPTIONS, "--out", str(tmp_path / "o"), "--shard", shard)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o").exists()


def test_records_read_back_whatever_the_buffer_and_layout(tmp_path, shards, monkeypatch):
    """The incremental reader gives what json.load gives, across chunk boundaries and
    for a pretty-printed file."""
    shard = read_shard(shards[1])
    expected = list(shard_records(shard))
    monkeypatch.setattr(coco_module, "_CHUNK", 7)
    assert list(shard_records(shard)) == expected
    copy = Path(shutil.copytree(shards[1], tmp_path / "pretty"))
    document = json.loads((copy / "annotations.json").read_text())
    (copy / "annotations.json").write_text(json.dumps(document, indent=3))
    assert list(shard_records(read_shard(copy))) == expected
    by_json = [{**{k: v for k, v in image.items() if k != "id"},
                "annotations": [{k: v for k, v in a.items() if k not in ("id", "image_id")}
                                for a in document["annotations"]
                                if a["image_id"] == image["id"]]}
               for image in document["images"]]
    assert expected == by_json


def test_a_merge_stopped_halfway_is_unfinished_and_the_next_overwrite_replaces_it(
        tmp_path, run, shards, monkeypatch):
    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C after the images, before annotations.json

    monkeypatch.setattr(merge_module, "write_coco", stopped)
    with pytest.raises(KeyboardInterrupt):
        merge_module.merge_shards(shards, tmp_path / "m")
    monkeypatch.undo()
    left = tmp_path / "m"
    assert (left / ".partial").is_dir() and not (left / "manifest.json").exists()
    assert merge(*shards, "--out", left).exit_code == 2  # not a dataset, not replaced
    result = merge(*shards, "--out", left, "--overwrite")
    assert result.exit_code == 0, result.output
    assert folder_bytes(left) == folder_bytes(run)


@pytest.mark.skipif(fcntl is None, reason="advisory locks need fcntl")
def test_merge_never_deletes_a_folder_another_command_is_writing(tmp_path, shards):
    # A generate (or another merge) writing it right now.
    with new_output_dir(tmp_path / "busy", overwrite=False, owned=("images",)) as out:
        (out / "images").mkdir()
        result = merge(*shards, "--out", out, "--overwrite")
    assert result.exit_code == 2 and "another synthgen command is writing" in result.output
    assert (out / "images").is_dir() and not (out / "manifest.json").exists()


@pytest.mark.parametrize("edit", [
    lambda counts: counts.pop("per_class"),
    lambda counts: counts.update(photo_boxes=[1]),
], ids=["no-per-class", "photo-boxes-a-list"])
def test_a_shard_manifest_without_its_counts_is_refused_before_writing(tmp_path, shards, edit):
    copies = [tmp_path / f"s{k}" for k in range(len(shards))]
    for shard, copy in zip(shards, copies, strict=True):
        shutil.copytree(shard, copy)
    manifest = json.loads((copies[0] / "manifest.json").read_text())
    edit(manifest["counts"])
    (copies[0] / "manifest.json").write_text(json.dumps(manifest))
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "not a synthgen generate manifest" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_the_merge_summary_counts_boxes_and_ignore_regions_apart(tmp_path, shards, run):
    """As generate's summary line does (it called every annotation a box)."""
    result = merge(*shards, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    counts = json.loads((run / "manifest.json").read_text())["counts"]
    boxes = sum(counts["per_class"].values())
    ignored = counts["annotations"] - boxes
    assert boxes > 0 and ignored > 0  # the run has both, or this checks nothing
    assert f", {boxes} boxes and {ignored} ignore regions from 4 shards in " in result.output


def test_one_shard_of_one_is_counted_in_the_singular(tmp_path):
    [shard] = make_shards(tmp_path, 1, options=[*OPTIONS[:3], "1", *OPTIONS[4:]])
    result = merge(shard, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 image (1 linked), ") and "from 1 shard in" in result.output


def test_ctrl_c_during_a_merge_says_how_to_finish(tmp_path, shards, monkeypatch):
    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(merge_module, "write_coco", stopped)
    result = merge(*shards, "--out", tmp_path / "m")
    assert result.exit_code == 130
    assert "unfinished" in result.output and "--overwrite" in result.output


def test_the_merged_digests_are_the_unsharded_runs(tmp_path, run, shards):
    assert merge(*shards, "--out", tmp_path / "m").exit_code == 0
    merged = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert merged["digests"] == json.loads((run / "manifest.json").read_text())["digests"]
    listing = "".join((shard / "images.sha256").read_text() for shard in shards)
    assert (tmp_path / "m" / "images.sha256").read_text() == listing, "the shards' lines"


def test_a_shard_whose_image_digests_were_edited_is_refused_before_writing(tmp_path, shards):
    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in shards]
    listing = copies[2] / "images.sha256"
    first, rest = listing.read_text().split("\n", 1)
    listing.write_text(("0" * 64) + first[64:] + "\n" + rest)
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert "images.sha256: its SHA-256 is not the one manifest.json records" in result.output
    assert not (tmp_path / "m").exists()


def test_shards_made_from_other_template_files_are_refused(tmp_path, shards):
    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in shards]
    manifest = json.loads((copies[1] / "manifest.json").read_text())
    manifest["inputs"]["template"]["sha256"] = "0" * 64  # a comment edited between shards
    (copies[1] / "manifest.json").write_text(json.dumps(manifest))
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "inputs (the template file's bytes)" in result.output


@pytest.mark.parametrize("change", [
    # one byte flipped, the size unchanged
    "a byte",
    # emptied (a power loss after the rename, a truncating copy)
    "emptied",
    # another image of the same shard put in its place
    "swapped",
])
def test_a_shard_whose_image_bytes_were_changed_is_refused_then_resume_mends_it(
        tmp_path, run, shards, change):
    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in shards]
    image = copies[1] / "images" / "000003.jpg"  # shard 2/4 holds images 2, 3 and 4
    data = image.read_bytes()
    if change == "a byte":
        image.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif change == "emptied":
        image.write_bytes(b"")
    else:
        shutil.copyfile(copies[1] / "images" / "000004.jpg", image)
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert f"{copies[1]}: images/000003.jpg is not the image shard 2/4 wrote" in errors[0]
    assert "images.sha256" in errors[0] and "--resume" in errors[0]
    assert not (tmp_path / "m").exists()
    # as the message says: the shard's own command with --resume makes the image again
    mended = invoke("generate", *OPTIONS, "--out", str(copies[1]), "--shard", "2/4",
                    "--resume")
    assert mended.exit_code == 0 and "2 rendered, 1 kept" in mended.output, mended.output
    assert folder_bytes(copies[1]) == folder_bytes(shards[1])
    assert merge(*copies, "--out", tmp_path / "m").exit_code == 0
    assert folder_bytes(tmp_path / "m") == folder_bytes(run)


def test_a_shard_made_before_image_digests_is_still_merged(tmp_path, run, shards):
    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in shards]
    for copy in copies:  # as synthgen wrote shards before images.sha256
        (copy / "images.sha256").unlink()
        manifest = json.loads((copy / "manifest.json").read_text())
        del manifest["digests"]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "images.sha256").read_bytes() == (run / "images.sha256").read_bytes()


def test_a_shard_recorded_with_albumentations_2_0_merges_with_the_others(tmp_path, run,
                                                                         shards):
    """Shards made before synthgen drew the rain itself recorded albumentations (2.0):
    they merge with shards made since into the run's folder, byte for byte."""
    copies = []
    for shard in shards:
        copies.append(tmp_path / shard.name)
        shutil.copytree(shard, copies[-1])
    manifest = copies[0] / "manifest.json"  # the first: the merged manifest starts from it
    document = json.loads(manifest.read_text())
    document["libraries"] = {**document["libraries"], "albumentations": "2.0.8"}
    manifest.write_text(json.dumps(document))
    result = merge(*copies, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert folder_bytes(tmp_path / "m") == folder_bytes(run)
    document["libraries"]["albumentations"] = "2.1.0"
    manifest.write_text(json.dumps(document))
    result = merge(*copies, "--out", tmp_path / "m2")
    assert result.exit_code == 2 and "libraries" in result.output
