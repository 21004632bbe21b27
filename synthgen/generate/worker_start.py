"""The worker processes of ``generate``, started before their run is known
(:func:`start_workers`): each imports the renderer (:func:`preload_renderer`) while the
command still reads the template and prepares the output folder.

Kept apart from the renderer and the pipeline so that importing it loads neither: the
command starts the workers first, and numba must be imported in them first, without
SciPy. numba imports SciPy twice before a worker's first image,
though the renderer uses none of it: ``import numba`` checks SciPy's version (``import
scipy``, about 0.1 s), and the first function it loads probes for SciPy's BLAS
(``scipy.linalg``, 0.15-0.3 s), to learn whether NumPy's linear algebra can be compiled.
"""

from __future__ import annotations

import sys

from synthgen.generate.workers import Workers

#: The package refused while numba looks for it.
_SCIPY = "scipy"


def import_numba_without_scipy() -> None:
    """Import numba and its typing of NumPy with SciPy refused, so that numba records
    that SciPy is not there and never imports it in this process.

    What that changes: ``np.correlate`` and ``np.convolve`` in compiled code take numba's
    plain loop instead of BLAS (results differing in the last bits), which the compiled
    core (:mod:`synthgen.render.zbuffer`) must therefore never use (a test checks);
    ``np.dot`` and linear algebra still compile (importing SciPy then). Nothing a worker
    runs imports SciPy
    otherwise (rain is drawn without albumentations), so a worker never loads it. For the
    worker processes of ``generate`` only, which run nothing but the renderer: never a
    process a user's own numba code may run in. Does nothing if SciPy or numba's typing
    of NumPy is already loaded (it is only a saving of start-up time); SciPy can be
    imported as usual afterwards.
    """
    if _SCIPY in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    sys.modules[_SCIPY] = None  # type: ignore[assignment]  # ImportError on import
    try:
        import numba  # noqa: F401, PLC0415
        import numba.np.arraymath  # noqa: F401, PLC0415
    except ImportError:
        pass  # a broken numba: the renderer's own import says so
    finally:
        if sys.modules.get(_SCIPY, ...) is None:
            del sys.modules[_SCIPY]


def preload_renderer() -> None:
    """Import numba without SciPy, then the renderer (:mod:`synthgen.generate.images`:
    OpenCV, pydantic, the compiled core's dispatchers)."""
    import_numba_without_scipy()
    import synthgen.generate.images  # noqa: F401, PLC0415


#: Images a worker is given at a time.
CHUNK = 4


def worker_processes(workers: int, images: int) -> int:
    """How many of ``workers`` processes ``images`` images keep busy (a chunk each)."""
    return max(1, min(workers, -(-images // CHUNK)))


def start_workers(workers: int, images: int) -> Workers | None:
    """The processes a run with ``workers`` workers (``--workers``) that renders at most
    ``images`` images uses, started now so that they import the renderer while the
    caller prepares the run (forked where :func:`~synthgen.generate.workers.can_fork`:
    call it before the caller opens the output folder or imports NumPy): pass them to
    :func:`synthgen.generate.pipeline.generate` inside their ``with`` block. ``None``
    for one worker (the caller's process renders, or for no images: none are
    needed)."""
    if workers <= 1 or images <= 0:
        return None
    return Workers(worker_processes(workers, images), preload=preload_renderer, fork=True)
