"""Reading image files into pixels, in the frame their labels use.

Boxes in COCO and KITTI files, and the sizes :mod:`synthgen.formats.validate` reads from image
headers, refer to the pixel grid as stored in the file. A JPEG may carry an EXIF
orientation that viewers (and OpenCV's default decoder) apply, turning or mirroring the
picture: its labels would then point at other pixels, and a quarter turn swaps its width
and height. Every reader of labelled images decodes here, with the orientation ignored.
(`--look-like` reads unlabelled frames as a viewer shows them, on purpose: see
:mod:`synthgen.render.appearance`.)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from synthgen.storage.files import open_regular


def decode_rgb(data: bytes | np.ndarray) -> np.ndarray | None:
    """The pixels of an encoded image as ``HxWx3`` uint8 RGB, as stored (EXIF orientation
    ignored), or ``None`` if they are empty or not an image OpenCV can decode."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    if buffer.size == 0:  # cv2.imdecode raises on an empty buffer instead of returning None
        return None
    try:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:
        return None
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_rgb(path: Path) -> np.ndarray | None:
    """An image file's pixels (see :func:`decode_rgb`), or ``None`` if it is missing, not
    a regular file (a FIFO would block, a device never end) or not a readable image."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    return decode_rgb(data)
