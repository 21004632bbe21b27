"""Small factories for COCO datasets used as test fixtures."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synthgen.categories import CATEGORY_ID, coco_categories


def make_image(path: Path, width: int, height: int, value: int = 90, *,
               unique: bool = False) -> Path:
    """Write a flat-grey RGB image of the given size.

    With ``unique``, the first pixels of its top row hold a hash of ``path``, so that no
    two fixture images are byte copies (mix refuses duplicate images).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((height, width, 3), value, np.uint8)
    if unique:
        tag = np.frombuffer(hashlib.sha256(str(path).encode()).digest()[:9], np.uint8)
        pixels.reshape(-1)[:min(tag.size, pixels.size)] = tag[:pixels.size]
    Image.fromarray(pixels).save(path)
    return path


def declared_png(width: int, height: int) -> bytes:
    """An RGB PNG whose header says ``width`` x ``height``, its pixel data cut short: a
    header reader tells its size without the gigabytes a whole file would take."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def disposed_gif(width: int, height: int) -> bytes:
    """A 43-byte GIF declaring one ``width x height`` frame disposed to the background:
    Pillow allocates the whole frame when it opens one (a bomb in a header read)."""
    out = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    out += b"\x21\xf9\x04" + bytes([2 << 2]) + b"\x00\x00\x00\x00"
    out += b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return out + b"\x02\x02\x44\x01\x00;"


def annotation(ann_id: int, image_id: int, category_id: int, bbox: list[float],
               **extra: Any) -> dict[str, Any]:
    """A COCO annotation with ``area`` = box area unless given."""
    ann = {"id": ann_id, "image_id": image_id, "category_id": category_id,
           "bbox": [float(v) for v in bbox], "area": float(bbox[2] * bbox[3]), "iscrowd": 0}
    ann.update(extra)
    return ann


def make_coco_folder(root: Path, images: list[dict[str, Any]],
                     annotations: list[dict[str, Any]],
                     categories: list[dict[str, Any]] | None = None,
                     write_images: bool = True, unique_images: bool = False) -> Path:
    """Write ``root/images/*`` and ``root/annotations.json`` like a synthgen dataset.

    Args:
        root: The dataset folder to create.
        images: COCO image entries (id, file_name, width, height, ...).
        annotations: COCO annotation entries.
        categories: Defaults to synthgen's fixed categories.
        write_images: Write a flat image file for every entry.
        unique_images: Make no two image files byte copies (see :func:`make_image`).
    """
    root.mkdir(parents=True, exist_ok=True)
    if write_images:
        for image in images:
            make_image(root / "images" / image["file_name"], image["width"], image["height"],
                       unique=unique_images)
    document = {"info": {"description": "test fixture"}, "licenses": [], "images": images,
                "annotations": annotations,
                "categories": categories if categories is not None else coco_categories()}
    (root / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    return root


def scene_set(root: Path, n: int, seed: int, source: str | None) -> Path:
    """A COCO folder of ``n`` 160 x 64 images, each with one or two dark "cars"."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(1, n + 1):
        pixels = np.full((64, 160, 3), 150, np.uint8)
        pixels += rng.integers(0, 20, pixels.shape, dtype=np.uint8)
        for _ in range(int(rng.integers(1, 3))):
            w, h = int(rng.integers(24, 50)), int(rng.integers(20, 30))
            x, y = int(rng.integers(0, 160 - w)), int(rng.integers(20, 64 - h))
            pixels[y:y + h, x:x + w] = (30, 30, 40)
            anns.append(annotation(len(anns) + 1, i, 1, [x, y, w, h]))
        path = root / "images" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        entry = {"id": i, "file_name": path.name, "width": 160, "height": 64}
        if source:
            entry["source"] = source
        images.append(entry)
    return make_coco_folder(root, images, anns, write_images=False)


def oriented(image_format: str, orientation: int, *, little: bool = False,
             prefix: bool = False, kind: int = 3) -> bytes:
    """A 96x48 JPEG or PNG (dark on its left half, bright on its right) whose EXIF
    orientation is ``orientation``, its TIFF structure little-endian (``II``) or big
    (``MM``); a PNG's eXIf chunk with the ``Exif\\0\\0`` prefix some writers put there
    when ``prefix``; the orientation stored as TIFF type ``kind`` (3 SHORT, 4 LONG, 8
    SSHORT, 9 SLONG)."""
    pixels = np.full((48, 96, 3), 230, np.uint8)
    pixels[:, :48] = 20
    order, pack = (b"II", "<") if little else (b"MM", ">")
    # One IFD of two entries: a software name (ASCII, at an offset) and the orientation.
    entries = (struct.pack(f"{pack}HHII", 0x0131, 2, 4, 38)
               + (struct.pack(f"{pack}HHIHH", 0x0112, kind, 1, orientation, 0)
                  if kind in (3, 8) else struct.pack(f"{pack}HHII", 0x0112, kind, 1,
                                                     orientation)))
    tiff = (order + struct.pack(f"{pack}HI", 42, 8) + struct.pack(f"{pack}H", 2) + entries
            + struct.pack(f"{pack}I", 0) + b"abc\0")
    buffer = io.BytesIO()
    if image_format == "JPEG":
        Image.fromarray(pixels).save(buffer, "JPEG", quality=95, exif=b"Exif\0\0" + tiff)
    else:
        Image.fromarray(pixels).save(buffer, "PNG", exif=(b"Exif\0\0" if prefix else b"")
                                     + tiff)
    return buffer.getvalue()


def turned_photo_set(root: Path, count: int, orientation: int = 6) -> Path:
    """A COCO set of ``count`` different 96x48 JPEG photos (``1.jpg``...) whose EXIF
    orientation turns them, a car in each, every image ``"source": "real"``."""
    images = [{"id": k, "file_name": f"{k}.jpg", "width": 96, "height": 48, "source": "real"}
              for k in range(1, count + 1)]
    anns = [annotation(k, k, CATEGORY_ID["car"], [1, 1, 30, 20]) for k in range(1, count + 1)]
    make_coco_folder(root, images, anns, write_images=False)
    (root / "images").mkdir()
    for k in range(1, count + 1):
        content = bytearray(oriented("JPEG", orientation))
        content[-3] ^= k  # different photos: a byte of the scan, before its end marker
        (root / "images" / f"{k}.jpg").write_bytes(bytes(content))
    return root
