"""The pipeline: from a template to a dataset folder on disk, resumable and shardable.

Each image index ``i`` is made by :func:`synthgen.generate.images.make_image`: sampled,
rendered, labelled, encoded and written, in worker processes (in this process with one
worker). An image depends on
``(template, seed, index, options)`` only, so output bytes are the same for any number
of workers, any sharding and any number of interruptions.

This module holds what decides a run's bytes (:class:`GenerateOptions`) and a run's
life in its folder: started, resumed (``--resume``),
repaired, grown (``--extend``) and finished (:func:`generate`); what ``--resume`` and
``--extend`` find in a folder and how they take it up again is
:mod:`synthgen.generate.runstate`. What the folder holds
(its files' names, :func:`~synthgen.generate.folder.manifest_document`, the image
digests of ``images.sha256``, :class:`~synthgen.generate.folder.Shard`) is
:mod:`synthgen.generate.folder`, which ``merge`` shares. Neither module loads the
renderer (:mod:`synthgen.generate.images` does, in the workers, or in this process
with one worker);
``run.json``'s name is :data:`synthgen.formats.manifest.RUN_FILE`.

A run on disk, in the order things happen:

1. ``OUT/.partial/run.json``: the template, options, shard and synthgen version, written
   before any image. It is what ``--resume`` checks a resumed command against. While a
   process writes the folder it holds a lock on ``OUT/.partial/lock``; a second one is
   refused rather than appending to the same records.
2. ``OUT/images/NNNNNN.jpg``: written by worker processes, each under a temporary
   ``.tmp-*`` name and renamed when complete, in any order.
3. ``OUT/.partial/records.jsonl``: one line per image, appended and flushed in index
   order once the image is on disk. A line without its newline is torn and never used.
4. ``OUT/annotations.json``, streamed from the records, then ``OUT/images.sha256`` (the
   SHA-256 of each image file, hashed by the worker from the bytes it wrote, one
   ``sha256sum`` line per image in index order), then ``OUT/manifest.json``; the manifest
   is written last and marks the folder complete. ``.partial`` is removed.

Versions and lineage: the manifest records ``digests``, the SHA-256 of
``annotations.json`` and of ``images.sha256`` (so it pins every byte of the folder), and
``inputs``, the SHA-256 of the template file and of each file it extends
(``--look-like`` and ``--sprites`` are digested in ``options``). Neither is part of what
``--resume`` compares: a template file whose comments changed makes the same images.

So a run stopped at any moment (Ctrl-C, SIGKILL, a lost node) leaves no complete-looking
file that is not: ``--resume`` keeps the records before the first missing or torn one
(and whose image is sound: there, not empty, of the SHA-256 recorded when it was
written), deletes stray temporary files, and renders the rest again. A finished folder
given to ``--resume`` has its images checked against ``images.sha256`` the same way; one
that fails is reopened as an interrupted run (as ``--extend`` reopens one) and mended.
SIGTERM stops a run as Ctrl-C does (:func:`synthgen.cli.sigterm_interrupts`); an
operating-system error (a full disk) becomes one :class:`~synthgen.errors.OutputError`
naming the file, and leaves the run resumable.

A shard ``K/N`` is the contiguous index range ``[floor((K-1)*count/N),
floor(K*count/N))`` of the same run: same file names (global index), image ids
(``index + 1``) and per-image annotations as the unsharded run; only annotation ids are
renumbered from 1 within the shard's ``annotations.json``. Its manifest holds the full
run's options plus a ``shard`` entry; :mod:`synthgen.generate.merge` puts shards back together.

``--extend N`` grows the finished folder of a run of ``count`` images into the folder of
the same run with ``count + N`` images, which it then is byte for byte (image ``i``
depends on ``(template, seed, i, options)`` only, never on ``count``). It turns the
finished folder into an interrupted run of the larger count, manifest removed last:
``.partial/run.json`` of the larger run, ``.partial/records.jsonl`` holding the records
of the images already there (read back from ``annotations.json``, their digests from
``images.sha256``: no image is read again), then the manifest goes and the run goes on as
``--resume`` does. Stopped before the manifest is removed, the folder is still the
finished smaller run; after, it is an interrupted run of the larger one, which
``--resume`` finishes. No image already there is ever deleted. A shard cannot grow (its
index range depends on ``count``): extend the merged folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm

from synthgen import __version__
from synthgen.categories import CATEGORY_NAMES
from synthgen.errors import OutputError, SynthgenError
from synthgen.formats.coco import info_record, write_coco
from synthgen.formats.dataset import ANNOTATIONS_FILE, IMAGES_DIR
from synthgen.formats.manifest import MANIFEST_FILE, RUN_FILE, VERSION
from synthgen.generate import runstate
from synthgen.generate.folder import (
    DIGESTS_FILE,
    IMAGE_FORMATS,  # noqa: F401 - still importable from here, where it was defined
    OWNED,
    PARTIAL_DIR,
    RECORDS_FILE,
    Shard,
    cannot_write,
    file_sha256,
    manifest_counts,
    manifest_document,
    write_digest_list,
    writing,
)
from synthgen.generate.worker_start import CHUNK, preload_renderer, worker_processes
from synthgen.generate.workers import WorkerDied, Workers
from synthgen.label_options import LabelOptions
from synthgen.scene.templates import SceneTemplate, load_raw, resolve_template_path
from synthgen.storage.files import (
    new_output_dir,
    to_json,
    write_json_atomic,
    writing_output_dir,
)

if TYPE_CHECKING:
    from synthgen.render.appearance import Appearance
    from synthgen.render.backgrounds import BackgroundBank
    from synthgen.render.sprites import SpriteBank

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class GenerateOptions:
    """Everything besides the template that decides a dataset's bytes (and the workers)."""

    count: int
    seed: int = 0
    size: tuple[int, int] = (1280, 720)
    image_format: str = "jpg"
    jpeg_quality: int = 90
    labels: LabelOptions = field(default_factory=LabelOptions)
    workers: int = 1
    #: ``--look-like``: the target camera's profile fitted to the template, or None.
    look_like: Appearance | None = None
    #: ``--sprites``: the real cut-outs pasted in place of drawn objects, or None.
    sprites: SpriteBank | None = None
    #: ``--backgrounds``: the real photos images are drawn over, or None.
    backgrounds: BackgroundBank | None = None

    def recorded(self) -> dict[str, Any]:
        """The options as written to the manifest (workers left out: they change nothing).

        ``look_like``, ``sprites`` and ``backgrounds`` are there only when given, so runs
        without them record what they did before they existed.
        """
        record = asdict(dataclasses.replace(self, look_like=None, sprites=None,
                                            backgrounds=None))
        record.pop("workers")
        record.pop("look_like")
        record.pop("sprites")
        record.pop("backgrounds")
        record["size"] = list(self.size)
        if self.look_like is not None:
            record["look_like"] = self.look_like.recorded()
        if self.sprites is not None:
            record["sprites"] = self.sprites.recorded()
        if self.backgrounds is not None:
            record["backgrounds"] = self.backgrounds.recorded()
        return record


@dataclass
class Summary:
    """What a run produced.

    Attributes:
        images: Images in the folder (the shard's, for a shard).
        annotations: Annotations in its ``annotations.json``: boxes and ignore regions.
        per_class: Boxes per category name (ignore regions, ``iscrowd: 1``, left out).
        photo_boxes: Of those boxes, the ones a background photo's labels gave
            (``--background-labels boxes``).
        seconds: Wall time of this call.
        rendered: Images rendered by this call (fewer than ``images`` when resumed).
        already_complete: ``--resume`` found the folder finished and changed nothing.
        extended_from: ``--extend``: the images the finished folder held before.
    """

    images: int
    annotations: int
    per_class: dict[str, int]
    seconds: float
    rendered: int = 0
    already_complete: bool = False
    extended_from: int | None = None
    photo_boxes: int = 0

    def counts(self) -> dict[str, Any]:
        """The manifest's ``counts`` (:func:`~synthgen.generate.folder.manifest_counts`)."""
        return manifest_counts(images=self.images, annotations=self.annotations,
                               per_class=self.per_class, photo_boxes=self.photo_boxes)

    @property
    def images_per_second(self) -> float:
        """Rate of the images rendered by this call."""
        return self.rendered / self.seconds if self.seconds > 0 else float("inf")


def template_inputs(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the manifest's ``inputs`` records of a template: the SHA-256 of its file's
    bytes and of each file it ``extends`` (by file name, nearest first).

    Call it with what :func:`synthgen.scene.templates.load_template` was given, after it.
    """
    path = resolve_template_path(name_or_path)
    parents: list[Path] = []
    load_raw(path, files=parents)
    record: dict[str, Any] = {"sha256": file_sha256(path)}
    if parents:
        record["extends"] = [{"file": parent.name, "sha256": file_sha256(parent)}
                             for parent in parents]
    return {"template": record}


def coco_info(template_name: str, seed: int) -> dict[str, Any]:
    """The ``info`` of a run's ``annotations.json`` (the same for each of its shards)."""
    return info_record(f"synthgen synthetic driving scenes ({template_name})",
                       scene=template_name, seed=seed)


def library_versions() -> dict[str, str]:
    """Versions of the libraries the output bytes depend on (drawing, encoding, masks).

    Recorded in the manifest and in ``run.json``: resuming or merging with another build
    of these could change bytes, so it is refused.
    """
    return {"numpy": np.__version__, "opencv": cv2.__version__,
            "pycocotools": importlib.metadata.version("pycocotools"),
            # The rasterizer's machine code (render/zbuffer.py) is numba's (and LLVM's).
            "numba": importlib.metadata.version("numba")}


def run_identity(template: SceneTemplate, options: GenerateOptions,
                 shard: Shard | None = None) -> dict[str, Any]:
    """What makes a run's bytes: recorded in ``run.json`` and checked by ``--resume``."""
    return {VERSION: __version__, "libraries": library_versions(),
            "template": template.model_dump(mode="json"), "options": options.recorded(),
            "shard": shard.recorded() if shard is not None else None}


def manifest(template: SceneTemplate, options: GenerateOptions, summary: Summary,
             shard: Shard | None = None, *, inputs: Mapping[str, Any] | None = None,
             digests: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``manifest.json`` of a folder ``generate`` made (see :func:`manifest_document`)."""
    return manifest_document(
        version=__version__, libraries=library_versions(),
        template=template.model_dump(mode="json"),
        options=options.recorded(), shard=shard,
        shard_indices=shard.indices(options.count) if shard is not None else None,
        counts=summary.counts(), inputs=inputs, digests=digests)


def _init_worker(template: SceneTemplate, options: GenerateOptions, images_dir: str,
                 parent_pid: int | None = None) -> None:
    """:func:`synthgen.generate.images.init_worker`, whose module (the renderer) only the
    process that renders imports (a worker process has imported it already:
    :func:`~synthgen.generate.worker_start.preload_renderer`)."""
    from synthgen.generate import images

    images.init_worker(template, options, images_dir, parent_pid)


def _make_image(index: int) -> dict[str, Any]:
    """:func:`synthgen.generate.images.make_image`, as :func:`_init_worker`."""
    from synthgen.generate import images

    return images.make_image(index)


def _records(indices: Sequence[int], template: SceneTemplate, options: GenerateOptions,
             images_dir: Path, workers: Workers | None) -> Iterator[dict[str, Any]]:
    """Image records in index order, made by ``options.workers`` processes (``workers``,
    if started already)."""
    if not indices:
        return
    if options.workers <= 1:
        _init_worker(template, options, str(images_dir))
        yield from map(_make_image, indices)
        return
    if workers is None:
        workers = Workers(worker_processes(options.workers, len(indices)),
                          preload=preload_renderer)
    with workers:
        yield from workers.map(_make_image, indices, initializer=_init_worker,
                               initargs=(template, options, str(images_dir), os.getpid()),
                               chunksize=CHUNK)


def generate(template: SceneTemplate, out: str | os.PathLike[str], options: GenerateOptions,
             *, shard: Shard | None = None, overwrite: bool = False, resume: bool = False,
             extend: int = 0, inputs: Mapping[str, Any] | None = None,
             progress: bool = True, workers: Workers | None = None) -> Summary:
    """Generate a dataset folder, or one shard of it; optionally finish an interrupted one
    or grow a finished one.

    Args:
        template: The validated scene template.
        out: Output folder; refused if it exists and is not empty, unless ``overwrite``
            or ``resume``.
        options: Count (of the whole run), seed, size, format, label thresholds, workers.
            With ``extend``, ``count`` is the number of images the finished run in
            ``out`` holds.
        shard: Make only this part of the run (see the module docstring).
        overwrite: Replace what an earlier run wrote in ``out``.
        resume: Finish the run interrupted in ``out``. It must have been started with the
            same template, options, shard and synthgen version (workers may differ). A
            finished folder of that run is left as it is (``already_complete``); a
            missing or empty one is started afresh.
        extend: Grow the finished run of ``options`` in ``out`` by this many images into
            the run of ``options.count + extend`` images (byte for byte that run's
            folder). With ``resume``, finish such an extend that was interrupted, or
            report it done.
        inputs: Digests of the input files, recorded in the manifest
            (:func:`template_inputs`).
        progress: Show a tqdm progress bar on stderr.
        workers: The worker processes to render with, started ahead by
            :func:`~synthgen.generate.worker_start.start_workers` for
            ``options.workers``; they are stopped once the
            rendering ends, and the caller stops them if nothing was rendered (they are
            a context manager). Without them, with more than one worker, the processes
            are started when the rendering starts.

    Returns:
        Counts and timing of the run.

    Raises:
        OutputError: ``out`` cannot be used; ``resume`` with ``overwrite``; ``resume``
            where another run, or no run, was started; ``extend`` of a folder that holds
            no finished run of these options, or with ``overwrite`` or ``shard``;
            another process is writing ``out``.
        DatasetError: ``extend`` of a folder whose files do not agree with its manifest.
    """
    if resume and overwrite:
        raise OutputError("--resume and --overwrite cannot be combined: --resume finishes "
                          "what an interrupted run wrote, --overwrite deletes it")
    if extend:
        if overwrite:
            raise OutputError("--extend and --overwrite cannot be combined: --extend adds "
                              "images to the dataset in OUT, --overwrite deletes it")
        if shard is not None:
            raise OutputError("--extend and --shard cannot be combined: a shard's images "
                              "depend on --count, so a larger run's shards are not the old "
                              "ones grown; merge the shards (`synthgen merge`), then extend "
                              "the merged folder")
    if shard is not None and shard.count > options.count:
        raise OutputError(f"--shard {shard}: more shards than images ({options.count})")
    for name, value in asdict(options.labels).items():
        # NaN passes every bound check, and the run would stop at run.json.
        if isinstance(value, float) and not math.isfinite(value):
            raise SynthgenError(f"--{name.replace('_', '-')}: expected a finite number, "
                                f"got {value}")
    started = time.perf_counter()
    base = run_identity(template, options)
    if extend:
        options = dataclasses.replace(options, count=options.count + extend)
    identity = run_identity(template, options, shard)
    indices = shard.indices(options.count) if shard is not None else range(options.count)
    out = Path(out)

    def look() -> runstate.Start:
        if extend:
            return runstate.extend_start(out, base, identity, resume=resume)
        return runstate.resume_start(out, identity) if resume else runstate.Start.FRESH

    try:
        start = look()
        repair = None
        if start is runstate.Start.COMPLETE:
            repair = runstate.first_unsound_image(out, indices, options.image_format)
            if repair is None:
                return _finished_summary(out, started)
            log.warning("%s: %s/%s is not the image that was written (missing, empty, cut "
                        "short or changed); rendering it and the images after it again",
                        out, IMAGES_DIR, repair)
        return _generate(template, out, options, shard=shard, overwrite=overwrite,
                         resume=resume, start=start, look=look, repair=repair,
                         identity=identity, indices=indices, inputs=inputs,
                         progress=progress, started=started, workers=workers)
    except OSError as exc:
        raise cannot_write(exc, out, "run the same command with --resume (what was written "
                                     f"is kept in {out})") from exc


def _generate(template: SceneTemplate, out: Path, options: GenerateOptions, *,
              shard: Shard | None, overwrite: bool, resume: bool, start: runstate.Start,
              look: Callable[[], runstate.Start], repair: str | None,
              identity: Mapping[str, Any], indices: range, inputs: Mapping[str, Any] | None,
              progress: bool, started: float, workers: Workers | None) -> Summary:
    """:func:`generate` once it knows what ``out`` holds (``start``, looked at again with
    ``look`` under the lock); ``repair`` names the first unsound image of a finished
    folder, which is reopened to make it again."""
    extended_from = None
    with contextlib.ExitStack() as stack:
        if start is runstate.Start.EXTEND or repair is not None:
            try:
                (out / PARTIAL_DIR).mkdir(exist_ok=True)
            except OSError as exc:
                raise OutputError(f"--out {out}: cannot write in it "
                                  f"({exc.strerror or exc})") from exc
            stack.enter_context(writing_output_dir(out))
            # Looked at again under the lock: another command may have changed it since.
            if look() is not start:
                flag = "--extend" if start is runstate.Start.EXTEND else "--resume"
                raise OutputError(f"--out {out}: another process changed this folder while "
                                  f"{flag} was starting; run the command again")
            if start is runstate.Start.EXTEND:
                extended_from = runstate.reopen(out, identity, options.image_format)
            else:
                runstate.reopen(out, identity, options.image_format, indices, repair=True)
        elif start is not runstate.Start.PARTIAL:
            # With --resume, the folder is looked at again once locked: another command
            # may have started or finished a run there since. Only the .partial of a run
            # stopped before its first file is removed unasked.
            stack.enter_context(new_output_dir(
                out, overwrite=overwrite or (resume and start is runstate.Start.FRESH), owned=OWNED,
                check_again=(lambda: runstate.still_unstarted(out, identity)) if resume else None))
            # Recorded before anything else is written (see the module docstring).
            with writing(out / PARTIAL_DIR / RUN_FILE) as path:
                write_json_atomic(path, identity)
        else:
            stack.enter_context(writing_output_dir(out))
            # Looked at again under the lock: the run may have been finished, removed or
            # replaced by another one since (a different run is refused in its words).
            if look() is not runstate.Start.PARTIAL:
                raise OutputError(f"--out {out}: another process finished or removed this "
                                  "run while --resume was starting; run the command again")
        # The folder is finished (its .partial removed) as the stack closes.
        summary = _run(template, out, options, shard, indices, progress, started, inputs,
                       workers)
    summary.extended_from = extended_from
    return summary


def _run(template: SceneTemplate, out: Path, options: GenerateOptions, shard: Shard | None,
         indices: range, progress: bool, started: float,
         inputs: Mapping[str, Any] | None, workers: Workers | None) -> Summary:
    """Recover what ``out`` holds, render the rest and finish the folder."""
    (out / IMAGES_DIR).mkdir(exist_ok=True)
    done = runstate.recover(out, indices, options.image_format)
    records_path = out / PARTIAL_DIR / RECORDS_FILE
    todo = indices[done.done:]
    processes = worker_processes(options.workers, len(todo)) if options.workers > 1 else 1
    if workers is not None:
        processes = min(processes, len(workers))
    log.info("%s: %d of %d images already written, %d to render with %d worker(s)", out,
             done.done, len(indices), len(todo), processes)
    with open(records_path, "a", encoding="utf-8") as records, \
            tqdm(total=len(indices), initial=done.done, unit="img", disable=not progress,
                 desc=f"generate {template.name}" + (f" {shard}" if shard else "")) as bar:
        try:
            for record in _records(todo, template, options, out / IMAGES_DIR, workers):
                with writing(records_path):
                    records.write(to_json(record) + "\n")
                    # Flushed per image so that an interruption loses at most the images
                    # in flight; an fsync would only matter for power loss, which this is
                    # not for.
                    records.flush()
                done.add(record)
                bar.update(1)
        except WorkerDied as exc:
            raise SynthgenError(f"--out {out}: {exc}; the images written before it are kept "
                                f"({done.done} of {len(indices)}): finish the run with the "
                                "same command and --resume") from exc
    summary = Summary(images=len(indices), annotations=done.annotations,
                      per_class={name: done.per_class[name] for name in CATEGORY_NAMES},
                      seconds=0.0, rendered=len(todo), photo_boxes=done.photo_boxes)
    try:
        with writing(out / ANNOTATIONS_FILE) as path:
            write_coco(path, coco_info(template.name, options.seed),
                       lambda: runstate.coco_records(records_path))
        # annotations.json is read back once (from the page cache) to hash it; the
        # images were hashed as they were written.
        with writing(out / DIGESTS_FILE) as path:
            digests = {ANNOTATIONS_FILE: file_sha256(out / ANNOTATIONS_FILE),
                       DIGESTS_FILE: write_digest_list(
                           path, runstate.digest_lines(records_path, out / IMAGES_DIR))}
        summary.seconds = time.perf_counter() - started
        with writing(out / MANIFEST_FILE) as path:
            write_json_atomic(path, manifest(template, options, summary, shard,
                                             inputs=inputs, digests=digests))
    except BaseException:
        # Only a manifest makes the folder finished, but the lists beside it should not
        # look finished either; --resume writes them again from the records.
        for name in (ANNOTATIONS_FILE, DIGESTS_FILE):
            with contextlib.suppress(OSError):
                (out / name).unlink(missing_ok=True)
        raise
    return summary


def _finished_summary(out: Path, started: float) -> Summary:
    """The summary of a finished folder, from its manifest; leftovers of its cleanup go."""
    # A run stopped between writing its manifest and removing .partial is finished.
    if (out / PARTIAL_DIR).is_dir():
        with writing_output_dir(out):
            pass
    counts = runstate.finished_manifest(out)["counts"]
    return Summary(images=counts["images"], annotations=counts["annotations"],
                   per_class=dict(counts["per_class"]),
                   photo_boxes=counts.get("photo_boxes", 0),
                   seconds=time.perf_counter() - started, rendered=0, already_complete=True)
