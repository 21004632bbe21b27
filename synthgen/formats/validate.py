"""Checking a COCO dataset, whoever wrote it: ``synthgen validate`` and ``mix``'s self-check.

:func:`validate_path` reads a COCO file (or a folder holding ``annotations.json``) and
:func:`validate_document` checks an already parsed document. Neither raises on bad data:
every finding is a :class:`Problem` of one of the :data:`KINDS` in a
:class:`ValidationReport`, and a path that cannot be read at all gives a report with
``readable = False``.

What is checked, in order (a check only runs on entries that passed the checks it needs,
so one bad field is reported once, not again by every check that reads it):

1. structure: the top level is an object with lists ``images``, ``annotations`` and
   ``categories``; every entry is an object with the required fields of the right type
   (ids are integers, never booleans; ``width``/``height`` positive integers; ``bbox`` four
   numbers; ``area`` a number; ``iscrowd`` an integer; ``segmentation``, when present, an
   RLE object or a list of polygons);
2. ids: unique per list, category ids 1-based (COCO tools treat 0 as background),
   category names unique, every annotation's ``image_id`` and ``category_id`` existing;
3. ``iscrowd`` is 0 or 1;
4. boxes: finite, width and height > 0, inside the image within :data:`BOX_TOLERANCE`;
5. ``area``: finite, > 0 and at most the box area (within :data:`AREA_TOLERANCE`);
6. RLE segmentation: well formed, of the image's size, its pixel count equal to ``area``
   and its tight bounds equal to ``bbox`` within :data:`MASK_BOX_TOLERANCE`;
7. image files (``check_files``): each ``file_name`` stays inside the image folder (no
   absolute path, no ``..``: such a file is never opened), each file exists and is a
   regular file (a FIFO or a device is never read), its real size, read from the header,
   matches ``width`` x ``height``, and a JPEG or PNG is whole (its end marker found
   without decoding it, see :func:`synthgen.storage.images.read_header`).

:func:`validate_path` also reports a folder a synthgen command left unfinished (it holds
``.partial/`` and no manifest, see :func:`synthgen.storage.files.unfinished_folder`): its
``annotations.json`` may describe images an ``--overwrite`` stopped halfway removed.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import UnidentifiedImageError

from synthgen.errors import DatasetError
from synthgen.formats.dataset import (
    UNFINISHED_ADVICE,
    find_annotation_file,
    image_root_for,
    json_type_name,
    read_document,
    safe_relative_path,
    unfinished_folder,
)
from synthgen.storage.files import NotRegularFileError, open_regular
from synthgen.storage.images import read_header

#: Problem kind -> what it means, in report order.
KINDS: Final[dict[str, str]] = {
    "unreadable": "the path is missing, not JSON, or its top level is not an object",
    "unfinished": "the folder holds .partial/ and no manifest.json: a synthgen command was "
                  "stopped or is still writing it",
    "structure": "a list, entry or field is missing or has the wrong type",
    "duplicate_id": "an image, annotation or category id is used more than once",
    "category_id": "a category id is 0 or negative (COCO category ids are 1-based)",
    "annotation_id": "an annotation id is 0 or negative (COCOeval reads 0 as 'no match')",
    "duplicate_name": "two categories have the same name",
    "reference": "an annotation's image_id or category_id names nothing",
    "iscrowd": "iscrowd is neither 0 nor 1",
    "bbox": "a box is not finite or has no width or height",
    "bbox_outside": "a box extends past the image",
    "area": "area is not positive, or larger than its box",
    "segmentation": "an RLE mask is malformed or disagrees with the image size, area or bbox",
    "file_name": "an image file_name is absolute or climbs out of the image folder",
    "image_missing": "an image file does not exist",
    "image_unreadable": "an image file is not a regular file or not an image",
    "image_size": "an image file's real size differs from its width/height",
}
#: Kinds that make a document unusable as COCO at all (``real import`` refuses them).
STRUCTURAL_KINDS: Final = frozenset(
    {"unreadable", "structure", "duplicate_id", "category_id", "duplicate_name", "reference",
     "iscrowd"})
#: How far, in pixels, a box may pass the image border: a thousandth of a pixel, far
#: below labelling precision but above float32 rounding at image sizes up to 8192 px,
#: so boxes computed in float32 by other tools and boxes clipped to the border pass.
BOX_TOLERANCE: Final = 1e-3
#: Relative slack of ``area <= w * h``, for the same float rounding.
AREA_TOLERANCE: Final = 1e-6
#: How far, in pixels, a box edge may be from its RLE mask's tight bounds.
MASK_BOX_TOLERANCE: Final = 1.0
#: The largest image side accepted (what a 32-bit signed size holds; pycocotools and
#: image decoders hold sizes in 32 bits).
MAX_IMAGE_SIDE: Final = 2**31 - 1
DEFAULT_MAX_PROBLEMS: Final = 20


@dataclass(frozen=True)
class Problem:
    """One finding.

    Attributes:
        kind: One of :data:`KINDS`.
        message: A sentence naming the entry and what is wrong with it.
        image_id: The image concerned, if any.
        annotation_id: The annotation concerned, if any.
    """

    kind: str
    message: str
    image_id: Any = None
    annotation_id: Any = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.image_id is not None:
            record["image_id"] = self.image_id
        if self.annotation_id is not None:
            record["annotation_id"] = self.annotation_id
        return record


@dataclass
class ValidationReport:
    """Everything :func:`validate_path` found.

    Attributes:
        path: The path checked, as given.
        readable: False when the path could not be read as a JSON object at all.
        counts: Number of ``images``, ``annotations`` and ``categories`` entries.
        problems: Every problem, in the order found.
    """

    path: str
    readable: bool = True
    counts: dict[str, int] = field(
        default_factory=lambda: {"images": 0, "annotations": 0, "categories": 0})
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.readable and not self.problems

    def problem_counts(self) -> dict[str, int]:
        """Problem kind -> how many, in :data:`KINDS` order, kinds with none left out."""
        counts = Counter(p.kind for p in self.problems)
        return {kind: counts[kind] for kind in KINDS if counts[kind]}

    def shown(self, max_per_kind: int | None) -> list[Problem]:
        """The problems to show: at most ``max_per_kind`` of each kind, grouped by kind."""
        result = []
        for kind in self.problem_counts():
            same = [p for p in self.problems if p.kind == kind]
            result.extend(same if max_per_kind is None else same[:max_per_kind])
        return result

    def to_dict(self, max_per_kind: int | None = None) -> dict[str, Any]:
        """The ``--json`` report; ``problem_counts`` always has the full totals."""
        return {"path": self.path, "ok": self.ok, "counts": dict(self.counts),
                "problem_counts": self.problem_counts(),
                "problems": [p.to_dict() for p in self.shown(max_per_kind)]}

    def to_text(self, max_per_kind: int | None = DEFAULT_MAX_PROBLEMS) -> str:
        """A human-readable report, one problem per line, grouped by kind."""
        c = self.counts
        lines = [f"{self.path}: {c['images']} images, {c['annotations']} annotations, "
                 f"{c['categories']} categories"]
        totals = self.problem_counts()
        shown = self.shown(max_per_kind)
        for kind, total in totals.items():
            listed = [p for p in shown if p.kind == kind]
            more = f", first {len(listed)} shown" if len(listed) < total else ""
            lines.append(f"{kind} ({total} problem{'s' if total != 1 else ''}{more}): "
                         f"{KINDS[kind]}")
            lines.extend(f"  {p.message}" for p in listed)
        if self.ok:
            lines.append("OK: no problems found")
        else:
            summary = ", ".join(f"{kind} {n}" for kind, n in totals.items())
            lines.append(f"FAILED: {len(self.problems)} problems ({summary})")
        return "\n".join(lines)


def in_one_line(problems: Sequence[Problem]) -> str:
    """``"N problem(s): first; second; third"`` (the first three messages): how a command
    that refuses a dataset (``mix``, ``real import``, ``export``) names what is wrong in
    its one ``Error:`` line, pointing to ``synthgen validate`` for the full list."""
    return f"{len(problems)} problem(s): " + "; ".join(p.message for p in problems[:3])


def validate_path(path: str | Path, *, image_root: str | Path | None = None,
                  check_files: bool = True) -> ValidationReport:
    """Check the COCO dataset at ``path``; never raises on bad data.

    Args:
        path: A COCO JSON file, or a folder holding ``annotations.json``.
        image_root: Folder the ``file_name`` entries are relative to; see
            :func:`synthgen.formats.dataset.image_root_for` for the default.
        check_files: Also check that image files exist and have the declared size.

    Returns:
        The report; ``readable`` is False when the path is missing, is not JSON, or its
        top level is not an object.
    """
    report = ValidationReport(path=str(path))
    try:
        # The messages of every dataset reader: they name the annotations file.
        annotation_file = find_annotation_file(path)
        data = read_document(annotation_file)
    except DatasetError as exc:
        return _unreadable(report, str(exc))
    root = Path(image_root) if image_root is not None else image_root_for(annotation_file)
    checked = validate_document(data, image_root=root, check_files=check_files, path=str(path))
    unfinished = unfinished_folder(annotation_file, root)
    if unfinished is not None:
        checked.problems.insert(0, Problem("unfinished", f"{unfinished}: {UNFINISHED_ADVICE}"))
    return checked


def _unreadable(report: ValidationReport, message: str) -> ValidationReport:
    report.readable = False
    report.problems.append(Problem("unreadable", message))
    return report


def validate_document(data: Any, *, image_root: Path | None, check_files: bool = True,
                      path: str = "<document>") -> ValidationReport:
    """Check a parsed COCO document; never raises on bad data.

    Args:
        data: The parsed JSON.
        image_root: Folder the ``file_name`` entries are relative to (needed only with
            ``check_files``).
        check_files: Also check the image files (skipped when ``image_root`` is None).
        path: Name of the document in the report.

    Returns:
        The report.
    """
    report = ValidationReport(path=path)
    if not isinstance(data, dict):
        return _unreadable(report, f"{path}: expected a JSON object at the top level, "
                                   f"found {json_type_name(data)}")
    checker = _Checker(report)
    lists = {key: checker.top_list(data, key) for key in ("images", "annotations", "categories")}
    report.counts = {key: len(value) for key, value in lists.items()}
    images = checker.images(lists["images"])
    categories = checker.categories(lists["categories"])
    checker.annotations(lists["annotations"], images, categories)
    if check_files and image_root is not None:
        checker.image_files(images, image_root)
    return report


class _Checker:
    """The checks, each adding :class:`Problem` entries to one report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        # Ids of entries already reported as malformed, and top-level lists that are not
        # lists: references to them are not reported a second time.
        self.broken: dict[str, set[Any]] = {"images": set(), "categories": set()}
        self.unusable: set[str] = set()
        # Images whose file_name leaves the image folder: their files are never opened.
        self.outside: set[Any] = set()

    def add(self, kind: str, message: str, *, image_id: Any = None,
            annotation_id: Any = None) -> None:
        self.report.problems.append(Problem(kind, message, image_id, annotation_id))

    def top_list(self, data: Mapping[str, Any], key: str) -> list[Any]:
        value = data.get(key)
        if isinstance(value, list):
            return value
        what = "missing" if key not in data else f"{json_type_name(value)}, not a list"
        self.add("structure", f"top level: {key!r} is {what}")
        self.unusable.add(key)
        return []

    def entry_fields(self, entry: Any, where: str, required: Mapping[str, tuple[Any, str]],
                     **ids: Any) -> bool:
        """Check that ``entry`` is an object with each required field passing its test."""
        if not isinstance(entry, dict):
            self.add("structure", f"{where}: expected an object, found {json_type_name(entry)}",
                     **ids)
            return False
        good = True
        for key, (test, expected) in required.items():
            if key not in entry:
                self.add("structure", f"{where}: missing {key!r} ({expected})", **ids)
                good = False
            elif not test(entry[key]):
                self.add("structure", f"{where}: {key!r} is {_short(entry[key])}, "
                                      f"expected {expected}", **ids)
                good = False
        return good

    def images(self, entries: list[Any]) -> dict[Any, dict[str, Any]]:
        """Valid image entries by id (first of duplicates)."""
        required = {"id": (_is_int, "an integer"),
                    "file_name": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
                    "width": (_is_image_side, f"a positive integer up to {MAX_IMAGE_SIDE}"),
                    "height": (_is_image_side, f"a positive integer up to {MAX_IMAGE_SIDE}")}
        good: dict[Any, dict[str, Any]] = {}
        for index, entry in enumerate(entries):
            image_id = _hashable_id(entry)
            where = f"images[{index}]" + (f" (id {image_id})" if image_id is not None else "")
            if not self.entry_fields(entry, where, required, image_id=image_id):
                # Its raw id, so that annotations naming it (an id of 1.0 as 1) are not
                # reported again as naming no image.
                self.broken["images"].add(_raw_id(entry))
                continue
            if image_id in good:
                self.add("duplicate_id", f"{where}: image id {image_id} is used more than once",
                         image_id=image_id)
                continue
            try:
                safe_relative_path(entry["file_name"], where)
            except DatasetError as exc:
                self.add("file_name", str(exc), image_id=image_id)
                self.outside.add(image_id)
            good[image_id] = entry
        return good

    def categories(self, entries: list[Any]) -> dict[Any, dict[str, Any]]:
        """Valid category entries by id."""
        required = {"id": (_is_int, "an integer"),
                    "name": (lambda v: isinstance(v, str) and v != "", "a non-empty string")}
        good: dict[Any, dict[str, Any]] = {}
        names: dict[str, Any] = {}
        for index, entry in enumerate(entries):
            cat_id = _hashable_id(entry)
            where = f"categories[{index}]" + (f" (id {cat_id})" if cat_id is not None else "")
            if not self.entry_fields(entry, where, required):
                self.broken["categories"].add(_raw_id(entry))
                continue
            if cat_id in good:
                self.add("duplicate_id", f"{where}: category id {cat_id} is used more than once")
                continue
            if cat_id <= 0:
                self.add("category_id", f"{where}: category id {cat_id} is not 1-based "
                                        "(COCO tools treat 0 as background)")
            if entry["name"] in names:
                self.add("duplicate_name", f"{where}: category name {entry['name']!r} is also "
                                           f"used by category id {names[entry['name']]}")
            names.setdefault(entry["name"], cat_id)
            good[cat_id] = entry
        return good

    def annotations(self, entries: list[Any], images: Mapping[Any, dict[str, Any]],
                    categories: Mapping[Any, dict[str, Any]]) -> None:
        required = {"id": (_is_int, "an integer"),
                    "image_id": (_is_int, "an integer"),
                    "category_id": (_is_int, "an integer"),
                    "bbox": (_is_box, "a list of 4 numbers [x, y, width, height]"),
                    "area": (_is_number, "a number"),
                    "iscrowd": (_is_int, "an integer (0 or 1)")}
        seen: set[Any] = set()
        for index, entry in enumerate(entries):
            ann_id = _hashable_id(entry)
            image_id = entry.get("image_id") if isinstance(entry, dict) else None
            image_id = image_id if _is_int(image_id) else None
            ids = {"image_id": image_id, "annotation_id": ann_id}
            where = f"annotations[{index}]" + (f" (id {ann_id})" if ann_id is not None else "")
            if not self.entry_fields(entry, where, required, **ids):
                continue
            if ann_id in seen:
                self.add("duplicate_id", f"{where}: annotation id {ann_id} is used more than once",
                         **ids)
                continue
            seen.add(ann_id)
            if ann_id <= 0:
                # COCOeval records a detection's matched ground truth by id, 0 for none:
                # a match to id 0 would be scored as a false positive.
                self.add("annotation_id", f"{where}: annotation id {ann_id} is not positive "
                                          "(COCOeval reads id 0 as no match)", **ids)
            image = images.get(image_id)
            if image is None and self.dangling("images", image_id):
                self.add("reference", f"{where}: image_id {image_id} names no image", **ids)
            category_id = entry["category_id"]
            if category_id not in categories and self.dangling("categories", category_id):
                self.add("reference", f"{where}: category_id {category_id} names no category",
                         **ids)
            if entry["iscrowd"] not in (0, 1):
                self.add("iscrowd", f"{where}: iscrowd is {entry['iscrowd']}, expected 0 or 1",
                         **ids)
            self.annotation_geometry(entry, image, where, ids)

    def dangling(self, key: str, ref: Any) -> bool:
        """Whether a reference to ``key`` that resolved to nothing is a new problem."""
        return key not in self.unusable and ref not in self.broken[key]

    def annotation_geometry(self, ann: dict[str, Any], image: dict[str, Any] | None, where: str,
                            ids: dict[str, Any]) -> None:
        """Box, area and segmentation checks of one structurally valid annotation."""
        box = [_as_float(v) for v in ann["bbox"]]
        area = _as_float(ann["area"])
        if not all(v is not None and math.isfinite(v) for v in box):
            self.add("bbox", f"{where}: bbox {_short(ann['bbox'])} is not finite", **ids)
            return
        x, y, w, h = box  # type: ignore[misc]
        if w <= 0 or h <= 0:
            self.add("bbox", f"{where}: bbox {_short(ann['bbox'])} has no width or height "
                             "(w and h must be > 0)", **ids)
            return
        if image is not None:
            self.box_inside(x, y, w, h, image, where, ids)
        if area is None or not math.isfinite(area) or area <= 0:
            self.add("area", f"{where}: area {_short(ann['area'])} is not a positive number",
                     **ids)
            area = None
        elif area > w * h * (1 + AREA_TOLERANCE):
            self.add("area", f"{where}: area {area:g} is larger than its box "
                             f"({w:g} x {h:g} = {w * h:g})", **ids)
            area = None
        segmentation = ann.get("segmentation")
        if segmentation is not None:
            self.segmentation(segmentation, (x, y, w, h), area, image, where, ids)

    def box_inside(self, x: float, y: float, w: float, h: float, image: Mapping[str, Any],
                   where: str, ids: dict[str, Any]) -> None:
        width, height = image["width"], image["height"]
        if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + w > width + BOX_TOLERANCE
                or y + h > height + BOX_TOLERANCE):
            self.add("bbox_outside", f"{where}: bbox [{x:g}, {y:g}, {w:g}, {h:g}] (right "
                                     f"{x + w:g}, bottom {y + h:g}) extends past the "
                                     f"{width}x{height} image", **ids)

    def segmentation(self, segmentation: Any, box: tuple[float, float, float, float],
                     area: float | None, image: Mapping[str, Any] | None, where: str,
                     ids: dict[str, Any]) -> None:
        if isinstance(segmentation, list):
            if not all(_is_polygon(p) for p in segmentation):
                self.add("structure", f"{where}: segmentation polygons must be lists of at "
                                      "least 6 finite numbers (x, y pairs)", **ids)
            return
        if not isinstance(segmentation, dict):
            self.add("structure", f"{where}: segmentation is {json_type_name(segmentation)}, "
                                  "expected an RLE object or a list of polygons", **ids)
            return
        try:
            counts, (mask_h, mask_w) = rle_counts(segmentation)
        except ValueError as exc:
            self.add("segmentation", f"{where}: RLE segmentation is malformed ({exc})", **ids)
            return
        if image is not None and [mask_h, mask_w] != [image["height"], image["width"]]:
            self.add("segmentation", f"{where}: RLE size [h, w] = [{mask_h}, {mask_w}] differs "
                                     f"from the image ({image['height']}, {image['width']})",
                     **ids)
            return
        pixels, bounds = rle_area_and_bounds(counts, mask_h)
        if pixels == 0:
            self.add("segmentation", f"{where}: RLE mask is empty", **ids)
            return
        if area is not None and abs(area - pixels) > 1e-6:
            self.add("segmentation", f"{where}: area {area:g} differs from the RLE mask's "
                                     f"{pixels} pixels", **ids)
        x, y, w, h = box
        mx, my, mw, mh = bounds
        if max(abs(x - mx), abs(y - my), abs(x + w - mx - mw),
               abs(y + h - my - mh)) > MASK_BOX_TOLERANCE:
            self.add("segmentation", f"{where}: bbox [{x:g}, {y:g}, {w:g}, {h:g}] differs from "
                                     f"the RLE mask's bounds [{mx}, {my}, {mw}, {mh}] by more "
                                     f"than {MASK_BOX_TOLERANCE:g} px", **ids)

    def image_files(self, images: Mapping[Any, dict[str, Any]], root: Path) -> None:
        sizes: dict[Path, tuple[int, int] | str] = {}
        for image_id, image in images.items():
            if image_id in self.outside:
                continue
            path = root / image["file_name"]
            if path not in sizes:
                sizes[path] = _read_size(path)
            size = sizes[path]
            where = f"image {image_id} ({path})"
            if size == "missing":
                self.add("image_missing", f"{where}: file not found", image_id=image_id)
            elif isinstance(size, str):
                self.add("image_unreadable", f"{where}: not a readable image ({size})",
                         image_id=image_id)
            elif size != (image["width"], image["height"]):
                self.add("image_size", f"{where}: file is {size[0]}x{size[1]} but the entry "
                                       f"says {image['width']}x{image['height']}",
                         image_id=image_id)


def _read_size(path: Path) -> tuple[int, int] | str:
    """``(width, height)`` from the image header, ``"missing"``, or why it is unreadable.

    Only a regular file is opened: a FIFO would block and a device never end.
    """
    try:
        handle = open_regular(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except NotRegularFileError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot open: {exc.strerror or exc}"
    except ValueError:  # a NUL in the name
        return "missing"
    try:
        with handle:  # any size: nothing is decoded (see read_header)
            header = read_header(handle)
    except UnidentifiedImageError:  # Pillow's wording, which named the file object
        return "cannot identify image file"
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a finding, not a crash
        return " ".join(str(exc).split()) or type(exc).__name__
    return header.width, header.height


def rle_counts(rle: Mapping[str, Any]) -> tuple[list[int], tuple[int, int]]:
    """The run lengths and ``(height, width)`` of a COCO RLE object.

    Args:
        rle: ``{"size": [h, w], "counts": ...}`` with ``counts`` either a list of run
            lengths (uncompressed) or pycocotools' compressed string.

    Returns:
        The run lengths (alternating background, foreground, starting with background)
        and the size.

    Raises:
        ValueError: The object is malformed, or its runs do not cover ``h * w`` pixels.
    """
    size = rle.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_positive_int(v) for v in size)):
        raise ValueError(f"'size' is {_short(size)}, expected [height, width] positive integers")
    counts = rle.get("counts")
    if isinstance(counts, str):
        runs = decode_rle_string(counts)
    elif isinstance(counts, list) and all(_is_int(v) and v >= 0 for v in counts):
        runs = list(counts)
    else:
        raise ValueError("'counts' must be a compressed RLE string or a list of non-negative "
                         "integers")
    height, width = size
    if sum(runs) != height * width:
        raise ValueError(f"runs cover {sum(runs)} pixels, the size says {height * width}")
    return runs, (height, width)


def decode_rle_string(text: str) -> list[int]:
    """Decode pycocotools' compressed RLE string into run lengths.

    The same algorithm as pycocotools' ``rleFrString``, in Python so that malformed
    input raises instead of reaching C code that trusts it: each run is 5-bit groups in
    characters from ``0`` (48) on, ``0x20`` meaning "more groups follow" and ``0x10``
    in the last group the sign; runs after the second are stored as the difference to
    the run two before.

    Raises:
        ValueError: A character is out of range, the string ends inside a run, or a run
            is negative.
    """
    runs: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise ValueError("compressed counts end in the middle of a run")
            code = ord(text[pos]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"invalid character {text[pos]!r} in compressed counts")
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            pos += 1
            shift += 5
            if not more and code & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise ValueError("compressed counts decode to a negative run")
        runs.append(value)
    return runs


def rle_area_and_bounds(runs: list[int], height: int) -> tuple[int, tuple[int, ...]]:
    """Pixel count and tight ``[x, y, w, h]`` bounds of a column-major RLE mask.

    Computed from the runs alone, without decoding the mask: a foreground run starting at
    flat index ``s`` covers columns ``s // height`` to ``(s + len - 1) // height``; a run
    spanning two or more columns touches both the first and the last row.
    """
    lengths = np.asarray(runs, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    fg_starts, fg_lengths = starts[1::2], lengths[1::2]
    keep = fg_lengths > 0
    fg_starts, fg_lengths = fg_starts[keep], fg_lengths[keep]
    if fg_starts.size == 0:
        return 0, (0, 0, 0, 0)
    ends = fg_starts + fg_lengths - 1
    first_col, last_col = fg_starts // height, ends // height
    x0, x1 = int(first_col.min()), int(last_col.max())
    if np.any(first_col != last_col):
        y0, y1 = 0, height - 1
    else:
        y0, y1 = int((fg_starts % height).min()), int((ends % height).max())
    return int(fg_lengths.sum()), (x0, y0, x1 - x0 + 1, y1 - y0 + 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


def _is_image_side(value: Any) -> bool:
    return _is_positive_int(value) and value <= MAX_IMAGE_SIDE


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_box(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)


def _is_polygon(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 6 and len(value) % 2 == 0
            and all((f := _as_float(v)) is not None and math.isfinite(f) for v in value))


def _as_float(value: Any) -> float | None:
    """``value`` as a float; None for non-numbers and integers too large for a float."""
    if not _is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _hashable_id(entry: Any) -> Any:
    """The entry's ``id`` when it is an integer (usable as a key), else None."""
    if isinstance(entry, dict) and _is_int(entry.get("id")):
        return entry["id"]
    return None


def _raw_id(entry: Any) -> Any:
    """The entry's ``id`` as given when it can be a set member, else None."""
    value = entry.get("id") if isinstance(entry, dict) else None
    try:
        hash(value)
    except TypeError:
        return None
    return value


def _short(value: Any, limit: int = 60) -> str:
    """A value for a message, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
