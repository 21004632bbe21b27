"""``synthgen generate``: a scene template to a labelled COCO dataset folder."""

from __future__ import annotations

import os

import click

from synthgen.commands.options import out_dir_option, overwrite_option, seed_option
from synthgen.labels import LabelOptions
from synthgen.pipeline import IMAGE_FORMATS, GenerateOptions, generate as run_generate
from synthgen.templates import load_template

MIN_SIDE, MAX_SIDE = 64, 8192


class ImageSize(click.ParamType):
    """``WIDTHxHEIGHT`` in pixels, e.g. ``1280x720``."""

    name = "WxH"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if isinstance(value, tuple):
            return value
        try:
            width, height = (int(part) for part in str(value).lower().split("x"))
        except ValueError:
            self.fail(f"expected WIDTHxHEIGHT such as 1280x720, got {value!r}", param, ctx)
        for side in (width, height):
            if not MIN_SIDE <= side <= MAX_SIDE:
                self.fail(f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels, "
                          f"got {value!r}", param, ctx)
        return width, height


@click.command()
@click.option("--scene", required=True, metavar="NAME|PATH",
              help="Bundled template name (see `synthgen scenes`) or a template .yaml file.")
@click.option("--count", type=click.IntRange(min=1), required=True, help="Number of images.")
@out_dir_option
@seed_option
@click.option("--workers", type=click.IntRange(min=1), default=min(2, os.cpu_count() or 1),
              show_default=True, help="Worker processes rendering in parallel.")
@click.option("--size", type=ImageSize(), default="1280x720", show_default=True,
              help="Image size WIDTHxHEIGHT in pixels.")
@click.option("--image-format", type=click.Choice(IMAGE_FORMATS), default="jpg",
              show_default=True, help="Image file format.")
@click.option("--jpeg-quality", type=click.IntRange(50, 100), default=90, show_default=True,
              help="JPEG quality.")
@click.option("--min-pixels", type=click.IntRange(min=1), default=LabelOptions.min_pixels,
              show_default=True, help="Fewest visible pixels an object needs to be labelled.")
@click.option("--min-visibility", type=click.FloatRange(0.0, 1.0),
              default=LabelOptions.min_visibility, show_default=True,
              help="Smallest visible fraction of an object's projection to be labelled.")
@overwrite_option
@click.pass_context
def generate(ctx: click.Context, scene: str, count: int, out: str, seed: int, workers: int,
             size: tuple[int, int], image_format: str, jpeg_quality: int, min_pixels: int,
             min_visibility: float, overwrite: bool) -> None:
    """Render a scene template into a labelled dataset folder (COCO).

    Writes OUT/images/, OUT/annotations.json and OUT/manifest.json. The same template,
    seed and options give byte-identical files whatever the number of workers.

    Example: synthgen generate --scene urban --count 1000 --out out/urban --seed 42
    """
    template = load_template(scene)
    options = GenerateOptions(count=count, seed=seed, size=size, image_format=image_format,
                              jpeg_quality=jpeg_quality,
                              labels=LabelOptions(min_pixels=min_pixels,
                                                  min_visibility=min_visibility),
                              workers=workers)
    quiet = (ctx.obj or {}).get("verbosity", 0) < 0
    summary = run_generate(template, out, options, overwrite=overwrite, progress=not quiet)
    click.echo(f"{summary.images} images, {summary.annotations} boxes in {out} "
               f"({summary.seconds:.1f} s, {summary.images_per_second:.1f} images/s)")
    width = max(len(name) for name in summary.per_class)
    for name, n in summary.per_class.items():
        click.echo(f"  {name:<{width}}  {n:>7}")
