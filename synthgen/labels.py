"""Labels from the final instance id map, and how visible each object is in the final image.

The label pipeline, in one place:

1. **Render** (:mod:`synthgen.render.painter`): every labelled face goes through the
   compiled z-buffer (:mod:`synthgen.render.zbuffer`), which writes the object's id where
   the face is nearest the camera at a pixel's centre (no antialiasing in the map), in the
   same pass that writes that pixel's colour: the map holds, for every pixel, the object
   the final image shows there, whatever stands in front of it (a nearer object, a
   building, a pole). A face takes the pixels whose centre it holds (an exact fixed-point
   test; a centre on an edge two faces share goes to one of them). Separately, each
   object's polygons are filled alone with the same rule on a canvas three frames wide
   and high: its *projection*, ignoring occluders and the frame
   (:mod:`synthgen.render.projections`), which holds every pixel the map gives it.
2. **Effects** (:mod:`synthgen.render.effects`) change pixel values only (glow, fog, rain,
   snow, blur, noise); no scene content moves, so the map from step 1 is the final one.
   A geometric effect would have to warp the map (nearest neighbour) before step 3.
   With ``--look-like``, the appearance stage (:func:`synthgen.render.appearance.apply_appearance`,
   after the effects) changes pixel values only too. What weather, darkness, glare, noise
   and blur do to an object is measured in step 3 on the *final image* (after the
   appearance stage), not derived from depth or the weather's parameters.

   **Blur and boxes.** Motion blur (:func:`synthgen.render.effects._motion_blur`, a line kernel
   of 3-7 px centred on each pixel, applied after fog, rain and snow and before
   vignetting and noise) and ``--look-like``'s Gaussian blur (sigma = the profile's
   fitted ``blur_sigma``, at most 3 px at the profile's width, x 0.5-1.5) smear colour
   across edges by up to half the kernel and about 3 sigma. Both are symmetric kernels:
   a blurred step edge is a ramp whose half-way level lies exactly on the sharp edge. A
   labeller who puts the box edge where the smear is half object, half background (what
   careful labelling guides ask: the object's extent, not the faintest trace of its
   smear) therefore draws the sharp silhouette. So boxes and masks stay **tight on the
   sharp silhouette**, also when the object is smeared; the smear's effect on what can
   be *seen* is in the contrast (a thin pole or a far pedestrian smeared over more than
   its width loses contrast, and may become an ignore region by step 4).
3. **Measure** (:func:`compute_labels`), per object:
   ``area`` = visible pixels = pixels of the map equal to its id;
   ``bbox`` (modal) = tight bounds of those pixels, in pixel edges, so a box covering
   pixel columns 10..19 is ``x0 = 10, x1 = 20``;
   ``bbox_amodal`` = tight bounds of its projection inside the frame;
   ``truncation`` = 1 - in-frame projected pixels / projected pixels;
   ``visibility`` = visible pixels / projected pixels;
   ``occlusion`` = 1 - visible pixels / in-frame projected pixels, reported as KITTI's
   ``occluded`` level: 0 fully visible (< 5 % hidden), 1 partly (< 50 %), 2 largely
   (3, "unknown", is never produced: the renderer always knows);
   ``segmentation`` = COCO RLE of the visible pixels, column-major as pycocotools writes it;
   ``contrast`` (only when the final image is given) = :func:`object_contrast`: how well
   the object's outline stands out from what surrounds it in the final image, 0 (cannot
   be told from its surroundings) to 1 (black against white).
4. **Filter** an object with at least one visible pixel:

   - it gets a **box** if it has at least ``min_pixels`` visible pixels, at least
     ``min_visibility`` of its in-frame projection is visible (``1 - occlusion``:
     occluders, not the frame edge, decide, so a car mostly outside the frame whose
     in-frame part shows clearly is labelled with its ``truncation``, as KITTI and COCO
     label cut-off objects) and, when the image is given, its ``contrast`` is at least
     ``min_contrast``;
   - otherwise, **when the image is given**, it gets an **ignore region**
     (``ignored`` = ``"pixels"``, ``"visibility"`` or ``"contrast"``, the first rule it
     fails in that order): its visible pixels as a mask, written to COCO as
     ``iscrowd: 1``, so COCOeval neither rewards nor punishes a detection there (a
     detection matched to it is ignored, an undetected one is no miss), and trainers
     that honour crowd regions (MMDetection's ``ignore_iof_thr``) keep it out of the loss;
   - **without the image** (``compute_labels(ids, objects, options)``, the call of
     synthgen before contrast existed) it simply gets no label, exactly as before:
     ``contrast`` is ``None``, ``min_contrast`` is not applied and no ignore region is
     made, so existing callers and their outputs do not change.

   An object with no visible pixel (wholly occluded or outside the frame) never gets
   anything: there is nothing in the image to ignore.
5. **Convert** at the exporter only (:mod:`synthgen.formats.coco`): internal
   :class:`~synthgen.formats.boxes.Box` pixel edges become COCO ``[x, y, width, height]``
   (:meth:`~synthgen.formats.boxes.Box.to_xywh`); an ignore region's ``bbox`` is the tight
   bound of its mask and its ``area`` its pixel count.

**The contrast measure** (:func:`object_contrast`), and why. At every pixel of the
object's outline (its visible pixels with a non-object pixel among their 8 neighbours)
the mean colour of the object's pixels and the mean colour of the other pixels inside a
``(2r+1)``-square window around it are compared: the distance between the two means
(Euclidean over R, G, B, divided by ``255 sqrt(3)``, so a grey step of ``d`` levels
counts ``d / 255``) minus twice its standard error (from the pooled pixel variance
within the two halves of the window), floored at 0, is that point's edge contrast. The
object's contrast is the 75th percentile of its outline points. ``r`` grows with the
object (``sqrt(area) / 4``, 2-8 px), so a blur of a few pixels removes little of a large
object's contrast and much of a small one's, as it does to the eye.

- *The outline, compared locally*, because an object is seen by its silhouette against
  whatever is behind it, and that changes along the outline (a car's roof against the
  sky, its sides against the road): one mean over a ring around the object would average
  a bright and a dark background into the object's own grey and call it invisible.
  Pixels at the frame edge are no outline (nothing is seen beyond the frame), pixels
  against an occluder are (the occluder is what the object must be told from).
- *The 75th percentile*, because an object is recognised when a good part of its
  outline shows; the mean is pulled down by stretches hidden by a like-coloured
  occluder, the maximum would be fooled by one noisy point.
- *Colour, in the image's own encoding*: the sRGB levels are close to perceptually
  uniform (their curve is close to that of CIE lightness), so the same difference in levels is
  about equally visible in a dark and a bright image, with no Weber ratio blowing up in
  the dark where every difference is drowned in noise; chromatic edges count (a red
  sign against a blue sky of the same grey level is plainly visible).
- *Minus twice the standard error*: sensor noise, rain streaks and snow flakes make the
  two window means differ by chance; what noise explains is not contrast. An object
  whose pixels are drawn from the same distribution as its surroundings scores about 0:
  in 3,000 trials of 9-121 pixel objects in Gaussian noise, never 0.01 at up to 5
  levels of noise (synthgen's sensor adds up to about 2.6), 0.02 in under 0.1 % at 10. A
  flat object on a flat background keeps its full step.
- *Cheap*: per object, summed-area tables of its padded box (one compiled integer pass
  for a small box, OpenCV's for a large one) and a few lookups per outline point.
  Measured on the bundled templates at 1280x720 with one OpenCV thread: about 1.3 ms
  per image for all its objects' contrast, 2.5 ms for all the labels, against 32-36 ms
  for the whole image, encoding included (``benchmarks/stages.py`` at 1074a98).

Its default threshold :attr:`LabelOptions.min_contrast` = 0.02 comes from renders of the
four street templates (24 scenes, each in clear day, overcast, fog 0.3, 0.6 and 0.9,
rain and snow by day, clear dusk, clear, rainy and foggy night; crops of objects sorted
by contrast, looked at side by side with their masks): under 0.01 objects could not be
found even when zoomed in on; from 0.01 to 0.02 they are a faint trace a careful look
finds at 4x zoom; from 0.02 they are seen. It is also the classical threshold of
meteorological visibility (a Weber contrast of 0.05, CIE; a black object against the
fog's grey) expressed in sRGB levels at a fog grey of about 200:
``200 (1 - 0.95^(1/2.2)) / 255 = 0.018``. Clear daylight objects of at least
``min_pixels`` pixels score 0.02 or more in over 99 % of cases (288 of 289), so the rule
costs clear images nothing; of the objects the other rules let through it turns about 1 %
into ignore regions in clear and overcast daylight and at dusk, 5 % at a clear night,
9-12 % in rain and snow, 16 % in light fog (0.3), 20 % on a rainy night, 35 % in dense
fog (0.9) and 38 % on a foggy night (0.5).

Known limit: lamps inside an object (a car's tail lights at night) add to its contrast
only where they reach its outline, so a dark car seen only by its lights scores low
(0.015-0.02) and may be ignored rather than boxed; an ignore region neither teaches nor
punishes, so the error is the safe one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numba import njit
from pycocotools import mask as mask_utils

from synthgen.formats.boxes import Box
from synthgen.label_options import LabelOptions

if TYPE_CHECKING:
    # Types only: the labelling rules (LabelOptions) load without the renderer.
    from synthgen.render.backgrounds import FittedRegion
    from synthgen.render.projections import RenderedObject

#: KITTI-style occlusion levels: upper bounds of the hidden fraction for levels 0 and 1.
OCCLUSION_LEVELS = (0.05, 0.5)


#: Why an object is an ignore region rather than a box (the first rule it fails), or
#: ``background``: an object of the real photo the image is drawn over (``--backgrounds``,
#: :func:`background_regions`).
IGNORE_REASONS = ("pixels", "visibility", "contrast", "background")


@dataclass(frozen=True)
class ObjectLabel:
    """The label of one visible object (boxes as float :class:`~synthgen.formats.boxes.Box`).

    ``contrast`` is ``None`` when labels were computed without the final image;
    ``ignored`` is ``None`` for a box, else the reason (one of :data:`IGNORE_REASONS`)
    the object is an ignore region (COCO ``iscrowd: 1``), whose ``bbox`` bounds its mask;
    ``source`` is ``"photo"`` for a box a ``--backgrounds`` set labels (the set's box
    cut to the pixels that show; see :func:`background_regions`), else ``None``.
    """

    instance_id: int
    category: str
    bbox: Box
    bbox_amodal: Box
    area: int
    visibility: float
    truncation: float
    occluded: int
    distance: float
    rle: dict[str, Any]
    contrast: float | None = None
    ignored: str | None = None
    source: str | None = None

    @property
    def is_box(self) -> bool:
        """True for a box, False for an ignore region."""
        return self.ignored is None


def occlusion_level(hidden_fraction: float) -> int:
    """KITTI's occluded level (0, 1 or 2) for the fraction of in-frame pixels hidden."""
    if hidden_fraction < OCCLUSION_LEVELS[0]:
        return 0
    return 1 if hidden_fraction < OCCLUSION_LEVELS[1] else 2


def encode_rle(mask_roi: np.ndarray, x0: int, y0: int, height: int, width: int) -> dict[str, Any]:
    """COCO compressed RLE of a mask given as a region of interest of a larger image.

    Equivalent to ``pycocotools.mask.encode`` of the full-frame mask, without building it:
    only the run boundaries inside the region are found, then placed in the image's
    column-major order.

    Args:
        mask_roi: ``(h, w)`` boolean mask placed at ``(x0, y0)``.
        x0, y0: Position of the region in the image.
        height, width: Size of the image.

    Returns:
        ``{"size": [height, width], "counts": str}``.
    """
    h, w = mask_roi.shape
    total = height * width
    if h == height:
        # Whole columns: in column-major order the region is one contiguous stretch.
        # A False pixel either side makes a run touching its ends a boundary too.
        flat = np.zeros(h * w + 2, bool)
        flat[1:-1] = mask_roi.ravel(order="F")
        starts = np.flatnonzero(flat[1:] != flat[:-1]) + x0 * height
    else:
        # Each column with a False pixel above and below: every run starts and ends
        # inside its own column, so boundaries never straddle two columns.
        padded = np.zeros((w, h + 2), bool)
        padded[:, 1:-1] = mask_roi.T
        flat = padded.ravel()
        edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        column, row = np.divmod(edges, h + 2)
        starts = (x0 + column) * height + (y0 - 1) + row
    # Image positions where a new run begins; one at the very end of the image is no run.
    if starts.size and starts[-1] == total:
        starts = starts[:-1]
    # Zeros first, as COCO requires: a mask that starts set begins with an empty run.
    bounds = np.concatenate(([0], starts, [total]))
    runs = bounds[1:] - bounds[:-1]
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": runs.tolist()},
                                 height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def _object_masks(instance_map: np.ndarray,
                  objects: list[RenderedObject]) -> dict[int, tuple[np.ndarray, int]] | None:
    """Each object's pixels within its amodal box, if those are provably all its pixels.

    Counting ids over the whole frame (``np.bincount``) costs more than all the rest of
    the labelling together; the boxes are a few percent of the frame. Per object, the
    pixels equal to its id inside its box are at most all of them, and all objects' ids
    together are at most every non-zero pixel. So if the in-box counts add up to the
    number of non-zero pixels, with distinct positive ids, every count is exact: no
    object has pixels outside its box (or without a box) and no pixel carries an
    unknown id.

    Returns:
        ``{instance_id: (mask of the box, pixel count)}`` for objects with a box, or
        ``None`` if the shortcut proves nothing (the caller then counts the full frame,
        and reports whatever inconsistency there is).
    """
    ids = [o.instance_id for o in objects]
    if len(set(ids)) != len(ids) or min(ids, default=1) < 1:
        return None
    masks: dict[int, tuple[np.ndarray, int]] = {}
    inside = 0
    for obj in objects:
        if obj.amodal_xyxy is None:
            continue
        x0, y0, x1, y1 = obj.amodal_xyxy
        roi = instance_map[y0:y1, x0:x1] == obj.instance_id
        count = int(np.count_nonzero(roi))
        masks[obj.instance_id] = (roi, count)
        inside += count
    return masks if inside == int(np.count_nonzero(instance_map)) else None


#: Window half-size (px) of :func:`object_contrast`: ``sqrt(area) / 4`` within these.
CONTRAST_RADIUS = (2, 8)
#: Standard errors of chance difference taken off each outline point's contrast.
CONTRAST_NOISE_Z = 2.0
#: The percentile of the outline points' contrasts that is the object's contrast.
CONTRAST_PERCENTILE = 75.0
_EIGHT = np.ones((3, 3), np.uint8)


@njit(cache=True, nogil=True)
def _compiled_window_sums(pixels, inside, rows, cols, r):
    """Per outline point ``(rows[k], cols[k])`` of ``inside`` (a ``(h, w)`` 0/1 mask over
    ``pixels``, ``(h, w, 3)`` uint8), over its window of radius ``r`` clipped to the
    mask: the window's pixel count, and the pixels in the mask's count, sum and sum of
    squares per channel, and all pixels' sum and sum of squares.

    From integer summed-area tables, so every value is an exact whole number (below 2**53:
    exact in float64 too): the bits :func:`_opencv_window_sums` gives, in about half its
    time for a small box (one pass, no float tables), but more for a large one (its
    13 int64 sums per pixel against OpenCV's vectorised tables): :func:`_window_sums`
    picks. Takes C-contiguous arrays (one compiled form).

    Returns:
        ``(area (n,) int64, n_in (n, 1), s_in (n, 3), q_in (n, 3), s_all (n, 3),
        q_all (n, 3))``, the last five float64.
    """
    h, w = inside.shape
    # Per row and column, the sums of the rectangle above and left of it: count, then
    # inside and all sums and squares per channel.
    table = np.zeros((h + 1, w + 1, 13), np.int64)
    for y in range(h):
        run = np.zeros(13, np.int64)
        for x in range(w):
            flag = np.int64(inside[y, x])
            run[0] += flag
            for c in range(3):
                v = np.int64(pixels[y, x, c])
                run[1 + c] += flag * v
                run[4 + c] += flag * v * v
                run[7 + c] += v
                run[10 + c] += v * v
            for k in range(13):
                table[y + 1, x + 1, k] = table[y, x + 1, k] + run[k]
    n = len(rows)
    area = np.empty(n, np.int64)
    sums = np.empty((13, n), np.float64)
    for i in range(n):
        top, bottom = max(rows[i] - r, 0), min(rows[i] + r + 1, h)
        left, right = max(cols[i] - r, 0), min(cols[i] + r + 1, w)
        area[i] = (bottom - top) * (right - left)
        for k in range(13):
            sums[k, i] = float(table[bottom, right, k] - table[top, right, k]
                               - table[bottom, left, k] + table[top, left, k])
    return (area, sums[0:1].T.copy(), sums[1:4].T.copy(), sums[4:7].T.copy(),
            sums[7:10].T.copy(), sums[10:13].T.copy())


def _opencv_window_sums(pixels: np.ndarray, inside: np.ndarray, rows: np.ndarray,
                        cols: np.ndarray, r: int) -> tuple[np.ndarray, ...]:
    """:func:`_compiled_window_sums` from OpenCV's float64 summed-area tables, read at each
    window's corners: whole numbers below 2**53, so exact."""
    all_sum, all_sq = cv2.integral2(pixels, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    in_sum, in_sq = cv2.integral2(cv2.bitwise_and(pixels, pixels, mask=inside),
                                  sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    in_count = cv2.integral(inside, sdepth=cv2.CV_32S)
    h, w = inside.shape
    top, bottom = np.maximum(rows - r, 0), np.minimum(rows + r + 1, h)
    left, right = np.maximum(cols - r, 0), np.minimum(cols + r + 1, w)
    stride = w + 1
    # Flat indices of each window's bottom-right, top-right, bottom-left and top-left
    # corners, read from every table in one gather each.
    corners = np.stack([bottom * stride + right, top * stride + right,
                        bottom * stride + left, top * stride + left])

    def window(table: np.ndarray) -> np.ndarray:
        flat = table.reshape(-1, table.shape[2] if table.ndim == 3 else 1)
        values = flat.take(corners, axis=0).astype(np.float64)
        return values[0] - values[1] - values[2] + values[3]

    return ((bottom - top) * (right - left), window(in_count), window(in_sum),
            window(in_sq), window(all_sum), window(all_sq))


#: Padded boxes of at most this many pixels take :func:`_compiled_window_sums`, larger
#: ones OpenCV's tables (the two cost the same at about 10,000 pixels at 1280x720).
COMPILED_WINDOW_PIXELS = 10_000


def _window_sums(pixels: np.ndarray, inside: np.ndarray, rows: np.ndarray,
                 cols: np.ndarray, r: int) -> tuple[np.ndarray, ...]:
    """Per outline point, its window's pixel count and the sums :func:`object_contrast`
    needs (see :func:`_compiled_window_sums`), by whichever way is quicker for the box:
    both give the same bits."""
    if inside.size <= COMPILED_WINDOW_PIXELS:
        return _compiled_window_sums(np.ascontiguousarray(pixels), inside, rows, cols, r)
    return _opencv_window_sums(pixels, inside, rows, cols, r)


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of a 1-D array, without its
    overhead: this runs once per object of every image."""
    position = (values.size - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values, (low, high))
    return float(part[low] + (part[high] - part[low]) * (position - low))


def object_contrast(image: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> float:
    """How well an object's outline stands out from its surroundings in ``image``.

    See the module docstring for the measure and why it is this one.

    Args:
        image: ``(H, W, 3)`` uint8 final image (RGB or BGR: the measure is symmetric in
            the channels).
        mask: Boolean mask of the object's visible pixels, placed at ``origin``; it may
            be any region of the frame holding all of them (the tight box is cheapest).
        origin: ``(x0, y0)`` of ``mask`` in the image.

    Returns:
        The contrast in [0, 1]; 0 for an empty mask, and for a mask covering the frame
        (nothing around it to be told from).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"contrast is measured on (H, W, 3) uint8 images, got "
                         f"{image.shape} {image.dtype}")
    height, width = image.shape[:2]
    x0, y0 = origin
    pixels = int(np.count_nonzero(mask))
    if pixels == 0:
        return 0.0
    # Python's float and round (numpy's cost ten times more per object, same value).
    r = min(max(round(math.sqrt(pixels) / 4), CONTRAST_RADIUS[0]), CONTRAST_RADIUS[1])
    # The window of every outline point lies in the box padded by r, clipped to the frame.
    px0, py0 = max(0, x0 - r), max(0, y0 - r)
    px1, py1 = min(width, x0 + mask.shape[1] + r), min(height, y0 + mask.shape[0] + r)
    inside = np.zeros((py1 - py0, px1 - px0), np.uint8)
    inside[y0 - py0:y0 - py0 + mask.shape[0], x0 - px0:x0 - px0 + mask.shape[1]] = mask
    # Outline: object pixels with a non-object pixel among their 8 neighbours in the
    # frame (replicated borders: beyond the frame edge is nothing to be told from).
    eroded = cv2.erode(inside, _EIGHT, borderType=cv2.BORDER_REPLICATE)
    rows, cols = np.nonzero(inside > eroded)
    if rows.size == 0:
        return 0.0
    window, n_in, s_in, q_in, s_all, q_all = _window_sums(
        image[py0:py1, px0:px1], inside, rows, cols, r)
    n_out = window[:, None] - n_in
    s_out = s_all - s_in
    q_out = q_all - q_in
    mean_in, mean_out = s_in / n_in, s_out / n_out
    # Pooled within-half variance (a two-sample t-test's): stable when one half of a
    # window holds few pixels, and blind to the step between the halves.
    spread = np.maximum(q_in - s_in * mean_in + q_out - s_out * mean_out, 0.0)
    pooled = spread / (n_in + n_out)
    distance = np.sqrt(((mean_in - mean_out) ** 2).sum(axis=1))
    error = np.sqrt((pooled * (1.0 / n_in + 1.0 / n_out)).sum(axis=1))
    edge = np.maximum(distance - CONTRAST_NOISE_Z * error, 0.0) / (255.0 * np.sqrt(3.0))
    return min(1.0, _percentile(edge, CONTRAST_PERCENTILE))


def compute_labels(instance_map: np.ndarray, objects: list[RenderedObject],
                   options: LabelOptions | None = None, *,
                   image: np.ndarray | None = None) -> list[ObjectLabel]:
    """Labels of every visible object, measured on the final instance id map.

    Args:
        instance_map: ``(H, W)`` uint16 map, 0 = no object.
        objects: The renderer's per-object projections.
        options: Thresholds; defaults to :class:`LabelOptions`.
        image: The final ``(H, W, 3)`` uint8 image (after effects and appearance). Given,
            every label carries its ``contrast``, ``min_contrast`` applies and objects
            failing a rule become ignore regions; omitted, labels are exactly those of
            synthgen before contrast existed (boxes only, ``contrast`` None).

    Returns:
        Labels in instance id order: boxes, and (with ``image``) ignore regions.

    Raises:
        ValueError: The map and the objects disagree (a renderer bug): an object is
            visible but has no projection, or has visible pixels outside it.
    """
    options = options or LabelOptions()
    height, width = instance_map.shape
    if image is not None and image.shape[:2] != (height, width):
        raise ValueError(f"image is {image.shape[1]}x{image.shape[0]}, "
                         f"the instance map {width}x{height}")
    masks = _object_masks(instance_map, objects)
    if masks is None:
        counts = np.bincount(instance_map.ravel(),
                             minlength=max((o.instance_id for o in objects), default=0) + 1)
    labels = []
    for obj in sorted(objects, key=lambda o: o.instance_id):
        if masks is not None:
            visible = masks[obj.instance_id][1] if obj.instance_id in masks else 0
        else:
            visible = int(counts[obj.instance_id])
        if visible == 0:
            continue
        # Visible pixels lie in the in-frame projection, so ``inframe_area >= visible``.
        if visible < options.min_pixels:
            ignored = "pixels"
        elif visible < options.min_visibility * obj.inframe_area:
            ignored = "visibility"
        else:
            ignored = None
        if ignored is not None and image is None:
            continue
        # The renderer fills each object's in-frame projection with the very calls that
        # filled the map, so its visible pixels lie inside the amodal box.
        if obj.amodal_xyxy is None:
            raise ValueError(f"object {obj.instance_id} is visible but has no projection")
        x0, y0, x1, y1 = obj.amodal_xyxy
        if masks is not None:
            roi = masks[obj.instance_id][0]
        else:
            roi = instance_map[y0:y1, x0:x1] == obj.instance_id
            if int(np.count_nonzero(roi)) != visible:
                # A wrong box is worse than none: this would be a renderer bug, so say so.
                raise ValueError(
                    f"object {obj.instance_id}: visible pixels outside its projection")
        # Bounds of the non-zero pixels (exact integer arithmetic in OpenCV).
        tx, ty, tw, th = cv2.boundingRect(roi.view(np.uint8))
        bx0, by0 = x0 + tx, y0 + ty
        bx1, by1 = bx0 + tw, by0 + th
        tight = roi[ty:ty + th, tx:tx + tw]
        contrast = None
        if image is not None:
            contrast = object_contrast(image, tight, (bx0, by0))
            if ignored is None and contrast < options.min_contrast:
                ignored = "contrast"
        inframe, projected = obj.inframe_area, obj.projected_area
        labels.append(ObjectLabel(
            instance_id=obj.instance_id, category=obj.category,
            bbox=Box(float(bx0), float(by0), float(bx1), float(by1)),
            bbox_amodal=Box(*(float(v) for v in obj.amodal_xyxy)),
            area=visible,
            visibility=visible / projected,
            truncation=1.0 - inframe / projected,
            occluded=occlusion_level(1.0 - visible / inframe),
            distance=obj.distance,
            rle=encode_rle(tight, bx0, by0, height, width),
            contrast=contrast,
            ignored=ignored,
        ))
    return labels


#: The most a photo's object may be occluded (the set's level) and truncated (the set's
#: truncation with the crop's) to be a box of an image drawn over it
#: (``--background-labels boxes``): KITTI's "moderate" difficulty (partly occluded at
#: most, a third cut off at most). Beyond, what is left of its box may show little of it.
PHOTO_MAX_OCCLUDED = 1
PHOTO_MAX_TRUNCATION = 0.3


def background_regions(regions: list[FittedRegion], instance_map: np.ndarray,
                       options: LabelOptions | None = None, *,
                       image: np.ndarray | None = None,
                       drawn: np.ndarray | None = None) -> list[ObjectLabel]:
    """Labels for the objects of a real photo an image is drawn over (``--backgrounds``,
    see :mod:`synthgen.render.backgrounds`): ignore regions, and boxes for those the set
    labels when the bank keeps them.

    Nothing but the set's box is known of a photo's object, so what is drawn over it is
    measured on the box: the *pixels it shows* are those the box touches where nothing
    was drawn (no model, unlabelled parts such as a sign's pole included, and no
    cut-out: ``drawn``), its *hidden* share the rest.

    Args:
        regions: The photo's regions fitted to the image
            (:func:`~synthgen.render.backgrounds.fit_background`), in image pixels.
        instance_map: The image's final instance id map: what a labelled object drawn
            over the photo covers is that object's, not the photo's.
        options: Thresholds (:class:`LabelOptions`) for the regions that may be boxes.
        image: The final image; given, a box carries its ``contrast`` there and
            ``min_contrast`` applies.
        drawn: Where anything was drawn over the photo
            (:attr:`~synthgen.render.painter.Layers.drawn`); None: where a labelled
            object was (``instance_map``).

    Returns:
        Per region with a pixel left, in order: a **box** when the region is
        ``labelled``, the set's occlusion level is at most :data:`PHOTO_MAX_OCCLUDED`
        and its truncation at most :data:`PHOTO_MAX_TRUNCATION`, it shows at least
        ``min_pixels`` pixels, less than half of its box is hidden (KITTI's "partly
        occluded" at most) and at least ``min_visibility`` of it shows, and its
        contrast (with ``image``) is at least ``min_contrast``: ``bbox`` the bounds of
        the pixels it shows (the set's box in whole pixels, cut where a whole side of
        it is hidden: pixel edges, as synthgen's own boxes are), ``bbox_amodal`` the
        pixels the set's box touches, ``area`` and the ``segmentation`` mask the pixels
        it shows, ``visibility`` the share of it that shows (in the frame and not
        hidden), ``occluded`` the greater of the set's level and the hidden share's,
        ``truncation`` the region's, ``source`` ``"photo"``. Otherwise an **ignore
        region** (``ignored == "background"``): its mask the pixels the box touches
        that no labelled object covers, ``bbox`` and ``bbox_amodal`` the mask's bounds,
        ``area`` its pixels; ``visibility`` 1, ``truncation`` 0, ``occluded`` 0 say
        nothing is known. Instance id and ``distance`` are 0 (not known) for both.
    """
    options = options or LabelOptions()
    height, width = instance_map.shape
    labels = []
    for region in regions:
        box = region.box
        x0, y0 = max(0, math.floor(box.x0)), max(0, math.floor(box.y0))
        x1, y1 = min(width, math.ceil(box.x1)), min(height, math.ceil(box.y1))
        if x1 <= x0 or y1 <= y0:
            continue
        mask = instance_map[y0:y1, x0:x1] == 0
        if not mask.any():
            continue
        label = _photo_box(region, mask, None if drawn is None else drawn[y0:y1, x0:x1],
                           (x0, y0, x1, y1), (height, width), options, image)
        if label is None:
            bounds = _mask_bounds(mask, x0, y0)
            label = ObjectLabel(instance_id=0, category=region.category, bbox=bounds,
                                bbox_amodal=bounds, area=int(mask.sum()), visibility=1.0,
                                truncation=0.0, occluded=0, distance=0.0,
                                rle=encode_rle(mask, x0, y0, height, width),
                                ignored="background")
        labels.append(label)
    return labels


def _mask_bounds(mask: np.ndarray, x0: int, y0: int) -> Box:
    """Tight bounds, in image pixel edges, of a non-empty mask placed at ``(x0, y0)``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return Box(float(x0 + cols[0]), float(y0 + rows[0]), float(x0 + cols[-1] + 1),
               float(y0 + rows[-1] + 1))


def _photo_box(region: FittedRegion, unlabelled: np.ndarray, drawn: np.ndarray | None,
               window: tuple[int, int, int, int], size: tuple[int, int],
               options: LabelOptions, image: np.ndarray | None) -> ObjectLabel | None:
    """The box of a photo's region whose box touches ``window`` (of an image ``size``,
    height and width), where no labelled object covers ``unlabelled`` and ``drawn``
    (None: not known) says what else was drawn, or None where it is to be an ignore
    region (the rules of :func:`background_regions`)."""
    # Truncations are products of shares: 0.3 may come out a hair above it.
    if (not region.labelled or region.occluded > PHOTO_MAX_OCCLUDED
            or region.truncation > PHOTO_MAX_TRUNCATION + 1e-9):
        return None
    shows = unlabelled if drawn is None else unlabelled & ~drawn
    area = int(np.count_nonzero(shows))
    hidden = 1.0 - area / shows.size
    if (area < options.min_pixels or hidden >= OCCLUSION_LEVELS[1]
            or 1.0 - hidden < options.min_visibility):
        return None
    x0, y0, x1, y1 = window
    bounds = _mask_bounds(shows, x0, y0)
    bx0, by0, bx1, by1 = (int(v) for v in bounds)
    tight = shows[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0]
    contrast = None if image is None else object_contrast(image, tight, (bx0, by0))
    if contrast is not None and contrast < options.min_contrast:
        return None
    height, width = size
    return ObjectLabel(
        instance_id=0, category=region.category, bbox=bounds,
        bbox_amodal=Box(float(x0), float(y0), float(x1), float(y1)), area=area,
        visibility=(1.0 - hidden) * (1.0 - region.truncation),
        truncation=region.truncation,
        occluded=max(region.occluded, occlusion_level(hidden)), distance=0.0,
        rle=encode_rle(shows, x0, y0, height, width), contrast=contrast, source="photo")
