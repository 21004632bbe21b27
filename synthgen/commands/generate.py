"""``synthgen generate``: a scene template to a labelled COCO dataset folder (or a shard)."""

from __future__ import annotations

import contextlib
import os

import click

from synthgen.cli import interrupted_status, sigterm_interrupts
from synthgen.commands import counted, labels_found
from synthgen.commands.options import (
    FiniteFloatRange,
    ImageSize,
    background_bank_of,
    background_labels_option,
    decoys_option,
    distinct_sets,
    out_dir_option,
    overwrite_option,
    refuse_inputs_in_out,
    seed_option,
    sprite_bank_of,
)
from synthgen.generate.folder import IMAGE_FORMATS, Shard
from synthgen.generate.worker_start import start_workers
from synthgen.label_options import LabelOptions

# The pipeline and the template loader (OpenCV, pydantic: about 0.3 s) are imported in
# the command once its worker processes are started, which import the renderer meanwhile.


class ShardType(click.ParamType):
    """``K/N``: the K-th (1-based) of N parts of a run."""

    name = "K/N"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if isinstance(value, Shard):
            return value
        try:
            return Shard.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.option("--scene", required=True, metavar="NAME|PATH",
              help="Bundled template name (see `synthgen scenes`) or a template .yaml file.")
@click.option("--count", type=click.IntRange(min=1), required=True,
              help="Number of images of the whole run (all shards together); with "
                   "--extend, the number the finished run in OUT holds now.")
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
@click.option("--min-visibility", type=FiniteFloatRange(0.0, 1.0),
              default=LabelOptions.min_visibility, show_default=True,
              help="Smallest visible fraction of the in-frame part of an object's "
                   "projection (what occluders leave) to be labelled.")
@click.option("--min-contrast", type=FiniteFloatRange(0.0, 1.0),
              default=LabelOptions.min_contrast, show_default=True,
              help="Smallest contrast of an object's outline against its surroundings in "
                   "the final image (fog, night, glare, blur, noise) to get a box; 0 turns "
                   "the rule off.")
@click.option("--look-like", "look_like_dir", metavar="DIR", default=None,
              help="Match the images' tone, colour balance, sharpness and noise to the "
                   "camera of the unlabelled photos in DIR (boxes stay on the same "
                   "pixels; contrast is measured on the matched image).")
@click.option("--sprites", "sprites_src", metavar="REAL", multiple=True,
              help="Paste objects cut out of the labelled real set REAL (KITTI's layout "
                   "or COCO) in place of drawn vehicles, pedestrians and cyclists; given "
                   "more than once, of every set given.")
@decoys_option
@click.option("--backgrounds", "backgrounds_src", metavar="REAL", default=None,
              help="Draw each scene's objects over a photo of the labelled real set REAL "
                   "(KITTI's layout or COCO) instead of a drawn street; the photo's "
                   "labelled objects and ignore regions become ignore regions (see "
                   "--background-labels).")
@background_labels_option
@click.option("--shard", type=ShardType(), default=None,
              help="Make only part K of N (1 <= K <= N <= count) of the run: images "
                   "[floor((K-1)*count/N), floor(K*count/N)). Combine with `synthgen merge`.")
@click.option("--resume", is_flag=True, default=False,
              help="Finish the run interrupted in OUT. Give the same options it was "
                   "started with (only --workers may differ); anything else is refused. "
                   "A finished OUT of the same run is reported and left unchanged; a "
                   "missing or empty OUT starts a normal run.")
@click.option("--extend", type=click.IntRange(min=1), default=None, metavar="N",
              help="Add images count..count+N-1 to the finished run in OUT (made with "
                   "these options and --count): OUT becomes, byte for byte, the run of "
                   "--count count+N. Any other change is refused. With --resume, finish "
                   "an interrupted extend.")
@overwrite_option
@click.pass_context
def generate(ctx: click.Context, scene: str, count: int, out: str, seed: int, workers: int,
             size: tuple[int, int], image_format: str, jpeg_quality: int, min_pixels: int,
             min_visibility: float, min_contrast: float, look_like_dir: str | None,
             sprites_src: tuple[str, ...], decoys: float | None, backgrounds_src: str | None,
             background_labels: str | None, shard: Shard | None, resume: bool,
             extend: int | None, overwrite: bool) -> None:
    """Render a scene template into a labelled dataset folder (COCO).

    Writes OUT/images/, OUT/annotations.json and OUT/manifest.json (last: a folder with a
    manifest is complete). The same template, seed and options give byte-identical files
    whatever the number of workers, shards or interruptions.

    An object seen in the image gets a box if it has --min-pixels visible pixels, occluders
    leave --min-visibility of it and its outline stands out by --min-contrast in the final
    image; otherwise an ignore region (iscrowd 1, its mask), which COCOeval and trainers
    that honour crowd regions neither reward nor punish.

    An interrupted run (Ctrl-C, SIGTERM from a scheduler, a killed job) keeps its work in
    OUT/.partial/; the same command with --resume finishes it, checking the images kept
    (not empty, and their SHA-256 the one recorded when written) and rendering a bad one
    and those after it again.

    With --extend N the finished run in OUT (the same options, --count the images it
    holds) grows by N images into the run of --count count+N, byte for byte; the images
    already there are kept. A template, option or synthgen version that differs is
    refused as --resume refuses it. Stopped, the same command with --resume finishes it.

    With --shard K/N the folder holds part K of the run, with the same file names, image
    ids and boxes as in the whole run; annotation ids restart from 1 in each shard.
    `synthgen merge` combines the N shard folders into the whole run's dataset.

    With --look-like DIR the frames in DIR (up to 120, by name) are measured once and
    every image is toned, blurred and grained towards them, each with its own sampled
    strength; the profile goes into the manifest, so --resume and merge refuse a run
    whose DIR has changed.

    With --sprites REAL every wholly visible object of REAL at least 25 pixels tall is
    cut out once, and each drawn vehicle, pedestrian and cyclist of a class REAL has is
    replaced by one of them seen from a similar angle, stretched over the object's
    projected 3D box (labels are measured on the pasted pixels); given more than once,
    the cut-outs of every set given are chosen from. With --decoys SHARE that
    share of those whose cut-out has a decoy (the piece of its photo beside it, clear of
    every box) get the decoy instead, and no label. The bank's digest goes into the
    manifest like --look-like's profile.

    With --backgrounds REAL each image is drawn over one of REAL's photos (fitted to
    --size, mirrored for half of them) in place of sky, road and scenery; the objects
    the template places stand on the ground plane of its camera. Every object REAL's
    labels name in that photo becomes an ignore region: a photo's unlabelled objects
    stay unlabelled, so give a set whose labels cover them (`synthgen real pseudo-label`
    writes one from unlabelled frames). Not with --look-like (the photos are the camera's
    own look). With --background-labels boxes, the objects REAL labels (not its ignore
    regions) are boxes instead, marked "source": "photo" (REAL's boxes, as good as its
    labels), where what is drawn over the photo hides less than half of the box and
    REAL does not say the object is largely occluded or cut off; else ignore regions.

    \b
    Example: synthgen generate --scene urban --count 1000 --out out/urban --seed 42
             synthgen generate --scene urban --count 1000 --out out/urban-2 --shard 2/4
             synthgen generate --scene urban --count 1000 --out out/urban --seed 42 \\
                 --extend 500
    """
    # At most what the run renders: the images added, or the shard's.
    images = extend or (len(shard.indices(count)) if shard is not None else count)
    started = start_workers(workers, images)
    # Stopped on the way out, used or not (an error in the options, a finished folder).
    with started if started is not None else contextlib.nullcontext():
        from synthgen.generate.pipeline import (  # noqa: PLC0415 - see the imports above
            GenerateOptions,
            template_inputs,
        )
        from synthgen.generate.pipeline import generate as run_generate  # noqa: PLC0415
        from synthgen.scene.templates import load_template  # noqa: PLC0415

        template = load_template(scene)
        inputs = template_inputs(scene)
        if shard is not None and shard.count > count:
            raise click.BadParameter(f"{shard}: N must not exceed --count ({count})",
                                     param_hint="'--shard'")
        # --overwrite would delete an input that is --out or lies in it.
        distinct_sets("--sprites", sprites_src)
        refuse_inputs_in_out(out, [("--look-like", look_like_dir),
                                   *(("--sprites", src) for src in sprites_src),
                                   ("--backgrounds", backgrounds_src)])
        backgrounds = background_bank_of(backgrounds_src, look_like_dir, template, size,
                                         background_labels)
        sprites = sprite_bank_of(sprites_src, decoys)
        appearance = None
        if look_like_dir is not None:
            from synthgen.render.appearance import look_like  # noqa: PLC0415

            appearance = look_like(look_like_dir, template, size, sprites)
        options = GenerateOptions(count=count, seed=seed, size=size, image_format=image_format,
                                  jpeg_quality=jpeg_quality,
                                  labels=LabelOptions(min_pixels=min_pixels,
                                                      min_visibility=min_visibility,
                                                      min_contrast=min_contrast),
                                  workers=workers, look_like=appearance, sprites=sprites,
                                  backgrounds=backgrounds)
        quiet = (ctx.obj or {}).get("quiet", 0) > 0  # -q hides the bar, whatever -v says
        try:
            with sigterm_interrupts():
                summary = run_generate(template, out, options, shard=shard,
                                       overwrite=overwrite, resume=resume,
                                       extend=extend or 0, inputs=inputs,
                                       progress=not quiet, workers=started)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM from a scheduler
            click.echo(f"\nInterrupted. Finish the run with the same command and --resume "
                       f"(work done is kept in {out}).", err=True)
            ctx.exit(interrupted_status(exc))
    found = labels_found(summary.annotations, summary.per_class, summary.photo_boxes)
    if summary.already_complete:
        click.echo(f"{out} is already complete: {counted(summary.images, 'image')}, "
                   f"{found}; nothing to resume.")
        return
    part = f" (shard {shard})" if shard is not None else ""
    if summary.extended_from is not None:
        resumed = f", {summary.extended_from} already in {out}"
    elif summary.rendered < summary.images:
        resumed = f", {summary.images - summary.rendered} kept from the interrupted run"
    else:
        resumed = ""
    click.echo(f"{counted(summary.images, 'image')}{part}, "
               f"{found} in {out} "
               f"({summary.rendered} rendered{resumed}; {summary.seconds:.1f} s, "
               f"{summary.images_per_second:.1f} images/s)")
    width = max(len(name) for name in summary.per_class)
    for name, n in summary.per_class.items():
        click.echo(f"  {name:<{width}}  {n:>7}")
