"""``synthgen validate``: check a COCO dataset and list every problem."""

from __future__ import annotations

import click

from synthgen.errors import DatasetError
from synthgen.formats.validate import DEFAULT_MAX_PROBLEMS, validate_path
from synthgen.storage.files import to_json


@click.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, default=False,
              help="Print a machine-readable JSON report instead of text.")
@click.option("--max-problems", type=click.IntRange(min=0), default=DEFAULT_MAX_PROBLEMS,
              show_default=True, help="Problems listed per kind (totals always shown).")
@click.option("--images", "image_root",
              type=click.Path(exists=True, file_okay=False, path_type=str),
              help="Folder the file_name entries are relative to (default: images/ beside "
                   "the file or beside its annotations/ folder, else the file's folder).")
@click.pass_context
def validate(ctx: click.Context, path: str, as_json: bool, max_problems: int,
             image_root: str | None) -> None:
    """Check the COCO dataset PATH (a JSON file or a folder holding annotations.json).

    Checks types and required fields, unique ids, 1-based category and annotation ids,
    that every annotation's image and category exist, boxes (finite, positive size,
    inside the image), area (positive, at most the box), RLE masks (size, pixel count =
    area, bounds = bbox within 1 px), iscrowd in {0, 1}, and that image files exist with
    the declared size.

    Exit status: 0 no problems, 1 problems found, 2 PATH missing, not JSON or not a JSON
    object.
    """
    report = validate_path(path, image_root=image_root)
    if as_json:
        click.echo(to_json(report.to_dict(max_problems), indent=2))
    elif not report.readable:
        raise DatasetError(report.problems[0].message)
    else:
        click.echo(report.to_text(max_problems))
    if not report.readable:
        ctx.exit(2)
    if not report.ok:
        ctx.exit(1)
