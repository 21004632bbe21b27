"""synthgen.generate.workers.ordered_map and Workers: results in order whatever the workers,
errors raised in the parent, and stopping never waits for ever (multiprocessing.Pool's
terminate did, in CI: a worker waiting for the task lock the parent had taken ignored its
SIGTERM); workers started before their work is known preload, then work as the others."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from synthgen.generate.workers import (
    RemoteTraceback,
    WorkerDied,
    Workers,
    can_fork,
    ordered_map,
)

# Workers may be spawned: what they run must be importable module-level functions.


def _no_setup() -> None:
    return None


def _square(item: int) -> int:
    return item * item


def _slow_square(item: int) -> int:
    time.sleep(0.02 * (item % 3))  # finished out of order
    return item * item


def _fail_at_five(item: int) -> int:
    if item == 5:
        raise ValueError(f"item {item} is bad")
    return item


def _die_at_five(item: int) -> int:
    if item == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def _full_disk_at_one(item: int) -> int:
    if item == 1:
        time.sleep(0.3)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{item}.jpg")
    return item


def _unpicklable_result(item: int) -> object:
    return lambda: item


class NeedsTwo(Exception):
    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def _raise_needs_two(item: int) -> int:
    raise NeedsTwo("this", "that")


def _failing_setup(*ballast: bytes) -> None:
    raise FileNotFoundError("setup found no template")


def _threaded_setup() -> None:
    # Threads besides the main one, as OpenBLAS and OpenCV start: SIGTERM may reach any.
    for _ in range(4):
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()


_MARKS: dict[str, Path] = {}


def _mark_here(folder: str) -> None:
    _MARKS["folder"] = Path(folder)


def _slow_first(item: int) -> int:
    """Item 0 waits, then counts the items started meanwhile (by the other worker)."""
    (_MARKS["folder"] / str(item)).touch()
    if item != 0:
        return item
    time.sleep(2.0)
    return len(list(_MARKS["folder"].iterdir()))


def _pid(item: int) -> int:
    return os.getpid()


_PRELOADED: list[str] = []

#: How SIGINT is handled when a process imports this module: in a worker, before its own
#: code runs (it unpickles its target, from here, first).
_SIGINT_AT_IMPORT = signal.getsignal(signal.SIGINT)


def _preload() -> None:
    _PRELOADED.append("preloaded")


def _failing_preload() -> None:
    raise ImportError("no renderer here")


def _slow_preload() -> None:
    time.sleep(0.5)


def _what_was_preloaded(item: int) -> tuple[int, list[str]]:
    return item, list(_PRELOADED)


def _failing_preload_loudly() -> None:
    raise ImportError("no renderer here " + "x" * 300_000)  # more than a pipe holds


def _sigint_at_import(item: int) -> object:
    return _SIGINT_AT_IMPORT


def _slow_pid(item: int) -> int:
    time.sleep(0.5)
    return os.getpid()


def _children() -> set[int]:
    """This process's live child processes (zombies and multiprocessing's resource
    tracker, which lives as long as this process, left out)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found - {resource_tracker._resource_tracker._pid}


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@pytest.mark.parametrize(("items", "processes", "chunksize"), [
    (0, 2, 4),
    (1, 2, 4),
    (7, 1, 4),
    (7, 2, 4),
    (23, 3, 2),
    (40, 2, 1),
])
def test_results_come_in_order(items: int, processes: int, chunksize: int) -> None:
    got = list(ordered_map(_slow_square, range(items), processes=processes,
                           initializer=_no_setup, chunksize=chunksize))
    assert got == [item * item for item in range(items)]


def test_work_is_shared_between_workers() -> None:
    pids = set(ordered_map(_pid, range(32), processes=2, initializer=_no_setup,
                           chunksize=1))
    assert len(pids) == 2 and os.getpid() not in pids


def test_as_many_chunks_as_workers_go_one_to_each() -> None:
    # Two chunks and two workers: each renders one (the first took both, one after the
    # other, while the second idled).
    pids = list(ordered_map(_slow_pid, range(2), processes=2, initializer=_no_setup,
                            chunksize=1))
    assert len(set(pids)) == 2


def test_a_slow_item_holds_back_only_a_window_of_finished_ones(tmp_path: Path) -> None:
    results = list(ordered_map(_slow_first, range(60), processes=2, initializer=_mark_here,
                               initargs=(str(tmp_path),), chunksize=1))
    assert results[1:] == list(range(1, 60))
    # Window of 4 chunks per worker past the one read: items 0-7 can be started, never
    # all 60 (the other worker would finish every one of them in 2 s).
    assert results[0] <= 8


def test_an_exception_in_a_worker_is_raised_in_the_parent_with_where_it_came_from() -> None:
    with pytest.raises(ValueError, match="item 5 is bad") as caught:
        list(ordered_map(_fail_at_five, range(12), processes=2, initializer=_no_setup))
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert "_fail_at_five" in str(caught.value.__cause__)


def test_an_exception_in_the_initializer_is_raised_in_the_parent() -> None:
    with pytest.raises(FileNotFoundError, match="setup found no template"):
        list(ordered_map(_square, range(12), processes=2, initializer=_failing_setup))


@needs_proc
def test_a_worker_killed_is_an_error_not_a_hang() -> None:
    with pytest.raises(WorkerDied, match="exit status -9"):
        list(ordered_map(_die_at_five, range(12), processes=2, initializer=_no_setup))
    assert not _children()


def test_a_worker_error_is_raised_even_while_the_parent_is_slow_to_read() -> None:
    # The worker failed on item 1 and ended while the reader dwelt on item 0: the next
    # chunk's send finds its pipe broken, and the worker's error is raised, not that.
    results = ordered_map(_full_disk_at_one, range(8), processes=1, initializer=_no_setup,
                          chunksize=1)
    assert next(results) == 0
    time.sleep(1.0)
    with pytest.raises(OSError) as caught:
        next(results)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "1.jpg"


def test_an_initializer_error_with_much_work_to_send_is_raised() -> None:
    # 8 MiB of arguments: the parent is still starting workers and sending work when the
    # first one has failed and ended.
    with pytest.raises(FileNotFoundError, match="setup found no template"):
        list(ordered_map(_square, range(40), processes=3, initializer=_failing_setup,
                         initargs=(b"x" * (8 << 20),), chunksize=1))


@needs_proc
def test_a_worker_that_cannot_start_raises_why_and_leaves_nothing() -> None:
    with pytest.raises(Exception, match="pickle"):
        list(ordered_map(_square, range(8), processes=2, initializer=_failing_setup,
                         initargs=(lambda: 0,)))
    assert not _children()


def test_a_result_that_does_not_pickle_is_an_error_naming_it() -> None:
    with pytest.raises(Exception, match="pickle"):
        list(ordered_map(_unpicklable_result, range(4), processes=2, initializer=_no_setup))


def test_an_exception_that_does_not_unpickle_arrives_as_a_runtime_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match="NeedsTwo: this and that"):
        list(ordered_map(_raise_needs_two, range(4), processes=2, initializer=_no_setup))


@needs_proc
@pytest.mark.parametrize("after", [1, 5])
def test_a_reader_that_stops_stops_the_workers(after: int) -> None:
    # Stopped after `after` results; the other workers may still be starting, idle
    # waiting for work, or busy: none is left running, and nothing waits for ever.
    started = time.monotonic()
    results = ordered_map(_square, range(40), processes=2, initializer=_threaded_setup,
                          chunksize=1)
    for _ in range(after):
        next(results)
    results.close()
    assert not _children()
    assert time.monotonic() - started < 60


@needs_proc
def test_ctrl_c_in_the_parent_stops_the_workers() -> None:
    def interrupted():
        for done, result in enumerate(ordered_map(_square, range(40), processes=2,
                                                  initializer=_threaded_setup,
                                                  chunksize=1)):
            if done == 3:
                raise KeyboardInterrupt
            yield result

    with pytest.raises(KeyboardInterrupt):
        list(interrupted())
    assert not _children()


@needs_proc
def test_one_chunk_for_two_workers_finishes_many_times_over() -> None:
    # CI's hang: two workers, work for one (the other still starting or idle), the end.
    for _ in range(5):
        assert list(ordered_map(_square, range(2), processes=2, chunksize=1,
                                initializer=_threaded_setup)) == [0, 1]
    assert not _children()


def _say(item: int) -> int:
    print(f"item {item} said", end="\n" if item % 2 else "")  # partly unterminated
    ctypes.CDLL(None).printf(b"item %d said in C\n", item)  # C's own stdout buffer
    return item


def _exit_at_three(item: int) -> int:
    if item == 3:
        raise SystemExit(7)
    return item


def _interrupt_at_three(item: int) -> int:
    if item == 3:
        raise KeyboardInterrupt("in the worker")
    return item


def test_what_a_worker_printed_is_written_out_though_it_ends_at_once(
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers end without the interpreter's teardown; their stdout and stderr are
    flushed first (a file's stdout is block-buffered: nothing would arrive)."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the workers' environment
    assert list(ordered_map(_say, range(6), processes=2, chunksize=3,
                            initializer=_no_setup)) == list(range(6))
    out = capfd.readouterr().out
    for item in range(6):
        assert f"item {item} said" in out and f"item {item} said in C" in out


@needs_proc
def test_a_worker_ending_itself_or_failing_outside_its_work_keeps_its_status() -> None:
    """SystemExit in a worker ends it with that status, anything else past the errors
    sent to the parent with status 1 and its traceback, as an ordinary process would."""
    script = ("from synthgen.generate.workers import ordered_map\n"
              "import tests.generate.test_workers as t\n"
              "list(ordered_map(t._exit_at_three, range(8), processes=2, chunksize=1,"
              " initializer=t._no_setup))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], timeout=120)
    assert "WorkerDied: a worker process ended unexpectedly (exit status 7" in done.stderr
    script = script.replace("_exit_at_three", "_interrupt_at_three")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], timeout=120)
    assert "WorkerDied: a worker process ended unexpectedly (exit status 1" in done.stderr
    assert "KeyboardInterrupt: in the worker" in done.stderr


def test_workers_started_ahead_preload_once_then_do_the_work() -> None:
    with Workers(2, preload=_preload) as workers:
        assert len(workers) == 2
        got = list(workers.map(_what_was_preloaded, range(10), initializer=_no_setup,
                               chunksize=2))
    assert got == [(item, ["preloaded"]) for item in range(10)]
    assert _PRELOADED == []  # in the workers, not here


def test_ordered_map_preloads_too() -> None:
    got = list(ordered_map(_what_was_preloaded, range(3), processes=2, initializer=_no_setup,
                           preload=_preload))
    assert got == [(item, ["preloaded"]) for item in range(3)]


def test_a_preload_error_is_raised_in_the_parent_with_where_it_came_from() -> None:
    with Workers(2, preload=_failing_preload) as workers:
        with pytest.raises(ImportError, match="no renderer here") as caught:
            list(workers.map(_square, range(8), initializer=_no_setup))
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert "_failing_preload" in str(caught.value.__cause__)


@needs_proc
def test_workers_beyond_the_work_are_let_go_and_none_is_left() -> None:
    with Workers(3, preload=_slow_preload) as workers:
        assert list(workers.map(_square, range(2), initializer=_no_setup,
                                chunksize=4)) == [0, 1]
        assert not _children()  # the map stopped them all, the idle two too
    assert not _children()


@needs_proc
def test_workers_never_used_are_stopped_on_exit() -> None:
    """A command that fails before its run (a bad template) leaves no worker behind,
    even one still preloading."""
    with pytest.raises(ValueError, match="bad template"):
        with Workers(2, preload=_slow_preload):
            raise ValueError("bad template")
    assert not _children()


def test_workers_map_once() -> None:
    with Workers(1) as workers:
        assert list(workers.map(_square, range(3), initializer=_no_setup)) == [0, 1, 4]
        with pytest.raises(RuntimeError, match="called already"):
            list(workers.map(_square, range(3), initializer=_no_setup))


def test_work_too_large_for_the_pipe_reaches_a_worker_still_preloading() -> None:
    """Its work (the template, sprite banks) is sent while a worker preloads: a send
    larger than the pipe waits for the worker to read it, and nothing hangs."""
    with Workers(2, preload=_slow_preload) as workers:
        got = list(workers.map(_square, range(6), initializer=_failing_setup_if_short,
                               initargs=(b"x" * (8 << 20),), chunksize=1))
    assert got == [item * item for item in range(6)]


def _failing_setup_if_short(ballast: bytes) -> None:
    if len(ballast) != 8 << 20:
        raise ValueError(f"setup got {len(ballast)} bytes")


def test_a_large_preload_error_while_large_work_is_sent_is_raised_not_a_hang() -> None:
    """Both larger than a pipe holds: the worker reads its work before it sends the
    error, so neither side waits for the other for ever."""
    with Workers(2, preload=_failing_preload_loudly) as workers:
        with pytest.raises(ImportError, match="no renderer here"):
            list(workers.map(_square, range(8), initializer=_failing_setup_if_short,
                             initargs=(b"x" * (8 << 20),)))


def test_a_worker_ignores_ctrl_c_from_its_first_instruction() -> None:
    """Ctrl-C reaches the whole process group: a worker still starting its interpreter
    must not print a fatal error and a traceback (the parent alone handles it)."""
    # A preload from this module makes the worker import it as it starts.
    with Workers(1, preload=_no_setup) as workers:
        assert list(workers.map(_sigint_at_import, [0], initializer=_no_setup)) == \
            [signal.SIG_IGN]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored here


def test_a_ctrl_c_while_a_worker_starts_is_not_lost() -> None:
    """SIGINT is held back, not dropped, while a worker is started with it ignored: the
    command still stops, with nothing left running."""
    script = """if True:
        import multiprocessing.context as context, os, signal
        from synthgen.generate.workers import Workers
        start = context.SpawnProcess.start
        def start_with_ctrl_c(self):
            os.kill(os.getpid(), signal.SIGINT)  # arrives while the worker starts
            start(self)
        context.SpawnProcess.start = start_with_ctrl_c
        try:
            with Workers(2):
                raise AssertionError("Ctrl-C lost")
        except KeyboardInterrupt:
            import multiprocessing
            print("interrupted", multiprocessing.active_children())
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], timeout=120)
    assert done.stdout.strip() == "interrupted []", done.stdout + done.stderr


#: Set in a parent before it starts workers: a forked worker has it, a spawned one not.
_SET_BEFORE_THE_START: list[str] = []


def _parent_and_mark(item: int) -> tuple[int, int, list[str], list[str], bool]:
    """The item, the worker's parent, what it has of the two lists, and whether SIGTERM
    ends it at once (default action, not blocked)."""
    sigterm = (signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
               and signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    return item, os.getppid(), list(_SET_BEFORE_THE_START), list(_PRELOADED), sigterm


def test_a_process_with_threads_spawns_its_workers_even_if_fork_is_asked_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking a process that runs threads may copy a lock some thread holds, which no
    thread of the copy ever releases: such a process spawns its workers."""
    monkeypatch.setattr("synthgen.generate.workers.can_fork", can_fork)  # the real one
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not can_fork()
        _SET_BEFORE_THE_START.append("set")
        with Workers(1, fork=True) as workers:
            got = list(workers.map(_parent_and_mark, range(2), initializer=_no_setup))
    finally:
        _SET_BEFORE_THE_START.clear()
        release.set()
        thread.join()
    assert got == [(item, os.getpid(), [], [], True) for item in range(2)]
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


_FORK_SCRIPT = """if True:
    import os, signal, sys
    from synthgen.generate.workers import Workers, can_fork
    import tests.generate.test_workers as t
    print("can fork", can_fork(), flush=True)
    t._SET_BEFORE_THE_START.append("set")
    signal.signal(signal.SIGTERM, lambda *_: print("the parent's handler ran"))
    with Workers(2, preload=t._preload, fork=True) as workers:
        print("workers", *(w.process.pid for w in workers._workers), flush=True)
        if sys.argv[1] == "wait":
            sys.stdin.read()  # until the test kills this process
        for result in workers.map(t._parent_and_mark, range(4), initializer=t._no_setup,
                                  chunksize=1):
            print("result", *result, flush=True)
    print("parent", os.getpid())
"""


@needs_proc
def test_a_process_without_threads_forks_its_workers_which_preload_and_work() -> None:
    done = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, "map"], capture_output=True,
                          text=True, cwd=Path(__file__).parents[2], timeout=120)
    lines = done.stdout.splitlines()
    assert lines[0] == "can fork True", done.stdout + done.stderr
    parent = lines[-1].split()[1]
    # Forked: a copy of the parent as it was (the mark set), preloaded once started,
    # with SIGTERM's default action (not the parent's handler), unblocked.
    assert lines[2:-1] == [f"result {item} {parent} ['set'] ['preloaded'] True"
                           for item in range(4)]


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@needs_proc
def test_forked_workers_end_when_their_parent_is_killed() -> None:
    """A forked worker inherits the parent's ends of its own pipe and of the workers'
    before it: were they left open, a worker waiting for work would never see the
    parent go (SIGKILL, the OOM killer) and would wait for ever."""
    parent = subprocess.Popen([sys.executable, "-c", _FORK_SCRIPT, "wait"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[2])
    try:
        assert parent.stdout.readline().strip() == "can fork True"
        pids = [int(pid) for pid in parent.stdout.readline().split()[1:]]
        assert len(pids) == 2
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while not all(map(_ended, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if not _ended(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers still waiting for a parent that is gone"
