"""``synthgen diff``: what changed between two versions of a dataset folder."""

from __future__ import annotations

import click

from synthgen.datasets.diff import diff_versions, format_diff, read_version
from synthgen.storage.files import to_json


@click.command()
@click.argument("old", type=click.Path(path_type=str))
@click.argument("new", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, default=False,
              help="Print the report as JSON (every name listed) instead of text.")
def diff(old: str, new: str, as_json: bool) -> None:
    """Tell what changed between two versions OLD and NEW of a dataset folder.

    Works on folders written by `synthgen generate` (or merge), `real import` and `mix`,
    and on any COCO folder. Prints the images added, removed, changed (same file name,
    other bytes: known where both folders record their digests, as generate's
    images.sha256 does) and relabelled (other boxes); for two mix outputs, the real
    images added, removed and moved per split, matched by content; boxes per class
    before and after; and the manifest records that differ (template, options, input
    digests). Nothing is written and no image is read. Exit status 0 whatever changed.

    \b
    Example: synthgen diff out/urban-v1 out/urban-v2
             synthgen diff mixed-week-1 mixed-week-2 --json
    """
    report = diff_versions(read_version(old), read_version(new))
    click.echo(to_json(report, indent=2) if as_json else format_diff(report))
