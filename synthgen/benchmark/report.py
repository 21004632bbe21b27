"""The benchmark's results: a terminal table, a JSON document and a self-contained HTML
page (the three arms side by side, loss curves, evaluation images with detections).

Seeds are summarised per arm and class as the mean, the lowest and the highest value;
the gain of pre-training is the mean of ``synthetic+real`` minus the mean of ``real``,
and each seed's own gain (its ``synthetic+real`` minus its ``real``: both arms start
from the same weights) is given too, so that a mean carried by one lucky seed shows.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from synthgen import __version__
from synthgen.analysis import report as charts
from synthgen.benchmark.train import ARMS, ArmResult, Scaled, bias_record

#: Arm colours in charts and drawn detections (RGB).
ARM_COLOURS = {"real": (76, 114, 176), "synthetic": (221, 132, 82),
               "synthetic+real": (85, 168, 104)}
#: Detections drawn on the report's images score at least this.
DRAW_MIN_SCORE = 0.3
#: Evaluation images shown in the report.
SHOWN_IMAGES = 4


def _spread(values: Sequence[float | None]) -> dict[str, Any]:
    known = [v for v in values if v is not None]
    if not known:
        return {"mean": None, "min": None, "max": None, "values": list(values)}
    return {"mean": round(float(np.mean(known)), 2), "min": min(known), "max": max(known),
            "values": list(values)}


def summarise(results: Sequence[ArmResult], classes: Sequence[str]) -> dict[str, Any]:
    """Mean and spread over seeds per arm, class and metric, and the pre-training gain."""
    summary: dict[str, Any] = {}
    for arm in ARMS:
        runs = [r for r in results if r.arm == arm]
        summary[arm] = {name: {metric: _spread([r.metrics[name][metric] for r in runs])
                               for metric in ("ap50", "ap")} for name in classes}
    gain: dict[str, Any] = {}
    per_seed: dict[str, Any] = {}
    paired = {r.seed: r for r in results if r.arm == "real"}
    for name in classes:
        gain[name], per_seed[name] = {}, {}
        for metric in ("ap50", "ap"):
            with_synth = summary["synthetic+real"][name][metric]["mean"]
            alone = summary["real"][name][metric]["mean"]
            gain[name][metric] = (None if with_synth is None or alone is None
                                  else round(with_synth - alone, 2))
            per_seed[name][metric] = {
                str(r.seed): round(r.metrics[name][metric]
                                   - paired[r.seed].metrics[name][metric], 2)
                for r in results if r.arm == "synthetic+real" and r.seed in paired
                and r.metrics[name][metric] is not None
                and paired[r.seed].metrics[name][metric] is not None}
    return {"arms": summary, "gain": gain, "gain_per_seed": per_seed}


def _cell(spread: dict[str, Any]) -> str:
    if spread["mean"] is None:
        return "-"
    if len(spread["values"]) == 1:
        return f"{spread['mean']:.1f}"
    return f"{spread['mean']:.1f} ({spread['min']:.1f}-{spread['max']:.1f})"


def table(summary: dict[str, Any], classes: Sequence[str], seeds: Sequence[int], *,
          flip_test: bool = False, calibrated: tuple[int, int] | None = None) -> str:
    """The terminal table: one row per arm, AP50 and AP per class, then the gain (with
    several seeds, the lowest and highest of the seeds' own gains beside it); lines
    above say what the numbers are over, whether the flip test was on and, with
    ``calibrated`` (runs whose sizes were calibrated, runs trained on the real set),
    how many were."""
    header = ["trained on"] + [f"{name} {label}" for name in classes
                               for label in ("AP50", "AP")]
    rows = [[arm] + [_cell(summary["arms"][arm][name][metric]) for name in classes
                     for metric in ("ap50", "ap")] for arm in ARMS
            if any(summary["arms"][arm][name]["ap50"]["values"] for name in classes)]
    gain_row = ["gain of pre-training"]
    for name in classes:
        for metric in ("ap50", "ap"):
            value = summary["gain"][name][metric]
            seeds_gains = list(summary["gain_per_seed"][name][metric].values())
            cell = "-" if value is None else f"{value:+.1f}"
            if value is not None and len(seeds_gains) > 1:
                cell += f" ({min(seeds_gains):+.1f} to {max(seeds_gains):+.1f})"
            gain_row.append(cell)
    rows.append(gain_row)
    note = ("" if len(seeds) == 1 else
            f"mean (lowest-highest) over seeds {', '.join(map(str, seeds))}; the gain's "
            "range is of each seed's own gain\n")
    if flip_test:
        note += "detected with the flip test (each image and its mirror image)\n"
    if calibrated is not None:
        done, trained = calibrated
        note += (f"box sizes calibrated on the real set in {done} of the {trained} runs "
                 "trained on it")
        note += (" (the others found too few of its boxes: unchanged)\n" if done < trained
                 else "\n")
    return note + charts.format_table(header, rows, right=range(1, len(header)))


def document(results: Sequence[ArmResult], summary: dict[str, Any], *,
             settings: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The JSON report."""
    return {
        "synthgen_version": __version__,
        "settings": settings,
        "inputs": inputs,
        "runs": [{"seed": r.seed, "arm": r.arm, "metrics": r.metrics, "seconds": r.seconds,
                  "loss": [[step, round(loss, 5)] for step, loss in r.loss],
                  **({} if r.size_bias is None else {"size_bias": bias_record(r.size_bias)})}
                 for r in results],
        "summary": summary,
    }


# --- HTML ------------------------------------------------------------------------------


def _loss_chart(results: Sequence[ArmResult], pretrain_steps: int) -> str:
    fig, (ax,) = charts._figure()
    for r in results:
        steps, losses = zip(*r.loss, strict=True) if r.loss else ((), ())
        colour = "#{:02x}{:02x}{:02x}".format(*ARM_COLOURS[r.arm])
        ax.plot(steps, losses, color=colour, linewidth=1,
                label=f"{r.arm} (seed {r.seed})", alpha=1.0 if r.seed == results[0].seed
                else 0.5)
    ax.axvline(pretrain_steps, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(frameon=False, fontsize="x-small")
    return charts.png_data_uri(fig)


def _shown(evaluation: Sequence[Scaled]) -> list[int]:
    """Up to SHOWN_IMAGES evaluation images with objects, evenly spaced."""
    with_objects = [i for i, item in enumerate(evaluation) if item.source.targets().any()]
    if len(with_objects) <= SHOWN_IMAGES:
        return with_objects
    picks = np.linspace(0, len(with_objects) - 1, SHOWN_IMAGES).round().astype(int)
    return [with_objects[i] for i in picks]


def _drawn(item: Scaled, detections: np.ndarray, arm: str, classes: Sequence[str]) -> str:
    """The image with its ground truth (white; ignore regions grey) and the arm's
    detections scoring at least DRAW_MIN_SCORE, as a JPEG data URI."""
    import cv2

    image = cv2.cvtColor(item.image, cv2.COLOR_RGB2BGR)
    scale = item.scale
    source = item.source
    for box, cls, crowd in zip(source.boxes, source.classes, source.crowd, strict=True):
        if cls < 0 and not crowd:
            continue  # an object of a class not benchmarked
        x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
        cv2.rectangle(image, (x0, y0), (x1, y1),
                      (150, 150, 150) if crowd else (255, 255, 255), 1)
    r, g, b = ARM_COLOURS[arm]
    for row in detections:
        if row[4] < DRAW_MIN_SCORE:
            continue
        x0, y0, x1, y1 = (int(round(v * scale)) for v in row[:4])
        cv2.rectangle(image, (x0, y0), (x1, y1), (b, g, r), 2)
        label = f"{classes[int(row[5])]} {row[4]:.2f}" if len(classes) > 1 else f"{row[4]:.2f}"
        cv2.putText(image, label, (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (b, g, r), 1, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # a uint8 BGR image always encodes; a failure here is a bug
        raise RuntimeError(f"OpenCV could not encode {source.path} as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def html_page(results: Sequence[ArmResult], summary: dict[str, Any], text_table: str, *,
              settings: dict[str, Any], inputs: dict[str, Any],
              evaluation: Sequence[Scaled]) -> str:
    """The self-contained HTML report."""
    classes = settings["classes"]
    body = ["<h1>synthgen benchmark</h1>",
            "<p class=note>Does pre-training on synthetic images help a detector on real "
            "ones? One small detector (CenterNet-style, from scratch) trained three ways "
            "with the same number of steps, scored with COCOeval on the real evaluation "
            "set.</p>",
            "<h2>Results</h2>", f"<pre>{html.escape(text_table)}</pre>"]
    rows = []
    for role, entries in inputs.items():
        for entry in entries:
            counts = ", ".join(f"{k} {v}" for k, v in entry["objects"].items())
            rows.append([role, entry["given"], str(entry["images"]), counts])
    body += ["<h2>Inputs</h2>",
             charts._html_table(("role", "set", "images", "objects"), rows, right=(2,))]
    body += ["<h2>Settings</h2>",
             charts._html_table(("setting", "value"),
                                [[k, str(v)] for k, v in settings.items()])]
    body += ["<h2>Training loss</h2>",
             charts._figure_html(_loss_chart(results, settings["pretrain_steps"]),
                                 "Mean loss per block of steps; the dashed line is where "
                                 "synthetic+real leaves the synthetic images for the real "
                                 "set (or, with --finetune-synthetic, for mixed batches).")]
    first_seed = results[0].seed
    by_arm = {r.arm: r for r in results if r.seed == first_seed}
    shown = _shown(evaluation)
    if shown and by_arm:
        body.append(f"<h2>Evaluation images (seed {first_seed})</h2>")
        body.append(f"<p class=note>White: objects to find; grey: ignore regions; "
                    f"coloured: detections scoring at least {DRAW_MIN_SCORE}.</p>")
        for index in shown:
            figures = [charts._figure_html(
                _drawn(evaluation[index], by_arm[arm].detections[index], arm, classes),
                f"{arm}: {evaluation[index].source.path.name}") for arm in ARMS
                if arm in by_arm]
            body.append('<div class="charts">' + "".join(figures) + "</div>")
    return charts._page("synthgen benchmark", body)
