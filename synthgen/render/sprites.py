"""Real objects pasted in place of drawn ones: ``generate --sprites REAL``.

What a detector trained on renders cannot learn is what real cars and people look like.
Given a *bank* of objects cut out of a labelled real set's photos (a :class:`SpriteBank`,
cut by :func:`synthgen.datasets.cutouts.sprite_bank`, which says which objects qualify),
the renderer pastes one of them in place of each drawn vehicle, pedestrian or cyclist of
that class: the scene, camera, placement, occlusion, shadows and labels stay synthgen's
own; only the object's pixels come from a photo ("cut, paste and learn", Dwibedi et al.
2017, inside a rendered scene). This module holds what rendering and sampling need of the
bank: its types, how a cut-out is chosen, its outline and its pixels.

A cut-out is the object's box rounded to whole pixels. It is pasted stretched over the
box the drawn object's 3D box projects to, inside a convex outline that touches all four
sides of that box (:data:`OUTLINES`: the box with its upper corners cut, where a car's
roof or a person's shoulders leave background); the instance id map and depth are
filled with that outline exactly as a drawn face fills them, so labels are measured on
the pasted pixels the way they are on drawn ones. Each pasted object gets the cut-out
whose viewing angle (from KITTI's ``alpha``, :func:`view_from_kitti`; for a COCO set,
which gives none, its aspect against :func:`box_aspect`) and size fit the drawn object's
best (among the :data:`NEAREST`, mirrored when that fits better; see
:meth:`SpriteBank.candidates`), chosen in
:func:`synthgen.scene.sampling.sample_sprites`; an object no cut-out fits within
:data:`MAX_MISFIT` is drawn as usual.

A pasted photo is a rectangle of photo texture in a drawn scene, and the pixels around
the object in it (road below, wall behind) are real: a detector can learn "photo patch"
instead of "car", and then fires on real road and walls. With ``--decoys SHARE``
(:attr:`SpriteBank.decoy_share`; none by default: measured, decoys moved transfer by no
more than the spread between seeds, see ``benchmarks/TRANSFER.md``) that share of the
objects given a cut-out that has a *decoy* (a piece of the same photo beside the object, of the
same size, clear of every box; see :func:`synthgen.datasets.cutouts.decoy_box`) get the
decoy pasted instead, the same way, and are not labelled: the instance id map takes the
background's 0 there, as for scenery. The object's shadows stay (the scene does not
change), so a photo patch standing on the road with a shadow under it is a car only when
it shows one ("distractors", Dwibedi et al. 2017). What a real labeller left unlabelled
beside an object (a far pedestrian, a car outside the frame's labels) can show in a
decoy: a decoy keeps a gap from every box, but cannot know what has none.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: A pasted object takes one of the cut-outs whose viewing angle is nearest to its own.
NEAREST = 6
#: Misfit (as radians of viewing angle) of each doubling a cut-out is enlarged by beyond
#: the first.
UPSCALE_COST = 0.35
#: Misfit (as radians of viewing angle) of each doubling by which a cut-out whose angle is
#: unknown is wider or narrower, for its height, than the object it would stand in for:
#: so that a car seen from the side is not squeezed over one seen from behind.
ASPECT_COST = 1.0
#: Largest misfit (see :meth:`SpriteBank.candidates`) of a cut-out pasted; an object no
#: cut-out fits better (an oncoming truck when the set has trucks seen from behind only)
#: is drawn as usual.
MAX_MISFIT = math.pi / 3
#: Largest blur (pixels) of a pasted edge; each paste draws its own in [0, this].
MAX_FEATHER = 1.5
#: Share of the objects given a cut-out with a decoy that get the decoy instead
#: (unlabelled), unless ``--decoys`` says otherwise: none (then no number is drawn for
#: it, and pastes are what they were before decoys).
DECOY_SHARE = 0.0
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
        source: ``file_name#k``: its photo and the object's place among its labels;
            ``n:file_name#k`` in a bank of several sets, ``n`` the set's place (from 1)
            among them.
        decoy: ``(h, w, 3)`` uint8 RGB, read-only: a piece of the same photo beside the
            object, as large, that no box touches; ``None`` when the photo has none.
    """

    category: str
    pixels: np.ndarray
    view: float | None
    source: str
    decoy: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class SpriteBank:
    """The cut-outs of one real set, or of several (see the module docstring).

    Attributes:
        source: The set's path as given (several: joined by ", ").
        sprites: The cut-outs, in the order they were cut
            (:func:`synthgen.datasets.cutouts.sprite_bank`), set after set.
        digest: Of the photos' bytes, the cut-out and decoy boxes and the rules and
            share of pasting: the same for the same files and options (it goes into the
            manifest, so ``--resume`` and ``merge`` refuse a changed set).
        images: Photos in the set.
        decoy_share: Share of the objects given a cut-out with a decoy that get the
            decoy instead (see the module docstring).
    """

    source: str
    sprites: tuple[Sprite, ...]
    digest: str
    images: int
    decoy_share: float = DECOY_SHARE

    def per_class(self) -> dict[str, int]:
        counts = Counter(s.category for s in self.sprites)
        return {name: counts[name] for name in CLASSES if counts[name]}

    def recorded(self) -> dict[str, Any]:
        """What the manifest records of the bank (``--resume`` and ``merge`` compare it):
        its content, not the path it was read from (the same set elsewhere is the same)."""
        return {"digest": self.digest, "images": self.images, "sprites": len(self.sprites),
                "decoys": sum(sprite.decoy is not None for sprite in self.sprites),
                "decoy_share": self.decoy_share,
                "per_class": self.per_class()}

    def candidates(self, category: str, view: float, height: float | None = None,
                   aspect: float | None = None) -> list[tuple[int, bool]]:
        """The :data:`NEAREST` cut-outs of ``category`` that fit an object seen at angle
        ``view``, about ``height`` pixels tall and ``aspect`` times as wide as tall best.

        The misfit of a cut-out is the angle between its view and ``view`` (radians),
        plus :data:`UPSCALE_COST` for each doubling beyond the first it must be enlarged
        by (an enlarged photo is a blurred one). A cut-out whose angle is unknown has its
        aspect instead: :data:`ASPECT_COST` for each doubling by which it is wider or
        narrower than ``aspect`` (nothing when ``aspect`` is None), in a bank of one set
        or of several (``--sprites`` given a KITTI set and a COCO one): both misfits are
        in radians of viewing angle, so cut-outs with and without angles compete on them.

        Returns:
            ``(index, mirrored)`` pairs, best first (ties by index, unmirrored first),
            with every cut-out tied with the last; a cut-out seen at angle ``a``
            mirrored is seen at ``-a``. Empty when the bank has none of the class or
            none misfits by at most :data:`MAX_MISFIT`: the object is then drawn.
        """
        scored = []
        for index, sprite in enumerate(self.sprites):
            if sprite.category != category:
                continue
            cost = 0.0
            if height is not None:
                cost = UPSCALE_COST * max(0.0, math.log2(height / sprite.pixels.shape[0]) - 1)
            if sprite.view is None:
                if aspect is not None:
                    h, w = sprite.pixels.shape[:2]
                    cost += ASPECT_COST * abs(math.log2(w / h / aspect))
                scored.append((cost, index, False))
                continue
            for mirrored in (False, True):
                angle = -sprite.view if mirrored else sprite.view
                scored.append((cost + _angle_between(angle, view), index, mirrored))
        scored.sort()
        if not scored or scored[0][0] > MAX_MISFIT:
            return []
        # The NEAREST best, and any tied with the last of them (a set without angles,
        # given no aspect, ties them all: every cut-out of the class is a candidate).
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


def box_aspect(length: float, width: float, height: float, view: float) -> float:
    """Width over height of the box an object ``length x width x height`` (metres) seen
    at angle ``view`` (see :class:`Sprite`) projects to, seen from afar: its length shows
    from the side, its width from behind or the front."""
    return (length * abs(math.sin(view)) + width * abs(math.cos(view))) / height


def view_of(yaw: float, x: float, y: float, camera_x: float) -> float:
    """The viewing angle of an object heading ``yaw`` (from +y, positive to the right) at
    ground position ``(x, y)``, seen from a camera at ``(camera_x, 0)``."""
    return _wrap(yaw - math.atan2(x - camera_x, y))


def paste_rules() -> str:
    """The constants that decide what pastes look like, spelt for the bank's digest (so
    a change to any of them changes the digest, as a change to the code changes
    ``BANK_FORMAT``)."""
    return repr((NEAREST, UPSCALE_COST, ASPECT_COST, MAX_MISFIT, MAX_FEATHER,
                 sorted(OUTLINES.items()), sorted(OUTLINE_OF.items())))


def outline(category: str) -> np.ndarray:
    """The unit-square outline a cut-out of ``category`` is pasted in, ``(n, 2)``."""
    return np.array(OUTLINES[OUTLINE_OF[category]], np.float64)


def paste_pixels(pixels: np.ndarray, mirrored: bool, size: tuple[int, int],
                 window: tuple[int, int, int, int], gain: np.ndarray) -> np.ndarray:
    """The part ``window`` (``x0, y0, x1, y1`` in the pasted box's pixels) of a cut-out's
    (or decoy's) ``pixels`` mirrored if asked, stretched to ``size`` (width, height) and
    lit by ``gain`` (per channel), float32 RGB in ``[0, 255]``.

    Only the window is resampled (an affine map from box pixels to cut-out pixels), so a
    box far larger than the frame costs no more than the frame. The samples are those of
    a whole-box resize: area averaging when the cut-out shrinks both ways, else bilinear.
    """
    pixels = np.ascontiguousarray(pixels[:, ::-1] if mirrored else pixels)
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
    # Clipped here, before the edge is blended: a colour lit beyond 255 mixed by an edge
    # pixel's coverage would make the edge glow brighter than the object.
    return np.clip(part.astype(np.float32) * gain.astype(np.float32), 0.0, 255.0)
