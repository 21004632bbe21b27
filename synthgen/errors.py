"""Errors synthgen raises for bad input.

Library code raises these; the CLI turns every :class:`SynthgenError` into a one-line
message and exit status 2, never a traceback.
"""

from __future__ import annotations


class SynthgenError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class TemplateError(SynthgenError):
    """A scene template is missing, unreadable or does not match the schema."""


class DatasetError(SynthgenError):
    """A dataset folder or annotation file cannot be read as a COCO dataset."""


class OutputError(SynthgenError):
    """An output location cannot be used (exists without --overwrite, not writable...)."""
