"""The rasterizer pinned to a golden file: colour, instance ids, depth and face numbers of a
frame of seeded random faces as ``zbuffer.draw`` drew them before its inside loop was
vectorised (written by 5720138), so that a change meant to be only faster is checked to
give the same bytes.

The faces: tilted, crossing and overlapping, partly or wholly off the frame, decals in
their face's plane with slack, one with a repeated corner, one with more corners than
the kernel's buffers hold, one crossing behind the camera's plane (``1 / depth`` below
zero on part of it), drawn over a random image so that every antialiased edge blends.

Regenerate only for a deliberate change of how faces are drawn: ``python
tests/render/test_zbuffer_golden.py`` writes the file from the code it runs with.
Compared exactly: the kernel's arithmetic is IEEE operations in a fixed order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from synthgen.render import zbuffer

GOLDEN = Path(__file__).parent / "golden" / "zbuffer-0.7.0.npz"
W, H = 96, 64


def _faces() -> tuple[np.ndarray, ...]:
    """The draw call's face arrays: ``(xy, w, starts, counts, colors, values, slack)``."""
    rng = np.random.default_rng(20261206)
    polygons, inverse, colors, values, slack = [], [], [], [], []

    def add(polygon, depth, value, decal=0.0):
        polygons.append(np.asarray(polygon, np.float64))
        inverse.append(1.0 / np.broadcast_to(np.asarray(depth, np.float64), (len(polygon),)))
        colors.append(rng.uniform(-20.0, 275.0, 3))  # clipped to 0-255 by the kernel
        values.append(value)
        slack.append(decal)

    for k in range(40):
        corners = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0.0, 2 * np.pi, corners))
        centre = rng.uniform((-15.0, -15.0), (W + 15.0, H + 15.0))
        radius = rng.uniform(0.7, 40.0)
        polygon = centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
        tilt = rng.uniform(-0.3, 0.3, 2)
        depth = rng.uniform(2.0, 80.0) * (1.0 + (polygon - centre) @ tilt / W)
        add(polygon, depth, k % 7 + 1)
        if k % 5 == 0:  # a decal inside it, in its plane
            inner = centre + 0.5 * (polygon - centre)
            add(inner, depth, k % 7 + 1, decal=1e-3)
    add([(10.0, 10.0), (40.0, 12.0), (40.0, 12.0), (20.0, 45.0)], 12.0, 9)
    many = np.linspace(0.0, 2 * np.pi, 80, endpoint=False)
    add(np.column_stack([60 + 18 * np.cos(many), 30 + 18 * np.sin(many)]), 7.5, 10)
    # 1 / depth from 1/4 down to -1/4 across it: taken only where it is positive.
    add([(0.0, 40.0), (90.0, 40.0), (90.0, 60.0), (0.0, 60.0)], [4.0, -4.0, -4.0, 4.0], 11)
    counts = np.array([len(p) for p in polygons], np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return (np.concatenate(polygons), np.concatenate(inverse), starts, counts,
            np.array(colors, np.float32), np.array(values, np.int64), np.array(slack))


def _drawn() -> dict[str, np.ndarray]:
    """The golden frame: the faces drawn in their order, then again (reversed) from face
    number 500 on, over what the first call left."""
    xy, w, starts, counts, colors, values, slack = _faces()
    image = np.random.default_rng(7).integers(0, 256, (H, W, 3), dtype=np.uint8)
    ids = np.zeros((H, W), np.uint16)
    depth = np.full((H, W), np.inf, np.float32)
    face = np.full((H, W), -1, np.int32)
    order = np.arange(len(counts), dtype=np.int64)
    zbuffer.draw(xy, w, starts, counts, order, colors, values, slack, image, ids, depth,
                 face, 0)
    first = {"image": image.copy(), "ids": ids.copy(), "depth": depth.copy(),
             "face": face.copy()}
    zbuffer.draw(xy * 1.01 - 0.3, w * 1.5, starts, counts, order[::-1].copy(), colors,
                 values + 20, slack, image, ids, depth, face, 500)
    return {**{f"first_{k}": v for k, v in first.items()},
            "image": image, "ids": ids, "depth": depth, "face": face}


def test_the_rasterizer_draws_the_golden_frame():
    golden = np.load(GOLDEN)
    drawn = _drawn()
    assert sorted(golden.files) == sorted(drawn)
    for name, array in drawn.items():
        assert array.dtype == golden[name].dtype, name
        assert np.array_equal(array, golden[name]), name


def test_the_golden_frame_is_not_trivial():
    """Every kind of pixel is in it: blended edges, faces taking pixels in both calls,
    a decal, the face behind the camera's plane only in part."""
    golden = np.load(GOLDEN)
    face = golden["face"]
    assert (face >= 500).any() and ((face >= 0) & (face < 500)).any() and (face < 0).any()
    assert len(np.unique(golden["first_ids"])) >= 8
    assert np.isfinite(golden["depth"]).mean() > 0.5
    background = np.random.default_rng(7).integers(0, 256, (H, W, 3), dtype=np.uint8)
    untaken = golden["first_face"] < 0
    # Antialiased fringes change colour where no face took the pixel.
    assert (golden["first_image"][untaken] != background[untaken]).any()


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN
    np.savez_compressed(out, **_drawn())
    print(f"wrote {out}")
