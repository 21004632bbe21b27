"""The ``synthgen`` command line.

One :class:`click.Group`; every command lives in its own module under
``synthgen.commands`` and is imported only when used, so ``synthgen scenes`` does not pay
for OpenCV and numba. A :class:`~synthgen.errors.SynthgenError` raised by any
command becomes a short message ending in one ``Error:`` line (the lines that back it up,
if any, come before it) and exit status 2, never a traceback. Every command takes
SIGTERM, what Slurm and Kubernetes send to stop a job, as it takes Ctrl-C
(:func:`sigterm_interrupts`): its clean-up runs, an output folder it was writing stays
marked unfinished, and it exits with status 128 + the signal's number (130, 143).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence

import click

from synthgen import __version__
from synthgen.errors import Interrupted, SynthgenError

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
    """Bad input from the user: message on stderr, exit status 2.

    The ``details`` (the differences found, each of several problems) are printed first,
    one a line, and the ``Error:`` line last, where a reader of a job's log looks.
    """

    exit_code = 2

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)

    @classmethod
    def of(cls, exc: SynthgenError) -> UserError:
        """The message of a library error.

        A message of several lines without ``details`` lists several problems, one a
        line (a template with several wrong fields): they become the details, and the
        ``Error:`` line says how many there are and where (the part all of them begin
        with, such as the template file).
        """
        if exc.details:
            return cls(exc.message, exc.details)
        lines = [line for line in exc.message.splitlines() if line.strip()]
        if len(lines) <= 1:
            return cls(exc.message)
        return cls(problems_summary(lines), lines)

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        for line in self.details:
            click.echo(line, file=file, err=file is None)
        super().show(file)


def problems_summary(lines: Sequence[str]) -> str:
    """``"bad.yaml: 3 problems (listed above)"``: the words all ``lines`` begin with, up
    to their last shared ``": "``, then how many there are."""
    shared = os.path.commonprefix(list(lines))
    cut = shared.rfind(": ")
    where = shared[:cut + 2] if cut > 0 else ""
    return f"{where}{len(lines)} problems (listed above)"


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """Exit status of a command stopped by ``exc``: 128 + the signal's number, as a shell
    reports a process that signal ended (130 for Ctrl-C, 143 for SIGTERM)."""
    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    return 128 + int(signum)


#: Set while a :func:`sigterm_interrupts` block holds SIGTERM's handler.
_SIGTERM_TAKEN = threading.Event()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM stops the command as Ctrl-C does.

    The first SIGTERM raises :class:`~synthgen.errors.Interrupted` (a
    :class:`KeyboardInterrupt`) in the main thread, so the same clean-up runs: worker
    processes are stopped, files written so far kept for ``--resume``. Further SIGTERMs
    are ignored while it cleans up (a scheduler's SIGKILL follows if it takes too long).
    Outside the main thread, where Python cannot set handlers, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or _SIGTERM_TAKEN.is_set():
        # Nested (the CLI group's block around a command's own): the outer one handles
        # it, so that a second SIGTERM while the command says what it left stays ignored.
        yield
        return

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = signal.getsignal(signal.SIGTERM)
    # Set and undone inside the try, in this order: a SIGTERM at any point between leaves
    # neither the flag set nor the handler changed behind it.
    try:
        _SIGTERM_TAKEN.set()
        signal.signal(signal.SIGTERM, stop)
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        _SIGTERM_TAKEN.clear()


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
            with sigterm_interrupts():
                return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            # A command that says more itself (generate, merge, export: what it left and
            # how to finish) has said it. Of any other, what it wrote whole is whole
            # (atomic writes); an output folder it was writing is marked unfinished.
            click.echo("\nInterrupted.", err=True)
            ctx.exit(interrupted_status(exc))
        except SynthgenError as exc:
            raise UserError.of(exc) from exc
        except OSError as exc:
            if exc.errno not in STORAGE_ERRORS:
                raise
            raise UserError(storage_message(exc)) from exc


#: Errors of the disk or file system a command writes to (a full disk, a quota, a
#: read-only or failing disk, a file too large): the user's to fix, not a bug.
STORAGE_ERRORS = frozenset(getattr(errno, name) for name in (
    "ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO", "EFBIG") if hasattr(errno, name))


def storage_message(exc: OSError) -> str:
    """The ``Error:`` line of a write the file system refused, where a command did not
    say more itself (``generate`` and ``merge`` do): every writer works in ``.partial/``
    or under a temporary name and writes its manifest last, so what it left is marked
    unfinished, and the same command runs again once the cause is gone."""
    path = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or str(exc)
    return (f"{path}: {reason}; nothing was finished: free some space or choose another "
            f"output (or fix its permissions), then run the same command again "
            f"(--overwrite where it asks)")


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
