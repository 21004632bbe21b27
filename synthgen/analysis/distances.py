"""How far a synthetic set's measurements lie from a real set's (``synthgen compare``).

:func:`wasserstein1`, :func:`wasserstein1_histogram`, :func:`histogram_intersection` and
:func:`total_variation` are the distances; :func:`compare_stats` puts two
:class:`~synthgen.analysis.measure.DatasetStats` side by side as :class:`GapRow` rows,
each saying which way the synthetic set differs from the real one.
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
    Quantity,
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

    Attributes:
        key: Machine name (a :class:`Quantity` key, ``classes``, ``box_centres``...).
        metric: Words for the table.
        measure: ``"W1"``, ``"TV"`` or ``"1-HI"`` (one minus histogram intersection).
        real: Short summary of the real set.
        synthetic: Short summary of the synthetic set.
        distance: The distance, or ``None`` when a set does not record it.
        verdict: Which way the synthetic set differs, in plain words.
        values: The numbers behind ``real`` and ``synthetic`` (summaries, shares,
            means), keyed ``"real"`` and ``"synthetic"``, for the JSON output.
    """

    key: str
    metric: str
    measure: str
    real: str
    synthetic: str
    distance: float | None
    verdict: str
    values: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "metric": self.metric, "measure": self.measure,
                "real": self.real, "synthetic": self.synthetic, "distance": self.distance,
                "verdict": self.verdict, "values": self.values}


#: Relative change of a median or mean (or absolute, for unit-range values) that counts as
#: a difference worth naming rather than "close".
LOCATION_TOLERANCE = 0.10
#: Ratio of interquartile ranges that counts as a difference in spread.
SPREAD_RATIO = 1.33
#: Share gap, in probability, below which categorical distributions are "close".
SHARE_TOLERANCE = 0.03
#: Shift of the mean box centre, as a fraction of the image side, worth naming.
CENTRE_TOLERANCE = 0.03


def fmt(value: float | None, unit: str = "") -> str:
    """A number for people: whole numbers from 100 up, three significant digits below."""
    if value is None:
        return "n/a"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}" if unit else text


#: Verdict of a row whose data neither set holds; :func:`compare_stats` leaves such rows out.
NEITHER = "recorded in neither set"


def _missing(real_has: bool, synthetic_has: bool, what: str = "not recorded") -> str:
    if not real_has and not synthetic_has:
        return NEITHER
    return f"{what} in the {'real' if not real_has else 'synthetic'} set"


def compare_quantity(key: str, real: np.ndarray, synthetic: np.ndarray,
                     missing: str = "not recorded") -> GapRow:
    """The W1 row for one 1-D quantity, with its direction read from median, mean, spread.

    ``missing`` says why a set has no values (in "``missing`` in the real set").
    """
    q = quantity(key)
    summary_r, summary_s = summarize(real), summarize(synthetic)
    shown_r, shown_s = (f"median {fmt(summary['median'], q.unit)}" if summary["n"] else "n/a"
                        for summary in (summary_r, summary_s))
    values = {"real": summary_r, "synthetic": summary_s}
    if not summary_r["n"] or not summary_s["n"]:
        return GapRow(key, q.label, "W1", shown_r, shown_s, None,
                      _missing(bool(summary_r["n"]), bool(summary_s["n"]), missing), values)
    return GapRow(key, q.label, "W1", shown_r, shown_s, wasserstein1(real, synthetic),
                  _numeric_verdict(q, summary_r, summary_s), values)


def _differs(synthetic: float, real: float, scale: float) -> bool:
    return abs(synthetic - real) > LOCATION_TOLERANCE * max(scale, 1e-9)


def _numeric_verdict(q: Quantity, real: Mapping[str, Any], synthetic: Mapping[str, Any]) -> str:
    """Say how the synthetic sample differs: median first, then mean, then spread."""
    bounded = q.value_range is not None and q.value_range[1] <= 1.0
    iqr_r = real["p75"] - real["p25"]
    iqr_s = synthetic["p75"] - synthetic["p25"]
    for stat in ("median", "mean"):
        r, s = real[stat], synthetic[stat]
        # Unit-range values (visibility, truncation) move on an absolute scale.
        scale = 1.0 if bounded else max(abs(r), iqr_r)
        if _differs(s, r, scale):
            words = q.lower if s < r else q.higher
            return f"{words}: {stat} {q.label} {fmt(s, q.unit)} vs {fmt(r, q.unit)} real"
    if iqr_s * SPREAD_RATIO < iqr_r or iqr_s > iqr_r * SPREAD_RATIO:
        more_or_less = "less" if iqr_s < iqr_r else "more"
        return (f"synthetic {q.label} varies {more_or_less}: interquartile range "
                f"{fmt(iqr_s, q.unit)} vs {fmt(iqr_r, q.unit)} real")
    return (f"close: median {q.label} {fmt(synthetic['median'], q.unit)} "
            f"vs {fmt(real['median'], q.unit)} real")


def compare_categorical(key: str, label: str, prefix: str, real: Mapping[str, int],
                        synthetic: Mapping[str, int], measure: str = "1-HI",
                        missing: str = "not recorded") -> GapRow:
    """The row for categorical counts: distance and the most over- and under-used values.

    Args:
        key: Machine name.
        label: Words for the table.
        prefix: Put before a value in sentences (``"occluded="``, ``"weather "``).
        real: Counts in the real set.
        synthetic: Counts in the synthetic set.
        measure: ``"TV"`` or ``"1-HI"``; both equal ``1 - sum(min(p, q))`` on shares.
        missing: Why a set has no counts (in "``missing`` in the real set").
    """
    total_r, total_s = sum(real.values()), sum(synthetic.values())
    shown_r, shown_s = _top_share(real, prefix), _top_share(synthetic, prefix)
    values = {"real": dict(real), "synthetic": dict(synthetic)}
    if not total_r or not total_s:
        return GapRow(key, label, measure, shown_r, shown_s, None,
                      _missing(bool(total_r), bool(total_s), missing), values)
    keys = list(dict.fromkeys([*real, *synthetic]))
    share_r = {k: real.get(k, 0) / total_r for k in keys}
    share_s = {k: synthetic.get(k, 0) / total_s for k in keys}
    distance = (total_variation(real, synthetic) if measure == "TV" else
                1.0 - histogram_intersection([real.get(k, 0) for k in keys],
                                             [synthetic.get(k, 0) for k in keys]))
    gaps = {k: share_s[k] - share_r[k] for k in keys}
    over = max(keys, key=lambda k: gaps[k])
    under = min(keys, key=lambda k: gaps[k])
    if gaps[over] < SHARE_TOLERANCE and -gaps[under] < SHARE_TOLERANCE:
        verdict = f"close: no {label} share differs by {SHARE_TOLERANCE:.0%} or more"
    else:
        parts = []
        if gaps[over] >= SHARE_TOLERANCE:
            parts.append(f"over-represents {prefix}{over} "
                         f"({share_s[over]:.0%} vs {share_r[over]:.0%} real)")
        if -gaps[under] >= SHARE_TOLERANCE:
            parts.append(f"under-represents {prefix}{under} "
                         f"({share_s[under]:.0%} vs {share_r[under]:.0%} real)")
        verdict = "synthetic " + " and ".join(parts)
    return GapRow(key, label, measure, shown_r, shown_s, distance, verdict, values)


def _top_share(counts: Mapping[str, int], prefix: str) -> str:
    total = sum(counts.values())
    if not total:
        return "n/a"
    top = max(counts, key=lambda k: counts[k])
    return f"{total} total, {prefix}{top} {counts[top] / total:.0%}"


def compare_centres(real: np.ndarray, synthetic: np.ndarray) -> GapRow:
    """The row for box-centre heatmaps: 1 - intersection, and the larger mean shift."""
    label = "box centre heatmap"
    shown_r, shown_s = _mean_centre(real), _mean_centre(synthetic)
    values = {name: {"n": len(c), "mean": c.mean(axis=0) if len(c) else None,
                     "std": c.std(axis=0) if len(c) else None}
              for name, c in (("real", real), ("synthetic", synthetic))}
    if not len(real) or not len(synthetic):
        return GapRow("box_centres", label, "1-HI", shown_r, shown_s, None,
                      _missing(bool(len(real)), bool(len(synthetic))), values)
    distance = 1.0 - histogram_intersection(centre_heatmap(real), centre_heatmap(synthetic))
    mean_r, mean_s = real.mean(axis=0), synthetic.mean(axis=0)
    shift = mean_s - mean_r
    axis = int(np.argmax(np.abs(shift)))
    if abs(shift[axis]) >= CENTRE_TOLERANCE:
        # Image y grows downwards.
        where = (("further left", "further right") if axis == 0 else ("higher", "lower"))
        side = "width" if axis == 0 else "height"
        coord = "x" if axis == 0 else "y"
        verdict = (f"synthetic box centres sit {where[int(shift[axis] > 0)]} in the image: "
                   f"mean {coord} {mean_s[axis]:.2f} vs {mean_r[axis]:.2f} real "
                   f"(fraction of image {side})")
    else:
        spread_r, spread_s = real.std(axis=0), synthetic.std(axis=0)
        ratio = (spread_s + 1e-9) / (spread_r + 1e-9)
        axis = int(np.argmax(np.abs(np.log(ratio))))
        coord = "x" if axis == 0 else "y"
        if ratio[axis] * SPREAD_RATIO < 1 or ratio[axis] > SPREAD_RATIO:
            more_or_less = "less" if ratio[axis] < 1 else "more"
            verdict = (f"synthetic box centres spread {more_or_less} in {coord}: std "
                       f"{spread_s[axis]:.2f} vs {spread_r[axis]:.2f} real")
        else:
            verdict = (f"close: mean centre ({mean_s[0]:.2f}, {mean_s[1]:.2f}) "
                       f"vs ({mean_r[0]:.2f}, {mean_r[1]:.2f}) real")
    return GapRow("box_centres", label, "1-HI", shown_r, shown_s, distance, verdict, values)


def _mean_centre(centres: np.ndarray) -> str:
    if not len(centres):
        return "n/a"
    x, y = np.asarray(centres).mean(axis=0)
    return f"mean ({x:.2f}, {y:.2f})"



def compare_pixel_histogram(key: str, real: Mapping[str, np.ndarray],
                            synthetic: Mapping[str, np.ndarray]) -> GapRow:
    """The W1 row for a pooled luma or colour histogram, directed by its mean, then spread."""
    words = PIXEL_HISTOGRAMS[key]
    label = f"{words} level histogram"
    hist_r, hist_s = real.get(key), synthetic.get(key)
    mean_r, std_r = histogram_moments(hist_r, PIXEL_EDGES) if hist_r is not None else (None,) * 2
    mean_s, std_s = histogram_moments(hist_s, PIXEL_EDGES) if hist_s is not None else (None,) * 2
    shown_r, shown_s = f"mean {fmt(mean_r)}", f"mean {fmt(mean_s)}"
    values = {"real": {"mean": mean_r, "std": std_r},
              "synthetic": {"mean": mean_s, "std": std_s}}
    if hist_r is None or hist_s is None:
        return GapRow(f"pixels.{key}", label, "W1", shown_r, shown_s, None,
                      _missing(hist_r is not None, hist_s is not None,
                               what="no image file read"), values)
    distance = wasserstein1_histogram(hist_r, hist_s, PIXEL_EDGES)
    if _differs(mean_s, mean_r, max(mean_r, std_r)):
        more_or_less = "less" if mean_s < mean_r else "more"
        verdict = (f"synthetic images have {more_or_less} {words}: mean {words} level "
                   f"{fmt(mean_s)} vs {fmt(mean_r)} real")
    elif std_s * SPREAD_RATIO < std_r or std_s > std_r * SPREAD_RATIO:
        more_or_less = "less" if std_s < std_r else "more"
        verdict = (f"synthetic {words} levels spread {more_or_less}: std {fmt(std_s)} "
                   f"vs {fmt(std_r)} real")
    else:
        verdict = f"close: mean {words} level {fmt(mean_s)} vs {fmt(mean_r)} real"
    return GapRow(f"pixels.{key}", label, "W1", shown_r, shown_s, distance, verdict, values)


def compare_stats(real: DatasetStats, synthetic: DatasetStats) -> list[GapRow]:
    """Every distribution of the two sets side by side, in a fixed order.

    Rows for something neither set records (e.g. weather in two real sets) are left out;
    rows for something only one set records are kept with distance ``None``.
    """
    rows = [compare_categorical("classes", "class frequencies", "", real.class_counts,
                                synthetic.class_counts, measure="TV", missing="no objects")]
    for key in ("objects_per_image", "box_width", "box_height", "box_aspect"):
        rows.append(compare_quantity(key, real.samples[key], synthetic.samples[key]))
    rows.append(compare_centres(real.centres, synthetic.centres))
    rows.append(compare_quantity("visibility", real.samples["visibility"],
                                 synthetic.samples["visibility"]))
    rows.append(compare_quantity("truncation", real.samples["truncation"],
                                 synthetic.samples["truncation"]))
    rows.append(compare_quantity("object_contrast", real.samples["object_contrast"],
                                 synthetic.samples["object_contrast"]))
    for key, (label, prefix) in CATEGORICAL.items():
        rows.append(compare_categorical(key, label, prefix, real.counts.get(key, {}),
                                        synthetic.counts.get(key, {})))
    camera_keys = sorted({k for k in [*real.samples, *synthetic.samples]
                          if k.startswith(CAMERA_PREFIX)})
    empty = np.zeros(0)
    for key in ["horizon", *camera_keys]:
        rows.append(compare_quantity(key, real.samples.get(key, empty),
                                     synthetic.samples.get(key, empty)))
    for key in ("brightness", "contrast"):
        rows.append(compare_quantity(key, real.samples[key], synthetic.samples[key],
                                     missing="no image file read"))
    for key in PIXEL_HISTOGRAMS:
        if key != "luma":  # per-image brightness above already covers luma
            rows.append(compare_pixel_histogram(key, real.pixel_histograms,
                                                synthetic.pixel_histograms))
    return [row for row in rows if row.verdict != NEITHER]
