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

A cut-out is the object's box rounded to whole pixels, its viewing angle KITTI's
``alpha`` made a :attr:`~synthgen.render.sprites.Sprite.view` (none in a COCO set).

Each cut-out also gets a *decoy* where the photo has one (:func:`decoy_box`): a piece of
the same photo of the same size and rows, beside the object, that no box of the photo
(labelled, ignored or of a class synthgen has not) touches: the road, pavement, wall or
hedge next to the car. The renderer pastes a share of cut-outs' decoys instead of the
object, unlabelled (see :mod:`synthgen.render.sprites`).

The bank is the same for the same files (its digest goes into the manifest, so
``--resume`` and ``merge`` refuse a changed set).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Sequence
from typing import Any

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
from synthgen.formats.boxes import Box
from synthgen.render.appearance import labelled_frame
from synthgen.render.sprites import (
    CLASSES,
    DECOY_SHARE,
    Sprite,
    SpriteBank,
    paste_rules,
    view_from_kitti,
)

#: Where the bank's digest starts: changed whenever what a paste looks like changes
#: (here, in :func:`synthgen.render.sprites.paste_pixels`, the painter's paste, the
#: draws of ``sample_sprites`` or the choice of cut-outs it draws from), so that
#: ``--resume``, ``--extend`` and ``merge`` refuse to mix pastes of two kinds in one run.
#: 2 and 3 were changes tried and reverted (an outline from GrabCut, a drawn exposure and
#: saturation per paste); 4: colours lit beyond white are clipped before the edge is
#: blended; 5: a cut-out whose angle is unknown is chosen by its aspect too
#: (:meth:`~synthgen.render.sprites.SpriteBank.candidates`); 6: decoys (:func:`decoy_box`)
#: pasted in place of a share of objects; 7: no number drawn for decoys when none are
#: asked for (pastes as at 5); 8: pasted by the depth-tested rasterizer (a paste takes
#: only pixels where nothing nearer is drawn, its edge blended by the faces' coverage).
BANK_FORMAT = b"synthgen sprites 8\0"
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
#: How far beside its object a decoy is looked for: offsets of half its width, nearest
#: first, up to this many widths either way.
DECOY_REACH = 4
#: Clear space (as a share of the decoy's width, at least :data:`BORDER` pixels) a decoy
#: keeps from every box of its photo, its own object's included: a labeller's box is
#: rarely tight to the pixel (a DontCare region, an arm or a mirror reach past it).
DECOY_GAP = 0.125


def eligible(objects: list[tuple[str, Box, bool, dict[str, Any]]],
             width: int, height: int, *, kitti: bool) -> list[int]:
    """Which objects of one photo are cut out (see the module docstring).

    Args:
        objects: ``(target class or ignore/drop, box, iscrowd, extra)`` per label, in
            the order of the label file.
        width, height: The photo's size.
        kitti: Whether ``extra`` holds KITTI's ``occluded`` and ``truncation``.

    Returns:
        Indices into ``objects``.
    """
    kept = []
    for k, (target, box, crowd, extra) in enumerate(objects):
        x0, y0, x1, y1 = box
        if target not in CLASSES or crowd or not box.is_finite():
            continue
        if box.height < MIN_HEIGHT or box.width < MIN_WIDTH:
            continue
        if kitti:
            if extra.get("occluded") != 0 or extra.get("truncation", 1.0) > MAX_TRUNCATION:
                continue
        if x0 < BORDER or y0 < BORDER or x1 > width - BORDER or y1 > height - BORDER:
            continue
        others = [other[1] for j, other in enumerate(objects)
                  if j != k and other[1].is_finite()
                  and other[1].x1 > other[1].x0 and other[1].y1 > other[1].y0]
        if any(box.covered_by(other) > MAX_OVERLAP or other.covered_by(box) > MAX_INSIDE
               for other in others):
            continue
        kept.append(k)
    return kept


def decoy_box(box: tuple[int, int, int, int], others: list[Box],
              width: int) -> tuple[int, int, int, int] | None:
    """Where the decoy of the cut-out ``box`` (whole pixels) is cut: the box moved
    sideways by a whole number of half its widths (at least one width, at most
    :data:`DECOY_REACH`; nearest first, left before right) so that it stays
    :data:`BORDER` pixels inside a photo ``width`` wide and keeps :data:`DECOY_GAP` of
    clear space from every box of ``others`` (all boxes of the photo, the object's own
    included, so one width to the side is always too near and the nearest is one and a
    half; a box with a NaN coordinate blocks every place, as nobody can say where it is).
    ``None`` when there is no such place. The place is a plain tuple, as the bank's
    digest spells it."""
    if any(math.isnan(v) for other in others for v in other):
        return None
    x0, y0, x1, y1 = box
    w = x1 - x0
    gap = max(BORDER, DECOY_GAP * w)
    for halves in range(2, 2 * DECOY_REACH + 1):
        for sign in (-1, 1):
            shift = sign * (halves * w // 2)
            a, b = x0 + shift, x1 + shift
            if a < BORDER or b > width - BORDER:
                continue
            if not any(a - gap < o.x1 and o.x0 < b + gap and y0 - gap < o.y1
                       and o.y0 < y1 + gap for o in others):
                return a, y0, b, y1
    return None


def _cut(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The read-only pixels of ``box`` (whole pixels, inside the photo)."""
    x0, y0, x1, y1 = box
    pixels = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    pixels.setflags(write=False)
    return pixels


def _pixel_box(box: Box) -> tuple[int, int, int, int]:
    """A box's pixel edges rounded to whole pixels."""
    return tuple(int(math.floor(v + 0.5)) for v in box)  # type: ignore[return-value]


def sprite_bank(src: str, *, images_dir: str | None = None,
                decoy_share: float = DECOY_SHARE) -> SpriteBank:
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
    digest = hashlib.sha256(BANK_FORMAT)
    digest.update(f"{paste_rules()}:{DECOY_REACH}:{DECOY_GAP}:{decoy_share!r}\0".encode())
    sprites: list[Sprite] = []
    for image in sorted(real.images, key=lambda im: im.file_name):
        labels = []
        for obj in image.objects:
            target = mapper.target(obj.name)
            labels.append(("drop" if target == DROP else
                           "ignore" if target == IGNORE else target,
                           obj.box, obj.iscrowd, obj.extra))
        chosen = eligible(labels, image.width, image.height, kitti=kitti)
        if not chosen:
            continue
        data, rgb = labelled_frame(image.path, image.width, image.height, "--sprites")
        digest.update(os.fsencode(image.file_name) + f"\0{len(data)}\0".encode())
        digest.update(data)
        boxes = [label[1] for label in labels]
        for k in chosen:
            target, box, _, _ = labels[k]
            x0, y0, x1, y1 = _pixel_box(box)
            pixels = _cut(rgb, (x0, y0, x1, y1))
            box3d = image.objects[k].box3d
            view = view_from_kitti(box3d.alpha) if box3d is not None else None
            place = decoy_box((x0, y0, x1, y1), boxes, image.width)
            decoy = None if place is None else _cut(rgb, place)
            digest.update(f"{k}:{target}:{x0},{y0},{x1},{y1}:{view}:{place}\0".encode())
            sprites.append(Sprite(target, pixels, view, f"{image.file_name}#{k}", decoy))
    if any(s.view is None for s in sprites) and any(s.view is not None for s in sprites):
        # Such a set (a KITTI export with some 3D fields implausible) chose differently
        # before cut-outs with and without angles competed on their misfits (6b90d50).
        digest.update(b"cut-outs with and without angles compete on their misfits\0")
    if not sprites:
        raise DatasetError(
            f"--sprites: {src}: no object to cut out; expected objects of "
            f"{', '.join(CLASSES)} at least {MIN_HEIGHT} pixels tall, wholly visible and "
            f"hardly overlapping another box")
    return SpriteBank(source=src, sprites=tuple(sprites), digest=digest.hexdigest(),
                      images=len(real.images), decoy_share=decoy_share)


def sprite_banks(srcs: Sequence[str], *, decoy_share: float = DECOY_SHARE) -> SpriteBank:
    """One bank of the cut-outs of several real sets (``--sprites`` given more than
    once), set after set; each set is cut as :func:`sprite_bank` cuts it alone.

    One set gives exactly :func:`sprite_bank`'s bank. Of several, each cut-out's source
    is prefixed with its set's place (``2:000042.png#0``: two sets may hold a photo of
    the same name) and the digest is of the sets' digests, in order.

    Raises:
        DatasetError: As :func:`sprite_bank`, for any of the sets.
    """
    if len(srcs) == 1:
        return sprite_bank(srcs[0], decoy_share=decoy_share)
    banks = [sprite_bank(src, decoy_share=decoy_share) for src in srcs]
    digest = hashlib.sha256(BANK_FORMAT + b"several sets\0")
    for bank in banks:
        digest.update(bank.digest.encode() + b"\0")
    sprites = tuple(dataclasses.replace(sprite, source=f"{place}:{sprite.source}")
                    for place, bank in enumerate(banks, 1) for sprite in bank.sprites)
    return SpriteBank(source=", ".join(srcs), sprites=sprites, digest=digest.hexdigest(),
                      images=sum(bank.images for bank in banks), decoy_share=decoy_share)
