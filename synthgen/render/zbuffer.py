"""The compiled rasterizer: flat convex faces into the image, the instance id map and depth
in one pass, with a per-pixel depth test.

Every face is a convex polygon in pixel coordinates (pixel ``(i, j)`` covers
``[i, i + 1) x [j, j + 1)``, its centre at ``(i + 0.5, j + 0.5)``) with ``1 / depth``
at its corners; on a planar face ``1 / depth`` is an affine function of the pixel
position, so the depth at any pixel is exact (perspective-correct), not the mean of the
face's corners.

- **Which pixels a face takes** (instance id map, depth, the winning face): those whose
  centre lies inside it and where it is nearer than what is there (strictly). A centre
  exactly on an edge belongs to the side the edge's inward normal points to when it
  points right, or straight down (a tie rule: two faces sharing an edge never both take,
  nor both leave, a pixel on it). :func:`cover` fills a mask with the same rule, so an
  object's whole projection holds every pixel the id map gives it.
- **Colour**, antialiased: a face blends its colour into every pixel it covers in part,
  by coverage (0.5 plus the distance in pixels from the centre to the nearest edge,
  clipped to 0-1), where it is nearer than what is there at the pixel's centre (its plane
  extended). Only colour is blended; ids and depth stay exact.

Faces are drawn in the order given: the depth test settles what hides what; the order
settles only how antialiased edges mix (a face's fringe over one drawn later that stands
behind it is painted over), so callers give it far to near.

Compiled with numba (``cache=True``: the machine code is kept next to this file, or in
the user's cache folder where that is read-only, so only the first run compiles).
Nothing here is random.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Sub-pixel steps per pixel of the fixed-point positions edges are tested with: the
#: inside test is exact integer arithmetic, so a centre on an edge or corner shared by
#: two faces is decided the same way for both.
STEPS = 256
#: Positions are clamped to this many pixels either way (integer products stay exact).
LIMIT = float(1 << 21)


@njit(cache=True, nogil=True, inline="always")
def _edges(xy, start, count, out, lengths):
    """Per edge of polygon ``xy[start:start + count]``, in fixed point: ``(A, B, C)`` with
    ``A X + B Y + C`` positive inside (``X, Y`` in steps) into ``out[:count]``, and the
    edge's length in steps into ``lengths``. Returns False if the polygon has no area.
    Within :data:`LIMIT` every product is below 2**60: exact in int64."""
    # Twice the signed area, summed in floating point: its sign is right but for
    # polygons of a thousandth of a pixel far outside the frame (whose pixels the exact
    # edge tests decide anyway).
    area = 0.0
    for k in range(count):
        x0 = np.int64(np.round(min(max(xy[start + k, 0], -LIMIT), LIMIT) * STEPS))
        y0 = np.int64(np.round(min(max(xy[start + k, 1], -LIMIT), LIMIT) * STEPS))
        n = start + (k + 1) % count
        x1 = np.int64(np.round(min(max(xy[n, 0], -LIMIT), LIMIT) * STEPS))
        y1 = np.int64(np.round(min(max(xy[n, 1], -LIMIT), LIMIT) * STEPS))
        out[k, 0] = y0 - y1
        out[k, 1] = x1 - x0
        out[k, 2] = x0 * y1 - x1 * y0
        area += float(out[k, 2])
    if area == 0.0:
        return False
    for k in range(count):
        if area < 0.0:  # inside is to the other side of every edge
            out[k, 0] = -out[k, 0]
            out[k, 1] = -out[k, 1]
            out[k, 2] = -out[k, 2]
        lengths[k] = np.sqrt(float(out[k, 0]) ** 2 + float(out[k, 1]) ** 2)
    return True


@njit(cache=True, nogil=True, inline="always")
def _plane(xy, w, start, count):
    """Coefficients ``(p, q, r)`` of ``w = p x + q y + r`` through the polygon's corners,
    from its largest corner-fan triangle (the best conditioned)."""
    x0, y0, w0 = xy[start, 0], xy[start, 1], w[start]
    best, p, q, r = 0.0, 0.0, 0.0, w0
    for k in range(1, count - 1):
        x1, y1, w1 = xy[start + k, 0], xy[start + k, 1], w[start + k]
        x2, y2, w2 = xy[start + k + 1, 0], xy[start + k + 1, 1], w[start + k + 1]
        det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(det) > best:
            best = abs(det)
            p = ((w1 - w0) * (y2 - y0) - (w2 - w0) * (y1 - y0)) / det
            q = ((x1 - x0) * (w2 - w0) - (x2 - x0) * (w1 - w0)) / det
            r = w0 - p * x0 - q * y0
    return p, q, r


@njit(cache=True, nogil=True, inline="always")
def _takes(edges, lengths, count, i, j):
    """Whether the centre of pixel ``(i, j)`` lies inside (exactly, with the tie rule on
    edges), and its distance in pixels to the nearest edge (negative outside)."""
    x = np.int64(i) * STEPS + STEPS // 2
    y = np.int64(j) * STEPS + STEPS // 2
    nearest = np.inf
    inside = True
    for k in range(count):
        if lengths[k] == 0.0:  # a repeated corner: no edge
            continue
        a, b = edges[k, 0], edges[k, 1]
        e = a * x + b * y + edges[k, 2]
        d = e / (lengths[k] * STEPS)
        if d < nearest:
            nearest = d
        if e < 0 or (e == 0 and not (a > 0 or (a == 0 and b > 0))):
            inside = False
    return inside, nearest


@njit(cache=True, nogil=True, inline="always")
def _span(edges, lengths, count, j, margin, first, last):
    """The pixels ``first <= i < last`` of row ``j`` whose centres lie at least
    ``margin`` pixels inside every edge (negative: up to that far outside), in floating
    point (callers test the ring between two spans exactly): ``(lo, hi)``, empty when
    ``lo >= hi``."""
    y = (j + 0.5) * STEPS
    lo, hi = -np.inf, np.inf
    for k in range(count):
        if lengths[k] == 0.0:
            continue
        a = float(edges[k, 0])
        rest = margin * lengths[k] * STEPS - float(edges[k, 1]) * y - float(edges[k, 2])
        if a > 0.0:
            lo = max(lo, rest / a / STEPS)
        elif a < 0.0:
            hi = min(hi, rest / a / STEPS)
        elif rest > 0.0:
            return first, first
    # Centre x = i + 0.5 within [lo, hi].
    if lo > last or hi < first:
        return first, first
    return max(first, int(np.ceil(lo - 0.5))), min(last, int(np.floor(hi - 0.5)) + 1)


@njit(cache=True, nogil=True, inline="always")
def _prepared(xy, start, count, edges, lengths):
    """A polygon's edges (:func:`_edges`) in the buffers, grown when it has more corners
    than they hold: whether it takes any pixel, and the buffers."""
    if count < 3:
        return False, edges, lengths
    if count > edges.shape[0]:
        edges = np.empty((count, 3), np.int64)
        lengths = np.empty(count)
    return _edges(xy, start, count, edges, lengths), edges, lengths


@njit(cache=True, nogil=True, inline="always")
def _bounds(xy, start, count, x_offset, y_offset, width, height):
    """The rows and columns ``(x0, x1, y0, y1)`` of a ``width`` x ``height`` buffer whose
    pixel ``(0, 0)`` is the frame's ``(x_offset, y_offset)`` that a polygon can cover
    even in part: its bounds (clamped as :func:`_edges` clamps corners) and a pixel."""
    lo_x, hi_x, lo_y, hi_y = np.inf, -np.inf, np.inf, -np.inf
    for k in range(count):
        x = min(max(xy[start + k, 0], -LIMIT), LIMIT)
        y = min(max(xy[start + k, 1], -LIMIT), LIMIT)
        lo_x, hi_x = min(lo_x, x), max(hi_x, x)
        lo_y, hi_y = min(lo_y, y), max(hi_y, y)
    return (max(int(np.floor(lo_x)) - x_offset - 1, 0),
            min(int(np.ceil(hi_x)) - x_offset + 1, width),
            max(int(np.floor(lo_y)) - y_offset - 1, 0),
            min(int(np.ceil(hi_y)) - y_offset + 1, height))


# error_model="numpy": a float division by zero gives inf instead of raising. Every
# division kept is guarded (by an edge's length, a slope, the plane's determinant), but
# the inside's depth is divided out at every pixel and kept where the face takes it, and
# the Python model's check for zero would stop LLVM from vectorising that loop.
@njit(cache=True, nogil=True, error_model="numpy")
def draw(xy, w, starts, counts, order, colors, values, slack, image, ids, depth, face,
         first_face):
    """Draw faces ``order`` (indices into the arrays below), in that order.

    Args:
        xy: ``(V, 2)`` float64 pixel positions of every corner.
        w: ``(V,)`` float64 ``1 / depth`` of every corner (positive: clip faces to the
            near plane first).
        starts, counts: ``(F,)`` int64: face ``f`` is corners ``starts[f]`` onwards,
            ``counts[f]`` of them (3 or more, convex).
        order: ``(K,)`` int64 faces to draw.
        colors: ``(F, 3)`` float32 colours, 0-255 (clipped to it).
        values: ``(F,)`` int64 values for the instance id map.
        slack: ``(F,)`` float64: a face takes a pixel where its depth is below what is
            there times ``1 + slack`` (0 for most faces: strictly nearer; a small share
            for decals, which lie in the same plane as other decals of their face and
            are drawn after them, over them).
        image: ``(H, W, 3)`` uint8, blended in place.
        ids: ``(H, W)`` uint16, written where a face takes a pixel.
        depth: ``(H, W)`` float32 depth test and written.
        face: ``(H, W)`` int32, ``first_face + f`` where face ``f`` took the pixel
            (untouched elsewhere).
    """
    height, width = ids.shape
    edges = np.empty((64, 3), np.int64)
    lengths = np.empty(64)
    took = np.empty(width, np.bool_)
    for f in order:
        start, count = starts[f], counts[f]
        ok, edges, lengths = _prepared(xy, start, count, edges, lengths)
        if not ok:
            continue
        p, q, r = _plane(xy, w, start, count)
        x0, x1, y0, y1 = _bounds(xy, start, count, 0, 0, width, height)
        red = min(max(colors[f, 0], 0.0), 255.0)
        green = min(max(colors[f, 1], 0.0), 255.0)
        blue = min(max(colors[f, 2], 0.0), 255.0)
        whole_r, whole_g, whole_b = np.uint8(red + 0.5), np.uint8(green + 0.5), np.uint8(
            blue + 0.5)
        value, number, reach = values[f], first_face + f, 1.0 + slack[f]
        for j in range(y0, y1):
            y = j + 0.5
            # Pixels at least half a pixel inside every edge are wholly covered (and
            # taken); only the ring around them needs each edge's distance.
            outer_lo, outer_hi = _span(edges, lengths, count, j, -0.5, x0, x1)
            inner_lo, inner_hi = _span(edges, lengths, count, j, 0.5, outer_lo, outer_hi)
            if inner_lo >= inner_hi:
                inner_lo = inner_hi = outer_hi
            row_w = q * y + r
            # The inside in two loops: ids, depth and face as selects over slices that
            # start at 0, which LLVM vectorises (the division too: no error model checks
            # it), then the colour where the face took the pixel.
            n = inner_hi - inner_lo
            ids_in, depth_in = ids[j, inner_lo:inner_hi], depth[j, inner_lo:inner_hi]
            face_in, image_in = face[j, inner_lo:inner_hi], image[j, inner_lo:inner_hi]
            for k in range(n):
                iw = p * ((inner_lo + k) + 0.5) + row_w
                there = depth_in[k]
                # Nearer than what is there: 1 / iw < depth * reach.
                taken = not (iw <= 0.0 or iw * (there * reach) <= 1.0)
                ids_in[k] = value if taken else ids_in[k]
                depth_in[k] = np.float32(1.0 / iw) if taken else there
                face_in[k] = number if taken else face_in[k]
                took[k] = taken
            for k in range(n):
                if took[k]:
                    image_in[k, 0] = whole_r
                    image_in[k, 1] = whole_g
                    image_in[k, 2] = whole_b
            # The ring: left of the inside, then right of it (not stepping over it).
            for lo, hi in ((outer_lo, inner_lo), (inner_hi, outer_hi)):
                for i in range(lo, hi):
                    inside, nearest = _takes(edges, lengths, count, i, j)
                    coverage = min(nearest + 0.5, 1.0)
                    if coverage <= 0.0:
                        continue
                    iw = p * (i + 0.5) + row_w
                    if iw <= 0.0 or iw * (depth[j, i] * reach) <= 1.0:
                        continue
                    if inside:
                        ids[j, i] = value
                        depth[j, i] = 1.0 / iw
                        face[j, i] = number
                    keep = 1.0 - coverage
                    image[j, i, 0] = np.uint8(image[j, i, 0] * keep + red * coverage + 0.5)
                    image[j, i, 1] = np.uint8(image[j, i, 1] * keep + green * coverage + 0.5)
                    image[j, i, 2] = np.uint8(image[j, i, 2] * keep + blue * coverage + 0.5)


@njit(cache=True, nogil=True)
def cover(xy, starts, counts, order, mask, x_offset, y_offset):
    """Set ``mask`` to 1 at every pixel whose centre faces ``order`` take (:func:`draw`'s
    rule, no depth test); the mask's pixel ``(0, 0)`` is the frame's
    ``(x_offset, y_offset)``. Returns how many pixels were newly set."""
    height, width = mask.shape
    edges = np.empty((64, 3), np.int64)
    lengths = np.empty(64)
    added = 0
    for f in order:
        start, count = starts[f], counts[f]
        ok, edges, lengths = _prepared(xy, start, count, edges, lengths)
        if not ok:
            continue
        x0, x1, y0, y1 = _bounds(xy, start, count, x_offset, y_offset, width, height)
        for j in range(y0, y1):
            row = j + y_offset
            outer_lo, outer_hi = _span(edges, lengths, count, row, -0.5, x0 + x_offset,
                                       x1 + x_offset)
            inner_lo, inner_hi = _span(edges, lengths, count, row, 0.5, outer_lo, outer_hi)
            if inner_lo >= inner_hi:
                inner_lo = inner_hi = outer_hi
            for i in range(outer_lo - x_offset, outer_hi - x_offset):
                if mask[j, i]:
                    continue
                frame_i = i + x_offset
                if not inner_lo <= frame_i < inner_hi:
                    inside, _ = _takes(edges, lengths, count, frame_i, row)
                    if not inside:
                        continue
                mask[j, i] = 1
                added += 1
    return added


@njit(cache=True, nogil=True)
def coverage(xy, start, count, alpha, x_offset, y_offset):
    """Write into ``alpha`` (uint8, 255 = whole) how much of each pixel the polygon
    ``xy[start:start + count]`` covers, as :func:`draw` blends a face's colour; the
    buffer's pixel ``(0, 0)`` is the frame's ``(x_offset, y_offset)``."""
    height, width = alpha.shape
    edges = np.empty((max(count, 3), 3), np.int64)
    lengths = np.empty(max(count, 3))
    if count < 3 or not _edges(xy, start, count, edges, lengths):
        return
    for j in range(height):
        row = j + y_offset
        outer_lo, outer_hi = _span(edges, lengths, count, row, -0.5, x_offset,
                                   x_offset + width)
        inner_lo, inner_hi = _span(edges, lengths, count, row, 0.5, outer_lo, outer_hi)
        if inner_lo >= inner_hi:
            inner_lo = inner_hi = outer_hi
        for frame_i in range(outer_lo, outer_hi):
            if inner_lo <= frame_i < inner_hi:
                alpha[j, frame_i - x_offset] = 255
                continue
            _, nearest = _takes(edges, lengths, count, frame_i, row)
            share = min(nearest + 0.5, 1.0)
            if share > 0.0:
                alpha[j, frame_i - x_offset] = np.uint8(255.0 * share + 0.5)
