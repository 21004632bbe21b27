"""Reading human-labelled sets (KITTI, COCO) into synthgen's dataset layout.

``synthgen real import`` turns a real set into a folder shaped like the output of
``synthgen generate``: ``images/`` (links to the source files), ``annotations.json``
(COCO, synthgen's fixed 1-based categories, every image tagged ``"source": "real"``) and
``manifest.json`` (version, options, source path as given, format, mapping, counts).

The label pipeline, in one place:

1. **read** the source labels as they are: one :class:`RealObject` per KITTI label line or
   COCO annotation, its box a :class:`~synthgen.formats.boxes.Box` of pixel edges (KITTI's
   ``left, top, right, bottom`` as they are; COCO's ``[x, y, w, h]`` through
   :meth:`~synthgen.formats.boxes.Box.from_xywh`), and each image's size read from the
   image file header (PIL; pixels are never decoded);
2. **map** the source category name to a target through a :class:`CategoryMapper`: a
   synthgen category, :data:`IGNORE` or :data:`DROP`. The user's ``--map`` file wins over
   the built-in table (:data:`KITTI_MAPPING` or :data:`COCO_SYNONYMS`); a name that
   neither knows is dropped and counted per name;
3. **clip** the box to the image, ``[0, width] x [0, height]``;
4. **filter**: a box that is not finite or has no width or height after clipping is
   dropped and counted (``invalid_boxes``);
5. **convert** to COCO ``[x, y, w, h]`` (:meth:`~synthgen.formats.boxes.Box.to_xywh`).
   Masks are not carried over; ``area`` is the source's own where it has one (a COCO
   set's mask area, which ``COCOeval`` sorts objects into small, medium and large by),
   scaled by the share of its box that clipping kept, and ``w * h`` where it has none
   (KITTI).

KITTI boxes are 0-based pixel coordinates of the box edges, as the KITTI devkit uses
them (its box height is ``bottom - top``, no ``+ 1``); synthgen keeps that convention, so
a KITTI box ending on the last pixel column keeps ``right = width - 1``.

Ignore regions: an object mapped to :data:`IGNORE` becomes a crowd annotation
(``iscrowd: 1``). COCO requires a category on every annotation, and ``COCOeval`` only
ignores detections *of that category* inside a crowd region, so one category has to be
chosen: :data:`IGNORE_CATEGORY` (``car``), the class KITTI's DontCare regions mostly hide
(distant, small vehicles). Detections of other classes there still count as false
positives. Crowd annotations from a COCO source keep their own (mapped) category.

The source set is only ever read: image files are hard-linked into ``images/`` where the
file system allows, symlinked (absolute target) otherwise, or copied with ``copy=True``,
and an output folder that overlaps the source is refused.

Reading and mapping serve other commands too: :func:`read_real_set` reads either format
as labelled objects of synthgen's classes (a :class:`RealSet`), for ``synthgen fit``
(:mod:`synthgen.analysis.fit`) and the ``--sprites`` bank
(:mod:`synthgen.datasets.cutouts`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from stat import S_ISDIR, S_ISFIFO, S_ISREG
from typing import Any, Final, NoReturn

import yaml
from PIL import Image, UnidentifiedImageError

from synthgen import __version__
from synthgen.categories import (
    CATEGORY_ID,
    CATEGORY_NAME,
    CATEGORY_NAMES,
    coco_categories,
    name_key,
)
from synthgen.errors import DatasetError, OutputError
from synthgen.formats.boxes import Box
from synthgen.formats.dataset import (
    ANNOTATIONS_FILE,
    IMAGES_DIR,
    CocoDataset,
    is_pseudo_labelled,
    is_synthetic_image,
    load_dataset,
    refuse_unfinished,
    refuse_unfinished_input,
)
from synthgen.formats.manifest import MANIFEST_FILE, REAL_IMPORT, VERSION, command_of, header
from synthgen.formats.validate import STRUCTURAL_KINDS, in_one_line, validate_document
from synthgen.scene.yamlload import load_yaml
from synthgen.storage.files import (
    UNFINISHED_DIR,
    NotRegularFileError,
    new_output_dir,
    read_json,
    read_json_or_fail,
    read_text_or_fail,
    refuse_overlap,
    write_json_atomic,
    writing_output_dir,
)
from synthgen.storage.images import image_digests, place_images, read_header

log = logging.getLogger(__name__)

#: Target meaning "keep as an ignore region" (crowd annotation of :data:`IGNORE_CATEGORY`).
IGNORE: Final = "ignore"
#: Target meaning "leave the object out" (counted per source name in the manifest).
DROP: Final = "drop"
#: The category of ignore regions (see the module docstring for why one is needed).
IGNORE_CATEGORY: Final = "car"
FORMATS: Final = ("kitti", "coco")

#: KITTI object type -> target. Every KITTI type is listed; Person_sitting has no
#: synthgen class of its own and is counted as a pedestrian.
KITTI_MAPPING: Final[dict[str, str]] = {
    "Car": "car",
    "Van": "car",
    "Truck": "truck",
    "Pedestrian": "pedestrian",
    "Person_sitting": "pedestrian",
    "Cyclist": "cyclist",
    "Tram": IGNORE,
    "Misc": IGNORE,
    "DontCare": IGNORE,
}

#: synthgen category -> COCO category names that mean it (compared through
#: :func:`name_key`, so case, spaces, underscores and hyphens do not matter). A synthgen
#: (and KITTI) cyclist box holds rider and bicycle; of COCO-style names, ``rider`` (the
#: person on it, BDD100K and Cityscapes) comes closest. ``bicycle``/``bike`` boxes hold the
#: bicycle alone, parked ones too, so they are dropped unless ``--map`` says otherwise.
COCO_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "car": ("car", "van"),
    "truck": ("truck",),
    "bus": ("bus",),
    "pedestrian": ("pedestrian", "person", "people"),
    "cyclist": ("cyclist", "bicyclist", "rider"),
    "traffic_light": ("traffic light", "traffic signal"),
    "traffic_sign": ("traffic sign", "stop sign"),
}

#: The 15 fields of a KITTI label line, in order.
#: KITTI's known occlusion levels, synthgen's ``occluded`` (3 means unknown in KITTI).
KITTI_OCCLUSION_LEVELS: Final = (0, 1, 2)
KITTI_FIELDS: Final = ("type", "truncated", "occluded", "alpha", "left", "top", "right",
                       "bottom", "height", "width", "length", "x", "y", "z", "rotation_y")
KITTI_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg")
#: Decimal places kept in written boxes: removes float noise such as
#: ``810.73 - 712.40 = 98.33000000000004`` without touching real precision.
BOX_DECIMALS: Final = 6
#: Entries of the output folder this command writes (and may replace with --overwrite).
OWNED_OUTPUTS: Final = (IMAGES_DIR, ANNOTATIONS_FILE, MANIFEST_FILE, UNFINISHED_DIR)


class MappingError(DatasetError):
    """A ``--map`` file is missing, not YAML, or maps a name to an unknown target."""


_TARGET_BY_KEY: Final[dict[str, str]] = {
    **{name_key(name): name for name in CATEGORY_NAMES},
    IGNORE: IGNORE,
    DROP: DROP,
}


def load_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a ``--map`` YAML file: ``source_name: target`` per line.

    Args:
        path: The YAML file. A target is a synthgen category name, ``ignore`` or ``drop``
            (compared through :func:`name_key`).

    Returns:
        Source name (as written) -> canonical target.

    Raises:
        MappingError: The file is missing or unreadable, is not a YAML mapping, has a key
            that is not text, a target that is not known, or two keys that are the same
            name written differently.
    """
    try:
        text = read_regular_text(Path(path), "--map ")
    except DatasetError as exc:
        raise MappingError(str(exc)) from exc
    try:
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"--map {path}: not valid YAML ({_one_line(exc)})") from exc
    if not isinstance(document, dict) or not document:
        raise MappingError(f"--map {path}: expected a YAML mapping 'source_name: target', "
                           f"found {_describe(document)}")
    expected = ", ".join((*CATEGORY_NAMES, IGNORE, DROP))
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key, value in document.items():
        if not isinstance(key, str) or not key.strip():
            raise MappingError(f"--map {path}: key {key!r} must be a category name (text); "
                               "quote names YAML reads as numbers or booleans")
        target = _TARGET_BY_KEY.get(name_key(value)) if isinstance(value, str) else None
        if target is None:
            raise MappingError(f"--map {path}: {key!r} maps to {value!r}; "
                               f"expected one of: {expected}")
        if name_key(key) in seen:
            raise MappingError(f"--map {path}: {seen[name_key(key)]!r} and {key!r} name the "
                               "same category (names are compared ignoring case, spaces, "
                               "'_' and '-')")
        seen[name_key(key)] = key
        mapping[key] = target
    return mapping


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _describe(value: Any) -> str:
    if value is None:
        return "an empty document"
    if isinstance(value, dict):
        return "an empty mapping"
    return f"a {type(value).__name__}"


class CategoryMapper:
    """Source category name -> target, the user's ``--map`` entries over a built-in table.

    Args:
        builtin: Source name -> target; names are compared through :func:`name_key`.
        user: The ``--map`` entries (see :func:`load_mapping`), or None.
    """

    def __init__(self, builtin: Mapping[str, str], user: Mapping[str, str] | None = None):
        self._builtin = {name_key(name): target for name, target in builtin.items()}
        self._user = {name_key(name): target for name, target in (user or {}).items()}
        self._user_names = {name_key(name): name for name in (user or {})}
        self.used: dict[str, str] = {}

    def target(self, name: str) -> str:
        """The target of a source name; :data:`DROP` for a name no table knows."""
        key = name_key(name)
        target = self._user.get(key, self._builtin.get(key, DROP))
        self.used[name] = target
        return target

    def knows(self, name: str) -> bool:
        """Whether the ``--map`` file or the built-in table names ``name``."""
        key = name_key(name)
        return key in self._user or key in self._builtin

    def unused_user_entries(self) -> list[str]:
        """``--map`` keys that matched no source category (probably typos)."""
        seen = {name_key(name) for name in self.used}
        return [name for key, name in self._user_names.items() if key not in seen]


def coco_synonym_table() -> dict[str, str]:
    """:data:`COCO_SYNONYMS` as a source name -> synthgen category table."""
    return {synonym: target for target, names in COCO_SYNONYMS.items() for synonym in names}


@dataclass(frozen=True)
class KittiBox3D:
    """The 3D fields of a KITTI label line, in KITTI's rectified camera coordinates
    (``x`` right, ``y`` down, ``z`` forward, metres; angles in radians).

    Attributes:
        height: Object height ``h``.
        width: Object width ``w``.
        length: Object length ``l``.
        x: Lateral position of the bottom centre.
        y: Vertical position of the bottom centre (down is positive: a car on the road
            ahead of a camera 1.65 m up has ``y`` about 1.65).
        z: Depth of the bottom centre.
        rotation_y: Heading about the camera's ``y`` axis; the object's length axis
            points along ``(cos r, 0, -sin r)``, so ``-pi/2`` drives away from the camera.
        alpha: Observation angle.
    """

    height: float
    width: float
    length: float
    x: float
    y: float
    z: float
    rotation_y: float
    alpha: float


@dataclass
class RealObject:
    """One labelled object as the source has it, before mapping and clipping.

    Attributes:
        name: Category name in the source (KITTI type or COCO category name).
        box: Box edges in pixels, as the source gives them.
        iscrowd: Whether the source already marks it as a crowd region.
        area: The source's area of the object (COCO: of its mask), if it gives one.
        extra: Fields carried into the COCO annotation unchanged.
        box3d: KITTI's 3D fields where the line has them (not DontCare); never written
            by ``real import``, read by ``synthgen fit``.
    """

    name: str
    box: Box
    iscrowd: bool = False
    area: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    box3d: KittiBox3D | None = None


@dataclass
class RealImage:
    """One source image and its objects.

    Attributes:
        path: The image file in the source.
        file_name: Its name under the output ``images/`` folder (a relative POSIX path).
        width: Width read from the file header.
        height: Height read from the file header.
        extra: Fields carried into the COCO image entry (provenance).
        objects: Its labelled objects.
    """

    path: Path
    file_name: str
    width: int
    height: int
    extra: dict[str, Any] = field(default_factory=dict)
    objects: list[RealObject] = field(default_factory=list)


@dataclass
class ImportSummary:
    """What ``real import`` wrote, for the command's summary line and the manifest."""

    images: int = 0
    annotations: int = 0
    ignore_regions: int = 0
    per_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORY_NAMES, 0))
    dropped: dict[str, int] = field(default_factory=dict)
    invalid_boxes: int = 0
    links: dict[str, int] = field(default_factory=dict)
    unused_map_entries: list[str] = field(default_factory=list)
    #: ``--append`` only: the first new image id, and how many new images were renamed.
    first_id: int = 1
    renamed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"images": self.images, "annotations": self.annotations,
                "ignore_regions": self.ignore_regions, "per_class": dict(self.per_class),
                "dropped": dict(self.dropped), "invalid_boxes": self.invalid_boxes,
                "links": dict(self.links)}


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image file, as stored, from its header only (any size:
    see :func:`synthgen.storage.images.read_header`). Only a regular file is opened (a FIFO
    would block the reader for ever, see :func:`synthgen.storage.files.open_regular`).

    Raises:
        DatasetError: The file is missing, not a regular file, or not an image PIL can
            read.
    """
    try:
        header = read_header(path)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: image file not found") from exc
    except NotRegularFileError as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    except UnidentifiedImageError as exc:  # Pillow's wording, which named the file object
        raise DatasetError(f"{path}: cannot read as an image (cannot identify image "
                           "file)") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{path}: cannot read as an image ({_one_line(exc)})") from exc
    return header.width, header.height


def read_regular_text(path: Path, what: str = "") -> str:
    """The UTF-8 text of ``path``, read only if it is a regular file (see
    :func:`synthgen.storage.files.open_regular`).

    Args:
        path: The file.
        what: Put before the path in messages (``"--map "``).

    Raises:
        DatasetError: It is missing, not a regular file, unreadable or not UTF-8.
    """
    return read_text_or_fail(path, DatasetError, prefix=what)


# --------------------------------------------------------------------------- same files


#: Bytes read from the start of two same-size files before hashing them whole.
_HEAD = 4096


def same_images(paths: Sequence[Path], n_first: int) -> list[list[int]]:
    """Groups of two or more indices into ``paths`` (each ascending) that are one file
    (same device and inode) or files with the same bytes, among the groups that hold one
    of the first ``n_first`` paths; unreadable paths are left out.

    Files are compared by size, then by the SHA-256 of their first 4 KiB, and only then
    whole, and only where a group could hold one of the first ``n_first``: a set of
    100,000 images is stat'ed, not read. Paths that are not regular files are left out.
    A photo and the copy :func:`synthgen.storage.images.place_images` made of it with its
    EXIF orientation reset are the same image (same size; digests of the reset bytes).
    """
    by_file: dict[tuple[int, int], list[int]] = {}  # every path of each file, ascending
    size_of: dict[tuple[int, int], int] = {}
    for index, path in enumerate(paths):
        try:
            stat = path.stat()
        except OSError:
            continue
        if not S_ISREG(stat.st_mode):
            continue  # a FIFO or device would block or never end the comparison
        key = (stat.st_dev, stat.st_ino)
        by_file.setdefault(key, []).append(index)
        size_of[key] = stat.st_size
    candidates: dict[Any, list[tuple[int, int]]] = {}
    for key, size in size_of.items():
        candidates.setdefault(size, []).append(key)
    for digest in (_head_digest, _image_digest):
        narrowed: dict[Any, list[tuple[int, int]]] = {}
        for group, keys in candidates.items():
            if len(keys) < 2 or min(by_file[key][0] for key in keys) >= n_first:
                continue
            for key in keys:
                with contextlib.suppress(OSError):
                    narrowed.setdefault((group, digest(paths[by_file[key][0]])), []).append(key)
        candidates = narrowed
    groups = [sorted(i for key in keys for i in by_file[key])
              for keys in candidates.values() if len(keys) > 1]
    merged = {key for keys in candidates.values() if len(keys) > 1 for key in keys}
    groups += [indices for key, indices in by_file.items()
               if len(indices) > 1 and key not in merged and indices[0] < n_first]
    return [group for group in groups if group[0] < n_first]


def _head_digest(path: Path) -> str:
    return image_digests(path, _HEAD)[0]


def _image_digest(path: Path) -> str:
    return image_digests(path)[0]


# --------------------------------------------------------------------------- KITTI


def find_kitti_folders(src: Path) -> tuple[Path, Path]:
    """The ``image_2`` and ``label_2`` folders of a KITTI set.

    Args:
        src: The KITTI root (holding ``training/``) or the folder holding ``image_2/``
            and ``label_2/`` directly.

    Raises:
        DatasetError: Neither layout is there.
    """
    for base in (src / "training", src):
        if (base / "image_2").is_dir() and (base / "label_2").is_dir():
            return base / "image_2", base / "label_2"
    if not src.exists():
        raise DatasetError(f"{src}: no such folder")
    raise DatasetError(f"{src}: not a KITTI set; expected training/image_2/ and "
                       "training/label_2/ (or image_2/ and label_2/) in it")


def is_kitti_set(src: Path) -> bool:
    """Whether ``src`` has KITTI's folders (see :func:`find_kitti_folders`)."""
    try:
        find_kitti_folders(src)
    except DatasetError:
        return False
    return True


def parse_kitti_label(path: Path) -> list[RealObject]:
    """Read one KITTI ``label_2`` file.

    Args:
        path: The ``.txt`` file; blank lines are skipped.

    Returns:
        One object per line, with ``kitti_type``, ``truncation`` (float, where 0-1) and
        ``occluded`` (int, where one of :data:`KITTI_OCCLUSION_LEVELS`) as extra fields,
        and its :class:`KittiBox3D` where the 3D fields hold one (positive finite size,
        finite position in front of the camera; DontCare's -1/-1000 values do not).

    Raises:
        DatasetError: The file cannot be read or is not a regular file, a line does not
            have the 15 fields or a field is not a number.
    """
    text = read_regular_text(path)
    objects = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(KITTI_FIELDS):
            raise DatasetError(f"{path}:{lineno}: expected {len(KITTI_FIELDS)} space-separated "
                               f"fields ({' '.join(KITTI_FIELDS)}), found {len(fields)}")
        values = []
        for name, raw in zip(KITTI_FIELDS[1:], fields[1:], strict=True):
            try:
                values.append(float(raw))
            except ValueError:
                raise DatasetError(f"{path}:{lineno}: field {name!r} is {raw!r}, "
                                   "expected a number") from None
        truncated, occluded, _alpha, left, top, right, bottom = values[:7]
        if not occluded.is_integer():
            raise DatasetError(f"{path}:{lineno}: field 'occluded' is {fields[2]!r}, "
                               "expected an integer")
        extra: dict[str, Any] = {"kitti_type": fields[0]}
        # DontCare lines hold -1 for both; an occlusion level of 3 is KITTI's "unknown".
        if 0 <= truncated <= 1:
            extra["truncation"] = truncated
        if int(occluded) in KITTI_OCCLUSION_LEVELS:
            extra["occluded"] = int(occluded)
        objects.append(RealObject(name=fields[0], box=Box(left, top, right, bottom),
                                  extra=extra, box3d=_box3d(values)))
    return objects


def _box3d(values: list[float]) -> KittiBox3D | None:
    """The 3D box of a parsed label line (the 14 numbers after the type), if it has a
    plausible one: finite, sizes above 0 and at most 30 m, in front of the camera with
    ``|x|``, ``|y|`` and ``z`` at most 500 m. A box beyond that (a typo, a corrupt line)
    keeps its 2D box but has no 3D fields."""
    max_dimension, max_location = 30.0, 500.0
    alpha = values[2]
    height, width, length, x, y, z, rotation_y = values[7:14]
    if not all(math.isfinite(v) for v in values[2:14]):
        return None
    if min(height, width, length) <= 0 or z <= 0:
        return None
    if max(height, width, length) > max_dimension or max(abs(x), abs(y), z) > max_location:
        return None
    return KittiBox3D(height=height, width=width, length=length, x=x, y=y, z=z,
                      rotation_y=rotation_y, alpha=alpha)


def read_kitti(src: Path) -> list[RealImage]:
    """Read a KITTI object set: every image of ``image_2`` with its ``label_2`` file.

    Args:
        src: See :func:`find_kitti_folders`.

    Returns:
        The images in file-name order.

    Raises:
        DatasetError: The layout is wrong, the folder is unfinished (an ``export --format
            kitti`` stopped or still writing), an image has no label file or a label file
            no image, an image or label entry is not a regular file (a FIFO, a folder, a
            broken link), or a file cannot be read.
    """
    image_dir, label_dir = find_kitti_folders(src)
    refuse_unfinished_input(src)
    images = {p.stem: p for p in sorted(image_dir.iterdir())
              if p.suffix.lower() in KITTI_IMAGE_SUFFIXES and _regular_entry(p)}
    labels = {p.stem: p for p in sorted(label_dir.iterdir())
              if p.suffix == ".txt" and _regular_entry(p)}
    _require_same_stems(images, labels, image_dir, label_dir)
    result = []
    for stem, path in images.items():
        width, height = image_size(path)
        result.append(RealImage(
            path=path, file_name=path.name, width=width, height=height,
            extra={"source_file": path.relative_to(src).as_posix()},
            objects=parse_kitti_label(labels[stem]),
        ))
    return result


def _regular_entry(path: Path) -> bool:
    """True for an entry of a KITTI folder that is a regular file (links followed).

    Raises:
        DatasetError: It is a FIFO (which would block the reader for ever), a folder, a
            device or a socket, or a link to nothing.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        why = "a link to nothing" if path.is_symlink() else (exc.strerror or str(exc))
        raise DatasetError(f"{path}: cannot read ({why})") from exc
    if not S_ISREG(mode):
        kind = ("a folder" if S_ISDIR(mode) else "a FIFO (named pipe)" if S_ISFIFO(mode)
                else "a device or a socket")
        raise DatasetError(f"{path}: {kind}, not a regular file")
    return True


def _require_same_stems(images: Mapping[str, Path], labels: Mapping[str, Path],
                        image_dir: Path, label_dir: Path) -> None:
    """Refuse images without a label file and label files without an image, saying
    which is missing where."""
    if not images:
        raise DatasetError(f"{image_dir}: no {'/'.join(KITTI_IMAGE_SUFFIXES)} images")
    for have, want, where, other, what, owners in (
            (images, labels, label_dir, image_dir, "label file", "image(s)"),
            (labels, images, image_dir, label_dir, "image", "label file(s)")):
        missing = sorted(set(have) - set(want))
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DatasetError(f"{where}: no {what} for {len(missing)} {owners} of "
                               f"{other.name}/: {shown} (every image needs a label file and "
                               "every label file an image)")


# --------------------------------------------------------------------------- COCO


def read_coco(src: Path, images_dir: Path | None = None) -> tuple[list[RealImage], list[str]]:
    """Read a COCO set: a JSON file, or a folder holding ``annotations.json``.

    Args:
        src: The file or folder.
        images_dir: Folder the ``file_name`` entries are relative to; by default
            ``images/`` beside the JSON file if it exists, else the file's own folder.

    Returns:
        The images in id order, and the names of every source category (so categories
        without annotations are reported too).

    Raises:
        DatasetError: An unfinished folder (see :func:`synthgen.formats.dataset.refuse_unfinished`),
            unreadable JSON, a document that is not structurally COCO (types, unique ids,
            references), an unsafe ``file_name``, a missing image or one that is not a
            regular file, or an image whose size differs from its entry.
    """
    refuse_unfinished_input(src)
    dataset = load_dataset(src)
    refuse_unfinished(dataset)
    root = dataset.image_root if images_dir is None else images_dir
    if not root.is_dir():
        raise DatasetError(f"--images {root}: no such folder")
    report = validate_document(dataset.data, image_root=None, check_files=False,
                               path=str(dataset.annotation_file))
    fatal = [p for p in report.problems if p.kind in STRUCTURAL_KINDS]
    if fatal:
        raise DatasetError(f"{dataset.annotation_file}: not a usable COCO file "
                           f"({in_one_line(fatal)}); "
                           "run `synthgen validate` on it for the full list")
    for entry in dataset.images:
        # Imported, a rendered image would pass for a real one (the fields that say what
        # it is are not carried over), and mix would validate and test on it.
        if is_synthetic_image(entry):
            raise DatasetError(
                f"{dataset.annotation_file}: image {entry['id']} ({entry.get('file_name')}) "
                "is synthetic (made by synthgen generate); real import is for human-labelled "
                "sets: give a synthetic set to mix with --synthetic as it is")
    names = dataset.category_names()
    images = [_coco_image(dataset, entry, root, names)
              for entry in sorted(dataset.images, key=lambda e: e["id"])]
    return images, list(names.values())


def _coco_image(dataset: CocoDataset, entry: dict[str, Any], root: Path,
                names: Mapping[int, str]) -> RealImage:
    """One image of a checked COCO set, its file under ``root`` (the dataset's image
    folder, or the one ``--images`` names) read for its size."""
    rel = dataset.relative_image_path(entry)
    path = root / rel
    # A detector's labels (``real pseudo-label``) stay marked as such, with their scores:
    # the benchmark refuses them as an evaluation set, and mix as val or test images.
    pseudo = is_pseudo_labelled(entry)
    width, height = image_size(path)
    if (width, height) != (entry["width"], entry["height"]):
        raise DatasetError(f"{dataset.annotation_file}: image {entry['id']} ({path}) is "
                           f"{width}x{height} pixels but its entry says "
                           f"{entry['width']}x{entry['height']}")
    objects = []
    for ann in dataset.annotations_for(entry["id"]):
        objects.append(RealObject(
            name=names[ann["category_id"]], box=Box.from_xywh(ann["bbox"]),
            iscrowd=ann["iscrowd"] == 1, area=ann["area"],
            extra={"source_id": ann["id"], "source_category": names[ann["category_id"]],
                   **({"score": ann["score"]} if pseudo and "score" in ann else {})},
        ))
    extra = {"source_id": entry["id"], "source_file": entry["file_name"]}
    if pseudo:
        extra["labels"] = "pseudo"
    return RealImage(path=path, file_name=rel.as_posix(), width=width, height=height,
                     extra=extra, objects=objects)


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class Observation:
    """One labelled object of the real set, mapped to a synthgen class.

    Attributes:
        image: Index of its image in :attr:`RealSet.images`.
        category: synthgen class.
        box: Box edges in pixels, as the source gives them.
        truncation: The source's truncation (0-1) if it gives one.
        box3d: KITTI's 3D box, if any.
    """

    image: int
    category: str
    box: Box
    truncation: float | None
    box3d: KittiBox3D | None


@dataclass
class RealSet:
    """A real set read as labelled objects (:func:`read_real_set`).

    Attributes:
        source: The path as the user gave it.
        format: ``"kitti"`` or ``"coco"``.
        images: The images (sizes, files).
        objects: Their non-ignored objects of synthgen classes.
        ignore_regions: Ignore regions / crowd annotations left out.
        dropped: Objects of no synthgen class, per source name.
    """

    source: str
    format: str
    images: list[RealImage]
    objects: list[Observation]
    ignore_regions: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def has_3d(self) -> bool:
        return any(o.box3d is not None for o in self.objects)

    def per_class(self) -> dict[str, int]:
        counts = Counter(o.category for o in self.objects)
        return {name: counts[name] for name in CATEGORY_NAMES}


def detect_format(src: Path) -> str:
    """``"kitti"`` when ``src`` has KITTI's folders, else ``"coco"``."""
    return "kitti" if is_kitti_set(src) else "coco"


def read_labelled_images(src: str, *, fmt: str = "auto", images_dir: str | None = None
                         ) -> tuple[str, list[RealImage], CategoryMapper]:
    """A real set's format, images with their objects as the source names them, and the
    mapper of those names to synthgen's classes (:data:`KITTI_MAPPING`,
    :data:`COCO_SYNONYMS`), as ``real import`` maps them.

    Args:
        src: A KITTI set in KITTI's layout, or a COCO file or folder.
        fmt: ``"kitti"``, ``"coco"`` or ``"auto"`` (:func:`detect_format`).
        images_dir: The image folder of a COCO set (see :func:`read_coco`).

    Raises:
        DatasetError: The set is missing or unreadable, a folder a synthgen command left
            unfinished, or one of its files is not a regular file (see
            :func:`read_kitti` and :func:`read_coco`); ``images_dir`` given for a KITTI
            set.
    """
    path = Path(src)
    try:
        if not path.exists():
            raise DatasetError(f"{src}: no such file or folder")
    except OSError as exc:  # a name too long, a folder it may not search
        raise DatasetError(f"{src}: cannot read ({exc.strerror or exc})") from None
    if fmt == "auto":
        fmt = detect_format(path)
    if images_dir is not None and fmt != "coco":
        raise DatasetError("--images applies to COCO sets only")
    if fmt == "kitti":
        return fmt, read_kitti(path), CategoryMapper(KITTI_MAPPING)
    images, _ = read_coco(path, Path(images_dir) if images_dir is not None else None)
    return fmt, images, CategoryMapper(coco_synonym_table())


def read_real_set(src: str, *, fmt: str = "auto", images_dir: str | None = None) -> RealSet:
    """Read a real set's images and labelled objects, mapped to synthgen's classes as
    ``real import`` maps them (:data:`KITTI_MAPPING`, :data:`COCO_SYNONYMS`); ignore
    regions and crowd annotations are counted, not kept. ``synthgen fit`` reads its set
    with it and ``generate --sprites`` its bank's (whose message says ``to cut out``
    where this one says ``to fit``). Arguments as :func:`read_labelled_images`.

    Raises:
        DatasetError: As :func:`read_labelled_images`, or the set holds no labelled
            object of a synthgen class.
    """
    fmt, images, mapper = read_labelled_images(src, fmt=fmt, images_dir=images_dir)
    objects: list[Observation] = []
    ignored, dropped = 0, Counter()
    for index, image in enumerate(images):
        for obj in image.objects:
            target = mapper.target(obj.name)
            if target == DROP:
                dropped[obj.name] += 1
            elif target == IGNORE or obj.iscrowd:
                ignored += 1
            else:
                objects.append(Observation(index, target, obj.box,
                                           obj.extra.get("truncation"), obj.box3d))
    if not objects:
        raise DatasetError(f"{src}: no labelled objects of synthgen's classes "
                           f"({', '.join(CATEGORY_NAMES)}) to fit; {len(images)} image(s), "
                           f"{ignored} ignore region(s), {sum(dropped.values())} other object(s)")
    return RealSet(source=src, format=fmt, images=images, objects=objects,
                   ignore_regions=ignored, dropped=dict(sorted(dropped.items())))


# --------------------------------------------------------------------------- convert


def clip_box(box: Box, width: int, height: int) -> list[float] | None:
    """Clip a box to the image and convert it to COCO ``[x, y, w, h]``.

    Returns:
        The box, rounded to :data:`BOX_DECIMALS`, or None when it is not finite or has no
        width or height inside the image.
    """
    if not box.is_finite():
        return None
    # Rounded after the conversion: the width is that of the clipped edges as they are.
    bbox = [round(v, BOX_DECIMALS) for v in box.clip(width, height).to_xywh()]
    if bbox[2] <= 0 or bbox[3] <= 0:
        return None
    return bbox


def _area(obj: RealObject, bbox: list[float]) -> float:
    """The annotation's ``area``: the source's, scaled by the share of its box kept by
    clipping (at most the box's area), else the box's area."""
    box_area = bbox[2] * bbox[3]
    source_box = obj.box.area
    if obj.area is None or not math.isfinite(obj.area) or obj.area <= 0 or source_box <= 0:
        return round(box_area, BOX_DECIMALS)
    return round(box_area * min(1.0, obj.area / source_box), BOX_DECIMALS)


def to_coco(images: list[RealImage], mapper: CategoryMapper, summary: ImportSummary, *,
            first_image_id: int = 1, first_annotation_id: int = 1) -> dict[str, Any]:
    """Map, clip and number the objects of ``images`` into a COCO document.

    Args:
        images: The source images, in output order (ids are given from
            ``first_image_id``).
        mapper: Decides each object's target.
        summary: Receives the counts (per class, dropped per source name, invalid boxes).
        first_image_id: The first image's id (``--append`` continues after the folder's).
        first_annotation_id: The first annotation's id.

    Returns:
        The COCO document (``images``, ``annotations``, ``categories``...).
    """
    coco_images, annotations = [], []
    dropped: Counter[str] = Counter()
    for image_id, image in enumerate(images, start=first_image_id):
        coco_images.append({"id": image_id, "file_name": image.file_name, "width": image.width,
                            "height": image.height, "source": "real", **image.extra})
        for obj in image.objects:
            target = mapper.target(obj.name)
            if target == DROP:
                dropped[obj.name] += 1
                continue
            bbox = clip_box(obj.box, image.width, image.height)
            if bbox is None:
                summary.invalid_boxes += 1
                continue
            crowd = target == IGNORE or obj.iscrowd
            category = IGNORE_CATEGORY if target == IGNORE else target
            annotations.append({
                "id": first_annotation_id + len(annotations), "image_id": image_id,
                "category_id": CATEGORY_ID[category], "bbox": bbox,
                "area": _area(obj, bbox), "iscrowd": int(crowd),
                **obj.extra,
            })
            if crowd:
                summary.ignore_regions += 1
            else:
                summary.per_class[category] += 1
    summary.images = len(coco_images)
    summary.annotations = len(annotations) - summary.ignore_regions
    summary.dropped = {name: dropped[name] for name in sorted(mapper.used)
                       if mapper.used[name] == DROP}
    return {"info": {"description": "real set imported by synthgen real import",
                     "version": __version__, "segmentation": "none"},
            "licenses": [], "images": coco_images, "annotations": annotations,
            "categories": coco_categories()}


# --------------------------------------------------------------------------- write


def import_real_set(src: str, out: str, *, fmt: str, map_file: str | None = None,
                    images_dir: str | None = None, copy: bool = False,
                    overwrite: bool = False, append: bool = False) -> ImportSummary:
    """Import a KITTI or COCO set into a synthgen dataset folder, or add it to one.

    Args:
        src: The source set, as the user gave it (recorded unchanged in the manifest).
        out: The output folder.
        fmt: ``"kitti"`` or ``"coco"``.
        map_file: Optional ``--map`` YAML file (see :func:`load_mapping`).
        images_dir: COCO only: folder the ``file_name`` entries are relative to.
        copy: Copy image files instead of linking them.
        overwrite: Replace what synthgen wrote in a non-empty ``out``.
        append: Add the images to ``out``, an earlier ``real import``'s folder (see
            :func:`append_real_set`).

    Returns:
        The counts written to the manifest (with ``append``: of the images added).

    Raises:
        DatasetError: The source or map file cannot be used; with ``append``, an image
            is already in ``out`` or twice in the source, or the mapping contradicts the
            one ``out`` was imported with.
        OutputError: ``out`` cannot be used.
    """
    if append and overwrite:
        raise OutputError("--append and --overwrite: give one (--overwrite replaces the "
                          "folder, --append adds to it)")
    if fmt not in FORMATS:
        raise DatasetError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if images_dir is not None and fmt != "coco":
        raise DatasetError("--images applies to --format coco only")
    user_map = load_mapping(map_file) if map_file is not None else None
    src_path = Path(src)
    if fmt == "kitti":
        images = read_kitti(src_path)
        mapper = CategoryMapper(KITTI_MAPPING, user_map)
    else:
        images, source_names = read_coco(src_path, _optional_path(images_dir))
        mapper = CategoryMapper(coco_synonym_table(), user_map)
        # Categories without annotations must still show up as dropped or mapped.
        for name in source_names:
            mapper.target(name)
    out_path = Path(out)
    refuse_overlap(out_path, [src_path, *sorted({image.path.parent for image in images})])
    options = {"format": fmt, "src": src, "out": out, "map": map_file, "images": images_dir,
               "copy": copy, "overwrite": overwrite}
    if append:
        return append_real_set(images, mapper, out_path, options)
    summary = ImportSummary()
    document = to_coco(images, mapper, summary)
    _warn_unused(mapper, summary, map_file)
    with new_output_dir(out_path, overwrite=overwrite, owned=OWNED_OUTPUTS):
        summary.links = place_images(((image.path, image.file_name) for image in images),
                                   out_path / IMAGES_DIR, copy=copy)
        write_json_atomic(out_path / ANNOTATIONS_FILE, document)
        write_json_atomic(out_path / MANIFEST_FILE, _manifest(
            src=src, out=out, fmt=fmt, map_file=map_file, images_dir=images_dir, copy=copy,
            overwrite=overwrite, mapper=mapper, summary=summary))
    return summary


def _warn_unused(mapper: CategoryMapper, summary: ImportSummary, map_file: str | None) -> None:
    summary.unused_map_entries = mapper.unused_user_entries()
    for name in summary.unused_map_entries:
        log.warning("--map %s: %r matches no category of the source", map_file, name)


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value is not None else None


def _manifest(*, src: str, out: str, fmt: str, map_file: str | None, images_dir: str | None,
              copy: bool, overwrite: bool, mapper: CategoryMapper,
              summary: ImportSummary) -> dict[str, Any]:
    return {
        **header(REAL_IMPORT),
        "options": {"format": fmt, "src": src, "out": out, "map": map_file,
                    "images": images_dir, "copy": copy, "overwrite": overwrite},
        "source": src,
        "format": fmt,
        "mapping": {
            "builtin": "KITTI_MAPPING" if fmt == "kitti" else "COCO_SYNONYMS",
            "file": map_file,
            "ignore_category": IGNORE_CATEGORY,
            "used": dict(sorted(mapper.used.items())),
            "unused_map_entries": summary.unused_map_entries,
        },
        "counts": summary.to_dict(),
    }


# --------------------------------------------------------------------------- append

#: Where ``--append`` stages the new annotations.json and manifest.json in the folder's
#: unfinished mark before swapping them in (see :func:`append_real_set`).
_STAGED = (ANNOTATIONS_FILE, MANIFEST_FILE)


def append_real_set(images: list[RealImage], mapper: CategoryMapper, out: Path,
                    options: dict[str, Any]) -> ImportSummary:
    """Add ``images`` to ``out``, a folder an earlier ``real import`` wrote.

    Existing images, their annotations, ids and files stay as they are: new images take
    ids after the largest image id, new annotations after the largest annotation id. A
    new image whose file name is taken gets ``-2``, ``-3``... before its suffix (its
    entry's ``source_file`` keeps the source's name). The source must hold only new
    images: an image whose bytes are already in ``out``, or twice in the source, is
    refused (compared as :func:`same_images` does, so mostly by size alone), and so is a
    source category mapped otherwise than in the earlier import(s).

    Writing keeps the folder usable at every moment: new files are linked into
    ``images/`` under names no entry uses, the new ``annotations.json`` and manifest are
    written into ``.partial/``, then the manifest is removed, the annotations are moved
    into place and the manifest last. Stopped before that swap, the folder is the old,
    finished one (the next ``--append`` replaces the unused files); stopped during it,
    the next ``--append`` finishes the swap first.

    Args:
        images: The source images, in source order.
        mapper: The mapping of this import (already applied to every category name).
        out: The folder.
        options: The command's options, recorded in the manifest.

    Returns:
        The counts of the images added, with ``first_id`` and ``renamed``.

    Raises:
        OutputError: ``out`` is not a finished ``real import`` folder, or another
            command is writing it.
        DatasetError: A duplicate image or a contradicting mapping.
    """
    _finish_interrupted_append(out)
    manifest, document = _read_import(out)
    if not images:
        raise DatasetError(f"{options['src']}: has no images to append")
    existing = document["images"]
    _refuse_known_images(images, [out / IMAGES_DIR / image["file_name"] for image in existing],
                         [image["file_name"] for image in existing], options["src"], out)
    taken = {image["file_name"] for image in existing}
    renamed = 0
    for index, image in enumerate(images):
        name = _free_name(image.file_name, taken)
        taken.add(name)
        if name != image.file_name:
            renamed += 1
            images[index] = dataclasses.replace(image, file_name=name)
    summary = ImportSummary()
    first_id = max((image["id"] for image in existing), default=0) + 1
    batch = to_coco(images, mapper, summary, first_image_id=first_id,
                    first_annotation_id=max((a["id"] for a in document["annotations"]),
                                            default=0) + 1)
    # After to_coco: mapping the objects is what fills mapper.used.
    _refuse_other_mapping(mapper, manifest, options["map"], out)
    _warn_unused(mapper, summary, options["map"])
    summary.first_id, summary.renamed = first_id, renamed
    merged = {**document, "images": existing + batch["images"],
              "annotations": document["annotations"] + batch["annotations"]}
    mark = out / UNFINISHED_DIR
    mark.mkdir(exist_ok=True)
    with writing_output_dir(out):
        for entry in _STAGED:  # an earlier append's, stopped before its swap
            (mark / entry).unlink(missing_ok=True)
        for image in images:
            # Not in annotations.json: a file an earlier, stopped append linked.
            (out / IMAGES_DIR / image.file_name).unlink(missing_ok=True)
        summary.links = place_images(((image.path, image.file_name) for image in images),
                                   out / IMAGES_DIR, copy=options["copy"])
        write_json_atomic(mark / ANNOTATIONS_FILE, merged)
        write_json_atomic(mark / MANIFEST_FILE, _appended_manifest(
            manifest, merged, summary, mapper, {**options, "append": True}))
        _swap_staged(out)
    return summary


def _read_import(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and annotations of a finished ``real import`` folder.

    Raises:
        OutputError: ``out`` is missing, unfinished, or another command's folder.
    """
    manifest_path = out / MANIFEST_FILE
    if not out.is_dir():
        raise OutputError(f"--out {out}: no such folder to append to; import the first "
                          "images without --append")
    if not manifest_path.is_file():
        why = (f"it holds {UNFINISHED_DIR}/: a synthgen command was stopped or is still "
               "writing it" if (out / UNFINISHED_DIR).is_dir()
               else "--append adds to a folder written by `synthgen real import`")
        raise OutputError(f"--out {out}: no {MANIFEST_FILE} ({why})")
    manifest = read_json_or_fail(manifest_path, OutputError, prefix="--out ")
    command = command_of(manifest)
    if command != REAL_IMPORT:
        raise OutputError(f"--out {manifest_path}: field 'command' is {command!r}, expected "
                          "'real import' (--append adds to a folder written by `synthgen "
                          "real import`)")
    _check_import_record(manifest_path, manifest)
    document = load_dataset(out).data
    return manifest, document


def _counts_of(value: Any) -> bool:
    """Whether ``value`` is an object of integer counts (none is fine)."""
    return value is None or (isinstance(value, dict)
                             and all(type(n) is int for n in value.values()))


def _check_import_record(manifest_path: Path, manifest: dict[str, Any]) -> None:
    """Refuse, before anything is written, a manifest whose fields an append reads are
    not what real import writes (an edited one).

    Raises:
        OutputError: Naming the field.
    """
    def refuse(field: str, expected: str) -> NoReturn:
        raise OutputError(f"--out {manifest_path}: field {field!r} is not {expected}; was "
                          "the manifest edited?")

    appended = manifest.get("appended", [])
    if not isinstance(appended, list):
        refuse("appended", "a list of batches")
    for where, record in [("(top level)", manifest),
                          *((f"appended[{i}]", batch) for i, batch in enumerate(appended))]:
        if not isinstance(record, dict):
            refuse(where, "an object")
        mapping = record.get("mapping") or {}
        if not isinstance(mapping, dict) or not isinstance(mapping.get("used") or {}, dict):
            refuse(f"{where}.mapping" if record is not manifest else "mapping",
                   "an object whose 'used' is an object")
    counts = manifest.get("counts") or {}
    if not isinstance(counts, dict):
        refuse("counts", "an object")
    for key in ("dropped", "links"):
        if not _counts_of(counts.get(key)):
            refuse(f"counts.{key}", "an object of integers")
    if type(counts.get("invalid_boxes", 0)) is not int:
        refuse("counts.invalid_boxes", "an integer")


def _refuse_other_mapping(mapper: CategoryMapper, manifest: dict[str, Any],
                          map_file: str | None, out: Path) -> None:
    """Refuse a source name this import maps otherwise than an earlier one did (one
    class would mean two things in one set).

    Raises:
        DatasetError: Naming the source name and both targets.
    """
    earlier: dict[str, tuple[str, str]] = {}
    for record in [manifest, *manifest.get("appended", [])]:
        used = (record.get("mapping") or {}).get("used") or {}
        for name, target in used.items():
            earlier.setdefault(name_key(name), (name, target))
    for name, target in mapper.used.items():
        if name_key(name) in earlier and earlier[name_key(name)][1] != target:
            then_name, then = earlier[name_key(name)]
            given = f"--map {map_file}" if map_file else "the built-in mapping"
            raise DatasetError(f"{given}: {name!r} maps to {target!r}, but {out} was imported "
                               f"with {then_name!r} mapped to {then!r} (its {MANIFEST_FILE}, "
                               "mapping.used); map it the same way, so that one class means "
                               "one thing in the whole set")


def _refuse_known_images(images: list[RealImage], existing: list[Path],
                         existing_names: list[str], src: str, out: Path) -> None:
    """Refuse an image of the source already in ``out`` or twice in the source.

    Raises:
        DatasetError: Naming the first duplicate and how many there are.
    """
    paths = [image.path for image in images] + existing
    groups = same_images(paths, len(images))
    if not groups:
        return
    known = [g for g in groups if g[-1] >= len(images)]
    if known:
        count = sum(len([i for i in g if i < len(images)]) for g in known)
        first = known[0]
        raise DatasetError(
            f"{src}: {paths[first[0]]} is already in {out} as {IMAGES_DIR}/"
            f"{existing_names[first[-1] - len(images)]} (the same file, a link or a byte "
            f"copy; {count} of the {len(images)} source image(s) are); --append adds new "
            "images only: give a source holding only the images not imported yet")
    first = groups[0]
    raise DatasetError(f"{src}: {paths[first[0]]} and {paths[first[1]]} are the same image "
                       "(the same file, a link or a byte copy); an image must be in a real "
                       "set once: remove the duplicate")


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``... the first not in ``taken``."""
    if name not in taken:
        return name
    path = PurePosixPath(name)
    number = 2
    while (candidate := path.with_name(f"{path.stem}-{number}{path.suffix}").as_posix()) in taken:
        number += 1
    return candidate


def _appended_manifest(manifest: dict[str, Any], document: dict[str, Any],
                       summary: ImportSummary, mapper: CategoryMapper,
                       options: dict[str, Any]) -> dict[str, Any]:
    """The manifest after an append: the first import's record as it was, this batch
    added to ``appended``, ``counts`` for the whole folder."""
    batch = {
        VERSION: __version__,
        "options": options,
        "source": options["src"],
        "format": options["format"],
        "mapping": {"file": options["map"], "used": dict(sorted(mapper.used.items())),
                    "unused_map_entries": summary.unused_map_entries},
        "image_ids": [summary.first_id, summary.first_id + summary.images - 1],
        "renamed": summary.renamed,
        "counts": summary.to_dict(),
    }
    before = manifest.get("counts") or {}
    per_class = dict.fromkeys(CATEGORY_NAMES, 0)
    ignore_regions = 0
    for ann in document["annotations"]:
        if ann["iscrowd"]:
            ignore_regions += 1
        else:
            per_class[CATEGORY_NAME[ann["category_id"]]] += 1

    def added(key: str) -> dict[str, int]:
        total = Counter(before.get(key) or {})
        total.update(getattr(summary, key))
        return dict(sorted(total.items()))

    counts = {"images": len(document["images"]), "annotations": sum(per_class.values()),
              "ignore_regions": ignore_regions, "per_class": per_class,
              "dropped": added("dropped"),
              "invalid_boxes": before.get("invalid_boxes", 0) + summary.invalid_boxes,
              "links": added("links")}
    return {**manifest, VERSION: __version__, "counts": counts,
            "appended": [*manifest.get("appended", []), batch]}


def _swap_staged(out: Path) -> None:
    """Move the staged annotations and manifest into place, manifest last (the folder
    looks unfinished, never finished but stale, while this runs)."""
    mark = out / UNFINISHED_DIR
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    if (mark / ANNOTATIONS_FILE).is_file():
        os.replace(mark / ANNOTATIONS_FILE, out / ANNOTATIONS_FILE)
    os.replace(mark / MANIFEST_FILE, out / MANIFEST_FILE)


def _finish_interrupted_append(out: Path) -> None:
    """Finish the swap of an append stopped during it (no manifest, a staged one)."""
    staged = out / UNFINISHED_DIR / MANIFEST_FILE
    if (out / MANIFEST_FILE).exists() or not staged.is_file():
        return
    try:
        command = command_of(read_json(staged))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return
    if command == REAL_IMPORT:
        with writing_output_dir(out):
            _swap_staged(out)
        log.warning("%s: finished an earlier --append that was stopped while swapping its "
                    "files in", out)
