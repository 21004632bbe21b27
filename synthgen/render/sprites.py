"""Real objects pasted in place of drawn ones: ``generate --sprites REAL``.

What a detector trained on renders cannot learn is what real cars and people look like.
Given a labelled real set (KITTI's own layout, or any COCO set synthgen reads), this
module cuts a *bank* of objects out of its photos, and the renderer pastes one of them in
place of each drawn vehicle, pedestrian or cyclist of that class: the scene, camera,
placement, occlusion, shadows and labels stay synthgen's own; only the object's pixels
come from a photo ("cut, paste and learn", Dwibedi et al. 2017, inside a rendered scene).

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

A cut-out is the object's box rounded to whole pixels. It is pasted stretched over the
box the drawn object's 3D box projects to, inside a convex outline that touches all four
sides of that box (:data:`OUTLINES`: the box with its upper corners cut, where a car's
roof or a person's shoulders leave background); the instance id map and depth are
filled with that outline exactly as a drawn face fills them, so labels are measured on
the pasted pixels the way they are on drawn ones. Each pasted object gets the cut-out
whose viewing angle (from KITTI's ``alpha``; any, for COCO sets) and size fit the drawn
object's best (among the :data:`NEAREST`, mirrored when that fits better; see
:meth:`SpriteBank.candidates`), chosen in :func:`synthgen.scene.sampling.sample_sprites`; an
object no cut-out fits within :data:`MAX_MISFIT` is drawn as usual.

The bank is the same for the same files (its digest goes into the manifest, so
``--resume`` and ``merge`` refuse a changed set).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from synthgen.errors import DatasetError
from synthgen.storage.images import decode_rgb

#: Smallest cut-out (pixels): smaller objects hold too little detail to paste larger.
MIN_HEIGHT = 25
MIN_WIDTH = 10
#: Largest KITTI truncation of a cut-out (the fraction of the object outside the frame).
MAX_TRUNCATION = 0.05
#: In a COCO set, a cut-out's box must stay this many pixels inside the frame.
BORDER = 2
#: A pasted object takes one of the cut-outs whose viewing angle is nearest to its own.
NEAREST = 6
#: Misfit (as radians of viewing angle) of each doubling a cut-out is enlarged by beyond
#: the first.
UPSCALE_COST = 0.35
#: Largest misfit (see :meth:`SpriteBank.candidates`) of a cut-out pasted; an object no
#: cut-out fits better (an oncoming truck when the set has trucks seen from behind only)
#: is drawn as usual.
MAX_MISFIT = math.pi / 3
#: Largest share of a cut-out's box another box (labelled, ignored or of a class
#: synthgen has not) may cover, and largest share of another box inside the cut-out's.
MAX_OVERLAP = 0.05
MAX_INSIDE = 0.25
#: Largest blur (pixels) of a pasted edge; each paste draws its own in [0, this].
MAX_FEATHER = 1.5
#: Classes whose objects are pasted (all of synthgen's with a body a camera sees whole).
CLASSES = ("car", "truck", "bus", "pedestrian", "cyclist")
#: The outline a cut-out is pasted in, in the unit square of its box (x right, y down):
#: convex, and touching all four sides, so the labelled box is the pasted box.
OUTLINES: dict[str, tuple[tuple[float, float], ...]] = {
    "vehicle": ((0.0, 0.3), (0.1, 0.0), (0.9, 0.0), (1.0, 0.3), (1.0, 1.0), (0.0, 1.0)),
    "person": ((0.0, 0.15), (0.3, 0.0), (0.7, 0.0), (1.0, 0.15), (1.0, 0.9), (0.85, 1.0),
               (0.15, 1.0), (0.0, 0.9)),
}
OUTLINE_OF = {"car": "vehicle", "truck": "vehicle", "bus": "vehicle",
              "pedestrian": "person", "cyclist": "person"}


@dataclass(frozen=True, eq=False)
class Sprite:
    """One cut-out.

    Attributes:
        category: Its synthgen class.
        pixels: ``(h, w, 3)`` uint8 RGB, read-only.
        view: Viewing angle (radians in ``(-pi, pi]``): the object's heading relative to
            the camera's line of sight to it, positive to the right (0: seen from
            behind, pi: from the front); ``None`` when the set does not say.
        source: ``file_name#k``: its photo and the object's place among its labels.
    """

    category: str
    pixels: np.ndarray
    view: float | None
    source: str


@dataclass(frozen=True, eq=False)
class SpriteBank:
    """The cut-outs of one real set (see the module docstring)."""

    source: str
    sprites: tuple[Sprite, ...]
    digest: str
    images: int

    @property
    def has_views(self) -> bool:
        return any(sprite.view is not None for sprite in self.sprites)

    def per_class(self) -> dict[str, int]:
        counts = Counter(s.category for s in self.sprites)
        return {name: counts[name] for name in CLASSES if counts[name]}

    def recorded(self) -> dict[str, Any]:
        """What the manifest records of the bank (``--resume`` and ``merge`` compare it):
        its content, not the path it was read from (the same set elsewhere is the same)."""
        return {"digest": self.digest, "images": self.images, "sprites": len(self.sprites),
                "per_class": self.per_class()}

    def candidates(self, category: str, view: float,
                   height: float | None = None) -> list[tuple[int, bool]]:
        """The :data:`NEAREST` cut-outs of ``category`` that fit an object seen at angle
        ``view`` and about ``height`` pixels tall best.

        The misfit of a cut-out is the angle between its view and ``view`` (radians),
        plus :data:`UPSCALE_COST` for each doubling beyond the first it must be enlarged
        by (an enlarged photo is a blurred one); a cut-out whose angle is unknown in a
        bank that knows others' misfits by pi/2 more.

        Returns:
            ``(index, mirrored)`` pairs, best first (ties by index, unmirrored first),
            with every cut-out tied with the last; a cut-out seen at angle ``a``
            mirrored is seen at ``-a``. Empty when the bank has none of the class or
            none misfits by at most :data:`MAX_MISFIT`: the object is then drawn.
        """
        scored = []
        unknown = math.pi / 2 if self.has_views else 0.0
        for index, sprite in enumerate(self.sprites):
            if sprite.category != category:
                continue
            cost = 0.0
            if height is not None:
                cost = UPSCALE_COST * max(0.0, math.log2(height / sprite.pixels.shape[0]) - 1)
            if sprite.view is None:
                # In a bank that knows angles, one that does not fits no angle well.
                scored.append((cost + unknown, index, False))
                continue
            for mirrored in (False, True):
                angle = -sprite.view if mirrored else sprite.view
                scored.append((cost + _angle_between(angle, view), index, mirrored))
        scored.sort()
        if not scored or scored[0][0] > MAX_MISFIT:
            return []
        # The NEAREST best, and any tied with the last of them (a set without angles
        # ties them all: every cut-out of the class is a candidate).
        last = scored[min(NEAREST, len(scored)) - 1][0]
        return [(index, mirrored) for cost, index, mirrored in scored
                if cost <= MAX_MISFIT and (cost <= last + 1e-9)]


def _angle_between(a: float, b: float) -> float:
    """Absolute difference of two angles, in ``[0, pi]``."""
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def _wrap(angle: float) -> float:
    """``angle`` in ``(-pi, pi]``."""
    wrapped = math.pi - (math.pi - angle) % (2 * math.pi)
    return wrapped


def view_from_kitti(alpha: float) -> float:
    """The viewing angle (see :class:`Sprite`) of a KITTI object of observation angle
    ``alpha`` (``-pi/2``: seen from behind, ``pi/2``: from the front)."""
    return _wrap(alpha + math.pi / 2)


def view_of(yaw: float, x: float, y: float, camera_x: float) -> float:
    """The viewing angle of an object heading ``yaw`` (from +y, positive to the right) at
    ground position ``(x, y)``, seen from a camera at ``(camera_x, 0)``."""
    return _wrap(yaw - math.atan2(x - camera_x, y))


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
    # The readers of fit: the same formats, class mapping and errors as `synthgen fit`.
    from synthgen.analysis.fit import read_real_set  # noqa: PLC0415
    from synthgen.datasets.realsets import (  # noqa: PLC0415
        DROP,
        IGNORE,
        KITTI_MAPPING,
        CategoryMapper,
        coco_synonym_table,
    )
    from synthgen.render.appearance import frame_bytes  # noqa: PLC0415

    try:
        real = read_real_set(src, images_dir=images_dir)
    except DatasetError as exc:
        # fit's reader says what it could not fit; here nothing could be cut out.
        raise DatasetError(f"--sprites: {exc}".replace(" to fit;", " to cut out;")) from exc
    kitti = real.format == "kitti"
    mapper = CategoryMapper(KITTI_MAPPING if kitti else coco_synonym_table())
    digest = hashlib.sha256(b"synthgen sprites 1\0")
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
            pixels = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            pixels.setflags(write=False)
            box3d = image.objects[k].box3d
            view = view_from_kitti(box3d.alpha) if box3d is not None else None
            digest.update(f"{k}:{target}:{x0},{y0},{x1},{y1}:{view}\0".encode())
            sprites.append(Sprite(target, pixels, view, f"{image.file_name}#{k}"))
    if not sprites:
        raise DatasetError(
            f"--sprites: {src}: no object to cut out; expected objects of "
            f"{', '.join(CLASSES)} at least {MIN_HEIGHT} pixels tall, wholly visible and "
            f"hardly overlapping another box")
    return SpriteBank(source=src, sprites=tuple(sprites), digest=digest.hexdigest(),
                      images=len(real.images))


def outline(category: str) -> np.ndarray:
    """The unit-square outline a cut-out of ``category`` is pasted in, ``(n, 2)``."""
    return np.array(OUTLINES[OUTLINE_OF[category]], np.float64)


def paste_pixels(sprite: Sprite, mirrored: bool, size: tuple[int, int],
                 window: tuple[int, int, int, int], gain: np.ndarray) -> np.ndarray:
    """The part ``window`` (``x0, y0, x1, y1`` in the pasted box's pixels) of a cut-out
    mirrored if asked, stretched to ``size`` (width, height) and lit by ``gain`` (per
    channel), float32 RGB.

    Only the window is resampled (an affine map from box pixels to cut-out pixels), so a
    box far larger than the frame costs no more than the frame. The samples are those of
    a whole-box resize: area averaging when the cut-out shrinks both ways, else bilinear.
    """
    pixels = np.ascontiguousarray(sprite.pixels[:, ::-1] if mirrored else sprite.pixels)
    h, w = pixels.shape[:2]
    width, height = size
    x0, y0, x1, y1 = window
    if width < w and height < h:  # shrinking: average, as cv2.resize(INTER_AREA) does
        resized = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
        part = resized[y0:y1, x0:x1]
    else:
        sx, sy = w / width, h / height
        # Box pixel (u, v) samples the cut-out at ((u + 0.5) sx - 0.5, (v + 0.5) sy - 0.5),
        # as cv2.resize's bilinear mode does.
        matrix = np.array([[sx, 0.0, (x0 + 0.5) * sx - 0.5],
                           [0.0, sy, (y0 + 0.5) * sy - 0.5]])
        part = cv2.warpAffine(pixels, matrix, (x1 - x0, y1 - y0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    return part.astype(np.float32) * gain.astype(np.float32)
