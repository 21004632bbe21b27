"""Labels from the final instance id map.

The label pipeline, in one place:

1. **Render** (:mod:`synthgen.render`): every labelled face is filled into the instance id
   map with the object's id, far to near, with the same fixed-point polygons as the image
   (no antialiasing in the map). Whatever is drawn later over an object (a nearer object,
   a building, a pole) overwrites its id, so the map holds, for every pixel, the object
   the final image shows there. A fill takes every pixel within about half a pixel of the
   polygon (OpenCV's rule for its fixed-point fill), so an object's pixels reach about
   half a pixel past its exact outline on each side, as its antialiased edge in the
   image does. Separately, each object's faces are filled alone on a canvas three frames
   wide and high: its *projection*, ignoring occluders and the frame.
2. **Effects** (:mod:`synthgen.effects`) change pixel values only (glow, fog, rain,
   snow, blur, noise); no scene content moves, so the map from step 1 is the final one
   (motion blur smears colour across edges by up to half its kernel; boxes stay on the
   sharp silhouette). A geometric effect would have to warp the map (nearest neighbour)
   before step 3. Weather and darkness do not yet hide objects: an object drawn in the
   map is labelled however deep in fog it stands. With ``--look-like``, the appearance
   stage (:func:`synthgen.appearance.apply_appearance`, after the effects) changes pixel
   values only too: its Gaussian blur (sigma = the profile's fitted ``blur_sigma``, at
   most 3 px at the profile's width, x the image's blur factor 0.5-1.5 x image width /
   profile width) smears colour across edges by about 3 sigma; boxes stay on the sharp
   silhouette.
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
   ``segmentation`` = COCO RLE of the visible pixels, column-major as pycocotools writes it.
4. **Filter**: objects with fewer than ``min_pixels`` visible pixels, or of whose
   in-frame projection less than ``min_visibility`` is visible (``1 - occlusion``),
   get no label. Occluders, not the frame edge, decide: a car mostly outside the frame
   whose in-frame part shows clearly is labelled, with its ``truncation``, as KITTI and
   COCO label cut-off objects. An object nobody can see has no pixels and so never gets a
   label.
5. **Convert** at the exporter only (:mod:`synthgen.coco`): internal ``xyxy`` pixel-edge
   boxes become COCO ``[x, y, width, height]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from synthgen.render import RenderedObject

#: KITTI-style occlusion levels: upper bounds of the hidden fraction for levels 0 and 1.
OCCLUSION_LEVELS = (0.05, 0.5)


@dataclass(frozen=True)
class LabelOptions:
    """Which objects get a label.

    Attributes:
        min_pixels: Fewest visible pixels an object needs.
        min_visibility: Smallest visible fraction of its in-frame projection (the rest
            is hidden by occluders), in [0, 1].
    """

    min_pixels: int = 20
    min_visibility: float = 0.05


@dataclass(frozen=True)
class ObjectLabel:
    """The label of one visible object (boxes as ``(x0, y0, x1, y1)`` pixel edges)."""

    instance_id: int
    category: str
    bbox: tuple[float, float, float, float]
    bbox_amodal: tuple[float, float, float, float]
    area: int
    visibility: float
    truncation: float
    occluded: int
    distance: float
    rle: dict[str, Any]


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


def compute_labels(instance_map: np.ndarray, objects: list[RenderedObject],
                   options: LabelOptions | None = None) -> list[ObjectLabel]:
    """Labels of every visible object, measured on the final instance id map.

    Args:
        instance_map: ``(H, W)`` uint16 map, 0 = no object.
        objects: The renderer's per-object projections.
        options: Visibility thresholds; defaults to :class:`LabelOptions`.

    Returns:
        Labels in instance id order, only for objects passing the thresholds.
    """
    options = options or LabelOptions()
    height, width = instance_map.shape
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
        if visible == 0 or visible < options.min_pixels:
            continue
        # Visible pixels lie in the in-frame projection, so ``inframe_area >= visible``.
        if visible < options.min_visibility * obj.inframe_area:
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
        inframe, projected = obj.inframe_area, obj.projected_area
        labels.append(ObjectLabel(
            instance_id=obj.instance_id, category=obj.category,
            bbox=(float(bx0), float(by0), float(bx1), float(by1)),
            bbox_amodal=tuple(float(v) for v in obj.amodal_xyxy),  # type: ignore[arg-type]
            area=visible,
            visibility=visible / projected,
            truncation=1.0 - inframe / projected,
            occluded=occlusion_level(1.0 - visible / inframe),
            distance=obj.distance,
            rle=encode_rle(tight, bx0, by0, height, width),
        ))
    return labels
