"""``synthgen real``: bring human-labelled sets into synthgen's dataset layout."""

from __future__ import annotations

import click

from synthgen.commands.options import copy_option, map_option, out_dir_option, overwrite_option
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
