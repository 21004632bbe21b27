"""The manifest layer: what each command's manifest says it is, and how it is asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synthgen import __version__
from synthgen.cli import cli
from synthgen.formats.manifest import (
    EXPORT,
    MANIFEST_FILE,
    MIX,
    PSEUDO_LABEL,
    REAL_IMPORT,
    VERSION,
    command_of,
    header,
    is_synthetic,
)
from tests.factories import scene_set


@pytest.mark.parametrize("manifest,synthetic,command", [
    # generate's and merge's
    ({"synthgen_version": "1", "kind": "synthetic", "template": {}}, True, None),
    # every other command's names it
    ({"synthgen_version": "1", "command": "real import"}, False, REAL_IMPORT),
    ({"synthgen_version": "1", "command": "real pseudo-label"}, False, PSEUDO_LABEL),
    ({"synthgen_version": "1", "command": "mix"}, False, MIX),
    ({"synthgen_version": "1", "command": "export"}, False, EXPORT),
    # a command synthgen does not know is given as written, for messages
    ({"command": ["odd"]}, False, ["odd"]),
    # another kind is not synthetic
    ({"kind": "real"}, False, None),
    # no manifest, or JSON that is no object: nothing
    (None, False, None),
    ([{"kind": "synthetic", "command": "mix"}], False, None),
    ("synthetic", False, None),
])
def test_a_manifest_is_identified_by_its_kind_and_command(manifest: Any, synthetic: bool,
                                                          command: Any) -> None:
    assert is_synthetic(manifest) is synthetic
    assert command_of(manifest) == command


def test_a_command_manifest_starts_with_the_version_then_the_command() -> None:
    assert list(header(MIX).items()) == [(VERSION, __version__), ("command", "mix")]


def _manifest(folder: Path) -> Any:
    return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))


def test_what_each_command_writes_is_identified(tmp_path: Path) -> None:
    def run(*args: Any) -> None:
        result = CliRunner().invoke(cli, ["-q", *(str(a) for a in args)])
        assert result.exit_code == 0, result.output

    gen, real, mix, yolo = (tmp_path / name for name in ("gen", "real", "mix", "yolo"))
    run("generate", "--scene", "urban", "--count", 2, "--size", "96x64", "--workers", 1,
        "--out", gen)
    run("real", "import", scene_set(tmp_path / "src", 4, 1, None), "--format", "coco",
        "--out", real)
    run("mix", "--synthetic", gen, "--real", real, "--out", mix, "--seed", 1)
    run("export", gen, "--format", "yolo", "--out", yolo)

    found = {folder.name: (is_synthetic(m), command_of(m), m[VERSION])
             for folder in (gen, real, mix, yolo) for m in [_manifest(folder)]}
    assert found == {"gen": (True, None, __version__),
                     "real": (False, REAL_IMPORT, __version__),
                     "mix": (False, MIX, __version__),
                     "yolo": (False, EXPORT, __version__)}
