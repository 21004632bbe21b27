"""``synthgen mix``: synthetic + real sets -> pretrain / finetune / train / val / test files."""

from __future__ import annotations

from typing import Any

import click

from synthgen.commands.options import copy_option, map_option, out_dir_option, overwrite_option
from synthgen.mix import mix_datasets


@click.command()
@click.option("--synthetic", "synthetic", multiple=True, required=True,
              type=click.Path(path_type=str),
              help="A synthetic dataset folder from `synthgen generate` (repeatable).")
@click.option("--real", "real", required=True, type=click.Path(path_type=str),
              help="The real dataset folder (from `synthgen real import`, or any COCO set).")
@out_dir_option
@click.option("--seed", type=click.IntRange(min=0), required=True,
              help="Seed of the real train/val/test split; the same seed gives the same files.")
@click.option("--val-fraction", type=float, default=0.2, show_default=True,
              help="Share of the real images in val.json, in [0, 1).")
@click.option("--test-fraction", type=float, default=0.2, show_default=True,
              help="Share of the real images in test.json, in [0, 1).")
@click.option("--real-weight", type=click.IntRange(min=1), default=1, show_default=True,
              help="Times each real training image is repeated in train.json.")
@map_option
@copy_option
@overwrite_option
def mix(synthetic: tuple[str, ...], real: str, out: str, seed: int, val_fraction: float,
        test_fraction: float, real_weight: int, map_file: str | None, copy: bool,
        overwrite: bool) -> None:
    """Mix synthetic sets with a real set for pre-training, fine-tuning and evaluation.

    Splits the real images (by image, stratified by class, deterministic for --seed) and
    writes to OUT/annotations/:

    \b
      pretrain.json  every synthetic image
      finetune.json  the real training images
      train.json     both; each real training image repeated --real-weight times
                     (entries with distinct ids sharing one file, each weight 1.0)
      val.json       real images only
      test.json      real images only

    Images are linked under OUT/images/<input>/ (real, synthetic-0, ...); OUT/manifest.json
    records the inputs as given, seed, fractions, weight and counts per split and class.
    """
    manifest = mix_datasets(list(synthetic), real, out, seed=seed, val_fraction=val_fraction,
                            test_fraction=test_fraction, real_weight=real_weight,
                            map_file=map_file, copy=copy, overwrite=overwrite)
    click.echo(format_counts(manifest))


def format_counts(manifest: dict[str, Any]) -> str:
    """One line per written file: images (synthetic/real), objects, ignore regions."""
    lines = [f"Wrote {manifest['options']['out']} (seed {manifest['seed']}, real weight "
             f"{manifest['real_weight']}):"]
    for name, counts in manifest["counts"].items():
        per_source = counts["per_source"]
        lines.append(f"  {manifest['files'][name]:<26} {counts['images']:>6} images "
                     f"({per_source['synthetic']} synthetic, {per_source['real']} real), "
                     f"{counts['annotations']} objects, {counts['ignore_regions']} ignore regions")
    return "\n".join(lines)
