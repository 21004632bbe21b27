"""``generate --resume``: a run stopped at any moment finishes as if never stopped.

Runs are killed for real (SIGKILL to the process group of a ``synthgen generate`` child
running two workers) at fixed delays, at a seeded random delay and at moments picked by
what is on disk; Ctrl-C, torn records and vanished images are made deterministically
in-process. Every resumed folder must equal an uninterrupted run's, byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthgen.cli import cli
from synthgen.generate import pipeline, runstate

COUNT = 16
OPTIONS = ["--scene", "urban", "--count", str(COUNT), "--seed", "5", "--size", "160x96"]
CLI = [sys.executable, "-c", "from synthgen.cli import cli; cli()"]
#: Longest a killed run may take to reach the moment a test waits for.
PATIENCE = 60.0


def invoke(*args: str):
    return CliRunner().invoke(cli, ["-q", *args])


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("reference") / "run"
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1")
    assert result.exit_code == 0, result.output
    return folder_bytes(out)


def assert_nothing_looks_complete_but_is_not(out: Path, reference: dict[str, bytes]) -> None:
    """Every file a user could take for finished is exactly the finished file."""
    if not out.exists():
        return
    visible = {name: data for name, data in folder_bytes(out).items()
               if not name.startswith(".partial/") and ".tmp-" not in name}
    for name, data in visible.items():
        assert data == reference[name], f"{name} differs from a full run's"
    if "manifest.json" in visible:
        assert visible == reference, "a manifest marks the folder complete"


def resume(out: Path, *extra: str) -> None:
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume",
                    *extra)
    assert result.exit_code == 0, result.output


def records_written(out: Path) -> int:
    path = out / ".partial" / "records.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def images_written(out: Path) -> int:
    folder = out / "images"
    return sum(1 for p in folder.iterdir() if p.suffix == ".jpg") if folder.exists() else 0


def _after(seconds: float) -> Callable[[Path], bool]:
    deadline = time.monotonic() + seconds
    return lambda out: time.monotonic() >= deadline


KILL_POINTS = {
    # almost at once: the interpreter is still importing, nothing may exist yet
    "after 0.2 s": lambda: _after(0.2),
    # fixed delays: start-up, first images, well into the run (machine speed decides)
    "after 1.5 s": lambda: _after(1.5),
    "after 2.5 s": lambda: _after(2.5),
    # a seeded random moment in the same span
    "at a seeded random time": lambda: _after(random.Random(20240611).uniform(0.5, 3.0)),
    # an image on disk, quite possibly before its record
    "at the first image": lambda: lambda out: images_written(out) >= 1,
    # mid-run for certain: records exist and more images are in flight
    "after 4 records": lambda: lambda out: records_written(out) >= 4,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_at_any_moment_then_resume_equals_an_uninterrupted_run(tmp_path, reference,
                                                                        point):
    out = tmp_path / "run"
    ready = KILL_POINTS[point]()
    child = subprocess.Popen([*CLI, "-q", "generate", *OPTIONS, "--out", str(out),
                              "--workers", "2"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        waited = time.monotonic()
        while child.poll() is None and not ready(out):
            assert time.monotonic() - waited < PATIENCE, f"never reached {point}"
            time.sleep(0.005)
    finally:
        # The whole group, as a scheduler or the OOM killer takes a job: workers included.
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert_nothing_looks_complete_but_is_not(out, reference)
    resume(out)
    assert folder_bytes(out) == reference


def live_processes(group: int) -> list[str]:
    """The processes of a process group that still run (zombies, dead but not yet reaped
    by an init that does not reap, are left out)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(stat_file.parent.name)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("whom", [
    # Kubernetes: SIGTERM to the container's main process only
    "the main process",
    # Slurm (scancel), a shell's kill -TERM -PGID: every process of the job, workers too
    "the process group",
])
def test_sigterm_stops_like_ctrl_c_releases_everything_and_resumes(tmp_path, reference, whom):
    out = tmp_path / "run"
    child = subprocess.Popen([*CLI, "-q", "generate", *OPTIONS, "--out", str(out),
                              "--workers", "2"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        waited = time.monotonic()
        while child.poll() is None and records_written(out) < 4:
            assert time.monotonic() - waited < PATIENCE, "never reached 4 records"
            time.sleep(0.005)
        assert child.poll() is None, "finished before it could be stopped"
        if whom == "the main process":
            child.send_signal(signal.SIGTERM)
        else:
            os.killpg(child.pid, signal.SIGTERM)
        _, stderr = child.communicate(timeout=PATIENCE)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    message = stderr.decode()
    assert child.returncode == 128 + signal.SIGTERM, message
    assert "Interrupted. Finish the run with the same command and --resume" in message
    assert "Traceback" not in message
    assert "leaked" not in message and "resource_tracker" not in message, message
    waited = time.monotonic()
    while live_processes(child.pid):  # the workers and the resource tracker end
        assert time.monotonic() - waited < 10, f"still running: {live_processes(child.pid)}"
        time.sleep(0.05)
    assert_nothing_looks_complete_but_is_not(out, reference)
    assert not (out / "annotations.json").exists()
    resume(out)
    assert folder_bytes(out) == reference


def worker_processes(parent: int) -> list[int]:
    """The render workers of the ``synthgen generate`` process ``parent`` (its children
    but multiprocessing's resource tracker)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            command = (stat_file.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"resource_tracker" not in command:
            found.append(int(stat_file.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_worker_killed_alone_is_an_error_line_and_the_run_resumes(tmp_path, reference):
    # The OOM killer takes one worker, not the job: the run stops with one Error: line
    # naming the exit status (multiprocessing.Pool waited for ever here).
    out = tmp_path / "run"
    child = subprocess.Popen([*CLI, "-q", "generate", *OPTIONS, "--out", str(out),
                              "--workers", "2"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        waited = time.monotonic()
        while child.poll() is None and records_written(out) < 2:
            assert time.monotonic() - waited < PATIENCE, "never reached 2 records"
            time.sleep(0.005)
        workers = worker_processes(child.pid)
        assert child.poll() is None and workers, "finished before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = child.communicate(timeout=PATIENCE)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    message = stderr.decode()
    if child.returncode == 0:
        pytest.skip("the killed worker had finished its share")  # possible, not seen
    assert child.returncode == 2, message
    last = message.strip().splitlines()[-1]
    assert last.startswith("Error: --out ") and "exit status -9" in last, message
    assert "--resume" in last and "Traceback" not in message, message
    assert_nothing_looks_complete_but_is_not(out, reference)
    resume(out)
    assert folder_bytes(out) == reference


@pytest.fixture
def interrupt_after(monkeypatch) -> Callable[[int], None]:
    """Make the next run in this process stop with Ctrl-C after ``n`` records."""
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


def interrupted_run(out: Path, arm: Callable[[int], None], n: int, *extra: str) -> None:
    arm(n)
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", *extra)
    assert result.exit_code == 130
    assert "--resume" in result.output
    assert not (out / "manifest.json").exists() and not (out / "annotations.json").exists()


def _torn_mid_line(out: Path, lines: list[bytes]) -> list[bytes]:
    return [*lines, lines[0][:25]]


def _newline_missing(out: Path, lines: list[bytes]) -> list[bytes]:
    return [*lines[:-1], lines[-1].rstrip(b"\n")]


def _zeros_inside(out: Path, lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], b"\0" * 40 + b"\n", *lines[4:]]


def _image_gone(out: Path, lines: list[bytes]) -> list[bytes]:
    (out / "images" / "000007.jpg").unlink()
    return lines


def _image_emptied(out: Path, lines: list[bytes]) -> list[bytes]:
    (out / "images" / "000004.jpg").write_bytes(b"")
    return lines


def _image_cut_short(out: Path, lines: list[bytes]) -> list[bytes]:
    image = out / "images" / "000006.jpg"
    image.write_bytes(image.read_bytes()[:100])
    return lines


def _image_changed(out: Path, lines: list[bytes]) -> list[bytes]:
    image = out / "images" / "000002.jpg"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    image.write_bytes(bytes(data))
    return lines


def _old_records_and_an_empty_image(out: Path, lines: list[bytes]) -> list[bytes]:
    # records of a synthgen that kept no digest: only the size can be checked
    (out / "images" / "000005.jpg").write_bytes(b"")
    stripped = []
    for line in lines:
        record = json.loads(line)
        record.pop("sha256")
        stripped.append((json.dumps(record) + "\n").encode())
    return stripped


@pytest.mark.parametrize("damage", [
    # killed while writing a record
    _torn_mid_line,
    # the last record written but not its newline: the next one would share its line
    _newline_missing,
    # a block of zeros, as a lost page leaves it: everything from there is made again
    _zeros_inside,
    # an image deleted after its record was written
    _image_gone,
    # an image left empty (a power loss after its rename), cut short, or edited
    _image_emptied,
    _image_cut_short,
    _image_changed,
    _old_records_and_an_empty_image,
])
def test_ctrl_c_then_damage_then_resume_equals_an_uninterrupted_run(
        tmp_path, reference, interrupt_after, damage):
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 10)
    records = out / ".partial" / "records.jsonl"
    lines = records.read_bytes().splitlines(keepends=True)
    assert len(lines) == 10
    # image 10 was written before its record: present, yet it must be made again
    assert (out / "images" / "000010.jpg").exists()
    records.write_bytes(b"".join(damage(out, lines)))
    # temporaries of killed writers
    (out / "images" / ".tmp-000011.jpg.4242").write_bytes(b"half a jpeg")
    (out / ".tmp-annotations.json.4242").write_text("{")
    resume(out)
    assert folder_bytes(out) == reference


def test_resume_may_change_the_workers(tmp_path, reference, interrupt_after):
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 5)
    resume(out, "--workers", "2")
    assert folder_bytes(out) == reference


@pytest.mark.parametrize("changed,message", [
    # another seed
    (["--seed", "6"], "options.seed: recorded 5, given 6"),
    # another count
    (["--count", "17"], "options.count: recorded 16, given 17"),
    # another size
    (["--size", "192x96"], "options.size"),
    # a label threshold
    (["--min-pixels", "3"], "options.labels.min_pixels"),
    # another template
    (["--scene", "rural"], "template.name: recorded 'urban', given 'rural'"),
    # a shard of the run instead of the run
    (["--shard", "1/2"], "shard: recorded None"),
])
def test_resume_with_other_options_is_refused_and_changes_nothing(tmp_path, interrupt_after,
                                                                  changed, message):
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 3)
    before = folder_bytes(out)
    options = list(OPTIONS)
    for flag, value in zip(changed[::2], changed[1::2], strict=True):
        if flag in options:
            options[options.index(flag) + 1] = value
        else:
            options += [flag, value]
    result = invoke("generate", *options, "--out", str(out), "--workers", "1", "--resume")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert "--overwrite" in result.output
    assert folder_bytes(out) == before


def test_resume_of_a_finished_run_says_so_and_changes_nothing(tmp_path, reference):
    out = tmp_path / "run"
    resume(out)  # a missing folder: a normal run
    assert folder_bytes(out) == reference
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    result = invoke("generate", *OPTIONS, "--out", str(out), "--resume")
    assert result.exit_code == 0 and "already complete" in result.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes
    other = invoke("generate", *OPTIONS, "--out", str(out), "--resume", "--jpeg-quality", "80")
    assert other.exit_code == 2 and "options.jpeg_quality" in other.output


@pytest.mark.parametrize("damage", ["empty", "cut short", "changed", "gone"])
def test_resume_of_a_finished_run_makes_a_bad_image_again(tmp_path, reference, damage):
    out = tmp_path / "run"
    resume(out)
    image = out / "images" / "000009.jpg"
    data = image.read_bytes()
    if damage == "gone":
        image.unlink()
    else:
        image.write_bytes({"empty": b"", "cut short": data[:-50],
                           "changed": data[:-3] + b"\0\0\0"}[damage])
    result = invoke("generate", *OPTIONS, "--out", str(out), "--resume")
    assert result.exit_code == 0, result.output
    assert "already complete" not in result.output
    assert f"{COUNT - 9} rendered, 9 kept" in result.output
    assert folder_bytes(out) == reference


def test_resume_of_a_finished_run_with_an_edited_digest_list_is_refused(tmp_path, reference):
    out = tmp_path / "run"
    resume(out)
    listing = out / "images.sha256"
    listing.write_text(listing.read_text().replace("  images/000003", "  images/000033"))
    before = folder_bytes(out)
    result = invoke("generate", *OPTIONS, "--out", str(out), "--resume")
    assert result.exit_code == 2 and "images.sha256" in result.output
    assert folder_bytes(out) == before


def test_resume_starts_a_run_in_an_empty_folder(tmp_path, reference):
    out = tmp_path / "run"
    out.mkdir()  # as a job script's mkdir -p, or a mounted volume
    resume(out)
    assert folder_bytes(out) == reference


def test_resume_refuses_a_folder_holding_no_run(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("generate", *OPTIONS, "--out", str(out), "--resume")
    assert result.exit_code == 2 and "no interrupted synthgen run" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_resume_starts_a_run_stopped_before_its_first_file(tmp_path, reference):
    out = tmp_path / "run"
    (out / ".partial").mkdir(parents=True)
    (out / ".partial" / ".tmp-run.json.4242").write_text('{"templ')
    resume(out)
    assert folder_bytes(out) == reference


def test_resume_finishes_after_an_overwrite_stopped_while_deleting(tmp_path, reference):
    """--overwrite marks the folder and deletes the manifest first; stopped while the old
    images go, what is left holds none of the new run: --resume starts it afresh."""
    out = tmp_path / "run"
    result = invoke("generate", *OPTIONS[:3], "3", *OPTIONS[4:], "--out", str(out))
    assert result.exit_code == 0, result.output
    (out / ".partial").mkdir()
    (out / "manifest.json").unlink()
    resume(out)
    assert folder_bytes(out) == reference


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks need fcntl")
def test_a_folder_another_process_is_writing_is_refused(tmp_path, reference,
                                                         interrupt_after):
    import fcntl

    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 4)
    before = folder_bytes(out)
    # another writer holds the lock, as a still running (or twice started) task would
    with open(out / ".partial" / "lock", "a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        for extra in (["--resume"], ["--overwrite"]):
            result = invoke("generate", *OPTIONS, "--out", str(out), *extra)
            assert result.exit_code == 2, result.output
            assert "another synthgen command is writing" in result.output
        assert folder_bytes(out) == before
    resume(out)
    assert folder_bytes(out) == reference


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    result = invoke("generate", *OPTIONS, "--out", str(tmp_path / "o"), "--resume",
                    "--overwrite")
    assert result.exit_code == 2 and "cannot be combined" in result.output
    assert not (tmp_path / "o").exists()


def test_run_json_records_what_resume_checks(tmp_path, interrupt_after):
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 2)
    run = json.loads((out / ".partial" / "run.json").read_text())
    assert set(run) == {"synthgen_version", "libraries", "template", "options", "shard"}
    assert set(run["libraries"]) == {"numpy", "opencv", "pycocotools", "numba"}
    assert run["options"]["seed"] == 5 and "workers" not in run["options"]


def test_resume_refuses_a_run_started_with_other_library_versions(tmp_path, interrupt_after):
    # Another OpenCV or numpy build could draw or encode other bytes: never mix two.
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 2)
    run_file = out / ".partial" / "run.json"
    run = json.loads(run_file.read_text())
    run["libraries"]["opencv"] = "0.0.1"
    run_file.write_text(json.dumps(run))
    before = folder_bytes(out)
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume")
    assert result.exit_code == 2, result.output
    assert "libraries.opencv" in result.output
    assert folder_bytes(out) == before


@pytest.mark.parametrize("found", ["missing", "empty", "a run stopped before its first file"])
@pytest.mark.parametrize(("other_command", "message"), [
    # the same command started twice (a scheduler's second pod), finished meanwhile
    ("same, finished", "another command wrote a run here while this --resume"),
    # the same, still running (stopped here): the first one's run is not restarted
    ("same, interrupted", "another command wrote a run here while this --resume"),
    # another run altogether
    ("other, finished", "holds a finished dataset made with a different template"),
])
def test_resume_never_replaces_a_run_written_while_it_was_starting(
        tmp_path, monkeypatch, reference, found, other_command, message):
    """--resume looked at the folder; before it took the lock another command wrote a run
    there: that run is kept, and the same command run again finishes it."""
    out = tmp_path / "run"
    if found != "missing":
        out.mkdir()
    if found == "a run stopped before its first file":
        (out / ".partial").mkdir()
    same = ["generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume"]
    other = (same if other_command.startswith("same") else
             ["generate", "--scene", "rural", "--count", "2", "--size", "160x96",
              "--out", str(out), "--resume"])
    real_start, real_records = runstate.resume_start, pipeline._records

    def stop_after_three(*args, **kwargs):
        for done, record in enumerate(real_records(*args, **kwargs)):
            if done == 3:
                raise KeyboardInterrupt
            yield record

    def another_command_meanwhile(folder, identity):
        start = real_start(folder, identity)
        monkeypatch.setattr(runstate, "resume_start", real_start)
        if other_command.endswith("interrupted"):
            monkeypatch.setattr(pipeline, "_records", stop_after_three)
            assert invoke(*other).exit_code == 130
            monkeypatch.setattr(pipeline, "_records", real_records)
        else:
            assert invoke(*other).exit_code == 0
        written.update(folder_bytes(out))
        return start

    written: dict[str, bytes] = {}
    monkeypatch.setattr(runstate, "resume_start", another_command_meanwhile)
    result = invoke(*same)
    monkeypatch.setattr(runstate, "resume_start", real_start)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    # Nothing of what the other command wrote was touched ...
    assert folder_bytes(out) == written
    # ... and running the other command again finishes (or reports) it.
    assert invoke(*other).exit_code == 0
    if other == same:
        assert folder_bytes(out) == reference
    else:
        assert json.loads((out / "manifest.json").read_text())["template"]["name"] == "rural"


def test_resume_looks_again_under_the_lock_before_removing_anything(tmp_path, monkeypatch,
                                                                  reference):
    """The last window: the same command (a second pod) finishes the run after this
    --resume's first looks, just before it takes the lock to clear a stale .partial."""
    from synthgen.storage import files as io

    out = tmp_path / "run"
    (out / ".partial").mkdir(parents=True)
    command = ["generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume"]
    real_check = io._check_output_dir
    written: dict[str, bytes] = {}

    def the_other_pod_finishes_meanwhile(folder, **kwargs):
        real_check(folder, **kwargs)
        monkeypatch.setattr(io, "_check_output_dir", real_check)
        assert invoke(*command).exit_code == 0
        written.update(folder_bytes(out))

    monkeypatch.setattr(io, "_check_output_dir", the_other_pod_finishes_meanwhile)
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    assert "another command wrote a run here while this --resume" in result.output
    assert written == reference and folder_bytes(out) == reference
    again = invoke(*command)
    assert again.exit_code == 0 and "already complete" in again.output


def test_resume_checks_the_run_again_once_it_holds_the_lock(tmp_path, interrupt_after,
                                                           monkeypatch):
    """Between --resume's look at run.json and its lock, another command replaced the
    interrupted run with one of other options: it is refused, not continued."""
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 3)
    real = runstate.resume_start

    def replaced_meanwhile(folder, identity):
        start = real(folder, identity)
        run_file = folder / ".partial" / "run.json"
        run = json.loads(run_file.read_text())
        run["options"]["seed"] = 6
        run_file.write_text(json.dumps(run))
        return start

    monkeypatch.setattr(runstate, "resume_start", replaced_meanwhile)
    before_records = (out / ".partial" / "records.jsonl").read_bytes()
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume")
    assert result.exit_code == 2, result.output
    assert "options.seed: recorded 6, given 5" in result.output
    assert (out / ".partial" / "records.jsonl").read_bytes() == before_records
    assert not (out / "manifest.json").exists()


def test_resume_of_a_run_removed_while_it_was_starting_says_so(tmp_path, interrupt_after,
                                                              monkeypatch):
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 3)
    real = runstate.resume_start

    def removed_meanwhile(folder, identity):
        start = real(folder, identity)
        monkeypatch.setattr(runstate, "resume_start", real)
        (folder / ".partial" / "run.json").unlink()  # as an --overwrite stopped early
        return start

    monkeypatch.setattr(runstate, "resume_start", removed_meanwhile)
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume")
    assert result.exit_code == 2, result.output
    assert "finished or removed this run while --resume was starting" in result.output
    assert not (out / "manifest.json").exists()


def _with_albumentations(document_path: Path, version: str) -> None:
    document = json.loads(document_path.read_text())
    document["libraries"] = {**document["libraries"], "albumentations": version}
    document_path.write_text(json.dumps(document))


@pytest.mark.parametrize(("version", "resumes"), [
    # 2.0.8 drew rain with synthgen's calls now; 2.0.5 stopped at its first rainy image
    ("2.0.8", True), ("2.0.5", True),
    ("2.1.0", False), ("1.4.24", False), (None, False),
])
def test_a_run_recorded_with_albumentations_resumes_only_with_its_2_0_line(
        tmp_path, interrupt_after, reference, version, resumes):
    """Runs recorded albumentations (its add_rain drew the rain) until synthgen drew the
    same bytes itself: a run recorded with the 2.0 line it required resumes to the same
    folder; another value is another run, refused by name."""
    out = tmp_path / "run"
    interrupted_run(out, interrupt_after, 2)
    _with_albumentations(out / ".partial" / "run.json", version)
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", "--resume")
    if resumes:
        assert result.exit_code == 0, result.output
        assert folder_bytes(out) == reference
    else:
        assert result.exit_code == 2, result.output
        assert "libraries.albumentations" in result.output


def test_a_finished_run_recorded_with_albumentations_2_0_extends(tmp_path):
    out, whole = tmp_path / "run", tmp_path / "whole"
    assert invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1").exit_code == 0
    _with_albumentations(out / "manifest.json", "2.0.8")
    bigger = [*OPTIONS[:3], str(COUNT + 2), *OPTIONS[4:]]
    assert invoke("generate", *bigger, "--out", str(whole), "--workers", "1").exit_code == 0
    result = invoke("generate", *OPTIONS, "--out", str(out), "--workers", "1", "--extend", "2")
    assert result.exit_code == 0, result.output
    assert folder_bytes(out) == folder_bytes(whole)
