"""The order models are drawn in: far to near, unless their footprints show which stands
in front of which.

The painter gives whole models to the z-buffer one after another. The depth test
decides what hides what; this order decides only how antialiased edges blend: a face's
edge is mixed into what was drawn before it, so what stands behind should come first
(see :func:`draw_order`). Pure functions of the camera and the models.
"""

from __future__ import annotations

import heapq

import numpy as np

from synthgen.render.camera import Camera
from synthgen.render.shapes import Model


def draw_order(camera: Camera, models: list[Model]) -> list[int]:
    """The order to draw ``models`` in: far to near, unless one can be seen to stand
    in front of another.

    Far to near by the depth of each model's centre is wrong for long things: a
    building's centre can be nearer than a sign standing in front of its far half.
    Each model lies inside the vertical prism over its footprint's bounding
    rectangle (world x and y); when two rectangles are apart along x or y, a vertical
    plane between them separates the models, and a sight line from the camera to the
    model on the camera's side of it never crosses the other: that one cannot hide
    the first, so it is drawn before (its edges then blend over the other's pixels, not
    the other way round). Those rules, where they say anything, win over depth (a
    topological sort, nearest to the far-to-near order).

    Models wholly outside one plane of the view frustum show nothing; they go first
    and take no part in the sort, so that leaving them out (culling, see
    :func:`synthgen.render.culling.build_models`) cannot change the order of the others.
    """
    points = [np.concatenate([model.points] + [
        batch.quads.reshape(-1, 3) for batches in model.batches.values()
        for batch in batches if len(batch.quads)]) for model in models]
    starts = np.cumsum([0] + [len(p) for p in points[:-1]])
    points = np.concatenate(points)
    x, y, z = camera.to_camera(points).T
    tx, ty = camera.width / 2 / camera.focal, camera.height / 2 / camera.focal
    outside = np.stack([z < 0, x > tx * z, -x > tx * z, y > ty * z, -y > ty * z])
    unseen = np.logical_and.reduceat(outside, starts, axis=1).any(axis=0)
    seen = np.flatnonzero(~unseen)
    lo = np.minimum.reduceat(points[:, :2], starts)[seen]
    hi = np.maximum.reduceat(points[:, :2], starts)[seen]
    centers = np.array([models[k].center for k in seen]).reshape(-1, 3) + [0.0, 0.0, 1.0]
    depth = camera.to_camera(centers)[:, 2]
    eye = camera.position[:2]
    # first[i, j]: model i must be drawn before model j (i cannot hide j).
    first = np.zeros((len(seen), len(seen)), bool)
    for axis in (0, 1):
        below = hi[:, None, axis] <= lo[None, :, axis]  # i entirely below j
        # The eye at or past j's lower side: i cannot hide j, j may hide i. At or
        # before i's upper side: the other way round. Between: neither hides.
        first |= below & (eye[axis] >= lo[None, :, axis])
        first |= below.T & (eye[axis] <= hi[None, :, axis])
    # Two planes saying opposite things: neither can hide the other.
    first &= ~first.T
    # Nor can two models whose pictures do not overlap (bounds of their vertices'
    # projections; unbounded for a model reaching behind the camera).
    ahead = np.logical_and.reduceat(z > 1e-6, starts)[seen]
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = x / z, y / z
    box = np.stack([np.minimum.reduceat(u, starts), np.minimum.reduceat(v, starts),
                    np.maximum.reduceat(u, starts), np.maximum.reduceat(v, starts)],
                   axis=1)[seen]
    box[~ahead] = (-np.inf, -np.inf, np.inf, np.inf)
    first &= ((box[:, None, 0] <= box[None, :, 2]) & (box[None, :, 0] <= box[:, None, 2])
              & (box[:, None, 1] <= box[None, :, 3]) & (box[None, :, 1] <= box[:, None, 3]))
    order = topological(first, np.argsort(-depth, kind="stable"))
    return np.flatnonzero(unseen).tolist() + seen[order].tolist()


def topological(first: np.ndarray, preferred: np.ndarray) -> list[int]:
    """An order of ``len(preferred)`` items in which ``i`` comes before ``j`` wherever
    ``first[i, j]``, otherwise as close to ``preferred`` as that allows: each step takes
    the earliest item of ``preferred`` that nothing left must precede. Should the rules
    form a cycle, the earliest remaining item is taken anyway."""
    n = len(preferred)
    rank = [0] * n
    for position, item in enumerate(preferred.tolist()):
        rank[item] = position
    waiting = first.sum(axis=0).tolist()
    # Each item's successors, in order: np.nonzero reads the relation row by row.
    rows, cols = np.nonzero(first)
    bounds = np.searchsorted(rows, np.arange(n + 1)).tolist()
    successors = cols.tolist()
    after = [successors[bounds[i]:bounds[i + 1]] for i in range(n)]
    ready = [(rank[i], i) for i in range(n) if not waiting[i]]
    heapq.heapify(ready)
    done = [False] * n
    order: list[int] = []
    while len(order) < n:
        if ready:
            item = heapq.heappop(ready)[1]
            if done[item]:  # taken earlier to break a cycle
                continue
        else:
            item = min((k for k in range(n) if not done[k]), key=rank.__getitem__)
        done[item] = True
        order.append(item)
        for j in after[item]:
            waiting[j] -= 1
            if not waiting[j] and not done[j]:
                heapq.heappush(ready, (rank[j], j))
    return order
