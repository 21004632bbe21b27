"""Small factories for COCO datasets used as test fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synthgen.categories import coco_categories


def make_image(path: Path, width: int, height: int, value: int = 90) -> Path:
    """Write a flat-grey RGB image of the given size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)
    return path


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
                     write_images: bool = True) -> Path:
    """Write ``root/images/*`` and ``root/annotations.json`` like a synthgen dataset.

    Args:
        root: The dataset folder to create.
        images: COCO image entries (id, file_name, width, height, ...).
        annotations: COCO annotation entries.
        categories: Defaults to synthgen's fixed categories.
        write_images: Write a flat image file for every entry.
    """
    root.mkdir(parents=True, exist_ok=True)
    if write_images:
        for image in images:
            make_image(root / "images" / image["file_name"], image["width"], image["height"])
    document = {"info": {"description": "test fixture"}, "licenses": [], "images": images,
                "annotations": annotations,
                "categories": categories if categories is not None else coco_categories()}
    (root / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    return root
