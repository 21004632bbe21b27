"""Exporting datasets to trainers that do not read COCO: YOLO (Ultralytics) and KITTI.

``synthgen export SRC --format yolo|kitti --out DIR`` reads what every other command
reads (a ``synthgen generate`` or ``real import`` folder, any COCO file, or a whole
``synthgen mix`` output with its five splits) and writes one folder a trainer loads as it
is. The pipeline, in one place:

1. **read** each split with :func:`synthgen.formats.dataset.load_dataset` and check it with
   :func:`synthgen.formats.validate.validate_document`, image files included: a dataset
   ``synthgen validate`` finds a problem in is refused, since normalised YOLO boxes need
   the true image size. A mix folder's splits are ``annotations/*.json`` (``pretrain``,
   ``finetune``, ``train``, ``val``, ``test``); any other source is one split, named after
   its JSON file (``val.json`` -> ``val``), or ``train`` for an ``annotations.json``.
2. **gather files**: image entries that share a ``file_name`` are one file, written once
   (the K entries of a real image in a mix's ``train.json``, and the same image in
   ``finetune`` and ``train``); each entry is one line of its split's list, so repetition
   survives as repeated lines. Entries that share a file must carry the same boxes.
3. **convert** each annotation: YOLO ``class cx cy w h`` normalised to 0-1, 6 decimals
   (class = position of the category in id order), or a KITTI ``label_2`` line with the
   2D box, ``truncated`` and ``occluded`` where the annotation has them, and KITTI's
   values for unknown fields (:data:`KITTI_UNKNOWN`).
4. **ignore regions** (``iscrowd: 1``): KITTI writes them as ``DontCare`` lines, which
   KITTI's evaluation already ignores. YOLO has no way to say "ignore", so with
   ``ignore_regions="blackout"`` (the default) the region's pixels outside every labelled
   box are set to black in a copy of the image (the only images that are copied without
   ``--copy``), and with ``"drop"`` the image is left out of every list. Either way the
   count goes into the summary and the manifest.
5. **write** the folder as every command does (:func:`synthgen.storage.files.new_output_dir`):
   refused if not empty unless ``overwrite``, ``.partial/`` while writing, images linked
   (hard link, symbolic link across file systems) unless ``copy``, every file atomically,
   ``manifest.json`` last. Inputs are only ever read.

YOLO layout (Ultralytics): ``images/<file_name>``, ``labels/<file_name stem>.txt`` (an
empty file for an image without objects; where Ultralytics looks, see
:func:`yolo_label_path`), ``<split>.txt`` lists (``./images/...`` lines),
``data.yaml`` (``path``, ``train``, ``val``, ``test``, ``names``) and, for splits that are
not ``train``/``val``/``test`` (a mix's ``pretrain`` and ``finetune``), a
``data-<split>.yaml`` training on that split and validating on ``val``.

KITTI layout: ``training/image_2/NNNNNN.<ext>`` and ``training/label_2/NNNNNN.txt``
numbered in order of first appearance, and ``ImageSets/<split>.txt`` listing the numbers
(the layout mmdetection3d and OpenPCDet read); the manifest maps numbers to source files.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from synthgen.categories import name_key
from synthgen.errors import DatasetError, SynthgenError
from synthgen.formats.boxes import Box
from synthgen.formats.dataset import (
    ANNOTATIONS_FILE,
    IMAGES_DIR,
    CocoDataset,
    load_dataset,
    refuse_unfinished,
    refuse_unfinished_input,
    safe_relative_path,
)
from synthgen.formats.manifest import EXPORT, MANIFEST_FILE, command_of, header
from synthgen.formats.validate import in_one_line, validate_document
from synthgen.storage.files import (
    ANNOTATIONS_DIR,
    OUTPUT_FILES,
    UNFINISHED_DIR,
    NotRegularFileError,
    atomic_writer,
    encode_image,
    new_output_dir,
    open_regular,
    read_json,
    refuse_overlap,
    write_bytes_atomic,
    write_json_atomic,
)
from synthgen.storage.images import decode_rgb, place_images, read_header

log = logging.getLogger(__name__)

FORMATS: Final = ("yolo", "kitti")
TASKS: Final = ("detect", "segment")
IGNORE_MODES: Final = ("blackout", "drop")
LABELS_DIR: Final = "labels"
#: Decimal places of normalised YOLO coordinates: 1e-6 of 8192 px is under 0.01 px.
YOLO_DECIMALS: Final = 6
#: synthgen category -> KITTI object type. KITTI has no bus, traffic light or sign: those
#: keep their own name in KITTI's spelling (capital first letter, words joined by ``_``
#: like ``Person_sitting``), which KITTI's evaluation treats as a class it does not score.
KITTI_TYPES: Final[dict[str, str]] = {
    "car": "Car",
    "truck": "Truck",
    "bus": "Bus",
    "pedestrian": "Pedestrian",
    "cyclist": "Cyclist",
    "traffic_light": "Traffic_light",
    "traffic_sign": "Traffic_sign",
}
KITTI_DONTCARE: Final = "DontCare"
#: The values KITTI's own label files hold where a field is unknown (its DontCare lines):
#: truncation -1, occlusion 3 (the devkit readme's "unknown"), alpha -10, dimensions -1,
#: location -1000, rotation_y -10.
KITTI_UNKNOWN: Final[dict[str, str]] = {
    "truncated": "-1", "occluded": "3", "alpha": "-10", "dimensions": "-1 -1 -1",
    "location": "-1000 -1000 -1000", "rotation_y": "-10",
}
KITTI_TRAINING: Final = "training"
KITTI_IMAGE_DIR: Final = "image_2"
KITTI_LABEL_DIR: Final = "label_2"
KITTI_IMAGE_SETS: Final = "ImageSets"
#: Decimal places of KITTI boxes, as KITTI's own label files have them.
KITTI_DECIMALS: Final = 2
#: Image suffixes whose blacked-out copy can be written in the same format.
BLACKOUT_FORMATS: Final[dict[str, str]] = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}
#: JPEG quality of a blacked-out copy of a JPEG image (its other pixels are re-encoded).
BLACKOUT_JPEG_QUALITY: Final = 95
#: Most pixels an image to black out may have (its header says), as Pillow's
#: decompression-bomb limit was when blackout decoded with Pillow: the same images pass.
#: A frame this large takes 0.5 GB decoded, as much again blacked out.
MAX_BLACKOUT_PIXELS: Final = 178_956_970
#: A single-file source is a split named after its file when the stem looks like this.
_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class ExportError(SynthgenError):
    """Options or inputs ``export`` cannot use."""


@dataclass
class _File:
    """One image file of the export and its labels (shared by every entry naming it)."""

    key: str
    source: Path
    width: int
    height: int
    objects: list[dict[str, Any]]
    ignore: list[dict[str, Any]]
    where: str
    signature: tuple[Any, ...]


@dataclass
class _Split:
    name: str
    dataset: CocoDataset
    keys: list[str] = field(default_factory=list)


@dataclass
class ExportSummary:
    """What ``export`` wrote, for the command's summary lines and the manifest.

    Attributes:
        format: ``"yolo"`` or ``"kitti"``.
        task: ``"detect"`` or ``"segment"`` (YOLO only).
        splits: Per split: list file, entries (lines), files, objects, ignore regions.
        images: Image files written.
        objects: Labelled objects written (per file, not per entry).
        per_class: Objects per class name.
        ignore: What happened to ignore regions: ``mode``, ``regions``, ``images``.
        links: How image files were placed (``hardlink``/``symlink``/``copy``/``blackout``).
        box_polygons: ``--task segment``: objects without a mask written as their box.
    """

    format: str
    task: str
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: int = 0
    objects: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    ignore: dict[str, Any] = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)
    box_polygons: int = 0

    def to_dict(self) -> dict[str, Any]:
        record = {"images": self.images, "objects": self.objects,
                  "per_class": dict(self.per_class), "ignore_regions": dict(self.ignore),
                  "links": dict(self.links), "splits": {k: dict(v) for k, v in self.splits.items()}}
        if self.task == "segment":
            record["box_polygons"] = self.box_polygons
        return record


# --------------------------------------------------------------------------- read


def read_splits(src: str) -> list[tuple[str, CocoDataset]]:
    """The splits of ``src``, each a checked COCO dataset.

    Args:
        src: A mix output folder, a dataset folder holding ``annotations.json``, or a
            COCO JSON file.

    Returns:
        ``(split name, dataset)`` pairs; a mix's in the order it writes them.

    Raises:
        DatasetError: Nothing readable is there, the folder is unfinished, or a split is
            not a valid COCO dataset (as ``synthgen validate`` says).
    """
    path = Path(src)
    # Before anything is read: an unfinished folder may not hold its annotations yet.
    refuse_unfinished_input(path if path.is_dir() else path.parent)
    if path.is_dir() and not (path / ANNOTATIONS_FILE).exists() \
            and (path / ANNOTATIONS_DIR).is_dir():
        files = sorted((path / ANNOTATIONS_DIR).glob("*.json"),
                       key=lambda p: (p.stem not in OUTPUT_FILES,
                                      OUTPUT_FILES.index(p.stem) if p.stem in OUTPUT_FILES else 0,
                                      p.name))
        if not files:
            raise DatasetError(f"{src}: no {ANNOTATIONS_FILE} and no JSON file in "
                               f"{ANNOTATIONS_DIR}/")
        pairs = [(file.stem, load_dataset(file)) for file in files]
    else:
        dataset = load_dataset(src)
        stem = dataset.annotation_file.stem
        name = stem if stem != Path(ANNOTATIONS_FILE).stem and _SPLIT_NAME.fullmatch(stem) \
            else "train"
        pairs = [(name, dataset)]
    for _name, dataset in pairs:
        # The rule of stats and mix: the JSON file's folder, the folder holding its
        # annotations/ (a mix) and the one holding its images/.
        refuse_unfinished(dataset)
        report = validate_document(dataset.data, image_root=dataset.image_root,
                                   check_files=True, path=str(dataset.annotation_file))
        if not report.ok:
            raise DatasetError(f"{dataset.annotation_file}: not a valid COCO dataset "
                               f"({in_one_line(report.problems)}); run `synthgen validate "
                               f"{dataset.annotation_file}` for the full list")
    return pairs


def category_names(pairs: Sequence[tuple[str, CocoDataset]]) -> list[tuple[int, str]]:
    """``(category id, name)`` in id order, the same for every split.

    Raises:
        ExportError: Two splits have different categories.
    """
    first_name, first = pairs[0]
    names = sorted((c["id"], c["name"]) for c in first.categories)
    for _name, dataset in pairs[1:]:
        other = sorted((c["id"], c["name"]) for c in dataset.categories)
        if other != names:
            raise ExportError(f"{dataset.annotation_file}: categories differ from those of "
                              f"{first.annotation_file} (split {first_name}); every split "
                              "of one export needs the same categories")
    return names


def gather_files(pairs: Sequence[tuple[str, CocoDataset]]) -> tuple[dict[str, _File],
                                                                     list[_Split]]:
    """One :class:`_File` per distinct image file, and each split's entries as file keys.

    Raises:
        DatasetError: A ``file_name`` leaves its image folder, or two entries name one
            file with different sizes or boxes.
    """
    files: dict[str, _File] = {}
    splits = []
    for name, dataset in pairs:
        split = _Split(name, dataset)
        for image in sorted(dataset.images, key=lambda entry: entry["id"]):
            where = f"{dataset.annotation_file}: image {image['id']}"
            rel = safe_relative_path(image["file_name"], where)
            anns = dataset.annotations_for(image["id"])
            signature = (image["width"], image["height"], *sorted(
                (a["category_id"], a["iscrowd"], *map(float, a["bbox"])) for a in anns))
            key = rel.as_posix()
            known = files.get(key)
            if known is None:
                files[key] = _File(key=key, source=dataset.image_root / rel,
                                   width=image["width"], height=image["height"],
                                   objects=[a for a in anns if not a["iscrowd"]],
                                   ignore=[a for a in anns if a["iscrowd"]], where=where,
                                   signature=signature)
            elif known.signature != signature or known.source != dataset.image_root / rel:
                raise DatasetError(f"{where} ({key}) names the same file as {known.where} "
                                   "but with another size or other boxes; one file can be "
                                   "exported with one set of labels only")
            split.keys.append(key)
        splits.append(split)
    return files, splits


# --------------------------------------------------------------------------- convert


def yolo_box(bbox: Sequence[float], width: int, height: int) -> tuple[float, ...] | None:
    """COCO ``[x, y, w, h]`` in pixels to YOLO ``(cx, cy, w, h)`` in 0-1, clipped to the
    image; None for a box with no area inside it."""
    x0, y0, x1, y1 = Box.from_xywh([float(v) for v in bbox]).clip(width, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width,
            (y1 - y0) / height)


def yolo_label_path(key: str) -> Path:
    """Where Ultralytics looks for the label file of ``images/<key>``: the last
    ``/images/`` of the image's path becomes ``/labels/`` and the suffix ``.txt``. That is
    ``labels/<key>.txt``, unless ``key`` itself has a folder named ``images``."""
    head, _, tail = f"/{IMAGES_DIR}/{key}".rpartition(f"/{IMAGES_DIR}/")
    return Path(f"{head}/{LABELS_DIR}/{tail}".lstrip("/")).with_suffix(".txt")


def format_yolo_line(class_index: int, values: Sequence[float]) -> str:
    """``class v1 v2 ...`` with :data:`YOLO_DECIMALS` decimals (no ``-0.000000``)."""
    return " ".join([str(class_index), *(f"{abs(v) if v == 0 else v:.{YOLO_DECIMALS}f}"
                                         for v in values)])


def parse_yolo_label(text: str, width: int, height: int) -> list[tuple[int, list[float]]]:
    """Read a YOLO detection label file back to ``(class, [x, y, w, h] in pixels)``.

    The inverse of what :func:`export_dataset` writes (used by the tests and recipes).
    """
    boxes = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cls, cx, cy, w, h = line.split()
        cx, cy, w, h = float(cx) * width, float(cy) * height, float(w) * width, float(h) * height
        boxes.append((int(cls), [cx - w / 2, cy - h / 2, w, h]))
    return boxes


def yolo_polygon(ann: dict[str, Any], width: int, height: int) -> list[float] | None:
    """The object's outline as one normalised polygon ``[x1, y1, x2, y2, ...]``.

    From its RLE or polygon ``segmentation`` where it has one; an RLE mask of several
    parts becomes one ring that visits each part and returns the same way (zero-width
    bridges: filled, it covers the same pixels). Points lie on boundary pixel centres.
    None when the annotation has no mask (the caller writes its box).
    """
    segmentation = ann.get("segmentation")
    if isinstance(segmentation, dict):
        import cv2
        from pycocotools import mask as mask_utils

        rle = segmentation
        if isinstance(rle.get("counts"), list):
            rle = mask_utils.frPyObjects(rle, *rle["size"])
        mask = np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        parts = [c.reshape(-1, 2).astype(float) for c in contours if len(c) > 0]
    elif isinstance(segmentation, list) and segmentation:
        parts = [np.asarray(p, float).reshape(-1, 2) for p in segmentation]
    else:
        return None
    if not parts:
        return None
    parts.sort(key=lambda p: -len(p))
    ring = [parts[0], parts[0][:1]]
    for part in parts[1:]:
        ring += [part, part[:1], parts[0][:1]]
    points = np.concatenate(ring)
    if len(points) < 3:  # a one- or two-pixel object: its pixel square
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0) + 1
        points = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
    points = points / [width, height]
    return np.clip(points, 0.0, 1.0).reshape(-1).tolist()


def kitti_type(name: str) -> str:
    """The KITTI object type of a category name (see :data:`KITTI_TYPES`); any other name
    gets a capital first letter and ``_`` for spaces, so the line stays 15 fields."""
    for synthgen_name, kitti in KITTI_TYPES.items():
        if name_key(name) == name_key(synthgen_name):
            return kitti
    words = "_".join(name.split())
    return words[:1].upper() + words[1:]


def kitti_line(kind: str, bbox: Sequence[float], ann: dict[str, Any] | None) -> str:
    """One ``label_2`` line: the 2D box, and truncation and occlusion where ``ann`` has
    them (``None``: a DontCare region); the rest KITTI's unknown values. KITTI's
    ``left top right bottom`` are a :class:`~synthgen.formats.boxes.Box`'s edges."""
    edges = Box.from_xywh([float(v) for v in bbox])
    box = " ".join(f"{v:.{KITTI_DECIMALS}f}" for v in edges)
    truncated = KITTI_UNKNOWN["truncated"]
    # KITTI's DontCare lines say -1 for occlusion; an object of unknown occlusion says 3.
    occluded = "-1" if ann is None else KITTI_UNKNOWN["occluded"]
    if ann is not None:
        value = ann.get("truncation")
        if _is_number(value) and 0.0 <= value <= 1.0:
            truncated = f"{value:.2f}"
        level = ann.get("occluded")
        if _is_number(level) and level in (0, 1, 2):
            occluded = str(int(level))
    return " ".join((kind, truncated, occluded, KITTI_UNKNOWN["alpha"], box,
                     KITTI_UNKNOWN["dimensions"], KITTI_UNKNOWN["location"],
                     KITTI_UNKNOWN["rotation_y"]))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def blackout(image: np.ndarray, regions: Sequence[Sequence[float]],
             keep: Sequence[Sequence[float]]) -> np.ndarray:
    """A copy of ``image`` with every pixel touched by a ``regions`` box set to 0, except
    pixels touched by a ``keep`` box (labelled objects stay whole); boxes are COCO
    ``[x, y, w, h]``."""
    height, width = image.shape[:2]

    def mask_of(boxes: Sequence[Sequence[float]]) -> np.ndarray:
        mask = np.zeros((height, width), bool)
        for bbox in boxes:
            box = Box.from_xywh(bbox)
            x0, y0 = max(0, math.floor(box.x0)), max(0, math.floor(box.y0))
            x1, y1 = min(width, math.ceil(box.x1)), min(height, math.ceil(box.y1))
            mask[y0:y1, x0:x1] = True
        return mask

    out = image.copy()
    out[mask_of(regions) & ~mask_of(keep)] = 0
    return out


# --------------------------------------------------------------------------- write


def export_dataset(src: str, out: str, *, fmt: str, task: str = "detect",
                   ignore_regions: str = "blackout", copy: bool = False,
                   overwrite: bool = False) -> ExportSummary:
    """Export the dataset (or mix output) ``src`` to a YOLO or KITTI folder ``out``.

    Args:
        src: A mix output folder, a dataset folder or a COCO file, as the user gave it.
        out: The output folder.
        fmt: ``"yolo"`` or ``"kitti"``.
        task: YOLO only: ``"detect"`` (boxes) or ``"segment"`` (polygons from masks).
        ignore_regions: YOLO only: ``"blackout"`` or ``"drop"`` (see the module docstring).
        copy: Copy image files instead of linking them.
        overwrite: Replace what synthgen wrote in a non-empty ``out``.

    Returns:
        What was written (also in ``OUT/manifest.json``).

    Raises:
        ExportError: Bad options, or splits with different categories.
        DatasetError: ``src`` cannot be read or is not a valid COCO dataset.
        OutputError: ``out`` cannot be used.
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if task not in TASKS:
        raise ExportError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    if ignore_regions not in IGNORE_MODES:
        raise ExportError(f"--ignore-regions {ignore_regions!r}: expected one of "
                          f"{', '.join(IGNORE_MODES)}")
    if fmt == "kitti" and task != "detect":
        raise ExportError("--task segment applies to --format yolo only (KITTI label_2 "
                          "holds boxes)")
    pairs = read_splits(src)
    categories = category_names(pairs)
    files, splits = gather_files(pairs)
    out_path = Path(out)
    refuse_overlap(out_path, [Path(src), *dict.fromkeys(d.image_root for _, d in pairs)])
    summary = ExportSummary(format=fmt, task=task)
    writer = _YoloWriter(out_path, categories, task, ignore_regions, copy) if fmt == "yolo" \
        else _KittiWriter(out_path, categories, copy)
    owned = writer.owned([s.name for s in splits]) + _previously_owned(out_path)
    with new_output_dir(out_path, overwrite=overwrite, owned=owned):
        writer.write(files, splits, summary)
        write_json_atomic(out_path / MANIFEST_FILE, {
            **header(EXPORT),
            "options": {"src": src, "out": out, "format": fmt, "task": task,
                        "ignore_regions": ignore_regions, "copy": copy, "overwrite": overwrite},
            "format": fmt,
            "splits": {s.name: str(s.dataset.annotation_file) for s in splits},
            "classes": writer.classes(),
            "files": sorted(set(owned) - {UNFINISHED_DIR}),
            "counts": summary.to_dict(),
            **writer.extra_manifest(),
        })
    return summary


def _previously_owned(out: Path) -> list[str]:
    """Entries an earlier export recorded in ``out``'s manifest (its split lists), so
    ``--overwrite`` replaces them even when the new export has other splits."""
    try:
        manifest = read_json(out / MANIFEST_FILE)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return []
    if command_of(manifest) != EXPORT:
        return []
    names = manifest.get("files", [])
    return [n for n in names if isinstance(n, str) and n and "/" not in n and n not in (".", "..")]


class _YoloWriter:
    def __init__(self, out: Path, categories: list[tuple[int, str]], task: str,
                 ignore_regions: str, copy: bool):
        self.out = out
        self.names = [name for _, name in categories]
        self.index = {cid: i for i, (cid, _) in enumerate(categories)}
        self.task = task
        self.ignore_regions = ignore_regions
        self.copy = copy

    def owned(self, split_names: list[str]) -> list[str]:
        yamls = ["data.yaml", *(f"data-{n}.yaml" for n in split_names
                                if n not in ("train", "val", "test"))]
        return [IMAGES_DIR, LABELS_DIR, *yamls, *(f"{n}.txt" for n in split_names),
                MANIFEST_FILE, UNFINISHED_DIR]

    def classes(self) -> dict[str, str]:
        return {str(i): name for i, name in enumerate(self.names)}

    def extra_manifest(self) -> dict[str, Any]:
        return {"task": self.task}

    def write(self, files: dict[str, _File], splits: list[_Split],
              summary: ExportSummary) -> None:
        label_paths: dict[Path, str] = {}
        dropped: set[str] = set()
        linked: list[tuple[Path, str]] = []
        per_class: Counter[str] = Counter()
        regions = blacked = 0
        for key, file in files.items():
            label = yolo_label_path(key)
            if label in label_paths:
                raise DatasetError(f"{file.where} ({key}) and {label_paths[label]} would share "
                                   f"the label file {label.as_posix()}; rename one of them")
            label_paths[label] = key
            if file.ignore and self.ignore_regions == "drop":
                dropped.add(key)
                regions += len(file.ignore)
                continue
            lines = []
            for ann in file.objects:
                line = self.line(ann, file, summary)
                if line is not None:
                    lines.append(line)
                    per_class[self.names[self.index[ann["category_id"]]]] += 1
            (self.out / label).parent.mkdir(parents=True, exist_ok=True)
            with atomic_writer(self.out / label) as handle:
                handle.write("".join(f"{line}\n" for line in lines))
            if file.ignore:
                self.write_blackout(file)
                regions += len(file.ignore)
                blacked += 1
            else:
                linked.append((file.source, key))
        links = place_images(linked, self.out / IMAGES_DIR, copy=self.copy)
        if blacked:
            links["blackout copy"] = blacked
        summary.links = links
        summary.images = len(files) - len(dropped)
        summary.objects = sum(per_class.values())
        summary.per_class = {name: per_class[name] for name in self.names}
        summary.ignore = {"mode": self.ignore_regions, "regions": regions,
                          "images": len(dropped) if self.ignore_regions == "drop" else blacked}
        for split in splits:
            kept = [k for k in split.keys if k not in dropped]
            with atomic_writer(self.out / f"{split.name}.txt") as handle:
                handle.write("".join(f"./{IMAGES_DIR}/{k}\n" for k in kept))
            summary.splits[split.name] = {
                "list": f"{split.name}.txt", "entries": len(kept), "files": len(set(kept)),
                "objects": sum(len(files[k].objects) for k in kept),
                "ignore_regions": sum(len(files[k].ignore) for k in split.keys),
                "dropped_entries": len(split.keys) - len(kept)}
        self.write_yamls([s.name for s in splits])

    def line(self, ann: dict[str, Any], file: _File, summary: ExportSummary) -> str | None:
        box = yolo_box(ann["bbox"], file.width, file.height)
        if box is None:
            return None
        cls = self.index[ann["category_id"]]
        if self.task == "detect":
            return format_yolo_line(cls, box)
        polygon = yolo_polygon(ann, file.width, file.height)
        if polygon is None:
            summary.box_polygons += 1
            cx, cy, w, h = box
            polygon = [cx - w / 2, cy - h / 2, cx + w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
                       cx - w / 2, cy + h / 2]
        return format_yolo_line(cls, polygon)

    def write_blackout(self, file: _File) -> None:
        image_format = BLACKOUT_FORMATS.get(file.source.suffix.lower())
        if image_format is None:
            raise ExportError(f"{file.where} ({file.key}): has ignore regions to black out, "
                              f"but {file.source.suffix!r} images cannot be written; use "
                              "--ignore-regions drop")
        try:
            # Regular files only (checked on the open file: a FIFO would block). The size
            # from the header first: decoding allocates the whole frame.
            with open_regular(file.source) as handle:
                header = read_header(handle)
                if header.width * header.height > MAX_BLACKOUT_PIXELS:
                    raise DatasetError(
                        f"{file.source}: cannot read as an image ({header.width}x"
                        f"{header.height} pixels; expected at most {MAX_BLACKOUT_PIXELS} "
                        "to black out, or use --ignore-regions drop)")
                handle.seek(0)
                data = handle.read()
            pixels = decode_rgb(data)  # as stored, where the boxes are
            del data
        except NotRegularFileError as exc:
            raise DatasetError(f"{file.source}: {exc}") from exc
        except UnidentifiedImageError as exc:  # its message names the open file object
            raise DatasetError(f"{file.source}: cannot read as an image (cannot identify "
                               "image file)") from exc
        except (OSError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise DatasetError(f"{file.source}: cannot read as an image ({exc})") from exc
        except MemoryError as exc:
            raise DatasetError(f"{file.source}: cannot read as an image (out of memory "
                               "decoding it)") from exc
        if pixels is None:
            # OpenCV also answers so when it cannot allocate the frame.
            raise DatasetError(f"{file.source}: cannot read as an image (its pixels do not "
                               "decode: cut short, damaged, or too large for memory)")
        if pixels.shape[:2] != (file.height, file.width):  # changed since it was validated
            raise DatasetError(f"{file.source}: {pixels.shape[1]}x{pixels.shape[0]} pixels; "
                               f"expected {file.width}x{file.height} as {file.where} says")
        painted = blackout(pixels, [a["bbox"] for a in file.ignore],
                           [a["bbox"] for a in file.objects])
        target = self.out / IMAGES_DIR / file.key
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, encode_image(painted, image_format,
                                                jpeg_quality=BLACKOUT_JPEG_QUALITY))

    def write_yamls(self, split_names: list[str]) -> None:
        train = "train" if "train" in split_names else split_names[0]
        val = "val" if "val" in split_names else train
        documents = {"data.yaml": (train, val)}
        for name in split_names:
            if name not in ("train", "val", "test"):
                documents[f"data-{name}.yaml"] = (name, val)
        for file_name, (train_split, val_split) in documents.items():
            data: dict[str, Any] = {"path": str(self.out.resolve()),
                                    "train": f"{train_split}.txt", "val": f"{val_split}.txt"}
            if "test" in split_names:
                data["test"] = "test.txt"
            data["names"] = dict(enumerate(self.names))
            header = ("# Written by synthgen export. path is this folder's absolute path: "
                      "edit it if you move the folder.\n")
            if val_split == train_split:
                header += ("# This export has no val split, so val is the training list: "
                           "export a `synthgen mix` output for real val and test lists.\n")
            with atomic_writer(self.out / file_name) as handle:
                handle.write(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


class _KittiWriter:
    def __init__(self, out: Path, categories: list[tuple[int, str]], copy: bool):
        self.out = out
        self.types = {cid: kitti_type(name) for cid, name in categories}
        self.names = dict(categories)
        self.copy = copy
        self.numbers: dict[str, str] = {}

    def owned(self, split_names: list[str]) -> list[str]:
        return [KITTI_TRAINING, KITTI_IMAGE_SETS, MANIFEST_FILE, UNFINISHED_DIR]

    def classes(self) -> dict[str, str]:
        return {self.names[cid]: kind for cid, kind in self.types.items()}

    def extra_manifest(self) -> dict[str, Any]:
        return {"kitti_files": {number: key for key, number in self.numbers.items()}}

    def write(self, files: dict[str, _File], splits: list[_Split],
              summary: ExportSummary) -> None:
        training = self.out / KITTI_TRAINING
        (training / KITTI_LABEL_DIR).mkdir(parents=True)
        (self.out / KITTI_IMAGE_SETS).mkdir()
        per_class: Counter[str] = Counter()
        regions = 0
        linked = []
        for number, (key, file) in enumerate(files.items()):
            stem = f"{number:06d}"
            self.numbers[key] = stem
            lines = []
            for ann in file.objects:
                lines.append(kitti_line(self.types[ann["category_id"]], ann["bbox"], ann))
                per_class[self.names[ann["category_id"]]] += 1
            for ann in file.ignore:
                lines.append(kitti_line(KITTI_DONTCARE, ann["bbox"], None))
                regions += 1
            with atomic_writer(training / KITTI_LABEL_DIR / f"{stem}.txt") as handle:
                handle.write("".join(f"{line}\n" for line in lines))
            linked.append((file.source, f"{stem}{Path(key).suffix}"))
        summary.links = place_images(linked, training / KITTI_IMAGE_DIR, copy=self.copy)
        summary.images = len(files)
        summary.objects = sum(per_class.values())
        summary.per_class = {name: per_class[name] for name in self.names.values()}
        summary.ignore = {"mode": "dontcare", "regions": regions,
                          "images": sum(1 for f in files.values() if f.ignore)}
        for split in splits:
            with atomic_writer(self.out / KITTI_IMAGE_SETS / f"{split.name}.txt") as handle:
                handle.write("".join(f"{self.numbers[k]}\n" for k in split.keys))
            summary.splits[split.name] = {
                "list": f"{KITTI_IMAGE_SETS}/{split.name}.txt", "entries": len(split.keys),
                "files": len(set(split.keys)),
                "objects": sum(len(files[k].objects) for k in split.keys),
                "ignore_regions": sum(len(files[k].ignore) for k in split.keys)}
