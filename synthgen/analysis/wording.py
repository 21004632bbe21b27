"""The words of ``stats`` and ``compare``: numbers for people, and what each gap row says.

A :class:`~synthgen.analysis.distances.GapRow` holds numbers; :func:`summaries` gives its
real and synthetic cells (a few words on each set's distribution) and :func:`verdict`
says which way the synthetic set differs from the real one: for a 1-D quantity its
median, else its mean, else its spread; for counts the most over- and under-used values;
for box centres the mean shift, else the spread. A difference smaller than the
tolerances below is called "close". :mod:`synthgen.analysis.report` puts these words in
tables, JSON and HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthgen.analysis.distances import GapRow
from synthgen.analysis.measure import (
    CAMERA_PREFIX,
    CATEGORICAL,
    PIXEL_HISTOGRAMS,
    Quantity,
    quantity,
)

#: Relative change of a median or mean (or absolute, for unit-range values) that counts as
#: a difference worth naming rather than "close".
LOCATION_TOLERANCE = 0.10
#: Ratio of interquartile ranges that counts as a difference in spread.
SPREAD_RATIO = 1.33
#: Share gap, in probability, below which categorical distributions are "close".
SHARE_TOLERANCE = 0.03
#: Shift of the mean box centre, as a fraction of the image side, worth naming.
CENTRE_TOLERANCE = 0.03

#: What to say when the synthetic set's values of a quantity are lower, and higher, than
#: the real ones (``camera.<field>`` quantities are worded by :func:`_directions`).
DIRECTIONS: dict[str, tuple[str, str]] = {
    "objects_per_image": ("synthetic images hold fewer objects",
                          "synthetic images hold more objects"),
    "box_width": ("synthetic boxes are narrower", "synthetic boxes are wider"),
    "box_height": ("synthetic boxes are smaller", "synthetic boxes are taller"),
    "box_aspect": ("synthetic boxes are narrower for their height",
                   "synthetic boxes are wider for their height"),
    "visibility": ("synthetic objects are less visible", "synthetic objects are more visible"),
    "truncation": ("synthetic objects are less truncated",
                   "synthetic objects are more truncated"),
    "object_contrast": ("synthetic objects stand out less from their surroundings",
                        "synthetic objects stand out more from their surroundings"),
    "horizon": ("synthetic horizons sit higher in the image",
                "synthetic horizons sit lower in the image"),
    "brightness": ("synthetic images are darker", "synthetic images are brighter"),
    "contrast": ("synthetic images have less contrast", "synthetic images have more contrast"),
}

#: Put before a value of the ``classes`` and :data:`~synthgen.analysis.measure.CATEGORICAL`
#: counts in sentences (``"occluded=1"``, ``"weather fog"``).
PREFIXES: dict[str, str] = {"classes": "", "occluded": "occluded=", "weather": "weather ",
                            "time_of_day": "time of day "}

#: Why a set has nothing for a row, where that is not simply "not recorded".
WHY_MISSING: dict[str, str] = {"classes": "no objects", "brightness": "no image file read",
                               "contrast": "no image file read"}

#: Verdict of a row whose data neither set holds (rows that
#: :func:`~synthgen.analysis.distances.compare_stats` leaves out).
NEITHER = "recorded in neither set"

SIDES = ("real", "synthetic")


def fmt(value: float | None, unit: str = "") -> str:
    """A number for people: whole numbers from 100 up, three significant digits below."""
    if value is None:
        return "n/a"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}" if unit else text


def _is_categorical(row: GapRow) -> bool:
    return row.key == "classes" or row.key in CATEGORICAL


def _channel(row: GapRow) -> str | None:
    """The pixel histogram a ``pixels.<channel>`` row compares, else ``None``."""
    return row.key.split(".", 1)[1] if row.key.startswith("pixels.") else None


def summaries(row: GapRow) -> tuple[str, str]:
    """The row's real and synthetic cells: each set's distribution in a few words."""
    channel = _channel(row)
    cells = []
    for side in SIDES:
        values = row.values[side]
        if channel is not None:
            cells.append(f"mean {fmt(values['mean'])}")
        elif _is_categorical(row):
            cells.append(_top_share(values, PREFIXES[row.key]))
        elif row.key == "box_centres":
            cells.append(f"mean ({values['mean'][0]:.2f}, {values['mean'][1]:.2f})"
                         if values["n"] else "n/a")
        else:
            cells.append(f"median {fmt(values['median'], quantity(row.key).unit)}"
                         if values["n"] else "n/a")
    return cells[0], cells[1]


def _top_share(counts: Mapping[str, int], prefix: str) -> str:
    total = sum(counts.values())
    if not total:
        return "n/a"
    top = max(counts, key=lambda k: counts[k])
    return f"{total} total, {prefix}{top} {counts[top] / total:.0%}"


def verdict(row: GapRow) -> str:
    """Which way the synthetic set differs from the real one, in plain words."""
    real_has, synthetic_has = row.recorded
    if not real_has or not synthetic_has:
        return _missing(real_has, synthetic_has, WHY_MISSING.get(
            row.key, "no image file read" if _channel(row) else "not recorded"))
    real, synthetic = (row.values[side] for side in SIDES)
    channel = _channel(row)
    if channel is not None:
        return _pixel_verdict(PIXEL_HISTOGRAMS[channel], real, synthetic)
    if _is_categorical(row):
        return _categorical_verdict(row.metric, PREFIXES[row.key], real, synthetic)
    if row.key == "box_centres":
        return _centre_verdict(real, synthetic)
    return _numeric_verdict(quantity(row.key), real, synthetic)


def _missing(real_has: bool, synthetic_has: bool, what: str) -> str:
    if not real_has and not synthetic_has:
        return NEITHER
    return f"{what} in the {'real' if not real_has else 'synthetic'} set"


def _differs(synthetic: float, real: float, scale: float) -> bool:
    return abs(synthetic - real) > LOCATION_TOLERANCE * max(scale, 1e-9)


def _directions(key: str) -> tuple[str, str]:
    """What to say when the synthetic values are lower, and higher (see :data:`DIRECTIONS`)."""
    if key in DIRECTIONS:
        return DIRECTIONS[key]
    name = key.removeprefix(CAMERA_PREFIX)
    return f"synthetic camera {name} is lower", f"synthetic camera {name} is higher"


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
            lower, higher = _directions(q.key)
            words = lower if s < r else higher
            return f"{words}: {stat} {q.label} {fmt(s, q.unit)} vs {fmt(r, q.unit)} real"
    if iqr_s * SPREAD_RATIO < iqr_r or iqr_s > iqr_r * SPREAD_RATIO:
        more_or_less = "less" if iqr_s < iqr_r else "more"
        return (f"synthetic {q.label} varies {more_or_less}: interquartile range "
                f"{fmt(iqr_s, q.unit)} vs {fmt(iqr_r, q.unit)} real")
    return (f"close: median {q.label} {fmt(synthetic['median'], q.unit)} "
            f"vs {fmt(real['median'], q.unit)} real")


def _categorical_verdict(label: str, prefix: str, real: Mapping[str, int],
                         synthetic: Mapping[str, int]) -> str:
    """Name the most over- and under-used values, when their shares differ enough."""
    total_r, total_s = sum(real.values()), sum(synthetic.values())
    keys = list(dict.fromkeys([*real, *synthetic]))
    share_r = {k: real.get(k, 0) / total_r for k in keys}
    share_s = {k: synthetic.get(k, 0) / total_s for k in keys}
    gaps = {k: share_s[k] - share_r[k] for k in keys}
    over = max(keys, key=lambda k: gaps[k])
    under = min(keys, key=lambda k: gaps[k])
    if gaps[over] < SHARE_TOLERANCE and -gaps[under] < SHARE_TOLERANCE:
        return f"close: no {label} share differs by {SHARE_TOLERANCE:.0%} or more"
    parts = []
    if gaps[over] >= SHARE_TOLERANCE:
        parts.append(f"over-represents {prefix}{over} "
                     f"({share_s[over]:.0%} vs {share_r[over]:.0%} real)")
    if -gaps[under] >= SHARE_TOLERANCE:
        parts.append(f"under-represents {prefix}{under} "
                     f"({share_s[under]:.0%} vs {share_r[under]:.0%} real)")
    return "synthetic " + " and ".join(parts)


def _centre_verdict(real: Mapping[str, Any], synthetic: Mapping[str, Any]) -> str:
    """Name the larger shift of the mean box centre, else the larger change of spread."""
    mean_r, mean_s = real["mean"], synthetic["mean"]
    shift = mean_s - mean_r
    axis = int(np.argmax(np.abs(shift)))
    if abs(shift[axis]) >= CENTRE_TOLERANCE:
        # Image y grows downwards.
        where = (("further left", "further right") if axis == 0 else ("higher", "lower"))
        side = "width" if axis == 0 else "height"
        coord = "x" if axis == 0 else "y"
        return (f"synthetic box centres sit {where[int(shift[axis] > 0)]} in the image: "
                f"mean {coord} {mean_s[axis]:.2f} vs {mean_r[axis]:.2f} real "
                f"(fraction of image {side})")
    spread_r, spread_s = real["std"], synthetic["std"]
    ratio = (spread_s + 1e-9) / (spread_r + 1e-9)
    axis = int(np.argmax(np.abs(np.log(ratio))))
    coord = "x" if axis == 0 else "y"
    if ratio[axis] * SPREAD_RATIO < 1 or ratio[axis] > SPREAD_RATIO:
        more_or_less = "less" if ratio[axis] < 1 else "more"
        return (f"synthetic box centres spread {more_or_less} in {coord}: std "
                f"{spread_s[axis]:.2f} vs {spread_r[axis]:.2f} real")
    return (f"close: mean centre ({mean_s[0]:.2f}, {mean_s[1]:.2f}) "
            f"vs ({mean_r[0]:.2f}, {mean_r[1]:.2f}) real")


def _pixel_verdict(words: str, real: Mapping[str, float],
                   synthetic: Mapping[str, float]) -> str:
    """Say how a pooled level histogram differs: its mean first, then its spread."""
    mean_r, std_r = real["mean"], real["std"]
    mean_s, std_s = synthetic["mean"], synthetic["std"]
    if _differs(mean_s, mean_r, max(mean_r, std_r)):
        more_or_less = "less" if mean_s < mean_r else "more"
        return (f"synthetic images have {more_or_less} {words}: mean {words} level "
                f"{fmt(mean_s)} vs {fmt(mean_r)} real")
    if std_s * SPREAD_RATIO < std_r or std_s > std_r * SPREAD_RATIO:
        more_or_less = "less" if std_s < std_r else "more"
        return (f"synthetic {words} levels spread {more_or_less}: std {fmt(std_s)} "
                f"vs {fmt(std_r)} real")
    return f"close: mean {words} level {fmt(mean_s)} vs {fmt(mean_r)} real"
