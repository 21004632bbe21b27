"""Compiled passes over a frame's pixels: the effects' blends and noise, and the ground's
depth, each in one pass instead of several OpenCV or NumPy calls, with the bytes of those
calls (tests compare them exhaustively or on random frames).

Each checks its arrays' shapes (a ValueError, not a write past the frame). The blends and
noise take C-contiguous arrays (their rows are reshaped, which numba refuses for others)
and are written as a loop per row over the row's weights, then one over its bytes, which
LLVM vectorises (a loop with per-pixel table lookups does not, and is slower than
OpenCV's passes); the depth is one loop per row. Each is here only because it replaces
several passes: one OpenCV pass is as fast as a compiled one (a gain multiplied into a
frame was tried). Compiled with numba, cached like :mod:`synthgen.render.zbuffer`.
Nothing here is random.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _div255(x):
    """``round(x / 255)`` of ``x + 127`` given as ``x`` (``x < 65,536 + 127``): ``x //
    255`` by shifts, which vectorise (integer division does not)."""
    return (x + np.uint32(1) + (x >> np.uint32(8))) >> np.uint32(8)


@njit(cache=True, nogil=True)
def veil_blend(image, keep, gain, use_gain, scales, out):
    """``out = image keep' + scales 255 (255 - keep)'`` per pixel, in one pass, where
    ``w'`` is ``w gain / 255`` rounded if ``use_gain`` (else ``w``): the bytes of the
    OpenCV passes it replaced (``cv2.multiply`` of each weight by ``gain`` and of the
    image by the three-channel keep, both with ``scale=1 / 255``, ``convertScaleAbs``
    of the veil by each scale, ``merge`` and ``add``: about ten passes over the frame).

    Exact because every step is: OpenCV rounds ``a b / 255`` (8-bit ``a``, ``b``) to
    nearest in float, and its fraction is never within 1/510 of a half, so it is
    ``(a b + 127) // 255``; the veil's ``v scale`` is computed in float32 and rounded
    half to even as ``convertScaleAbs`` does; sums saturate at 255 (tests compare all
    of it with the OpenCV calls). Written as a loop per row over the weights, then one
    over the row's bytes, both of which LLVM vectorises.

    Args:
        image: ``(H, W, 3)`` uint8.
        keep: ``(H, W)`` uint8 weight of the image (255 = 1); the veil's is ``255 - keep``.
        gain: ``(H, W)`` uint8 gain of both weights, read if ``use_gain``.
        scales: ``(3,)`` float32 veil colour / 255 (:func:`veil_scales`).
        out: ``(H, W, 3)`` uint8, written (may be ``image``, but then the pass is not
            vectorised, its source and target overlapping: twice as slow).
    """
    h, w = keep.shape
    if (image.shape != (h, w, 3) or out.shape != image.shape
            or (use_gain and gain.shape != keep.shape) or scales.shape != (3,)):
        raise ValueError("veil_blend: image and out must be (H, W, 3), keep (and gain) "
                         "(H, W), scales (3,)")
    keep3 = np.empty(3 * w, np.uint32)
    veil3 = np.empty(3 * w, np.uint32)
    for y in range(h):
        row, gains = keep[y], gain[y]
        for x in range(w):
            k = np.uint32(row[x])
            v = np.uint32(255) - k
            if use_gain:
                g = np.uint32(gains[x])
                k = _div255(k * g + np.uint32(127))
                v = _div255(v * g + np.uint32(127))
            f = np.float32(v)
            keep3[3 * x] = k
            keep3[3 * x + 1] = k
            keep3[3 * x + 2] = k
            veil3[3 * x] = np.uint32(np.rint(f * scales[0]))
            veil3[3 * x + 1] = np.uint32(np.rint(f * scales[1]))
            veil3[3 * x + 2] = np.uint32(np.rint(f * scales[2]))
        source, target = image[y].reshape(3 * w), out[y].reshape(3 * w)
        for i in range(3 * w):
            s = _div255(np.uint32(source[i]) * keep3[i] + np.uint32(127)) + veil3[i]
            target[i] = np.uint8(min(s, np.uint32(255)))


@njit(cache=True, nogil=True)
def add_noise(image, luminance, color, rows, columns, offset):
    """``image + min(luminance + color', 255) - offset`` per pixel and channel, saturated
    at 0 and 255, in place, where ``color'`` is ``color[rows[y], columns[x]]``: the bytes
    of the OpenCV passes it replaced (``cvtColor`` of the luminance to three channels,
    ``resize`` of the colour noise, a saturating ``add``, then ``addWeighted``, which
    rounds a whole number to itself). A row's stretched colour noise is made once per
    source row, and each row is then one loop over its bytes, which LLVM vectorises.

    Args:
        image: ``(H, W, 3)`` uint8, modified.
        luminance: ``(H, W)`` uint8.
        color: ``(h, w, 3)`` uint8 coarse noise.
        rows, columns: ``(H,)`` and ``(W,)`` int64 indices into ``color``.
        offset: What the noise tables added to make their noise unsigned.
    """
    h, w = luminance.shape
    if (image.shape != (h, w, 3) or color.ndim != 3 or color.shape[2] != 3
            or rows.shape != (h,) or columns.shape != (w,)
            or (h and (rows.min() < 0 or rows.max() >= color.shape[0]))
            or (w and (columns.min() < 0 or columns.max() >= color.shape[1]))):
        raise ValueError("add_noise: image must be (H, W, 3), luminance (H, W), rows (H,) "
                         "and columns (W,) indices into color (h, w, 3)")
    grain3 = np.empty(3 * w, np.int32)
    color3 = np.empty(3 * w, np.int32)
    last = -1
    for y in range(h):
        if rows[y] != last:
            last = rows[y]
            source = color[last]
            for x in range(w):
                c = columns[x]
                color3[3 * x] = source[c, 0]
                color3[3 * x + 1] = source[c, 1]
                color3[3 * x + 2] = source[c, 2]
        grain = luminance[y]
        for x in range(w):
            g = np.int32(grain[x])
            grain3[3 * x] = g
            grain3[3 * x + 1] = g
            grain3[3 * x + 2] = g
        row = image[y].reshape(3 * w)
        for i in range(3 * w):
            v = np.int32(row[i]) + min(grain3[i] + color3[i], 255) - offset
            row[i] = np.uint8(min(max(v, 0), 255))


@njit(cache=True, nogil=True, error_model="numpy")
def ground_depth(rows, cols, c, height, top, bottom, out):
    """The ground's depth, ``height / ((rows + cols) + c)`` per pixel in float32, into
    ``out`` ``(H, W)``: infinite in the rows before ``top`` (pure sky), and in rows
    ``top`` to ``bottom`` (the horizon's band) where that sum is at or above zero; the
    bytes of the three NumPy passes :meth:`synthgen.render.camera.Camera.ground_depth`
    ran (the same float32 operations), in one. No division here is by zero (the band tests
    its rise first; below the band the rise is negative), but under numba's Python error
    model the check for it keeps LLVM from vectorising the rows: 0.44-0.7 ms against
    0.15 ms at 1280x720 (``error_model="numpy"``).

    Args:
        rows, cols: ``(H,)`` and ``(W,)`` float32 terms of the rays' rise.
        c: float32 constant term.
        height: float32, the camera's height negated.
        top, bottom: The horizon's band (see ``Camera.horizon_band``).
        out: ``(H, W)`` float32, written.
    """
    h, w = out.shape
    if rows.shape != (h,) or cols.shape != (w,) or not 0 <= top <= bottom <= h:
        raise ValueError("ground_depth: rows (H,) and cols (W,) for out (H, W), "
                         "0 <= top <= bottom <= H")
    for y in range(top):
        out[y, :] = np.inf
    for y in range(top, h):
        r, row = rows[y], out[y]
        if y < bottom:
            for x in range(w):
                rise = (r + cols[x]) + c
                row[x] = np.float32(np.inf) if rise >= 0 else height / rise
        else:
            for x in range(w):
                row[x] = height / ((r + cols[x]) + c)
