"""``synthgen compare``: how a synthetic set differs from a real one."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen import report
from synthgen import statistics as st
from synthgen.commands.stats import html_option, report_overwrite_option, sample_option
from synthgen.dataset import load_dataset
from synthgen.io import write_json_atomic


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
    report.prepare_report_path("--html", html_path, overwrite=overwrite)
    report.prepare_report_path("--json", json_path, overwrite=overwrite)
    report.check_distinct(html_path, json_path)
    # Both loaded before either is measured: a wrong second path fails at once.
    real_set, synthetic_set = load_dataset(real), load_dataset(synthetic)
    real_stats = st.dataset_statistics(real_set, max_images=sample_images)
    synthetic_stats = st.dataset_statistics(synthetic_set, max_images=sample_images)
    rows = st.compare_stats(real_stats, synthetic_stats)
    click.echo(report.gap_table(real_stats, synthetic_stats, rows))
    if json_path is not None:
        write_json_atomic(json_path, st.gap_to_json(real_stats, synthetic_stats, rows))
        click.echo(f"wrote {json_path}", err=True)
    if html_path is not None:
        report.write_html(html_path, report.compare_html(real_stats, synthetic_stats, rows))
        click.echo(f"wrote {html_path}", err=True)
