"""What the one-seed arm scripts (``flip_test.py``, ``calibrate_sizes.py``) share: their
arguments and settings, and reading a set as the benchmark command does."""
import argparse

import torch

from synthgen.benchmark import train as t
from synthgen.benchmark.data import (
    BOX_FIELDS,
    DEFAULT_MIN_HEIGHT,
    load_labelled_set,
    read_images,
)

CLASSES = ["car"]


def arguments(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, t.Settings]:
    """Parse ``SEED SYNTHETIC REAL EVAL OUT [--steps] [--average-pretrained]
    [--synthetic-boxes]`` (plus what the script added to ``parser``) into its arguments
    and the command's default settings at one torch thread."""
    for name in ("seed", "synthetic", "real", "eval", "out"):
        parser.add_argument(name)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--average-pretrained", type=float, default=0.5)
    parser.add_argument("--synthetic-boxes", choices=list(BOX_FIELDS), default="visible")
    args = parser.parse_args()
    torch.set_num_threads(1)
    return args, t.Settings(classes=CLASSES, steps=args.steps, threads=1)


def load(given: str, kind: str, settings: t.Settings,
         boxes: str = "visible") -> list[t.Scaled]:
    """A set read and scaled as ``synthgen benchmark`` reads it (``boxes``: its
    ``--synthetic-boxes``, for a synthetic set)."""
    images = load_labelled_set(given, classes=CLASSES, min_height=DEFAULT_MIN_HEIGHT,
                               kind=kind, boxes=boxes).images
    return [t.Scaled(a, i) for a, i in zip(read_images(images, settings.width, threads=1),
                                            images, strict=True)]
