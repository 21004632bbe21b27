"""Files on disk: atomic writes, output folders, linking, image encoding."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthgen.errors import OutputError
from synthgen.storage import files as io
from synthgen.storage.files import (
    atomic_writer,
    encode_image,
    fcntl,
    link_files,
    link_or_copy,
    new_output_dir,
    write_json_atomic,
    written_by_synthgen,
)


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "annotations.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write('{"v": 2, "trunc')
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotations.json"]


def test_new_output_dir_refuses_then_removes_only_what_it_owns(tmp_path):
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    (out / "images" / "000000.jpg").write_bytes(b"x")
    (out / "mine.txt").write_text("keep")
    write_json_atomic(out / "manifest.json", {"synthgen_version": "0.1.0"})
    with pytest.raises(OutputError, match="--overwrite"), \
            new_output_dir(out, overwrite=False, owned=("images",)):
        pytest.fail("an existing folder was taken without --overwrite")
    assert (out / "images" / "000000.jpg").exists()
    with new_output_dir(out, overwrite=True, owned=("images", "manifest.json")) as ready:
        # Ready, locked and marked unfinished until the caller writes its manifest.
        assert ready == out
        assert sorted(p.name for p in out.iterdir()) == [".partial", "mine.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_a_command_that_fails_leaves_its_folder_marked_unfinished(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), new_output_dir(out, overwrite=False, owned=("images",)):
        (out / "images").mkdir()
        raise RuntimeError("stopped")
    assert (out / ".partial").is_dir()
    with new_output_dir(out, overwrite=True, owned=("images",)):
        assert sorted(p.name for p in out.iterdir()) == [".partial"]


def test_an_overwrite_stopped_midway_leaves_a_folder_the_next_one_replaces(tmp_path,
                                                                          monkeypatch):
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    for i in range(3):
        (out / "images" / f"{i:06d}.jpg").write_bytes(b"x")
    (out / "annotations.json").write_text("{}")
    write_json_atomic(out / "manifest.json", {"synthgen_version": "0.1.0"})
    removed = []
    real_rmtree = shutil.rmtree

    def stopped(path, *args, **kwargs):
        removed.append(Path(path).name)
        if Path(path).name == "images":  # Ctrl-C while the old images go
            (Path(path) / "000000.jpg").unlink()
            raise KeyboardInterrupt
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", stopped)
    owned = ("manifest.json", "annotations.json", ".partial", "images")
    with pytest.raises(KeyboardInterrupt), new_output_dir(out, overwrite=True, owned=owned):
        pytest.fail("went on after the interruption")
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    # The manifest went first (no finished-looking folder), the mark stayed.
    assert not (out / "manifest.json").exists() and (out / ".partial").is_dir()
    assert (out / "images" / "000001.jpg").exists()
    with new_output_dir(out, overwrite=True, owned=owned):
        assert sorted(p.name for p in out.iterdir()) == [".partial"]


def test_a_folder_holding_an_interrupted_run_points_to_resume(tmp_path):
    out = tmp_path / "out"
    (out / ".partial").mkdir(parents=True)
    write_json_atomic(out / ".partial" / "run.json", {"synthgen_version": "0.3.0"})
    with pytest.raises(OutputError, match="holds an interrupted run; finish it .* --resume"), \
            new_output_dir(out, overwrite=False, owned=(".partial",)):
        pytest.fail("an interrupted run was taken without --overwrite")


needs_locks = pytest.mark.skipif(fcntl is None, reason="advisory locks need fcntl")


@needs_locks
def test_a_folder_another_process_is_writing_is_not_deleted(tmp_path):
    with new_output_dir(tmp_path / "out", overwrite=False, owned=("images",)) as out:
        (out / "images").mkdir()  # as a running generate, merge, mix or import does
        write_json_atomic(out / ".partial" / "run.json", {"synthgen_version": "0.3.0"})
        for overwrite in (True, False):  # busy, not "interrupted": no hint to --resume
            with pytest.raises(OutputError, match="another synthgen command is writing"), \
                    new_output_dir(out, overwrite=overwrite, owned=("images",)):
                pytest.fail("two commands write one folder")
        assert (out / "images").is_dir() and (out / ".partial" / "lock").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["images"]


@pytest.mark.parametrize(("other_finished", "message", "left"), [
    # it wrote and finished the folder
    (True, "not empty", ["images", "manifest.json"]),
    # it was stopped: the refusal says what is there, not that a command is writing it
    # (none is any more; the lock probed would be this command's own)
    (False, "holds an interrupted run; finish it", [".partial", "images"]),
])
def test_two_commands_started_on_one_empty_folder_do_not_both_write_it(
        tmp_path, monkeypatch, other_finished, message, left):
    # The second command found the folder empty; the first one wrote it before the
    # second took the lock. (A scheduler that starts a task twice.)
    out = tmp_path / "out"
    real_check = io._check_output_dir
    owned = ("images", "manifest.json")

    def the_other_command_runs_meanwhile(folder, **kwargs):
        real_check(folder, **kwargs)
        monkeypatch.setattr(io, "_check_output_dir", real_check)
        with contextlib.suppress(KeyboardInterrupt), \
                new_output_dir(folder, overwrite=False, owned=owned):
            (folder / "images").mkdir()
            write_json_atomic(folder / ".partial" / "run.json", {"synthgen_version": "x"})
            if not other_finished:
                raise KeyboardInterrupt
            write_json_atomic(folder / "manifest.json", {"synthgen_version": "x"})

    monkeypatch.setattr(io, "_check_output_dir", the_other_command_runs_meanwhile)
    with pytest.raises(OutputError, match=message), \
            new_output_dir(out, overwrite=False, owned=owned):
        pytest.fail("two commands wrote one folder")
    assert sorted(p.name for p in out.iterdir()) == left


@needs_locks
def test_a_lock_file_deleted_by_the_command_that_held_it_is_not_a_lock(tmp_path,
                                                                       monkeypatch):
    # The second command opened the lock file just before the first, finishing, deleted
    # it: locking that deleted file proves nothing, so it stops instead of writing.
    exit_first = contextlib.ExitStack()
    out = exit_first.enter_context(new_output_dir(tmp_path / "out", overwrite=False,
                                                  owned=("images", "manifest.json")))
    (out / "images").mkdir()
    write_json_atomic(out / "manifest.json", {"synthgen_version": "0.3.0"})
    real_flock = fcntl.flock

    def the_first_finishes_meanwhile(fd, operation):
        monkeypatch.setattr(fcntl, "flock", real_flock)
        exit_first.close()
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", the_first_finishes_meanwhile)
    with pytest.raises(OutputError, match="finished or removed this output"), \
            new_output_dir(out, overwrite=True, owned=("images", "manifest.json")):
        pytest.fail("wrote under a lock nobody else can see")
    assert sorted(p.name for p in out.iterdir()) == ["images", "manifest.json"]


@needs_locks
def test_a_lock_file_that_cannot_be_opened_is_a_clear_error(tmp_path, monkeypatch):
    # Another user's interrupted run on a shared volume: readable, not writable.
    out = tmp_path / "out"
    (out / ".partial").mkdir(parents=True)
    (out / ".partial" / "lock").touch()
    write_json_atomic(out / ".partial" / "run.json", {"synthgen_version": "0.3.0"})
    real_open = open

    def permission_denied(path, mode="r", *args, **kwargs):
        if Path(path).name == "lock" and "a" in mode:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", permission_denied, raising=False)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"cannot open its lock file .*Permission"), \
                new_output_dir(out, overwrite=overwrite, owned=("images",)):
            pytest.fail("wrote a folder it could not lock")
    assert sorted(p.name for p in (out / ".partial").iterdir()) == ["lock", "run.json"]


@pytest.mark.parametrize("other_wrote_a_run", [True, False])
def test_a_refusal_under_the_lock_takes_back_only_its_own_mark(tmp_path, other_wrote_a_run):
    # check_again refuses once the lock is held (the second of its two calls): the mark
    # this command made goes, unless another command put its run.json in it meanwhile.
    out = tmp_path / "out"

    def check_again():
        if (out / ".partial" / "lock").is_file():  # under the lock
            if other_wrote_a_run:
                write_json_atomic(out / ".partial" / "run.json", {"synthgen_version": "x"})
            raise OutputError("another command wrote a run here")

    with pytest.raises(OutputError, match="another command wrote a run here"), \
            new_output_dir(out, overwrite=True, owned=("images",), check_again=check_again):
        pytest.fail("wrote a folder check_again refused")
    if other_wrote_a_run:
        assert (out / ".partial" / "run.json").is_file()
    else:
        assert list(out.iterdir()) == []


def test_overwrite_never_deletes_a_users_images_folder(tmp_path):
    # A folder synthgen did not write: its images/ is the user's, whatever it is called.
    out = tmp_path / "photos"
    (out / "images").mkdir(parents=True)
    (out / "images" / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(OutputError, match="synthgen did not write"), \
            new_output_dir(out, overwrite=True, owned=("images", "annotations.json")):
        pytest.fail("a user's folder was taken")
    assert (out / "images" / "holiday.jpg").read_bytes() == b"x"
    # Other files alone are no reason to refuse: nothing of ours would be deleted.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with new_output_dir(other, overwrite=True, owned=("images",)):
        pass
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_new_output_dir_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="not a folder"), \
            new_output_dir(tmp_path / "f", overwrite=True, owned=()):
        pytest.fail("a file was taken for a folder")


@pytest.mark.parametrize("copy,fallback,link_fails,expected", [
    (False, "copy", False, "hardlink"),     # same file system: share the bytes
    (False, "copy", True, "copy"),          # no hard link possible: an independent copy
    (False, "symlink", True, "symlink"),    # ... or a symlink where the caller prefers one
    (True, "symlink", False, "copy"),       # asked to copy: always a copy
])
def test_link_or_copy(tmp_path, monkeypatch, copy, fallback, link_fails, expected):
    src = tmp_path / "src.png"
    src.write_bytes(b"pixels")
    if link_fails:
        def refuse(*_args):
            raise OSError(18, "Invalid cross-device link")
        monkeypatch.setattr(os, "link", refuse)
    dst = tmp_path / "out" / "dst.png"
    assert link_or_copy(src, dst, copy=copy, fallback=fallback) == expected
    assert dst.read_bytes() == b"pixels" and src.read_bytes() == b"pixels"
    assert dst.is_symlink() == (expected == "symlink")
    assert os.path.samefile(src, dst) == (expected in ("hardlink", "symlink"))
    assert not [p for p in dst.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("image_format", ["png", "jpg"])
def test_encode_image_is_deterministic_and_decodes(image_format):
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    data = encode_image(image, image_format)
    assert data == encode_image(image, image_format)
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
    assert decoded.shape == image.shape
    if image_format == "png":
        assert np.array_equal(decoded, image)


def test_encode_image_rejects_an_unknown_format():
    with pytest.raises(ValueError, match="'jpg' or 'png'"):
        encode_image(np.zeros((8, 8, 3), np.uint8), "bmp")


def test_link_files_places_each_name_once_and_counts_the_ways(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    out = tmp_path / "out"
    links = link_files([(a, "x.png"), (b, "y.png"), (b, "x.png")], out, copy=True)
    assert links == {"copy": 2}
    assert (out / "x.png").read_bytes() == b"a"  # the first source of a name wins
    assert (out / "y.png").read_bytes() == b"b"
    assert link_files([(a, "z.png")], out, copy=False) == {"hardlink": 1}
    assert a.read_bytes() == b"a" and b.read_bytes() == b"b"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_manifest_is_not_read(tmp_path):
    """``written_by_synthgen`` (asked by every --overwrite) opens only regular files: a
    FIFO named manifest.json would block a plain read for ever."""
    os.mkfifo(tmp_path / "manifest.json")
    assert written_by_synthgen(tmp_path) is False
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.json").write_text('{"synthgen_version": "0"}', encoding="utf-8")
    assert written_by_synthgen(tmp_path) is True
