"""The manifest: the record a synthgen command writes last into its output folder.

A folder holding :data:`MANIFEST_FILE` is finished; while ``generate`` runs, the run it is
making is in :data:`RUN_FILE` in the folder's unfinished mark. Every manifest names the
version that wrote it (:data:`VERSION`) and says which set the folder holds:

- ``generate`` and ``merge``: :data:`KIND` is :data:`SYNTHETIC` (rendered images; the
  manifest records the template and options that make them again);
- any other command: :data:`COMMAND` is its name, :data:`REAL_IMPORT` (human-labelled
  real images), :data:`PSEUDO_LABEL` (real images labelled by a detector), :data:`MIX`
  or :data:`EXPORT`. :func:`header` starts such a manifest.

A manifest is read as JSON with :func:`synthgen.storage.files.read_json` (regular files
only), each reader with its own policy for one that cannot be read, and then asked what it
is with :func:`is_synthetic` and :func:`command_of`, which accept any JSON value.

This module imports nothing of synthgen but its version, so storage's output folders may
use these names too.
"""

from __future__ import annotations

from typing import Any, Final

from synthgen import __version__

#: The file whose presence says an output folder is finished (written last).
MANIFEST_FILE: Final = "manifest.json"
#: The file in the unfinished mark that ``generate`` writes first: the run it is making
#: (template, options, shard, versions), which ``--resume`` checks a command against.
RUN_FILE: Final = "run.json"

#: Key of the synthgen version that wrote a manifest (or ``run.json``).
VERSION: Final = "synthgen_version"
#: Key that says a folder holds a synthetic set (``generate``, ``merge``).
KIND: Final = "kind"
#: Key naming the command that wrote any other folder.
COMMAND: Final = "command"

#: :data:`KIND` of a set ``generate`` or ``merge`` wrote.
SYNTHETIC: Final = "synthetic"
#: :data:`COMMAND` of each other command's folder.
REAL_IMPORT: Final = "real import"
PSEUDO_LABEL: Final = "real pseudo-label"
MIX: Final = "mix"
EXPORT: Final = "export"


def header(command: str) -> dict[str, str]:
    """The entries a command's manifest starts with: this version and ``command``.

    Args:
        command: :data:`REAL_IMPORT`, :data:`PSEUDO_LABEL`, :data:`MIX` or :data:`EXPORT`.
    """
    return {VERSION: __version__, COMMAND: command}


def is_synthetic(manifest: Any) -> bool:
    """Whether ``manifest`` (any JSON value, or None) says its folder holds a synthetic set."""
    return isinstance(manifest, dict) and manifest.get(KIND) == SYNTHETIC


def command_of(manifest: Any) -> Any:
    """The command ``manifest`` (any JSON value, or None) says wrote its folder: its
    :data:`COMMAND` entry as written (None when there is none), for comparing with the
    names above and for quoting in messages."""
    return manifest.get(COMMAND) if isinstance(manifest, dict) else None
