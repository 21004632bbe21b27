"""What a detector sees in a COCO dataset, measured once for ``stats``, ``compare`` and ``fit``.

:func:`dataset_statistics` reads a :class:`~synthgen.formats.dataset.CocoDataset` into a
:class:`DatasetStats`: raw per-object and per-image samples (box sizes, objects per
image, visibility, camera values, image brightness...), categorical counts (classes,
occlusion levels, weather, time of day), box centres in normalised image coordinates and
pooled pixel histograms. The rest of this module summarises and bins those samples:
:func:`summarize`, :func:`histogram_moments`, and :func:`histogram_edges` /
:func:`histogram` / :func:`centre_heatmap` with edges shared between datasets so that real
and synthetic charts overlay. How far two measurements are apart is
:mod:`synthgen.analysis.distances`; how they are shown is :mod:`synthgen.analysis.report`.

Crowd annotations (``iscrowd: 1``: ignore regions such as KITTI's DontCare, and
synthgen's objects too small, occluded or faint to box) are counted apart and never enter
an object distribution. ``object_contrast`` is the distribution of the ``contrast`` synthgen
records on each box (how well the object stands out in its final image; see
:mod:`synthgen.labels`); sets that do not record it (real sets) have none. Image files
are read for a deterministic, evenly spaced sample of at most ``max_images`` images,
downscaled before measuring.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from synthgen.errors import DatasetError
from synthgen.formats.dataset import ANNOTATIONS_FILE, CocoDataset
from synthgen.storage.images import read_rgb

DEFAULT_IMAGE_SAMPLE = 200
#: Longest image side, in pixels, after downscaling and before measuring pixels.
MEASURE_MAX_SIDE = 256
#: Cells per side of the box-centre heatmap over the unit square.
HEATMAP_GRID = 16
#: Bins of the pooled luma and colour histograms over the levels 0..255.
PIXEL_BINS = 32
PIXEL_EDGES = np.linspace(0.0, 256.0, PIXEL_BINS + 1)
#: Bins of a 1-D histogram whose edges are chosen from the data.
DEFAULT_BINS = 30
#: Rec. 601 luma weights for R, G, B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
CHANNELS = ("red", "green", "blue")


@dataclass(frozen=True)
class Quantity:
    """A 1-D distribution measured per object or per image, and how to bin and name it.

    Attributes:
        key: Name in the JSON output and in :attr:`DatasetStats.samples`.
        label: Words for tables and chart titles.
        unit: Unit appended to values (``""`` for none).
        scale: ``"linear"``, ``"log"`` (positive values spanning decades) or ``"int"``
            (small counts, one bin per value).
        value_range: Fixed histogram range, or ``None`` to take it from the data.
    """

    key: str
    label: str
    unit: str
    scale: str
    value_range: tuple[float, float] | None


QUANTITIES: dict[str, Quantity] = {q.key: q for q in (
    Quantity("objects_per_image", "objects per image", "", "int", None),
    Quantity("box_width", "box width", "px", "log", None),
    Quantity("box_height", "box height", "px", "log", None),
    Quantity("box_aspect", "box aspect w/h", "", "log", None),
    Quantity("visibility", "visibility", "", "linear", (0.0, 1.0)),
    Quantity("truncation", "truncation", "", "linear", (0.0, 1.0)),
    # An object's contrast in its final image (synthgen.labels.object_contrast), as
    # synthgen records it per annotation; not to be confused with the image's ``contrast``.
    Quantity("object_contrast", "object contrast", "", "linear", (0.0, 1.0)),
    Quantity("horizon", "horizon row", "of height", "linear", None),
    Quantity("brightness", "image brightness", "", "linear", (0.0, 256.0)),
    Quantity("contrast", "image contrast", "", "linear", None),
)}

#: Per-image pixel histograms, pooled over the sampled images: key -> channel words.
PIXEL_HISTOGRAMS: dict[str, str] = {"luma": "luma", "red": "red", "green": "green",
                                    "blue": "blue"}

#: Categorical counts: key -> label.
CATEGORICAL: dict[str, str] = {
    "occluded": "occlusion level",
    "weather": "weather",
    "time_of_day": "time of day",
}

CAMERA_PREFIX = "camera."


def quantity(key: str) -> Quantity:
    """The :class:`Quantity` for ``key``, including ``camera.<field>`` ones made on demand."""
    if key in QUANTITIES:
        return QUANTITIES[key]
    if key.startswith(CAMERA_PREFIX):
        name = key[len(CAMERA_PREFIX):]
        return Quantity(key, f"camera {name}", "", "linear", None)
    raise KeyError(key)


@dataclass
class DatasetStats:
    """Everything :func:`dataset_statistics` measured in one dataset.

    Attributes:
        name: Display name (folder or file name, never an absolute path).
        num_images: Entries in ``images``.
        num_objects: Non-crowd annotations on those images.
        num_crowd: Crowd annotations (ignore regions) on those images.
        images_with_crowd: Images holding at least one crowd annotation.
        invalid_boxes: Objects without a usable ``bbox`` (missing, not 4 numbers, or
            zero size); they count as objects but enter no box distribution.
        orphan_annotations: Annotations whose ``image_id`` is not in ``images``; left
            out of everything else.
        class_counts: Objects per category name, in category id order.
        crowd_class_counts: Crowd annotations per category name.
        samples: 1-D samples keyed like :data:`QUANTITIES` (plus ``camera.<field>``).
        counts: Categorical counts keyed like :data:`CATEGORICAL`; a value that no
            annotation or image records is simply absent.
        centres: ``(n, 2)`` box centres as fractions of image width and height.
        pixel_histograms: Pooled histograms over :data:`PIXEL_EDGES` keyed like
            :data:`PIXEL_HISTOGRAMS`, each summing to 1; empty when no image was read.
        images_sampled: Image files read for the pixel statistics.
        images_unreadable: ``file_name`` of sampled images that could not be read.
    """

    name: str
    num_images: int = 0
    num_objects: int = 0
    num_crowd: int = 0
    images_with_crowd: int = 0
    invalid_boxes: int = 0
    orphan_annotations: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    crowd_class_counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    pixel_histograms: dict[str, np.ndarray] = field(default_factory=dict)
    images_sampled: int = 0
    images_unreadable: list[str] = field(default_factory=list)


# --- measuring -------------------------------------------------------------------------


def dataset_statistics(dataset: CocoDataset, *, max_images: int = DEFAULT_IMAGE_SAMPLE,
                       name: str | None = None) -> DatasetStats:
    """Measure a dataset's labels and a sample of its image files.

    Args:
        dataset: The dataset to measure.
        max_images: Read at most this many image files for the pixel statistics
            (0 reads none).
        name: Display name; defaults to :func:`dataset_name`.

    Returns:
        The statistics; nothing in them depends on where the dataset lies on disk.

    Raises:
        DatasetError: An entry of the document cannot be measured (see
            :func:`_check_entries`).
    """
    _check_entries(dataset)
    stats = DatasetStats(name=name if name is not None else dataset_name(dataset))
    _measure_labels(dataset, stats)
    _measure_images(dataset, stats)
    _measure_pixels(dataset, stats, max_images)
    return stats


def _check_entries(dataset: CocoDataset) -> None:
    """Refuse entries that are not JSON objects: nothing can be measured from them.

    Raises:
        DatasetError: An ``images``, ``annotations`` or ``categories`` entry is not an
            object, an id is not a number or string, or a category lacks its id or name.
    """
    for index, category in enumerate(dataset.categories):
        if isinstance(category, Mapping) and not {"id", "name"} <= category.keys():
            raise DatasetError(f"{dataset.annotation_file}: categories[{index}] needs "
                               "an 'id' and a 'name'")
    for key in ("images", "annotations", "categories"):
        for index, entry in enumerate(dataset.data[key]):
            if not isinstance(entry, Mapping):
                raise DatasetError(f"{dataset.annotation_file}: {key}[{index}] is not an object")
            for id_key in ("id", "image_id", "category_id"):
                if id_key in entry and not isinstance(entry[id_key], (int, str)):
                    raise DatasetError(f"{dataset.annotation_file}: {key}[{index}].{id_key} "
                                       "is not a number or string")


def dataset_name(dataset: CocoDataset) -> str:
    """The folder name for ``<folder>/annotations.json``, otherwise the file name."""
    annotation_file = dataset.annotation_file.resolve()
    if annotation_file.name == ANNOTATIONS_FILE and annotation_file.parent.name:
        return annotation_file.parent.name
    return annotation_file.name


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return value if math.isfinite(value) else None


def _kind(value: Any) -> str | None:
    """A weather / time-of-day entry as a word: a string, or a dict's ``kind``."""
    if isinstance(value, Mapping):
        value = value.get("kind")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _box(ann: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    """``(x, y, w, h)`` of an annotation, or ``None`` when unusable."""
    bbox = ann.get("bbox")
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return None
    values = [_number(v) for v in bbox]
    if any(v is None for v in values):
        return None
    x, y, w, h = values  # type: ignore[misc]
    if w <= 0 or h <= 0:
        return None
    # Sizes so extreme that what is measured of them (aspect, centre) is not finite.
    if not all(math.isfinite(v) for v in (w / h, x + w, y + h)):
        return None
    return x, y, w, h


#: Per-object samples gathered from the annotations.
OBJECT_COLUMNS = ("box_width", "box_height", "box_aspect", "visibility", "truncation",
                  "object_contrast")
#: Annotation field -> per-object column, for the optional numbers an annotation may carry.
_OPTIONAL_FIELDS = {"visibility": "visibility", "truncation": "truncation",
                    "contrast": "object_contrast"}


@dataclass
class _ObjectTally:
    """Per-object values gathered while walking the non-crowd annotations."""

    columns: dict[str, list[float]] = field(
        default_factory=lambda: {key: [] for key in OBJECT_COLUMNS})
    occluded: Counter[str] = field(default_factory=Counter)
    centres: list[tuple[float, float]] = field(default_factory=list)
    invalid_boxes: int = 0

    def add(self, ann: Mapping[str, Any], image: Mapping[str, Any]) -> None:
        for name, key in _OPTIONAL_FIELDS.items():
            value = _number(ann.get(name))
            if value is not None:
                self.columns[key].append(value)
        level = _number(ann.get("occluded"))
        if level is not None:
            self.occluded[str(int(level)) if level.is_integer() else str(level)] += 1
        box = _box(ann)
        if box is None:
            self.invalid_boxes += 1
            return
        x, y, w, h = box
        self.columns["box_width"].append(w)
        self.columns["box_height"].append(h)
        self.columns["box_aspect"].append(w / h)
        width, height = _number(image.get("width")), _number(image.get("height"))
        if width and height and width > 0 and height > 0:
            self.centres.append(((x + w / 2) / width, (y + h / 2) / height))


def _in_order(counts: Counter[str], order: list[str], *, keep_zero: bool) -> dict[str, int]:
    """``counts`` with the names of ``order`` first, then any others sorted."""
    names = order + sorted(set(counts) - set(order))
    return {name: counts[name] for name in names if keep_zero or counts[name]}


def _measure_labels(dataset: CocoDataset, stats: DatasetStats) -> None:
    """Fill the counts and every per-object distribution of ``stats``."""
    names = dataset.category_names()
    images = {image.get("id"): image for image in dataset.images}
    classes: Counter[str] = Counter()
    crowd_classes: Counter[str] = Counter()
    per_image: Counter[Any] = Counter()
    crowd_images: set[Any] = set()
    tally = _ObjectTally()
    for ann in dataset.annotations:
        image = images.get(ann.get("image_id"))
        if image is None:
            stats.orphan_annotations += 1
            continue
        name = names.get(ann.get("category_id"), f"unknown id {ann.get('category_id')}")
        if ann.get("iscrowd"):
            crowd_classes[name] += 1
            crowd_images.add(ann.get("image_id"))
            continue
        classes[name] += 1
        per_image[ann.get("image_id")] += 1
        tally.add(ann, image)
    stats.num_images = len(dataset.images)
    stats.num_objects = sum(classes.values())
    stats.num_crowd = sum(crowd_classes.values())
    stats.images_with_crowd = len(crowd_images)
    stats.invalid_boxes = tally.invalid_boxes
    stats.class_counts = _in_order(classes, list(names.values()), keep_zero=True)
    stats.crowd_class_counts = _in_order(crowd_classes, list(names.values()), keep_zero=False)
    stats.samples["objects_per_image"] = np.array(
        [per_image[image.get("id")] for image in dataset.images], dtype=float)
    stats.samples.update({key: np.array(values, dtype=float)
                          for key, values in tally.columns.items()})
    stats.counts["occluded"] = {key: tally.occluded[key]
                                for key in sorted(tally.occluded, key=_level_order)}
    stats.centres = np.array(tally.centres, dtype=float).reshape(-1, 2)


def _level_order(key: str) -> tuple[float, str]:
    try:
        return float(key), key
    except ValueError:
        return math.inf, key


def _measure_images(dataset: CocoDataset, stats: DatasetStats) -> None:
    """Fill weather, time of day and camera values from the ``images`` entries."""
    weather: Counter[str] = Counter()
    time_of_day: Counter[str] = Counter()
    camera: dict[str, list[float]] = {}
    horizons: list[float] = []
    for image in dataset.images:
        for counter, key in ((weather, "weather"), (time_of_day, "time_of_day")):
            kind = _kind(image.get(key))
            if kind is not None:
                counter[kind] += 1
        cam = image.get("camera")
        if isinstance(cam, Mapping):
            for field_name, raw in cam.items():
                value = _number(raw)
                if value is not None:
                    camera.setdefault(f"{CAMERA_PREFIX}{field_name}", []).append(value)
            horizon = horizon_fraction(cam, image)
            if horizon is not None:
                horizons.append(horizon)
    stats.counts["weather"] = dict(sorted(weather.items()))
    stats.counts["time_of_day"] = dict(sorted(time_of_day.items()))
    stats.samples["horizon"] = np.array(horizons, dtype=float)
    for key in sorted(camera):
        stats.samples[key] = np.array(camera[key], dtype=float)


def horizon_fraction(camera: Mapping[str, Any], image: Mapping[str, Any]) -> float | None:
    """Where the horizon crosses the image's centre column, as a fraction of its height.

    Follows :mod:`synthgen.render.camera`: a pinhole with ``fov_deg`` the horizontal field of
    view, the principal point at the image centre, square pixels and positive
    ``pitch_deg`` looking down. Roll is ignored (it tilts the line about that point).

    Returns:
        0 at the top edge, 1 at the bottom (outside that range when the horizon is out of
        view), or ``None`` unless pitch, field of view and image size are all known.
    """
    pitch, fov = _number(camera.get("pitch_deg")), _number(camera.get("fov_deg"))
    width, height = _number(image.get("width")), _number(image.get("height"))
    if pitch is None or fov is None or not width or not height or not 0 < fov < 180:
        return None
    focal = width / 2 / math.tan(math.radians(fov) / 2)
    return 0.5 - focal * math.tan(math.radians(pitch)) / height


def sample_images(images: list[dict[str, Any]], max_images: int) -> list[dict[str, Any]]:
    """At most ``max_images`` entries, evenly spaced through the file-name order.

    Generated sets are written in seed order and real sets in recording order, so an
    even spread over the sorted names covers more of the set than its first entries,
    and needs no random generator to be repeatable.
    """
    ordered = sorted(images, key=lambda image: (str(image.get("file_name", "")),
                                                str(image.get("id"))))
    if max_images <= 0 or not ordered:
        return []
    if len(ordered) <= max_images:
        return ordered
    picks = np.unique(np.linspace(0, len(ordered) - 1, max_images).round().astype(int))
    return [ordered[i] for i in picks]


def read_downscaled(path: Path, max_side: int = MEASURE_MAX_SIDE) -> np.ndarray | None:
    """An image file as RGB uint8, shrunk so its longest side is at most ``max_side``.

    Returns:
        The pixels, or ``None`` when the file is missing, not a regular file or not a
        readable image.
    """
    rgb = read_rgb(path)
    if rgb is None:
        return None
    scale = max_side / max(rgb.shape[:2])
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb


def pixel_measures(rgb: np.ndarray) -> tuple[float, float, dict[str, np.ndarray]]:
    """Brightness, contrast and normalised luma / colour histograms of one RGB image.

    Returns:
        ``(mean luma, luma standard deviation, {"luma"|"red"|"green"|"blue": histogram})``
        with each histogram over :data:`PIXEL_EDGES`, summing to 1.
    """
    pixels = rgb.reshape(-1, 3).astype(float)
    luma = pixels @ LUMA_WEIGHTS
    histograms = {"luma": normalised(np.histogram(luma, PIXEL_EDGES)[0])}
    for index, channel in enumerate(CHANNELS):
        histograms[channel] = normalised(np.histogram(pixels[:, index], PIXEL_EDGES)[0])
    return float(luma.mean()), float(luma.std()), histograms


def _measure_pixels(dataset: CocoDataset, stats: DatasetStats, max_images: int) -> None:
    """Fill brightness, contrast and pooled pixel histograms from sampled image files."""
    brightness: list[float] = []
    contrast: list[float] = []
    pooled = {key: np.zeros(PIXEL_BINS) for key in PIXEL_HISTOGRAMS}
    for image in sample_images(dataset.images, max_images):
        rgb = read_downscaled(dataset.image_path(image)) if "file_name" in image else None
        if rgb is None:
            stats.images_unreadable.append(str(image.get("file_name", f"id {image.get('id')}")))
            continue
        mean, std, histograms = pixel_measures(rgb)
        brightness.append(mean)
        contrast.append(std)
        # Each image weighs the same whatever its size.
        for key, hist in histograms.items():
            pooled[key] += hist
    stats.images_sampled = len(brightness)
    stats.samples["brightness"] = np.array(brightness, dtype=float)
    stats.samples["contrast"] = np.array(contrast, dtype=float)
    if brightness:
        stats.pixel_histograms = {key: hist / len(brightness) for key, hist in pooled.items()}


# --- binning and summaries -------------------------------------------------------------


def normalised(counts: np.ndarray) -> np.ndarray:
    """Counts as shares summing to 1; all zeros stay zeros (nothing to share out)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total > 0 else counts


def summarize(values: np.ndarray) -> dict[str, float | int | None]:
    """Count, min, quartiles, median, max and mean of a sample (``None`` when empty)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return {"n": 0, "min": None, "p25": None, "median": None, "p75": None, "max": None,
                "mean": None}
    p25, median, p75 = np.percentile(values, [25, 50, 75])
    return {"n": int(values.size), "min": float(values.min()), "p25": float(p25),
            "median": float(median), "p75": float(p75), "max": float(values.max()),
            "mean": float(values.mean())}


def histogram_edges(q: Quantity, *samples: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Bin edges covering every sample given, so several datasets share one binning.

    Args:
        q: The quantity; its ``scale`` and ``value_range`` choose the binning.
        *samples: One or more samples of that quantity.
        bins: Number of bins for ``linear`` and ``log`` scales.

    Returns:
        Increasing edges; ``int`` scales get one bin per whole value while that stays
        under ``4 * bins`` bins.
    """
    values = np.concatenate([np.asarray(s, dtype=float).ravel() for s in samples] or [[]])
    if q.value_range is not None:
        return np.linspace(q.value_range[0], q.value_range[1], bins + 1)
    if values.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(values.min()), float(values.max())
    if q.scale == "int" and hi - lo < 4 * bins:
        return np.arange(math.floor(lo) - 0.5, math.ceil(hi) + 1.0)
    if q.scale == "log" and lo > 0:
        if hi <= lo:
            lo, hi = lo / 1.5, hi * 1.5
        return np.geomspace(lo, hi, bins + 1)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the bins ``edges`` (values outside are left out)."""
    return np.histogram(np.asarray(values, dtype=float), bins=edges)[0]


def centre_heatmap(centres: np.ndarray, grid: int = HEATMAP_GRID) -> np.ndarray:
    """Box-centre counts on a ``grid x grid`` raster of the unit square, rows top to bottom.

    Centres of boxes reaching past the image border are clipped onto the border cells.
    """
    centres = np.clip(np.asarray(centres, dtype=float).reshape(-1, 2), 0.0, 1.0)
    counts, _, _ = np.histogram2d(centres[:, 1], centres[:, 0], bins=grid,
                                  range=[[0.0, 1.0], [0.0, 1.0]])
    return counts.astype(int)


def bin_centres(edges: np.ndarray) -> np.ndarray:
    """Midpoints of consecutive edges."""
    edges = np.asarray(edges, dtype=float)
    return (edges[:-1] + edges[1:]) / 2


def histogram_moments(hist: np.ndarray, edges: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a histogram with its mass at the bin centres."""
    centres = bin_centres(edges)
    shares = normalised(hist)
    mean = float(shares @ centres)
    return mean, float(np.sqrt(shares @ (centres - mean) ** 2))
