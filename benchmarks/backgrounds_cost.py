"""Render time of the kitti template drawn, with --sprites, and with --sprites and
--backgrounds, interleaved per image.

    python benchmarks/backgrounds_cost.py SPRITES BACKGROUNDS [N]

Renders images 0..N-1 (default 100) at 1242x375 in this process (render, effects and
labels: what a worker does but encoding and writing), each of the three ways in an order
that rotates per image; prints the median and mean ms of each, and the seconds it took
to read each bank.
"""
import statistics
import sys
import time

from synthgen.datasets.backgrounds import background_bank
from synthgen.datasets.cutouts import sprite_bank
from synthgen.generate.images import render_sample
from synthgen.scene.templates import load_template

start = time.perf_counter()
sprites = sprite_bank(sys.argv[1])
read_sprites = time.perf_counter() - start
start = time.perf_counter()
backgrounds = background_bank(sys.argv[2])
read_backgrounds = time.perf_counter() - start
template = load_template("kitti")
n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
ways = {"drawn": {}, "--sprites": {"sprites": sprites},
        "--sprites --backgrounds": {"sprites": sprites, "backgrounds": backgrounds}}
times: dict[str, list[float]] = {name: [] for name in ways}
names = list(ways)
for i in range(n):
    for name in names[i % 3:] + names[:i % 3]:
        start = time.perf_counter()
        render_sample(template, seed=1, index=i, size=(1242, 375), **ways[name])
        times[name].append(time.perf_counter() - start)
print(f"{n} images each, 1242x375, kitti; banks read in {read_sprites:.1f} s (sprites) and "
      f"{read_backgrounds:.1f} s (backgrounds)")
for name, values in times.items():
    print(f"  {name:24s} median {1000 * statistics.median(values):5.1f} ms, "
          f"mean {1000 * statistics.mean(values):5.1f} ms")
