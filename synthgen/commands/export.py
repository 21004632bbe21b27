"""``synthgen export``: a dataset or a mix output as a YOLO or KITTI folder for trainers."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli import interrupted_status
from synthgen.commands import counted
from synthgen.commands.options import copy_option, out_dir_option, overwrite_option
from synthgen.formats.export import FORMATS, IGNORE_MODES, TASKS, ExportSummary, export_dataset
from synthgen.storage.files import UNFINISHED_DIR


@click.command()
@click.pass_context
@click.argument("src", type=click.Path(path_type=str))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="yolo: Ultralytics images/ + labels/ + data.yaml; kitti: "
                   "training/image_2 + label_2 + ImageSets/.")
@out_dir_option
@click.option("--task", type=click.Choice(TASKS), default="detect", show_default=True,
              help="YOLO only: boxes, or polygons from the masks (box corners for objects "
                   "without a mask).")
@click.option("--ignore-regions", type=click.Choice(IGNORE_MODES), default="blackout",
              show_default=True,
              help="YOLO only: black ignore regions out in a copy of the image, or leave "
                   "images with ignore regions out. KITTI writes them as DontCare.")
@copy_option
@overwrite_option
def export(ctx: click.Context, src: str, fmt: str, out: str, task: str, ignore_regions: str,
           copy: bool, overwrite: bool) -> None:
    """Export SRC for trainers that read YOLO or KITTI labels instead of COCO.

    SRC is a dataset folder (`generate`, `real import`), a COCO file that `synthgen
    validate` passes, or a `mix` output folder, exported whole: one list per split
    (pretrain, finetune, train, val, test). A real image the mix repeats --real-weight
    times in train.json is repeated as many times in the train list.

    \b
    yolo:  OUT/images/...       links to the images (copies with --copy)
           OUT/labels/....txt   "class cx cy w h", normalised, 6 decimals
           OUT/<split>.txt      one ./images/... line per entry
           OUT/data.yaml        path, train, val, test, names (and data-pretrain.yaml,
                                data-finetune.yaml for a mix's two training stages)
    kitti: OUT/training/image_2/NNNNNN.<ext>, OUT/training/label_2/NNNNNN.txt,
           OUT/ImageSets/<split>.txt (numbers in first-appearance order)

    Ignore regions (iscrowd 1) become KITTI DontCare lines. YOLO cannot express them:
    by default their pixels outside every labelled box are blacked out in a copy of the
    image; --ignore-regions drop leaves such images out instead. KITTI types: car Car,
    truck Truck, bus Bus, pedestrian Pedestrian, cyclist Cyclist, traffic_light
    Traffic_light, traffic_sign Traffic_sign; 3D fields get KITTI's unknown values.
    OUT/manifest.json (written last) records options, classes and counts.
    """
    try:
        summary = export_dataset(src, out, fmt=fmt, task=task, ignore_regions=ignore_regions,
                                 copy=copy, overwrite=overwrite)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM from a scheduler
        if (Path(out) / UNFINISHED_DIR).is_dir():
            click.echo(f"\nInterrupted: {out} is unfinished (it holds {UNFINISHED_DIR}/); run "
                       "the same command with --overwrite to export again.", err=True)
        else:
            click.echo("\nInterrupted before anything was written.", err=True)
        ctx.exit(interrupted_status(exc))
    click.echo(format_summary(summary, src, out))


def format_summary(summary: ExportSummary, src: str, out: str) -> str:
    """The lines ``export`` prints when done."""
    kind = "YOLO" + (" (segment)" if summary.task == "segment" else "") \
        if summary.format == "yolo" else "KITTI"
    links = ", ".join(f"{n} {how}" for how, n in summary.links.items())
    classes = ", ".join(f"{name} {n}" for name, n in summary.per_class.items() if n)
    lines = [f"Exported {src} to {out} as {kind}: {counted(summary.images, 'image')} "
             f"({links or 'no files'}), {counted(summary.objects, 'object')} "
             f"({classes or 'none'})"]
    for split in summary.splits.values():
        repeats = split["entries"] - split["files"]
        entries = "entry" if split["entries"] == 1 else "entries"
        lines.append(f"  {split['list']:<22} {split['entries']:>6} {entries}"
                     + (f" ({repeats} repeats)" if repeats else "")
                     + f", {split['objects']} objects")
    ignore = summary.ignore
    if ignore["mode"] == "dontcare":
        what = "written as DontCare"
    elif ignore["mode"] == "blackout":
        what = f"blacked out in {counted(ignore['images'], 'copied image')}"
    else:
        what = f"{counted(ignore['images'], 'image')} holding them left out"
    lines.append(f"  ignore regions: {ignore['regions']}, {what}")
    if summary.box_polygons:
        lines.append(f"  {counted(summary.box_polygons, 'object')} without a mask written as "
                     "their box's corners")
    return "\n".join(lines)
