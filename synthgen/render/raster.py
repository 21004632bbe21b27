"""Polygons as OpenCV fills them: world polygons projected and clipped to the near plane,
and their pixel coordinates in OpenCV's fixed point.

The backdrop (road, horizon) and the ground light (shadows, lamp pools) are filled with
these, into the image only; models, pasted cut-outs and the per-object projections go
through the compiled z-buffer instead (:mod:`synthgen.render.zbuffer`), which alone
writes the instance id map and the models' depth.
"""

from __future__ import annotations

import numpy as np

from synthgen.render.camera import NEAR, Camera, clip_near

#: Fixed-point bits of polygon coordinates given to OpenCV (1/16 pixel precision).
SHIFT = 4
#: One pixel in fixed point.
ONE = 1 << SHIFT
#: Coordinates are clamped to this (in pixels) to stay well inside int32 after the shift.
LIMIT = 1 << 22


def fixed(pixels: np.ndarray) -> np.ndarray:
    """Continuous pixel coordinates to OpenCV fixed point (OpenCV puts pixel centres on
    integers, we put them on half-integers)."""
    return np.round(np.clip(pixels - 0.5, -LIMIT, LIMIT) * ONE).astype(np.int32)


def project(camera: Camera, points: np.ndarray, *, closed: bool = True
            ) -> tuple[np.ndarray, float] | None:
    """World polygon to fixed-point pixels and mean depth, clipped to the near plane.

    Args:
        camera: The view.
        points: World corners ``(n, 3)``, in order.
        closed: A polygon (clipped as one); else a polyline, which keeps only its corners
            in front of the near plane.

    Returns:
        The fixed-point pixels and the mean camera depth of what is left, or ``None``
        when less than an edge is.
    """
    cam = camera.to_camera(points)
    if (cam[:, 2] < NEAR).any():
        if closed:
            cam = clip_near(cam)
        else:
            cam = cam[cam[:, 2] >= NEAR]
        if len(cam) < 2:
            return None
    return fixed(camera.camera_to_pixels(cam)), float(cam[:, 2].mean())


def project_ground(camera: Camera, polygons: list[np.ndarray]) -> list[np.ndarray | None]:
    """Project polygons on the ground in one batch, with :func:`project`'s result.

    Clipping at the near plane is :func:`synthgen.render.camera.clip_near` done for every
    polygon at once (the same arithmetic and vertex order): a road band has a hundred
    corners and starts behind the camera.

    Args:
        camera: The view.
        polygons: World corners, ``(n, 2)`` or ``(n, 3)``; only ``x, y`` are read.

    Returns:
        Per polygon its fixed-point pixels, or ``None`` if it is clipped away or lies
        off screen.
    """
    if not polygons:
        return []
    counts = np.array([len(p) for p in polygons])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    xy = np.concatenate([p[:, :2] for p in polygons])
    cam = camera.to_camera(np.concatenate([xy, np.zeros((len(xy), 1))], axis=1))
    inside = cam[:, 2] >= NEAR
    following = np.arange(1, len(cam) + 1)
    following[starts + counts - 1] = starts  # each polygon's last corner joins its first
    ahead = cam[following]
    with np.errstate(divide="ignore", invalid="ignore"):  # edges that do not cross
        t = (NEAR - cam[:, 2:]) / (ahead[:, 2:] - cam[:, 2:])
        crossing = cam + t * (ahead - cam)
    # Per edge: its first corner if in front, then the crossing if it crosses.
    keep = np.stack([inside, inside != inside[following]], axis=1)
    clipped = np.stack([cam, crossing], axis=1)[keep]
    kept = np.add.reduceat(keep.sum(axis=1), starts)
    pixels = fixed(camera.camera_to_pixels(clipped))
    new_starts = np.concatenate([[0], np.cumsum(kept)[:-1]])
    nonempty = kept > 0
    lo = np.zeros((len(polygons), 2), np.int32)
    hi = np.zeros((len(polygons), 2), np.int32)
    if nonempty.any():
        lo[nonempty] = np.minimum.reduceat(pixels, new_starts[nonempty], axis=0)
        hi[nonempty] = np.maximum.reduceat(pixels, new_starts[nonempty], axis=0)
    # As project(): a clipped polygon with less than an edge left is dropped.
    clipped_away = (kept < 2) & ~np.logical_and.reduceat(inside, starts)
    shown = nonempty & ~clipped_away & ~(
        (hi[:, 0] < 0) | (hi[:, 1] < 0) | (lo[:, 0] > camera.width * ONE)
        | (lo[:, 1] > camera.height * ONE))
    return [pixels[start:start + count] if show else None
            for start, count, show in zip(new_starts, kept, shown, strict=True)]


def extent(pts: np.ndarray, width: int, height: int) -> tuple[slice, slice] | None:
    """Rows and columns an antialiased fill of fixed-point ``pts`` can touch, in a
    ``width`` x ``height`` frame; ``None`` if none."""
    lo = pts.min(axis=0) // ONE - 2
    hi = -(-pts.max(axis=0) // ONE) + 3
    rows = slice(max(int(lo[1]), 0), min(int(hi[1]), height))
    cols = slice(max(int(lo[0]), 0), min(int(hi[0]), width))
    return (rows, cols) if rows.stop > rows.start and cols.stop > cols.start else None
