"""Render time of two versions of a template, interleaved per image: drawn, and over
photos with cut-outs pasted (the transfer protocol's round-three recipe).

    python benchmarks/template_cost.py BEFORE.yaml AFTER.yaml SPRITES BACKGROUNDS [N]

Renders images 0..N-1 (default 100) at 1242x375 in this process (render, effects and
labels: what a worker does but encoding and writing), each of the four ways in an order
that rotates per image; prints the median and mean ms of each. Used for the kitti
template before and after ``parked_setback_range`` (``git show 4bc7b6f:scenes/kitti.yaml
> /tmp/kitti_before.yaml``; it extends the bundled urban).
"""
import statistics
import sys
import time

from synthgen.datasets.backgrounds import background_bank
from synthgen.datasets.cutouts import sprite_banks
from synthgen.generate.images import render_sample
from synthgen.scene.templates import load_template

before, after = load_template(sys.argv[1]), load_template(sys.argv[2])
sprites = sprite_banks([sys.argv[3], sys.argv[4]])
backgrounds = background_bank(sys.argv[4])
n = int(sys.argv[5]) if len(sys.argv) > 5 else 100
photo = {"sprites": sprites, "backgrounds": backgrounds}
ways = {"before, drawn": (before, {}), "after, drawn": (after, {}),
        "before, over photos": (before, photo), "after, over photos": (after, photo)}
times: dict[str, list[float]] = {name: [] for name in ways}
names = list(ways)
for i in range(n):
    for name in names[i % 4:] + names[:i % 4]:
        template, banks = ways[name]
        start = time.perf_counter()
        render_sample(template, seed=1, index=i, size=(1242, 375), **banks)
        times[name].append(time.perf_counter() - start)
print(f"{n} images each, 1242x375")
for name, values in times.items():
    print(f"  {name:22s} median {1000 * statistics.median(values):5.1f} ms, "
          f"mean {1000 * statistics.mean(values):5.1f} ms")
