"""Worker processes that map a function over items, results in order, and can always be
stopped.

:class:`Workers` is what ``generate --workers N`` runs on (:func:`ordered_map` maps with
workers started for it). It replaces
:class:`multiprocessing.pool.Pool`, whose workers share one task queue guarded by a
lock: an idle worker holds that lock while it waits for a task, so a worker that dies
at the wrong moment (SIGTERM to the process group from Slurm, the OOM killer) takes the
lock with it, and ``Pool.terminate`` in the parent then waits for ever. Giving the
workers a SIGTERM handler instead does not help: a process-wide signal may be delivered
to any of a worker's threads (OpenBLAS, OpenCV), and a Python handler runs only when
the main thread returns to the interpreter, which a worker blocked on that lock never
does.

Here every worker has a pipe of its own to the parent and nothing is shared, so nothing
can be left locked:

- workers keep the default action for SIGTERM (they end at once, whichever thread the
  signal reaches) and ignore SIGINT (Ctrl-C reaches the whole process group; the parent
  alone handles it);
- the parent stops them with SIGTERM and waits for them when the caller stops reading,
  finishes, or raises (KeyboardInterrupt included);
- a worker that dies on its own (killed, out of memory) owing results is an error
  naming its exit status, not a hang (one that owed nothing is let go, the others go
  on); an exception raised in a worker is raised again in the parent, even when the
  worker has ended before the parent next writes to it.

Items are sent in chunks, at most two per worker at a time and at most four per worker
past the first result not yet read, so the results waiting to be read stay few whatever
the number of items.

:class:`Workers` starts the processes before their work is known: each runs a ``preload``
function (the renderer's imports) while the caller still prepares the run, and is told
its function and initializer when :meth:`Workers.map` starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Seconds a stopped worker is given to end before it is killed.
_GRACE = 5.0

#: Chunks a worker is given ahead: one it works on, one waiting, so it never idles
#: while the parent reads.
_AHEAD = 2

#: Chunks per worker that may be sent past the first one not yet read: what bounds the
#: finished results waiting behind a slow one.
_WINDOW = 4


class WorkerDied(RuntimeError):
    """A worker process ended without sending the results it owed."""


class RemoteTraceback(Exception):
    """Where in a worker an exception raised again in the parent came from (its
    ``__cause__``, shown under the parent's traceback)."""

    def __str__(self) -> str:
        return "\n" + "".join(self.args)


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    #: Chunks sent to it whose results have not come back.
    owed: int = 0


def ordered_map(function: Callable[[T], R], items: Sequence[T], *, processes: int,
                initializer: Callable[..., None], initargs: tuple[Any, ...] = (),
                chunksize: int = 4, preload: Callable[[], None] | None = None,
                ) -> Iterator[R]:
    """``function(item)`` for every item, in order, computed by ``processes`` spawned
    worker processes (each first runs ``preload()`` if given, then
    ``initializer(*initargs)``): :meth:`Workers.map` on workers started for it.

    ``function``, ``initializer`` and ``preload`` must be importable module-level
    functions, and items small (indices, names): a chunk is sent while its worker may be
    sending results back. The workers are stopped when the iterator is exhausted, closed
    or raises; they end without the interpreter's teardown (see :func:`_serve`).

    Raises:
        WorkerDied: A worker process ended before sending the results it owed.
        Exception: What ``function``, ``initializer`` or ``preload`` raised in a worker
            (the first to arrive), with a :class:`RemoteTraceback` as its cause.
    """
    if not items:
        return
    chunks = -(-len(items) // chunksize)
    with Workers(min(processes, chunks), preload=preload) as workers:
        yield from workers.map(function, items, initializer=initializer, initargs=initargs,
                               chunksize=chunksize)


class Workers:
    """Worker processes, started at once, for one :meth:`map`.

    Each process runs ``preload()`` (if given) as soon as it starts, while the caller
    goes on preparing the work it will map: a run's imports overlap the caller's own
    set-up instead of following it. Use as a context manager: whatever happens, every
    process is stopped (SIGTERM, then SIGKILL after a grace period) and waited for on
    exit; :meth:`map` stops them too when it ends.

    The processes are spawned (a new interpreter each), or forked if ``fork`` is asked
    for and :func:`can_fork` says it is safe: a forked worker skips the interpreter's
    start and the imports the caller has made (about 0.1 s each), but it is a copy of the
    caller, so ask for it only before the caller holds anything a copy must not (locks,
    open output files: the caller's own files stay open in every worker until it ends).

    Raises:
        OSError: A process could not be started (none is left running).
    """

    def __init__(self, processes: int, *, preload: Callable[[], None] | None = None,
                 fork: bool = False) -> None:
        forked = fork and can_fork()
        context = multiprocessing.get_context("fork" if forked else "spawn")
        self._workers: list[_Worker] = []
        self._mapped = False
        try:
            for _ in range(max(1, processes)):
                parent_end, child_end = context.Pipe()
                # A forked worker closes the parent's ends of its own pipe and of those of
                # the workers before it, which it inherits: else it would hold the
                # parent's end open and never see the parent go (nor would they).
                inherited = ([w.connection for w in self._workers] + [parent_end]
                             if forked else [])
                process = context.Process(target=_serve, daemon=True,
                                          args=(child_end, preload, inherited))
                started = False
                try:
                    with _sigint_ignored():
                        try:
                            process.start()  # may fail: no processes left
                            started = True
                        finally:
                            child_end.close()
                        # Listed before a Ctrl-C held back meanwhile arrives, to be stopped.
                        self._workers.append(_Worker(process, parent_end))
                except BaseException:
                    if not started:
                        parent_end.close()
                    raise
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._workers)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def map(self, function: Callable[[T], R], items: Sequence[T], *,
            initializer: Callable[..., None], initargs: tuple[Any, ...] = (),
            chunksize: int = 4) -> Iterator[R]:
        """``function(item)`` for every item, in order (see :func:`ordered_map`); the
        workers are stopped when the iterator is exhausted, closed or raises. Once per
        :class:`Workers`: its processes end with it.

        Raises:
            RuntimeError: Called a second time.
            WorkerDied, Exception: As :func:`ordered_map`.
        """
        if self._mapped:
            raise RuntimeError("Workers.map was called already: its processes have ended")
        self._mapped = True
        try:
            yield from self._map(function, items, initializer, initargs, chunksize)
        finally:
            self.close()

    def _map(self, function: Callable[[T], R], items: Sequence[T],
             initializer: Callable[..., None], initargs: tuple[Any, ...],
             chunksize: int) -> Iterator[R]:
        chunks = [list(items[start:start + chunksize])
                  for start in range(0, len(items), chunksize)]
        done: dict[int, list[R]] = {}
        # Workers beyond one per chunk would idle: they are let go at once.
        active = []
        for number, worker in enumerate(self._workers):
            message = (function, initializer, initargs) if number < len(chunks) else None
            if _send(worker, message, done) and message is not None:
                active.append(worker)
        window = _WINDOW * max(1, len(active))
        sent = 0
        for wanted in range(len(chunks)):
            while wanted not in done:
                if not active:  # each ended owing nothing, with work left
                    raise WorkerDied("every worker process ended unexpectedly")
                # Work for the workers with room for it, one chunk each round so none
                # idles while another holds two; the chunks sent never run further
                # ahead of the one wanted than the window (a slow chunk holds back at
                # most that many finished ones). `wanted` itself is always sent, so a
                # live worker owes it.
                limit = min(len(chunks), wanted + window)
                for level in range(1, _AHEAD + 1):
                    for worker in list(active):
                        if sent < limit and worker.owed < level:
                            if not _send(worker, (sent, chunks[sent]), done):
                                active.remove(worker)  # ended owing nothing
                                continue
                            worker.owed += 1
                            sent += 1
                # Their pipes (a result, an error) and their ends (a death).
                ready = set(wait([w.connection for w in active]
                                 + [w.process.sentinel for w in active]))
                for worker in list(active):
                    if worker.connection in ready or worker.process.sentinel in ready:
                        if not _collect(worker, done):
                            active.remove(worker)  # ended owing nothing
            yield from done.pop(wanted)
        for worker in active:
            with contextlib.suppress(OSError):  # one that ended owing nothing
                worker.connection.send(None)  # no more work: the worker returns
        for worker in active:
            worker.process.join(timeout=_GRACE)

    def close(self) -> None:
        """Stop every process still running and wait for it (idempotent)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.process.exitcode is None:
                with contextlib.suppress(OSError):
                    worker.process.terminate()
        for worker in workers:
            worker.process.join(timeout=_GRACE)
            if worker.process.exitcode is None:  # SIGTERM ignored (still starting)
                with contextlib.suppress(OSError):
                    worker.process.kill()
            worker.process.join()
            worker.connection.close()


def can_fork() -> bool:
    """Whether this process can fork workers safely: on Linux, while it runs one thread
    only. A thread (NumPy's BLAS, OpenCV's pool, a caller's) may hold a lock at the
    moment of the fork that no thread of the copy would ever release; Python 3.12 and
    newer warn of it. Elsewhere (macOS's system libraries are not fork-safe), or when the
    thread count cannot be read: no.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while a worker is started, which it inherits: Ctrl-C, which reaches
    the whole process group, ends the parent's command (it alone handles it), not a
    worker still starting its interpreter (a "Fatal Python error" and a traceback each,
    before :func:`_answer` ignores SIGINT itself).

    SIGINT and SIGTERM are blocked meanwhile too: a Ctrl-C or SIGTERM in those
    milliseconds stays pending (a blocked signal is not discarded) and reaches this
    process's own handler once it is back. A worker inherits the mask and unblocks
    SIGTERM once its default action is set (:func:`_answer`): a forked one, a copy of
    this process, would otherwise run this process's own SIGTERM handler (``generate``'s
    "stop as Ctrl-C does") if one arrived in its first instants. From the main thread
    only (elsewhere signals cannot be set), and only where Python set the handler
    (``signal.getsignal`` gives ``None`` where another program embedding Python did: it
    could not be put back).
    """
    blockable = hasattr(signal, "pthread_sigmask")
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):
        yield
        return
    if blockable:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        if blockable:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _send(worker: _Worker, message: Any, done: dict[int, list[Any]]) -> bool:
    """Send a message (a chunk, its work, or None: stop); ``False`` if the worker has
    ended owing nothing (a chunk is for another), and if it ended owing results or with
    an error, raise why (its error, or its death)."""
    try:
        worker.connection.send(message)
    except OSError:
        if _collect(worker, done):  # the pipe broke, yet the process runs
            raise _died(worker) from None
        return False
    return True


def _collect(worker: _Worker, done: dict[int, list[Any]]) -> bool:
    """Take every message waiting from ``worker`` into ``done``; whether it still runs.

    Raises:
        Exception: The error it sent.
        WorkerDied: It ended owing results.
    """
    ended = False
    while worker.connection.poll():
        try:
            number, results, error = worker.connection.recv()
        except (EOFError, OSError):
            ended = True
            break
        if error is not None:
            raise error[0] from RemoteTraceback(error[1])
        worker.owed -= 1
        done[number] = results
    if not ended and worker.process.is_alive():
        return True
    if worker.owed:
        raise _died(worker)
    return False


def _died(worker: _Worker) -> WorkerDied:
    worker.process.join(timeout=_GRACE)
    return WorkerDied(f"a worker process ended unexpectedly (exit status "
                      f"{worker.process.exitcode}: killed, or out of memory?)")


def _serve(connection: Connection, preload: Callable[[], None] | None,
           inherited: Sequence[Connection] = ()) -> None:
    """A worker: close the connections ``inherited`` from a forked parent, run
    ``preload``, wait for its work (its function, initializer and
    initializer's arguments), run the initializer, then answer chunks until told to
    stop; then end at once.

    Its results are all sent (a send returns once the pipe holds them), so nothing is
    left to do but the interpreter's own teardown: freeing every module (numba's LLVM,
    OpenCV), which took 0.2-0.6 s per worker, the parent waiting for it at the end of
    every run. Only the standard streams hold anything unwritten: Python's and C's are
    flushed. A function run here must not count on ``atexit`` handlers, non-daemon
    threads or buffering logging handlers of its own: they do not run or flush.
    """
    status = 1
    try:
        for other in inherited:
            other.close()
        _answer(connection, preload)
        status = 0
    except SystemExit as exit_:  # as a process's end would be (its status, or message)
        if isinstance(exit_.code, int):
            status = exit_.code
        elif exit_.code is not None:
            print(exit_.code, file=sys.stderr)
        else:
            status = 0
    except BaseException:  # noqa: BLE001 - shown, as Python would
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # closed, or replaced by None
                stream.flush()
        with contextlib.suppress(Exception):  # C's buffers too (a library's printf)
            ctypes.CDLL(None).fflush(None)
        os._exit(status)


def _answer(connection: Connection, preload: Callable[[], None] | None) -> None:
    """See :func:`_serve`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # even if the parent ignored it
    if hasattr(signal, "pthread_sigmask"):  # blocked while it was started
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        if preload is not None:
            preload()
    except Exception as exc:  # noqa: BLE001 - raised again in the parent
        # Its work is read first (not unpickled): the parent may be sending it, larger
        # than the pipe holds, while this sends an error larger than that too.
        with contextlib.suppress(EOFError, OSError):  # the parent is gone
            connection.recv_bytes()
        _send_error(connection, -1, exc)
        return
    try:
        work = connection.recv()
    except (EOFError, OSError):  # the parent is gone
        return
    except Exception as exc:  # noqa: BLE001 - its work does not unpickle here
        _send_error(connection, -1, exc)
        return
    if work is None:  # not needed
        return
    function, initializer, initargs = work
    try:
        initializer(*initargs)
    except Exception as exc:  # noqa: BLE001 - raised again in the parent
        _send_error(connection, -1, exc)
        return
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        number, chunk = message
        try:
            results = [function(item) for item in chunk]
        except Exception as exc:  # noqa: BLE001 - raised again in the parent
            _send_error(connection, number, exc)
            return
        try:
            connection.send((number, results, None))
        except OSError:  # the parent is gone
            return
        except Exception as exc:  # noqa: BLE001 - results that do not pickle
            _send_error(connection, number, exc)
            return


def _send_error(connection: Connection, number: int, exc: Exception) -> None:
    where = "".join(traceback.format_exception(exc))
    try:
        # Sent as it is if it comes back whole (one whose __init__ takes other
        # arguments than it keeps in args would not), else as a RuntimeError naming it.
        ForkingPickler.loads(ForkingPickler.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure of its pickling
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):  # the parent is gone
        connection.send((number, [], (exc, where)))
