"""``synthgen compare``: how a synthetic set differs from a real one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from synthgen.analysis import distances, measure, report
from synthgen.commands.stats import (
    html_option,
    load_input,
    report_overwrite_option,
    sample_option,
)
from synthgen.formats.dataset import CocoDataset, refuse_output_inside
from synthgen.storage.files import prepare_output_file, write_json_atomic, writing_report


@click.command(name="compare")
@click.argument("real", type=click.Path(path_type=Path))
@click.argument("synthetic", type=click.Path(path_type=Path))
@html_option
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the gap rows and both sets' statistics as JSON here.")
@sample_option
@report_overwrite_option
def compare(real: Path, synthetic: Path, html_path: Path | None, json_path: Path | None,
            sample_images: int, overwrite: bool) -> None:
    """Measure how the SYNTHETIC dataset differs from the REAL one.

    Compares class frequencies (total variation), objects per image, box width, height
    and aspect, visibility, truncation, camera values and image brightness, contrast
    and colour (Wasserstein-1, in the metric's unit), and box-centre heatmaps,
    occlusion, weather and time of day (one minus histogram intersection). Each row
    says which way the synthetic set differs, to guide template tuning.
    """
    prepare_output_file("--html", html_path, overwrite=overwrite)
    prepare_output_file("--json", json_path, overwrite=overwrite)
    report.check_distinct(html_path, json_path)
    # Both loaded before either is measured: a wrong second path fails at once.
    real_set, synthetic_set = load_input(real), load_input(synthetic)
    refuse_output_inside("--html", html_path, [real_set, synthetic_set])
    refuse_output_inside("--json", json_path, [real_set, synthetic_set])
    real_stats = measure.dataset_statistics(real_set, max_images=sample_images)
    synthetic_stats = measure.dataset_statistics(synthetic_set, max_images=sample_images)
    rows = distances.compare_stats(real_stats, synthetic_stats)
    click.echo(report.gap_table(real_stats, synthetic_stats, rows))
    warning = size_warning(real_set, synthetic_set)
    if warning:
        click.echo(warning, err=True)
    if json_path is not None:
        with writing_report("--json", json_path):
            write_json_atomic(json_path, report.gap_to_json(real_stats, synthetic_stats, rows))
        click.echo(f"wrote {json_path}", err=True)
    if html_path is not None:
        with writing_report("--html", html_path):
            report.write_html(html_path, report.compare_html(real_stats, synthetic_stats, rows))
        click.echo(f"wrote {html_path}", err=True)


def typical_size(dataset: CocoDataset) -> tuple[int, int] | None:
    """The most common ``(width, height)`` of a dataset's images, if they say."""
    sizes = Counter((image.get("width"), image.get("height")) for image in dataset.images
                    if isinstance(image.get("width"), int)
                    and isinstance(image.get("height"), int))
    return sizes.most_common(1)[0][0] if sizes else None


def size_warning(real: CocoDataset, synthetic: CocoDataset) -> str | None:
    """A note when the sets' typical image sizes differ: pixel sizes then compare
    resolution as much as content."""
    real_size, synthetic_size = typical_size(real), typical_size(synthetic)
    if real_size is None or synthetic_size is None or real_size == synthetic_size:
        return None
    w, h = real_size
    return (f"note: most real images are {w}x{h}, most synthetic ones "
            f"{synthetic_size[0]}x{synthetic_size[1]}; box sizes in pixels compare resolution "
            f"as much as content: generate with --size {w}x{h} to compare like with like")
