"""The CLI's error boundary: every message ends in one ``Error:`` line."""

from __future__ import annotations

import signal

import click
import pytest
from click.testing import CliRunner

from synthgen.cli import (
    UserError,
    cli,
    interrupted_status,
    problems_summary,
    sigterm_interrupts,
)
from synthgen.errors import DatasetError, Interrupted, OutputError, TemplateError


def shown(exc: Exception) -> list[str]:
    """What the CLI prints for a library error, line by line."""
    @click.command()
    def fail() -> None:
        raise UserError.of(exc)
    result = CliRunner().invoke(fail, [])
    assert result.exit_code == 2
    return result.output.splitlines()


# (the error raised, the lines printed)
LAYOUTS = [
    # one problem: as it always was
    (DatasetError("a.json: not a COCO file"), ["Error: a.json: not a COCO file"]),
    # details: above, the Error: line last
    (OutputError("--resume: out holds another run (the differences above). Repeat it.",
                 details=["  options.seed: recorded 5, given 6", "  options.count: ..."]),
     ["  options.seed: recorded 5, given 6", "  options.count: ...",
      "Error: --resume: out holds another run (the differences above). Repeat it."]),
    # several problems, one a line: listed, then how many and where
    (TemplateError("t.yaml: camera.fov_range: bad\nt.yaml: camera.height_range: bad\n"
                   "t.yaml: max_distance: bad"),
     ["t.yaml: camera.fov_range: bad", "t.yaml: camera.height_range: bad",
      "t.yaml: max_distance: bad", "Error: t.yaml: 3 problems (listed above)"]),
    # nothing shared: just how many
    (TemplateError("a: x\nb: y"), ["a: x", "b: y", "Error: 2 problems (listed above)"]),
]


@pytest.mark.parametrize(("exc", "lines"), LAYOUTS, ids=["one", "details", "problems", "bare"])
def test_the_error_line_comes_last(exc: Exception, lines: list[str]) -> None:
    assert shown(exc) == lines


def test_str_of_an_error_with_details_holds_them_all() -> None:
    exc = OutputError("what is wrong", details=["  one", "  two"])
    assert str(exc) == "  one\n  two\nwhat is wrong"
    assert exc.message == "what is wrong" and exc.details == ("  one", "  two")


def test_problems_summary_cuts_at_the_last_shared_separator() -> None:
    assert problems_summary(["f.yaml: camera.a: x", "f.yaml: camera.b: y"]) == \
        "f.yaml: 2 problems (listed above)"
    assert problems_summary(["f.yaml: c.a: x", "f.yaml: c.a: y"]) == \
        "f.yaml: c.a: 2 problems (listed above)"


def test_interrupted_status_is_128_plus_the_signal() -> None:
    assert interrupted_status(KeyboardInterrupt()) == 130
    assert interrupted_status(Interrupted(signal.SIGTERM)) == 143


def test_a_click_usage_error_is_unchanged() -> None:
    result = CliRunner().invoke(cli, ["generate", "--count", "x"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1].startswith("Error:")


def test_a_nested_sigterm_block_leaves_the_outer_one_in_charge() -> None:
    """The CLI group holds SIGTERM around every command, generate and merge again around
    their run: the inner block changes nothing, so that a second SIGTERM while a command
    says what it left is ignored (it printed a second, contrary message)."""
    with sigterm_interrupts():
        outer = signal.getsignal(signal.SIGTERM)
        with sigterm_interrupts():
            assert signal.getsignal(signal.SIGTERM) is outer
            with pytest.raises(Interrupted):
                signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # a second is ignored
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
