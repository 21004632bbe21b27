"""Per labelled object, the pixels its whole projection covers, ignoring what hides it:
in the frame, and beyond it within a canvas three frames wide and high.

While the painter draws it remembers, per object, every polygon it gave the rasterizer
for it (in pixels); filled again here on an empty buffer with the rasterizer's own rule
(:func:`synthgen.render.zbuffer.cover`), they give the object's projection, which holds
every pixel the instance id map gives the object by construction, and from which
:mod:`synthgen.labels` derives visibility (the share of it the id map shows), truncation
(the share outside the frame) and the amodal box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.render import zbuffer
from synthgen.render.camera import Camera
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
                polygons: Mapping[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]],
                camera: Camera) -> list[RenderedObject]:
    """What the renderer knows of each labelled object, drawn or not.

    Args:
        objects: The scene's labelled objects.
        polygons: Per instance id, every polygon the rasterizer was given for it
            (strokes as their quads), in pieces: pixel corners ``(n, 2)``, each
            polygon's first corner and its number of corners.
        camera: The view.

    Returns:
        One :class:`RenderedObject` per object, in the order of ``objects``.
    """
    results = []
    for obj in objects:
        # Camera depth of the labelled part's centre (a signal head or sign plate sits
        # on its pole at obj.elevation).
        centre = np.array([obj.x, obj.y, obj.elevation + obj.height / 2])
        distance = float(camera.to_camera(centre)[2])
        projected, inframe, box = _projection(polygons.get(obj.instance_id, []),
                                              camera.width, camera.height)
        results.append(RenderedObject(obj.instance_id, obj.category, projected, inframe,
                                      box, distance))
    return results


def polygon_arrays(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of polygons (corners ``(n, 2)``, starts, counts) as one set of the
    rasterizer's corner, start and count arrays."""
    sizes = np.array([len(xy) for xy, _, _ in pieces], np.int64)
    shifts = np.cumsum(sizes) - sizes
    corners = np.concatenate([xy for xy, _, _ in pieces]).astype(np.float64)
    starts = np.concatenate([first + shift for (_, first, _), shift
                             in zip(pieces, shifts.tolist(), strict=True)]).astype(np.int64)
    counts = np.concatenate([n for _, _, n in pieces]).astype(np.int64)
    return corners, starts, counts


def _projection(polygons: list[tuple[np.ndarray, np.ndarray, np.ndarray]], w: int, h: int
                ) -> tuple[int, int, tuple[int, int, int, int] | None]:
    """Pixels of an object's own projection: in the frame, and in all (the part outside
    the frame counted on a canvas up to three frames wide and high).

    Args:
        polygons: The object's polygons (see :func:`projections`).
        w, h: The frame's size.
    """
    if not polygons:
        return 0, 0, None
    xy, starts, counts = polygon_arrays(polygons)
    every = np.arange(len(starts), dtype=np.int64)
    lo = np.floor(xy.min(axis=0)).astype(int) - 2
    hi = np.ceil(xy.max(axis=0)).astype(int) + 3
    inframe, box = 0, None
    fx0, fy0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    fx1, fy1 = min(int(hi[0]), w), min(int(hi[1]), h)
    if fx1 > fx0 and fy1 > fy0:
        inside = np.zeros((fy1 - fy0, fx1 - fx0), np.uint8)
        inframe = zbuffer.cover(xy, starts, counts, every, inside, fx0, fy0)
        if inframe:
            rows = np.flatnonzero(inside.any(axis=1))
            cols = np.flatnonzero(inside.any(axis=0))
            box = (fx0 + int(cols[0]), fy0 + int(rows[0]), fx0 + int(cols[-1]) + 1,
                   fy0 + int(rows[-1]) + 1)
    outside = 0
    if lo[0] < 0 or lo[1] < 0 or hi[0] > w or hi[1] > h:
        x0, y0 = max(int(lo[0]), -w), max(int(lo[1]), -h)
        x1, y1 = min(int(hi[0]), 2 * w), min(int(hi[1]), 2 * h)
        if x1 <= x0 or y1 <= y0:
            return inframe, inframe, box
        canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
        zbuffer.cover(xy, starts, counts, every, canvas, x0, y0)
        canvas[max(0, -y0):max(0, h - y0), max(0, -x0):max(0, w - x0)] = 0
        outside = int(np.count_nonzero(canvas))
    return inframe + outside, inframe, box
