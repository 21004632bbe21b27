"""The bank of real photos ``generate --backgrounds REAL`` draws scenes over, read from a
labelled real set (KITTI's own layout, or any COCO set synthgen reads) before the first
image.

What the bank is and how an image is drawn over one of its photos is
:mod:`synthgen.render.backgrounds`; this module reads the set (with the readers of
``real import``, mapping classes as it does) and keeps, per photo, its bytes and where
its labelled objects and ignore regions are: each becomes an ignore region of every
image drawn over the photo, in its synthgen class, or :data:`IGNORE_CATEGORY` for one
synthgen has no class for (KITTI's DontCare, Tram, Misc, a COCO category no synonym
maps); read to keep boxes, it also notes which of them are labelled objects (not crowd
or ignore regions) of a synthgen class.

The bank is the same for the same files (its digest goes into the manifest, so
``--resume`` and ``merge`` refuse a changed set).
"""

from __future__ import annotations

import hashlib
import os

from synthgen.categories import CATEGORY_NAMES
from synthgen.datasets.realsets import IGNORE_CATEGORY, RealObject, read_labelled_images
from synthgen.errors import DatasetError
from synthgen.render.appearance import labelled_frame
from synthgen.render.backgrounds import FIT_RULES, Background, BackgroundBank, SetLabel

#: Where the bank's digest starts: changed whenever what an image drawn over a photo
#: looks like changes for the same photo and draws.
BANK_FORMAT = b"synthgen backgrounds 1\0"


def set_label(obj: RealObject, known: bool) -> SetLabel:
    """What the set says of one object (:class:`SetLabel`): labelled if of a synthgen
    class (``known``) and not a crowd region; from a KITTI label line, its ``occluded``
    level and ``truncated`` share (a level KITTI calls unknown, 3, or a value out of
    range, counts as the worst: 3, and all of it cut off). A COCO set gives neither
    (``real import`` and synthgen's COCO reader keep no such fields): its objects count
    as fully visible and whole in the photo.
    """
    if "kitti_type" not in obj.extra:
        return SetLabel(known and not obj.iscrowd)
    # The KITTI reader keeps only levels 0-2 and truncations in [0, 1] (see
    # realsets.parse_kitti_label).
    return SetLabel(known and not obj.iscrowd, obj.extra.get("occluded", 3),
                    float(obj.extra.get("truncation", 1.0)))


def background_bank(src: str, *, boxes: bool = False) -> BackgroundBank:
    """Read the photos and regions of the real set at ``src`` (KITTI layout or COCO).

    With ``boxes`` (``--background-labels boxes``) the bank keeps the set's labelled
    objects as boxes of the images drawn over them (see
    :mod:`synthgen.render.backgrounds`); which regions those are goes into its digest.

    Raises:
        DatasetError: The set is missing, unreadable or holds no image, a folder a
            synthgen command left unfinished, or a photo cannot be read or is not the
            size its labels say.
    """
    try:
        _, images, mapper = read_labelled_images(src)
    except DatasetError as exc:
        raise DatasetError(f"--backgrounds: {exc}") from exc
    if not images:
        raise DatasetError(f"--backgrounds: {src}: no image to draw over")
    digest = hashlib.sha256(BANK_FORMAT)
    digest.update(FIT_RULES.encode() + b"\0")
    backgrounds = []
    for image in sorted(images, key=lambda im: im.file_name):
        # Decoded once here to check it; each image decodes it again (bytes are kept).
        data, _ = labelled_frame(image.path, image.width, image.height, "--backgrounds")
        regions, labels = [], []
        for obj in image.objects:
            if not obj.box.is_finite():
                continue
            target = mapper.target(obj.name)
            known = target in CATEGORY_NAMES
            regions.append((target if known else IGNORE_CATEGORY, obj.box))
            labels.append(set_label(obj, known))
        digest.update(os.fsencode(image.file_name) + f"\0{len(data)}\0".encode())
        digest.update(data)
        digest.update(repr([(c, tuple(float(v) for v in b)) for c, b in regions]).encode()
                      + b"\0")
        if boxes:  # only then: the digest of a bank of ignore regions is as it was
            digest.update(b"boxes\0" + repr(labels).encode() + b"\0")
        backgrounds.append(Background(image.file_name, data, image.width, image.height,
                                      tuple(regions), tuple(labels) if boxes else ()))
    return BackgroundBank(source=src, backgrounds=tuple(backgrounds),
                          digest=digest.hexdigest(), boxes=boxes)
