"""What a detector sees in a COCO dataset, measured once for ``stats`` and ``compare``.

:func:`dataset_statistics` reads a :class:`~synthgen.formats.dataset.CocoDataset` into a
:class:`DatasetStats`: raw per-object and per-image samples (box sizes, objects per
image, visibility, camera values, image brightness...), categorical counts (classes,
occlusion levels, weather, time of day), box centres in normalised image coordinates and
pooled pixel histograms. Everything else is a pure function over those:

- :func:`histogram_edges` / :func:`histogram` / :func:`centre_heatmap` bin them, with
  edges shared between datasets so that real and synthetic charts overlay;
- :func:`stats_to_json` is the machine-readable ``stats`` output;
- :func:`wasserstein1`, :func:`wasserstein1_histogram`, :func:`histogram_intersection`
  and :func:`total_variation` are the distances;
- :func:`compare_stats` builds the ``compare`` rows, each saying which way the
  synthetic set differs from the real one.

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
from collections.abc import Mapping, Sequence
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
    """A 1-D distribution measured per object or per image, and how to talk about it.

    Attributes:
        key: Name in the JSON output and in :attr:`DatasetStats.samples`.
        label: Words for tables and chart titles.
        unit: Unit appended to values (``""`` for none).
        scale: ``"linear"``, ``"log"`` (positive values spanning decades) or ``"int"``
            (small counts, one bin per value).
        value_range: Fixed histogram range, or ``None`` to take it from the data.
        lower: What to say when the synthetic set's values are lower than the real ones.
        higher: What to say when they are higher.
    """

    key: str
    label: str
    unit: str
    scale: str
    value_range: tuple[float, float] | None
    lower: str
    higher: str


QUANTITIES: dict[str, Quantity] = {q.key: q for q in (
    Quantity("objects_per_image", "objects per image", "", "int", None,
             "synthetic images hold fewer objects", "synthetic images hold more objects"),
    Quantity("box_width", "box width", "px", "log", None,
             "synthetic boxes are narrower", "synthetic boxes are wider"),
    Quantity("box_height", "box height", "px", "log", None,
             "synthetic boxes are smaller", "synthetic boxes are taller"),
    Quantity("box_aspect", "box aspect w/h", "", "log", None,
             "synthetic boxes are narrower for their height",
             "synthetic boxes are wider for their height"),
    Quantity("visibility", "visibility", "", "linear", (0.0, 1.0),
             "synthetic objects are less visible", "synthetic objects are more visible"),
    Quantity("truncation", "truncation", "", "linear", (0.0, 1.0),
             "synthetic objects are less truncated", "synthetic objects are more truncated"),
    # An object's contrast in its final image (synthgen.labels.object_contrast), as
    # synthgen records it per annotation; not to be confused with the image's ``contrast``.
    Quantity("object_contrast", "object contrast", "", "linear", (0.0, 1.0),
             "synthetic objects stand out less from their surroundings",
             "synthetic objects stand out more from their surroundings"),
    Quantity("horizon", "horizon row", "of height", "linear", None,
             "synthetic horizons sit higher in the image",
             "synthetic horizons sit lower in the image"),
    Quantity("brightness", "image brightness", "", "linear", (0.0, 256.0),
             "synthetic images are darker", "synthetic images are brighter"),
    Quantity("contrast", "image contrast", "", "linear", None,
             "synthetic images have less contrast", "synthetic images have more contrast"),
)}

#: Per-image pixel histograms, pooled over the sampled images: key -> channel words.
PIXEL_HISTOGRAMS: dict[str, str] = {"luma": "luma", "red": "red", "green": "green",
                                    "blue": "blue"}

#: Categorical counts: key -> (label, prefix put before a value in sentences).
CATEGORICAL: dict[str, tuple[str, str]] = {
    "occluded": ("occlusion level", "occluded="),
    "weather": ("weather", "weather "),
    "time_of_day": ("time of day", "time of day "),
}

CAMERA_PREFIX = "camera."


def quantity(key: str) -> Quantity:
    """The :class:`Quantity` for ``key``, including ``camera.<field>`` ones made on demand."""
    if key in QUANTITIES:
        return QUANTITIES[key]
    if key.startswith(CAMERA_PREFIX):
        name = key[len(CAMERA_PREFIX):]
        return Quantity(key, f"camera {name}", "", "linear", None,
                        f"synthetic camera {name} is lower",
                        f"synthetic camera {name} is higher")
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
    histograms = {"luma": _normalised(np.histogram(luma, PIXEL_EDGES)[0])}
    for index, channel in enumerate(CHANNELS):
        histograms[channel] = _normalised(np.histogram(pixels[:, index], PIXEL_EDGES)[0])
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


def _normalised(counts: np.ndarray) -> np.ndarray:
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


def stats_to_json(stats: DatasetStats) -> dict[str, Any]:
    """The machine-readable form of ``stats`` (``stats --json``), numpy types included.

    Histogram edges are chosen from this dataset alone.
    """
    distributions = {}
    for key, values in stats.samples.items():
        q = quantity(key)
        edges = histogram_edges(q, values)
        distributions[key] = {"label": q.label, "unit": q.unit, "summary": summarize(values),
                              "histogram": {"edges": edges, "counts": histogram(values, edges)}}
    pixels: dict[str, Any] = {"images_sampled": stats.images_sampled,
                              "images_unreadable": list(stats.images_unreadable)}
    if stats.pixel_histograms:
        pixels["histogram_edges"] = PIXEL_EDGES
        pixels.update({key: hist for key, hist in stats.pixel_histograms.items()})
    return {
        "dataset": stats.name,
        "images": stats.num_images,
        "objects": stats.num_objects,
        "crowd_regions": stats.num_crowd,
        "images_with_crowd": stats.images_with_crowd,
        "invalid_boxes": stats.invalid_boxes,
        "annotations_without_image": stats.orphan_annotations,
        "classes": dict(stats.class_counts),
        "crowd_classes": dict(stats.crowd_class_counts),
        "distributions": distributions,
        "categorical": {key: dict(counts) for key, counts in stats.counts.items()},
        "box_centres": {"grid": HEATMAP_GRID, "rows": "top to bottom",
                        "heatmap": centre_heatmap(stats.centres)},
        "pixels": pixels,
    }


# --- distances -------------------------------------------------------------------------


def wasserstein1(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> float:
    """Wasserstein-1 (earth mover's) distance between two 1-D samples.

    The integral over x of ``|F_a(x) - F_b(x)|`` for the empirical CDFs: the mean
    distance each unit of probability must move to turn one sample into the other, in the
    samples' own unit.

    Raises:
        ValueError: A sample is empty.
    """
    a = np.sort(np.asarray(a, dtype=float).ravel())
    b = np.sort(np.asarray(b, dtype=float).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("Wasserstein-1 needs two non-empty samples")
    points = np.sort(np.concatenate([a, b]))
    steps = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, points[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * steps))


def wasserstein1_histogram(p: np.ndarray, q: np.ndarray, edges: np.ndarray) -> float:
    """Wasserstein-1 between two histograms on the same bins, mass at each bin centre.

    Raises:
        ValueError: The shapes disagree or a histogram holds no mass.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    centres = bin_centres(edges)
    if p.shape != q.shape or p.shape != centres.shape:
        raise ValueError("histograms and edges do not match")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("Wasserstein-1 needs two non-empty histograms")
    cdf_gap = np.abs(np.cumsum(_normalised(p)) - np.cumsum(_normalised(q)))[:-1]
    return float(np.sum(cdf_gap * np.diff(centres)))


def histogram_intersection(p: np.ndarray, q: np.ndarray) -> float:
    """Shared mass of two histograms after normalising each: 1 identical, 0 disjoint."""
    p, q = _normalised(np.ravel(p)), _normalised(np.ravel(q))
    if p.shape != q.shape:
        raise ValueError("histograms do not match")
    return float(np.minimum(p, q).sum())


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance of two categorical distributions given as counts.

    Half the sum of absolute share differences: the largest gap in probability the two
    assign to any set of categories; 0 identical, 1 disjoint. It equals one minus the
    histogram intersection.
    """
    keys = list(dict.fromkeys([*p, *q]))
    a = _normalised(np.array([p.get(k, 0) for k in keys], dtype=float))
    b = _normalised(np.array([q.get(k, 0) for k in keys], dtype=float))
    return float(np.abs(a - b).sum() / 2)


# --- comparing -------------------------------------------------------------------------


@dataclass(frozen=True)
class GapRow:
    """One line of ``compare``: a distribution in both sets and how far apart they are.

    Attributes:
        key: Machine name (a :class:`Quantity` key, ``classes``, ``box_centres``...).
        metric: Words for the table.
        measure: ``"W1"``, ``"TV"`` or ``"1-HI"`` (one minus histogram intersection).
        real: Short summary of the real set.
        synthetic: Short summary of the synthetic set.
        distance: The distance, or ``None`` when a set does not record it.
        verdict: Which way the synthetic set differs, in plain words.
        values: The numbers behind ``real`` and ``synthetic`` (summaries, shares,
            means), keyed ``"real"`` and ``"synthetic"``, for the JSON output.
    """

    key: str
    metric: str
    measure: str
    real: str
    synthetic: str
    distance: float | None
    verdict: str
    values: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "metric": self.metric, "measure": self.measure,
                "real": self.real, "synthetic": self.synthetic, "distance": self.distance,
                "verdict": self.verdict, "values": self.values}


#: Relative change of a median or mean (or absolute, for unit-range values) that counts as
#: a difference worth naming rather than "close".
LOCATION_TOLERANCE = 0.10
#: Ratio of interquartile ranges that counts as a difference in spread.
SPREAD_RATIO = 1.33
#: Share gap, in probability, below which categorical distributions are "close".
SHARE_TOLERANCE = 0.03
#: Shift of the mean box centre, as a fraction of the image side, worth naming.
CENTRE_TOLERANCE = 0.03


def fmt(value: float | None, unit: str = "") -> str:
    """A number for people: whole numbers from 100 up, three significant digits below."""
    if value is None:
        return "n/a"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}" if unit else text


#: Verdict of a row whose data neither set holds; :func:`compare_stats` leaves such rows out.
NEITHER = "recorded in neither set"


def _missing(real_has: bool, synthetic_has: bool, what: str = "not recorded") -> str:
    if not real_has and not synthetic_has:
        return NEITHER
    return f"{what} in the {'real' if not real_has else 'synthetic'} set"


def compare_quantity(key: str, real: np.ndarray, synthetic: np.ndarray,
                     missing: str = "not recorded") -> GapRow:
    """The W1 row for one 1-D quantity, with its direction read from median, mean, spread.

    ``missing`` says why a set has no values (in "``missing`` in the real set").
    """
    q = quantity(key)
    summary_r, summary_s = summarize(real), summarize(synthetic)
    shown_r, shown_s = (f"median {fmt(summary['median'], q.unit)}" if summary["n"] else "n/a"
                        for summary in (summary_r, summary_s))
    values = {"real": summary_r, "synthetic": summary_s}
    if not summary_r["n"] or not summary_s["n"]:
        return GapRow(key, q.label, "W1", shown_r, shown_s, None,
                      _missing(bool(summary_r["n"]), bool(summary_s["n"]), missing), values)
    return GapRow(key, q.label, "W1", shown_r, shown_s, wasserstein1(real, synthetic),
                  _numeric_verdict(q, summary_r, summary_s), values)


def _differs(synthetic: float, real: float, scale: float) -> bool:
    return abs(synthetic - real) > LOCATION_TOLERANCE * max(scale, 1e-9)


def _numeric_verdict(q: Quantity, real: Mapping[str, Any], synthetic: Mapping[str, Any]) -> str:
    """Say how the synthetic sample differs: median first, then mean, then spread."""
    bounded = q.value_range is not None and q.value_range[1] <= 1.0
    iqr_r = real["p75"] - real["p25"]
    iqr_s = synthetic["p75"] - synthetic["p25"]
    for stat in ("median", "mean"):
        r, s = real[stat], synthetic[stat]
        # Unit-range values (visibility, truncation) move on an absolute scale.
        scale = 1.0 if bounded else max(abs(r), iqr_r)
        if _differs(s, r, scale):
            words = q.lower if s < r else q.higher
            return f"{words}: {stat} {q.label} {fmt(s, q.unit)} vs {fmt(r, q.unit)} real"
    if iqr_s * SPREAD_RATIO < iqr_r or iqr_s > iqr_r * SPREAD_RATIO:
        more_or_less = "less" if iqr_s < iqr_r else "more"
        return (f"synthetic {q.label} varies {more_or_less}: interquartile range "
                f"{fmt(iqr_s, q.unit)} vs {fmt(iqr_r, q.unit)} real")
    return (f"close: median {q.label} {fmt(synthetic['median'], q.unit)} "
            f"vs {fmt(real['median'], q.unit)} real")


def compare_categorical(key: str, label: str, prefix: str, real: Mapping[str, int],
                        synthetic: Mapping[str, int], measure: str = "1-HI",
                        missing: str = "not recorded") -> GapRow:
    """The row for categorical counts: distance and the most over- and under-used values.

    Args:
        key: Machine name.
        label: Words for the table.
        prefix: Put before a value in sentences (``"occluded="``, ``"weather "``).
        real: Counts in the real set.
        synthetic: Counts in the synthetic set.
        measure: ``"TV"`` or ``"1-HI"``; both equal ``1 - sum(min(p, q))`` on shares.
        missing: Why a set has no counts (in "``missing`` in the real set").
    """
    total_r, total_s = sum(real.values()), sum(synthetic.values())
    shown_r, shown_s = _top_share(real, prefix), _top_share(synthetic, prefix)
    values = {"real": dict(real), "synthetic": dict(synthetic)}
    if not total_r or not total_s:
        return GapRow(key, label, measure, shown_r, shown_s, None,
                      _missing(bool(total_r), bool(total_s), missing), values)
    keys = list(dict.fromkeys([*real, *synthetic]))
    share_r = {k: real.get(k, 0) / total_r for k in keys}
    share_s = {k: synthetic.get(k, 0) / total_s for k in keys}
    distance = (total_variation(real, synthetic) if measure == "TV" else
                1.0 - histogram_intersection([real.get(k, 0) for k in keys],
                                             [synthetic.get(k, 0) for k in keys]))
    gaps = {k: share_s[k] - share_r[k] for k in keys}
    over = max(keys, key=lambda k: gaps[k])
    under = min(keys, key=lambda k: gaps[k])
    if gaps[over] < SHARE_TOLERANCE and -gaps[under] < SHARE_TOLERANCE:
        verdict = f"close: no {label} share differs by {SHARE_TOLERANCE:.0%} or more"
    else:
        parts = []
        if gaps[over] >= SHARE_TOLERANCE:
            parts.append(f"over-represents {prefix}{over} "
                         f"({share_s[over]:.0%} vs {share_r[over]:.0%} real)")
        if -gaps[under] >= SHARE_TOLERANCE:
            parts.append(f"under-represents {prefix}{under} "
                         f"({share_s[under]:.0%} vs {share_r[under]:.0%} real)")
        verdict = "synthetic " + " and ".join(parts)
    return GapRow(key, label, measure, shown_r, shown_s, distance, verdict, values)


def _top_share(counts: Mapping[str, int], prefix: str) -> str:
    total = sum(counts.values())
    if not total:
        return "n/a"
    top = max(counts, key=lambda k: counts[k])
    return f"{total} total, {prefix}{top} {counts[top] / total:.0%}"


def compare_centres(real: np.ndarray, synthetic: np.ndarray) -> GapRow:
    """The row for box-centre heatmaps: 1 - intersection, and the larger mean shift."""
    label = "box centre heatmap"
    shown_r, shown_s = _mean_centre(real), _mean_centre(synthetic)
    values = {name: {"n": len(c), "mean": c.mean(axis=0) if len(c) else None,
                     "std": c.std(axis=0) if len(c) else None}
              for name, c in (("real", real), ("synthetic", synthetic))}
    if not len(real) or not len(synthetic):
        return GapRow("box_centres", label, "1-HI", shown_r, shown_s, None,
                      _missing(bool(len(real)), bool(len(synthetic))), values)
    distance = 1.0 - histogram_intersection(centre_heatmap(real), centre_heatmap(synthetic))
    mean_r, mean_s = real.mean(axis=0), synthetic.mean(axis=0)
    shift = mean_s - mean_r
    axis = int(np.argmax(np.abs(shift)))
    if abs(shift[axis]) >= CENTRE_TOLERANCE:
        # Image y grows downwards.
        where = (("further left", "further right") if axis == 0 else ("higher", "lower"))
        side = "width" if axis == 0 else "height"
        coord = "x" if axis == 0 else "y"
        verdict = (f"synthetic box centres sit {where[int(shift[axis] > 0)]} in the image: "
                   f"mean {coord} {mean_s[axis]:.2f} vs {mean_r[axis]:.2f} real "
                   f"(fraction of image {side})")
    else:
        spread_r, spread_s = real.std(axis=0), synthetic.std(axis=0)
        ratio = (spread_s + 1e-9) / (spread_r + 1e-9)
        axis = int(np.argmax(np.abs(np.log(ratio))))
        coord = "x" if axis == 0 else "y"
        if ratio[axis] * SPREAD_RATIO < 1 or ratio[axis] > SPREAD_RATIO:
            more_or_less = "less" if ratio[axis] < 1 else "more"
            verdict = (f"synthetic box centres spread {more_or_less} in {coord}: std "
                       f"{spread_s[axis]:.2f} vs {spread_r[axis]:.2f} real")
        else:
            verdict = (f"close: mean centre ({mean_s[0]:.2f}, {mean_s[1]:.2f}) "
                       f"vs ({mean_r[0]:.2f}, {mean_r[1]:.2f}) real")
    return GapRow("box_centres", label, "1-HI", shown_r, shown_s, distance, verdict, values)


def _mean_centre(centres: np.ndarray) -> str:
    if not len(centres):
        return "n/a"
    x, y = np.asarray(centres).mean(axis=0)
    return f"mean ({x:.2f}, {y:.2f})"


def histogram_moments(hist: np.ndarray, edges: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a histogram with its mass at the bin centres."""
    centres = bin_centres(edges)
    shares = _normalised(hist)
    mean = float(shares @ centres)
    return mean, float(np.sqrt(shares @ (centres - mean) ** 2))


def compare_pixel_histogram(key: str, real: Mapping[str, np.ndarray],
                            synthetic: Mapping[str, np.ndarray]) -> GapRow:
    """The W1 row for a pooled luma or colour histogram, directed by its mean, then spread."""
    words = PIXEL_HISTOGRAMS[key]
    label = f"{words} level histogram"
    hist_r, hist_s = real.get(key), synthetic.get(key)
    mean_r, std_r = histogram_moments(hist_r, PIXEL_EDGES) if hist_r is not None else (None,) * 2
    mean_s, std_s = histogram_moments(hist_s, PIXEL_EDGES) if hist_s is not None else (None,) * 2
    shown_r, shown_s = f"mean {fmt(mean_r)}", f"mean {fmt(mean_s)}"
    values = {"real": {"mean": mean_r, "std": std_r},
              "synthetic": {"mean": mean_s, "std": std_s}}
    if hist_r is None or hist_s is None:
        return GapRow(f"pixels.{key}", label, "W1", shown_r, shown_s, None,
                      _missing(hist_r is not None, hist_s is not None,
                               what="no image file read"), values)
    distance = wasserstein1_histogram(hist_r, hist_s, PIXEL_EDGES)
    if _differs(mean_s, mean_r, max(mean_r, std_r)):
        more_or_less = "less" if mean_s < mean_r else "more"
        verdict = (f"synthetic images have {more_or_less} {words}: mean {words} level "
                   f"{fmt(mean_s)} vs {fmt(mean_r)} real")
    elif std_s * SPREAD_RATIO < std_r or std_s > std_r * SPREAD_RATIO:
        more_or_less = "less" if std_s < std_r else "more"
        verdict = (f"synthetic {words} levels spread {more_or_less}: std {fmt(std_s)} "
                   f"vs {fmt(std_r)} real")
    else:
        verdict = f"close: mean {words} level {fmt(mean_s)} vs {fmt(mean_r)} real"
    return GapRow(f"pixels.{key}", label, "W1", shown_r, shown_s, distance, verdict, values)


def compare_stats(real: DatasetStats, synthetic: DatasetStats) -> list[GapRow]:
    """Every distribution of the two sets side by side, in a fixed order.

    Rows for something neither set records (e.g. weather in two real sets) are left out;
    rows for something only one set records are kept with distance ``None``.
    """
    rows = [compare_categorical("classes", "class frequencies", "", real.class_counts,
                                synthetic.class_counts, measure="TV", missing="no objects")]
    for key in ("objects_per_image", "box_width", "box_height", "box_aspect"):
        rows.append(compare_quantity(key, real.samples[key], synthetic.samples[key]))
    rows.append(compare_centres(real.centres, synthetic.centres))
    rows.append(compare_quantity("visibility", real.samples["visibility"],
                                 synthetic.samples["visibility"]))
    rows.append(compare_quantity("truncation", real.samples["truncation"],
                                 synthetic.samples["truncation"]))
    rows.append(compare_quantity("object_contrast", real.samples["object_contrast"],
                                 synthetic.samples["object_contrast"]))
    for key, (label, prefix) in CATEGORICAL.items():
        rows.append(compare_categorical(key, label, prefix, real.counts.get(key, {}),
                                        synthetic.counts.get(key, {})))
    camera_keys = sorted({k for k in [*real.samples, *synthetic.samples]
                          if k.startswith(CAMERA_PREFIX)})
    empty = np.zeros(0)
    for key in ["horizon", *camera_keys]:
        rows.append(compare_quantity(key, real.samples.get(key, empty),
                                     synthetic.samples.get(key, empty)))
    for key in ("brightness", "contrast"):
        rows.append(compare_quantity(key, real.samples[key], synthetic.samples[key],
                                     missing="no image file read"))
    for key in PIXEL_HISTOGRAMS:
        if key != "luma":  # per-image brightness above already covers luma
            rows.append(compare_pixel_histogram(key, real.pixel_histograms,
                                                synthetic.pixel_histograms))
    return [row for row in rows if row.verdict != NEITHER]


def gap_to_json(real: DatasetStats, synthetic: DatasetStats,
                rows: Sequence[GapRow]) -> dict[str, Any]:
    """The ``compare --json`` document: the rows, then both sets' statistics."""
    return {"gap": [row.to_json() for row in rows], "real": stats_to_json(real),
            "synthetic": stats_to_json(synthetic)}
