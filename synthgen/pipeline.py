"""The pipeline: from a template to a dataset folder on disk, resumable and shardable.

For each image index ``i`` of a run: ``sampling.image_rng(seed, i)`` ->
``sampling.sample_scene`` -> ``render.render`` -> ``effects.apply_effects`` ->
``labels.compute_labels`` -> encoded image file + one per-image record. An image depends
on ``(template, seed, index, options)`` only, so output bytes are the same for any number
of workers, any sharding and any number of interruptions.

A run on disk, in the order things happen:

1. ``OUT/.partial/run.json``: the template, options, shard and synthgen version, written
   before any image. It is what ``--resume`` checks a resumed command against. While a
   process writes the folder it holds a lock on ``OUT/.partial/lock``; a second one is
   refused rather than appending to the same records.
2. ``OUT/images/NNNNNN.jpg``: written by worker processes, each under a temporary
   ``.tmp-*`` name and renamed when complete, in any order.
3. ``OUT/.partial/records.jsonl``: one line per image, appended and flushed in index
   order once the image is on disk. A line without its newline is torn and never used.
4. ``OUT/annotations.json``, streamed from the records, then ``OUT/manifest.json``; the
   manifest is written last and marks the folder complete. ``.partial`` is removed.

So a run stopped at any moment (Ctrl-C, SIGKILL, a lost node) leaves no complete-looking
file that is not: ``--resume`` keeps the records before the first missing or torn one
(and whose image is there), deletes stray temporary files, and renders the rest again.

A shard ``K/N`` is the contiguous index range ``[floor((K-1)*count/N),
floor(K*count/N))`` of the same run: same file names (global index), image ids
(``index + 1``) and per-image annotations as the unsharded run; only annotation ids are
renumbered from 1 within the shard's ``annotations.json``. Its manifest holds the full
run's options plus a ``shard`` entry; :mod:`synthgen.merge` puts shards back together.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import importlib.metadata
import json
import logging
import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from synthgen import __version__
from synthgen.appearance import Appearance, apply_appearance
from synthgen.categories import CATEGORY_NAMES
from synthgen.coco import annotation_record, image_record, info_record, write_coco
from synthgen.dataset import ANNOTATIONS_FILE, IMAGES_DIR, MANIFEST_FILE
from synthgen.effects import apply_effects
from synthgen.errors import OutputError
from synthgen.io import (
    TMP_PREFIX,
    UNFINISHED_DIR,
    encode_image,
    new_output_dir,
    to_json,
    write_bytes_atomic,
    write_json_atomic,
    writing_output_dir,
)
from synthgen.labels import LabelOptions, ObjectLabel, compute_labels
from synthgen.render import render
from synthgen.sampling import image_rng, sample_appearance, sample_scene, sample_sprites
from synthgen.scene import AppearanceParams, Scene
from synthgen.sprites import SpriteBank
from synthgen.templates import SceneTemplate

log = logging.getLogger(__name__)

PARTIAL_DIR = UNFINISHED_DIR
RECORDS_FILE = "records.jsonl"
RUN_FILE = "run.json"
#: Everything ``generate`` writes into its output folder (``--overwrite`` removes it in
#: a safe order: see :func:`synthgen.io.new_output_dir`).
OWNED = (MANIFEST_FILE, ANNOTATIONS_FILE, PARTIAL_DIR, IMAGES_DIR)
IMAGE_FORMATS = ("jpg", "png")
#: How many differences a refused ``--resume`` lists before summarising the rest.
MAX_LISTED_DIFFERENCES = 6


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

    def recorded(self) -> dict[str, Any]:
        """The options as written to the manifest (workers left out: they change nothing).

        ``look_like`` and ``sprites`` are there only when given, so runs without them
        record what they did before they existed.
        """
        record = asdict(dataclasses.replace(self, look_like=None, sprites=None))
        record.pop("workers")
        record.pop("look_like")
        record.pop("sprites")
        record["size"] = list(self.size)
        if self.look_like is not None:
            record["look_like"] = self.look_like.recorded()
        if self.sprites is not None:
            record["sprites"] = self.sprites.recorded()
        return record


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


@dataclass
class Sample:
    """One generated image with its layers and labels."""

    scene: Scene
    image: np.ndarray
    instance_map: np.ndarray
    depth: np.ndarray
    labels: list[ObjectLabel]
    appearance: AppearanceParams | None = None
    #: ``--sprites``: instance id -> the source (``file_name#k``, ``~`` appended when
    #: mirrored) of the cut-out pasted in its place.
    pasted: dict[int, str] | None = None

    def metadata(self) -> dict[str, Any]:
        """The scene's image record entries, with the appearance values and pasted
        cut-outs if any."""
        record = self.scene.metadata()
        if self.appearance is not None:
            record["appearance"] = self.appearance.metadata()
        if self.pasted is not None:
            record["sprites"] = {str(k): v for k, v in self.pasted.items()}
        return record


@dataclass
class Summary:
    """What a run produced.

    Attributes:
        images: Images in the folder (the shard's, for a shard).
        annotations: Boxes in its ``annotations.json``.
        per_class: Boxes per category name.
        seconds: Wall time of this call.
        rendered: Images rendered by this call (fewer than ``images`` when resumed).
        already_complete: ``--resume`` found the folder finished and changed nothing.
    """

    images: int
    annotations: int
    per_class: dict[str, int]
    seconds: float
    rendered: int = 0
    already_complete: bool = False

    @property
    def images_per_second(self) -> float:
        """Rate of the images rendered by this call."""
        return self.rendered / self.seconds if self.seconds > 0 else float("inf")


def render_sample(template: SceneTemplate, *, seed: int, index: int,
                  size: tuple[int, int] = (1280, 720),
                  label_options: LabelOptions | None = None,
                  appearance: Appearance | None = None,
                  sprites: SpriteBank | None = None) -> Sample:
    """Make image ``index`` of a run in memory: scene, final image, layers and labels.

    With ``appearance`` (``--look-like``) the final image is matched to that camera; with
    ``sprites`` (``--sprites``) real cut-outs are pasted in place of drawn objects. Their
    sampled values are drawn after the scene's (appearance first), so the scene does not
    change.
    """
    rng = image_rng(seed, index)
    scene = sample_scene(template, rng, seed=seed, index=index)
    params = sample_appearance(rng) if appearance is not None else None
    pastes, pasted = None, None
    if sprites is not None:
        picks = sample_sprites(sprites, scene, rng, size)
        pastes = {p.instance_id: (sprites.sprites[p.sprite], p) for p in picks}
        pasted = {p.instance_id: sprites.sprites[p.sprite].source + ("~" if p.mirrored else "")
                  for p in picks}
    layers = render(scene, *size, pastes)
    image = apply_effects(layers, scene)
    if appearance is not None:
        image = apply_appearance(image, appearance, params)
    labels = compute_labels(layers.instance_map, layers.objects, label_options)
    return Sample(scene=scene, image=image, instance_map=layers.instance_map,
                  depth=layers.depth, labels=labels, appearance=params, pasted=pasted)


def file_name(index: int, image_format: str) -> str:
    return f"{index:06d}.{image_format}"


def coco_info(template_name: str, seed: int) -> dict[str, Any]:
    """The ``info`` of a run's ``annotations.json`` (the same for each of its shards)."""
    return info_record(f"synthgen synthetic driving scenes ({template_name})",
                       scene=template_name, seed=seed)


def library_versions() -> dict[str, str]:
    """Versions of the libraries the output bytes depend on (drawing, encoding, masks).

    Recorded in the manifest and in ``run.json``: resuming or merging with another build
    of these could change bytes, so it is refused.
    """
    # The installed distribution's version, read without importing albumentations
    # (effects imports it only when an image has rain).
    return {"numpy": np.__version__, "opencv": cv2.__version__,
            "albumentations": importlib.metadata.version("albumentations"),
            "pycocotools": importlib.metadata.version("pycocotools")}


def run_identity(template: SceneTemplate, options: GenerateOptions,
                 shard: Shard | None = None) -> dict[str, Any]:
    """What makes a run's bytes: recorded in ``run.json`` and checked by ``--resume``."""
    return {"synthgen_version": __version__, "libraries": library_versions(),
            "template": template.model_dump(mode="json"), "options": options.recorded(),
            "shard": shard.recorded() if shard is not None else None}


def manifest_document(*, version: str, libraries: Mapping[str, str] | None,
                      template: Mapping[str, Any],
                      options: Mapping[str, Any], counts: Mapping[str, Any],
                      shard: Shard | None = None, shard_indices: range | None = None
                      ) -> dict[str, Any]:
    """``manifest.json``: enough to make every image of the folder again.

    Built from JSON-ready parts so that :mod:`synthgen.merge` writes the manifest of the
    merged shards with this same function, byte-identical to the unsharded run's.

    Args:
        version: The synthgen version that rendered the images.
        libraries: :func:`library_versions` of the machine that rendered them.
        template: The template as JSON (``SceneTemplate.model_dump(mode="json")``).
        options: :meth:`GenerateOptions.recorded` of the whole run.
        counts: ``images``, ``annotations`` and ``per_class`` of this folder.
        shard: The shard this folder holds; ``None`` for a whole run.
        shard_indices: The shard's index range (required with ``shard``).

    Returns:
        The manifest; a shard's has a ``shard`` entry, a whole run's has none.
    """
    document: dict[str, Any] = {
        "synthgen_version": version,
        "libraries": libraries,
        "kind": "synthetic",
        "template": template,
        "seed": options["seed"],
        "options": options,
    }
    if shard is not None:
        if shard_indices is None:
            raise ValueError("a shard's manifest needs its index range")
        document["shard"] = {**shard.recorded(),
                             "indices": [shard_indices.start, shard_indices.stop]}
    document["counts"] = counts
    return document


def manifest(template: SceneTemplate, options: GenerateOptions, summary: Summary,
             shard: Shard | None = None) -> dict[str, Any]:
    """``manifest.json`` of a folder ``generate`` made (see :func:`manifest_document`)."""
    return manifest_document(
        version=__version__, libraries=library_versions(),
        template=template.model_dump(mode="json"),
        options=options.recorded(), shard=shard,
        shard_indices=shard.indices(options.count) if shard is not None else None,
        counts={"images": summary.images, "annotations": summary.annotations,
                "per_class": summary.per_class})


# Per-process state of worker processes, set once by _init_worker.
_WORKER: dict[str, Any] = {}


#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_buffers() -> None:
    """Keep freed large buffers in the process for the next image (Linux, glibc).

    Every image allocates the same dozen full-frame arrays. By default glibc hands each
    one back to the kernel when it is freed (its own mapping, or a trimmed heap), and
    the next image pays a page fault on every 4 KiB page it writes again: about a
    thousand faults, a tenth of the time of a 1280x720 image. Raising the mmap and trim
    thresholds keeps them in the heap, reused; peak memory does not change. Elsewhere
    (no glibc) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 64 << 20)
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def _init_worker(template: SceneTemplate, options: GenerateOptions, images_dir: str,
                 parent_pid: int | None = None) -> None:
    # One OpenCV thread per worker: the workers already use every core.
    cv2.setNumThreads(1)
    _keep_freed_buffers()
    _WORKER.update(template=template, options=options, images_dir=images_dir,
                   parent_pid=parent_pid)


def _init_pool_worker(template: SceneTemplate, options: GenerateOptions,
                      images_dir: str, parent_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it (and
    # terminates the pool), so workers do not each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(template, options, images_dir, parent_pid)


def _make_image(index: int) -> dict[str, Any]:
    """Render, encode and write image ``index``; return its record."""
    parent_pid = _WORKER["parent_pid"]
    if parent_pid is not None and os.getppid() != parent_pid:
        # The parent was killed: tasks still queued in the pipe would otherwise keep an
        # orphaned worker rendering images nobody records.
        os._exit(1)
    template, options = _WORKER["template"], _WORKER["options"]
    sample = render_sample(template, seed=options.seed, index=index, size=options.size,
                           label_options=options.labels, appearance=options.look_like,
                           sprites=options.sprites)
    name = file_name(index, options.image_format)
    write_bytes_atomic(Path(_WORKER["images_dir"]) / name,
                       encode_image(sample.image, options.image_format, options.jpeg_quality))
    record = image_record(index, name, options.size[0], options.size[1], sample.metadata())
    record["annotations"] = [annotation_record(label) for label in sample.labels]
    return record


def _records(indices: Sequence[int], template: SceneTemplate, options: GenerateOptions,
             images_dir: Path) -> Iterator[dict[str, Any]]:
    """Image records in index order, made by ``options.workers`` processes."""
    if not indices:
        return
    if options.workers <= 1:
        _init_worker(template, options, str(images_dir))
        yield from map(_make_image, indices)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(options.workers, len(indices)), initializer=_init_pool_worker,
                      initargs=(template, options, str(images_dir), os.getpid())) as pool:
        yield from pool.imap(_make_image, indices, chunksize=4)


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Per-image records from a JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


class _Start(Enum):
    EMPTY = "empty"
    FRESH = "fresh"
    PARTIAL = "partial"
    COMPLETE = "complete"


def differences(recorded: Any, given: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``"dotted.path: recorded X, given Y"`` lines."""
    if isinstance(recorded, dict) and isinstance(given, dict):
        found = []
        for key in [*recorded, *(k for k in given if k not in recorded)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in recorded:
                found.append(f"{where}: not recorded, given {given[key]!r}")
            elif key not in given:
                found.append(f"{where}: recorded {recorded[key]!r}, not given")
            else:
                found.extend(differences(recorded[key], given[key], where))
        return found
    if recorded != given:
        return [f"{path or 'value'}: recorded {recorded!r}, given {given!r}"]
    return []


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputError(f"{path}: cannot read ({exc})") from exc


def _refuse_different(out: Path, what: str, recorded: Mapping[str, Any],
                      given: Mapping[str, Any]) -> None:
    found = differences(dict(recorded), dict(given))
    if not found:
        return
    listed = found[:MAX_LISTED_DIFFERENCES]
    if len(found) > len(listed):
        listed.append(f"... and {len(found) - len(listed)} more")
    raise OutputError(
        f"--resume: {out} holds {what} made with a different template, options, shard or "
        f"synthgen version, so finishing it would not give the dataset you asked for:\n  "
        + "\n  ".join(listed)
        + "\nRepeat the exact command it was started with (only --workers may change), or "
        "drop --resume and pass --overwrite to start afresh."
    )


def _resume_start(out: Path, identity: Mapping[str, Any]) -> _Start:
    """What ``--resume`` finds in ``out``; refuses a run other than ``identity``."""
    if not out.exists():
        return _Start.EMPTY
    if not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    if not any(out.iterdir()):  # made by the job script (mkdir -p) or a mounted volume
        return _Start.EMPTY
    manifest_path = out / MANIFEST_FILE
    if manifest_path.is_file():
        document = _read_json(manifest_path)
        if not isinstance(document, dict):
            document = {}
        shard = document.get("shard")
        recorded = {
            "synthgen_version": document.get("synthgen_version"),
            "libraries": document.get("libraries"),
            "template": document.get("template"), "options": document.get("options"),
            "shard": {"index": shard.get("index"), "count": shard.get("count")}
            if isinstance(shard, dict) else None,
        }
        _refuse_different(out, "a finished dataset", recorded, identity)
        return _Start.COMPLETE
    if (out / PARTIAL_DIR / RUN_FILE).is_file():
        _refuse_different(out, "an interrupted run",
                          _read_json(out / PARTIAL_DIR / RUN_FILE), identity)
        return _Start.PARTIAL
    # Stopped before run.json was in place: nothing of this run was rendered. Beside
    # .partial there is nothing, or what an --overwrite stopped halfway had still to
    # delete (it marks the folder first): starting afresh removes it.
    if (out / PARTIAL_DIR).is_dir() and all(entry.name in OWNED for entry in out.iterdir()):
        return _Start.FRESH
    raise OutputError(
        f"--resume: {out} is not empty but holds no interrupted synthgen run "
        f"({PARTIAL_DIR}/{RUN_FILE} is missing) and no finished one ({MANIFEST_FILE}); "
        "choose an empty --out, or drop --resume and pass --overwrite to start afresh"
    )


def _still_unstarted(out: Path, identity: Mapping[str, Any]) -> None:
    """Refuse ``out`` if, since ``--resume`` looked, another command wrote a run there.

    Called under the folder's lock, which that command has let go of by now.
    """
    if _resume_start(out, identity) not in (_Start.EMPTY, _Start.FRESH):
        raise OutputError(f"--out {out}: another command wrote a run here while this "
                          "--resume was starting; run the same command again to finish "
                          "or check it")


def _remove_temporaries(*folders: Path) -> None:
    for folder in folders:
        for stray in folder.glob(f"{TMP_PREFIX}*"):
            if stray.is_file() or stray.is_symlink():
                stray.unlink(missing_ok=True)


@dataclass
class _Progress:
    """Records already on disk: how many, and their box counts."""

    done: int = 0
    annotations: int = 0
    per_class: Counter[str] = field(default_factory=Counter)

    def add(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        self.annotations += len(record["annotations"])
        for annotation in record["annotations"]:
            self.per_class[CATEGORY_NAMES[annotation["category_id"] - 1]] += 1


def _recover(out: Path, indices: range, image_format: str) -> _Progress:
    """Keep the valid prefix of ``records.jsonl``; truncate the file to it.

    A record is kept while it parses, ends with its newline, has the next expected index
    and its image file is present; everything from the first record that fails any of
    these is dropped and rendered again.
    """
    images_dir = out / IMAGES_DIR
    _remove_temporaries(out, out / PARTIAL_DIR, images_dir)
    # Only a finished list of records produces annotations.json; it is written again.
    (out / ANNOTATIONS_FILE).unlink(missing_ok=True)
    progress = _Progress()
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
            except ValueError:
                break
            index = indices[progress.done]
            name = file_name(index, image_format)
            if (not isinstance(record, dict) or record.get("index") != index
                    or record.get("file_name") != name or not (images_dir / name).is_file()):
                break
            progress.add(record)
            valid_bytes += len(line)
    os.truncate(records_path, valid_bytes)
    return progress


def generate(template: SceneTemplate, out: str | os.PathLike[str], options: GenerateOptions,
             *, shard: Shard | None = None, overwrite: bool = False, resume: bool = False,
             progress: bool = True) -> Summary:
    """Generate a dataset folder, or one shard of it; optionally finish an interrupted one.

    Args:
        template: The validated scene template.
        out: Output folder; refused if it exists and is not empty, unless ``overwrite``
            or ``resume``.
        options: Count (of the whole run), seed, size, format, label thresholds, workers.
        shard: Make only this part of the run (see the module docstring).
        overwrite: Replace what an earlier run wrote in ``out``.
        resume: Finish the run interrupted in ``out``. It must have been started with the
            same template, options, shard and synthgen version (workers may differ). A
            finished folder of that run is left as it is (``already_complete``); a
            missing or empty one is started afresh.
        progress: Show a tqdm progress bar on stderr.

    Returns:
        Counts and timing of the run.

    Raises:
        OutputError: ``out`` cannot be used; ``resume`` with ``overwrite``; ``resume``
            where another run, or no run, was started; another process is writing
            ``out``.
    """
    if resume and overwrite:
        raise OutputError("--resume and --overwrite cannot be combined: --resume finishes "
                          "what an interrupted run wrote, --overwrite deletes it")
    if shard is not None and shard.count > options.count:
        raise OutputError(f"--shard {shard}: more shards than images ({options.count})")
    started = time.perf_counter()
    identity = run_identity(template, options, shard)
    indices = shard.indices(options.count) if shard is not None else range(options.count)
    out = Path(out)
    start = _resume_start(out, identity) if resume else _Start.FRESH
    if start is _Start.COMPLETE:
        return _finished_summary(out, started)
    with contextlib.ExitStack() as stack:
        if start is not _Start.PARTIAL:
            # With --resume, the folder is looked at again once locked: another command
            # may have started or finished a run there since. Only the .partial of a run
            # stopped before its first file is removed unasked.
            stack.enter_context(new_output_dir(
                out, overwrite=overwrite or (resume and start is _Start.FRESH), owned=OWNED,
                check_again=(lambda: _still_unstarted(out, identity)) if resume else None))
            # Recorded before anything else is written (see the module docstring).
            write_json_atomic(out / PARTIAL_DIR / RUN_FILE, identity)
        else:
            stack.enter_context(writing_output_dir(out))
            # Looked at again under the lock: the run may have been finished, removed or
            # replaced by another one since (a different run is refused in its words).
            if _resume_start(out, identity) is not _Start.PARTIAL:
                raise OutputError(f"--out {out}: another process finished or removed this "
                                  "run while --resume was starting; run the command again")
        # The folder is finished (its .partial removed) as the stack closes.
        return _run(template, out, options, shard, indices, progress, started)


def _run(template: SceneTemplate, out: Path, options: GenerateOptions, shard: Shard | None,
         indices: range, progress: bool, started: float) -> Summary:
    """Recover what ``out`` holds, render the rest and finish the folder."""
    (out / IMAGES_DIR).mkdir(exist_ok=True)
    done = _recover(out, indices, options.image_format)
    records_path = out / PARTIAL_DIR / RECORDS_FILE
    todo = indices[done.done:]
    log.info("%s: %d of %d images already written, %d to render with %d worker(s)", out,
             done.done, len(indices), len(todo), max(1, min(options.workers, len(todo))))
    with open(records_path, "a", encoding="utf-8") as records, \
            tqdm(total=len(indices), initial=done.done, unit="img", disable=not progress,
                 desc=f"generate {template.name}" + (f" {shard}" if shard else "")) as bar:
        for record in _records(todo, template, options, out / IMAGES_DIR):
            records.write(to_json(record) + "\n")
            # Flushed per image so that an interruption loses at most the images in
            # flight; an fsync would only matter for power loss, which this is not for.
            records.flush()
            done.add(record)
            bar.update(1)
    write_coco(out / ANNOTATIONS_FILE, coco_info(template.name, options.seed),
               lambda: read_records(records_path))
    summary = Summary(images=len(indices), annotations=done.annotations,
                      per_class={name: done.per_class[name] for name in CATEGORY_NAMES},
                      seconds=time.perf_counter() - started, rendered=len(todo))
    write_json_atomic(out / MANIFEST_FILE, manifest(template, options, summary, shard))
    return summary


def _finished_summary(out: Path, started: float) -> Summary:
    """The summary of a finished folder, from its manifest; leftovers of its cleanup go."""
    # A run stopped between writing its manifest and removing .partial is finished.
    if (out / PARTIAL_DIR).is_dir():
        with writing_output_dir(out):
            pass
    counts = _read_json(out / MANIFEST_FILE)["counts"]
    return Summary(images=counts["images"], annotations=counts["annotations"],
                   per_class=dict(counts["per_class"]),
                   seconds=time.perf_counter() - started, rendered=0, already_complete=True)
