r"""A run's state in its folder: what ``--resume`` and ``--extend`` find there, and how a
folder is taken up again.

:func:`synthgen.generate.pipeline.generate` asks :func:`resume_start` or
:func:`extend_start` what ``OUT`` holds (:class:`Start`; a run other than the one given is
refused, listing the :func:`differences`), :func:`reopen`\ s a finished folder as an
interrupted run (to grow it, or to mend an image that is not sound), and
:func:`recover`\ s the valid prefix of an interrupted run's records before rendering the
rest. The files themselves and their order are described in
:mod:`synthgen.generate.pipeline`; their names and the manifest's schema are
:mod:`synthgen.generate.folder`'s.
"""

from __future__ import annotations

import json
import logging
import os
import reprlib
import shutil
import stat
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

from synthgen.categories import CATEGORY_NAMES
from synthgen.errors import DatasetError, OutputError
from synthgen.formats.dataset import ANNOTATIONS_FILE, IMAGES_DIR
from synthgen.formats.manifest import (
    COMMAND,
    MANIFEST_FILE,
    RUN_FILE,
    VERSION,
    command_of,
    is_synthetic,
)
from synthgen.generate import merge
from synthgen.generate.folder import (
    DIGESTS_FILE,
    OWNED,
    PARTIAL_DIR,
    RECORDS_FILE,
    Shard,
    current_identity,
    current_libraries,
    digest_line,
    file_name,
    file_sha256,
    read_image_digests,
    writing,
)
from synthgen.storage.files import (
    LOCK_FILE,
    TMP_PREFIX,
    atomic_writer,
    read_json,
    read_json_or_fail,
    to_json,
    write_json_atomic,
)

log = logging.getLogger(__name__)

#: How many differences a refused ``--resume`` lists before summarising the rest.
MAX_LISTED_DIFFERENCES = 6


def image_is_sound(path: Path, sha256: str | None) -> bool:
    """Whether the image file at ``path`` is the one that was written: a regular file,
    not empty, and, where its SHA-256 was recorded (``sha256``), of that digest.

    A power loss after a write, a full disk or a hand edit can leave a file empty,
    short or changed under the name of a finished image.
    """
    try:
        info = path.stat()
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return False
    return sha256 is None or file_sha256(path) == sha256


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Per-image records from a JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def coco_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records as :func:`synthgen.formats.coco.write_coco` takes them: without the digest."""
    for record in read_records(path):
        record.pop("sha256", None)
        yield record


def digest_lines(path: Path, images_dir: Path) -> Iterator[str]:
    """``images.sha256`` lines of the records (hashing the file of a record without a
    digest: one written by a synthgen that did not keep them)."""
    for record in read_records(path):
        sha256 = record.get("sha256") or file_sha256(images_dir / record["file_name"])
        yield digest_line(sha256, record["file_name"])


class Start(Enum):
    EMPTY = "empty"
    FRESH = "fresh"
    PARTIAL = "partial"
    COMPLETE = "complete"
    #: A finished run of the same options and fewer images, to grow (``--extend``).
    EXTEND = "extend"


#: ``repr`` of a value in a list of differences, bounded (a whole ``--look-like`` profile
#: recorded and not given would fill the screen).
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 1, 70, 70
_SHORT.maxlist = _SHORT.maxdict = 4


def differences(recorded: Any, given: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``"dotted.path: recorded X, given Y"`` lines
    (long values shortened with ``...``)."""
    if isinstance(recorded, dict) and isinstance(given, dict):
        found = []
        for key in [*recorded, *(k for k in given if k not in recorded)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in recorded:
                found.append(f"{where}: not recorded, given {_SHORT.repr(given[key])}")
            elif key not in given:
                found.append(f"{where}: recorded {_SHORT.repr(recorded[key])}, not given")
            else:
                found.extend(differences(recorded[key], given[key], where))
        return found
    if recorded != given:
        return [f"{path or 'value'}: recorded {_SHORT.repr(recorded)}, "
                f"given {_SHORT.repr(given)}"]
    return []


def read_json_file(path: Path) -> Any:
    return read_json_or_fail(path, OutputError)  # regular files only: a FIFO would block


def finished_manifest(out: Path) -> dict[str, Any]:
    """The manifest of the finished run in ``out``, its fields a finished run is read by
    (``counts``, ``digests``, ``options.count``) of the types synthgen writes.

    Raises:
        OutputError: It cannot be read, or one of those fields is not what synthgen
            writes (an edited or foreign manifest), named in the message.
    """
    path = out / MANIFEST_FILE
    document = read_json_file(path)

    def refuse(field: str, expected: str) -> NoReturn:
        raise OutputError(f"{path}: field {field!r} is not {expected}; the manifest was "
                          "edited or is not synthgen's")

    if not isinstance(document, dict):
        refuse("(top level)", "an object")
    counts = document.get("counts")
    if not isinstance(counts, dict):
        refuse("counts", "an object")
    for key in ("images", "annotations"):
        if type(counts.get(key)) is not int:
            refuse(f"counts.{key}", "an integer")
    per_class = counts.get("per_class")
    if not (isinstance(per_class, dict) and all(type(n) is int for n in per_class.values())):
        refuse("counts.per_class", "an object of integers")
    photo_boxes = counts.get("photo_boxes", 0)
    if type(photo_boxes) is not int or not 0 <= photo_boxes <= sum(per_class.values()):
        refuse("counts.photo_boxes", "an integer from 0 to the boxes counted")
    if not isinstance(document.get("digests") or {}, dict):
        refuse("digests", "an object")
    options = document.get("options")
    if not (isinstance(options, dict) and type(options.get("count")) is int):
        refuse("options.count", "an integer")
    return document


def _refuse_different(out: Path, what: str, recorded: Mapping[str, Any],
                      given: Mapping[str, Any], *, flag: str = "--resume") -> None:
    """Refuse, listing the differences, a folder whose run is not ``given``.

    Args:
        flag: ``--resume`` (the run must be exactly the one given) or ``--extend`` (the
            finished run must be the one given, ``--count`` being what it holds).
    """
    # A run.json that is not an object (edited, or not synthgen's) differs in everything.
    recorded = current_identity(dict(recorded)) if isinstance(recorded, Mapping) else {}
    found = differences(recorded, dict(given))
    if not found:
        return
    listed = found[:MAX_LISTED_DIFFERENCES]
    if len(found) > len(listed):
        listed.append(f"... and {len(found) - len(listed)} more")
    if flag == "--extend":
        doing = "extending"
        advice = ("Give the options it was made with (see its manifest.json; --count is the "
                  "number of images it holds, only --workers may change), or write the new "
                  "dataset to another --out.")
    else:
        doing = "finishing"
        advice = ("Repeat the exact command it was started with (only --workers may change), "
                  "or drop --resume and pass --overwrite to start afresh.")
        if _only_count_grows(recorded, given) and what == "a finished dataset":
            advice += (" To add images to the finished run, give its --count and "
                       "--extend N.")
    raise OutputError(
        f"{flag}: {out} holds {what} made with a different template, options, shard or "
        f"synthgen version (the differences above), so {doing} it would not give the "
        f"dataset you asked for. {advice}", details=[f"  {line}" for line in listed])


def _refuse_other_command(out: Path, document: Any, flag: str) -> None:
    """Refuse a finished folder that ``generate`` (or ``merge``) did not write: a mix,
    a real import, an export, or not synthgen's at all. Its manifest says which."""
    if is_synthetic(document) or (isinstance(document, dict) and COMMAND not in document
                                  and "template" in document):
        return
    command = command_of(document)
    if isinstance(command, str) and command.strip():
        who = f"synthgen {' '.join(command.split())[:40]}"
    elif isinstance(document, dict) and VERSION in document:
        who = "another synthgen command"
    else:
        who = "another program (its manifest.json is not synthgen's)"
    raise OutputError(f"{flag}: {out} was written by {who}, not by generate; give generate "
                      "an empty --out, or the folder an earlier generate of this run wrote")


def _only_count_grows(recorded: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether ``given`` is the run ``recorded`` with more images and nothing else changed."""
    options, wanted = recorded.get("options"), given.get("options")
    if not (isinstance(options, dict) and isinstance(wanted, dict)
            and isinstance(options.get("count"), int) and isinstance(wanted.get("count"), int)
            and options["count"] < wanted["count"]):
        return False
    return not differences({**recorded, "options": {**options, "count": wanted["count"]}},
                           dict(given))


def _manifest_identity(document: Any) -> dict[str, Any]:
    """The run a finished folder's manifest records, as
    :func:`synthgen.generate.pipeline.run_identity` gives it."""
    if not isinstance(document, dict):
        document = {}
    shard = document.get("shard")
    return {
        VERSION: document.get(VERSION),
        "libraries": current_libraries(document.get("libraries")),
        "template": document.get("template"), "options": document.get("options"),
        "shard": {"index": shard.get("index"), "count": shard.get("count")}
        if isinstance(shard, dict) else None,
    }


def _extend_was_started(out: Path, recorded: Mapping[str, Any],
                        identity: Mapping[str, Any]) -> bool:
    """Whether an ``--extend`` of the finished run ``recorded`` to ``identity`` was
    stopped before it removed the manifest (its ``run.json`` is there)."""
    run_file = out / PARTIAL_DIR / RUN_FILE
    if not run_file.is_file() or not _only_count_grows(recorded, identity):
        return False
    try:
        return current_identity(read_json(run_file)) == identity
    except (OSError, ValueError, RecursionError):  # decode errors are ValueErrors
        return False


def resume_start(out: Path, identity: Mapping[str, Any]) -> Start:
    """What ``--resume`` finds in ``out``; refuses a run other than ``identity``."""
    if not out.exists():
        return Start.EMPTY
    if not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    if not any(out.iterdir()):  # made by the job script (mkdir -p) or a mounted volume
        return Start.EMPTY
    manifest_path = out / MANIFEST_FILE
    if manifest_path.is_file():
        document = read_json_file(manifest_path)
        _refuse_other_command(out, document, "--resume")
        recorded = _manifest_identity(document)
        if _extend_was_started(out, recorded, identity):
            return Start.EXTEND
        _refuse_different(out, "a finished dataset", recorded, identity)
        return Start.COMPLETE
    if (out / PARTIAL_DIR / RUN_FILE).is_file():
        _refuse_different(out, "an interrupted run",
                          read_json_file(out / PARTIAL_DIR / RUN_FILE), identity)
        return Start.PARTIAL
    # Stopped before run.json was in place: nothing of this run was rendered. Beside
    # .partial there is nothing, or what an --overwrite stopped halfway had still to
    # delete (it marks the folder first): starting afresh removes it.
    if (out / PARTIAL_DIR).is_dir() and all(entry.name in OWNED for entry in out.iterdir()):
        return Start.FRESH
    raise OutputError(
        f"--resume: {out} is not empty but holds no interrupted synthgen run "
        f"({PARTIAL_DIR}/{RUN_FILE} is missing) and no finished one ({MANIFEST_FILE}); "
        "choose an empty --out, or drop --resume and pass --overwrite to start afresh"
    )


def extend_start(out: Path, base: Mapping[str, Any], identity: Mapping[str, Any], *,
                 resume: bool) -> Start:
    """What ``--extend`` finds in ``out``: the finished run ``base`` to grow into
    ``identity`` (``EXTEND``), or, with ``resume``, that run already grown (``COMPLETE``)
    or an extend of it interrupted (``PARTIAL``); anything else is refused."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        raise OutputError(f"--extend: {out} holds no dataset to extend; make it first "
                          "without --extend")
    manifest_path = out / MANIFEST_FILE
    if manifest_path.is_file():
        document = read_json_file(manifest_path)
        _refuse_other_command(out, document, "--extend")
        recorded = _manifest_identity(document)
        if not differences(recorded, dict(identity)):
            if resume:
                return Start.COMPLETE
            count = identity["options"]["count"]
            raise OutputError(
                f"--extend: {out} already holds the {count} images of this run extended "
                f"(--count {base['options']['count']} plus --extend "
                f"{count - base['options']['count']}); to add more, give --count {count}")
        shard = recorded["shard"]
        if shard is not None:
            raise OutputError(f"--extend: {out} holds shard {shard['index']}/{shard['count']} "
                              "of a run; a shard cannot grow (its images depend on --count): "
                              "merge the shards (`synthgen merge`), then extend the merged "
                              "folder")
        _refuse_different(out, "a finished dataset", recorded, base, flag="--extend")
        return Start.EXTEND
    if (out / PARTIAL_DIR / RUN_FILE).is_file():
        if not resume:
            raise OutputError(f"--extend: {out} holds an interrupted run; finish it first "
                              "with the same command and --resume")
        _refuse_different(out, "an interrupted run", read_json_file(out / PARTIAL_DIR / RUN_FILE),
                          identity, flag="--resume")
        return Start.PARTIAL
    raise OutputError(f"--extend: {out} holds no finished synthgen run ({MANIFEST_FILE} is "
                      "missing) to extend")


def reopen(out: Path, identity: Mapping[str, Any], image_format: str,
           indices: range | None = None, *, repair: bool = False) -> int:
    """Turn the finished folder ``out``, holding images ``indices`` (by default, the
    ``count`` its manifest records from 0), into the interrupted run ``identity`` (see
    :mod:`synthgen.generate.pipeline`'s docstring), under its lock; return how many
    images it held.

    ``--extend`` reopens the smaller run as the larger one; ``--resume`` reopens a
    finished run whose image files are not all sound as itself (``repair``: a missing
    image is then one to make again, not a refusal), so that the bad ones are rendered
    again. Until the manifest is removed, last, the folder stays the finished
    run: a failure before that takes back what this wrote in ``.partial``.

    Raises:
        DatasetError: Its ``annotations.json`` or ``images.sha256`` does not hold the
            images its manifest counts, or an image file is missing.
    """
    document = finished_manifest(out)
    if indices is None:
        indices = range(int(document["options"]["count"]))
    count = len(indices)
    base = merge.ShardFolder(folder=out, manifest=document, shard=Shard(1, 1), indices=indices)
    partial = out / PARTIAL_DIR
    expected = (document.get("digests") or {}).get(DIGESTS_FILE)
    try:
        _clear_partial(partial)
        with writing(partial / RUN_FILE) as path:
            write_json_atomic(path, identity)
        images = boxes = 0
        with writing(partial / RECORDS_FILE) as path, atomic_writer(path, "w") as records:
            digests = read_image_digests(out, base.indices, image_format, expected)
            for record in merge.shard_records(base):
                name = file_name(record["index"], image_format)
                if record.get("file_name") != name or not (
                        repair or (out / IMAGES_DIR / name).is_file()):
                    raise DatasetError(f"{out}: image {record['index']} ({IMAGES_DIR}/{name}) "
                                       f"is missing or not in {ANNOTATIONS_FILE}; was it "
                                       "changed?")
                images += 1
                boxes += len(record["annotations"])
                record["sha256"] = next(digests)
                records.write(to_json(record) + "\n")
            if images == count:
                next(digests, None)  # the listing's own end checks: length, recorded digest
        counted = (document.get("counts") or {}).get("annotations")
        if (images, boxes) != (count, counted):
            raise DatasetError(f"{out}: {ANNOTATIONS_FILE} holds {images} images and {boxes} "
                               f"boxes, its {MANIFEST_FILE} counts {count} and {counted}; was "
                               "it changed?")
    except BaseException:
        _clear_partial(partial)
        raise
    # From here the folder is the interrupted larger run; the smaller run's lists, now
    # in the records, go as a resumed run's would.
    (out / MANIFEST_FILE).unlink()
    (out / ANNOTATIONS_FILE).unlink(missing_ok=True)
    (out / DIGESTS_FILE).unlink(missing_ok=True)
    return count


def _clear_partial(partial: Path) -> None:
    """Remove what is in ``.partial`` except the lock this process holds."""
    for entry in list(partial.iterdir()):
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def still_unstarted(out: Path, identity: Mapping[str, Any]) -> None:
    """Refuse ``out`` if, since ``--resume`` looked, another command wrote a run there.

    Called under the folder's lock, which that command has let go of by now.
    """
    if resume_start(out, identity) not in (Start.EMPTY, Start.FRESH):
        raise OutputError(f"--out {out}: another command wrote a run here while this "
                          "--resume was starting; run the same command again to finish "
                          "or check it")


def _remove_temporaries(*folders: Path) -> None:
    for folder in folders:
        for stray in folder.glob(f"{TMP_PREFIX}*"):
            if stray.is_file() or stray.is_symlink():
                stray.unlink(missing_ok=True)


@dataclass
class Progress:
    """Records already on disk: how many, their annotations (boxes and ignore regions),
    their boxes per class and how many of those a background photo's labels gave
    (``"source": "photo"``)."""

    done: int = 0
    annotations: int = 0
    per_class: Counter[str] = field(default_factory=Counter)
    photo_boxes: int = 0

    def add(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        self.annotations += len(record["annotations"])
        for annotation in record["annotations"]:
            if not annotation["iscrowd"]:
                self.per_class[CATEGORY_NAMES[annotation["category_id"] - 1]] += 1
                self.photo_boxes += annotation.get("source") == "photo"


def _countable(record: dict[str, Any]) -> bool:
    """Whether a record's annotations are what :meth:`Progress.add` counts: a list of
    objects :func:`synthgen.generate.merge.annotation_problem` finds nothing wrong with."""
    annotations = record.get("annotations")
    return isinstance(annotations, list) and all(
        isinstance(a, dict) and merge.annotation_problem(a) is None for a in annotations)


def recover(out: Path, indices: range, image_format: str) -> Progress:
    """Keep the valid prefix of ``records.jsonl``; truncate the file to it.

    A record is kept while it parses, ends with its newline, has the next expected index
    and its image file is sound (:func:`image_is_sound`: there, not empty, and of the
    SHA-256 the record holds, which every record written since images.sha256 exists
    does); everything from the first record that fails any of these is dropped and
    rendered again.
    """
    images_dir = out / IMAGES_DIR
    _remove_temporaries(out, out / PARTIAL_DIR, images_dir)
    # Only a finished list of records produces annotations.json and images.sha256; they
    # are written again.
    (out / ANNOTATIONS_FILE).unlink(missing_ok=True)
    (out / DIGESTS_FILE).unlink(missing_ok=True)
    progress = Progress()
    records_path = out / PARTIAL_DIR / RECORDS_FILE
    if not records_path.is_file():
        return progress
    valid_bytes = 0
    with open(records_path, "rb") as handle:
        for line in handle:
            if progress.done >= len(indices) or not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):  # a line not written whole: the end
                break
            index = indices[progress.done]
            name = file_name(index, image_format)
            if (not isinstance(record, dict) or record.get("index") != index
                    or record.get("file_name") != name or not _countable(record)):
                break
            sha256 = record.get("sha256")
            if not image_is_sound(images_dir / name, sha256 if isinstance(sha256, str) else None):
                if (images_dir / name).exists():
                    log.warning("%s: %s/%s is not the image that was written (empty, cut "
                                "short or changed); rendering it and the images after it "
                                "again", out, IMAGES_DIR, name)
                break
            progress.add(record)
            valid_bytes += len(line)
    os.truncate(records_path, valid_bytes)
    return progress


def first_unsound_image(out: Path, indices: range, image_format: str) -> str | None:
    """The name of the first image of the finished folder ``out`` that is not sound
    (:func:`image_is_sound` against its line in ``images.sha256``; without that list,
    made before synthgen kept one, only that it is there and not empty), or ``None``.

    Raises:
        DatasetError: ``images.sha256`` is not the list its manifest records.
    """
    document = finished_manifest(out)
    expected = (document.get("digests") or {}).get(DIGESTS_FILE)
    listed = (out / DIGESTS_FILE).is_file()
    digests = (read_image_digests(out, indices, image_format, expected) if listed
               else iter(lambda: None, 0))
    for index in indices:
        name = file_name(index, image_format)
        if not image_is_sound(out / IMAGES_DIR / name, next(digests)):
            return name
    if listed:
        next(digests, None)  # the listing's own end checks: length, recorded digest
    return None
