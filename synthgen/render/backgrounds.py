"""Real photos as the scene's backdrop: ``generate --backgrounds REAL``.

A detector trained on drawn streets learns what drawn streets look like, and then meets
real ones: every real road, wall, hedge and shadow is new to it. With a *background
bank* (a :class:`BackgroundBank`, read by
:func:`synthgen.datasets.backgrounds.background_bank` from a labelled real set, such as
the frames ``real pseudo-label`` labelled) each image is drawn over one of the set's
photos instead of a drawn street: the photo, fitted to the image's size
(:func:`fit_background`: cropped to its aspect about the centre, resized, mirrored when
drawn so), takes the place of sky, ground, road and scenery; the sampled objects are
drawn or pasted (``--sprites``) over it with their contact and cast shadows, where the
template's camera puts them, in front of everything the photo shows. Under a clear or
overcast sky the photo is left as the camera took it; rain, snow and fog veil it evenly,
as if all of it stood :data:`~synthgen.render.backdrop.PHOTO_DEPTH` (40 m) away. The
scene's street lamps are not there to light it (its objects' own lights are).

A photo already holds objects: its labels say where (a pseudo-labelled set's ignore
regions too). Each of them becomes an *ignore region* of the image (COCO ``iscrowd:
1``, ``"ignored": "background"``; see :func:`synthgen.labels.background_regions`), in
the class the set gives it (an object synthgen has no class for, such as KITTI's
DontCare or Tram, as ``car``, the class real imports give such regions): a detector is
neither rewarded nor punished there, whatever the drawn objects hide of it. What the
set left unlabelled in a photo is unlabelled in every image drawn over it: give a set
whose labels cover its objects (``synthgen real pseudo-label`` labels down to a low
score as ignore regions for this reason).

With a bank read to keep its boxes (``--background-labels boxes``,
:attr:`BackgroundBank.boxes`), a photo's *labelled* objects (not its ignore regions,
and only of a class synthgen has) are boxes of the image instead, as long as the drawn
objects leave enough of them to see (:func:`synthgen.labels.background_regions` says
how much): the photo's real cars, in their own street and light, truncated by the frame
or parked in a row, are labelled beside the drawn and pasted ones. Those boxes are the
set's box cut to the pixels that show, not an outline measured on the object's own
pixels as synthgen's are: as good as the set's labels (a pseudo-labelled set's are a
detector's guesses), and marked ``"source": "photo"`` in the annotations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import cv2
import numpy as np

from synthgen.categories import CATEGORY_NAMES
from synthgen.formats.boxes import Box
from synthgen.storage.images import decode_rgb


class SetLabel(NamedTuple):
    """What a real set says of one of a photo's regions, beyond its class and box.

    Attributes:
        labelled: Whether it is a labelled object of a synthgen class (not a crowd or
            ignore region, such as KITTI's DontCare, nor of a class synthgen has not).
        occluded: Its occlusion level as the set gives it (KITTI's 0 fully visible, 1
            partly, 2 largely occluded, 3 unknown), 0 when the set gives none (COCO).
        truncation: The share of it outside the photo as the set gives it, in [0, 1],
            0 when the set gives none (COCO).
    """

    labelled: bool
    occluded: int = 0
    truncation: float = 0.0


@dataclass(frozen=True, eq=False)
class Background:
    """One photo of the bank.

    Attributes:
        file_name: Its name in the set.
        data: The file's bytes (decoded when an image is drawn over it).
        width, height: Its size as stored, which its labels are in.
        regions: ``(category, box)`` of each object its labels name, in the label
            file's order (boxes with a coordinate that is not finite left out).
        labels: Per region, what the set says of it (:class:`SetLabel`); empty when the
            bank does not keep boxes.
    """

    file_name: str
    data: bytes = field(repr=False)
    width: int
    height: int
    regions: tuple[tuple[str, Box], ...]
    labels: tuple[SetLabel, ...] = ()


@dataclass(frozen=True, eq=False)
class BackgroundBank:
    """The photos of one real set (see the module docstring).

    Attributes:
        source: The set's path as given.
        backgrounds: Its photos, by file name.
        digest: Of the photos' bytes and regions and of :data:`FIT_RULES` (and, when it
            keeps boxes, of which regions are labelled): the same for the same files
            (it goes into the manifest, so ``--resume`` and ``merge`` refuse a changed
            set).
        boxes: Whether the photos' labelled objects are boxes of the images drawn over
            them (``--background-labels boxes``), not ignore regions.
    """

    source: str
    backgrounds: tuple[Background, ...] = field(repr=False)
    digest: str
    boxes: bool = False

    def per_class(self) -> dict[str, int]:
        """Regions per class, in synthgen's class order."""
        counts = Counter(category for b in self.backgrounds for category, _ in b.regions)
        return {name: counts[name] for name in CATEGORY_NAMES if counts[name]}

    def recorded(self) -> dict[str, Any]:
        """What the manifest records of the bank: its content, not its path."""
        record = {"digest": self.digest, "images": len(self.backgrounds),
                  "regions": sum(len(b.regions) for b in self.backgrounds),
                  "per_class": self.per_class()}
        if self.boxes:
            record["labels"] = "boxes"
            record["labelled"] = sum(label.labelled for b in self.backgrounds
                                     for label in b.labels)
        return record


class FittedRegion(NamedTuple):
    """A region of a photo fitted to an image (:func:`fit_background`).

    Attributes:
        category: Its synthgen class (or the class ignore regions take).
        box: Its box in the image, clipped to it.
        labelled: Whether the set labels it as an object of that class (see
            :class:`SetLabel`).
        occluded: The set's occlusion level of it (:class:`SetLabel`).
        truncation: The share of the object outside the image: what the set says the
            photo's frame cut off and what the crop cut off of the rest, in [0, 1).
    """

    category: str
    box: Box
    labelled: bool = False
    occluded: int = 0
    truncation: float = 0.0


#: How a photo is fitted to an image (part of the bank's digest: a change here changes
#: the pixels of every image drawn over one).
FIT_RULES = "centre crop to the aspect, INTER_AREA down / INTER_LINEAR up, mirror; v1"


def crop_size(w: int, h: int, size: tuple[int, int]) -> tuple[int, int]:
    """The largest window of a ``w`` x ``h`` photo with the aspect of ``size`` (width,
    height), in whole pixels: what :func:`fit_background` resizes to ``size``."""
    width, height = size
    if w * height > h * width:
        return max(1, round(h * width / height)), h
    return w, max(1, round(w * height / width))


def enlargement(bank: BackgroundBank, size: tuple[int, int]) -> tuple[int, float]:
    """How many of the bank's photos are enlarged to fill an image of ``size``, and by
    how much at most (1.0: none is)."""
    factors = [max(size[0] / w, size[1] / h) for w, h in
               (crop_size(b.width, b.height, size) for b in bank.backgrounds)]
    grown = [f for f in factors if f > 1.0]
    return len(grown), max(grown, default=1.0)


def fit_background(background: Background, size: tuple[int, int], mirrored: bool
                   ) -> tuple[np.ndarray, list[FittedRegion]]:
    """The photo fitted to an image of ``size`` (width, height), and its regions there.

    The photo is cropped about its centre to the image's aspect (whole pixels), resized
    to ``size`` (area averaging when it shrinks, bilinear when it grows) and mirrored
    left to right if asked; each region's box is mapped the same way and clipped to the
    image (a region the crop leaves no area of is left out); its truncation combines
    the set's (:class:`SetLabel`) with the share of its box the crop cut off.

    Raises:
        ValueError: The bytes do not decode to the size the set says (the bank checks
            this when it is read, so only a file changed since then gets here).
    """
    rgb = decode_rgb(background.data)
    if rgb is None or rgb.shape[:2] != (background.height, background.width):
        raise ValueError(f"{background.file_name}: not the {background.width}x"
                         f"{background.height} image its labels describe")
    width, height = size
    h, w = rgb.shape[:2]
    crop_w, crop_h = crop_size(w, h, size)
    x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
    window = rgb[y0:y0 + crop_h, x0:x0 + crop_w]
    shrinking = crop_w > width and crop_h > height
    fitted = cv2.resize(window, (width, height),
                        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if mirrored:
        fitted = np.ascontiguousarray(fitted[:, ::-1])
    sx, sy = width / crop_w, height / crop_h
    regions = []
    labels = background.labels or (SetLabel(False),) * len(background.regions)
    for (category, box), label in zip(background.regions, labels, strict=True):
        a, b = (box.x0 - x0) * sx, (box.x1 - x0) * sx
        if mirrored:
            a, b = width - b, width - a
        whole = Box(a, (box.y0 - y0) * sy, b, (box.y1 - y0) * sy)
        mapped = whole.clip(width, height)
        if mapped.x1 > mapped.x0 and mapped.y1 > mapped.y0:
            kept = mapped.area / whole.area * (1.0 - label.truncation)
            regions.append(FittedRegion(category, mapped, label.labelled, label.occluded,
                                        min(max(1.0 - kept, 0.0), 1.0)))
    return fitted, regions
