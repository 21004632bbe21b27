"""``synthgen real``: bring human-labelled sets into synthgen's dataset layout."""

from __future__ import annotations

from typing import Any

import click

from synthgen.benchmark.data import (
    DEFAULT_IGNORE_SCORE,
    DEFAULT_MIN_SCORE,
)
from synthgen.commands.benchmark import (
    check_finetune,
    check_synthetic_boxes,
    input_summary,
    load_input,
    read_scaled,
    require_targets,
    require_torch,
    training_options,
)
from synthgen.commands.options import (
    FiniteFloatRange,
    copy_option,
    map_option,
    out_dir_option,
    overwrite_option,
    seed_option,
)
from synthgen.datasets.realsets import FORMATS, ImportSummary, import_real_set


@click.group()
def real() -> None:
    """Work with real, human-labelled datasets."""


@real.command("import")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="Layout of SRC: KITTI object (training/image_2 + label_2) or COCO JSON.")
@click.argument("src", type=click.Path(path_type=str))
@out_dir_option
@map_option
@click.option("--images", "images_dir", type=click.Path(file_okay=False, path_type=str),
              help="COCO only: folder the file_name entries are relative to "
                   "(default: images/ beside the JSON file, else its folder).")
@copy_option
@overwrite_option
@click.option("--append", is_flag=True, default=False,
              help="Add SRC's images to --out, an earlier `real import`'s folder: existing "
                   "images keep their ids and file names; an image already there (same "
                   "bytes) is refused.")
def import_(fmt: str, src: str, out: str, map_file: str | None, images_dir: str | None,
            copy: bool, overwrite: bool, append: bool) -> None:
    """Import the real set SRC into a synthgen dataset folder --out.

    Writes OUT/images/ (links to the source images; the source is never modified),
    OUT/annotations.json (COCO, synthgen's categories, every image "source": "real") and
    OUT/manifest.json (source, format, mapping used, counts per class).

    With --append, adds SRC (a batch of new images) to the existing folder OUT: new ids
    follow the largest id there, a taken file name gets -2, -3... before its suffix, and
    the manifest lists each batch under "appended". SRC must hold only new images.

    \b
    KITTI mapping: Car, Van -> car; Truck -> truck; Pedestrian, Person_sitting ->
    pedestrian; Cyclist -> cyclist; Tram, Misc, DontCare -> ignore region (iscrowd 1,
    category car). Boxes are clipped to the image.
    COCO mapping by name, ignoring case, spaces, '_' and '-': pedestrian/person/people
    -> pedestrian, cyclist/bicyclist/rider -> cyclist, car/van -> car, truck, bus,
    traffic light/traffic signal -> traffic_light, traffic sign/stop sign ->
    traffic_sign; other categories are dropped and counted, bicycle/bike too (their
    boxes hold no rider; --map can map them).
    """
    summary = import_real_set(src, out, fmt=fmt, map_file=map_file, images_dir=images_dir,
                              copy=copy, overwrite=overwrite, append=append)
    click.echo(format_summary(summary, out, append=append))


def format_summary(summary: ImportSummary, out: str, *, append: bool = False) -> str:
    """The lines ``real import`` prints when done."""
    classes = ", ".join(f"{name} {n}" for name, n in summary.per_class.items() if n)
    links = ", ".join(f"{n} {kind}" for kind, n in summary.links.items())
    if append:
        last = summary.first_id + summary.images - 1
        lines = [f"Appended {summary.images} images to {out} (ids {summary.first_id}-{last}; "
                 f"{links or 'no files'})"]
        if summary.renamed:
            lines.append(f"  {summary.renamed} renamed (-2, -3...) as their file names were "
                         "taken; source_file keeps the source's name")
    else:
        lines = [f"Imported {summary.images} images into {out} ({links or 'no files'})"]
    lines.append(f"  objects: {summary.annotations} ({classes or 'none'}), "
                 f"ignore regions: {summary.ignore_regions}")
    if summary.dropped:
        dropped = ", ".join(f"{name} {n}" for name, n in summary.dropped.items())
        lines.append(f"  dropped (no synthgen class, or mapped to drop): {dropped}")
    if summary.invalid_boxes:
        lines.append(f"  dropped {summary.invalid_boxes} boxes with no area inside the image")
    if summary.unused_map_entries:
        lines.append(f"  --map entries matching no source category: "
                     f"{', '.join(summary.unused_map_entries)}")
    return "\n".join(lines)


@real.command("pseudo-label")
@click.argument("frames", type=click.Path(path_type=str))
@click.option("--train", "train_set", required=True,
              help="The human-labelled real set the detector learns from: a synthgen folder, "
                   "a COCO file or a KITTI folder (training/image_2 + label_2).")
@click.option("--pretrain", "pretrain", multiple=True,
              help="A synthetic set to train on first (as benchmark's synthetic+real arm); "
                   "repeat for several.")
@out_dir_option
@click.option("--min-score", type=FiniteFloatRange(min=0.01, max=1.0),
              default=DEFAULT_MIN_SCORE, show_default=True,
              help="A detection scoring at least this is a label.")
@click.option("--ignore-score", type=FiniteFloatRange(min=0.01, max=1.0),
              default=DEFAULT_IGNORE_SCORE, show_default=True,
              help="A detection scoring at least this, but under --min-score, is an ignore "
                   "region.")
@training_options(steps=1000, steps_help="Training steps (as benchmark's --steps).",
                  min_height_help="Boxes shorter than this (pixels) are ignore regions in "
                                  "training, and no detection this short is kept.")
@seed_option
@copy_option
@overwrite_option
@click.pass_context
def pseudo_label(ctx: click.Context, frames: str, train_set: str, pretrain: tuple[str, ...],
                 out: str, min_score: float, ignore_score: float, classes: str, steps: int,
                 batch: int, size: tuple[int, int], pretrain_fraction: float,
                 finetune_synthetic: float, finetune_lr: float | None,
                 average_pretrained: float, min_height: float, synthetic_boxes: str,
                 lr: float, seed: int,
                 threads: int, calibrate_sizes: bool, flip_test: bool, copy: bool,
                 overwrite: bool) -> None:
    """Label the unlabelled frames in FRAMES with a detector trained on --train.

    The detector is the benchmark's (CenterNet-style, from scratch), trained on the
    human-labelled --train set, after --pretrain synthetic sets when given (exactly
    benchmark's synthetic+real arm of --seed). A detection scoring at least --min-score
    becomes a label (its score kept); one scoring at least --ignore-score an ignore
    region (iscrowd 1), so that `generate --sprites OUT` never cuts out an object beside
    something the detector doubts. With --flip-test the detector also looks at each
    frame's mirror image (its heatmap and box sizes averaged in: the scores the
    thresholds read are the two passes' mean). Writes OUT/images/ (links),
    OUT/annotations.json (COCO, each image "labels": "pseudo") and OUT/manifest.json.

    Pseudo-labels are a detector's guesses: use them for --sprites cut-outs, never as
    ground truth (benchmark refuses them as --eval, mix as --real). Needs PyTorch: pip
    install 'synthgen[bench]'.
    """
    from pathlib import Path

    from synthgen.benchmark.data import parse_classes
    from synthgen.datasets.realsets import OWNED_OUTPUTS
    from synthgen.storage.files import check_output_dir, refuse_overlap

    require_torch("real pseudo-label")
    from tqdm import tqdm

    from synthgen.benchmark import pseudo, train

    thresholds = pseudo.Thresholds(min_score=min_score, ignore_score=ignore_score,
                                   min_height=min_height)
    quiet = (ctx.obj or {}).get("quiet", 0) > 0
    names = parse_classes(classes)
    frame_paths = pseudo.frame_files(Path(frames))
    settings = train.Settings(classes=names, steps=steps, batch=batch, width=size[0],
                              height=size[1], lr=lr, pretrain_fraction=pretrain_fraction,
                              threads=threads, finetune_synthetic=finetune_synthetic,
                              finetune_lr=finetune_lr, average_pretrained=average_pretrained,
                              flip_test=flip_test, calibrate_sizes=calibrate_sizes)
    check_finetune(ctx, settings, None if pretrain else "no --pretrain set to train on first")
    check_synthetic_boxes(synthetic_boxes, None if pretrain else "no --pretrain set to train on")
    real_set = load_input("--train", train_set, "real", names, min_height)
    real_set.check_human_labelled("--train")
    synthetic_sets = [load_input("--pretrain", given, "synthetic", names, min_height,
                                 synthetic_boxes)
                      for given in pretrain]
    require_targets([*synthetic_sets, real_set], names, "train on")
    out_path = Path(out)
    folders = {image.path.parent for s in [*synthetic_sets, real_set] for image in s.images}
    refuse_overlap(out_path, [Path(frames), Path(train_set), *map(Path, pretrain),
                              *sorted(folders)])
    # Refused now, not after the training: it is checked again when written.
    check_output_dir(out_path, overwrite=overwrite, owned=OWNED_OUTPUTS)
    frame_images = pseudo.unlabelled(frame_paths)
    width, height = size
    sources = {"synthetic": [image for s in synthetic_sets for image in s.images],
               "real": real_set.images, "frames": frame_images}
    scaled = read_scaled(sources, width, threads=threads, quiet=quiet)
    bars: list[Any] = []

    def progress(arm: str, n: int) -> Any:
        bar = tqdm(total=n, desc=f"training ({arm})", unit="step", disable=quiet,
                   leave=False)
        bars.append(bar)
        return lambda _step, _loss: bar.update(1)

    net, size_bias = pseudo.train_labeller(seed, scaled["synthetic"], scaled["real"],
                                           settings, progress=progress)
    for bar in bars:
        bar.close()
    detections = train.detect(net, scaled["frames"], flip=settings.flip_test)
    options = {"frames": frames, "train": train_set, "pretrain": list(pretrain), "out": out,
               "classes": names, "steps": steps, "batch": batch, "size": f"{width}x{height}",
               "pretrain_fraction": pretrain_fraction,
               "finetune_synthetic": finetune_synthetic,
               "finetune_synthetic_images": settings.finetune_synthetic_images,
               "finetune_lr": settings.finetune_peak_lr,
               "average_pretrained": average_pretrained, "synthetic_boxes": synthetic_boxes,
               "lr": lr, "seed": seed,
               "threads": threads, "flip_test": flip_test, "calibrate_sizes": calibrate_sizes,
               "copy": copy, "overwrite": overwrite}
    trained_on = {"train": input_summary(real_set, names),
                  "pretrain": [input_summary(s, names) for s in synthetic_sets]}
    if calibrate_sizes:  # what was taken off the sizes (null: too few boxes, nothing)
        trained_on["size_bias"] = train.bias_record(size_bias)
    summary = pseudo.write_pseudo_set(out_path, frame_images, detections, names, thresholds,
                                      options=options, trained_on=trained_on, copy=copy,
                                      overwrite=overwrite)
    labels = ", ".join(f"{name} {n}" for name, n in summary.labels.items())
    links = ", ".join(f"{n} {kind}" for kind, n in summary.links.items())
    click.echo(f"Labelled {summary.images} frames into {out} ({links or 'no files'})\n"
               f"  labels: {labels} in {summary.images_with_labels} frames "
               f"(score >= {min_score}), ignore regions: {summary.ignore_regions} "
               f"(score >= {ignore_score})")
