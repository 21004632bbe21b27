"""How far a synthetic set's measurements lie from a real set's (``synthgen compare``).

:func:`wasserstein1`, :func:`wasserstein1_histogram`, :func:`histogram_intersection` and
:func:`total_variation` are the distances; :func:`compare_stats` puts two
:class:`~synthgen.analysis.measure.DatasetStats` side by side as :class:`GapRow` rows:
each distance, and the numbers behind it, of one distribution in both sets. Saying which
way the synthetic set differs is :mod:`synthgen.analysis.wording`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthgen.analysis.measure import (
    CAMERA_PREFIX,
    CATEGORICAL,
    PIXEL_EDGES,
    PIXEL_HISTOGRAMS,
    DatasetStats,
    bin_centres,
    centre_heatmap,
    histogram_moments,
    normalised,
    quantity,
    summarize,
)


def wasserstein1(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> float:
    """Wasserstein-1 (earth mover's) distance between two 1-D samples.

    The integral over x of ``|F_a(x) - F_b(x)|`` for the empirical CDFs: the mean
    distance each unit of probability must move to turn one sample into the other, in the
    samples' own unit.

    Raises:
        ValueError: A sample is empty.
    """
    a = np.sort(np.asarray(a, dtype=float).ravel())
    b = np.sort(np.asarray(b, dtype=float).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("Wasserstein-1 needs two non-empty samples")
    points = np.sort(np.concatenate([a, b]))
    steps = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, points[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * steps))


def wasserstein1_histogram(p: np.ndarray, q: np.ndarray, edges: np.ndarray) -> float:
    """Wasserstein-1 between two histograms on the same bins, mass at each bin centre.

    Raises:
        ValueError: The shapes disagree or a histogram holds no mass.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    centres = bin_centres(edges)
    if p.shape != q.shape or p.shape != centres.shape:
        raise ValueError("histograms and edges do not match")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("Wasserstein-1 needs two non-empty histograms")
    cdf_gap = np.abs(np.cumsum(normalised(p)) - np.cumsum(normalised(q)))[:-1]
    return float(np.sum(cdf_gap * np.diff(centres)))


def histogram_intersection(p: np.ndarray, q: np.ndarray) -> float:
    """Shared mass of two histograms after normalising each: 1 identical, 0 disjoint."""
    p, q = normalised(np.ravel(p)), normalised(np.ravel(q))
    if p.shape != q.shape:
        raise ValueError("histograms do not match")
    return float(np.minimum(p, q).sum())


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance of two categorical distributions given as counts.

    Half the sum of absolute share differences: the largest gap in probability the two
    assign to any set of categories; 0 identical, 1 disjoint. It equals one minus the
    histogram intersection.
    """
    keys = list(dict.fromkeys([*p, *q]))
    a = normalised(np.array([p.get(k, 0) for k in keys], dtype=float))
    b = normalised(np.array([q.get(k, 0) for k in keys], dtype=float))
    return float(np.abs(a - b).sum() / 2)


# --- comparing -------------------------------------------------------------------------


@dataclass(frozen=True)
class GapRow:
    """One line of ``compare``: a distribution in both sets and how far apart they are.

    It holds the distance and the numbers behind it; its cells and its verdict are
    :mod:`synthgen.analysis.wording`'s.

    Attributes:
        key: Machine name (a :class:`~synthgen.analysis.measure.Quantity` key, a
            :data:`~synthgen.analysis.measure.CATEGORICAL` one, ``classes``,
            ``box_centres`` or ``pixels.<channel>``).
        metric: Words for the table.
        measure: ``"W1"``, ``"TV"`` or ``"1-HI"`` (one minus histogram intersection).
        distance: The distance, or ``None`` when a set does not record it.
        recorded: Whether the real and the synthetic set hold any value of it.
        values: The numbers behind each set, keyed ``"real"`` and ``"synthetic"``: a
            quantity's :func:`~synthgen.analysis.measure.summarize`, categorical counts,
            the box centres' ``n``, ``mean`` and ``std``, or a pixel histogram's ``mean``
            and ``std`` (``None`` when no image file was read).
    """

    key: str
    metric: str
    measure: str
    distance: float | None
    recorded: tuple[bool, bool]
    values: dict[str, Any] = field(compare=False)


def compare_quantity(key: str, real: np.ndarray, synthetic: np.ndarray) -> GapRow:
    """The W1 row for one 1-D quantity, with both samples' summaries."""
    summary_r, summary_s = summarize(real), summarize(synthetic)
    recorded = (bool(summary_r["n"]), bool(summary_s["n"]))
    distance = wasserstein1(real, synthetic) if all(recorded) else None
    return GapRow(key, quantity(key).label, "W1", distance, recorded,
                  {"real": summary_r, "synthetic": summary_s})


def compare_categorical(key: str, label: str, real: Mapping[str, int],
                        synthetic: Mapping[str, int], measure: str = "1-HI") -> GapRow:
    """The row for categorical counts, with both sets' counts.

    Args:
        key: Machine name.
        label: Words for the table.
        real: Counts in the real set.
        synthetic: Counts in the synthetic set.
        measure: ``"TV"`` or ``"1-HI"``; both equal ``1 - sum(min(p, q))`` on shares.
    """
    recorded = (bool(sum(real.values())), bool(sum(synthetic.values())))
    distance = None
    if all(recorded):
        keys = list(dict.fromkeys([*real, *synthetic]))
        distance = (total_variation(real, synthetic) if measure == "TV" else
                    1.0 - histogram_intersection([real.get(k, 0) for k in keys],
                                                 [synthetic.get(k, 0) for k in keys]))
    return GapRow(key, label, measure, distance, recorded,
                  {"real": dict(real), "synthetic": dict(synthetic)})


def compare_centres(real: np.ndarray, synthetic: np.ndarray) -> GapRow:
    """The row for box-centre heatmaps (1 - intersection), with each set's mean and spread."""
    values = {name: {"n": len(c), "mean": c.mean(axis=0) if len(c) else None,
                     "std": c.std(axis=0) if len(c) else None}
              for name, c in (("real", real), ("synthetic", synthetic))}
    recorded = (bool(len(real)), bool(len(synthetic)))
    distance = (1.0 - histogram_intersection(centre_heatmap(real), centre_heatmap(synthetic))
                if all(recorded) else None)
    return GapRow("box_centres", "box centre heatmap", "1-HI", distance, recorded, values)


def compare_pixel_histogram(key: str, real: Mapping[str, np.ndarray],
                            synthetic: Mapping[str, np.ndarray]) -> GapRow:
    """The W1 row for a pooled luma or colour histogram, with each set's mean and spread."""
    hist_r, hist_s = real.get(key), synthetic.get(key)
    mean_r, std_r = histogram_moments(hist_r, PIXEL_EDGES) if hist_r is not None else (None,) * 2
    mean_s, std_s = histogram_moments(hist_s, PIXEL_EDGES) if hist_s is not None else (None,) * 2
    recorded = (hist_r is not None, hist_s is not None)
    distance = wasserstein1_histogram(hist_r, hist_s, PIXEL_EDGES) if all(recorded) else None
    return GapRow(f"pixels.{key}", f"{PIXEL_HISTOGRAMS[key]} level histogram", "W1", distance,
                  recorded, {"real": {"mean": mean_r, "std": std_r},
                             "synthetic": {"mean": mean_s, "std": std_s}})


def compare_stats(real: DatasetStats, synthetic: DatasetStats) -> list[GapRow]:
    """Every distribution of the two sets side by side, in a fixed order.

    Rows for something neither set records (e.g. weather in two real sets) are left out;
    rows for something only one set records are kept with distance ``None``.
    """
    rows = [compare_categorical("classes", "class frequencies", real.class_counts,
                                synthetic.class_counts, measure="TV")]
    for key in ("objects_per_image", "box_width", "box_height", "box_aspect"):
        rows.append(compare_quantity(key, real.samples[key], synthetic.samples[key]))
    rows.append(compare_centres(real.centres, synthetic.centres))
    rows.append(compare_quantity("visibility", real.samples["visibility"],
                                 synthetic.samples["visibility"]))
    rows.append(compare_quantity("truncation", real.samples["truncation"],
                                 synthetic.samples["truncation"]))
    rows.append(compare_quantity("object_contrast", real.samples["object_contrast"],
                                 synthetic.samples["object_contrast"]))
    for key, label in CATEGORICAL.items():
        rows.append(compare_categorical(key, label, real.counts.get(key, {}),
                                        synthetic.counts.get(key, {})))
    camera_keys = sorted({k for k in [*real.samples, *synthetic.samples]
                          if k.startswith(CAMERA_PREFIX)})
    empty = np.zeros(0)
    for key in ["horizon", *camera_keys]:
        rows.append(compare_quantity(key, real.samples.get(key, empty),
                                     synthetic.samples.get(key, empty)))
    for key in ("brightness", "contrast"):
        rows.append(compare_quantity(key, real.samples[key], synthetic.samples[key]))
    for key in PIXEL_HISTOGRAMS:
        if key != "luma":  # per-image brightness above already covers luma
            rows.append(compare_pixel_histogram(key, real.pixel_histograms,
                                                synthetic.pixel_histograms))
    return [row for row in rows if any(row.recorded)]
