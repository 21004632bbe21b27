"""Worker processes that map a function over items, results in order, and can always be
stopped.

:func:`ordered_map` is what ``generate --workers N`` runs on. It replaces
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
- a worker that dies on its own (killed, out of memory) is an error naming its exit
  status, not a hang; an exception raised in a worker is raised again in the parent.

Items are sent in chunks, at most two per worker at a time and at most four per worker
past the first result not yet read, so the results waiting to be read stay few whatever
the number of items.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
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


def ordered_map(function: Callable[[T], R], items: Sequence[T], *, processes: int,
                initializer: Callable[..., None], initargs: tuple[Any, ...] = (),
                chunksize: int = 4) -> Iterator[R]:
    """``function(item)`` for every item, in order, computed by ``processes`` spawned
    worker processes (each first runs ``initializer(*initargs)``).

    ``function`` and ``initializer`` must be importable module-level functions. The
    workers are stopped when the iterator is exhausted, closed or raises.
    """
    chunks = [list(items[start:start + chunksize])
              for start in range(0, len(items), chunksize)]
    if not chunks:
        return
    context = multiprocessing.get_context("spawn")
    workers: dict[Connection, multiprocessing.process.BaseProcess] = {}
    finished = False
    try:
        for _ in range(min(processes, len(chunks))):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_serve, daemon=True,
                                      args=(child_end, function, initializer, initargs))
            process.start()
            child_end.close()
            workers[parent_end] = process
        owed: dict[Connection, int] = dict.fromkeys(workers, 0)
        window = _WINDOW * len(workers)
        sent = 0
        done: dict[int, list[R]] = {}
        for wanted in range(len(chunks)):
            while wanted not in done:
                # Work for every worker with room for it, the chunks sent not running
                # further ahead of the one wanted than the window: a slow chunk holds
                # back at most that many finished ones. `wanted` itself is always sent,
                # so some worker owes it.
                for connection in workers:
                    while (sent < min(len(chunks), wanted + window)
                           and owed[connection] < _AHEAD):
                        connection.send((sent, chunks[sent]))
                        owed[connection] += 1
                        sent += 1
                for connection in wait([c for c in workers if owed[c]]):
                    number, results, error = _receive(connection, workers[connection])
                    if error is not None:
                        raise error[0] from RemoteTraceback(error[1])
                    owed[connection] -= 1
                    done[number] = results
            yield from done.pop(wanted)
        for connection in workers:
            connection.send(None)  # no more work: the worker returns
        for process in workers.values():
            process.join()
        finished = True
    finally:
        if not finished:
            for process in workers.values():
                if process.exitcode is None:
                    process.terminate()
            for process in workers.values():
                process.join(timeout=_GRACE)
                if process.exitcode is None:  # still starting, with SIGTERM ignored
                    process.kill()
        for connection, process in workers.items():
            process.join()
            connection.close()


def _receive(connection: Connection, process: multiprocessing.process.BaseProcess,
             ) -> tuple[int, list[Any], tuple[BaseException, str] | None]:
    try:
        return connection.recv()
    except (EOFError, OSError):
        process.join()
        raise WorkerDied(f"a worker process ended unexpectedly (exit status "
                         f"{process.exitcode}: killed, or out of memory?)") from None


def _serve(connection: Connection, function: Callable[[Any], Any],
           initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """A worker: run the initializer, then answer chunks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # even if the parent ignored it
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
        except (BrokenPipeError, OSError):  # the parent is gone
            return


def _send_error(connection: Connection, number: int, exc: Exception) -> None:
    where = "".join(traceback.format_exception(exc))
    try:
        connection.send((number, [], (exc, where)))
    except Exception:  # noqa: BLE001 - an exception that does not pickle
        connection.send((number, [], (RuntimeError(f"{type(exc).__name__}: {exc}"), where)))
