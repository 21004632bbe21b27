"""Shared fixtures: the real KITTI sample and small hand-made COCO folders."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthgen.storage.images import read_header

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


@pytest.fixture(autouse=True)
def spawned_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started in this process are spawned, never forked: whether pytest runs
    one thread (``OPENBLAS_NUM_THREADS=1``) or several would otherwise pick the path, and
    a forked copy of pytest would print into CliRunner's captured streams. The fork path
    is tested in processes of its own (``synthgen`` run as a command, and
    ``tests/generate/test_workers.py``)."""
    monkeypatch.setattr("synthgen.generate.workers.can_fork", lambda: False)


@pytest.fixture()
def grey_filling_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cv2.imdecode`` as OpenCV 4.x treats a baseline JPEG cut short: decoded, what is
    missing filled with grey (libjpeg only warns on stderr); here any JPEG OpenCV refuses
    whose header Pillow reads. OpenCV 5 refuses a cut JPEG itself: without this, a test
    of synthgen's own refusal would pass whatever synthgen did."""
    real = cv2.imdecode

    def imdecode(buffer: np.ndarray, flags: int) -> np.ndarray | None:
        image = real(buffer, flags)
        if image is not None or bytes(buffer[:2]) != b"\xff\xd8":
            return image
        try:
            header = read_header(io.BytesIO(bytes(buffer)))
        except (OSError, ValueError, EOFError):
            return None
        return np.full((header.height, header.width, 3), 128, np.uint8)

    monkeypatch.setattr(cv2, "imdecode", imdecode)
