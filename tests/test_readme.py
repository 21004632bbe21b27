"""The README's two commands are the ones that work, and the ones CI runs."""

from __future__ import annotations

import re
import shlex

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CI = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def test_quick_start_has_exactly_two_commands():
    install, test = quick_start_commands()
    assert "pip install -e '.[test]'" in install
    assert "synthgen generate --scene urban" in install
    assert test.startswith("python -m pytest")


def test_ci_installs_the_project_and_runs_the_readme_test_command():
    _, test = quick_start_commands()
    lines = [line.strip() for line in CI.splitlines() if line.strip()
             and not line.startswith("#")]
    assert any(re.search(r"pip install .*-e '\.\[test\]'", line) for line in lines)
    assert lines[-1] == test, "CI must run exactly the README's test command, last"


def test_readme_generate_options_exist():
    from click.testing import CliRunner

    from synthgen.cli import cli

    install, _ = quick_start_commands()
    generate = install.split("synthgen ", 1)[1]
    help_text = CliRunner().invoke(cli, ["generate", "--help"]).output
    for option in re.findall(r"--[a-z-]+", generate):
        assert option in help_text, option
    assert shlex.split(generate)[0] == "generate"
