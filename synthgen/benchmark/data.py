"""Reading the benchmark's inputs: labelled images, scaled once, with ignore regions.

An input is a synthgen dataset folder, any COCO file synthgen reads, or a KITTI set in
KITTI's own layout (``training/image_2`` + ``training/label_2``, mapped as ``synthgen real
import`` maps it). Category names are mapped to synthgen's categories as ``real import``
maps a COCO set's (``person`` is ``pedestrian``...).

Boxes are kept in one form, ``(x0, y0, x1, y1)`` pixel edges of the source image (the
rows of :class:`LabelledImage`'s ``boxes`` array are :class:`~synthgen.formats.boxes.Box`
edges, an array because the detector trains on them in batches), with
per box the index of its benchmarked class (``-1`` for any other class) and whether it
is an ignore region. Which boxes a detector must find, and which it is neither rewarded
nor punished for, is decided here, once, for training and evaluation alike:

- a crowd annotation (``iscrowd: 1``: KITTI's DontCare, Tram and Misc) is an ignore
  region;
- a box less than ``min_height`` pixels tall (in the source image) is an ignore region:
  sets such as KITTI leave small far objects unlabelled, so neither finding nor missing
  them can be judged;
- in training, an object of a class that is not benchmarked is an ignore region too
  (a truck is not a negative for a car detector); in evaluation it plays no part.

Which of a synthgen set's two boxes an object is trained on is a choice (``boxes``,
``--synthetic-boxes``): the *visible* one (``bbox``: the pixels that show, synthgen's
label) or the *amodal* one (``bbox_amodal``: the whole object's projection inside the
frame). Real sets differ on this: KITTI's labellers box a partly hidden car whole (in its
labels a hidden car's box is as wide as its 3D box projects to), so a detector trained on
visible boxes learns to draw a partly hidden car narrower than KITTI scores it. Ignore
regions keep their visible extent whatever the choice: a hidden object's whole box would
mask the objects in front of it.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthgen.categories import CATEGORY_NAMES
from synthgen.datasets.realsets import (
    DROP,
    IGNORE,
    KITTI_MAPPING,
    CategoryMapper,
    ImportSummary,
    coco_synonym_table,
    is_kitti_set,
    read_kitti,
    to_coco,
)
from synthgen.errors import DatasetError, SynthgenError
from synthgen.formats.boxes import Box
from synthgen.formats.dataset import (
    CocoDataset,
    is_pseudo_labelled,
    is_synthetic_image,
    load_dataset,
    refuse_unfinished,
    refuse_unfinished_input,
    safe_relative_path,
)
from synthgen.formats.manifest import PSEUDO_LABEL, REAL_IMPORT, command_of, is_synthetic
from synthgen.storage.files import NotRegularFileError, open_regular
from synthgen.storage.images import decode_rgb

log = logging.getLogger(__name__)

#: The benchmark's arms, in report order: what each detector is trained on.
ARMS = ("real", "synthetic", "synthetic+real")
#: Which box of an object a set is read with (see the module docstring): the choice, and
#: the COCO field it reads.
BOX_FIELDS = {"visible": "bbox", "amodal": "bbox_amodal"}
#: Default height, in source pixels, under which a box is an ignore region.
DEFAULT_MIN_HEIGHT = 20.0
#: ``real pseudo-label``'s default thresholds on the detector's score (0-1): a label at
#: least, an ignore region at least (see :mod:`synthgen.benchmark.pseudo`).
DEFAULT_MIN_SCORE = 0.5
DEFAULT_IGNORE_SCORE = 0.2


class BenchmarkError(SynthgenError):
    """The benchmark's inputs or options cannot be used as given."""


@dataclass
class LabelledImage:
    """One image file and its boxes, in source pixels.

    Attributes:
        path: The image file.
        width: Width from the annotation file (or header, for KITTI).
        height: Height, likewise.
        boxes: ``(n, 4)`` float32 ``x0, y0, x1, y1`` pixel edges.
        classes: ``(n,)`` index into the benchmarked classes, ``-1`` for any other.
        crowd: ``(n,)`` bool, True for an ignore region (crowd or under ``min_height``).
        image_id: The image's id in its source.
    """

    path: Path
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    crowd: np.ndarray
    image_id: int = 0

    def targets(self) -> np.ndarray:
        """Mask of the boxes a detector must find."""
        return (self.classes >= 0) & ~self.crowd

    def ignored_in_training(self) -> np.ndarray:
        """Mask of the boxes training neither rewards nor punishes."""
        return ~self.targets()


@dataclass
class LabelledSet:
    """One input as given on the command line."""

    given: str
    images: list[LabelledImage]
    kind: str  # "synthetic" or "real": the role it was given
    dropped: dict[str, int] = field(default_factory=dict)
    #: Where the set says it holds synthetic (or real) images, if it says so anywhere.
    synthetic_evidence: str | None = None
    real_evidence: str | None = None
    #: Where the set says its labels are a detector's (``real pseudo-label``), if it does.
    pseudo_evidence: str | None = None
    #: The COCO dataset read (None for a KITTI folder).
    dataset: CocoDataset | None = field(default=None, repr=False)

    def check_role(self, option: str) -> None:
        """Refuse a set whose own files say it holds images of the other kind: any
        synthetic image in a set given as real (or as the evaluation set), any real image
        in a set given as synthetic, as ``synthgen mix`` refuses them.

        Raises:
            BenchmarkError: Naming where the set says so.
        """
        evidence = self.synthetic_evidence if self.kind == "real" else self.real_evidence
        if evidence is not None:
            other = "synthetic" if self.kind == "real" else "real"
            raise BenchmarkError(f"{option} {self.given}: {evidence} says it is {other}; "
                                 f"{option} takes {self.kind} images only")

    def check_human_labelled(self, option: str) -> None:
        """Refuse a set of pseudo-labels (a detector scored against another detector's
        boxes measures nothing).

        Raises:
            BenchmarkError: Naming where the set says so.
        """
        if self.pseudo_evidence is not None:
            raise BenchmarkError(f"{option} {self.given}: {self.pseudo_evidence} says its "
                                 f"labels are a detector's ({PSEUDO_LABEL}); {option} "
                                 "takes human-labelled images only")

    def object_counts(self, classes: Sequence[str]) -> dict[str, int]:
        """Target boxes per benchmarked class."""
        counts = dict.fromkeys(classes, 0)
        for image in self.images:
            for cls in image.classes[image.targets()]:
                counts[classes[int(cls)]] += 1
        return counts


def parse_classes(text: str) -> list[str]:
    """``car,pedestrian`` -> the class names, checked against synthgen's categories.

    Raises:
        BenchmarkError: An unknown or repeated name, or none at all.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise BenchmarkError(f"--classes {text!r}: expected one or more of "
                             f"{', '.join(CATEGORY_NAMES)}, separated by commas")
    for name in names:
        if name not in CATEGORY_NAMES:
            raise BenchmarkError(f"--classes: {name!r} is not a synthgen category; expected "
                                 f"names from {', '.join(CATEGORY_NAMES)}")
    if len(set(names)) != len(names):
        raise BenchmarkError(f"--classes {text!r}: a class is named twice")
    return names


def load_labelled_set(given: str, *, classes: Sequence[str], min_height: float,
                      kind: str, boxes: str = "visible") -> LabelledSet:
    """Read one input (synthgen folder, COCO file, or KITTI layout) into a LabelledSet.

    Args:
        given: The path as the user gave it.
        classes: The benchmarked classes, in output order.
        min_height: Boxes shorter than this (source pixels) become ignore regions.
        kind: ``"synthetic"`` or ``"real"``, for messages and the report.
        boxes: A key of :data:`BOX_FIELDS`: the box each object of a benchmarked class
            is read with (ignore regions are read with their visible ``bbox``).

    Raises:
        DatasetError: The input cannot be read, is a folder a synthgen command left
            unfinished (``.partial/`` and no manifest), holds no image, or lacks the
            box ``boxes`` asks for.
    """
    field = BOX_FIELDS[boxes]
    path = Path(given)
    if is_kitti_set(path):
        summary = ImportSummary()
        real_images = read_kitti(path)
        document = to_coco(real_images, CategoryMapper(KITTI_MAPPING), summary)
        paths = {entry["id"]: image.path
                 for entry, image in zip(document["images"], real_images, strict=True)}
        dropped = dict(summary.dropped)
        dataset = None
        synthetic_evidence, real_evidence = None, "its KITTI layout"
        pseudo_evidence = None
    else:
        # Refused before reading, as stats and mix do: a folder a synthgen command left
        # unfinished may describe images no longer there (read_kitti checks its own).
        refuse_unfinished_input(path)
        dataset = load_dataset(given)
        refuse_unfinished(dataset)
        document = dataset.data
        paths = {}
        for entry in document["images"]:
            rel = safe_relative_path(entry["file_name"], f"{given}: image {entry['id']}")
            paths[entry["id"]] = dataset.image_root / rel
        dropped = {}
        synthetic_evidence, real_evidence = _evidence(dataset.manifest, document["images"])
        pseudo_evidence = _pseudo_evidence(dataset.manifest, document["images"])
    if real_evidence is not None and synthetic_evidence is None:
        # One box: a set that says it is real has no whole-object boxes (given as a
        # synthetic set, its role check refuses it, naming why).
        field = "bbox"
    mapper = CategoryMapper(coco_synonym_table())
    images = _labelled_images(given, document, paths, mapper, classes, min_height, dropped,
                              field)
    if not images:
        raise DatasetError(f"{given}: holds no image")
    return LabelledSet(given=given, images=images, kind=kind, dropped=dropped,
                       synthetic_evidence=synthetic_evidence, real_evidence=real_evidence,
                       pseudo_evidence=pseudo_evidence,
                       dataset=dataset)


def _evidence(manifest: dict[str, Any] | None,
              images: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """Where a COCO set says it holds synthetic images, and where real ones, the way
    ``synthgen mix`` reads it: the manifest's ``kind``/``command``, every image's
    ``source``, and a generated image's ``scene`` and ``seed``."""
    synthetic = real = None
    if is_synthetic(manifest):
        synthetic = "its manifest"
    if command_of(manifest) in (REAL_IMPORT, PSEUDO_LABEL):
        real = "its manifest"
    for image in images:
        where = f"image {image['id']} ({image['file_name']})"
        if synthetic is None and is_synthetic_image(image):
            synthetic = where
        if real is None and image.get("source") == "real":
            real = where
    return synthetic, real


def _pseudo_evidence(manifest: dict[str, Any] | None,
                     images: list[dict[str, Any]]) -> str | None:
    """Where a COCO set says its labels are a detector's: the manifest's command, or an
    image entry's ``"labels": "pseudo"``."""
    if command_of(manifest) == PSEUDO_LABEL:
        return "its manifest"
    for image in images:
        if is_pseudo_labelled(image):
            return f"image {image['id']} ({image['file_name']})"
    return None


def _labelled_images(given: str, document: dict[str, Any], paths: dict[Any, Path],
                     mapper: CategoryMapper, classes: Sequence[str], min_height: float,
                     dropped: dict[str, int], field: str = "bbox") -> list[LabelledImage]:
    names = {c["id"]: c["name"] for c in document["categories"]}
    class_index = {name: i for i, name in enumerate(classes)}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in document["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    images = []
    for entry in sorted(document["images"], key=lambda e: str(e["id"])):
        width, height = entry.get("width"), entry.get("height")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                   for v in (width, height)):
            raise DatasetError(f"{given}: image {entry['id']}: expected positive integer "
                               f"width and height, got {width!r} x {height!r}")
        boxes, cls, crowd = [], [], []
        for ann in by_image.get(entry["id"], []):
            name = names.get(ann["category_id"])
            if name is None:
                raise DatasetError(f"{given}: annotation {ann['id']}: category_id "
                                   f"{ann['category_id']!r} is not in categories")
            target = mapper.target(name)
            if target == DROP:
                dropped[name] = dropped.get(name, 0) + 1
            box = _box(given, ann, width, height)
            if box is None:
                continue
            iscrowd = ann.get("iscrowd", 0)
            if iscrowd not in (0, 1) or isinstance(iscrowd, float):
                raise DatasetError(f"{given}: annotation {ann['id']}: iscrowd: expected 0 or "
                                   f"1, got {iscrowd!r}")
            is_crowd = iscrowd == 1 or target == IGNORE
            if field != "bbox" and not is_crowd and target in class_index:
                box = _box(given, ann, width, height, field) or box
            boxes.append(box)
            cls.append(class_index.get(target, -1))
            crowd.append(is_crowd or box.height < min_height)
        images.append(LabelledImage(
            path=paths[entry["id"]], width=width, height=height,
            boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            classes=np.asarray(cls, dtype=np.int64), crowd=np.asarray(crowd, dtype=bool),
            image_id=entry["id"] if isinstance(entry["id"], int) else len(images) + 1,
        ))
    return images


def _box(given: str, ann: dict[str, Any], width: int, height: int,
         field: str = "bbox") -> Box | None:
    """The annotation's box ``field`` clipped to the image, or None if nothing is left.

    Raises:
        DatasetError: ``field`` is missing or not four finite numbers.
    """
    bbox = ann.get(field)
    if (not isinstance(bbox, list) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
            or not np.all(np.isfinite(bbox))):
        got = "nothing" if field not in ann else repr(bbox)
        hint = (" (synthgen's own sets have it: the whole object's box)"
                if field != "bbox" else "")
        raise DatasetError(f"{given}: annotation {ann['id']}: {field}: expected [x, y, w, h] "
                           f"finite numbers{hint}, got {got}")
    box = Box.from_xywh([float(v) for v in bbox]).clip(width, height)
    if box.width <= 0 or box.height <= 0:
        return None
    return box


def refuse_shared_images(evaluation: LabelledSet, training: Sequence[LabelledSet]) -> None:
    """Refuse an evaluation image that is also a training image (the same file, a link
    to it or a byte copy), or an evaluation image listed twice: the check ``synthgen mix``
    makes between its real and synthetic inputs.

    Raises:
        BenchmarkError: Naming the first image found twice.
    """
    from synthgen.datasets.mix import same_images

    eval_paths = [image.path for image in evaluation.images]
    paths = eval_paths + [image.path for inp in training for image in inp.images]
    owners = [evaluation.given] * len(eval_paths) + [
        inp.given for inp in training for _ in inp.images]
    for path in paths:  # before any file is opened: a FIFO would block the comparison
        _regular_file(path)
    for first, second, *_ in same_images(paths, len(eval_paths)):
        if second < len(eval_paths):
            what = ("is listed twice" if paths[first] == paths[second] else
                    f"is also the evaluation image {paths[second]} (the same file, a link or "
                    "a byte copy, its EXIF orientation reset or not)")
        else:
            what = (f"is also a training image of {owners[second]} ({paths[second]}: the "
                    "same file, a link or a byte copy, its EXIF orientation reset or not)")
        raise BenchmarkError(f"--eval {evaluation.given}: {paths[first]} {what}; the "
                             "evaluation set must share no image with what is trained on, "
                             "nor hold one twice")


def _regular_file(path: Path) -> None:
    """Raises DatasetError unless ``path`` is a regular file (following links)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DatasetError(f"{path}: image file not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise DatasetError(f"{path}: not a regular file")


def _read_scaled(image: LabelledImage, width: int) -> np.ndarray:
    """The image as RGB uint8, scaled to ``width`` pixels wide (aspect kept).

    The file is decoded as stored (EXIF orientation ignored, as image headers and every
    other synthgen reader take it), and must have the size its entry records: boxes are
    in that frame.

    Raises:
        DatasetError: Not a regular file, not a whole image
            (:func:`~synthgen.storage.images.decode_rgb`: a JPEG cut short is none), or
            not the size its entry says.
    """
    import cv2

    path = image.path
    _regular_file(path)
    try:
        # Checked again on the open file: swapped for a FIFO meanwhile, it would block.
        with open_regular(path) as handle:
            data = handle.read()
    except NotRegularFileError:
        raise DatasetError(f"{path}: not a regular file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    decoded = decode_rgb(data)  # as stored, where its labels are (EXIF ignored)
    if decoded is None:
        raise DatasetError(f"{path}: cannot decode as an image")
    h, w = decoded.shape[:2]
    if (w, h) != (image.width, image.height):
        raise DatasetError(f"{path}: the image is {w} x {h} pixels; its entry says "
                           f"{image.width} x {image.height}")
    height = max(1, round(h * width / w))
    interpolation = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
    return cv2.resize(decoded, (width, height), interpolation=interpolation)


def read_images(images: Sequence[LabelledImage], width: int, *, threads: int = 2,
                progress: Any = None) -> list[np.ndarray]:
    """Decode every image scaled to ``width`` (in order; OpenCV decodes in threads).

    Raises:
        DatasetError: An image cannot be read or does not have its recorded size.
    """
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        result = []
        for scaled in pool.map(lambda image: _read_scaled(image, width), images):
            result.append(scaled)
            if progress is not None:
                progress.update(1)
    return result
