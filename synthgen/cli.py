"""The ``synthgen`` command line.

One :class:`click.Group`; every command lives in its own module under
``synthgen.commands`` and is imported only when used, so ``synthgen scenes`` does not pay
for OpenCV and albumentations. A :class:`~synthgen.errors.SynthgenError` raised by any
command becomes a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import logging

import click

from synthgen import __version__
from synthgen.errors import SynthgenError

#: command name -> "module:attribute"; help lists them in this order.
COMMANDS: dict[str, str] = {
    "generate": "synthgen.commands.generate:generate",
    "scenes": "synthgen.commands.scenes:scenes",
    "preview": "synthgen.commands.preview:preview",
    "stats": "synthgen.commands.stats:stats",
    "real": "synthgen.commands.real:real",
    "validate": "synthgen.commands.validate:validate",
    "mix": "synthgen.commands.mix:mix",
    "compare": "synthgen.commands.compare:compare",
    "merge": "synthgen.commands.merge:merge",
    "fit": "synthgen.commands.fit:fit",
    "benchmark": "synthgen.commands.benchmark:benchmark",
    "export": "synthgen.commands.export:export",
    "diff": "synthgen.commands.diff:diff",
}


class UserError(click.ClickException):
    """Bad input from the user: message on stderr, exit status 2."""

    exit_code = 2


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, turning input errors into exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._import(name, required=False) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._import(cmd_name, required=True)

    @staticmethod
    def _import(name: str, *, required: bool) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A command whose module is not there yet is left out of the listing only;
            # any other import failure is a bug and must surface.
            if exc.name != module_name or required:
                raise
            return None
        return getattr(module, attribute)

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except SynthgenError as exc:
            raise UserError(str(exc)) from exc


def log_level(verbose: int, quiet: int) -> int:
    """The logging level of ``-v`` and ``-q`` counts: warnings by default, what each step
    does with ``-v``, debug with ``-vv``. ``-q`` hides progress bars only: warnings (an
    empty split, an unused ``--map`` entry) stay unless ``-qq``."""
    level = logging.WARNING - 10 * verbose + 10 * max(0, quiet - 1)
    return max(logging.DEBUG, min(logging.CRITICAL, level))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True,
              help="Also log what each step does (-vv: debug messages too).")
@click.option("-q", "--quiet", count=True,
              help="Hide progress bars (-qq: warnings too).")
@click.version_option(__version__, prog_name="synthgen")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Generate labelled synthetic driving scenes and use them beside real data.

    Pre-train on bulk synthetic data, fine-tune on a smaller human-labelled set, and
    validate and test on real images only.
    """
    logging.basicConfig(level=log_level(verbose, quiet),
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"quiet": quiet}
