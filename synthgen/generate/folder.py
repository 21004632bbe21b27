"""A run's output folder: its files' names, manifest, image digests, shards.

What ``generate`` writes (:mod:`synthgen.generate.pipeline`, which tells the order it
writes it in and how ``--resume`` and ``--extend`` read it back) and ``merge`` reads and
writes again (:mod:`synthgen.generate.merge`), without the renderer: this module loads no
OpenCV, painter, effects, sampling or labels, so neither does ``synthgen merge``.

- the files: :data:`PARTIAL_DIR` (``.partial``, holding
  :data:`~synthgen.formats.manifest.RUN_FILE` and :data:`RECORDS_FILE` while a run is
  unfinished), ``images/`` (:func:`file_name`), ``annotations.json``,
  :data:`DIGESTS_FILE` and ``manifest.json``; :data:`OWNED` lists them all;
- :class:`Shard`: which part of a run a folder holds;
- :func:`manifest_document`: ``manifest.json``, the same function for a run, a shard
  and merged shards;
- ``images.sha256``: :func:`digest_line`, :func:`write_digest_list` and
  :func:`read_image_digests` (:func:`file_sha256` hashes a file);
- failed writes: :func:`writing` names the file an :class:`OSError` is about,
  :func:`cannot_write` and :func:`remedy` word it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.errors import DatasetError, OutputError
from synthgen.formats.dataset import ANNOTATIONS_FILE, IMAGES_DIR
from synthgen.formats.manifest import KIND, MANIFEST_FILE, SYNTHETIC, VERSION
from synthgen.storage.files import DIGESTS_FILE, TMP_PREFIX, UNFINISHED_DIR, atomic_writer

PARTIAL_DIR = UNFINISHED_DIR
RECORDS_FILE = "records.jsonl"
#: Everything ``generate`` writes into its output folder (``--overwrite`` removes it in
#: a safe order: see :func:`synthgen.storage.files.new_output_dir`).
OWNED = (MANIFEST_FILE, ANNOTATIONS_FILE, DIGESTS_FILE, PARTIAL_DIR, IMAGES_DIR)

#: The image file formats a run can write (``--image-format``).
IMAGE_FORMATS = ("jpg", "png")

#: Libraries a run recorded (its ``libraries``) whose code synthgen no longer runs, each
#: with the start of the versions whose runs synthgen still makes byte for byte:
#: albumentations, whose ``add_rain`` drew the rain streaks until synthgen 0.7.0 drew them
#: itself, within its 2.0 line (the one synthgen required): 2.0.7 and 2.0.8 draw them
#: with the very calls synthgen makes now; earlier 2.0 releases lack the module synthgen
#: took ``add_rain`` from, so a run of theirs stopped at its first rainy image and holds
#: only images synthgen makes as it did.
RETIRED_LIBRARIES = {"albumentations": "2.0."}


def current_libraries(libraries: Any) -> Any:
    """A run's recorded ``libraries`` without the retired ones whose output synthgen
    still makes (:data:`RETIRED_LIBRARIES`): what a run recorded before they were retired
    is compared as it is now, so that it resumes, extends and merges as before. Anything
    else (another version, not an object) is given back as it is."""
    if not isinstance(libraries, dict):
        return libraries
    return {name: version for name, version in libraries.items()
            if not (name in RETIRED_LIBRARIES and isinstance(version, str)
                    and version.startswith(RETIRED_LIBRARIES[name]))}


def current_identity(recorded: Any) -> Any:
    """A recorded run (``run.json``, or a manifest's run keys) with
    :func:`current_libraries`; anything but an object is given back as it is."""
    if not isinstance(recorded, dict) or "libraries" not in recorded:
        return recorded
    return {**recorded, "libraries": current_libraries(recorded["libraries"])}


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` of a run (1-based, as in ``--shard 2/4``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"a shard K/N needs 1 <= K <= N, got {self.index}/{self.count}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` to a shard.

        Raises:
            ValueError: Not two integers separated by ``/`` with ``1 <= K <= N``.
        """
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"expected K/N such as 2/4, got {text!r}") from None
        return cls(index, count)

    def indices(self, images: int) -> range:
        """The image indices of this shard of a run of ``images`` images."""
        return range((self.index - 1) * images // self.count, self.index * images // self.count)

    def recorded(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def file_name(index: int, image_format: str) -> str:
    return f"{index:06d}.{image_format}"


_DIGEST_LINE = re.compile(rf"([0-9a-f]{{64}})  {IMAGES_DIR}/([^/\n]+)\n")
_HASH_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def digest_line(sha256: str, name: str) -> str:
    """One line of ``images.sha256`` (``sha256sum``'s text format, path from the folder)."""
    return f"{sha256}  {IMAGES_DIR}/{name}\n"


def write_digest_list(path: Path, lines: Iterable[str]) -> str:
    """Write ``images.sha256`` atomically from its lines; return the file's SHA-256."""
    digest = hashlib.sha256()
    with atomic_writer(path, "wb") as handle:
        for line in lines:
            data = line.encode("utf-8")
            digest.update(data)
            handle.write(data)
    return digest.hexdigest()


def read_image_digests(folder: Path, indices: range, image_format: str,
                       expected: str | None = None) -> Iterator[str]:
    """The SHA-256 of each image ``indices`` of a finished folder, in order, from its
    ``images.sha256``; for a folder written before synthgen kept one, from the files.

    Args:
        folder: The dataset (or shard) folder.
        indices: The image indices it holds.
        image_format: ``jpg`` or ``png``.
        expected: The listing's SHA-256 its manifest records, checked once it is read.

    Raises:
        DatasetError: The listing does not list exactly these images, in order, or its
            digest is not the recorded one (it was edited).
    """
    path = folder / DIGESTS_FILE
    if not path.is_file():
        for index in indices:
            yield file_sha256(folder / IMAGES_DIR / file_name(index, image_format))
        return
    changed = f"{path}: does not list the folder's {len(indices)} images in order; was it changed?"
    digest = hashlib.sha256()
    position = 0
    with open(path, "rb") as handle:
        for raw in handle:
            digest.update(raw)
            match = _DIGEST_LINE.fullmatch(raw.decode("utf-8", "replace"))
            if (position >= len(indices) or match is None
                    or match.group(2) != file_name(indices[position], image_format)):
                raise DatasetError(changed)
            position += 1
            yield match.group(1)
    if position != len(indices):
        raise DatasetError(changed)
    if expected is not None and digest.hexdigest() != expected:
        raise DatasetError(f"{path}: its SHA-256 is not the one {MANIFEST_FILE} records; "
                           "was it changed?")


def manifest_counts(*, images: int, annotations: int, per_class: Mapping[str, int],
                    photo_boxes: int) -> dict[str, Any]:
    """A manifest's ``counts``, the same for a run and for merged shards:
    ``photo_boxes`` only when there are some, so that a run without them records what
    it did before the count existed."""
    counts: dict[str, Any] = {"images": images, "annotations": annotations,
                              "per_class": dict(per_class)}
    if photo_boxes:
        counts["photo_boxes"] = photo_boxes
    return counts


def manifest_document(*, version: str, libraries: Mapping[str, str] | None,
                      template: Mapping[str, Any],
                      options: Mapping[str, Any], counts: Mapping[str, Any],
                      shard: Shard | None = None, shard_indices: range | None = None,
                      inputs: Mapping[str, Any] | None = None,
                      digests: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``manifest.json``: enough to make every image of the folder again.

    Built from JSON-ready parts so that :mod:`synthgen.generate.merge` writes the manifest
    of the merged shards with this same function, byte-identical to the unsharded run's
    (:func:`synthgen.generate.pipeline.manifest` builds a run's from its template and
    options).

    Args:
        version: The synthgen version that rendered the images.
        libraries: :func:`~synthgen.generate.pipeline.library_versions` of the machine
            that rendered them.
        template: The template as JSON (``SceneTemplate.model_dump(mode="json")``).
        options: :meth:`~synthgen.generate.pipeline.GenerateOptions.recorded` of the
            whole run.
        counts: :func:`manifest_counts` of this folder.
        shard: The shard this folder holds; ``None`` for a whole run.
        shard_indices: The shard's index range (required with ``shard``).
        inputs: Digests of the input files
            (:func:`~synthgen.generate.pipeline.template_inputs`), if known.
        digests: SHA-256 of the folder's ``annotations.json`` and ``images.sha256``.

    Returns:
        The manifest; a shard's has a ``shard`` entry, a whole run's has none.
    """
    document: dict[str, Any] = {
        VERSION: version,
        "libraries": libraries,
        KIND: SYNTHETIC,
        "template": template,
        "seed": options["seed"],
        "options": options,
    }
    if inputs is not None:
        document["inputs"] = inputs
    if shard is not None:
        if shard_indices is None:
            raise ValueError("a shard's manifest needs its index range")
        document["shard"] = {**shard.recorded(),
                             "indices": [shard_indices.start, shard_indices.stop]}
    document["counts"] = counts
    if digests is not None:
        document["digests"] = dict(digests)
    return document


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Name ``path`` in an :class:`OSError` the block raises without naming it (a write
    that fills the disk names no file) or naming the temporary file it was written to."""
    try:
        yield path
    except OSError as exc:
        if exc.filename is not None and not Path(os.fsdecode(exc.filename)).name.startswith(
                TMP_PREFIX):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def cannot_write(exc: OSError, where: Path, then: str) -> OutputError:
    """The one-line error of a failed file operation: the path, what the system said,
    and what to do about it.

    Args:
        exc: The error, naming its file if it knows it.
        where: The path to name when it does not (the output folder).
        then: What to do once the cause is fixed, e.g. "run the same command with
            --resume (...)".
    """
    path = os.fsdecode(exc.filename) if exc.filename is not None else str(where)
    return OutputError(f"{path}: {exc.strerror or exc}; {remedy(exc)}, then {then}")


def remedy(exc: OSError) -> str:
    """What to do about a failed write, from its ``errno``."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "free some space (or choose an --out on another disk)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "make it writable (or choose another --out)"
    return "fix that"
