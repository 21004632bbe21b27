"""The bank of real cut-outs ``generate --sprites REAL`` pastes: cut out of a labelled
real set (KITTI's own layout, or any COCO set synthgen reads) before the first image.

What the bank is and how the renderer pastes its cut-outs is
:mod:`synthgen.render.sprites`; this module reads the set
(:func:`synthgen.datasets.realsets.read_real_set`, as ``synthgen fit`` does), chooses the
objects and cuts them out.

Which objects are cut out (:func:`eligible`), so that a cut-out holds one whole object
and nothing else that is labelled:

- of a synthgen class (KITTI ``Car``/``Van`` are cars, as ``real import`` maps them),
  not an ignore region, at least :data:`MIN_HEIGHT` pixels tall and :data:`MIN_WIDTH`
  wide;
- wholly visible: KITTI occlusion 0 and truncation at most :data:`MAX_TRUNCATION`; in a
  COCO set (which says neither) at least :data:`BORDER` pixels inside the frame;
- no more than :data:`MAX_OVERLAP` of its box covered by another box (labelled, an
  ignore region, or of a class synthgen has not), and no more than :data:`MAX_INSIDE` of
  another box inside its own (another object's parts in the cut-out would be an
  unlabelled object in every image it is pasted into); boxes with a coordinate that is
  not finite are never cut out.

A cut-out is the object's box rounded to whole pixels, with the outline
:func:`silhouette` finds in the photo (its class's where none is found). Its viewing
angle is KITTI's ``alpha`` made a :attr:`~synthgen.render.sprites.Sprite.view` (none in
a COCO set).

The bank is the same for the same files (its digest goes into the manifest, so
``--resume`` and ``merge`` refuse a changed set).
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import cv2
import numpy as np

from synthgen.datasets.realsets import (
    DROP,
    IGNORE,
    KITTI_MAPPING,
    CategoryMapper,
    coco_synonym_table,
    read_real_set,
)
from synthgen.errors import DatasetError
from synthgen.render.appearance import frame_bytes
from synthgen.render.sprites import CLASSES, Sprite, SpriteBank, view_from_kitti
from synthgen.storage.images import decode_rgb

#: Smallest cut-out (pixels): smaller objects hold too little detail to paste larger.
MIN_HEIGHT = 25
MIN_WIDTH = 10
#: Largest KITTI truncation of a cut-out (the fraction of the object outside the frame).
MAX_TRUNCATION = 0.05
#: In a COCO set, a cut-out's box must stay this many pixels inside the frame.
BORDER = 2
#: Largest share of a cut-out's box another box (labelled, ignored or of a class
#: synthgen has not) may cover, and largest share of another box inside the cut-out's.
MAX_OVERLAP = 0.05
MAX_INSIDE = 0.25


#: GrabCut's iterations (:func:`silhouette`).
GRABCUT_ITERATIONS = 5
#: Background GrabCut learns from around a box: this share of its width and height each
#: side (at least :data:`MIN_MARGIN` pixels), as far as the photo reaches.
MARGIN = 0.25
MIN_MARGIN = 4
#: Height (pixels) a taller box is scaled down to before GrabCut runs.
WORK_HEIGHT = 48
#: The corner cuts :func:`silhouette` tries, as shares of the box's width and height
#: (a cut ``(a, b)`` takes the triangle ``a`` along the top or bottom side and ``b`` along
#: the left or right side off its corner): upper corners may be cut deep (a car's roof
#: and windscreen, a person's head and shoulders), lower ones little (wheels and feet
#: reach the ground). Kept under half of every side, so the outline touches all four.
UPPER_CUTS = ((0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4),
              (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6))
LOWER_CUTS = ((0.05, 0.1, 0.15), (0.05, 0.1, 0.15))
#: Share of a cut corner GrabCut must call background.
MIN_BACKGROUND = 0.95


def silhouette(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The outline of the object in pixel box ``box`` (``x0, y0, x1, y1``) of photo
    ``rgb``: the box with each corner cut where the photo shows background there.

    GrabCut (Rother et al. 2004, OpenCV's) is told the photo around the box is
    background and the middle third of the box (both ways) the object, and learns both
    from the box and a margin around it (:data:`MARGIN`). Its mask is not the outline
    (it loses dark tyres and windows to the road and the shade): each corner is cut by
    the largest triangle of :data:`UPPER_CUTS` / :data:`LOWER_CUTS` it calls at least
    :data:`MIN_BACKGROUND` background, none if no triangle is. A box is a labelled,
    tight one, so the object reaches all four sides, and the outline does too.

    Returns:
        The outline in the box's unit square (x right, y down), convex, ``(n, 2)``; or
        ``None`` when GrabCut cannot run (no photo around a box filling it). The same
        for the same pixels (OpenCV's generator is seeded before each call).
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    mx, my = max(MIN_MARGIN, round(w * MARGIN)), max(MIN_MARGIN, round(h * MARGIN))
    cx0, cy0 = max(0, x0 - mx), max(0, y0 - my)
    cx1, cy1 = min(rgb.shape[1], x1 + mx), min(rgb.shape[0], y1 + my)
    crop = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, ::-1])  # GrabCut takes BGR
    # GrabCut's cost grows with the pixels: a tall box is looked at WORK_HEIGHT tall.
    scale = min(1.0, WORK_HEIGHT / h)
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)),
                                 max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    bx0, by0 = round((x0 - cx0) * scale), round((y0 - cy0) * scale)
    bw, bh = max(1, round(w * scale)), max(1, round(h * scale))
    mask = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
    mask[by0:by0 + bh, bx0:bx0 + bw] = cv2.GC_PR_FGD
    mask[by0 + bh // 3:by0 + bh - bh // 3, bx0 + bw // 3:bx0 + bw - bw // 3] = cv2.GC_FGD
    if not (mask == cv2.GC_BGD).any():
        return None
    cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's generator
    try:
        cv2.grabCut(crop, mask, None, np.zeros((1, 65)), np.zeros((1, 65)),
                    GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # e.g. too few background pixels to learn a model from
        return None
    inside = mask[by0:by0 + bh, bx0:bx0 + bw]
    h, w = inside.shape
    background = ((inside == cv2.GC_BGD) | (inside == cv2.GC_PR_BGD)).astype(np.float64)
    # Cumulative background per row from the left: a corner triangle's count row by row.
    from_left = np.concatenate([np.zeros((h, 1)), np.cumsum(background, axis=1)], axis=1)
    cuts = {}
    for corner, (across, down) in (("tl", UPPER_CUTS), ("tr", UPPER_CUTS),
                                   ("bl", LOWER_CUTS), ("br", LOWER_CUTS)):
        best, best_area = (0.0, 0.0), 0.0
        for a in across:
            for b in down:
                share = _corner_background(from_left, corner, a, b)
                if share is not None and share >= MIN_BACKGROUND and a * b > best_area:
                    best, best_area = (a, b), a * b
        cuts[corner] = best
    (atl, btl), (atr, btr), (abl, bbl), (abr, bbr) = (cuts[c] for c in ("tl", "tr", "bl", "br"))
    corners = [(atl, 0.0), (1 - atr, 0.0), (1.0, btr), (1.0, 1 - bbr), (1 - abr, 1.0),
               (abl, 1.0), (0.0, 1 - bbl), (0.0, btl)]
    unit = [p for i, p in enumerate(corners) if p != corners[i - 1]]
    return np.array(unit, np.float64)


def _corner_background(from_left: np.ndarray, corner: str, a: float, b: float
                       ) -> float | None:
    """Share of the pixels whose centres lie in the corner triangle ``(a, b)`` (see
    :data:`UPPER_CUTS`) that are background, from per-row cumulative counts; ``None``
    when no pixel centre lies in it."""
    h, w = from_left.shape[0], from_left.shape[1] - 1
    total = inside = 0.0
    for row in range(h):
        v = (row + 0.5) / h  # down from the top
        depth = v if corner[0] == "t" else 1.0 - v  # from the cut's horizontal side
        if depth >= b:
            continue
        reach = a * (1.0 - depth / b) * w  # the triangle's width at this row (pixels)
        n = int(math.floor(reach + 0.5))
        if n <= 0:
            continue
        n = min(n, w)
        counted = (from_left[row, n] if corner[1] == "l"
                   else from_left[row, w] - from_left[row, w - n])
        inside += counted
        total += n
    return inside / total if total else None


def _overlap(a: tuple[float, float, float, float],
             b: tuple[float, float, float, float]) -> float:
    """The share of box ``a``'s area that box ``b`` covers."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h) / ((a[2] - a[0]) * (a[3] - a[1]))


def eligible(objects: list[tuple[str, tuple[float, float, float, float], bool,
                                 dict[str, Any]]],
             width: int, height: int, *, kitti: bool) -> list[int]:
    """Which objects of one photo are cut out (see the module docstring).

    Args:
        objects: ``(target class or ignore/drop, ltrb, iscrowd, extra)`` per label, in
            the order of the label file.
        width, height: The photo's size.
        kitti: Whether ``extra`` holds KITTI's ``occluded`` and ``truncation``.

    Returns:
        Indices into ``objects``.
    """
    kept = []
    for k, (target, box, crowd, extra) in enumerate(objects):
        x0, y0, x1, y1 = box
        if target not in CLASSES or crowd or not all(math.isfinite(v) for v in box):
            continue
        if y1 - y0 < MIN_HEIGHT or x1 - x0 < MIN_WIDTH:
            continue
        if kitti:
            if extra.get("occluded") != 0 or extra.get("truncation", 1.0) > MAX_TRUNCATION:
                continue
        if x0 < BORDER or y0 < BORDER or x1 > width - BORDER or y1 > height - BORDER:
            continue
        others = [other[1] for j, other in enumerate(objects)
                  if j != k and all(math.isfinite(v) for v in other[1])
                  and other[1][2] > other[1][0] and other[1][3] > other[1][1]]
        if any(_overlap(box, other) > MAX_OVERLAP or _overlap(other, box) > MAX_INSIDE
               for other in others):
            continue
        kept.append(k)
    return kept


def _pixel_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A box's pixel edges rounded to whole pixels."""
    return tuple(int(math.floor(v + 0.5)) for v in box)  # type: ignore[return-value]


def sprite_bank(src: str, *, images_dir: str | None = None) -> SpriteBank:
    """Cut the bank out of the real set at ``src`` (KITTI layout or COCO).

    Raises:
        DatasetError: The set is missing or unreadable, a photo cannot be read or is not
            the size its labels say, or no object qualifies.
    """
    try:
        # The reader of `synthgen fit`: the same formats, class mapping and errors.
        real = read_real_set(src, images_dir=images_dir)
    except DatasetError as exc:
        # The reader says what it could not fit; here nothing could be cut out.
        raise DatasetError(f"--sprites: {exc}".replace(" to fit;", " to cut out;")) from exc
    kitti = real.format == "kitti"
    mapper = CategoryMapper(KITTI_MAPPING if kitti else coco_synonym_table())
    digest = hashlib.sha256(b"synthgen sprites 2\0")
    sprites: list[Sprite] = []
    for image in sorted(real.images, key=lambda im: im.file_name):
        labels = []
        for obj in image.objects:
            target = mapper.target(obj.name)
            labels.append(("drop" if target == DROP else
                           "ignore" if target == IGNORE else target,
                           obj.ltrb, obj.iscrowd, obj.extra))
        chosen = eligible(labels, image.width, image.height, kitti=kitti)
        if not chosen:
            continue
        data = frame_bytes(image.path, "--sprites")
        digest.update(os.fsencode(image.file_name) + f"\0{len(data)}\0".encode())
        digest.update(data)
        rgb = decode_rgb(data)  # as stored, where its labels are (EXIF ignored)
        if rgb is None:
            raise DatasetError(f"--sprites: {image.path}: not a readable image")
        if rgb.shape[:2] != (image.height, image.width):
            raise DatasetError(f"--sprites: {image.path}: {rgb.shape[1]}x{rgb.shape[0]} "
                               f"pixels; expected {image.width}x{image.height} as its "
                               f"labels say")
        for k in chosen:
            target, box, _, _ = labels[k]
            x0, y0, x1, y1 = _pixel_box(box)
            unit = silhouette(rgb, (x0, y0, x1, y1))
            if unit is not None:
                unit.setflags(write=False)
            pixels = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            pixels.setflags(write=False)
            box3d = image.objects[k].box3d
            view = view_from_kitti(box3d.alpha) if box3d is not None else None
            shape = "class" if unit is None else np.round(unit, 6).tolist()
            digest.update(f"{k}:{target}:{x0},{y0},{x1},{y1}:{view}:{shape}\0".encode())
            sprites.append(Sprite(target, pixels, view, f"{image.file_name}#{k}", unit))
    if not sprites:
        raise DatasetError(
            f"--sprites: {src}: no object to cut out; expected objects of "
            f"{', '.join(CLASSES)} at least {MIN_HEIGHT} pixels tall, wholly visible and "
            f"hardly overlapping another box")
    return SpriteBank(source=src, sprites=tuple(sprites), digest=digest.hexdigest(),
                      images=len(real.images))
