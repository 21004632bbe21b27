"""Per labelled object, the pixels its whole projection covers, ignoring what hides it:
in the frame, and beyond it within a canvas three frames wide and high.

While the painter draws it remembers, per object, every polygon it filled into the
instance id map for it; filled again here on an empty buffer, they give the object's
projection, from which :mod:`synthgen.labels` derives visibility (the share of it the id
map shows), truncation (the share outside the frame) and the amodal box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.render import raster
from synthgen.render.camera import Camera
from synthgen.render.raster import ONE
from synthgen.scene.model import SceneObject


@dataclass(frozen=True)
class RenderedObject:
    """What the renderer knows of one labelled object.

    Attributes:
        instance_id: Its value in the instance id map.
        category: Category name.
        projected_area: Pixels its whole projection covers, in frame or not.
        inframe_area: Pixels of that projection inside the frame.
        amodal_xyxy: Bounds of the in-frame projection, pixel edges (x0, y0, x1, y1), or
            ``None`` if no part of it projects into the frame. The convention of
            :class:`synthgen.formats.boxes.Box`, left a plain int tuple: labels slice the
            instance id map with it on every object of every image, and
            :func:`synthgen.labels.compute_labels` makes the label's float ``Box`` of it once.
        distance: Camera depth of its centre (m).
    """

    instance_id: int
    category: str
    projected_area: int
    inframe_area: int
    amodal_xyxy: tuple[int, int, int, int] | None
    distance: float


def projections(objects: Sequence[SceneObject],
                polygons: Mapping[int, list[tuple[np.ndarray, int, bool]]],
                camera: Camera) -> list[RenderedObject]:
    """What the renderer knows of each labelled object, drawn or not.

    Args:
        objects: The scene's labelled objects.
        polygons: Per instance id, every polygon filled into the instance id map for it,
            in fixed point, with its stroke thickness (0 for a face) and whether it is
            closed.
        camera: The view.

    Returns:
        One :class:`RenderedObject` per object, in the order of ``objects``.
    """
    width, height = camera.width, camera.height
    scratch = np.zeros((height, width), np.uint8)
    results = []
    for obj in objects:
        # Camera depth of the labelled part's centre (a signal head or sign plate sits
        # on its pole at obj.elevation).
        centre = np.array([obj.x, obj.y, obj.elevation + obj.height / 2])
        distance = float(camera.to_camera(centre)[2])
        projected, inframe, box = _projection(polygons.get(obj.instance_id, []), scratch)
        results.append(RenderedObject(obj.instance_id, obj.category, projected, inframe,
                                      box, distance))
    return results


def _projection(polygons: list[tuple[np.ndarray, int, bool]], scratch: np.ndarray
                ) -> tuple[int, int, tuple[int, int, int, int] | None]:
    """Pixels of an object's own projection: in the frame, and in all.

    The in-frame part is filled with exactly the calls that filled the instance id map,
    on a frame-sized buffer, so every visible pixel lies inside it by construction.
    The part outside the frame is counted on a canvas up to three frames wide and high.

    Args:
        polygons: The object's polygons (see :func:`projections`).
        scratch: A frame-sized uint8 buffer of zeros, left so.
    """
    if not polygons:
        return 0, 0, None
    h, w = scratch.shape
    allpts = np.concatenate([p for p, _, _ in polygons])
    pad = max(t for _, t, _ in polygons) + 2
    lo = np.floor(allpts.min(axis=0) / ONE).astype(int) - pad
    hi = np.ceil(allpts.max(axis=0) / ONE).astype(int) + pad + 1
    inframe, box = 0, None
    fx0, fy0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    fx1, fy1 = min(int(hi[0]), w), min(int(hi[1]), h)
    if fx1 > fx0 and fy1 > fy0:
        for pts, thickness, closed in polygons:
            raster.fill(scratch, pts, 1, thickness, closed)
        inside = scratch[fy0:fy1, fx0:fx1]
        inframe = int(np.count_nonzero(inside))
        if inframe:
            rows = np.flatnonzero(inside.any(axis=1))
            cols = np.flatnonzero(inside.any(axis=0))
            box = (fx0 + int(cols[0]), fy0 + int(rows[0]), fx0 + int(cols[-1]) + 1,
                   fy0 + int(rows[-1]) + 1)
        inside[...] = 0
    outside = 0
    if lo[0] < 0 or lo[1] < 0 or hi[0] > w or hi[1] > h:
        x0, y0 = max(int(lo[0]), -w), max(int(lo[1]), -h)
        x1, y1 = min(int(hi[0]), 2 * w), min(int(hi[1]), 2 * h)
        if x1 <= x0 or y1 <= y0:
            return inframe, inframe, box
        canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
        offset = np.array([x0 * ONE, y0 * ONE], np.int32)
        for pts, thickness, closed in polygons:
            raster.fill(canvas, pts - offset, 1, thickness, closed)
        canvas[max(0, -y0):max(0, h - y0), max(0, -x0):max(0, w - x0)] = 0
        outside = int(np.count_nonzero(canvas))
    return inframe + outside, inframe, box
