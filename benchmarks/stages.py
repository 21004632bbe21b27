"""Where one image's time goes: each stage of ``render_sample`` timed on its own.

Runs the renderer's steps one by one (as :func:`synthgen.render.painter.render` does) over the
bundled templates, in one process with one OpenCV thread (as a worker), and prints the
mean milliseconds per image of each stage. Every image is made once untimed first, so
the numbers are a warm worker's, not a cold start's.

    python benchmarks/stages.py                 # 1280x720, 8 images per template
    python benchmarks/stages.py --size 640x384 --count 20
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import cv2

from synthgen.generate.images import keep_freed_buffers
from synthgen.labels import compute_labels
from synthgen.render import backdrop
from synthgen.render.culling import build_models
from synthgen.render.effects import apply_effects
from synthgen.render.ground_light import ground_light
from synthgen.render.painter import Layers, _Painter
from synthgen.render.projections import projections
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template
from synthgen.storage.files import encode_image

STAGES = ("sampling", "sky and ground", "road and horizon", "building models",
          "shadows and lamp pools", "drawing models", "projections", "effects",
          "labels and contrast", "JPEG encode")


def one_image(template, seed: int, index: int, size: tuple[int, int],
              times: dict[str, float]) -> None:
    """Make one image, adding each stage's seconds to ``times``."""
    clock = time.perf_counter
    start = clock()
    scene = sample_scene(template, image_rng(seed, index), seed=seed, index=index)
    marks = [clock()]
    painter = _Painter(scene, *size)
    drawing = (painter.image, painter.depth, scene, painter.camera, painter.light)
    backdrop.sky_and_ground(*drawing)
    marks.append(clock())
    backdrop.horizon(*drawing)
    backdrop.road(*drawing)
    marks.append(clock())
    models = build_models(scene, painter.camera, painter.light)
    marks.append(clock())
    ground_light(painter.image, scene, painter.camera, painter.light, models, painter.lamps)
    marks.append(clock())
    painter.draw_models(models)
    marks.append(clock())
    objects = projections(scene.objects, painter.polygons, painter.camera)
    layers = Layers(painter.image, painter.ids, painter.depth, objects, painter.lights,
                    painter.sun_position())
    marks.append(clock())
    image = apply_effects(layers, scene)
    marks.append(clock())
    compute_labels(layers.instance_map, layers.objects, image=image)  # as generate does
    marks.append(clock())
    encode_image(image, "jpg", 90)
    marks.append(clock())
    for stage, begin, end in zip(STAGES, [start, *marks[:-1]], marks, strict=True):
        times[stage] += end - begin


def _size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` as two integers of at least 64 (argparse reports the error)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if min(width, height) < 64:
        raise argparse.ArgumentTypeError(f"both sides must be at least 64 pixels: {text!r}")
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720", type=_size, help="WIDTHxHEIGHT")
    parser.add_argument("--count", type=int, default=8, help="images per template")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--templates", nargs="+",
                        default=["urban", "highway", "rural", "intersection"])
    args = parser.parse_args()
    width, height = args.size
    cv2.setNumThreads(1)  # as in a worker process, which also keeps freed buffers:
    keep_freed_buffers()
    templates = [load_template(name) for name in args.templates]
    times: dict[str, float] = defaultdict(float)
    for template in templates:  # warm-up: imports, caches, allocator
        one_image(template, args.seed, 10_000, (width, height), defaultdict(float))
    for template in templates:
        for index in range(args.count):
            one_image(template, args.seed, index, (width, height), times)
    n = args.count * len(templates)
    total = sum(times.values())
    print(f"{n} images at {width}x{height}, ms per image:")
    for stage in STAGES:
        print(f"  {stage:24s} {times[stage] / n * 1000:6.1f}")
    print(f"  {'total':24s} {total / n * 1000:6.1f}")


if __name__ == "__main__":
    main()
