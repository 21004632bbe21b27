"""Shared fixtures: the real KITTI sample and small hand-made COCO folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The 50 real KITTI photos CI provides beside the repository (never committed here).
KITTI_DIR = Path(os.environ.get(
    "SYNTHGEN_KITTI_DIR", REPO_ROOT.parent / "shared" / "real" / "kitti_obj_000000-000049"
))


@pytest.fixture(scope="session")
def kitti_dir() -> Path:
    """The shared real KITTI sample; tests using it skip when it is not on this machine."""
    if not (KITTI_DIR / "training" / "label_2").is_dir():
        pytest.skip(f"real KITTI sample not found at {KITTI_DIR} (set SYNTHGEN_KITTI_DIR)")
    return KITTI_DIR
