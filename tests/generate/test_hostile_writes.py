"""Hostile conditions for the writers ``generate`` and ``merge`` (issue 14).

One table per kind. A refusal or a failure is exit status 2 and exactly one ``Error:``
line, last, naming the path and what to do; a stop (SIGTERM, as Slurm and Kubernetes
send it) is Ctrl-C's message and 128 + the signal's number. Never a traceback, and never
a folder left looking complete: no ``manifest.json``, ``annotations.json`` or
``images.sha256`` beside an unfinished run, whose work ``--resume`` (``generate``) or
``--overwrite`` (``merge``) picks up.

- non-finite option values;
- operating-system errors while writing (a full disk, a read-only file system), made
  with monkeypatch at each file the writers write;
- SIGTERM while writing;
- ``--resume`` and ``--extend`` on a folder another command wrote;
- messages of several problems end in one ``Error:`` line.
"""

from __future__ import annotations

import errno
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from synthgen.cli import cli
from synthgen.errors import OutputError
from synthgen.generate import images, pipeline, runstate
from synthgen.generate import merge as merge_module

OPTIONS = ["--scene", "urban", "--count", "4", "--seed", "9", "--size", "96x64",
           "--workers", "1"]
#: What the folder of an unfinished run may never hold.
FINISHED_FILES = ("manifest.json", "annotations.json", "images.sha256")


# --------------------------------------------------------------------------- helpers


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["-q", *(str(a) for a in args)])


def error_lines(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


def assert_refused(result: Result, *fragments: str) -> str:
    """Exit 2, one ``Error:`` line and it last, no traceback, each fragment in it;
    returns the line."""
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1, result.output
    assert result.output.rstrip("\n").splitlines()[-1].startswith("Error:"), result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    (line,) = error_lines(result)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def assert_unfinished(out: Path) -> None:
    """Nothing in ``out`` looks finished, and it is marked unfinished."""
    for name in FINISHED_FILES:
        assert not (out / name).exists(), f"{name} left beside an unfinished run"
    assert (out / ".partial").is_dir()


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("reference") / "run"
    result = run("generate", *OPTIONS, "--out", out)
    assert result.exit_code == 0, result.output
    return folder_bytes(out)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("shards")
    for k in (1, 2):
        result = run("generate", *OPTIONS, "--out", root / f"s{k}", "--shard", f"{k}/2")
        assert result.exit_code == 0, result.output
    return [root / "s1", root / "s2"]


def failing(real: Callable[..., Any], code: int, *, nth: int = 1, named: bool = False,
            only: str | None = None) -> Callable[..., Any]:
    """``real``, except that its ``nth`` call (counting only calls whose first argument's
    name is ``only``, if given) raises ``OSError(code)``: without a file name, as a
    ``write()`` that fills the disk raises it, or (``named``) naming the temporary file,
    as a failed ``open()`` does."""
    calls = 0

    def fake(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        path = Path(args[0]) if args else None
        if only is None or (path is not None and path.name == only):
            calls += 1
            if calls == nth:
                if named and path is not None:
                    tmp = path.with_name(f".tmp-{path.name}.4242")
                    raise OSError(code, os.strerror(code), str(tmp))
                raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)
    return fake


# --------------------------------------------------------------------------- 1. non-finite


@pytest.mark.parametrize("value", [
    "nan",      # NaN passed FloatRange(0, 1): every comparison with it is false
    "NaN",
    "inf",      # out of range anyway, but said as what it is
    "-inf",
    "1e400",    # infinity once read
])
def test_a_non_finite_min_visibility_is_refused_and_leaves_nothing(tmp_path: Path,
                                                                   value: str) -> None:
    out = tmp_path / "out"
    result = run("generate", *OPTIONS, "--out", out, "--min-visibility", value)
    assert result.exit_code == 2, result.output
    assert "--min-visibility" in result.output and "Traceback" not in result.output
    assert not out.exists(), "no folder, no lock left behind"


def test_the_library_refuses_non_finite_label_options_before_writing(tmp_path: Path) -> None:
    from synthgen.labels import LabelOptions
    from synthgen.scene.templates import load_template

    options = pipeline.GenerateOptions(count=1, size=(64, 64),
                                       labels=LabelOptions(min_visibility=float("nan")))
    with pytest.raises(pipeline.SynthgenError, match="--min-visibility: expected a finite"):
        pipeline.generate(load_template("urban"), tmp_path / "out", options, progress=False)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- 2. OS errors


ENOSPC, EROFS = errno.ENOSPC, errno.EROFS
# (where it fails: the pipeline function patched, its nth call, errno, named (a failed
#  open() names the temporary file), the path the Error: line names)
GENERATE_FAILURES = [
    # the disk fills while an image is written (the third one)
    ("write_bytes_atomic", None, 3, ENOSPC, False, "images/000002.jpg"),
    # the images folder is remounted read-only: open() of the first temporary file
    ("write_bytes_atomic", None, 1, EROFS, True, "images/000000.jpg"),
    # the very first file of the run
    ("write_json_atomic", "run.json", 1, ENOSPC, False, ".partial/run.json"),
    # every image done, then annotations.json, images.sha256 or the manifest fails
    ("write_coco", None, 1, ENOSPC, False, "annotations.json"),
    ("write_digest_list", None, 1, ENOSPC, False, "images.sha256"),
    ("write_digest_list", None, 1, EROFS, True, "images.sha256"),
    ("write_json_atomic", "manifest.json", 1, ENOSPC, False, "manifest.json"),
]


@pytest.mark.parametrize(("function", "only", "nth", "code", "named", "path"),
                         GENERATE_FAILURES,
                         ids=[f"{f}-{o or n}-{errno.errorcode[c]}"
                              for f, o, n, c, _, _ in GENERATE_FAILURES])
def test_an_os_error_during_generate_is_one_error_line_and_resumable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: dict[str, bytes],
        function: str, only: str | None, nth: int, code: int, named: bool,
        path: str) -> None:
    out = tmp_path / "out"
    # Images are written by the module that makes them (in-process: one worker).
    module = images if function == "write_bytes_atomic" else pipeline
    real = getattr(module, function)
    monkeypatch.setattr(module, function, failing(real, code, nth=nth, named=named,
                                                  only=only))
    result = run("generate", *OPTIONS, "--out", out)
    line = assert_refused(result, str(out / path), os.strerror(code), "--resume")
    assert ".tmp-" not in line, "the file meant, not its temporary name"
    assert ("free some space" if code == ENOSPC else "make it writable") in line
    assert_unfinished(out)
    assert not any(".tmp-" in name for name in folder_bytes(out))
    monkeypatch.setattr(module, function, real)
    resumed = run("generate", *OPTIONS, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert folder_bytes(out) == reference


def test_an_os_error_while_extending_keeps_the_smaller_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    small = [*OPTIONS[:3], "2", *OPTIONS[4:]]  # --count 2
    assert run("generate", *small, "--out", out).exit_code == 0
    before = folder_bytes(out)
    real = runstate.write_json_atomic  # extend's run.json is written by runstate.reopen
    monkeypatch.setattr(runstate, "write_json_atomic",
                        failing(real, ENOSPC, only="run.json"))
    result = run("generate", *small, "--out", out, "--extend", "2")
    assert_refused(result, "run.json", "No space left on device", "--resume")
    after = folder_bytes(out)
    assert after.pop(".partial/lock", b"") == b""  # as a refused --extend leaves it
    assert after == before, "still the finished smaller run"
    monkeypatch.setattr(runstate, "write_json_atomic", real)
    assert run("generate", *small, "--out", out, "--extend", "2", "--resume").exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["counts"]["images"] == 4


def _link_fails(src: Path, dst: Path, **kwargs: Any) -> str:
    try:
        raise OSError(ENOSPC, os.strerror(ENOSPC))
    except OSError as exc:  # as storage.files.link_or_copy words it
        raise OutputError(f"{dst}: cannot link or copy {src} ({exc.strerror})") from exc


# (the merge function patched or replaced, errno, named, the path the Error: line names)
MERGE_FAILURES = [
    # an image neither linked nor copied
    ("link_or_copy", _link_fails, ENOSPC, "images/000000.jpg"),
    ("write_coco", None, ENOSPC, "annotations.json"),
    ("write_digest_list", None, EROFS, "images.sha256"),
    ("write_json_atomic", None, ENOSPC, "manifest.json"),
]


@pytest.mark.parametrize(("function", "replacement", "code", "path"), MERGE_FAILURES,
                         ids=[f"{f}-{errno.errorcode[c]}" for f, _, c, _ in MERGE_FAILURES])
def test_an_os_error_during_merge_is_one_error_line_and_overwritable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shards: list[Path],
        reference: dict[str, bytes], function: str,
        replacement: Callable[..., Any] | None, code: int, path: str) -> None:
    out = tmp_path / "merged"
    before = [folder_bytes(shard) for shard in shards]
    real = getattr(merge_module, function)
    monkeypatch.setattr(merge_module, function,
                        replacement or failing(real, code, named=code == EROFS))
    result = run("merge", *shards, "--out", out)
    assert_refused(result, str(out / path), os.strerror(code), "--overwrite")
    assert_unfinished(out)
    assert [folder_bytes(shard) for shard in shards] == before
    monkeypatch.setattr(merge_module, function, real)
    again = run("merge", *shards, "--out", out, "--overwrite")
    assert again.exit_code == 0, again.output
    assert folder_bytes(out) == reference


# --------------------------------------------------------------------------- 3. SIGTERM


@pytest.fixture
def sigterm_after(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Send this process SIGTERM after ``n`` records of the next run, as a scheduler
    stopping the job would."""
    def arm(n: int) -> None:
        real = pipeline._records

        def records(*args: Any, **kwargs: Any) -> Iterator[dict]:
            for done, record in enumerate(real(*args, **kwargs)):
                if done == n:
                    monkeypatch.setattr(pipeline, "_records", real)
                    os.kill(os.getpid(), signal.SIGTERM)
                yield record
        monkeypatch.setattr(pipeline, "_records", records)
    return arm


@pytest.mark.parametrize("n", [0, 2])
def test_sigterm_during_generate_is_ctrl_c_and_resumable(
        tmp_path: Path, sigterm_after: Callable[[int], None],
        reference: dict[str, bytes], n: int) -> None:
    out = tmp_path / "out"
    sigterm_after(n)
    result = run("generate", *OPTIONS, "--out", out)
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "Interrupted. Finish the run with the same command and --resume" in result.output
    assert "Traceback" not in result.output
    assert_unfinished(out)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the handler is put back"
    resumed = run("generate", *OPTIONS, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert folder_bytes(out) == reference


def test_sigterm_during_merge_says_how_to_finish(tmp_path: Path, shards: list[Path],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 reference: dict[str, bytes]) -> None:
    real = merge_module.write_coco

    def stopped(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(merge_module, "write_coco", stopped)
    out = tmp_path / "merged"
    result = run("merge", *shards, "--out", out)
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "unfinished" in result.output and "--overwrite" in result.output
    assert_unfinished(out)
    monkeypatch.setattr(merge_module, "write_coco", real)
    assert run("merge", *shards, "--out", out, "--overwrite").exit_code == 0
    assert folder_bytes(out) == reference


# --------------------------------------------------------------------------- 4. other folders


# (what the manifest records, the words naming its writer)
FOREIGN_MANIFESTS = [
    ({"synthgen_version": "0.5.0", "command": "mix", "seed": 0}, "synthgen mix"),
    ({"synthgen_version": "0.5.0", "command": "real import"}, "synthgen real import"),
    ({"synthgen_version": "0.5.0", "command": "export", "format": "yolo"}, "synthgen export"),
    # a command name that is long or odd is shortened, on one line
    ({"synthgen_version": "0.5.0", "command": "x\n" * 500}, "synthgen x x x"),
    # synthgen's, but no command recorded
    ({"synthgen_version": "0.5.0"}, "another synthgen command"),
    # not synthgen's at all
    ({"name": "my dataset"}, "another program"),
    ([1, 2, 3], "another program"),
]


@pytest.mark.parametrize("flag", [["--resume"], ["--extend", "2"]])
@pytest.mark.parametrize(("manifest", "writer"), FOREIGN_MANIFESTS,
                         ids=[w for _, w in FOREIGN_MANIFESTS])
def test_resume_or_extend_of_a_folder_another_command_wrote_says_which(
        tmp_path: Path, manifest: Any, writer: str, flag: list[str]) -> None:
    out = tmp_path / "mixed"
    (out / "annotations").mkdir(parents=True)
    (out / "annotations" / "train.json").write_text("{}")
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = folder_bytes(out)
    result = run("generate", *OPTIONS, "--out", out, *flag)
    line = assert_refused(result, f"{out} was written by {writer}", "not by generate")
    assert len(result.output) < 600, "no template diff"
    assert len(line) < 300
    assert folder_bytes(out) == before


# --------------------------------------------------------------------------- 5. messages


def test_several_template_problems_end_in_one_error_line(tmp_path: Path) -> None:
    template = tmp_path / "bad.yaml"
    template.write_text("extends: urban\ncamera: {height_range: [2, 1], pitch_range: [5, 1]}\n"
                        "max_distance: -1\n")
    out = tmp_path / "out"
    result = run("generate", "--scene", template, "--count", 1, "--out", out)
    line = assert_refused(result, "bad.yaml", "3 problems (listed above)")
    problems = result.output.rstrip("\n").splitlines()[:-1]
    assert len(problems) == 3, result.output
    assert any("camera.height_range" in p for p in problems)
    assert any("camera.pitch_range" in p for p in problems)
    assert any("max_distance" in p for p in problems)
    assert "camera.height_range" not in line
    assert not out.exists()


def test_resume_with_other_options_lists_the_differences_above_the_error(
        tmp_path: Path, reference: dict[str, bytes]) -> None:
    out = tmp_path / "out"
    assert run("generate", *OPTIONS, "--out", out).exit_code == 0
    changed = [*OPTIONS[:5], "10", *OPTIONS[6:]]  # --seed 10
    result = run("generate", *changed, "--out", out, "--resume")
    line = assert_refused(result, "--resume", "holds a finished dataset", "Repeat the exact")
    assert "options.seed: recorded 9, given 10" in result.output.split(line)[0]
    assert folder_bytes(out) == reference


# ------------------------------------------------- other writers: mix, real import, export


def _storage_error(code: int) -> Callable[..., Any]:
    def fail(path: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code), str(path))
    return fail


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
@pytest.mark.parametrize("command", ["mix", "real import", "export"])
def test_other_writers_turn_a_refused_write_into_one_error_line(tmp_path, monkeypatch,
                                                                command, code):
    """Every writer's folder stays unfinished (``.partial/``, no manifest) when the file
    system refuses a write, and the command ends in one ``Error:`` line naming the file:
    the boundary in :mod:`synthgen.cli` catches what a writer does not say itself."""
    from synthgen.datasets import mix as mix_module
    from synthgen.datasets import realsets
    from synthgen.formats import export as export_module
    from tests.datasets.test_mix import make_real, make_synthetic

    real = make_real(tmp_path / "real")
    synthetic = make_synthetic(tmp_path / "synth", 4)
    out = tmp_path / "out"
    module, args = {
        "mix": (mix_module, ["mix", "--synthetic", synthetic, "--real", real, "--out", out,
                             "--seed", "0"]),
        "real import": (realsets, ["real", "import", "--format", "coco",
                                   real / "annotations.json", "--out", out]),
        "export": (export_module, ["export", synthetic, "--format", "yolo", "--out", out]),
    }[command]
    monkeypatch.setattr(module, "write_json_atomic", _storage_error(code))
    result = run(*args)
    line = assert_refused(result, os.strerror(code), "run the same command again")
    assert str(out) in line
    assert not (out / "manifest.json").exists()
    assert (out / ".partial").is_dir()
