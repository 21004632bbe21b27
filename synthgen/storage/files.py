"""Files on disk: atomic writes, deterministic JSON, output folders.

Every file synthgen writes goes through :func:`atomic_writer`: it is written under a
temporary name in the same folder and renamed into place only when complete, so an
interrupted run never leaves a file that looks complete but is not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from synthgen.errors import OutputError, SynthgenError
from synthgen.formats.manifest import MANIFEST_FILE, RUN_FILE, VERSION

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
#: Made in an output folder before anything in it is written or deleted, and removed
#: once its manifest is written: a folder holding it is an unfinished synthgen output,
#: which ``--overwrite`` may replace (and ``generate --resume`` may finish).
UNFINISHED_DIR = ".partial"
#: The file in :data:`UNFINISHED_DIR` a writing process holds a lock on.
LOCK_FILE = "lock"
# A folder's MANIFEST_FILE says it is finished, and generate's RUN_FILE in UNFINISHED_DIR
# what it was making: their names are synthgen.formats.manifest's.
#: A dataset folder's COCO file and its image folder.
ANNOTATIONS_FILE = "annotations.json"
IMAGES_DIR = "images"
#: A ``synthgen mix`` folder's COCO files: ``annotations/NAME.json`` for each name.
ANNOTATIONS_DIR = "annotations"
OUTPUT_FILES = ("pretrain", "finetune", "train", "val", "test")
#: The SHA-256 of every image file of a synthgen folder, one ``sha256sum`` line each
#: (``HEX  images/NAME``), in index order: ``sha256sum -c images.sha256`` in the folder
#: checks them.
DIGESTS_FILE = "images.sha256"
#: What to do about an unfinished folder.
UNFINISHED_ADVICE = ("finish it first (`synthgen generate --resume` for a generate run) or run "
                     "the command that wrote it again")
UNFINISHED_MESSAGE = (f"unfinished (it holds {UNFINISHED_DIR}/ and no {MANIFEST_FILE}: a "
                      f"synthgen command was stopped or is still writing it); {UNFINISHED_ADVICE}")

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (see _lock)
    fcntl = None


class NumpyJSONEncoder(json.JSONEncoder):
    """A JSON encoder that understands numpy scalars and arrays."""

    def default(self, o: Any) -> Any:
        # Not imported here: a command that writes JSON before anything loads numpy
        # (generate, starting its workers first) should not wait for it; a numpy value
        # means numpy is loaded.
        np = sys.modules.get("numpy")
        if np is not None:
            if isinstance(o, np.integer):
                return int(o)
            if isinstance(o, np.floating):
                return float(o)
            if isinstance(o, np.bool_):
                return bool(o)
            if isinstance(o, np.ndarray):
                return o.tolist()
        if isinstance(o, Path):
            return o.as_posix()
        return super().default(o)


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """Serialise ``obj`` deterministically (key order as built, numpy types understood)."""
    separators = (",", ": ") if indent is not None else (",", ":")
    return json.dumps(obj, cls=NumpyJSONEncoder, indent=indent, separators=separators,
                      ensure_ascii=False, allow_nan=False)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    Args:
        path: Final location of the file.
        mode: ``"w"`` for text (UTF-8) or ``"wb"`` for bytes.

    Yields:
        The open temporary file. If the block raises, the temporary file is removed and
        ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
    encoding = "utf-8" if mode == "w" else None
    try:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class NotRegularFileError(OSError):
    """A path names a FIFO, a device, a socket or a folder where a file is read."""


#: What :func:`open_regular` calls each kind of file that is not a regular one.
_FILE_KINDS: dict[Callable[[int], bool], str] = {
    stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading in binary mode only if it is a regular file (links
    followed), without ever blocking.

    A FIFO opened for reading blocks until something writes to it, and a device can
    yield bytes for ever: the file is opened non-blocking and checked on its open
    descriptor (no window for the path to be swapped between a check and the open),
    then read normally.

    Raises:
        NotRegularFileError: It is a FIFO, a device, a socket or a folder.
        OSError: It cannot be opened (missing, no permission...).
        ValueError: The path holds a NUL character.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS.items() if test(mode)),
                        "not a regular file")
            raise NotRegularFileError(f"{kind}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON document in ``path``, read only if it is a regular file (see
    :func:`open_regular`) and decoded as UTF-8.

    Raises:
        NotRegularFileError: It is a FIFO, a device, a socket or a folder.
        OSError: It cannot be opened or read.
        UnicodeDecodeError: It is not UTF-8 (a ``ValueError``).
        json.JSONDecodeError: It is not JSON (a ``ValueError``).
        RecursionError: It nests deeper than the parser goes.
    """
    with open_regular(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def why_unreadable(where: str, exc: BaseException) -> str:
    """One line saying why reading the file ``where`` (its path, after an option name
    perhaps) failed with ``exc``: ``"PATH: cannot read (Permission denied)"``, ``"PATH:
    cannot read (not UTF-8 text: invalid start byte at byte 0)"``, ``"PATH: not valid
    JSON (line 3, column 7: Expecting value)"``: the OS's reason, not Python's repr of it."""
    if isinstance(exc, NotRegularFileError):
        return f"{where}: {exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return f"{where}: cannot read (not UTF-8 text: {exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError):
        return f"{where}: cannot read ({exc.strerror or exc})"
    if isinstance(exc, RecursionError):
        return f"{where}: cannot read (its JSON nests too deep to parse)"
    # e.g. an integer of more digits than Python converts (its advice to call a Python
    # function is not for a user of the command)
    reason = " ".join(str(exc).split()).split("; use sys.set_int_max_str_digits")[0]
    return f"{where}: cannot read ({reason})"


def read_json_or_fail(path: str | os.PathLike[str], error: type[SynthgenError], *,
                      prefix: str = "") -> Any:
    """:func:`read_json`, with every way it fails one ``error`` whose message names
    ``path`` (after ``prefix``, ``"--previous "`` say) and what was wrong, in one line
    (:func:`why_unreadable`).

    Raises:
        SynthgenError: ``error``: the file cannot be read, is not UTF-8, not JSON, or
            nests deeper than the parser goes.
    """
    try:
        return read_json(path)
    except (OSError, ValueError, RecursionError) as exc:  # decode errors are ValueErrors
        raise error(why_unreadable(f"{prefix}{path}", exc)) from None


def read_text_or_fail(path: str | os.PathLike[str], error: type[SynthgenError], *,
                      prefix: str = "") -> str:
    """The UTF-8 text of ``path``, read only if it is a regular file; every way that
    fails one ``error`` naming it (:func:`why_unreadable`)."""
    try:
        with open_regular(path) as handle:
            return handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(why_unreadable(f"{prefix}{path}", exc)) from None


@contextlib.contextmanager
def writing_report(option: str, path: Path) -> Iterator[None]:
    """Turn an operating-system error while writing the output file ``path`` (a full
    disk, a folder removed meanwhile) into an :class:`OutputError` naming it; written
    through :func:`atomic_writer`, the file is then left as it was.

    Raises:
        OutputError: The block raised an ``OSError``.
    """
    try:
        yield
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write ({exc.strerror or exc}); nothing "
                          "was written there: free some space or choose another place, and "
                          "run the command again") from exc


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically, with a trailing newline."""
    with atomic_writer(path, "w") as handle:
        handle.write(to_json(obj, indent=indent))
        handle.write("\n")


def encode_image(image: np.ndarray, image_format: str = "png", jpeg_quality: int = 90) -> bytes:
    """RGB array to JPEG or PNG bytes, with no metadata: equal pixels give equal bytes.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        image_format: ``"jpg"`` or ``"png"``.
        jpeg_quality: JPEG quality, 0-100.
    """
    import cv2  # only commands that write images pay for OpenCV

    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if image_format == "png":
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    elif image_format == "jpg":
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    else:
        raise ValueError(f"image_format must be 'jpg' or 'png', not {image_format!r}")
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image_format} image")
    return data.tobytes()


def link_or_copy(src: Path, dst: Path, *, copy: bool = False, fallback: str = "copy") -> str:
    """Put ``src`` at ``dst`` without ever writing to ``src``.

    A hard link shares the bytes (and survives the source being moved); where one is not
    possible (another file system, no permission), ``fallback`` decides: ``"copy"`` an
    independent file, or ``"symlink"`` to the absolute source path. ``copy`` copies
    outright. Copies are written under a temporary name and renamed.

    Returns:
        ``"hardlink"``, ``"symlink"`` or ``"copy"``.

    Raises:
        OutputError: Nothing could be written at ``dst``.
    """
    if fallback not in ("copy", "symlink"):
        raise ValueError(f"fallback must be 'copy' or 'symlink', not {fallback!r}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{TMP_PREFIX}{dst.name}.{os.getpid()}")
    try:
        if not copy:
            try:
                os.link(src, dst)
                return "hardlink"
            except OSError:
                if fallback == "symlink":
                    os.symlink(src.resolve(), dst)
                    return "symlink"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        return "copy"
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{dst}: cannot link or copy {src} ({exc.strerror or exc})") from exc


def link_files(files: Iterable[tuple[Path, str]], folder: Path, *,
               copy: bool) -> dict[str, int]:
    """Put each ``(source, name)`` at ``folder / name`` with :func:`link_or_copy`
    (symbolic links as the fallback); a name already placed is skipped.

    Returns:
        How many files went each way: ``{"copy": n, "hardlink": n, "symlink": n}``, only
        the ways used, sorted by name.
    """
    links: Counter[str] = Counter()
    done: set[str] = set()
    for source, name in files:
        if name not in done:
            done.add(name)
            links[link_or_copy(source, folder / name, copy=copy, fallback="symlink")] += 1
    return dict(sorted(links.items()))


def refuse_overlap(out: Path, sources: Iterable[Path], *,
                   owned: Iterable[str] | None = None) -> None:
    """Refuse an output (folder, or file: preview's sheet) that could delete or write into an
    input.

    ``out`` may not be an input, nor lie inside one. An input inside ``out`` is refused
    too, unless ``owned`` names what the command writes there and the input is under
    none of those entries (shards beside their merged folder are fine).

    Raises:
        OutputError: ``out`` and one of ``sources`` overlap.
    """
    out_real = _resolved("--out", out)
    owned_real = None if owned is None else [out_real / name for name in owned]
    for source in sources:
        src_real = _resolved("input", source)
        inside_out = out_real in src_real.parents
        if owned_real is not None and inside_out:
            inside_out = any(entry == src_real or entry in src_real.parents
                             for entry in owned_real)
        if out_real == src_real or src_real in out_real.parents or inside_out:
            raise OutputError(f"--out {out}: overlaps the input {source}; "
                              "choose an --out outside it")


def _resolved(what: str, path: Path) -> Path:
    """``path`` made absolute with its links followed.

    Raises:
        OutputError: It cannot be (a loop of symbolic links).
    """
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop, Python < 3.13
        raise OutputError(f"{what} {path}: cannot follow its links "
                          f"({getattr(exc, 'strerror', None) or exc})") from None


def written_by_synthgen(folder: Path) -> bool:
    """Whether ``folder`` holds a synthgen manifest, or an unfinished synthgen output."""
    if (folder / UNFINISHED_DIR).is_dir():
        # Made before anything else is written or deleted (see new_output_dir).
        return True
    for marker in (folder / MANIFEST_FILE, folder / UNFINISHED_DIR / RUN_FILE):
        try:
            # Only a regular file is read: a FIFO named manifest.json would block.
            document = read_json(marker)
        except (OSError, ValueError, RecursionError):  # JSON and decode errors are ValueErrors
            continue
        if isinstance(document, dict) and VERSION in document:
            return True
    return False


def prepare_output_file(option: str, path: Path | None, *, overwrite: bool) -> None:
    """Check that a single output file (a report, a contact sheet) can be written to
    ``path`` before any work is done.

    Args:
        option: The option that named the path, for messages (``"--html"``).
        path: The requested file, or ``None`` when the option was not given.
        overwrite: Whether an existing file may be replaced.

    Raises:
        OutputError: ``path`` is a folder, its folder does not exist, or it exists and
            ``overwrite`` is false.
    """
    if path is None:
        return
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder")
    if path.exists() and not overwrite:
        raise OutputError(f"{option} {path}: file exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{option} {path}: folder {parent} is not writable")


def check_output_dir(out: str | os.PathLike[str], *, overwrite: bool,
                     owned: Iterable[str]) -> None:
    """Refuse ``out`` as :func:`new_output_dir` would, touching nothing: for a command
    that works a long time before it writes (``new_output_dir`` checks again then).

    Raises:
        OutputError: As :func:`new_output_dir`.
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        # Where it would be made: the nearest folder up that exists must be a folder.
        ancestor = next((parent for parent in out.parents if parent.exists()), None)
        if ancestor is not None and not ancestor.is_dir():
            raise OutputError(f"--out {out}: cannot create folder ({ancestor} is not a "
                              "folder)")
    _check_output_dir(out, overwrite=overwrite,
                      owned=[name for name in owned if name != UNFINISHED_DIR])


def _check_output_dir(out: Path, *, overwrite: bool, owned: list[str]) -> None:
    """Refuse ``out`` before anything is written (see :func:`new_output_dir`)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        if (out / UNFINISHED_DIR / LOCK_FILE).is_file():
            with _lock(out):  # refuses if another command is writing the folder now
                pass
        _refuse_not_empty(out)
    present = [name for name in owned if (out / name).exists() or (out / name).is_symlink()]
    if present and not written_by_synthgen(out):
        raise OutputError(
            f"--out {out}: holds {', '.join(present)} that synthgen did not write (no "
            "synthgen manifest.json or unfinished run in it); refusing to delete them even "
            "with --overwrite: choose another folder"
        )


def _refuse_not_empty(out: Path) -> NoReturn:
    """Refuse the non-empty folder ``out`` (no ``--overwrite``), saying what it holds."""
    if (out / UNFINISHED_DIR / RUN_FILE).is_file():
        raise OutputError(f"--out {out}: holds an interrupted run; finish it with the same "
                          "`synthgen generate` command and --resume, or pass --overwrite "
                          "to discard it")
    raise OutputError(f"--out {out}: folder exists and is not empty; "
                      "pass --overwrite to replace what synthgen wrote there")


@contextlib.contextmanager
def new_output_dir(out: str | os.PathLike[str], *, overwrite: bool,
                   owned: Iterable[str],
                   check_again: Callable[[], None] | None = None) -> Iterator[Path]:
    """Hold ``out`` ready to receive a new dataset: locked, emptied of what synthgen
    wrote there, and marked unfinished until the block ends without an error.

    An existing non-empty folder is refused unless ``overwrite`` is set; with it, only
    the entries synthgen itself writes (``owned``) are removed, never anything else the
    user keeps there, and only from a folder synthgen wrote (see
    :func:`written_by_synthgen`).

    The order keeps every moment safe. The folder is marked with :data:`UNFINISHED_DIR`
    and its lock taken (:func:`_lock`) before anything is deleted, so of two commands
    started on the same folder at the same moment (a scheduler that runs a task twice)
    one gets the lock and the other refuses; a folder found empty is checked again under
    the lock. The manifest is deleted first and written by the caller last: stopped at
    any moment, the folder neither looks finished nor stops the next ``--overwrite``.

    Args:
        out: The output folder, created if needed.
        overwrite: Whether an existing non-empty folder may be replaced.
        owned: Names of the entries (files or folders) this command writes into ``out``.
        check_again: Called first, and again once the lock is held, before anything is
            removed: it looks at the folder and raises to refuse it (``generate
            --resume`` makes sure no other command finished or started a run there since
            it looked, and says so in its own words).

    Yields:
        The folder: nothing ``owned`` in it yet, its unfinished mark made, its lock held.

    Raises:
        OutputError: ``out`` is a file, is non-empty and ``overwrite`` is false, holds
            entries named like ours that synthgen did not write (a user's ``images/``),
            or another synthgen process is writing it.
    """
    out = Path(out)
    owned = [name for name in owned if name != UNFINISHED_DIR]
    if check_again is not None:
        check_again()
    _check_output_dir(out, overwrite=overwrite, owned=owned)
    mark = out / UNFINISHED_DIR
    marked_here = not mark.is_dir()
    try:
        mark.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create folder ({exc.strerror or exc})") from exc
    with _lock(out) as handle:
        if check_again is not None:
            try:
                check_again()
            except BaseException:
                _unmark_if_only_ours(out, handle, marked_here)
                raise
        if not overwrite:
            # Another command may have written the folder since it was checked.
            others = [entry for entry in out.iterdir() if entry.name != UNFINISHED_DIR]
            if others or not marked_here:
                # Worded from what is on disk: the lock is ours, so no probe of it.
                _unmark_if_only_ours(out, handle, marked_here)
                _refuse_not_empty(out)
        present = [name for name in owned if (out / name).exists() or (out / name).is_symlink()]
        if present:
            log.info("%s: removing %s of an earlier run", out, ", ".join(present))
        for name in sorted(owned, key=lambda name: name != MANIFEST_FILE):
            _remove(out / name)
        for entry in list(mark.iterdir()):  # an earlier run's working files
            if entry.name != LOCK_FILE:
                _remove(entry)
        yield out
        _unmark(out, handle)


@contextlib.contextmanager
def writing_output_dir(out: Path) -> Iterator[None]:
    """Hold the lock of the unfinished folder ``out`` while writing it; once the block
    ends without an error (the manifest is written), remove the unfinished mark.

    For ``generate --resume``; :func:`new_output_dir` does the same for a new folder.
    A folder with a manifest is finished even if its mark stays (NFS can keep a file that
    is still open elsewhere): that is only warned about.

    Raises:
        OutputError: Another process is writing ``out``, or finished or removed it.
    """
    with _lock(out) as handle:
        yield
        _unmark(out, handle)


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[IO[str] | None]:
    """An exclusive advisory lock on :data:`LOCK_FILE` in the mark of ``out``.

    A scheduler can start a task twice (a Kubernetes Indexed Job may, rarely, run two
    pods for one index). ``flock`` also holds on NFS for files. The lock file is only
    ever deleted by the process holding its lock (:func:`_unmark`), so a process that
    gets a lock checks that the file it locked is still the one at its path.

    Yields:
        The open lock file, or ``None`` where the platform has no ``fcntl``.
    """
    path = out / UNFINISHED_DIR / LOCK_FILE
    gone = OutputError(f"--out {out}: another process finished or removed this output "
                       "while this one was starting; run the command again")
    if fcntl is None:
        yield None
        return
    try:
        handle = open(path, "a", encoding="utf-8")
    except FileNotFoundError:
        raise gone from None
    except OSError as exc:  # a folder this user may read but not write, say
        raise OutputError(f"--out {out}: cannot open its lock file {path} "
                          f"({exc.strerror or exc})") from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"--out {out}: another synthgen command is writing this folder right now; "
                "let it finish or stop it first") from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            raise gone from None
        mine = os.fstat(handle.fileno())
        if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            raise gone
        yield handle
    finally:
        handle.close()


def _unmark(out: Path, handle: IO[str] | None) -> None:
    """Remove the unfinished mark of ``out`` while holding its lock (``handle``)."""
    mark = out / UNFINISHED_DIR
    for entry in list(mark.iterdir()):
        if entry.name != LOCK_FILE:
            _remove(entry)
    # Deleted while still locked: a process that opened it a moment ago and locks it
    # once this one lets go finds it is no longer the folder's lock file (see _lock).
    (mark / LOCK_FILE).unlink(missing_ok=True)
    if handle is not None:
        handle.close()
    try:
        mark.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        if not (mark / LOCK_FILE).exists():  # not another command's mark by now
            log.warning("%s: could not remove %s/ of the finished folder; delete it by "
                        "hand", out, UNFINISHED_DIR)


def _unmark_if_only_ours(out: Path, handle: IO[str] | None, marked_here: bool) -> None:
    """Take back the unfinished mark this command made on ``out`` before refusing it,
    unless another command has put its working files into it meanwhile (they stay)."""
    mark = out / UNFINISHED_DIR
    if marked_here and all(entry.name == LOCK_FILE for entry in mark.iterdir()):
        _unmark(out, handle)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def unfinished_folder(annotation_file: Path, image_root: Path) -> Path | None:
    """The folder of a dataset that a synthgen command left unfinished, if any.

    A folder is unfinished while it holds :data:`~synthgen.storage.files.UNFINISHED_DIR` and no
    manifest (written last; a manifest says it is finished, whatever else is left in it),
    as ``mix`` judges its inputs: a run stopped or still under way, or an ``--overwrite``
    stopped halfway, whose ``annotations.json`` may describe images no longer there.
    Looked at: the annotation file's folder, the folder holding an ``annotations/``
    folder (``mix`` output) and the one holding an ``images/`` image folder.
    """
    folder = annotation_file.parent
    folders = [folder]
    if folder.name == "annotations":
        folders.append(folder.parent)
    if image_root.name == IMAGES_DIR:
        folders.append(image_root.parent)
    for candidate in dict.fromkeys(folders):
        if (candidate / UNFINISHED_DIR).is_dir() and not (candidate / MANIFEST_FILE).is_file():
            return candidate
    return None
