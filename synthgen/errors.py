"""Errors synthgen raises for bad input.

Library code raises these; the CLI turns every :class:`SynthgenError` into a short
message ending in one ``Error:`` line, and exit status 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class SynthgenError(Exception):
    """Base class for errors caused by the user's input, not by a bug.

    Args:
        message: What is wrong and what to do, one line (the ``Error:`` line).
        details: Lines that back it up (the differences found, each problem), printed
            before it.
    """

    def __init__(self, message: str = "", *, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)

    def __str__(self) -> str:
        return "\n".join([*self.details, self.message]) if self.details else self.message


class TemplateError(SynthgenError):
    """A scene template is missing, unreadable or does not match the schema."""


class DatasetError(SynthgenError):
    """A dataset folder or annotation file cannot be read as a COCO dataset."""


class OutputError(SynthgenError):
    """An output location cannot be used (exists without --overwrite, not writable...)."""


class Interrupted(KeyboardInterrupt):
    """A command was asked to stop by a signal (SIGTERM from a scheduler) while it was
    writing: handled as Ctrl-C is, its work kept.

    Attributes:
        signum: The signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
