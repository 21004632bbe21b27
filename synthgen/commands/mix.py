"""``synthgen mix``: synthetic + real sets -> pretrain / finetune / train / val / test files."""

from __future__ import annotations

from typing import Any

import click

from synthgen.commands.options import copy_option, map_option, out_dir_option, overwrite_option
from synthgen.datasets.mix import MAX_REAL_WEIGHT, MAX_REPEATED_ENTRIES, mix_datasets


@click.command()
@click.option("--synthetic", "synthetic", multiple=True, required=True,
              type=click.Path(path_type=str),
              help="A synthetic dataset folder from `synthgen generate` (repeatable).")
@click.option("--real", "real", required=True, type=click.Path(path_type=str),
              help="The real dataset folder (from `synthgen real import`, or any COCO set).")
@out_dir_option
@click.option("--seed", type=click.IntRange(min=0), required=True,
              help="Seed of the real split; the same seed gives the same files.")
@click.option("--val-fraction", type=float, default=0.2, show_default=True,
              help="Share of the real images in val.json, in [0, 1).")
@click.option("--test-fraction", type=float, default=0.2, show_default=True,
              help="Share of the real images in test.json, in [0, 1).")
@click.option("--real-weight", type=click.IntRange(min=1), default=1, show_default=True,
              help=f"Times each real training image is repeated in train.json, at most "
                   f"{MAX_REAL_WEIGHT} (and {MAX_REPEATED_ENTRIES:,} repeated entries in "
                   "all): each repeat is a whole entry with a copy of its boxes, so the "
                   "weight multiplies the file's size.")
@click.option("--previous", "previous", type=click.Path(path_type=str), metavar="OLD_MIX",
              help="An earlier mix output folder: its real images keep their splits, new "
                   "ones are placed by the stable rule; prints what is new per split.")
@map_option
@copy_option
@overwrite_option
def mix(synthetic: tuple[str, ...], real: str, out: str, seed: int, val_fraction: float,
        test_fraction: float, real_weight: int, previous: str | None, map_file: str | None,
        copy: bool, overwrite: bool) -> None:
    """Mix synthetic sets with a real set for pre-training, fine-tuning and evaluation.

    Splits the real images by image and writes to OUT/annotations/:

    \b
      pretrain.json  every synthetic image
      finetune.json  the real training images
      train.json     both; each real training image repeated --real-weight times
                     (entries with distinct ids sharing one file, each weight 1.0)
      val.json       real images only
      test.json      real images only

    The split is stable: each real image goes to val, test or fine-tuning by a hash of its
    file's bytes (its EXIF orientation reset) and --seed alone, so images added to the real
    set later never move an image already placed. The fractions hold on average, not
    exactly: of 50 images at 0.2, val holds 10 give or take 3. With --previous OLD_MIX every
    real image OLD_MIX held keeps its split there; what is new and what left the real set is
    printed and recorded in the manifest.

    Images are linked under OUT/images/<input>/ (real, synthetic-0, ...); OUT/manifest.json
    records the inputs as given, seed, fractions, weight, counts per split and class, and
    each real image's content digest and split.
    """
    manifest = mix_datasets(list(synthetic), real, out, seed=seed, val_fraction=val_fraction,
                            test_fraction=test_fraction, real_weight=real_weight,
                            map_file=map_file, copy=copy, overwrite=overwrite,
                            previous=previous)
    click.echo(format_counts(manifest))
    if manifest["previous"] is not None:
        click.echo(format_changes(manifest["previous"]))


def format_counts(manifest: dict[str, Any]) -> str:
    """One line per written file: images (synthetic/real), objects, ignore regions."""
    lines = [f"Wrote {manifest['options']['out']} (seed {manifest['seed']}, real weight "
             f"{manifest['real_weight']}):"]
    for name, counts in manifest["counts"].items():
        per_source = counts["per_source"]
        lines.append(f"  {manifest['files'][name]:<26} {counts['images']:>6} images "
                     f"({per_source['synthetic']} synthetic, {per_source['real']} real), "
                     f"{counts['annotations']} objects, {counts['ignore_regions']} ignore regions")
    n_real = sum(manifest["counts"][name]["images"] for name in ("finetune", "val", "test"))
    shares = ", ".join(
        f"{name} {manifest['counts'][name]['images'] / n_real:.0%} (asked "
        f"{manifest['fractions'][name]:.0%})" for name in ("val", "test"))
    lines.append(f"  real split of {n_real} images, each placed by its content and the seed: "
                 f"{shares}")
    return "\n".join(lines)


#: Gone images listed by name, at most (the manifest lists them all).
SHOWN_GONE = 10


def format_changes(changes: dict[str, Any]) -> str:
    """What ``--previous`` changed: new and kept images per split, and the images gone."""
    per_split = ", ".join(f"{name} +{changes['new'][name]} ({changes['kept'][name]} kept)"
                          for name in changes["new"])
    lines = [f"Since {changes['mix']}: {per_split}"]
    gone = [(name, file) for name, files in changes["removed_images"].items()
            for file in files]
    if gone:
        lines.append(f"  {len(gone)} image(s) of {changes['mix']} are no longer in the real "
                     "set (manifest.json: previous.removed_images):")
        lines += [f"    {name}: {file}" for name, file in gone[:SHOWN_GONE]]
        if len(gone) > SHOWN_GONE:
            lines.append(f"    ... and {len(gone) - SHOWN_GONE} more")
    return "\n".join(lines)
