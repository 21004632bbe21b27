"""``synthgen stats``: what a detector would see in one dataset."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.analysis import measure, report
from synthgen.formats.dataset import (
    CocoDataset,
    load_dataset,
    refuse_output_inside,
    refuse_unfinished,
)
from synthgen.storage.files import prepare_output_file, write_json_atomic, writing_report

html_option = click.option(
    "--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report with charts here.",
)
sample_option = click.option(
    "--sample-images", type=click.IntRange(min=0), default=measure.DEFAULT_IMAGE_SAMPLE,
    show_default=True,
    help="Read at most this many image files (evenly spaced by name) for brightness and "
         "colour; 0 skips the image files.",
)
report_overwrite_option = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace existing report files.",
)


@click.command(name="stats")
@click.argument("dataset", type=click.Path(path_type=Path))
@html_option
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the statistics as JSON here.")
@sample_option
@report_overwrite_option
def stats(dataset: Path, html_path: Path | None, json_path: Path | None, sample_images: int,
          overwrite: bool) -> None:
    """Print statistics of a COCO DATASET (a folder with annotations.json, or a COCO file).

    Counts images, objects per class (crowd regions apart), objects per image, box
    width/height/aspect, box-centre positions, visibility, occlusion and truncation,
    weather and time of day, camera values, and image brightness and colour from a
    sample of the image files.
    """
    prepare_output_file("--html", html_path, overwrite=overwrite)
    prepare_output_file("--json", json_path, overwrite=overwrite)
    report.check_distinct(html_path, json_path)
    loaded = load_input(dataset)
    refuse_output_inside("--html", html_path, [loaded])
    refuse_output_inside("--json", json_path, [loaded])
    measured = measure.dataset_statistics(loaded, max_images=sample_images)
    click.echo(report.stats_table(measured))
    if json_path is not None:
        with writing_report("--json", json_path):
            write_json_atomic(json_path, report.stats_to_json(measured))
        click.echo(f"wrote {json_path}", err=True)
    if html_path is not None:
        with writing_report("--html", html_path):
            report.write_html(html_path, report.stats_html(measured))
        click.echo(f"wrote {html_path}", err=True)


def load_input(path: Path) -> CocoDataset:
    """A dataset to measure or show, refused before anything is read from it if its
    folder is unfinished or an image's ``file_name`` leaves the image folder.

    Raises:
        DatasetError: See :func:`~synthgen.formats.dataset.load_dataset`,
            :func:`~synthgen.formats.dataset.refuse_unfinished` and
            :meth:`~synthgen.formats.dataset.CocoDataset.check_image_paths`.
    """
    dataset = load_dataset(path)
    check_input(dataset)
    return dataset


def check_input(dataset: CocoDataset) -> None:
    """Refuse a dataset whose folder is unfinished or one of whose image ``file_name``
    entries leaves the image folder (see :func:`load_input`)."""
    refuse_unfinished(dataset)
    dataset.check_image_paths()
