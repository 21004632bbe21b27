"""Pseudo-labels: the benchmark's detector labels a folder of unlabelled real frames.

``synthgen real pseudo-label`` trains the detector of :mod:`synthgen.benchmark` on a
labelled real set (after a synthetic set, when one is given: exactly the benchmark's
``synthetic+real`` arm of that seed, the ``real`` arm otherwise) and writes what it finds
in the frames as a real set of synthgen's layout. What such a set is for: more distinct
real objects for ``generate --sprites`` than a small labelled set holds (every driving
team has far more unlabelled footage than labels).

Machine labels are not human labels, so the set keeps only what the detector is sure of
and marks what it doubts, never the other way round:

- a detection scoring at least ``min_score`` is a label (``score`` kept in its
  annotation);
- one scoring at least ``ignore_score`` but less is an ignore region (``iscrowd: 1``):
  something may be there, so ``--sprites`` cuts out no object it overlaps and a trainer
  neither rewards nor punishes it;
- anything scoring less is left out, as are boxes under ``min_height`` pixels (the
  benchmark's own ignore height: it never learnt to find them);
- a detection overlapping a better one of its class by IoU :data:`DUPLICATE_IOU` or more
  is left out too: the detector's peaks are suppressed only among neighbouring cells,
  and two boxes on one car would be a wrong label (and hide the car from ``--sprites``,
  which cuts out no object another box overlaps).

Every image entry says ``"source": "real"`` and ``"labels": "pseudo"``; the manifest
records the command, its inputs and thresholds. ``synthgen benchmark`` refuses such a set
as its ``--eval`` set (a detector scored against another detector's boxes measures
nothing).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthgen.benchmark import model as m
from synthgen.benchmark.data import (
    DEFAULT_IGNORE_SCORE,
    DEFAULT_MIN_HEIGHT,
    DEFAULT_MIN_SCORE,
    LabelledImage,
)
from synthgen.benchmark.train import (
    Scaled,
    Settings,
    finish,
    new_net,
    seeded_rng,
    synthetic_then_real,
    train,
)
from synthgen.datasets.realsets import (
    OWNED_OUTPUTS,
    CategoryMapper,
    ImportSummary,
    RealImage,
    RealObject,
    coco_synonym_table,
    image_size,
    to_coco,
)
from synthgen.errors import DatasetError
from synthgen.formats.boxes import Box
from synthgen.formats.manifest import MANIFEST_FILE, PSEUDO_LABEL, header, is_synthetic
from synthgen.storage.files import (
    ANNOTATIONS_FILE,
    IMAGES_DIR,
    new_output_dir,
    read_json,
    write_json_atomic,
)
from synthgen.storage.images import place_images

#: Image files a frames folder may hold.
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
#: A detection overlapping a better one of its class by this IoU is the same object.
DUPLICATE_IOU = 0.5


@dataclass(frozen=True)
class Thresholds:
    """Which detections become labels, which ignore regions (see the module docstring)."""

    min_score: float = DEFAULT_MIN_SCORE
    ignore_score: float = DEFAULT_IGNORE_SCORE
    min_height: float = DEFAULT_MIN_HEIGHT

    def __post_init__(self) -> None:
        if not 0 < self.ignore_score <= self.min_score <= 1:
            raise DatasetError(f"--ignore-score {self.ignore_score} and --min-score "
                               f"{self.min_score}: expected 0 < --ignore-score <= "
                               "--min-score <= 1")


def frame_files(folder: Path) -> list[Path]:
    """The frames to label: the ``.jpg``/``.jpeg``/``.png`` files directly in ``folder``,
    by name (hidden entries and subfolders are not read).

    Raises:
        DatasetError: ``folder`` is not a folder, cannot be listed, holds another kind of
            file or an entry that is not a regular file (a broken link, a FIFO), or holds
            no frame.
    """
    if not folder.exists():
        raise DatasetError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; expected a folder of frames")
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list ({exc.strerror or exc})") from exc
    files = []
    for entry in entries:
        if entry.name.startswith(".") or entry.is_dir():
            continue
        name = os.fsencode(entry.name).decode("utf-8", "replace")
        if not entry.is_file():  # a broken link, a link loop, a FIFO, a device
            raise DatasetError(f"{folder}: {name} is not a regular file")
        if entry.suffix.lower() not in FRAME_SUFFIXES:
            raise DatasetError(f"{folder}: {name} is not an image file (expected only "
                               f"{', '.join(FRAME_SUFFIXES)} files)")
        files.append(entry)
    if not files:
        raise DatasetError(f"{folder}: no {', '.join(FRAME_SUFFIXES)} files in the folder")
    _refuse_synthetic_frames(folder)
    return files


def _refuse_synthetic_frames(folder: Path) -> None:
    """Refuse the ``images/`` of a synthgen synthetic set: its frames would be written
    as real images.

    Raises:
        DatasetError: The manifest beside the folder says ``kind: synthetic``.
    """
    manifest_file = folder.parent / MANIFEST_FILE
    if folder.name != IMAGES_DIR or not manifest_file.is_file():
        return
    try:
        manifest = read_json(manifest_file)
    except (OSError, ValueError, RecursionError):
        return  # not a synthgen manifest we can read: nothing says the frames are synthetic
    if is_synthetic(manifest):
        raise DatasetError(f"{folder}: the images of a synthetic set ({manifest_file} says "
                           "kind: synthetic); expected unlabelled real frames")


def unlabelled(paths: Sequence[Path]) -> list[LabelledImage]:
    """The frames as images with no box, their sizes read from the headers.

    Raises:
        DatasetError: A file cannot be read as an image.
    """
    empty = np.zeros((0, 4), np.float32)
    return [LabelledImage(path, *image_size(path), boxes=empty,
                          classes=np.zeros(0, np.int64), crowd=np.zeros(0, bool),
                          image_id=number)
            for number, path in enumerate(paths, start=1)]


def train_labeller(seed: int, synthetic: Sequence[Scaled], real: Sequence[Scaled],
                   settings: Settings, *,
                   progress: Callable[[str, int], Any] | None = None
                   ) -> tuple[m.CenterNet, tuple[float, float, int] | None]:
    """The detector that labels: the benchmark's ``synthetic+real`` arm of ``seed`` when
    ``synthetic`` holds images (the same weights, step for step), else its ``real`` arm;
    with ``settings.calibrate_sizes``, its sizes calibrated on ``real`` as the
    benchmark's are. Returns it and the size bias removed (None: none).

    Args:
        progress: As for :func:`synthgen.benchmark.train.run_seed`.
    """
    torch.set_num_threads(settings.threads)

    def told(arm: str, n: int) -> Callable[[int, float], None] | None:
        return progress(arm, n) if progress else None

    if not synthetic:
        net = new_net(settings, seed)
        train(net, real, settings.steps, settings, seeded_rng(seed, 0),
              on_step=told("real", settings.steps))
    else:
        net = synthetic_then_real(seed, synthetic, real, settings, told=told)[0]
    return net, finish(net, real, settings)


def pseudo_objects(detections: np.ndarray, classes: Sequence[str],
                   thresholds: Thresholds) -> list[RealObject]:
    """One frame's detections (rows ``x0, y0, x1, y1, score, class`` in its pixels) as
    labels and ignore regions, best score first, duplicates left out (see the module
    docstring)."""
    objects: list[RealObject] = []
    kept: dict[int, list[Box]] = {}
    for row in sorted(detections.tolist(), key=lambda r: -r[4]):
        x0, y0, x1, y1, score, cls = row
        box = Box(x0, y0, x1, y1)
        if score < thresholds.ignore_score or box.height < thresholds.min_height or x1 <= x0:
            continue
        same_class = kept.setdefault(int(cls), [])
        if any(box.iou(other) >= DUPLICATE_IOU for other in same_class):
            continue
        same_class.append(box)
        objects.append(RealObject(name=classes[int(cls)], box=box,
                                  iscrowd=score < thresholds.min_score,
                                  extra={"score": round(float(score), 4)}))
    return objects


@dataclass
class PseudoSummary:
    """What a pseudo-labelled set holds, for the command's summary and the manifest."""

    images: int
    labels: dict[str, int]
    ignore_regions: int
    images_with_labels: int
    links: dict[str, int]


def write_pseudo_set(out: Path, frames: Sequence[LabelledImage],
                     detections: Sequence[np.ndarray], classes: Sequence[str],
                     thresholds: Thresholds, *, options: dict[str, Any],
                     trained_on: dict[str, Any], copy: bool = False,
                     overwrite: bool = False) -> PseudoSummary:
    """Write the labelled frames as a synthgen real set in ``out`` (``images/`` links or
    copies, ``annotations.json``, ``manifest.json``), atomically as ``real import`` does.

    Raises:
        OutputError: ``out`` cannot be used (not empty without ``overwrite``...).
    """
    images = []
    for frame, dets in zip(frames, detections, strict=True):
        images.append(RealImage(path=frame.path, file_name=frame.path.name,
                                width=frame.width, height=frame.height,
                                extra={"labels": "pseudo"},
                                objects=pseudo_objects(dets, classes, thresholds)))
    counts = ImportSummary()
    document = to_coco(images, CategoryMapper(coco_synonym_table()), counts)
    document["info"]["description"] = "real frames labelled by synthgen real pseudo-label"
    summary = PseudoSummary(
        images=len(images), labels={name: counts.per_class[name] for name in classes},
        ignore_regions=counts.ignore_regions,
        images_with_labels=sum(any(not o.iscrowd for o in image.objects) for image in images),
        links={})
    with new_output_dir(out, overwrite=overwrite, owned=OWNED_OUTPUTS):
        summary.links = place_images(((image.path, image.file_name) for image in images),
                                   out / IMAGES_DIR, copy=copy)
        write_json_atomic(out / ANNOTATIONS_FILE, document)
        write_json_atomic(out / MANIFEST_FILE, {
            **header(PSEUDO_LABEL),
            "options": options,
            "labels": "pseudo",
            "thresholds": {"min_score": thresholds.min_score,
                           "ignore_score": thresholds.ignore_score,
                           "min_height": thresholds.min_height},
            "trained_on": trained_on,
            "counts": {"images": summary.images, "labels": summary.labels,
                       "ignore_regions": summary.ignore_regions,
                       "images_with_labels": summary.images_with_labels,
                       "links": summary.links},
        })
    return summary
