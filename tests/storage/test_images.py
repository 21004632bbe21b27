"""Every reader of labelled images sees the pixels as stored, where the labels are: an
EXIF orientation (which viewers and OpenCV's default decoder apply) is ignored."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthgen.analysis.measure import read_downscaled
from synthgen.datasets.realsets import image_size
from synthgen.formats.validate import validate_path
from synthgen.storage.images import decode_rgb, read_rgb

WIDTH, HEIGHT = 96, 48


def oriented_jpeg(orientation: int) -> bytes:
    """A WIDTHxHEIGHT JPEG, dark on its left half and bright on its right as stored,
    whose EXIF says to show it turned or mirrored (``orientation`` 1 to 8)."""
    pixels = np.full((HEIGHT, WIDTH, 3), 230, np.uint8)
    pixels[:, :WIDTH // 2] = 20
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def assert_as_stored(rgb: np.ndarray | None, scale: float = 1.0) -> None:
    assert rgb is not None
    assert rgb.shape == (round(HEIGHT * scale), round(WIDTH * scale), 3)
    half = rgb.shape[1] // 2
    assert rgb[:, :half - 2].mean() < 60 < 180 < rgb[:, half + 2:].mean()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_ignores_the_exif_orientation(orientation: int) -> None:
    assert_as_stored(decode_rgb(oriented_jpeg(orientation)))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_file_readers_agree_on_the_stored_frame(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "turned.jpg"
    path.write_bytes(oriented_jpeg(orientation))
    assert_as_stored(read_rgb(path))
    assert_as_stored(read_downscaled(path, max_side=WIDTH // 2), scale=0.5)


@pytest.mark.parametrize("orientation", [6, 8])
def test_header_readers_see_the_stored_size_too(tmp_path: Path, orientation: int) -> None:
    # validate and real import read sizes from headers (Pillow, which does not turn a
    # JPEG): they must agree with the decoder, or a turned photo's labels would be
    # checked against one frame and cut from another.
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(oriented_jpeg(orientation))
    assert image_size(images / "a.jpg") == (WIDTH, HEIGHT)
    (tmp_path / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": WIDTH, "height": HEIGHT}],
        "annotations": [], "categories": [{"id": 1, "name": "car"}]}))
    report = validate_path(tmp_path)
    assert report.readable and not report.problems, report.problems


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff" + b"\0" * 64])
def test_what_is_not_an_image_is_none(data: bytes) -> None:
    assert decode_rgb(data) is None


def test_a_fifo_or_a_missing_file_is_none(tmp_path: Path) -> None:
    assert read_rgb(tmp_path / "missing.png") is None
    assert read_rgb(tmp_path) is None
    fifo = tmp_path / "fifo.png"
    try:
        os.mkfifo(fifo)
    except (AttributeError, OSError):
        pytest.skip("no FIFOs here")
    assert read_rgb(fifo) is None  # returns at once: never opened for reading
