"""Showing measurements and gaps: JSON documents, terminal tables, charts, HTML reports.

The words in them (numbers for people, each gap row's cells and verdict) come from
:mod:`synthgen.analysis.wording`, so the table, the JSON and the HTML say the same.

The HTML reports are single files that open offline: styles are inline and every chart
is a PNG embedded as a ``data:image/png;base64`` URI. Charts are drawn with matplotlib's
Agg canvas attached to each figure directly, never through ``pyplot``, so no global
backend is switched and no figure outlives its chart. Nothing written depends on the
time or on absolute paths, so the same input gives the same bytes.

Every chart function takes a list of :class:`Series`: one for ``stats``, real and
synthetic for ``compare``, binned with the same edges from :mod:`synthgen.analysis.measure`.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from synthgen.analysis import measure, wording
from synthgen.analysis.distances import GapRow
from synthgen.analysis.wording import fmt
from synthgen.errors import OutputError
from synthgen.storage.files import atomic_writer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Series colours: the first (or only, or real) set, then the synthetic one.
COLOURS = ("#4c72b0", "#dd8452")
CHANNEL_COLOURS = {"luma": "#444444", "red": "#c44e52", "green": "#55a868", "blue": "#4c72b0"}
FIGSIZE = (5.6, 3.4)
DPI = 96


class Series(NamedTuple):
    """One dataset's data in a chart.

    Attributes:
        label: Legend text.
        data: What the chart function takes: a sample, counts, centres or histograms.
        role: 0 for the dataset of ``stats`` or the real set, 1 for the synthetic set;
            sets colour and line style, and a chart holding role 1 gets a legend.
    """

    label: str
    data: Any
    role: int = 0


# --- output paths ----------------------------------------------------------------------


def check_distinct(*paths: Path | None) -> None:
    """Refuse two outputs that name the same file.

    Raises:
        OutputError: Two of the given paths resolve to one file.
    """
    seen: set[Path] = set()
    for path in paths:
        if path is None:
            continue
        resolved = path.resolve()
        if resolved in seen:
            raise OutputError(f"{path}: given for two outputs")
        seen.add(resolved)


def write_html(path: Path, document: str) -> None:
    """Write an HTML document atomically."""
    with atomic_writer(path, "w") as handle:
        handle.write(document)


# --- JSON ------------------------------------------------------------------------------


def stats_to_json(stats: measure.DatasetStats) -> dict[str, Any]:
    """The machine-readable form of ``stats`` (``stats --json``), numpy types included.

    Histogram edges are chosen from this dataset alone.
    """
    distributions = {}
    for key, values in stats.samples.items():
        q = measure.quantity(key)
        edges = measure.histogram_edges(q, values)
        distributions[key] = {"label": q.label, "unit": q.unit,
                              "summary": measure.summarize(values),
                              "histogram": {"edges": edges,
                                            "counts": measure.histogram(values, edges)}}
    pixels: dict[str, Any] = {"images_sampled": stats.images_sampled,
                              "images_unreadable": list(stats.images_unreadable)}
    if stats.pixel_histograms:
        pixels["histogram_edges"] = measure.PIXEL_EDGES
        pixels.update({key: hist for key, hist in stats.pixel_histograms.items()})
    return {
        "dataset": stats.name,
        "images": stats.num_images,
        "objects": stats.num_objects,
        "crowd_regions": stats.num_crowd,
        "images_with_crowd": stats.images_with_crowd,
        "invalid_boxes": stats.invalid_boxes,
        "annotations_without_image": stats.orphan_annotations,
        "classes": dict(stats.class_counts),
        "crowd_classes": dict(stats.crowd_class_counts),
        "distributions": distributions,
        "categorical": {key: dict(counts) for key, counts in stats.counts.items()},
        "box_centres": {"grid": measure.HEATMAP_GRID, "rows": "top to bottom",
                        "heatmap": measure.centre_heatmap(stats.centres)},
        "pixels": pixels,
    }


def gap_to_json(real: measure.DatasetStats, synthetic: measure.DatasetStats,
                rows: Sequence[GapRow]) -> dict[str, Any]:
    """The ``compare --json`` document: the rows, then both sets' statistics."""
    return {"gap": [gap_row_to_json(row) for row in rows], "real": stats_to_json(real),
            "synthetic": stats_to_json(synthetic)}


def gap_row_to_json(row: GapRow) -> dict[str, Any]:
    """One row of ``compare --json``: its cells and verdict as in the table, its numbers."""
    shown_real, shown_synthetic = wording.summaries(row)
    return {"key": row.key, "metric": row.metric, "measure": row.measure, "real": shown_real,
            "synthetic": shown_synthetic, "distance": row.distance,
            "verdict": wording.verdict(row), "values": row.values}


# --- terminal tables -------------------------------------------------------------------


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Sequence[int] = ()) -> str:
    """Plain text columns separated by two spaces; the last column is never padded.

    Args:
        header: Column titles.
        rows: Cells, already formatted.
        right: Indices of columns to right-align (numbers).
    """
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            if i == len(row) - 1 and i not in right:
                cells.append(cell)
            elif i in right:
                cells.append(cell.rjust(widths[i]))
            else:
                cells.append(cell.ljust(widths[i]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _share(count: int, total: int) -> str:
    return f"{count / total:.1%}" if total else "-"


def overview_line(stats: measure.DatasetStats) -> str:
    """One line: images, objects, crowd regions, problems found."""
    parts = [f"{stats.num_images} images", f"{stats.num_objects} objects",
             f"{stats.num_crowd} crowd regions on {stats.images_with_crowd} images"]
    if stats.invalid_boxes:
        parts.append(f"{stats.invalid_boxes} objects without a usable bbox")
    if stats.orphan_annotations:
        parts.append(f"{stats.orphan_annotations} annotations on unknown images")
    return ", ".join(parts)


def pixel_line(stats: measure.DatasetStats) -> str:
    """Which image files the pixel statistics come from."""
    line = f"pixel statistics from {stats.images_sampled} sampled image files"
    if stats.images_unreadable:
        shown = ", ".join(stats.images_unreadable[:3])
        more = f" and {len(stats.images_unreadable) - 3} more" if len(
            stats.images_unreadable) > 3 else ""
        line += f"; {len(stats.images_unreadable)} unreadable ({shown}{more})"
    return line


def class_rows(stats: measure.DatasetStats) -> list[list[str]]:
    """Rows ``class, objects, share, crowd regions``."""
    names = list(dict.fromkeys([*stats.class_counts, *stats.crowd_class_counts]))
    return [[name, str(stats.class_counts.get(name, 0)),
             _share(stats.class_counts.get(name, 0), stats.num_objects),
             str(stats.crowd_class_counts.get(name, 0))] for name in names]


DISTRIBUTION_HEADER = ("distribution", "n", "min", "p25", "median", "p75", "max", "mean")


def distribution_rows(stats: measure.DatasetStats) -> list[list[str]]:
    """One summary row per 1-D distribution that holds values."""
    rows = []
    for key, values in stats.samples.items():
        summary = measure.summarize(values)
        if not summary["n"]:
            continue
        q = measure.quantity(key)
        label = f"{q.label} ({q.unit})" if q.unit else q.label
        rows.append([label, str(summary["n"])] + [fmt(summary[k]) for k in
                                                  ("min", "p25", "median", "p75", "max", "mean")])
    return rows


def categorical_lines(stats: measure.DatasetStats) -> list[tuple[str, str]]:
    """``(label, "value: count (share)  ...")`` for each categorical count."""
    lines = []
    for key, label in measure.CATEGORICAL.items():
        counts = stats.counts.get(key, {})
        total = sum(counts.values())
        text = "  ".join(f"{value}: {count} ({_share(count, total)})"
                         for value, count in counts.items()) if total else "not recorded"
        lines.append((label, text))
    return lines


def stats_table(stats: measure.DatasetStats) -> str:
    """The terminal output of ``synthgen stats``."""
    blocks = [f"dataset {stats.name}: {overview_line(stats)}", pixel_line(stats), "",
              format_table(("class", "objects", "share", "crowd"), class_rows(stats),
                           right=(1, 2, 3)), ""]
    rows = distribution_rows(stats)
    if rows:
        blocks += [format_table(DISTRIBUTION_HEADER, rows, right=tuple(range(1, 8))), ""]
    blocks.append(format_table(("labels", "counts"), categorical_lines(stats)))
    return "\n".join(blocks)


def gap_cells(row: GapRow) -> list[str]:
    """A row of the ``compare`` table: metric, measure, both sets, distance and verdict."""
    shown_real, shown_synthetic = wording.summaries(row)
    distance = "-" if row.distance is None else f"{row.distance:.3g}"
    return [row.metric, row.measure, shown_real, shown_synthetic, distance,
            wording.verdict(row)]


def gap_table(real: measure.DatasetStats, synthetic: measure.DatasetStats,
              rows: Sequence[GapRow]) -> str:
    """The terminal output of ``synthgen compare``."""
    cells = [gap_cells(row) for row in rows]
    return "\n".join([
        f"real      {real.name}: {overview_line(real)}",
        f"synthetic {synthetic.name}: {overview_line(synthetic)}",
        "",
        format_table(("metric", "measure", "real", "synthetic", "distance", "how synthetic "
                      "differs"), cells, right=(4,)),
    ])


# --- charts ----------------------------------------------------------------------------


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    # Imported here: `synthgen stats` without --html never pays for matplotlib.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIGSIZE[0] * (1 if ncols == 1 else 0.8 * ncols), FIGSIZE[1]),
                 dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def png_data_uri(fig: Figure) -> str:
    """The figure as a PNG ``data:`` URI (no software tag, so bytes do not vary)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _literal(text: Any) -> str:
    """Text from a dataset (a name, a category, a weather value) as matplotlib should
    draw it: as written, with no ``$...$`` read as mathematics."""
    return str(text).replace("$", r"\$")


def _legend(ax: Axes, series: Sequence[Series]) -> None:
    if any(item.role for item in series):
        ax.legend(frameon=False, fontsize="small")


def histogram_chart(key: str, series: Sequence[Series]) -> str:
    """Histograms of one quantity, as shares of each series, on shared bins."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

    q = measure.quantity(key)
    edges = measure.histogram_edges(q, *[item.data for item in series])
    fig, (ax,) = _figure()
    for item in series:
        shares = measure.histogram(item.data, edges) / max(len(item.data), 1)
        if item.role == 0:
            ax.stairs(shares, edges, fill=True, color=COLOURS[0], alpha=0.55,
                      label=_literal(item.label))
        else:
            ax.stairs(shares, edges, color=COLOURS[1], linewidth=2, label=_literal(item.label))
    if q.scale == "log" and edges[0] > 0:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif q.scale == "int":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"{q.label} ({q.unit})" if q.unit else q.label)
    ax.set_ylabel("share")
    ax.set_title(q.label)
    _legend(ax, series)
    return png_data_uri(fig)


def bar_chart(title: str, series: Sequence[Series], *, shares: bool) -> str:
    """Bars per category, side by side per series.

    Args:
        title: Chart title.
        series: Series whose data are ``{category: count}``.
        shares: Plot each series' shares instead of raw counts (when comparing sets).
    """
    names = list(dict.fromkeys(name for item in series for name in item.data))
    fig, (ax,) = _figure()
    width = 0.8 / len(series)
    positions = np.arange(len(names))
    for index, item in enumerate(series):
        values = np.array([item.data.get(name, 0) for name in names], dtype=float)
        if shares and values.sum() > 0:
            values = values / values.sum()
        ax.bar(positions + (index - (len(series) - 1) / 2) * width, values, width,
               color=COLOURS[item.role], label=_literal(item.label))
    slanted = len(names) > 4
    ax.set_xticks(positions, [_literal(name) for name in names], rotation=30 if slanted else 0,
                  ha="right" if slanted else "center")
    ax.set_ylabel("share" if shares else "count")
    ax.set_title(title)
    _legend(ax, series)
    return png_data_uri(fig)


def heatmap_chart(series: Sequence[Series]) -> str:
    """Box-centre heatmaps in normalised image coordinates, one panel per series.

    Each panel shows shares of its own boxes, on one colour scale for all panels.
    """
    fig, axes = _figure(len(series))
    grids = [measure.centre_heatmap(item.data).astype(float) for item in series]
    grids = [grid / grid.sum() if grid.sum() else grid for grid in grids]
    vmax = max(float(grid.max()) for grid in grids) or 1.0
    image = None
    for ax, item, grid in zip(axes, series, grids, strict=True):
        image = ax.imshow(grid, extent=(0, 1, 1, 0), cmap="magma", vmin=0, vmax=vmax,
                          aspect="auto")
        ax.set_title(f"box centres: {_literal(item.label)}")
        ax.set_xlabel("x / image width")
        ax.set_ylabel("y / image height")
    fig.colorbar(image, ax=axes, label="share of boxes")
    return png_data_uri(fig)


def pixel_chart(series: Sequence[Series], keys: Sequence[str] = tuple(measure.PIXEL_HISTOGRAMS),
                title: str = "luma and colour levels") -> str:
    """Pooled luma and colour histograms; solid for the real set, dashed for the synthetic.

    Args:
        series: Series whose data are ``{channel: histogram}``.
        keys: Channels to draw.
        title: Chart title.
    """
    fig, (ax,) = _figure()
    centres = measure.bin_centres(measure.PIXEL_EDGES)
    comparing = any(item.role for item in series)
    for item in series:
        for key in keys:
            if key in item.data:
                ax.plot(centres, item.data[key], color=CHANNEL_COLOURS[key],
                        linestyle="--" if item.role else "-", linewidth=1.8,
                        label=f"{key} ({_literal(item.label)})" if comparing else key)
    ax.set_xlim(0, 256)
    ax.set_xlabel("level")
    ax.set_ylabel("share of pixels")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="x-small", ncol=2)
    return png_data_uri(fig)


# --- HTML ------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 75rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { font-size: 0.85rem; max-width: 34rem; color: #444; }
.note { color: #555; font-size: 0.9rem; }
"""


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                right: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in right else ""}>{html.escape(cell)}</td>'
                         for i, cell in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(uri: str, caption: str = "") -> str:
    alt = html.escape(caption or "chart", quote=True)
    text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{alt}">{text}</figure>'


def _page(title: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _has(values: np.ndarray) -> bool:
    return np.asarray(values).size > 0


def stats_charts(stats: measure.DatasetStats) -> list[str]:
    """The charts of one dataset, as ``<figure>`` HTML."""
    name = stats.name
    figures = [_figure_html(bar_chart("objects per class", [Series(name, stats.class_counts)],
                                      shares=False))]
    for key, values in stats.samples.items():
        if _has(values):
            figures.append(_figure_html(histogram_chart(key, [Series(name, values)])))
    if _has(stats.centres):
        figures.append(_figure_html(heatmap_chart([Series(name, stats.centres)]),
                                    "y grows downwards, as in the image"))
    for key, label in measure.CATEGORICAL.items():
        if stats.counts.get(key):
            figures.append(_figure_html(bar_chart(label, [Series(name, stats.counts[key])],
                                                  shares=False)))
    if stats.pixel_histograms:
        figures.append(_figure_html(pixel_chart([Series(name, stats.pixel_histograms)])))
    return figures


def stats_html(stats: measure.DatasetStats) -> str:
    """The ``synthgen stats --html`` report: tables and charts of one dataset."""
    body = [
        f"<h1>Dataset statistics: {html.escape(stats.name)}</h1>",
        f"<p>{html.escape(overview_line(stats))}.</p>",
        f"<p class=note>{html.escape(pixel_line(stats))}.</p>",
        "<h2>Classes</h2>",
        _html_table(("class", "objects", "share", "crowd"), class_rows(stats), right=(1, 2, 3)),
        "<h2>Distributions</h2>",
        _html_table(DISTRIBUTION_HEADER, distribution_rows(stats), right=tuple(range(1, 8))),
        _html_table(("labels", "counts"), categorical_lines(stats)),
        "<h2>Charts</h2>",
        '<div class="charts">', *stats_charts(stats), "</div>",
    ]
    return _page(f"synthgen stats: {stats.name}", body)


def _row_chart(row: GapRow, real: measure.DatasetStats,
               synthetic: measure.DatasetStats) -> str | None:
    """The overlay chart for one comparison row, or ``None`` when there is nothing to draw."""
    def series(get: Any) -> list[Series]:
        """Both sets' data, leaving out a set where ``get`` finds nothing."""
        found = [Series(name, get(stats), role) for role, (name, stats) in
                 enumerate((("real", real), ("synthetic", synthetic)))]
        return [item for item in found if item.data is not None and len(item.data)]

    if row.key == "classes":
        return bar_chart("class shares", series(lambda s: s.class_counts), shares=True)
    if row.key == "box_centres":
        present = series(lambda s: s.centres)
        return heatmap_chart(present) if present else None
    if row.key in measure.CATEGORICAL:
        present = series(lambda s: s.counts.get(row.key))
        return bar_chart(row.metric, present, shares=True) if present else None
    if row.key.startswith("pixels."):
        channel = row.key.split(".", 1)[1]
        present = series(lambda s: s.pixel_histograms)
        if not present:
            return None
        return pixel_chart(present, keys=(channel,), title=f"{channel} levels")
    present = series(lambda s: s.samples.get(row.key))
    return histogram_chart(row.key, present) if present else None


GAP_HEADER = ("metric", "measure", "real", "synthetic", "distance", "how synthetic differs")


def compare_html(real: measure.DatasetStats, synthetic: measure.DatasetStats,
                 rows: Sequence[GapRow]) -> str:
    """The ``synthgen compare --html`` report: the gap table and one overlay per row."""
    figures = []
    for row in rows:
        uri = _row_chart(row, real, synthetic)
        if uri is not None:
            figures.append(_figure_html(uri, f"{row.metric}: {wording.verdict(row)}"))
    body = [
        f"<h1>Synthetic vs real: {html.escape(synthetic.name)} vs {html.escape(real.name)}</h1>",
        f"<p>Real <b>{html.escape(real.name)}</b>: {html.escape(overview_line(real))}.<br>"
        f"Synthetic <b>{html.escape(synthetic.name)}</b>: "
        f"{html.escape(overview_line(synthetic))}.</p>",
        f"<p class=note>Real {html.escape(pixel_line(real))}; synthetic "
        f"{html.escape(pixel_line(synthetic))}.</p>",
        "<p class=note>Distances: W1 is the Wasserstein-1 distance in the metric's unit "
        "(how far, on average, values must move to turn one distribution into the other); "
        "TV is the total variation of class shares and 1-HI one minus the histogram "
        "intersection (both 0 for identical shares, 1 for disjoint ones).</p>",
        "<h2>Gap</h2>",
        _html_table(GAP_HEADER, [gap_cells(row) for row in rows], right=(4,)),
        "<h2>Charts</h2>",
        '<div class="charts">', *figures, "</div>",
    ]
    return _page(f"synthgen compare: {synthetic.name} vs {real.name}", body)

