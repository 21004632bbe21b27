"""Fit a scene template to a real set's scene statistics (``synthgen fit``).

A detector pre-trained on synthetic images transfers better when the synthetic scenes
look at the world the way the real camera does and hold what the real images hold.
:func:`fit_real_set` measures that from a real set's labels (and a sample of its image
files) and writes a template that ``extends:`` a bundled one and sets only what it
fitted. Every fitted value is a :class:`Fitted` row saying whether it was **measured**,
**assumed** (a stated constant) or given as an **option**; anything not listed is
inherited from the base template unchanged.

Input: a KITTI object set in KITTI's layout (``training/image_2`` + ``training/label_2``,
read by :func:`synthgen.datasets.realsets.read_kitti`, 3D fields included) or any COCO set
synthgen reads (read by :func:`synthgen.datasets.realsets.read_coco`, categories mapped as
``real import`` maps them). Ignore regions (DontCare, crowd) never enter a statistic.

The method, step by step (``W x H`` is the recommended image size, the median width and
height of the real images; templates hold no image size, so it is printed as
``--size WxH``):

1. **Focal length and principal point** (KITTI 3D only). KITTI's 2D box is the
   bounding box of the projected 3D box, and for a pinhole camera each box edge is
   linear in the unknowns: ``left = f * min(X/Z) + cx`` over the eight corners,
   ``right = f * max(X/Z) + cx``, ``top = f * min(Y/Z) + cy``,
   ``bottom = f * max(Y/Z) + cy``. One least-squares fit over the four edges of every
   untruncated box at least 4 m away (one ``cx, cy`` per image size, one ``f``), with
   edges more than 3 robust standard deviations off dropped and the fit repeated, gives
   ``f`` and its standard error. ``fov_range`` is ``2 atan(W / 2f)`` for
   ``f +- 2`` standard errors, at least +-0.5 degrees wide (KITTI is one camera; the small
   width is the fit's uncertainty plus a little variety). A focal length that is not
   finite or a field of view outside 30-120 degrees is refused (give ``--fov``). With
   ``--fov`` the focal length is not fitted: the same edges, ``f`` known, give ``cx, cy``
   for step 2. A 3D box of implausible size or place (any dimension over 30 m, ``|x|``,
   ``|y|`` or ``z`` over 500 m) is no 3D box (:func:`synthgen.datasets.realsets.read_kitti`).
2. **Camera height and pitch** (KITTI 3D). KITTI's ``location.y`` is the object's bottom
   in camera coordinates (``y`` down), so on flat ground ``y = h + t * z``: a robust line
   through the bottoms of objects 4-60 m away gives the ground's tilt ``t`` (the camera
   pitched up relative to the ground when ``t > 0``). Each image's camera height is the
   median of ``y - t * z`` over its objects; ``height_range`` is the 10th-90th percentile
   of those (a flat synthetic road stands in for real slopes). The ground's horizon lies
   on row ``cy + f * t``; synthgen's principal point is the image centre, so the pitch
   that puts the horizon there is ``atan((H / 2 - (cy + f t)) / f)`` (positive looks
   down). ``pitch_range`` is that +- 1 degree (assumed). Likewise the principal point's
   horizontal offset is a yaw of ``atan((W / 2 - cx) / f)``, +- 2 degrees (assumed).
   With fewer than :data:`MIN_GROUND_OBJECTS` objects for the line, ``--camera-height``
   ``h`` is needed: the tilt is then the median of ``(y - h) / z`` over the objects there
   are (none: the pitch is inherited).
3. **Without 3D** (COCO): the focal length cannot be seen in boxes; ``--fov`` gives it,
   else the base template's middle ``fov_range`` is used and marked assumed. Camera
   height and horizon come from boxes of known-height classes (car 1.5 m, pedestrian
   1.7 m, assumed): on flat ground ``bottom = v_h + h_cam * (box height / class
   height)``, a robust line whose intercept is the horizon row and slope the camera
   height, independent of ``f``. ``--camera-height`` overrides it.
4. **Objects per image**: per class, the number of labelled objects in each image (zeros
   included) gives a mean ``m`` and standard deviation ``s``. A template draws a uniform
   integer from ``count_range``, so the range is chosen with the same mean and spread
   (``m -+ sqrt(3) s``, the low end clipped at 0 and the high end moved to keep the
   mean). Not every placed object gets a label (occluded, out of frame, too small), so
   the counts are first divided by the share of placed objects that synthgen labels,
   measured by rendering ``calibrate_images`` images of the fitted template at
   ``W x H``. A class the real set labels at all keeps at least ``[0, 1]``, which averages
   0.5 per image: a class rarer than that comes out too common, and where the range's
   mean is off the wanted one by over 10 % the header and the table say so (NOTE).
5. **Distances**: KITTI ``z`` (without 3D: ``f * class height / box height``). A
   template draws distances uniformly, so ``distance_range`` is the uniform range with
   the real quartiles ``q1, q3``: ``[q1 - iqr / 2, q3 + iqr / 2]``, kept within the
   nearest and farthest real distance and ``[2, max_distance]``.
6. **Placements**: each object's lateral offset (KITTI ``x``; without 3D, from its box
   centre and distance) and heading (KITTI ``rotation_y``; none without 3D) are put on
   the base template's average road, camera in its average forward lane. Vehicles:
   beyond the outermost lane line -> ``parked``; on the lanes, heading away ->
   ``in_lane``, towards -> ``oncoming``, across or unknown -> by side of the centre
   line. Cyclists heading along the road -> ``in_lane``/``oncoming`` wherever they are
   (they ride at its edge), otherwise as vehicles with ``sidewalk`` for ``parked``.
   Pedestrians crossing the road (on it, heading across) -> ``crosswalk``, all others
   -> ``sidewalk`` (those walking along the road are on its sides). Placements
   the base's road cannot offer (no sidewalks, no oncoming lanes, no crossings) are
   dropped; the shares of the rest become ``placements`` weights. A vehicle standing
   where synthgen parks one against the road's edge (its centre at most
   :data:`KERB_TOLERANCE` inside that spot, its KITTI width or the base's mean) is
   parked too, though its centre is on the base's lanes. How far beyond the base road's
   edge the parked ones stand (a real road's parking lanes, bays, lots) gives
   ``parked_setback_range``: the uniform range with their quartiles, or from 0 with
   their median when that range would start below 0.
7. **Sizes** (KITTI 3D): ``length_range``, ``width_range``, ``height_range`` are the
   10th-90th percentiles of KITTI's ``l``, ``w``, ``h`` per class, clipped to sane
   bounds per class (:data:`SANE_SIZES`; pedestrian length is not fitted).
   Statistics 5-7 need at least :data:`MIN_OBJECTS` objects of a class, else the class
   keeps the base's values.
8. **Lighting**: labels cannot see the sky. The mean luma of up to ``sample_images``
   image files decides the share of daylight images (mean luma at least
   :data:`DAYLIGHT_LUMA`); ``time_of_day`` becomes ``{day: 1}`` when at least 95 % are,
   else that share of day and the base's dusk:night ratio for the rest.
9. **Weather** (:func:`measure_image`, :func:`classify_weather`): each of the same
   image files, at full size, gives ``contrast`` (5-95th percentile spread of luma at
   :data:`MEASURE_WIDTH` px wide), ``haze`` (mean dark channel, the 7x7 minimum of the
   smallest of R, G, B, over the lower two thirds, where the sky rarely is: fog and snow
   raise it), ``saturation`` (mean HSV saturation: fog and snow wash colours out),
   ``streaks`` (share of pixels on bright lines at most 3 px wide and at least 7 px
   tall: rain) and ``specks`` (share of pixels in bright spots smaller than a 5 px
   disc: snowflakes). A fixed decision list classifies the image: hazy and unsaturated ->
   snow if specked, else fog; else high contrast -> clear; else streaked -> rain, else
   overcast. Its five thresholds are calibrated each run on ``weather_renders`` renders
   of each kind at ``W x H`` (the template fitted so far, weather forced to that kind,
   base intensities), each the midpoint with the least balanced error between the
   kinds it separates (:func:`best_split`); the header records the confusion on those
   renders. ``weather.weights`` are the kinds' shares of the real images (kinds never
   seen get none). A kind other than clear seen in at least :data:`MIN_WEATHER_IMAGES`
   images also gets an ``intensity_range``: the 10th-90th percentile of intensities
   read off its key measure through a line fitted on the renders.
10. **Sensor noise**: Immerkaer's estimate (mean absolute response of the 3x3 kernel
    ``[1 -2 1; -2 4 -2; 1 -2 1]`` times ``sqrt(pi / 2) / 6``) over the flattest 30 % of
    pixels (smallest Sobel gradient) of each full-size image, in luma levels. Clear,
    unblurred renders at each of :data:`NOISE_AMOUNTS` give the median noise per amount;
    the real images' 10th and 90th percentiles, interpolated through that curve, are
    ``sensor.noise_range``. Motion blur and vignetting are not fitted: real scenes'
    own anisotropy and uneven lighting look too much like them to measure them robustly
    against synthgen's renders.

Classes the real set never labels (KITTI: bus, traffic light, traffic sign) keep the
base's counts by default: a detector evaluated on the real set is not scored on them, so
their boxes cannot become false negatives there, the objects do stand in real photos
(unlabelled), and labelling them teaches the detector that a sign post is not a
pedestrian. ``only_real_classes`` sets their ``count_range`` to ``[0, 0]``, for a
detector whose head has the real set's classes only.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import yaml

from synthgen import __version__
from synthgen.categories import CATEGORY_NAMES
from synthgen.datasets.realsets import (
    KittiBox3D,
    Observation,
    RealImage,
    RealSet,
    read_real_set,
)
from synthgen.errors import DatasetError, OutputError, TemplateError
from synthgen.formats.dataset import image_root_for
from synthgen.scene.sampling import KERB_GAP
from synthgen.scene.templates import (
    ALLOWED_PLACEMENTS,
    ObjectClass,
    SceneTemplate,
    bundled_templates,
    deep_merge,
    load_raw,
    resolve_template_path,
    validate_template,
)
from synthgen.storage.files import atomic_writer, prepare_output_file
from synthgen.storage.images import read_rgb

log = logging.getLogger(__name__)

FORMATS: Final = ("auto", "kitti", "coco")
#: Fewest objects of a class for its distances, placements and sizes to be fitted.
MIN_OBJECTS: Final = 5
#: Largest ``parked_setback_range`` end fitted (m): the template's bound.
MAX_SETBACK: Final = 30.0
#: How far (m) inside the spot where synthgen parks a vehicle against the road's edge its
#: centre may stand and still be fitted as parked (a car in the outer lane stands more
#: than a metre further in).
KERB_TOLERANCE: Final = 0.3
#: Fewest box edges / objects for the camera fits.
MIN_EDGES: Final = 12
MIN_GROUND_OBJECTS: Final = 8
#: Objects nearer than this (m) are left out of the camera fits (a few pixels of label
#: noise move a near box's edges the most relative to its size).
NEAR_LIMIT: Final = 4.0
FAR_LIMIT: Final = 60.0
#: Mean luma (0-255) at or above which an image counts as daylight.
DAYLIGHT_LUMA: Final = 60.0
DAYLIGHT_SHARE: Final = 0.95
#: Assumed half-widths (degrees) around the measured pitch and yaw.
PITCH_HALF_WIDTH: Final = 1.0
YAW_HALF_WIDTH: Final = 2.0
MIN_FOV_HALF_WIDTH: Final = 0.5
DEFAULT_CALIBRATION_IMAGES: Final = 48
DEFAULT_SAMPLE_IMAGES: Final = 50
#: Renders per weather kind that calibrate the weather classifier (step 9).
DEFAULT_WEATHER_RENDERS: Final = 24
WEATHER_KINDS: Final = ("clear", "overcast", "fog", "rain", "snow")
#: Fewest real images of a weather kind for its intensity range to be fitted.
MIN_WEATHER_IMAGES: Final = 3
#: Width (px) the global measures (contrast, haze, saturation) are taken at.
MEASURE_WIDTH: Final = 414
#: ITU-R BT.601 luma weights of R, G, B.
LUMA: Final = (0.299, 0.587, 0.114)
#: Luma levels above their surroundings at which a thin line / small spot counts.
LINE_LEVEL: Final = 12.0
SPOT_LEVEL: Final = 30.0
#: Sensor noise amounts rendered to map measured noise to ``sensor.noise_range``.
NOISE_AMOUNTS: Final = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
#: Object heights (m) assumed when a set has no 3D labels.
ASSUMED_HEIGHT: Final[dict[str, float]] = {
    "car": 1.5, "truck": 3.2, "bus": 3.1, "pedestrian": 1.7, "cyclist": 1.7,
    "traffic_light": 0.9, "traffic_sign": 0.75,
}
#: Classes whose boxes stand on the ground with a well-known height (COCO camera fit).
GROUND_CLASSES: Final = ("car", "pedestrian")
#: Per class, (low, high) bounds of fitted length, width and height (m), within the
#: template schema's bounds. A dimension left out is not fitted: KITTI's pedestrian
#: "length" includes the stride, which synthgen's figures do not have.
SANE_SIZES: Final[dict[str, dict[str, tuple[float, float]]]] = {
    "car": {"length": (3.0, 6.0), "width": (1.4, 2.2), "height": (1.2, 2.6)},
    "truck": {"length": (4.5, 18.0), "width": (1.9, 2.6), "height": (2.0, 4.2)},
    "bus": {"length": (8.0, 18.5), "width": (2.3, 2.6), "height": (2.8, 4.2)},
    "pedestrian": {"width": (0.35, 0.8), "height": (1.0, 2.05)},
    "cyclist": {"length": (1.3, 2.0), "width": (0.4, 0.9), "height": (1.3, 2.0)},
}
VEHICLES: Final = ("car", "truck", "bus")
#: A placement the base's road cannot offer -> the one to use instead (per class, or
#: ``default``); one with no entry here is dropped.
PLACEMENT_FALLBACK: Final[dict[str, dict[str, str]]] = {
    "oncoming": {"default": "in_lane"},
    "sidewalk": {"pedestrian": "roadside", "default": "in_lane"},
    "crosswalk": {"pedestrian": "roadside", "default": "in_lane"},
}


class FitError(DatasetError):
    """The real set cannot be fitted (too few usable objects, unknown base, unusable --out...)."""


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Fitted:
    """One value written into the template.

    Attributes:
        key: Dotted template field, e.g. ``camera.fov_range``.
        value: The value written.
        source: ``measured``, ``assumed``, ``option`` or a mix such as
            ``measured+assumed`` (the note says which part is which).
        note: How it was obtained, in a few words.
        warning: Where the value does not say what was measured (a count range whose
            mean is not the one wanted), said in the header and the printed table.
    """

    key: str
    value: Any
    source: str
    note: str
    warning: str = ""


def robust_lstsq(a: np.ndarray, b: np.ndarray, *, rounds: int = 3, floor: float = 0.5,
                 what: str = "a least-squares fit") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares ``a @ x = b``, refitted without rows more than 3 robust standard
    deviations (1.4826 MAD, at least ``floor``) off.

    Returns:
        ``(x, covariance of x, mask of the rows kept)``.

    Raises:
        FitError: ``a`` or ``b`` holds a value that is not finite or so large that the
            normal equations would overflow (``what`` names the fit in the message).
    """
    # Squares of values over 1e150 overflow: the solver then returns garbage or, in some
    # LAPACK builds, never returns at all.
    limit = 1e100
    if not (np.isfinite(a).all() and np.isfinite(b).all()
            and np.abs(a).max(initial=0.0) < limit and np.abs(b).max(initial=0.0) < limit):
        raise FitError(f"{what}: a label holds a number that is not finite or implausibly "
                       "large; nothing can be fitted from it")
    keep = np.ones(len(b), dtype=bool)
    x = np.zeros(a.shape[1])
    for _ in range(rounds + 1):
        x, *_ = np.linalg.lstsq(a[keep], b[keep], rcond=None)
        residual = b - a @ x
        scale = max(1.4826 * float(np.median(np.abs(residual[keep]))), floor)
        new_keep = np.abs(residual) <= 3 * scale
        if np.array_equal(new_keep, keep) or new_keep.sum() <= a.shape[1]:
            break
        keep = new_keep
    dof = max(1, int(keep.sum()) - a.shape[1])
    sigma2 = float(np.sum((b - a @ x)[keep] ** 2)) / dof
    cov = sigma2 * np.linalg.pinv(a[keep].T @ a[keep])
    return x, cov, keep


def _r(value: float, digits: int = 2) -> float:
    return float(round(value, digits))


def _range(low: float, high: float, digits: int = 2) -> list[float]:
    low, high = _r(low, digits), _r(high, digits)
    return [min(low, high), max(low, high)]


def fov_deg(focal: float, width: float) -> float:
    """Horizontal field of view (degrees) of a focal length (px) at an image width."""
    return math.degrees(2 * math.atan(width / 2 / focal))


def focal_px(fov: float, width: float) -> float:
    """Focal length (px) of a horizontal field of view (degrees) at an image width."""
    return width / 2 / math.tan(math.radians(fov) / 2)


def corners(box: KittiBox3D) -> np.ndarray:
    """The eight corners ``(8, 3)`` of a KITTI 3D box in camera coordinates."""
    c, s = math.cos(box.rotation_y), math.sin(box.rotation_y)
    dx = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * box.length / 2
    dz = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * box.width / 2
    dy = np.array([0, 0, 0, 0, -1, -1, -1, -1]) * box.height
    return np.stack([box.x + c * dx + s * dz, box.y + dy, box.z - s * dx + c * dz], axis=1)


def recommended_size(images: Sequence[RealImage]) -> tuple[int, int]:
    """The median width and height of the real images."""
    widths = np.array([i.width for i in images])
    heights = np.array([i.height for i in images])
    return int(np.median(widths).round()), int(np.median(heights).round())


@dataclass(frozen=True)
class RoadModel:
    """The base template's average road, relative to a camera in its average forward lane
    (metres, right positive). See step 6 of the module docstring."""

    centre_line: float
    left_lanes_edge: float
    right_lanes_edge: float
    left_road_edge: float
    right_road_edge: float
    available: frozenset[str]

    @classmethod
    def of(cls, template: SceneTemplate) -> RoadModel:
        road = template.road
        mean = lambda r: (r[0] + r[1]) / 2  # noqa: E731 - a one-line local helper
        lane, forward, oncoming = (mean(road.lane_width_range),
                                   mean(road.forward_lanes_range),
                                   mean(road.oncoming_lanes_range))
        median, shoulder = mean(road.median_width_range), mean(road.shoulder_width_range)
        centre = -(median / 2 + (forward - 1) / 2 * lane + lane / 2)
        available = {"in_lane", "parked", "roadside"}
        if road.oncoming_lanes_range[1] > 0:
            available.add("oncoming")
        if road.sidewalk_width_range[1] > 0.5:
            available.add("sidewalk")
        if road.layout == "intersection" or road.markings.crosswalk_probability > 0:
            available.add("crosswalk")
        if road.layout == "intersection":
            available.add("cross_traffic")
        left_lanes = centre - median / 2 - oncoming * lane
        right_lanes = centre + median / 2 + forward * lane
        return cls(centre, left_lanes, right_lanes, left_lanes - shoulder,
                   right_lanes + shoulder, frozenset(available))

    def placement(self, category: str, x: float, heading: float | None,
                  width: float | None = None) -> str:
        """Where synthgen would put an object at lateral offset ``x`` with forward heading
        component ``heading`` (1 away from the camera, -1 towards it, None unknown); a
        vehicle ``width`` wide (given) standing where synthgen parks one against the
        road's edge, or less than :data:`KERB_TOLERANCE` inside that, is parked even
        with its centre on the lanes."""
        along = heading is not None and abs(heading) > 0.5
        across = heading is not None and not along
        if category == "pedestrian":
            on_road = self.left_road_edge <= x <= self.right_road_edge
            return "crosswalk" if on_road and across else "sidewalk"
        on_lanes = self.left_lanes_edge <= x <= self.right_lanes_edge
        if category == "cyclist" and along:
            # Cyclists ride along the road's edge, bike lanes and parking strips included;
            # synthgen keeps in_lane cyclists at the right edge of the rightmost lane.
            return "in_lane" if heading > 0 else "oncoming"
        if not on_lanes:
            return "parked" if category in VEHICLES else "sidewalk"
        if (category in VEHICLES and width is not None
                and self.setback(x, width) >= -KERB_TOLERANCE):
            return "parked"
        if along:
            return "in_lane" if heading > 0 else "oncoming"
        return "in_lane" if x >= self.centre_line else "oncoming"

    def setback(self, x: float, width: float) -> float:
        """How far (m) beyond its place at the road's edge a parked object ``width`` wide
        at lateral offset ``x`` stands, outwards (what ``parked_setback_range`` draws;
        negative when it stands nearer the lanes)."""
        edge = self.right_road_edge if x >= self.centre_line else self.left_road_edge
        return abs(x - self.centre_line) - abs(edge - self.centre_line) + width / 2 + KERB_GAP


def _available(placement: str, category: str, road: RoadModel) -> str | None:
    """``placement`` or the nearest one the base's road offers for ``category``."""
    allowed = ALLOWED_PLACEMENTS[category]
    seen = set()
    while placement not in seen:
        seen.add(placement)
        if placement in road.available and placement in allowed:
            return placement
        fallback = PLACEMENT_FALLBACK.get(placement)
        if fallback is None:
            return None
        placement = fallback.get(category, fallback["default"])
    return None


# --------------------------------------------------------------------------- camera


@dataclass
class CameraFit:
    """The camera as the fit sees it, in pixels of the recommended size."""

    focal: float
    focal_se: float
    horizon_row: float | None
    cx: float | None
    heights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rows: list[Fitted] = field(default_factory=list)


def _usable_for_edges(obs: Observation, image: RealImage) -> bool:
    box = obs.box3d
    if box is None or box.z < NEAR_LIMIT:
        return False
    if obs.truncation is not None and obs.truncation > 0.05:
        return False
    left, top, right, bottom = obs.box
    return left > 1 and top > 1 and right < image.width - 2 and bottom < image.height - 2


def fit_camera_3d(real: RealSet, size: tuple[int, int], *, fov: float | None = None,
                  camera_height: float | None = None) -> CameraFit:
    """Steps 1-2 of the module docstring.

    Args:
        real: The set, with 3D labels.
        size: The recommended image size.
        fov: ``--fov``: the focal length is not fitted (the box edges then give the
            principal point only, for pitch and yaw).
        camera_height: ``--camera-height``: with too few objects for the ground line, the
            ground's tilt (for the pitch) comes from the objects there are at this height
            (none: the pitch is inherited) instead of failing. The caller writes the
            height row.

    Raises:
        FitError: Too few usable boxes to fit the focal length (without ``fov``) or the
            camera height (without ``camera_height``), or a focal length outside what a
            template can hold.
    """
    width, height = size
    groups = sorted({(i.width, i.height) for i in real.images})
    group_of = {g: k for k, g in enumerate(groups)}
    rows, targets = [], []
    for obs in real.objects:
        image = real.images[obs.image]
        if not _usable_for_edges(obs, image):
            continue
        pts = corners(obs.box3d)
        if (pts[:, 2] <= 0.5).any():
            continue
        a, b = pts[:, 0] / pts[:, 2], pts[:, 1] / pts[:, 2]
        g = group_of[(image.width, image.height)]
        for slope, value, axis in ((a.min(), obs.box.x0, 0), (a.max(), obs.box.x1, 0),
                                   (b.min(), obs.box.y0, 1), (b.max(), obs.box.y1, 1)):
            row = np.zeros(1 + 2 * len(groups))
            row[0] = slope
            row[1 + 2 * g + axis] = 1.0
            rows.append(row)
            targets.append(value)
    objects_text = (f"only {len(rows) // 4} untruncated objects with 3D labels at least "
                    f"{NEAR_LIMIT:g} m away")
    offsets: np.ndarray | None = None
    edges = f"the box edges of {real.source}"
    if fov is None:
        if len(rows) < MIN_EDGES:
            raise FitError(f"{real.source}: {objects_text}; too few to fit the focal "
                           "length (give --fov)")
        x, cov, keep = robust_lstsq(np.array(rows), np.array(targets), what=edges)
        focal, focal_se = float(x[0]), float(math.sqrt(max(cov[0, 0], 0.0)))
        fitted_fov = fov_deg(focal, width) if math.isfinite(focal) and focal > 0 else math.nan
        if not (math.isfinite(focal_se) and math.isfinite(fitted_fov)
                and 30.0 <= fitted_fov <= 120.0):
            raise FitError(f"{real.source}: the camera's focal length could not be fitted "
                           f"(focal {focal:.4g} px, fov {fitted_fov:.4g} deg at width {width}, "
                           "expected 30-120 deg; are the 3D labels in the camera's "
                           "coordinates?); give --fov")
        offsets = x[1:]
        spread = max(MIN_FOV_HALF_WIDTH, (fov_deg(focal - 2 * focal_se, width)
                                          - fov_deg(focal + 2 * focal_se, width)) / 2)
        fov_row = Fitted(
            "camera.fov_range", _range(fitted_fov - spread, fitted_fov + spread, 1),
            "measured",
            f"focal {focal:.1f} px (+-{focal_se:.1f}) from {int(keep.sum())} box edges of "
            f"{len(rows) // 4} objects; fov {fitted_fov:.1f} deg at width {width}")
        used = keep
    else:
        focal, focal_se = focal_px(fov, width), 0.0
        fov_row = Fitted("camera.fov_range", [_r(fov, 1), _r(fov, 1)], "option",
                         f"--fov {fov:g} at width {width}")
        used = np.zeros(len(rows), dtype=bool)
        if len(rows) >= MIN_EDGES:
            # The focal length known, each edge gives its group's principal point.
            matrix, values = np.array(rows), np.array(targets)
            offsets, _, used = robust_lstsq(matrix[:, 1:], values - focal * matrix[:, 0],
                                            what=edges)
        else:
            log.warning("%s: %s: the principal point is not fitted; pitch and yaw are "
                        "inherited from the base", real.source, objects_text)
    fit = CameraFit(focal=focal, focal_se=focal_se, horizon_row=None, cx=None)
    fit.rows.append(fov_row)
    cx = cy = None
    if offsets is not None:
        # The principal point of the images of the recommended size, else of the most
        # common size, else of the size with the most edges used.
        counts = Counter((i.width, i.height) for i in real.images)
        chosen = (width, height) if (width, height) in group_of else counts.most_common(1)[0][0]
        per_group = Counter(int(np.flatnonzero(row[1:])[0]) // 2
                            for row, kept in zip(rows, used, strict=True) if kept)
        if per_group[group_of[chosen]] == 0:
            chosen = groups[per_group.most_common(1)[0][0]]
        g = group_of[chosen]
        cx, cy = float(offsets[2 * g]), float(offsets[1 + 2 * g])
        # Shift to the recommended size if the chosen group differs (centre-relative).
        cx += (width - chosen[0]) / 2
        cy += (height - chosen[1]) / 2
        fit.cx = cx

    # Ground line y = h + t z through object bottoms.
    ground = [(o.image, o.box3d.z, o.box3d.y) for o in real.objects
              if o.box3d is not None and NEAR_LIMIT <= o.box3d.z <= FAR_LIMIT]
    ground_text = (f"only {len(ground)} objects with 3D labels {NEAR_LIMIT:g}-{FAR_LIMIT:g} m "
                   "away")
    tilt: float | None = None
    tilt_note = ""
    if len(ground) >= MIN_GROUND_OBJECTS:
        idx, z, y = (np.array(v, dtype=float) for v in zip(*ground, strict=True))
        line, _, kept = robust_lstsq(np.stack([np.ones_like(z), z], axis=1), y, floor=0.05,
                                     what=f"the object bottoms of {real.source}")
        tilt = float(line[1])
        per_image = [float(np.median((y - tilt * z)[kept & (idx == i)]))
                     for i in np.unique(idx[kept]).astype(int)]
        fit.heights = np.array(per_image)
        low, high = np.percentile(fit.heights, [10, 90])
        fit.rows.append(Fitted(
            "camera.height_range", _range(max(0.5, low), min(5.0, high)), "measured",
            f"10-90th pct of {len(per_image)} images' median object bottom (KITTI y); "
            f"ground tilt {tilt:+.4f}"))
    elif camera_height is None:
        raise FitError(f"{real.source}: {ground_text}; too few to fit the camera height "
                       "(give --camera-height)")
    elif ground:
        # The height given: each object's bottom gives the tilt, y = h + t z.
        tilt = float(np.median([(y - camera_height) / z for _, z, y in ground]))
        tilt_note = (f"; ground tilt {tilt:+.4f} from {len(ground)} object bottoms at "
                     f"--camera-height {camera_height:g}")
    else:
        log.warning("%s: %s: the pitch is inherited from the base", real.source, ground_text)
    if tilt is not None and cy is not None:
        fit.horizon_row = cy + focal * tilt
        pitch = math.degrees(math.atan((height / 2 - fit.horizon_row) / focal))
        fit.rows.append(Fitted(
            "camera.pitch_range", _range(pitch - PITCH_HALF_WIDTH, pitch + PITCH_HALF_WIDTH),
            "measured+assumed",
            f"horizon row {fit.horizon_row:.1f} vs centre {height / 2:g}: {pitch:+.2f} deg "
            f"measured{tilt_note}; +-{PITCH_HALF_WIDTH:g} assumed"))
    if cx is not None:
        yaw = math.degrees(math.atan((width / 2 - cx) / focal))
        fit.rows.append(Fitted(
            "camera.yaw_range", _range(yaw - YAW_HALF_WIDTH, yaw + YAW_HALF_WIDTH),
            "measured+assumed",
            f"principal point cx {cx:.1f} vs centre {width / 2:g}: {yaw:+.2f} deg "
            f"measured; +-{YAW_HALF_WIDTH:g} assumed"))
    _check_camera_rows(real, fit.rows, fov_given=fov is not None)
    return fit


#: Template bounds of the camera ranges fitted (``scenes/_base.yaml``'s schema).
CAMERA_BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "camera.pitch_range": (-20.0, 30.0), "camera.yaw_range": (-45.0, 45.0)}


def _check_camera_rows(real: RealSet, rows: Sequence[Fitted], *, fov_given: bool) -> None:
    """Refuse a fitted pitch or yaw a template cannot hold (labels no camera fits)."""
    for row in rows:
        bounds = CAMERA_BOUNDS.get(row.key)
        if bounds is not None and not bounds[0] <= row.value[0] <= row.value[1] <= bounds[1]:
            hint = "" if fov_given else "; give --fov"
            raise FitError(f"{real.source}: {row.key} could not be fitted: {_show(row.value)}, "
                           f"expected within [{bounds[0]:g}, {bounds[1]:g}] (are the 3D labels "
                           f"in the camera's coordinates?){hint}")


def fit_camera_2d(real: RealSet, size: tuple[int, int], base: SceneTemplate, *,
                  fov: float | None) -> CameraFit:
    """Step 3 of the module docstring (no 3D labels)."""
    width, height = size
    if fov is not None:
        focal = focal_px(fov, width)
        fov_row = Fitted("camera.fov_range", [_r(fov, 1), _r(fov, 1)], "option",
                         f"--fov {fov:g} at width {width}")
    else:
        mid = sum(base.camera.fov_range) / 2
        focal = focal_px(mid, width)
        fov_row = None
        log.warning("%s has no 3D labels: the focal length cannot be measured; distances "
                    "assume the base's middle field of view, %.1f deg (give --fov)",
                    real.source, mid)
    fit = CameraFit(focal=focal, focal_se=0.0, horizon_row=None, cx=width / 2)
    if fov_row is not None:
        fit.rows.append(fov_row)
    q, bottoms = [], []
    for obs in real.objects:
        if obs.category not in GROUND_CLASSES:
            continue
        image = real.images[obs.image]
        _, top, _, bottom = obs.box
        box_height = obs.box.height
        if box_height < 10 or bottom >= image.height - 2 or top <= 1:
            continue
        # Rescale to the recommended size, keeping the image centre.
        scale = height / image.height
        q.append(box_height * scale / ASSUMED_HEIGHT[obs.category])
        bottoms.append(height / 2 + (bottom - image.height / 2) * scale)
    if len(q) >= MIN_GROUND_OBJECTS:
        line, _, kept = robust_lstsq(np.stack([np.ones(len(q)), q], axis=1), np.array(bottoms))
        fit.horizon_row, cam_height = float(line[0]), float(line[1])
        pitch = math.degrees(math.atan((height / 2 - fit.horizon_row) / focal))
        fit.rows.append(Fitted(
            "camera.pitch_range", _range(pitch - PITCH_HALF_WIDTH, pitch + PITCH_HALF_WIDTH),
            "measured+assumed",
            f"horizon row {fit.horizon_row:.1f} from {int(kept.sum())} car/pedestrian boxes "
            f"(assumed heights 1.5/1.7 m), focal {'from --fov' if fov else 'assumed'}; "
            f"+-{PITCH_HALF_WIDTH:g} assumed"))
        if 0.5 <= cam_height <= 5.0:
            fit.heights = np.array([cam_height])
            fit.rows.append(Fitted(
                "camera.height_range", _range(max(0.5, cam_height - 0.15),
                                              min(5.0, cam_height + 0.15)),
                "measured+assumed",
                f"{cam_height:.2f} m from box bottoms vs heights (assumed class heights); "
                "+-0.15 assumed"))
        else:
            log.warning("camera height from boxes is %.2f m, outside 0.5-5 m: not used",
                        cam_height)
    else:
        log.warning("%s: only %d whole car/pedestrian boxes: camera height and pitch are "
                    "inherited from the base", real.source, len(q))
    return fit


# --------------------------------------------------------------------------- objects


@dataclass
class ObjectGeometry:
    """Distance, lateral offset and heading of one object (NaN where unknown)."""

    category: str
    distance: float
    lateral: float
    heading: float | None
    box3d: KittiBox3D | None


def object_geometry(real: RealSet, camera: CameraFit,
                    size: tuple[int, int]) -> list[ObjectGeometry]:
    """Each object's distance, lateral offset and heading: from KITTI 3D where present,
    else from its box, an assumed class height and the camera's focal length."""
    width, height = size
    result = []
    for obs in real.objects:
        box = obs.box3d
        if box is not None:
            heading = -math.sin(box.rotation_y)
            result.append(ObjectGeometry(obs.category, box.z, box.x, heading, box))
            continue
        image = real.images[obs.image]
        left, _, right, _ = obs.box
        scale = height / image.height
        box_height = obs.box.height * scale
        if box_height < 4:
            continue
        distance = camera.focal * ASSUMED_HEIGHT[obs.category] / box_height
        # Without 3D the principal point is taken to be the image centre.
        lateral = ((left + right) / 2 - image.width / 2) * scale * distance / camera.focal
        result.append(ObjectGeometry(obs.category, distance, lateral, None, None))
    return result


def count_moments(real: RealSet) -> dict[str, tuple[float, float]]:
    """Per class, mean and standard deviation of labelled objects per image."""
    counts = np.zeros((len(real.images), len(CATEGORY_NAMES)))
    column = {name: k for k, name in enumerate(CATEGORY_NAMES)}
    for obs in real.objects:
        counts[obs.image, column[obs.category]] += 1
    return {name: (float(counts[:, k].mean()), float(counts[:, k].std()))
            for name, k in column.items()}


def count_range(mean: float, std: float, *, present: bool) -> list[int]:
    """A uniform integer range with about this mean and spread (step 4)."""
    half = math.sqrt(3.0) * std
    low = max(0.0, mean - half)
    high = max(low, 2 * mean - low)
    lo, hi = round(low), round(high)
    if present:
        hi = max(hi, 1)
    return [min(lo, 60), min(max(hi, lo), 60)]


def count_row(category: str, mean: float, std: float, note: str, *,
              share: float = 1.0) -> Fitted:
    """The ``count_range`` row of a class labelled ``mean +- std`` per image, of which
    synthgen labels ``share`` of what it places; with a warning when the range's mean is
    not the one wanted (``mean / share``): a uniform integer range cannot average under 0.5
    per image for a class it keeps at ``[0, 1]`` (a rarer class comes out too common)."""
    value = count_range(mean / share, std / share, present=True)
    wanted, got = mean / share, (value[0] + value[1]) / 2
    warning = ""
    if abs(got - wanted) > max(0.1 * wanted, 0.05):
        if value == [0, 1] and wanted < 0.5:
            why = "a uniform integer range cannot average under 0.5 for a class it keeps"
        elif value[1] == 60:
            why = "count ranges end at 60"
        else:
            why = "a uniform integer range has whole-number ends"
        warning = (f"count_range averages {got:.2f} per image, {got / wanted:.1f}x the "
                   f"{wanted:.2f} wanted ({why})")
    return Fitted(f"objects.{category}.count_range", value, "measured", note, warning)


def fit_objects(real: RealSet, geometry: list[ObjectGeometry], base: SceneTemplate, *,
                only_real_classes: bool) -> list[Fitted]:
    """Steps 4-7 of the module docstring, counts not yet calibrated."""
    rows: list[Fitted] = []
    road = RoadModel.of(base)
    moments = count_moments(real)
    present = {name for name, n in real.per_class().items() if n}
    for name in CATEGORY_NAMES:
        if name not in present:
            if only_real_classes and name in base.objects:
                rows.append(Fitted(f"objects.{name}.count_range", [0, 0], "option",
                                   "--only-real-classes: the real set labels none"))
            continue
        mean, std = moments[name]
        if name not in base.objects:
            raise FitError(f"the base template has no {name} objects to fit; choose another "
                           "--base")
        rows.append(count_row(name, mean, std, f"{mean:.2f} +- {std:.2f} labelled per image"))
        mine = [g for g in geometry if g.category == name]
        if len(mine) < MIN_OBJECTS:
            continue
        distances = np.array([g.distance for g in mine])
        q1, q3 = np.percentile(distances, [25, 75])
        iqr = q3 - q1
        high = min(q3 + iqr / 2, distances.max(), base.max_distance)
        low = min(max(2.0, q1 - iqr / 2, distances.min()), high - 1.0)
        source = "measured" if all(g.box3d is not None for g in mine) else "measured+assumed"
        how = "KITTI z" if source == "measured" else "f * assumed height / box height"
        rows.append(Fitted(f"objects.{name}.distance_range", _range(low, high, 1), source,
                           f"uniform with the quartiles of {len(mine)} distances ({how})"))
        shares: Counter[str] = Counter()
        parked = []
        spec = base.objects[name]
        mean_width = (spec.width_range[0] + spec.width_range[1]) / 2
        for g in mine:
            width = mean_width if g.box3d is None else g.box3d.width
            spot = _available(road.placement(name, g.lateral, g.heading, width), name, road)
            if spot is not None:
                shares[spot] += 1
            if spot == "parked":
                parked.append(g)
        if shares:
            total = sum(shares.values())
            weights = {k: _r(v / total) for k, v in sorted(shares.items()) if v / total >= 0.005}
            rows.append(Fitted(f"objects.{name}.placements", weights, source,
                               f"{total} objects placed on the base's road by lateral offset "
                               "and heading"))
            rows += _setback_row(name, parked if "parked" in weights else [], road, spec,
                                 source)
        sized = [g.box3d for g in mine if g.box3d is not None]
        if len(sized) >= MIN_OBJECTS and name in SANE_SIZES:
            for dim in SANE_SIZES[name]:
                values = np.array([getattr(b, dim) for b in sized])
                lo, hi = np.percentile(values, [10, 90])
                bound_lo, bound_hi = SANE_SIZES[name][dim]
                lo, hi = min(max(lo, bound_lo), bound_hi), min(max(hi, bound_lo), bound_hi)
                rows.append(Fitted(f"objects.{name}.{dim}_range", _range(lo, hi), "measured",
                                   f"10-90th pct of {len(sized)} KITTI {dim}s, clipped to "
                                   f"[{bound_lo:g}, {bound_hi:g}]"))
    return rows


def _setback_row(name: str, parked: list[ObjectGeometry], road: RoadModel,
                 base: ObjectClass, source: str) -> list[Fitted]:
    """``parked_setback_range`` from the parked objects' distances beyond the base road's
    edge (:meth:`RoadModel.setback`; their KITTI width, else the base's mean), fitted as
    distances are (the uniform range with their quartiles) unless that range would start
    below 0: then ``[0, 2 x median]`` (same median). None for fewer than
    :data:`MIN_OBJECTS` (the base's range is kept), ``[0, 0]`` when they stand at the
    edge (a range under 0.1 m; or no parked weight fitted) and the base sets its objects
    back."""
    at_edge = ([Fitted(f"objects.{name}.parked_setback_range", [0.0, 0.0], source,
                       "parked objects stand at the road's edge")]
               if base.parked_setback_range[1] > 0 else [])
    if not parked:
        return at_edge
    if len(parked) < MIN_OBJECTS:
        return []
    mean_width = (base.width_range[0] + base.width_range[1]) / 2
    setbacks = np.array([road.setback(g.lateral, mean_width if g.box3d is None
                                      else g.box3d.width) for g in parked])
    q1, median, q3 = np.percentile(setbacks, [25, 50, 75])
    iqr = q3 - q1
    high = min(q3 + iqr / 2, float(setbacks.max()), MAX_SETBACK)
    low = q1 - iqr / 2
    how = "uniform with their quartiles"
    if low < 0:
        low, high = 0.0, min(max(2 * median, 0.0), MAX_SETBACK)
        how = "uniform from 0 with their median"
    low = min(low, high)
    if high < 0.1:
        return at_edge
    return [Fitted(f"objects.{name}.parked_setback_range", _range(low, high, 1), source,
                   f"{how}: {len(parked)} parked objects' distances beyond the base road's "
                   f"edge (quartiles {q1:.1f} / {median:.1f} / {q3:.1f} m; a real road's "
                   "parking lanes count as setback)")]


# --------------------------------------------------------------------------- lighting


def measure_brightness(real: RealSet, max_images: int) -> np.ndarray:
    """Mean luma of up to ``max_images`` image files, evenly spaced by name."""
    from synthgen.analysis.measure import pixel_measures, read_downscaled

    values = []
    for image in _spread(real.images, max_images):
        rgb = read_downscaled(image.path)
        if rgb is not None:
            values.append(pixel_measures(rgb)[0])
    return np.array(values)


def fit_lighting(brightness: np.ndarray, base: SceneTemplate) -> list[Fitted]:
    """Step 8 of the module docstring."""
    if brightness.size == 0:
        return []
    share = float(np.mean(brightness >= DAYLIGHT_LUMA))
    note = (f"{share:.0%} of {brightness.size} sampled images have mean luma >= "
            f"{DAYLIGHT_LUMA:g} (median {np.median(brightness):.0f})")
    if share >= DAYLIGHT_SHARE:
        return [Fitted("lighting.time_of_day", {"day": 1.0}, "measured", note)]
    rest = {k: v for k, v in base.lighting.time_of_day.items() if k != "day" and v > 0}
    total = sum(rest.values())
    weights = {"day": _r(share)} if share > 0 else {}
    if total > 0:
        weights.update({k: _r((1 - share) * v / total) for k, v in rest.items()})
    else:
        weights.update({"dusk": _r((1 - share) / 2), "night": _r((1 - share) / 2)})
    return [Fitted("lighting.time_of_day", weights, "measured+assumed",
                   note + "; dusk:night as in the base")]


# --------------------------------------------------------------------------- weather


@dataclass(frozen=True)
class ImageMeasures:
    """What step 9 measures of one image (see the module docstring for each).

    Attributes:
        contrast: 5-95th percentile spread of luma (0-255) at :data:`MEASURE_WIDTH`.
        haze: Mean dark channel (0-255) of the lower two thirds at :data:`MEASURE_WIDTH`.
        saturation: Mean HSV saturation (0-1) at :data:`MEASURE_WIDTH`.
        streaks: Share of full-size pixels on thin, bright, near-vertical lines.
        specks: Share of full-size pixels in small bright spots.
        noise: Immerkaer's noise estimate (luma levels) over the flattest 30 % of pixels.
    """

    contrast: float
    haze: float
    saturation: float
    streaks: float
    specks: float
    noise: float


def _ellipse(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def measure_image(rgb: np.ndarray) -> ImageMeasures:
    """The :class:`ImageMeasures` of one full-size RGB uint8 image."""
    h, w = rgb.shape[:2]
    luma = (rgb.astype(np.float32) @ np.array(LUMA, np.float32))
    small = cv2.resize(rgb, (MEASURE_WIDTH, max(3, round(h * MEASURE_WIDTH / w))),
                       interpolation=cv2.INTER_AREA)
    small_luma = small.astype(np.float32) @ np.array(LUMA, np.float32)
    low, high = np.percentile(small_luma, [5, 95])
    dark = cv2.erode(small.min(axis=2), np.ones((7, 7), np.uint8))
    saturation = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1]
    # Rain: bright lines at most 3 px wide (what a 1x5 horizontal opening removes) that
    # survive a 7x1 vertical opening (dots and noise do not).
    thin = luma - cv2.morphologyEx(luma, cv2.MORPH_OPEN, np.ones((1, 5), np.uint8))
    lines = cv2.morphologyEx(thin, cv2.MORPH_OPEN, np.ones((7, 1), np.uint8))
    # Snow: spots smaller than a 5 px disc, brighter than around them.
    spots = cv2.morphologyEx(luma, cv2.MORPH_TOPHAT, _ellipse(5))
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    residual = np.abs(cv2.filter2D(luma, -1, kernel))[1:-1, 1:-1]
    gradient = cv2.magnitude(cv2.Sobel(luma, cv2.CV_32F, 1, 0),
                             cv2.Sobel(luma, cv2.CV_32F, 0, 1))[1:-1, 1:-1]
    flat = gradient <= np.percentile(gradient, 30)
    return ImageMeasures(
        contrast=float(high - low),
        haze=float(dark[dark.shape[0] // 3:].mean()),
        saturation=float(saturation.mean() / 255),
        streaks=float(np.mean(lines > LINE_LEVEL)),
        specks=float(np.mean(spots > SPOT_LEVEL)),
        noise=float(math.sqrt(math.pi / 2) / 6 * residual[flat].mean()),
    )


@dataclass(frozen=True)
class WeatherThresholds:
    """The classifier's five thresholds (step 9), calibrated on synthgen renders."""

    haze: float
    saturation: float
    specks: float
    streaks: float
    contrast: float


def classify_weather(m: ImageMeasures, th: WeatherThresholds) -> str:
    """A weather kind for one image: a fixed decision list over calibrated thresholds.

    Fog and snow veil both darks and colours: haze at or above ``th.haze`` with
    saturation below ``th.saturation`` is fog or snow (snow when specked). Otherwise
    contrast at or above ``th.contrast`` is clear (a sun casting shadows); below it, the
    sun is hidden, and streaks tell rain from overcast. Contrast comes before streaks
    because a real camera's fine detail (foliage, poles, texture) draws thin lines too.
    """
    if m.haze >= th.haze and m.saturation < th.saturation:
        return "snow" if m.specks >= th.specks else "fog"
    if m.contrast >= th.contrast:
        return "clear"
    return "rain" if m.streaks >= th.streaks else "overcast"


def best_split(low: Sequence[float], high: Sequence[float]) -> float:
    """The threshold ``t`` that best tells ``low`` values (``< t``) from ``high`` ones
    (``>= t``): the midpoint between neighbouring values with the least balanced error
    (mean of the two groups' error rates), the lowest such midpoint on a tie."""
    a, b = np.sort(np.asarray(low, float)), np.sort(np.asarray(high, float))
    values = np.unique(np.concatenate([a, b]))
    candidates = (values[1:] + values[:-1]) / 2 if values.size > 1 else values
    best, best_error = float(candidates[0]), math.inf
    for t in candidates:
        error = np.mean(a >= t) + np.mean(b < t)
        if error < best_error - 1e-12:
            best, best_error = float(t), float(error)
    return best


@dataclass
class WeatherCalibration:
    """Step 9's calibration: thresholds, their confusion on the renders they came from,
    and the noise each sensor noise amount gives.

    Attributes:
        thresholds: The classifier's thresholds.
        renders: Renders per weather kind.
        confusion: ``{true kind: {predicted kind: renders}}``.
        measures: The renders' measures per kind, with each render's weather intensity.
        noise_amounts: Sensor noise amounts rendered (increasing).
        noise_levels: Median measured noise per amount (made non-decreasing).
    """

    thresholds: WeatherThresholds
    renders: int
    confusion: dict[str, dict[str, int]]
    measures: dict[str, list[tuple[ImageMeasures, float]]]
    noise_amounts: list[float]
    noise_levels: list[float]

    def accuracy(self) -> float:
        right = sum(row[kind] for kind, row in self.confusion.items())
        return right / max(1, sum(sum(row.values()) for row in self.confusion.values()))

    def confusion_text(self) -> str:
        """The confusion as lines: true kind, then the count per predicted kind."""
        head = "true \\ predicted " + " ".join(f"{k:>8}" for k in WEATHER_KINDS)
        rows = [f"{kind:<17} " + " ".join(f"{self.confusion[kind][p]:>8}" for p in WEATHER_KINDS)
                for kind in WEATHER_KINDS]
        return "\n".join([head, *rows])


def _with(template: SceneTemplate, **sections: dict[str, Any]) -> SceneTemplate:
    """``template`` with the given top-level sections updated (already validated input)."""
    raw = template.model_dump(mode="json")
    for key, value in sections.items():
        raw[key] = {**raw[key], **value}
    return validate_template(raw, f"calibration variant of {template.name}")


def calibrate_weather(template: SceneTemplate, size: tuple[int, int], renders: int,
                      seed: int = 0) -> WeatherCalibration:
    """Render ``renders`` images of each weather kind with ``template`` (its camera,
    lighting and sensor) to set the thresholds, and clear images at each of
    :data:`NOISE_AMOUNTS` without motion blur to map measured noise to noise amounts."""
    from synthgen.generate.images import render_sample

    measures: dict[str, list[tuple[ImageMeasures, float]]] = {}
    for kind in WEATHER_KINDS:
        variant = _with(template, weather={"weights": {kind: 1.0}})
        measures[kind] = []
        for index in range(renders):
            sample = render_sample(variant, seed=seed, index=index, size=size)
            measures[kind].append((measure_image(sample.image), sample.scene.weather.intensity))

    def values(kinds: Iterable[str], attr: str) -> list[float]:
        return [getattr(m, attr) for kind in kinds for m, _ in measures[kind]]

    dry, veiled = ("clear", "overcast", "rain"), ("fog", "snow")
    thresholds = WeatherThresholds(
        haze=best_split(values(dry, "haze"), values(veiled, "haze")),
        # Low values are the veiled ones here: the split is on negated saturation.
        saturation=-best_split([-v for v in values(dry, "saturation")],
                               [-v for v in values(veiled, "saturation")]),
        specks=best_split(values(("fog",), "specks"), values(("snow",), "specks")),
        contrast=best_split(values(("overcast", "rain"), "contrast"),
                            values(("clear",), "contrast")),
        streaks=best_split(values(("overcast",), "streaks"), values(("rain",), "streaks")))
    confusion = {kind: dict.fromkeys(WEATHER_KINDS, 0) for kind in WEATHER_KINDS}
    for kind in WEATHER_KINDS:
        for m, _ in measures[kind]:
            confusion[kind][classify_weather(m, thresholds)] += 1
    levels = []
    per_amount = max(2, renders // 4)
    for amount in NOISE_AMOUNTS:
        variant = _with(template, weather={"weights": {"clear": 1.0}},
                        sensor={"noise_range": [amount, amount], "motion_blur_probability": 0.0})
        levels.append(float(np.median([
            measure_image(render_sample(variant, seed=seed + 1, index=i, size=size).image).noise
            for i in range(per_amount)])))
    return WeatherCalibration(thresholds, renders, confusion, measures, list(NOISE_AMOUNTS),
                              list(np.maximum.accumulate(levels)))


def measure_images(real: RealSet, max_images: int) -> list[ImageMeasures]:
    """:func:`measure_image` of up to ``max_images`` full-size image files, evenly spaced
    by name (unreadable files are skipped)."""
    measured = []
    for image in _spread(real.images, max_images):
        rgb = read_rgb(image.path)  # regular files only: a FIFO would block
        if rgb is not None:
            measured.append(measure_image(rgb))
    return measured


def _key_measure(kind: str) -> str:
    return {"overcast": "contrast", "fog": "haze", "rain": "streaks", "snow": "specks"}[kind]


def fit_weather(measured: Sequence[ImageMeasures], calibration: WeatherCalibration,
                base: SceneTemplate) -> list[Fitted]:
    """Step 9: weather weights (and intensity ranges) from the real images' kinds."""
    if not measured:
        return []
    th = calibration.thresholds
    kinds = Counter(classify_weather(m, th) for m in measured)
    total = len(measured)
    weights = {k: _r(kinds[k] / total) for k in WEATHER_KINDS if kinds[k]}
    shown = ", ".join(f"{k} {kinds[k]}" for k in WEATHER_KINDS if kinds[k])
    rows = [Fitted(
        "weather.weights", weights, "measured",
        f"{total} images classified ({shown}): haze (dark channel) >= {th.haze:.1f} and "
        f"saturation < {th.saturation:.3f} -> snow if specks >= {th.specks:.4f} else fog; "
        f"else contrast >= {th.contrast:.0f} -> clear; else streaks >= {th.streaks:.4f} -> "
        f"rain, else overcast; thresholds calibrated on {calibration.renders} renders per "
        f"kind, {calibration.accuracy():.0%} classified right")]
    intensity = {}
    for kind in WEATHER_KINDS[1:]:
        mine = [m for m in measured if classify_weather(m, th) == kind]
        if len(mine) < MIN_WEATHER_IMAGES:
            continue
        attr = _key_measure(kind)
        x = np.array([getattr(m, attr) for m, _ in calibration.measures[kind]])
        y = np.array([i for _, i in calibration.measures[kind]])
        slope, offset = np.polyfit(x, y, 1)
        predicted = np.clip(slope * np.array([getattr(m, attr) for m in mine]) + offset, 0, 1)
        lo, hi = np.percentile(predicted, [10, 90])
        intensity[kind] = _range(lo, hi)
    if intensity:
        kept = {k: list(v) for k, v in base.weather.intensity_range.items() if k in weights}
        keys = ", ".join(f"{k} from {_key_measure(k)}" for k in intensity)
        rows.append(Fitted(
            "weather.intensity_range", {**kept, **intensity}, "measured",
            f"10-90th pct of the images' intensity ({keys}, by a line fitted on the renders)"))
    return rows


def fit_noise(measured: Sequence[ImageMeasures], calibration: WeatherCalibration) -> list[Fitted]:
    """Step 10: ``sensor.noise_range`` from the real images' noise estimates."""
    if not measured:
        return []
    noise = np.array([m.noise for m in measured])
    levels, amounts = calibration.noise_levels, calibration.noise_amounts
    # np.interp needs increasing levels: of equal ones keep the smallest amount.
    keep = [0] + [i for i in range(1, len(levels)) if levels[i] > levels[i - 1]]
    xp, fp = np.array(levels)[keep], np.array(amounts)[keep]
    lo, hi = np.interp(np.percentile(noise, [10, 90]), xp, fp)
    curve = ", ".join(f"{a:g}: {v:.2f}" for a, v in zip(amounts, levels, strict=True))
    return [Fitted("sensor.noise_range", _range(lo, hi), "measured",
                   f"10-90th pct of {noise.size} images' noise ({np.percentile(noise, 10):.2f}-"
                   f"{np.percentile(noise, 90):.2f} levels, Immerkaer, flattest 30 %) through "
                   f"renders' noise per amount ({curve})")]


def _spread(images: Sequence[RealImage], max_images: int) -> list[RealImage]:
    """Up to ``max_images`` of ``images``, evenly spaced in order of file name."""
    if max_images <= 0:
        return []
    ordered = sorted(images, key=lambda i: str(i.path))
    if len(ordered) > max_images:
        picks = np.unique(np.linspace(0, len(ordered) - 1, max_images).round().astype(int))
        ordered = [ordered[i] for i in picks]
    return ordered


# --------------------------------------------------------------------------- calibrate


def labelled_share(template: SceneTemplate, size: tuple[int, int], images: int,
                   seed: int = 0) -> dict[str, float]:
    """Per class, labelled objects per drawn object, over ``images`` rendered images."""
    from synthgen.generate.images import render_sample

    labelled: Counter[str] = Counter()
    for index in range(images):
        sample = render_sample(template, seed=seed, index=index, size=size)
        # Boxes only: ignore regions (too small, occluded or faint) are no labels to count.
        labelled.update(label.category for label in sample.labels if label.is_box)
    shares = {}
    for name, spec in template.objects.items():
        drawn = images * (spec.count_range[0] + spec.count_range[1]) / 2
        if drawn > 0 and labelled[name] > 0:
            shares[name] = labelled[name] / drawn
    return shares


# --------------------------------------------------------------------------- template


def nested(rows: Iterable[Fitted]) -> dict[str, Any]:
    """The rows as the nested mapping a template file holds."""
    document: dict[str, Any] = {}
    for row in rows:
        *parents, leaf = row.key.split(".")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = row.value
    return document


def build_template(base_file: Path, rows: Sequence[Fitted], name: str) -> SceneTemplate:
    """Validate the base merged with the fitted rows (a failure here is a bug)."""
    raw = deep_merge(load_raw(base_file), nested(rows))
    raw["name"] = name
    return validate_template(raw, f"fitted template {name}")


@dataclass
class FitResult:
    """Everything ``synthgen fit`` prints and writes."""

    real: RealSet
    base: str
    size: tuple[int, int]
    rows: list[Fitted]
    description: str
    template: SceneTemplate
    notes: list[str] = field(default_factory=list)

    def yaml_text(self) -> str:
        """The template file: a comment header, then ``extends`` and the fitted fields."""
        per_class = ", ".join(f"{k} {v}" for k, v in self.real.per_class().items() if v)
        width, height = self.size
        lines = [
            f"# Fitted by `synthgen fit` (synthgen {__version__}) to the real set",
            f"# {self.real.source} ({self.real.format.upper()}, {len(self.real.images)} images, "
            f"{len(self.real.objects)} objects:",
            f"# {per_class}; {self.real.ignore_regions} ignore regions left out).",
            f"# Generate at the real images' median size: --size {width}x{height}",
            "# (templates hold no image size; fov_range is for that width).",
            "# Each value below: measured from the real set, assumed (a stated constant) or",
            "# given as an option; everything else is inherited from "
            f"{self.base} unchanged.",
        ]
        for row in self.rows:
            warning = f"; NOTE: {row.warning}" if row.warning else ""
            lines.append(f"#   {row.key}: {row.source}; {row.note}{warning}")
        for note in self.notes:
            lines.append(f"# {note}")
        document = {"extends": self.base, "description": self.description, **nested(self.rows)}
        body = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=92,
                              allow_unicode=True)
        return "\n".join(lines) + "\n" + body

    def table(self) -> str:
        """The summary printed by the command."""
        width, height = self.size
        shown = [(row.key, _show(row.value), row.source) for row in self.rows]
        key_w = max(len(k) for k, _, _ in shown)
        val_w = max(len(v) for _, v, _ in shown)
        lines = [f"Fitted {len(self.rows)} values to {self.real.source} "
                 f"({len(self.real.images)} images, {len(self.real.objects)} objects), "
                 f"base {self.base}",
                 f"  recommended size: --size {width}x{height} (the real images' median)"]
        lines += [f"  {k:<{key_w}}  {v:<{val_w}}  {s}"
                  + (f"  NOTE: {row.warning}" if row.warning else "")
                  for (k, v, s), row in zip(shown, self.rows, strict=True)]
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def base_path(base: str) -> Path:
    """The file of a bundled base template.

    Raises:
        FitError: ``base`` is not a bundled template's name.
    """
    names = [p.stem for p in bundled_templates()]
    if base not in names:
        raise FitError(f"--base {base!r}: not a bundled template; expected one of "
                       f"{', '.join(names)}")
    return resolve_template_path(base)


def check_out(out: Path, base: str, real_source: Path, *, overwrite: bool,
              images_dir: Path | None = None) -> None:
    """Refuse an ``--out`` that cannot be written or would not load as intended.

    Raises:
        OutputError: Not a ``.yaml`` file, named after the base (it would extend itself),
            exists without ``overwrite``, inside the real set (a folder read as input; of a
            COCO file, the file and its image folder), or beside a file that
            ``extends: BASE`` would find before the bundled one.
    """
    if out.suffix not in (".yaml", ".yml"):
        raise OutputError(f"--out {out}: a template file must end in .yaml")
    if out.stem == base:
        raise OutputError(f"--out {out}: named like --base {base}, the template's "
                          f"`extends: {base}` would find the file itself; give it another name")
    prepare_output_file("--out", out, overwrite=overwrite)
    target = out.resolve()
    src = real_source.resolve()
    if src.is_dir():
        protected = [src]
    elif src.exists():
        # A COCO file: the file itself and the folder its images are read from.
        protected = [src, images_dir.resolve() if images_dir is not None
                     else image_root_for(src).resolve()]
    else:
        protected = []
    if images_dir is not None and src.is_dir():
        protected.append(images_dir.resolve())
    for folder in protected:
        if target.is_relative_to(folder):
            raise OutputError(f"--out {out}: inside the real set {real_source} read as "
                              f"input ({folder}); write it somewhere else")
    shadow = out.parent / f"{base}.yaml"
    if shadow.is_file() and shadow.resolve() != resolve_template_path(base).resolve():
        raise OutputError(f"--out {out}: {shadow} lies beside it, and `extends: {base}` would "
                          "take that file instead of the bundled template; write it elsewhere")


def fit_real_set(src: str, *, base: str = "urban", fmt: str = "auto",
                 images_dir: str | None = None, fov: float | None = None,
                 camera_height: float | None = None, only_real_classes: bool = False,
                 calibrate_images: int = DEFAULT_CALIBRATION_IMAGES,
                 sample_images: int = DEFAULT_SAMPLE_IMAGES,
                 weather_renders: int = DEFAULT_WEATHER_RENDERS,
                 name: str = "fitted") -> FitResult:
    """Fit a template to the real set ``src`` (the method is the module docstring).

    Args:
        src: KITTI folder or COCO folder/file, as the user gave it.
        base: Bundled template the result extends.
        fmt: ``auto``, ``kitti`` or ``coco``.
        images_dir: COCO only: folder the ``file_name`` entries are relative to.
        fov: Horizontal field of view (degrees) at the recommended width; replaces the fit.
        camera_height: Camera height (m); replaces the fit.
        only_real_classes: Set classes the real set never labels to ``[0, 0]``.
        calibrate_images: Images rendered to measure the labelled share of placed
            objects (0: counts are not corrected).
        sample_images: Image files read for brightness, weather and noise (0: none of
            them fitted).
        weather_renders: Renders per weather kind calibrating the weather classifier
            (0: weather and sensor noise not fitted).
        name: The template's name (the output file's stem).

    Raises:
        FitError, DatasetError: The set cannot be read or fitted.
    """
    if fmt not in FORMATS:
        raise FitError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    base_file = base_path(base)
    base_template = build_template(base_file, [], name)
    real = read_real_set(src, fmt=fmt, images_dir=images_dir)
    size = recommended_size(real.images)
    if real.has_3d:
        camera = fit_camera_3d(real, size, fov=fov, camera_height=camera_height)
    else:
        camera = fit_camera_2d(real, size, base_template, fov=fov)
    notes = []
    if fov is None and not real.has_3d:
        notes.append("camera.fov_range: inherited (no 3D labels; give --fov); distances "
                     "assume its middle value")
    if camera_height is not None:
        camera.rows = [r for r in camera.rows if r.key != "camera.height_range"]
        camera.rows.append(Fitted("camera.height_range", [_r(camera_height), _r(camera_height)],
                                  "option", f"--camera-height {camera_height:g}"))
    geometry = object_geometry(real, camera, size)
    rows = [*sorted(camera.rows, key=lambda r: r.key),
            *fit_objects(real, geometry, base_template, only_real_classes=only_real_classes),
            *fit_lighting(measure_brightness(real, sample_images), base_template)]
    template = build_template(base_file, rows, name)
    if calibrate_images > 0:
        rows, template = _calibrate(real, rows, base_file, name, size, calibrate_images)
    else:
        notes.append("count_range: labelled counts, not corrected for objects synthgen "
                     "places but does not label (--calibrate 0)")
    measured = measure_images(real, sample_images) if weather_renders > 0 else []
    if measured:
        calibration = calibrate_weather(template, size, weather_renders)
        rows = [*rows, *fit_weather(measured, calibration, template),
                *fit_noise(measured, calibration)]
        template = build_template(base_file, rows, name)
        confusion = "; ".join(
            f"{kind} " + "/".join(str(calibration.confusion[kind][p]) for p in WEATHER_KINDS)
            for kind in WEATHER_KINDS)
        notes.append(f"weather classifier on its {weather_renders} renders per kind at "
                     f"{size[0]}x{size[1]} (true kind: predicted {'/'.join(WEATHER_KINDS)}): "
                     f"{confusion}")
        unfitted = "sensor motion blur and vignetting (not measured robustly)"
    else:
        unfitted = "weather, sensor (no image files read or --weather-renders 0)"
    notes.append(f"not fitted: road, roadside, camera roll and lateral offset (labels cannot "
                 f"tell); {unfitted}")
    description = (f"{base} fitted to {len(real.images)} {real.format.upper()} images; "
                   f"generate at --size {size[0]}x{size[1]}.")
    return FitResult(real=real, base=base, size=size, rows=rows, description=description,
                     template=template, notes=notes)


def _calibrate(real: RealSet, rows: list[Fitted], base_file: Path, name: str,
               size: tuple[int, int], images: int) -> tuple[list[Fitted], SceneTemplate]:
    """Step 4: divide fitted counts by the share of placed objects synthgen labels.
    Two rounds, since more objects hide each other more."""
    moments = count_moments(real)
    fitted_counts = {r.key.split(".")[1] for r in rows
                     if r.key.endswith(".count_range") and r.source == "measured"}
    template = build_template(base_file, rows, name)
    for _ in range(2):
        shares = labelled_share(template, size, images)
        updated = []
        for row in rows:
            category = row.key.split(".")[1] if row.key.startswith("objects.") else ""
            if row.key.endswith(".count_range") and category in fitted_counts:
                mean, std = moments[category]
                share = min(1.0, shares.get(category, 1.0))
                row = count_row(category, mean, std,
                                f"{mean:.2f} +- {std:.2f} labelled per image; synthgen labels "
                                f"{share:.0%} of placed objects ({images} renders at "
                                f"{size[0]}x{size[1]})", share=share)
            updated.append(row)
        rows = updated
        template = build_template(base_file, rows, name)
    return rows, template


def write_template(result: FitResult, out: Path) -> None:
    """Write the template atomically, loading the temporary file as ``generate --scene``
    would (from ``out``'s folder, named ``out``) before it replaces ``out``: nothing is
    left behind if it does not load.

    Raises:
        TemplateError: The template does not load (a bug in the fit).
    """
    with atomic_writer(out, "w") as handle:
        handle.write(result.yaml_text())
        handle.flush()
        check_written(Path(handle.name), out)


def check_written(tmp: Path, out: Path) -> SceneTemplate:
    """Load ``tmp`` as the template file ``out`` will be (its name, its folder for
    ``extends``, a file extending ``out`` itself being a cycle).

    Raises:
        TemplateError: It does not load.
    """
    extends = yaml.safe_load(tmp.read_text(encoding="utf-8")).get("extends")
    if isinstance(extends, str) and (out.parent / f"{extends}.yaml").resolve() == out.resolve():
        raise TemplateError(f"{out}: `extends: {extends}` would find the file itself")
    raw = load_raw(tmp, (out.resolve(),))
    raw.setdefault("name", out.stem)
    return validate_template(raw, str(out))
