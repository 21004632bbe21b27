"""Render time of the kitti template with and without --sprites, interleaved per image.

    python benchmarks/sprites_cost.py ../shared/real/kitti_obj_000000-000049 [N]

Renders images 0..N-1 (default 100) at 1242x375 in this process, each with and without
the cut-outs, alternating which goes first; prints median and mean ms of each.
"""
import statistics
import sys
import time

from synthgen.datasets.cutouts import sprite_bank
from synthgen.generate.images import render_sample
from synthgen.scene.templates import load_template

bank = sprite_bank(sys.argv[1])
t = load_template("kitti")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
w, wo = [], []
for i in range(n):
    for which in ((0, 1) if i % 2 else (1, 0)):
        s = time.perf_counter()
        render_sample(t, seed=1, index=i, size=(1242, 375), sprites=bank if which else None)
        (w if which else wo).append(time.perf_counter() - s)
print(f"{n} images each, 1242x375, kitti: median {1000*statistics.median(wo):.1f} ms without,"
      f" {1000*statistics.median(w):.1f} ms with --sprites; mean {1000*statistics.mean(wo):.1f}"
      f" / {1000*statistics.mean(w):.1f}")
