"""``synthgen preview``: a contact sheet of a dataset, or of samples straight from a template."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import numpy as np

from synthgen.commands.options import (
    ImageSize,
    background_bank_of,
    background_labels_option,
    decoys_option,
    distinct_sets,
    refuse_inputs_in_out,
    seed_option,
    sprite_bank_of,
)
from synthgen.commands.stats import check_input
from synthgen.errors import OutputError
from synthgen.formats.dataset import load_dataset, refuse_output_inside
from synthgen.storage.files import encode_image, prepare_output_file, write_bytes_atomic

DATASET_COUNT = 16
TEMPLATE_COUNT = 8
DEFAULT_COLUMNS = 4
@click.command("preview")
@click.argument("source", required=False, metavar="[DIR]",
                type=click.Path(path_type=Path))
@click.option("--scene", "scene", metavar="NAME|PATH",
              help="Render samples of this template (bundled name or YAML path) instead.")
@click.option("--out", "out", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The PNG file to write.")
@click.option("--overwrite", is_flag=True, default=False,
              help="Replace --out if it exists.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help=f"Images on the sheet [default: {DATASET_COUNT} from a dataset, "
                   f"{TEMPLATE_COUNT} from a template].")
@seed_option
@click.option("--category", metavar="NAME",
              help="Dataset only: only images with a box of this category.")
@click.option("--weather", metavar="KIND",
              help="Dataset only: only images with this weather (fog, rain, ...).")
@click.option("--images", "image_root",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Dataset only: the folder file_name entries are relative to (default: "
                   "images/ beside the file or beside its annotations/ folder, else the "
                   "file's folder).")
@click.option("--columns", type=click.IntRange(min=1), default=None,
              help=f"Tiles per row [default: {DEFAULT_COLUMNS}; 1 with --layers].")
@click.option("--tile-width", type=click.IntRange(32, 4096), default=320, show_default=True,
              help="Width of each image on the sheet, in pixels.")
@click.option("--layers", is_flag=True, default=False,
              help="Template only: per sample, image | instance ids | depth | "
                   "modal (solid) and amodal (dashed) boxes, each object's contrast "
                   "in the final image, ignore regions dashed grey.")
@click.option("--size", type=ImageSize(), default=None,
              help="Template only: render size, e.g. 1280x720 [default: the renderer's].")
@click.option("--look-like", "look_like_dir", metavar="DIR", default=None,
              help="Template only: match the samples to the camera of the photos in DIR, "
                   "as `synthgen generate --look-like DIR` does.")
@click.option("--sprites", "sprites_src", metavar="REAL", multiple=True,
              help="Template only: paste objects cut out of the labelled real set REAL, as "
                   "`synthgen generate --sprites REAL` does.")
@decoys_option
@click.option("--backgrounds", "backgrounds_src", metavar="REAL", default=None,
              help="Template only: draw the samples over photos of the labelled real set "
                   "REAL, as `synthgen generate --backgrounds REAL` does.")
@background_labels_option
def preview(source: Path | None, scene: str | None, out: Path, count: int | None, seed: int,
            category: str | None, weather: str | None, image_root: Path | None,
            columns: int | None, tile_width: int, layers: bool, size: tuple[int, int] | None,
            look_like_dir: str | None, sprites_src: tuple[str, ...], decoys: float | None,
            backgrounds_src: str | None, background_labels: str | None,
            overwrite: bool) -> None:
    """Draw a contact sheet (PNG) to look at labels.

    \b
    From a dataset (a synthgen folder or any COCO JSON file):
      synthgen preview DIR --out sheet.png [--count 16] [--seed S]
                           [--category car] [--weather fog] [--images DIR]
    Images are chosen by --seed. Boxes are coloured by category with their
    name; ignore regions (iscrowd) are hatched and outlined dashed grey;
    boxes with visibility < 0.5 are thin and faint. Captions give file,
    scene, weather and time of day.

    \b
    From a template, without writing a dataset:
      synthgen preview --scene urban --seed 3 --out urban.png [--layers]
                       [--size 1280x720] [--look-like DIR] [--sprites REAL]
                       [--decoys SHARE] [--backgrounds REAL]
                       [--background-labels boxes]
    Sample i is image i of `synthgen generate` with the same seed, size,
    --look-like, --sprites, --decoys, --backgrounds and --background-labels.
    --layers shows what the labels are made of: image, instance id map,
    depth, and modal (solid) with amodal (dashed) boxes; each object is
    named with its contrast in the final image (c0.123) and ignore regions
    (too small, occluded or faint to box) are dashed grey.

    Nothing is written except --out, which may not lie inside the dataset
    and is not replaced without --overwrite.
    """
    if (source is None) == (scene is None):
        raise click.UsageError("give exactly one of DIR (a dataset) or --scene (a template)")
    mode_only = {"--category": category, "--weather": weather, "--images": image_root} \
        if scene else \
        {"--layers": layers or None, "--size": size, "--look-like": look_like_dir,
         "--sprites": sprites_src or None, "--decoys": decoys, "--backgrounds": backgrounds_src,
         "--background-labels": background_labels}
    misplaced = [name for name, value in mode_only.items() if value is not None]
    if misplaced:
        needs = "a dataset DIR" if scene else "--scene"
        raise click.UsageError(f"{', '.join(misplaced)} only work with {needs}")
    if out.suffix.lower() != ".png":
        raise click.BadParameter(f"{out}: the sheet is a PNG; name it *.png",
                                 param_hint="--out")
    prepare_output_file("--out", out, overwrite=overwrite)

    # OpenCV is imported only when a sheet is drawn.
    from synthgen.viz.preview import dataset_sheet, render_size, select_images, template_sheet
    from synthgen.viz.sheet import check_template_sheet

    if source is not None:
        dataset = load_dataset(source)
        if image_root is not None:
            dataset = dataclasses.replace(dataset, image_root=image_root)
        check_input(dataset)
        refuse_output_inside("--out", out, [dataset])
        images = select_images(dataset, count=count or DATASET_COUNT,
                               rng=np.random.default_rng(seed),
                               category=category, weather=weather)
        sheet = dataset_sheet(dataset, images, tile_width=tile_width,
                              columns=columns or DEFAULT_COLUMNS)
    else:
        from synthgen.scene.templates import load_template

        template = load_template(scene)
        columns = columns or (1 if layers else DEFAULT_COLUMNS)
        # Before anything is rendered (--look-like renders calibration samples too).
        check_template_sheet(count or TEMPLATE_COUNT, size or render_size(),
                             tile_width=tile_width, columns=columns, layers=layers)
        distinct_sets("--sprites", sprites_src)
        refuse_inputs_in_out(out, [("--look-like", look_like_dir),
                                   *(("--sprites", src) for src in sprites_src),
                                   ("--backgrounds", backgrounds_src)])
        backgrounds = background_bank_of(backgrounds_src, look_like_dir, template,
                                         size or render_size(), background_labels)
        sprites = sprite_bank_of(sprites_src, decoys)
        appearance = None
        if look_like_dir is not None:
            from synthgen.render.appearance import look_like

            appearance = look_like(look_like_dir, template, size or render_size(), sprites)
        sheet = template_sheet(template, seed=seed,
                               count=count or TEMPLATE_COUNT, size=size, layers=layers,
                               tile_width=tile_width, columns=columns,
                               appearance=appearance, sprites=sprites,
                               backgrounds=backgrounds)
    _write(out, encode_image(sheet, "png"))
    click.echo(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]})", err=True)


def _write(out: Path, data: bytes) -> None:
    try:
        write_bytes_atomic(out, data)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write ({exc.strerror or exc})") from exc
