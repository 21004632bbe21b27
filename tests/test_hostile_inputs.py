"""Hostile inputs (issue 14): every one is refused up front, or counted, never a traceback.

One table per kind. A refusal is exit status 2 and exactly one ``Error:`` line naming
what is wrong; ``validate`` lists what it finds and exits 1, as documented (2 is for a
path it cannot read at all). Inputs are never modified, and nothing is written.

- non-finite numbers in templates, options and COCO files;
- reads that would leave the dataset (a ``file_name`` absolute or with ``..``) or quote
  another file (``extends:``);
- files that are not regular (a FIFO would block a reader for ever);
- unfinished folders (``.partial/``) and empty templates;
- a preview sheet too large to draw, refused before anything is rendered, and a mix
  weight too large to write;
- the same kinds for the commands that read real sets (``real import``, ``fit``,
  ``benchmark``, ``generate --sprites`` and ``--look-like``, ``export``, ``mix``),
  KITTI folders included.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgen.cli import cli
from synthgen.commands.options import FiniteFloatRange
from synthgen.errors import OutputError, TemplateError
from synthgen.scene.templates import load_template
from synthgen.storage.files import NotRegularFileError, open_regular
from synthgen.viz import preview as preview_module
from synthgen.viz import sheet as sheet_module
from tests.factories import annotation, make_coco_folder, make_image

W, H = 64, 48


# --------------------------------------------------------------------------- helpers


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_lines(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit 2, one ``Error:`` line, no traceback, each fragment in the output."""
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


def assert_flagged(result: Result, *fragments: str) -> None:
    """``validate``'s own refusal: exit 1, the problems listed, no traceback."""
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


def digest(root: Path) -> dict[str, str]:
    """Every entry under ``root``: file contents by hash, anything else by its kind (a
    FIFO is never opened)."""
    found = {}
    for path in sorted([root, *root.rglob("*")]):
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path.relative_to(root))] = f"mode {stat.S_IFMT(mode):o}"
            if stat.S_ISLNK(mode):
                found[str(path.relative_to(root))] += f" -> {os.readlink(path)}"
    return found


def dataset(root: Path, **edits: Any) -> Path:
    """Two flat 64x48 images, a car box on the first; ``edits`` update image 2's entry."""
    images = [{"id": 1, "file_name": "a.png", "width": W, "height": H},
              {"id": 2, "file_name": "b.png", "width": W, "height": H}]
    make_coco_folder(root, images, [annotation(1, 1, 1, [2, 2, 10, 10])])
    if edits:
        document = json.loads((root / "annotations.json").read_text())
        document["images"][1].update(edits)
        (root / "annotations.json").write_text(json.dumps(document))
    return root


def edit_json_text(path: Path, old: str, new: str) -> None:
    """Replace text in a JSON file (for numbers Python's json would not write)."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def run_guarded(fifo: Path, *args: str | Path, seconds: float = 60) -> Result:
    """Run the CLI; if it is still running after ``seconds`` (blocked reading ``fifo``),
    unblock it by writing to the FIFO and fail."""
    return call_guarded(fifo, lambda: run(*args), str(args[0]), seconds=seconds)


def call_guarded(fifo: Path, call: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    """``call()``, failing (after unblocking it) if it blocks reading ``fifo``."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            outcome["error"] = exc
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        try:  # a writer lets the blocked reader see end of file
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(descriptor)
        except OSError:
            pass
        worker.join(10)
        pytest.fail(f"{what} blocked reading the FIFO {fifo}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# --------------------------------------------------------------------------- 1. non-finite


# field: a YAML override of the urban template (one number non-finite each).
NON_FINITE_TEMPLATES = [
    # both ends NaN: NaN passes every bound check, so it reached the sampler
    ("camera.height_range", "camera: {height_range: [.nan, .nan]}"),
    ("camera.pitch_range", "camera: {pitch_range: [0, .inf]}"),
    ("max_distance", "max_distance: .nan"),
    ("sensor.motion_blur_probability", "sensor: {motion_blur_probability: .nan}"),
    ("objects.car.distance_range", "objects: {car: {distance_range: [-.inf, 10]}}"),
    ("lighting.time_of_day.day", "lighting: {time_of_day: {day: .nan}}"),
    ("weather.intensity_range.fog", "weather: {weights: {fog: 1}, "
                                    "intensity_range: {fog: [.nan, 1]}}"),
    # 1e400 is infinity once read
    ("road.lane_width_range", "road: {lane_width_range: [3.0, 1e400]}"),
    # a string pydantic reads as a float
    ("road.curvature_range", "road: {curvature_range: ['nan', 0]}"),
    ("road.markings.wear_range", "road: {markings: {wear_range: [.NaN, .NaN]}}"),
    ("sensor.motion_blur_range", "sensor: {motion_blur_range: [.nan, 7]}"),
    ("road.surface_palette", "road: {surface_palette: [[.nan, 0, 0]]}"),
]


@pytest.mark.parametrize(("field", "override"), NON_FINITE_TEMPLATES,
                         ids=[f for f, _ in NON_FINITE_TEMPLATES])
def test_a_non_finite_template_number_is_refused_by_preview(tmp_path: Path, field: str,
                                                            override: str) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(f"extends: urban\n{override}\n")
    before = digest(tmp_path)
    result = run("preview", "--scene", template, "--out", tmp_path / "o.png", "--count", 1)
    assert_refused(result, field, "finite number")
    assert digest(tmp_path) == before


@pytest.mark.parametrize(("field", "override"), NON_FINITE_TEMPLATES[:3],
                         ids=[f for f, _ in NON_FINITE_TEMPLATES[:3]])
def test_a_non_finite_template_number_writes_nothing_and_leaves_no_lock(
        tmp_path: Path, field: str, override: str) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(f"extends: urban\n{override}\n")
    out = tmp_path / "out"
    result = run("generate", "--scene", template, "--count", 1, "--out", out,
                 "--size", "64x64")
    assert_refused(result, field, "finite number")
    assert not out.exists()


def _numeric_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, (dict, list, tuple)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return [leaf for key, child in items for leaf in _numeric_leaves(child, (*path, key))]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [path]
    return []


#: Every number of the urban template, resolved: ranges, weights, colours, counts.
URBAN = load_template("urban").model_dump(mode="python", exclude={"name", "description"})
NUMERIC_FIELDS = _numeric_leaves(URBAN)


def _override(path: tuple[Any, ...], number: float) -> dict[str, Any]:
    """The smallest override of urban that puts ``number`` at ``path``: the list (range,
    palette) holding it whole, mappings above it nested (extends merges them)."""
    indices = [i for i, part in enumerate(path) if isinstance(part, int)]
    cut = indices[0] if indices else len(path)
    value: Any = number
    if indices:
        value = URBAN
        for part in path[:cut]:
            value = value[part]
        value = json.loads(json.dumps(value))  # a copy, tuples as lists
        target = value
        for part in path[cut:-1]:
            target = target[part]
        target[path[-1]] = number
    for part in reversed(path[:cut]):
        value = {part: value}
    return value


def test_every_number_of_a_template_is_found() -> None:
    assert len(NUMERIC_FIELDS) > 80
    assert ("camera", "height_range", 0) in NUMERIC_FIELDS
    assert ("lighting", "time_of_day", "day") in NUMERIC_FIELDS
    assert ("max_distance",) in NUMERIC_FIELDS


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(NUMERIC_FIELDS),
       number=st.sampled_from([math.nan, math.inf, -math.inf, float("1e400")]))
def test_any_non_finite_number_anywhere_in_a_template_is_refused(path: tuple[Any, ...],
                                                                 number: float) -> None:
    document = {"extends": "urban", **_override(path, number)}
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "t.yaml"
        template.write_text(yaml.safe_dump(document))
        with pytest.raises(TemplateError) as excinfo:
            load_template(template)
    message = str(excinfo.value)
    assert ".".join(map(str, path)) in message, message
    assert "expected a finite number" in message, message


# option arguments: none of these is a number the option can take.
NON_FINITE_OPTIONS = [
    (["preview", "--scene", "urban", "--count", "nan"], "--count"),
    (["preview", "--scene", "urban", "--count", "inf"], "--count"),
    (["preview", "--scene", "urban", "--tile-width", "1e400"], "--tile-width"),
    (["preview", "--scene", "urban", "--columns", "nan"], "--columns"),
    (["preview", "--scene", "urban", "--seed", "nan"], "--seed"),
    (["preview", "--scene", "urban", "--size", "nanxnan"], "--size"),
    (["preview", "--scene", "urban", "--size", "1e400x64"], "--size"),
    # int() of thousands of digits raises: not a traceback
    (["preview", "--scene", "urban", "--size", "1" * 5000 + "x64"], "--size"),
    (["stats", "{data}", "--sample-images", "nan"], "--sample-images"),
    (["stats", "{data}", "--sample-images", "-inf"], "--sample-images"),
    (["compare", "{data}", "{data}", "--sample-images", "inf"], "--sample-images"),
    (["validate", "{data}", "--max-problems", "nan"], "--max-problems"),
    # NaN passed click's FloatRange checks: these reached the fit and the training loop
    (["fit", "{data}", "--out", "{tmp}/t.yaml", "--fov", "nan"], "--fov"),
    (["fit", "{data}", "--out", "{tmp}/t.yaml", "--camera-height", "inf"], "--camera-height"),
    (["fit", "{data}", "--out", "{tmp}/t.yaml", "--camera-height", "-nan"], "--camera-height"),
    (["benchmark", "--real", "{data}", "--eval", "{data}", "--pretrain-fraction", "nan"],
     "--pretrain-fraction"),
    (["benchmark", "--real", "{data}", "--eval", "{data}", "--min-height", "1e400"],
     "--min-height"),
    (["benchmark", "--real", "{data}", "--eval", "{data}", "--min-height", "nan"],
     "--min-height"),
    (["benchmark", "--real", "{data}", "--eval", "{data}", "--lr", "nan"], "--lr"),
    # mix's fractions are plain floats, checked by mix itself before anything is read
    (["mix", "--synthetic", "{data}", "--real", "{data}", "--out", "{tmp}/m", "--seed", "0",
      "--val-fraction", "nan"], "--val-fraction nan: expected a number in [0, 1)"),
    (["mix", "--synthetic", "{data}", "--real", "{data}", "--out", "{tmp}/m", "--seed", "0",
      "--test-fraction", "-inf"], "--test-fraction -inf: expected a number in [0, 1)"),
]


@pytest.mark.parametrize(("args", "option"), NON_FINITE_OPTIONS,
                         ids=[" ".join(a)[:60] for a, _ in NON_FINITE_OPTIONS])
def test_a_non_finite_option_is_refused(tmp_path: Path, args: list[str], option: str) -> None:
    data = dataset(tmp_path / "ds")
    before = digest(tmp_path)
    out = tmp_path / "o.png"
    args = [a.replace("{data}", str(data)).replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "preview":
        args += ["--out", str(out)]
    assert_refused(run(*args), option)
    assert digest(tmp_path) == before


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan", "inf", "-inf", "1e400", "infinity"])
def test_finite_float_range_refuses_what_float_reads_as_non_finite(value: str) -> None:
    # The option type every float option should use (FloatRange lets nan through).
    @click.command()
    @click.option("--v", type=FiniteFloatRange(0.0, 1.0))
    @click.option("--w", type=FiniteFloatRange(min=0.0))
    def command(v: float | None, w: float | None) -> None:
        click.echo(f"{v} {w}")

    for option in ("--v", "--w"):
        result = CliRunner().invoke(command, [option, value])
        assert result.exit_code == 2, result.output
        assert len(error_lines(result)) == 1 and option in result.output
    assert CliRunner().invoke(command, ["--v", "0.5", "--w", "1e300"]).output == "0.5 1e+300\n"


# where: a number Python's json reads as infinity or NaN, in a COCO file.
NON_FINITE_COCO = [
    ('"width": 64', '"width": 1e400', "'width' is Infinity"),
    ('"height": 48', '"height": -1e400', "'height' is -Infinity"),
    ('"width": 64', '"width": NaN', "'width' is NaN"),
    ('"bbox": [2.0', '"bbox": [1e400', "is not finite"),
    ('"area": 100.0', '"area": Infinity', "area Infinity is not a positive number"),
    # an integer beyond any float: JSON allows it, float() overflows on it
    ('"bbox": [2.0', '"bbox": [1' + "0" * 400, "is not finite"),
    ('"width": 64', '"width": 1' + "0" * 400, "'width' is 1000"),
]


@pytest.mark.parametrize(("old", "new", "message"), NON_FINITE_COCO,
                         ids=[n[:20] for _, n, _ in NON_FINITE_COCO])
def test_validate_flags_a_non_finite_coco_number(tmp_path: Path, old: str, new: str,
                                                 message: str) -> None:
    data = dataset(tmp_path / "ds")
    edit_json_text(data / "annotations.json", old, new)
    before = digest(tmp_path)
    assert_flagged(run("validate", data), message)
    as_json = run("validate", data, "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.output)["ok"] is False
    # The readers take it without a traceback: exit 0 (measured or skipped) or 2 (refused).
    for args in (["stats", data], ["compare", data, data],
                 ["preview", data, "--out", tmp_path / "o.png"]):
        result = run(*args)
        assert result.exit_code in (0, 2) and "Traceback" not in result.output, result.output
        if result.exit_code == 2:
            assert len(error_lines(result)) == 1
        (tmp_path / "o.png").unlink(missing_ok=True)
    assert digest(tmp_path) == before


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "1" + "0" * 400])
def test_non_finite_optional_fields_are_skipped_by_every_reader(tmp_path: Path,
                                                                number: str) -> None:
    # Fields only some sets have (camera, weather, visibility...): not measured, not drawn.
    data = dataset(tmp_path / "ds")
    document = json.loads((data / "annotations.json").read_text())
    document["images"][0].update(camera={"pitch_deg": "@", "fov_deg": "@", "height": "@"},
                                 weather={"kind": "fog", "intensity": "@"}, time_of_day="@")
    document["annotations"][0].update(visibility="@", truncation="@", occluded="@",
                                      distance="@")
    (data / "annotations.json").write_text(json.dumps(document).replace('"@"', number))
    before = digest(tmp_path)
    for args in (["stats", data, "--json", tmp_path / "s.json"],
                 ["compare", data, data, "--json", tmp_path / "c.json"],
                 ["preview", data, "--out", tmp_path / "o.png"], ["validate", data]):
        result = run(*args)
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    for name in ("s.json", "c.json", "o.png"):
        (tmp_path / name).unlink()
    assert digest(tmp_path) == before


# --------------------------------------------------------------------------- 2. contained reads


ESCAPING_NAMES = [
    "../outside.png",            # climbs out of images/
    "../../outside.png",         # and out of the dataset
    "sub/../../outside.png",     # climbs out after going in
    "{abs}",                     # absolute
    "/etc/hostname",             # absolute, a system file
    "",                          # nothing
]


def _escaping(tmp_path: Path, name: str) -> Path:
    outside = make_image(tmp_path / "outside.png", W, H)
    make_image(tmp_path / "ds" / "outside.png", W, H)
    return dataset(tmp_path / "ds", file_name=name.replace("{abs}", str(outside)))


@pytest.mark.parametrize("name", ESCAPING_NAMES)
@pytest.mark.parametrize("command", ["stats", "compare-real", "compare-synthetic", "preview"])
def test_a_file_name_leaving_the_image_folder_is_refused(tmp_path: Path, name: str,
                                                         command: str) -> None:
    data = _escaping(tmp_path, name)
    good = dataset(tmp_path / "good")
    before = digest(tmp_path)
    args: list[Any] = {
        "stats": ["stats", data],
        "compare-real": ["compare", data, good],
        "compare-synthetic": ["compare", good, data],
        "preview": ["preview", data, "--out", tmp_path / "o.png", "--count", 2],
    }[command]
    assert_refused(run(*args), "must be a relative path inside the image folder")
    assert digest(tmp_path) == before


@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_validate_flags_a_file_name_leaving_the_image_folder(tmp_path: Path,
                                                            name: str) -> None:
    data = _escaping(tmp_path, name)
    before = digest(tmp_path)
    # The file outside exists and has the right size: it is still not OK.
    kind = "structure" if name == "" else "file_name"
    assert_flagged(run("validate", data), f"{kind} (1 problem)")
    assert digest(tmp_path) == before


SECRET = "s3cr3t-do-not-print"

# the extending template; other files beside it, name -> text.
HOSTILE_EXTENDS = [
    # an absolute path is refused without being read
    ("extends: {tmp}/secret\n", {"secret": f"root: {SECRET}\n"}, "an absolute path"),
    ("extends: /etc/shadow\n", {}, "an absolute path"),
    # not a .yaml file
    ("extends: ../secret\n", {"../secret": f"{SECRET}: 1\n"}, "not a .yaml file"),
    ("extends: sub/secret\n", {"sub/secret": f"{SECRET}: 1\n"}, "not a .yaml file"),
    # a .yaml file whose keys and values are not a template's: named, never quoted
    ("extends: secret.yaml\n", {"secret.yaml": f"{SECRET}: 1\nroad: {SECRET}\n"},
     "secret.yaml has an unknown field"),
    ("extends: secret.yaml\n", {"secret.yaml": f"camera: {{height_range: [{SECRET}, 1]}}\n"},
     "camera.height_range.0"),
    ("extends: secret.yaml\n", {"secret.yaml": f"objects: {{{SECRET}: {{count_range: [1, 2]}}}}\n"},
     "objects"),
    # not YAML: where, not what (a YAML error can quote the text)
    ("extends: secret.yaml\n", {"secret.yaml": f"a: !{SECRET} 1\n"}, "not valid YAML (line 1"),
    ("extends: secret.yaml\n", {"secret.yaml": f"a: 1\na: {SECRET}\n{SECRET}: [\n"},
     "not valid YAML"),
    ("extends: secret.yaml\n", {"secret.yaml": f"{SECRET}: 1\n{SECRET}: 2\n"},
     "not valid YAML (line 2"),
    # a file it extends extends something odd
    ("extends: secret.yaml\n", {"secret.yaml": f"extends: [{SECRET}]\n"}, "extends:"),
    ("extends: secret.yaml\n", {"secret.yaml": f"extends: {SECRET}\n"}, "extends:"),
    ("extends: secret.yaml\n", {"secret.yaml": b"\xff\xfe" + SECRET.encode()},
     "not UTF-8 text"),
    # a list is not a name
    ("extends: [urban]\n", {}, "expected a bundled template name"),
]


@pytest.mark.parametrize(("text", "others", "message"), HOSTILE_EXTENDS,
                         ids=[f"{t.strip()}-{i}" for i, (t, _, _) in enumerate(HOSTILE_EXTENDS)])
def test_extends_reads_only_templates_and_never_quotes_them(tmp_path: Path, text: str,
                                                            others: dict[str, Any],
                                                            message: str) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    for name, content in others.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    template = folder / "mine.yaml"
    template.write_text(text.replace("{tmp}", str(folder)))
    before = digest(tmp_path)
    result = run("preview", "--scene", template, "--out", tmp_path / "o.png", "--count", 1)
    assert_refused(result, message)
    assert SECRET not in result.output
    assert digest(tmp_path) == before


def test_extends_still_reads_a_yaml_file_relative_to_the_template(tmp_path: Path) -> None:
    (tmp_path / "bases").mkdir()
    (tmp_path / "t").mkdir()
    (tmp_path / "bases" / "city.yaml").write_text("extends: urban\nmax_distance: 90\n")
    (tmp_path / "t" / "mine.yaml").write_text("extends: ../bases/city.yaml\n")
    assert load_template(tmp_path / "t" / "mine.yaml").max_distance == 90
    # The template's own values are still quoted: it is the file the user named.
    (tmp_path / "t" / "own.yaml").write_text("extends: urban\nroad: mine-to-see\n")
    with pytest.raises(TemplateError, match="mine-to-see"):
        load_template(tmp_path / "t" / "own.yaml")


# --------------------------------------------------------------------------- 3. not regular


@pytest.fixture
def fifo_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """A dataset whose second image is a FIFO nobody writes to."""
    data = dataset(tmp_path / "ds")
    fifo = data / "images" / "b.png"
    fifo.unlink()
    os.mkfifo(fifo)
    return data, fifo


@pytest.mark.parametrize(("args", "exit_code", "says"), [
    (["stats", "{data}"], 0, "1 unreadable (b.png)"),           # counted, as a broken file
    (["compare", "{data}", "{data}"], 0, "box height"),
    (["compare", "{good}", "{data}"], 0, "box height"),
    (["preview", "{data}", "--out", "{tmp}/o.png"], 0, "wrote"),  # a blank tile, as missing
    (["validate", "{data}"], 1, "a FIFO (named pipe), not a regular file"),
])
def test_an_image_that_is_a_fifo_never_blocks(tmp_path: Path, fifo_dataset: tuple[Path, Path],
                                              args: list[str], exit_code: int,
                                              says: str) -> None:
    data, fifo = fifo_dataset
    good = dataset(tmp_path / "good")
    before = digest(data)
    args = [a.replace("{data}", str(data)).replace("{good}", str(good))
            .replace("{tmp}", str(tmp_path)) for a in args]
    result = run_guarded(fifo, *args)
    assert result.exit_code == exit_code, result.output
    assert says in result.output and "Traceback" not in result.output
    assert digest(data) == before


def test_an_image_that_is_a_device_is_not_read(tmp_path: Path) -> None:
    data = dataset(tmp_path / "ds")
    (data / "images" / "b.png").unlink()
    (data / "images" / "b.png").symlink_to("/dev/null")
    assert_flagged(run("validate", data), "a character device, not a regular file")


@pytest.mark.parametrize("command", ["stats", "validate", "compare", "preview"])
def test_an_annotation_file_that_is_a_fifo_is_refused(tmp_path: Path, command: str) -> None:
    data = dataset(tmp_path / "ds")
    (data / "annotations.json").unlink()
    os.mkfifo(data / "annotations.json")
    args: list[Any] = [command, data]
    if command == "compare":
        args.append(data)
    if command == "preview":
        args += ["--out", tmp_path / "o.png"]
    assert_refused(run_guarded(data / "annotations.json", *args), "not a regular file")


@pytest.mark.parametrize("flags", [["--extend", "1"], ["--resume"]])
def test_a_finished_runs_annotation_file_that_is_a_fifo_is_refused(tmp_path: Path,
                                                                  flags: list[str]) -> None:
    """``--extend``, and ``--resume`` mending an image, read the finished run's
    ``annotations.json`` back entry by entry: a FIFO there is refused, not waited on."""
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "2", "--out", tmp_path / "run"]
    assert run(*options).exit_code == 0
    annotations = tmp_path / "run" / "annotations.json"
    annotations.unlink()
    os.mkfifo(annotations)
    sorted((tmp_path / "run" / "images").iterdir())[1].write_bytes(b"")  # --resume mends it
    result = run_guarded(annotations, *options, *flags)
    assert_refused(result, f"{annotations}: a FIFO (named pipe), not a regular file")


@pytest.mark.parametrize("text", ["{fifo}", "extends: fifo.yaml\n"])
def test_a_template_that_is_a_fifo_is_refused(tmp_path: Path, text: str) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    template = fifo if text == "{fifo}" else tmp_path / "mine.yaml"
    if text != "{fifo}":
        template.write_text(text)
    result = run_guarded(fifo, "preview", "--scene", template, "--out", tmp_path / "o.png")
    assert_refused(result, "fifo.yaml")


def test_open_regular_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path, kind in ((tmp_path / "fifo", "a FIFO"), (Path("/dev/null"), "a character device"),
                       (tmp_path, "a folder")):
        with pytest.raises(NotRegularFileError, match=kind):
            open_regular(path)
    (tmp_path / "f").write_bytes(b"abc")
    with open_regular(tmp_path / "f") as handle:
        assert handle.read() == b"abc"


# --------------------------------------------------------------------------- 4. silent acceptance


def _unfinished(tmp_path: Path, layout: str) -> tuple[Path, Path]:
    """An unfinished dataset folder and the path a command is given."""
    data = dataset(tmp_path / "ds")
    (data / ".partial").mkdir()
    if layout == "file":
        return data, data / "annotations.json"
    if layout == "mix":  # mixed/annotations/train.json, mixed/images/, mixed/.partial/
        mixed = tmp_path / "mixed"
        (mixed / "annotations").mkdir(parents=True)
        (data / "images").rename(mixed / "images")
        (data / "annotations.json").rename(mixed / "annotations" / "train.json")
        (data / ".partial").rename(mixed / ".partial")
        return mixed, mixed / "annotations" / "train.json"
    return data, data


@pytest.mark.parametrize("layout", ["folder", "file", "mix"])
@pytest.mark.parametrize("command", ["stats", "compare", "preview"])
def test_an_unfinished_folder_is_refused(tmp_path: Path, layout: str, command: str) -> None:
    folder, given = _unfinished(tmp_path, layout)
    good = dataset(tmp_path / "good")
    before = digest(tmp_path)
    args: list[Any] = {"stats": ["stats", given], "compare": ["compare", good, given],
                       "preview": ["preview", given, "--out", tmp_path / "o.png"]}[command]
    assert_refused(run(*args), f"{folder}: unfinished", "--resume")
    assert digest(tmp_path) == before


@pytest.mark.parametrize("layout", ["folder", "file", "mix"])
def test_validate_flags_an_unfinished_folder(tmp_path: Path, layout: str) -> None:
    folder, given = _unfinished(tmp_path, layout)
    assert_flagged(run("validate", given), "unfinished (1 problem)", f"{folder}: finish it")


def test_a_finished_folder_with_a_leftover_mark_is_read(tmp_path: Path) -> None:
    # The manifest is written last: with it, the folder is finished (NFS may keep a mark).
    data = dataset(tmp_path / "ds")
    (data / ".partial").mkdir()
    (data / "manifest.json").write_text("{}")
    assert run("stats", data).exit_code == 0
    assert run("validate", data).exit_code == 0


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n", "~\n",
                                  "null\n"])
def test_an_empty_template_is_an_error(tmp_path: Path, text: str) -> None:
    template = tmp_path / "empty.yaml"
    template.write_text(text)
    out = tmp_path / "out"
    assert_refused(run("generate", "--scene", template, "--count", 1, "--out", out),
                   "empty.yaml: empty")
    assert not out.exists()
    assert_refused(run("preview", "--scene", template, "--out", tmp_path / "o.png"),
                   "empty.yaml: empty")
    # A file it extends, too.
    (tmp_path / "mine.yaml").write_text("extends: empty.yaml\n")
    assert_refused(run("preview", "--scene", tmp_path / "mine.yaml", "--out",
                       tmp_path / "o.png"), "empty.yaml: empty")


# --------------------------------------------------------------------------- 5. bounded work


@pytest.mark.parametrize("args", [
    ["--count", 100_000],
    ["--count", 10**30],
    ["--count", 300, "--layers"],
    ["--count", 200, "--columns", 200],            # too wide
    ["--count", 600, "--size", "640x640", "--tile-width", 320],
])
def test_preview_refuses_a_template_sheet_too_large_before_rendering(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[Any]) -> None:
    import synthgen.generate.images

    def no_render(*_: Any, **__: Any) -> Any:
        raise AssertionError("rendered before refusing")
    monkeypatch.setattr(synthgen.generate.images, "render_sample", no_render)
    out = tmp_path / "o.png"
    result = run("preview", "--scene", "urban", "--out", out, *args)
    assert_refused(result, f"--count {args[1]}: the sheet would be over 32000 pixels")
    assert not out.exists()


def test_preview_says_how_many_images_fit_and_that_many_do(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(sheet_module, "MAX_SHEET_SIDE", 400)
    out = tmp_path / "o.png"
    result = run("preview", "--scene", "urban", "--out", out, "--count", 50, "--size",
                 "64x64", "--tile-width", 64)
    # Cells 64 + 34 px tall, 4 px apart: 3 rows of 4 fit in 400 px (310 px), 4 rows do not.
    assert_refused(result, "at most 12 images fit")
    sheet_module.check_template_sheet(12, (64, 64), tile_width=64, columns=4,
                                        layers=False)
    with pytest.raises(OutputError, match="over 400 pixels tall"):
        sheet_module.check_template_sheet(13, (64, 64), tile_width=64, columns=4,
                                            layers=False)


def test_preview_refuses_a_dataset_sheet_too_large_before_reading_an_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = [{"id": i, "file_name": f"{i}.png", "width": W, "height": H}
              for i in range(1, 3001)]
    data = make_coco_folder(tmp_path / "ds", images, [], write_images=False)
    read: list[Path] = []
    monkeypatch.setattr(preview_module, "read_rgb", lambda path: read.append(path))
    out = tmp_path / "o.png"
    result = run("preview", data, "--out", out, "--count", 100_000)
    assert_refused(result, "--count 3000: the sheet would be over 32000 pixels tall")
    assert read == [] and not out.exists()


# --------------------------------------------------------------------------- fuzz


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(["..", ".", "a", "b.png", "", "/", "\\", "..\\.."]),
             min_size=1, max_size=5).map("/".join),
))
def test_any_file_name_is_measured_skipped_or_refused(name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = dataset(Path(folder) / "ds")
        document = json.loads((data / "annotations.json").read_text())
        document["images"][1]["file_name"] = name
        (data / "annotations.json").write_text(json.dumps(document))
        before = digest(Path(folder))
        result = run("stats", data)
        validated = run("validate", data, "--json")
        assert digest(Path(folder)) == before
    relative = PurePosixPath(name)
    escapes = (not name or relative.is_absolute() or ".." in relative.parts
               or relative == PurePosixPath("."))
    assert "Traceback" not in result.output
    if escapes:
        assert_refused(result, "must be a relative path inside the image folder")
        assert validated.exit_code == 1
    else:  # read, or counted as unreadable
        assert result.exit_code == 0, result.output
    assert validated.exit_code in (0, 1), validated.output
    json.loads(validated.output)

@pytest.mark.parametrize("bracket", ["{a: *x, b: *x}", "[*x, *x]"], ids=["mappings", "lists"])
def test_a_template_of_aliases_of_aliases_is_refused_at_once(tmp_path: Path,
                                                             bracket: str) -> None:
    # 2**40 values once written out: nothing may walk or print them all.
    lines = ["l0: &l0 {a: 1, b: 2}" if bracket.startswith("{") else "l0: &l0 [1, 2]"]
    lines += [f"l{i}: &l{i} " + bracket.replace("x", f"l{i - 1}") for i in range(1, 41)]
    template = tmp_path / "bomb.yaml"
    template.write_text("extends: urban\n" + "\n".join(lines) + "\nroad: *l40\n")
    result = run("preview", "--scene", template, "--out", tmp_path / "o.png")
    assert_refused(result, "bomb.yaml", "road")
    assert len(result.output) < 10_000


@pytest.mark.parametrize("option", ["--json", "--html"])
@pytest.mark.parametrize("command", ["stats", "compare"])
def test_a_full_disk_while_writing_a_report_is_an_error(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        command: str, option: str) -> None:
    import errno

    import synthgen.storage.files

    def full(_: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(synthgen.storage.files.os, "fsync", full)
    data = dataset(tmp_path / "ds")
    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "r.out"
    args: list[Any] = [command, data, *([data] if command == "compare" else []), option, report]
    assert_refused(run(*args), f"{option} {report}: cannot write (No space left on device)")
    assert list((tmp_path / "reports").iterdir()) == []  # no half-written report


# --------------------------------------------------------------------------- 6. real sets
# The commands that read real sets (and generate's --sprites, which cuts objects out of
# one): the same rules as stats, compare and preview, KITTI folders included.

#: A KITTI label line: a car with a plausible 3D box.
KITTI_CAR = ("Car 0.00 0 -1.57 10.00 10.00 40.00 30.00 1.50 1.60 4.00 1.00 1.65 20.00 "
             "-1.57\n")


def kitti(root: Path, stems: tuple[str, ...] = ("000000", "000001")) -> Path:
    """A tiny KITTI set, ``training/image_2`` + ``label_2``, a car on every image."""
    for stem in stems:
        make_image(root / "training" / "image_2" / f"{stem}.png", W, H, unique=True)
        label = root / "training" / "label_2" / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(KITTI_CAR)
    return root


#: Each command reading the real set {src}; {good} is a finished COCO set, {tmp} the
#: test's folder (outputs go there, and are never written).
READERS: dict[str, list[str]] = {
    "real-import-coco": ["real", "import", "--format", "coco", "{src}", "--out", "{tmp}/o"],
    "real-import-kitti": ["real", "import", "--format", "kitti", "{src}", "--out", "{tmp}/o"],
    "fit": ["fit", "{src}", "--out", "{tmp}/t.yaml", "--calibrate", "0",
            "--weather-renders", "0", "--sample-images", "0"],
    "benchmark": ["benchmark", "--arms", "real", "--real", "{src}", "--eval", "{good}",
                  "--steps", "2"],
    "sprites": ["generate", "--scene", "urban", "--count", "1", "--size", "64x64", "--out",
                "{tmp}/g", "--sprites", "{src}"],
    "backgrounds": ["generate", "--scene", "urban", "--count", "1", "--size", "64x64",
                    "--out", "{tmp}/g", "--backgrounds", "{src}"],
    "export": ["export", "{src}", "--format", "yolo", "--out", "{tmp}/e"],
    "mix": ["mix", "--synthetic", "{good}", "--real", "{src}", "--out", "{tmp}/m",
            "--seed", "0"],
}
COCO_READERS = ["real-import-coco", "fit", "benchmark", "sprites", "backgrounds", "export",
                "mix"]
KITTI_READERS = ["real-import-kitti", "fit", "benchmark", "sprites", "backgrounds"]


def reader_args(command: str, src: Path, tmp_path: Path) -> list[str]:
    good = tmp_path / "good"
    if not good.exists():
        dataset(good)
    return [a.replace("{src}", str(src)).replace("{good}", str(good))
            .replace("{tmp}", str(tmp_path)) for a in READERS[command]]


def assert_nothing_written(tmp_path: Path) -> None:
    for name in ("o", "t.yaml", "g", "e", "m"):
        assert not (tmp_path / name).exists(), name


@pytest.mark.parametrize("command", COCO_READERS)
def test_an_image_that_is_a_fifo_is_refused_by_real_set_readers(
        tmp_path: Path, fifo_dataset: tuple[Path, Path], command: str) -> None:
    # image_size() opened it with Image.open: real import and fit blocked for ever
    data, fifo = fifo_dataset
    before = digest(data)
    result = run_guarded(fifo, *reader_args(command, data, tmp_path))
    assert_refused(result, "b.png", "not a regular file")
    assert digest(data) == before
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("command", KITTI_READERS)
@pytest.mark.parametrize("which", ["image_2/000001.png", "label_2/000001.txt"])
def test_a_kitti_file_that_is_a_fifo_is_refused(tmp_path: Path, which: str,
                                                command: str) -> None:
    # A FIFO image was left out of the listing, and so reported as a missing image.
    root = kitti(tmp_path / "kitti")
    fifo = root / "training" / which
    fifo.unlink()
    os.mkfifo(fifo)
    before = digest(root)
    result = run_guarded(fifo, *reader_args(command, root, tmp_path))
    assert_refused(result, f"{which}: a FIFO (named pipe), not a regular file")
    assert digest(root) == before
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("command", ["real-import-coco", "mix"])
def test_a_map_file_that_is_a_fifo_is_refused(tmp_path: Path, command: str) -> None:
    data = dataset(tmp_path / "ds")
    fifo = tmp_path / "map.yaml"
    os.mkfifo(fifo)
    result = run_guarded(fifo, *reader_args(command, data, tmp_path), "--map", fifo)
    assert_refused(result, "--map", "map.yaml: a FIFO (named pipe), not a regular file")
    assert_nothing_written(tmp_path)


def test_a_frame_that_is_a_fifo_is_never_opened(tmp_path: Path) -> None:
    from synthgen.errors import DatasetError
    from synthgen.render.appearance import frame_bytes, read_profile

    frames = tmp_path / "frames"
    make_image(frames / "a.png", W, H)
    os.mkfifo(frames / "b.png")
    # --look-like lists regular files only; a FIFO read directly is refused, not waited on
    profile = call_guarded(frames / "b.png", lambda: read_profile(frames), "read_profile")
    assert profile.frames == 1
    with pytest.raises(DatasetError, match="b.png: cannot read .a FIFO"):
        call_guarded(frames / "b.png", lambda: frame_bytes(frames / "b.png", "--sprites"),
                     "frame_bytes")


@pytest.mark.parametrize("layout", ["folder", "file", "mix"])
@pytest.mark.parametrize("command", ["real-import-coco", "fit", "benchmark", "sprites",
                                     "backgrounds", "export"])
def test_an_unfinished_folder_is_refused_by_real_set_readers(tmp_path: Path, layout: str,
                                                             command: str) -> None:
    folder, given = _unfinished(tmp_path, layout)
    args = reader_args(command, given, tmp_path)
    before = digest(tmp_path)
    assert_refused(run(*args), f"{folder}: unfinished", "--resume")
    assert digest(tmp_path) == before


@pytest.mark.parametrize("command", ["benchmark-synthetic", "mix"])
def test_an_unfinished_synthetic_set_is_refused(tmp_path: Path, command: str) -> None:
    folder, given = _unfinished(tmp_path, "folder")
    good, other = dataset(tmp_path / "good"), tmp_path / "other"
    make_coco_folder(other, [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
                     [annotation(1, 1, 1, [2, 2, 10, 10])], unique_images=True)
    args: list[Any] = {
        "benchmark-synthetic": ["benchmark", "--synthetic", given, "--real", good, "--eval",
                                other, "--steps", 2],
        "mix": ["mix", "--synthetic", given, "--real", good, "--out", tmp_path / "m",
                "--seed", 0],
    }[command]
    before = digest(tmp_path)
    assert_refused(run(*args), f"{folder}", "is unfinished" if command == "mix"
                   else f"{folder}: unfinished")
    assert digest(tmp_path) == before


@pytest.mark.parametrize("given", ["root", "training"])
@pytest.mark.parametrize("command", KITTI_READERS)
def test_an_unfinished_kitti_folder_is_refused(tmp_path: Path, given: str,
                                               command: str) -> None:
    # What `synthgen export --format kitti` leaves when it is stopped.
    root = kitti(tmp_path / "kitti")
    (root / ".partial").mkdir()
    src = root if given == "root" else root / "training"
    args = reader_args(command, src, tmp_path)
    before = digest(tmp_path)
    assert_refused(run(*args), f"{root}: unfinished")
    assert digest(tmp_path) == before


def test_look_like_refuses_the_images_of_an_unfinished_folder(tmp_path: Path) -> None:
    folder, _ = _unfinished(tmp_path, "folder")
    out = tmp_path / "o.png"
    result = run("preview", "--scene", "urban", "--look-like", folder / "images", "--out", out)
    assert_refused(result, "--look-like", f"{folder}: unfinished")
    assert not out.exists()


@pytest.mark.parametrize(("missing", "message"), [
    # the image is what is missing: it was reported as a missing label file
    ("image_2/000001.png", "image_2: no image for 1 label file(s) of label_2/: 000001"),
    ("label_2/000001.txt", "label_2: no label file for 1 image(s) of image_2/: 000001"),
])
@pytest.mark.parametrize("command", ["real-import-kitti", "fit", "benchmark"])
def test_a_kitti_folder_says_what_is_missing(tmp_path: Path, missing: str, message: str,
                                             command: str) -> None:
    root = kitti(tmp_path / "kitti")
    (root / "training" / missing).unlink()
    assert_refused(run(*reader_args(command, root, tmp_path)), message)


# --------------------------------------------------------------------------- 7. mix weight


@pytest.mark.parametrize(("weight", "shown"), [
    ("1001", "--real-weight 1001: at most 1000"),
    ("100000000", "--real-weight 100000000: at most 1000"),
    ("1" + "0" * 60, "--real-weight (an integer of over 38 digits): at most 1000"),
])
def test_mix_refuses_a_real_weight_too_large_before_reading(tmp_path: Path, weight: str,
                                                            shown: str) -> None:
    # It grew train.json to 22 GB before the kernel killed it; the inputs are not even
    # there: nothing is read before the weight is checked.
    result = run("mix", "--synthetic", tmp_path / "none", "--real", tmp_path / "none",
                 "--out", tmp_path / "m", "--seed", 0, "--real-weight", weight)
    assert_refused(result, shown, "a whole entry of train.json")
    assert list(tmp_path.iterdir()) == []
    assert "at most 1000" in run("mix", "--help").output


def _mix_inputs(tmp_path: Path, n_real: int) -> tuple[Path, Path]:
    synthetic = make_coco_folder(
        tmp_path / "syn", [{"id": 1, "file_name": "s.png", "width": W, "height": H,
                            "source": "synthetic"}],
        [annotation(1, 1, 1, [2, 2, 10, 10])], unique_images=True)
    real = make_coco_folder(
        tmp_path / "real", [{"id": i, "file_name": f"{i}.png", "width": W, "height": H,
                             "source": "real"} for i in range(1, n_real + 1)],
        [annotation(i, i, 1, [2, 2, 10, 10]) for i in range(1, n_real + 1)],
        unique_images=True)
    return synthetic, real


def test_mix_refuses_more_repeated_entries_than_it_writes(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import synthgen.datasets.mix

    monkeypatch.setattr(synthgen.datasets.mix, "MAX_REPEATED_ENTRIES", 15)
    synthetic, real = _mix_inputs(tmp_path, 10)
    before = digest(tmp_path)
    # every real image to fine-tuning: 10 of them, 20 repeated entries
    fixed = ["mix", "--synthetic", synthetic, "--real", real, "--seed", 0, "--val-fraction",
             0, "--test-fraction", 0]
    result = run(*fixed, "--out", tmp_path / "m", "--real-weight", 2)
    assert_refused(result, "train.json would repeat 10 real training images 2 times, 20 "
                   "entries; at most 15", "give --real-weight 1 or less")
    assert digest(tmp_path) == before
    # A weight of 1 repeats nothing: never refused.
    assert run(*fixed, "--out", tmp_path / "m1", "--real-weight", 1).exit_code == 0


BROKEN_MANIFESTS = [
    # (case, the manifest's bytes, what the Error line says of it)
    ("nested-too-deep", b"[" * 100_000 + b"]" * 100_000,
     "cannot read (its JSON nests too deep to parse)"),
    ("not-utf8", b'{"a": "\xff"}', "cannot read (not UTF-8 text: invalid start byte at byte 7)"),
    ("not-json", b'{"a": ', "not valid JSON (line 1, column 7: Expecting value)"),
    ("huge-integer", b'{"a": ' + b"9" * 5000 + b"}", "cannot read (Exceeds the limit"),
]


@pytest.mark.parametrize("command", ["diff", "resume", "merge"])
@pytest.mark.parametrize(("content", "says"), [pytest.param(content, says, id=case)
                                               for case, content, says in BROKEN_MANIFESTS])
def test_a_broken_manifest_is_one_error_line(tmp_path: Path, command: str, content: bytes,
                                             says: str) -> None:
    """Every command that reads a manifest back says what is wrong with it in one line
    naming it (a JSON nested deeper than Python parses was a traceback in some)."""
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "2"]
    shard = ["--shard", "1/2"] if command == "merge" else []
    run_dir = tmp_path / "run"
    assert run(*options, *shard, "--out", run_dir).exit_code == 0
    manifest = run_dir / "manifest.json"
    manifest.write_bytes(content)
    before = digest(run_dir)
    if command == "diff":
        result = run("diff", run_dir, run_dir)
    elif command == "resume":
        result = run(*options, "--out", run_dir, "--resume")
    else:
        result = run("merge", run_dir, "--out", tmp_path / "merged")
        assert not (tmp_path / "merged").exists()
    assert_refused(result, f"{manifest}: {says}")
    assert digest(run_dir) == before


@pytest.mark.parametrize(("value", "says"), [
    ("9" * 5000, "cannot read (Exceeds the limit (4300 digits) for integer string conversion"),
    ("[" * 100_000 + "]" * 100_000, "cannot read (its JSON nests too deep to parse)"),
], ids=["huge-integer", "nested-too-deep"])
def test_a_broken_shard_annotation_file_is_one_error_line(tmp_path: Path, value: str,
                                                          says: str) -> None:
    """merge reads a shard's ``annotations.json`` as a stream: a value it cannot parse is
    one Error line naming the file (was a traceback)."""
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "2"]
    for k in (1, 2):
        assert run(*options, "--shard", f"{k}/2", "--out", tmp_path / f"s{k}").exit_code == 0
    annotations = tmp_path / "s1" / "annotations.json"
    annotations.write_text('{"info": ' + value + ', "images": [], "annotations": []}',
                           encoding="utf-8")
    result = run("merge", tmp_path / "s1", tmp_path / "s2", "--out", tmp_path / "merged")
    assert_refused(result, f"{annotations}: {says}")
    assert "set_int_max_str_digits" not in result.output


@pytest.mark.parametrize(("edit", "says"), [
    (lambda m: m.pop("counts"), "field 'counts' is not an object"),
    (lambda m: m.update(counts=[]), "field 'counts' is not an object"),
    (lambda m: m["counts"].update(per_class=[1]), "field 'counts.per_class' is not an object"),
    (lambda m: m["counts"].update(photo_boxes="3"),
     "field 'counts.photo_boxes' is not an integer from 0 to the boxes counted"),
    (lambda m: m["counts"].update(photo_boxes=-3), "field 'counts.photo_boxes' is not"),
    (lambda m: m["counts"].update(photo_boxes=10**6), "field 'counts.photo_boxes' is not"),
    (lambda m: m["counts"].update(photo_boxes=True), "field 'counts.photo_boxes' is not"),
    (lambda m: m.update(digests=[1]), "field 'digests' is not an object"),
], ids=["no-counts", "counts-a-list", "per-class-a-list", "photo-boxes-a-string",
        "photo-boxes-negative", "photo-boxes-too-many", "photo-boxes-a-bool", "digests-a-list"])
def test_resume_of_a_finished_run_with_an_edited_manifest_is_one_error_line(
        tmp_path: Path, edit: Callable[[dict[str, Any]], Any], says: str) -> None:
    """The run's identity unchanged, a field --resume reads back of another type: refused
    naming it (was a KeyError, TypeError or AttributeError traceback)."""
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "2", "--out", tmp_path / "run"]
    assert run(*options).exit_code == 0
    manifest = tmp_path / "run" / "manifest.json"
    document = json.loads(manifest.read_text(encoding="utf-8"))
    edit(document)
    manifest.write_text(json.dumps(document), encoding="utf-8")
    before = digest(tmp_path / "run")
    assert_refused(run(*options, "--resume"), f"{manifest}: {says}")
    assert digest(tmp_path / "run") == before


@pytest.mark.parametrize("content", [b"[[1]]", b"[" * 100_000 + b"]" * 100_000],
                         ids=["a-list", "nested-too-deep"])
def test_resume_of_an_interrupted_run_with_a_broken_run_file_is_refused(
        tmp_path: Path, content: bytes) -> None:
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "2", "--out", tmp_path / "run"]
    assert run(*options).exit_code == 0
    (tmp_path / "run" / "manifest.json").unlink()
    (tmp_path / "run" / ".partial").mkdir()
    (tmp_path / "run" / ".partial" / "run.json").write_bytes(content)
    result = run(*options, "--resume")
    assert_refused(result)


@pytest.mark.parametrize("command", ["extend", "merge"])
@pytest.mark.parametrize(("edit", "says"), [
    (lambda d: d["annotations"][0].pop("iscrowd"),
     "annotation 1: iscrowd is None, expected 0 or 1"),
    (lambda d: d["annotations"][0].update(category_id=99),
     "annotation 1: category_id is 99, expected 1 to 7"),
    (lambda d: d["annotations"][0].update(category_id="car"),
     "annotation 1: category_id is 'car', expected 1 to 7"),
    (lambda d: d["images"].__setitem__(0, 5), "image 1 of the shard is int, expected an object"),
    (lambda d: d["annotations"].__setitem__(0, 5), "annotation 1 is int, expected an object"),
], ids=["no-iscrowd", "category-99", "category-a-name", "image-a-number",
        "annotation-a-number"])
def test_an_edited_annotation_file_is_refused_before_anything_changes(
        tmp_path: Path, command: str, edit: Callable[[dict[str, Any]], Any], says: str) -> None:
    """--extend and merge read a finished run's annotations.json back: an entry synthgen
    did not write is one Error line, and the run is left as it was (--extend used to
    remove its manifest first, then fail with a traceback on every later --resume)."""
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "3"]
    folders = [tmp_path / "run"] if command == "extend" else [tmp_path / "s1", tmp_path / "s2"]
    for k, folder in enumerate(folders, start=1):
        shard = ["--shard", f"{k}/2"] if command == "merge" else []
        assert run(*options, *shard, "--out", folder).exit_code == 0
    annotations = folders[0] / "annotations.json"
    document = json.loads(annotations.read_text(encoding="utf-8"))
    edit(document)
    annotations.write_text(json.dumps(document), encoding="utf-8")
    before = digest(folders[0])
    if command == "extend":
        result = run(*options, "--out", folders[0], "--extend", "1")
    else:
        result = run("merge", *folders, "--out", tmp_path / "merged")
    assert_refused(result, f"{annotations}: {says}")
    # the finished run as it was (its lock aside: a manifest says the folder is finished)
    after = {k: v for k, v in digest(folders[0]).items() if not k.startswith(".partial")}
    assert after == before


@pytest.mark.parametrize(("edit", "says"), [
    (lambda m: m.update(digests=[1]), "not a synthgen generate manifest"),
    (lambda m: m["options"].update(count=float("inf")), "unreadable shard entry"),
    (lambda m: m["shard"].update(index=float("inf")), "unreadable shard entry"),
], ids=["digests-a-list", "count-infinity", "index-infinity"])
def test_merge_refuses_an_edited_shard_manifest(tmp_path: Path,
                                               edit: Callable[[dict[str, Any]], Any],
                                               says: str) -> None:
    options = ["generate", "--scene", "urban", "--seed", "7", "--size", "96x64", "--workers",
               "1", "--count", "2"]
    for k in (1, 2):
        assert run(*options, "--shard", f"{k}/2", "--out", tmp_path / f"s{k}").exit_code == 0
    manifest = tmp_path / "s1" / "manifest.json"
    document = json.loads(manifest.read_text(encoding="utf-8"))
    edit(document)
    manifest.write_text(json.dumps(document), encoding="utf-8")  # Infinity, as Python writes
    result = run("merge", tmp_path / "s1", tmp_path / "s2", "--out", tmp_path / "merged")
    assert_refused(result, f"{manifest}: {says}")
    assert not (tmp_path / "merged").exists()
