"""Training and evaluating the benchmark's detector: the three arms, for each seed.

Each arm trains ``steps`` steps of ``batch`` images cropped to ``width x height`` (after
a random rescale of 0.75-1.3, a random placement and a horizontal flip in half the
images; brightness, contrast and saturation jitter), with AdamW whose learning rate
warms up over the first 5 % of steps, stays, and falls along a cosine over the last
30 %. The ``synthetic+real`` arm is the ``synthetic`` arm's weights at step
``round(pretrain_fraction * steps)`` (inside the constant part of its schedule), trained
on for the remaining steps on the real set with a schedule of its own, peaking at
``finetune_lr`` (by default the same ``lr``), each batch ``finetune_synthetic`` synthetic
images, the rest real, when that share is not 0.

With ``average_pretrained`` (a share, 0 by default) the ``synthetic+real`` arm ends by
averaging weights (WiSE-FT: Wortsman et al., "Robust fine-tuning of zero-shot models",
2022): its pre-training then runs a whole schedule of its own over the pre-training steps
(so that it ends at a low learning rate, as a pre-trained detector does), the fine-tuned
weights are averaged with the pre-trained ones (that share of the latter), and the
BatchNorm statistics of the average are measured again on the fine-tuning's batches
(:func:`reestimate_batchnorm`). The arm still trains ``steps`` steps in all.

Evaluation scales each image to ``width`` pixels wide (its whole height kept, padded to
a multiple of 32), with ``flip_test`` averages in the mirror image's heatmap and box
sizes (CenterNet's flip test), keeps the 100 best peaks, maps boxes back to the image's
own pixels and scores them with pycocotools' COCOeval per class: AP (IoU 0.50:0.95) and
AP50. Ignore regions (see :mod:`synthgen.benchmark.data`) are COCO crowd regions there.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from synthgen.benchmark import model as m
from synthgen.benchmark.data import ARMS, BenchmarkError, LabelledImage
from synthgen.formats.boxes import Box

#: Grey the canvas is padded with (RGB), and the input normalisation.
PAD_VALUE = 114
MEAN, STD = 0.45, 0.25
#: Random rescale range in training.
SCALE_RANGE = (0.75, 1.3)
#: A box cut by the crop stays a target if this share of it is left, else it is ignored.
KEEP_SHARE = 0.5
#: Parts of the schedule: warm-up share, and where the cosine decay starts.
WARMUP, DECAY_FROM = 0.05, 0.7


@dataclass
class Settings:
    """The options every arm shares."""

    classes: list[str]
    steps: int = 3000
    batch: int = 16
    width: int = 640
    height: int = 192
    lr: float = 2e-3
    pretrain_fraction: float = 0.5
    threads: int = 2
    #: Share of each fine-tuning batch of the synthetic+real arm taken from the
    #: synthetic images (the rest from the real set).
    finetune_synthetic: float = 0.0
    #: Peak learning rate of the synthetic+real arm's fine-tuning steps (None: ``lr``).
    finetune_lr: float | None = None
    #: Share of the pre-trained weights in the synthetic+real arm's final ones (0: none).
    average_pretrained: float = 0.0
    #: Detect with the flip test (the mirror image's heatmap and sizes averaged in).
    flip_test: bool = False
    #: Re-centre the box sizes of every detector trained on the real set on that set
    #: (:func:`calibrate_sizes`) once it is trained.
    calibrate_sizes: bool = False

    @property
    def pretrain_steps(self) -> int:
        return max(1, min(self.steps - 1, round(self.pretrain_fraction * self.steps)))

    @property
    def finetune_peak_lr(self) -> float:
        """The fine-tuning steps' peak learning rate."""
        return self.lr if self.finetune_lr is None else self.finetune_lr

    @property
    def finetune_synthetic_images(self) -> int:
        """Synthetic images in each fine-tuning batch: at least one real image stays."""
        return min(self.batch - 1, round(self.finetune_synthetic * self.batch))


@dataclass
class Scaled:
    """One training or evaluation image, decoded once and scaled to the input width."""

    image: np.ndarray  # (h, width, 3) uint8 RGB
    source: LabelledImage

    @property
    def scale(self) -> float:
        return self.image.shape[1] / self.source.width


@dataclass
class ArmResult:
    """What one arm of one seed gave."""

    arm: str
    seed: int
    metrics: dict[str, dict[str, float | None]]
    loss: list[tuple[int, float]]
    seconds: float
    detections: list[np.ndarray] = field(default_factory=list, repr=False)
    #: What :func:`calibrate_sizes` removed (median log width and height ratios, boxes
    #: measured on), when the arm's sizes were calibrated; None when not asked, or
    #: too few boxes were found (nothing changed).
    size_bias: tuple[float, float, int] | None = None


def learning_rate(step: int, steps: int, base: float) -> float:
    """The schedule: linear warm-up, constant, cosine decay over the last 30 %."""
    warmup = max(1, round(WARMUP * steps))
    if step < warmup:
        return base * (step + 1) / warmup
    start = round(DECAY_FROM * steps)
    if step < start:
        return base
    progress = (step - start) / max(1, steps - start)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


# --- batches ---------------------------------------------------------------------------


def augment(item: Scaled, rng: np.random.Generator, width: int,
            height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training crop: ``(image, boxes, classes, ignore)`` in crop pixels."""
    import cv2

    scale = rng.uniform(*SCALE_RANGE)
    flip = rng.random() < 0.5
    h, w = item.image.shape[:2]
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    image = cv2.resize(item.image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    shift = []
    for size, limit in ((new_w, width), (new_h, height)):
        # Crop a window of a larger image, or place a smaller one anywhere on the canvas.
        offset = int(rng.integers(0, abs(size - limit) + 1))
        shift.append(-offset if size >= limit else offset)
    dx, dy = shift
    canvas = np.full((height, width, 3), PAD_VALUE, np.uint8)
    src_x0, src_y0 = max(0, -dx), max(0, -dy)
    dst_x0, dst_y0 = max(0, dx), max(0, dy)
    cw = min(width - dst_x0, new_w - src_x0)
    ch = min(height - dst_y0, new_h - src_y0)
    canvas[dst_y0:dst_y0 + ch, dst_x0:dst_x0 + cw] = image[src_y0:src_y0 + ch,
                                                           src_x0:src_x0 + cw]
    source = item.source
    boxes = source.boxes * (item.scale * scale)
    boxes[:, [0, 2]] += dx
    boxes[:, [1, 3]] += dy
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    inside = kept > 0
    ignore = source.ignored_in_training() | (kept < KEEP_SHARE * np.maximum(area, 1e-6))
    if flip:
        canvas = np.ascontiguousarray(canvas[:, ::-1])
        clipped[:, [0, 2]] = width - clipped[:, [2, 0]]
    return canvas, clipped[inside], source.classes[inside], ignore[inside]


def make_batch(items: Sequence[Scaled], rng: np.random.Generator,
               settings: Settings) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A normalised image batch and its stacked targets."""
    images, targets = [], []
    out_h, out_w = settings.height // m.STRIDE, settings.width // m.STRIDE
    for item in items:
        image, boxes, classes, ignore = augment(item, rng, settings.width, settings.height)
        images.append(image)
        targets.append(m.make_targets(boxes, classes, ignore, len(settings.classes),
                                      out_h, out_w))
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    # Photometric jitter: brightness, contrast and saturation per image.
    n = len(items)
    brightness = torch.from_numpy(rng.uniform(-0.15, 0.15, n).astype(np.float32))
    contrast = torch.from_numpy(rng.uniform(0.7, 1.3, n).astype(np.float32))
    saturation = torch.from_numpy(rng.uniform(0.6, 1.4, n).astype(np.float32))
    grey = batch.mean(1, keepdim=True)
    batch = grey + (batch - grey) * saturation.view(n, 1, 1, 1)
    mean = batch.mean((1, 2, 3), keepdim=True)
    batch = (mean + (batch - mean) * contrast.view(n, 1, 1, 1)
             + brightness.view(n, 1, 1, 1)).clamp(0, 1)
    stacked = {key: torch.from_numpy(np.stack([t[key] for t in targets])) for key in targets[0]}
    return (batch - MEAN) / STD, stacked


class _Order:
    """Endless shuffled passes over a list of indices."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n, self.rng, self.queue = n, rng, np.empty(0, np.int64)

    def take(self, k: int) -> np.ndarray:
        while self.queue.size < k:
            self.queue = np.concatenate([self.queue, self.rng.permutation(self.n)])
        taken, self.queue = self.queue[:k], self.queue[k:]
        return taken


def train(net: m.CenterNet, data: Sequence[Scaled], steps: int, settings: Settings,
          rng: np.random.Generator, *, first_step: int = 0,
          on_step: Callable[[int, float], None] | None = None,
          snapshot_at: int | None = None,
          stop_at: int | None = None, mixed: Sequence[Scaled] = (),
          mixed_per_batch: int = 0,
          peak_lr: float | None = None) -> tuple[list[tuple[int, float]], dict | None]:
    """Train ``net`` in place for ``steps`` steps on ``data``.

    Args:
        stop_at: Stop after this many steps (the schedule still spans ``steps``).
        mixed, mixed_per_batch: Take this many images of each batch from ``mixed`` (in
            shuffled passes of their own), the rest from ``data``.
        peak_lr: The schedule's peak learning rate (None: ``settings.lr``).

    Returns:
        The loss curve (mean loss of every block of steps, as ``(step, loss)``) and, if
        ``snapshot_at`` is given, a copy of the weights after that many steps.
    """
    peak = settings.lr if peak_lr is None else peak_lr
    optimizer = torch.optim.AdamW(net.parameters(), lr=peak, weight_decay=1e-4)
    order = _Order(len(data), rng)
    mixed_order = _Order(len(mixed), rng)
    curve: list[tuple[int, float]] = []
    window: list[float] = []
    every = max(1, steps // 100)
    snapshot = None
    net.train()
    for step in range(steps if stop_at is None else min(steps, stop_at)):
        if snapshot_at is not None and step == snapshot_at:
            snapshot = {k: v.detach().clone() for k, v in net.state_dict().items()}
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak)
        items = [data[i] for i in order.take(settings.batch - mixed_per_batch)]
        items += [mixed[i] for i in mixed_order.take(mixed_per_batch)]
        images, targets = make_batch(items, rng, settings)
        loss = m.losses(net(images), targets)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise BenchmarkError(f"the training loss became {value} at step "
                                 f"{first_step + step + 1}; try a lower --lr")
        window.append(value)
        if (len(window) == every or step == steps - 1 or step + 1 in (stop_at, snapshot_at)):
            curve.append((first_step + step + 1, float(np.mean(window))))
            window = []
        if on_step is not None:
            on_step(first_step + step + 1, value)
    if snapshot_at is not None and snapshot is None:
        snapshot = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return curve, snapshot


#: Batches the BatchNorm statistics of averaged weights are measured on.
BATCHNORM_BATCHES = 50


def averaged_weights(tuned: dict[str, torch.Tensor], pretrained: dict[str, torch.Tensor],
                     share: float) -> dict[str, torch.Tensor]:
    """``share`` of ``pretrained`` and ``1 - share`` of ``tuned``, tensor by tensor; the
    integer counters (BatchNorm's batches seen) are ``tuned``'s."""
    return {key: (value + share * (pretrained[key] - value)
                  if value.is_floating_point() else value.clone())
            for key, value in tuned.items()}


@torch.no_grad()
def reestimate_batchnorm(net: m.CenterNet, data: Sequence[Scaled], settings: Settings,
                         rng: np.random.Generator, *, mixed: Sequence[Scaled] = (),
                         mixed_per_batch: int = 0,
                         batches: int = BATCHNORM_BATCHES) -> None:
    """Measure every BatchNorm layer's running mean and variance again, as the plain mean
    over ``batches`` training batches of ``data`` (and ``mixed``, as :func:`train` takes
    them), weights untouched: an average of two networks' weights does not have the
    average of their statistics."""
    layers = [layer for layer in net.modules() if isinstance(layer, torch.nn.BatchNorm2d)]
    saved, was_training = [layer.momentum for layer in layers], net.training
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative mean over the batches
    order, mixed_order = _Order(len(data), rng), _Order(len(mixed), rng)
    net.train()
    try:
        for _ in range(batches):
            items = [data[i] for i in order.take(settings.batch - mixed_per_batch)]
            items += [mixed[i] for i in mixed_order.take(mixed_per_batch)]
            net(make_batch(items, rng, settings)[0])
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum
        net.train(was_training)


def synthetic_then_real(seed: int, synthetic: Sequence[Scaled], real: Sequence[Scaled],
                        settings: Settings, *, snapshot: dict[str, torch.Tensor] | None = None,
                        told: Callable[[str, int], Callable[[int, float], None] | None]
                        = lambda arm, n: None,
                        ) -> tuple[m.CenterNet, list[tuple[int, float]]]:
    """The ``synthetic+real`` arm's detector of ``seed`` and its loss curve: of every
    step when averaging (its pre-training is its own), else of the steps after the
    synthetic ones (those are the ``synthetic`` arm's).

    Args:
        snapshot: The ``synthetic`` arm's weights after the pre-training steps, when that
            arm was trained; without it the synthetic steps are trained here (as that arm
            trains them). Not used when averaging, which pre-trains with a schedule of its
            own.
        told: As ``run_seed``'s progress.
    """
    pre = settings.pretrain_steps
    net = new_net(settings, seed)
    head: list[tuple[int, float]] = []
    pretrained = None
    if settings.average_pretrained > 0:
        head, _ = train(net, synthetic, pre, settings, seeded_rng(seed, 1),
                        on_step=told("synthetic+real pre-training", pre))
        pretrained = {k: v.detach().clone() for k, v in net.state_dict().items()}
    else:
        if snapshot is None:
            _, snapshot = train(net, synthetic, settings.steps, settings, seeded_rng(seed, 1),
                                snapshot_at=pre, stop_at=pre, on_step=told("synthetic", pre))
            net = new_net(settings, seed)
        net.load_state_dict(snapshot)
    mixing = {"mixed": synthetic, "mixed_per_batch": settings.finetune_synthetic_images}
    tail, _ = train(net, real, settings.steps - pre, settings, seeded_rng(seed, 2),
                    first_step=pre, on_step=told("synthetic+real", settings.steps - pre),
                    peak_lr=settings.finetune_peak_lr, **mixing)
    if pretrained is not None:
        net.load_state_dict(averaged_weights(net.state_dict(), pretrained,
                                             settings.average_pretrained))
        reestimate_batchnorm(net, real, settings, seeded_rng(seed, 3), **mixing)
    return net, head + tail


#: Fewest labelled boxes a detector must find (IoU >= :data:`CALIBRATION_IOU`) for its
#: sizes to be calibrated on them.
CALIBRATION_MIN_BOXES = 10
CALIBRATION_IOU = 0.5


@torch.no_grad()
def size_bias(net: m.CenterNet, data: Sequence[Scaled], *, flip: bool = False
              ) -> tuple[float, float, int]:
    """How much wider and taller than their labels ``net`` detects the boxes of ``data``:
    the medians of ``log(detected / labelled)`` width and height over the labelled boxes
    (of a benchmarked class, not ignored in training) whose best detection of their class
    overlaps them by at least :data:`CALIBRATION_IOU`, and how many such boxes there are
    (medians 0 when none)."""
    widths, heights = [], []
    for item, dets in zip(data, detect(net, data, flip=flip), strict=True):
        source = item.source
        for box, cls, skip in zip(source.boxes, source.classes, source.ignored_in_training(),
                                  strict=True):
            mine = dets[dets[:, 5] == cls] if cls >= 0 and not skip else dets[:0]
            if not len(mine):
                continue
            overlap = _iou(box, mine[:, :4])
            best = int(overlap.argmax())
            if overlap[best] < CALIBRATION_IOU:
                continue
            x0, y0, x1, y1 = mine[best, :4]
            widths.append(math.log((x1 - x0) / (box[2] - box[0])))
            heights.append(math.log((y1 - y0) / (box[3] - box[1])))
    if not widths:
        return 0.0, 0.0, 0
    return float(np.median(widths)), float(np.median(heights)), len(widths)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``x0, y0, x1, y1`` box with each of ``boxes`` ``(n, 4)``."""
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / ((box[2] - box[0]) * (box[3] - box[1]) + areas - inter)


@torch.no_grad()
def calibrate_sizes(net: m.CenterNet, data: Sequence[Scaled], *,
                    flip: bool = False) -> tuple[float, float, int] | None:
    """Re-centre the detector's box sizes on a labelled set: subtract :func:`size_bias`
    from the size head's bias (the head gives log sizes), so that its boxes there are, in
    the median, as wide and as tall as their labels. The head is shared by every class:
    with several, one shift measured over all their boxes moves them all. Returns the
    bias removed, or None (nothing changed) when fewer than
    :data:`CALIBRATION_MIN_BOXES` boxes are found."""
    width, height, found = size_bias(net, data, flip=flip)
    if found < CALIBRATION_MIN_BOXES:
        return None
    net.size.bias -= torch.tensor([width, height], dtype=net.size.bias.dtype)
    return width, height, found


def bias_record(bias: tuple[float, float, int] | None) -> dict[str, Any] | None:
    """What :func:`calibrate_sizes` returned, as the JSON reports record it."""
    if bias is None:
        return None
    return {"log_width": round(bias[0], 5), "log_height": round(bias[1], 5),
            "boxes": bias[2]}


def finish(net: m.CenterNet, real: Sequence[Scaled],
           settings: Settings) -> tuple[float, float, int] | None:
    """What follows the training of a detector that learnt from the real set ``real``:
    its sizes calibrated on it with ``settings.calibrate_sizes`` (what
    :func:`calibrate_sizes` returns), else nothing (None)."""
    if not settings.calibrate_sizes:
        return None
    return calibrate_sizes(net, real, flip=settings.flip_test)


# --- evaluation ------------------------------------------------------------------------


@torch.no_grad()
def detect(net: m.CenterNet, data: Sequence[Scaled], batch: int = 8, *,
           flip: bool = False) -> list[np.ndarray]:
    """Detections per image in its source pixels: rows ``x0, y0, x1, y1, score, class``;
    with ``flip``, of the flip test (:func:`synthgen.benchmark.model.predict`)."""
    net.eval()
    result: list[np.ndarray] = []
    for start in range(0, len(data), batch):
        chunk = data[start:start + batch]
        rows = max(item.image.shape[0] for item in chunk)
        rows = -(-rows // 32) * 32
        width = chunk[0].image.shape[1]
        canvas = np.full((len(chunk), rows, width, 3), PAD_VALUE, np.uint8)
        for i, item in enumerate(chunk):
            canvas[i, :item.image.shape[0]] = item.image
        images = torch.from_numpy(canvas).permute(0, 3, 1, 2).float() / 255.0
        found = m.decode(m.predict(net, (images - MEAN) / STD, flip=flip))
        for item, dets in zip(chunk, found, strict=True):
            dets = dets.copy()
            dets[:, :4] /= item.scale
            dets[:, [0, 2]] = dets[:, [0, 2]].clip(0, item.source.width)
            dets[:, [1, 3]] = dets[:, [1, 3]].clip(0, item.source.height)
            result.append(dets)
    return result


def ground_truth(images: Sequence[LabelledImage], classes: Sequence[str]) -> dict[str, Any]:
    """The evaluation set as a COCO document for COCOeval: targets of their class, every
    ignore region a crowd of each benchmarked class."""
    coco_images, annotations = [], []
    for number, image in enumerate(images, start=1):
        coco_images.append({"id": number, "width": image.width, "height": image.height})
        for row, cls, crowd in zip(image.boxes, image.classes, image.crowd, strict=True):
            if cls < 0 and not crowd:
                continue  # an object of a class not benchmarked plays no part
            box = Box(*(float(v) for v in row))
            # An ignore region of another class (KITTI's DontCare is a car crowd) may hold
            # anything: it is a crowd of every benchmarked class, as in training.
            for category in [int(cls)] if cls >= 0 and not crowd else range(len(classes)):
                annotations.append({"id": len(annotations) + 1, "image_id": number,
                                    "category_id": category + 1,
                                    "bbox": box.to_xywh(), "area": box.area,
                                    "iscrowd": int(crowd)})
    return {"images": coco_images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": name} for i, name in enumerate(classes)]}


def coco_metrics(gt: dict[str, Any], detections: Sequence[np.ndarray],
                 classes: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """COCO AP and AP50 per class (None where the evaluation set has no such object)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        results = [{"image_id": number, "category_id": int(row[5]) + 1,
                    # In the detections' own float32, then to float, as pycocotools reads.
                    "bbox": [float(v) for v in Box(*row[:4]).to_xywh()],
                    "score": float(row[4])}
                   for number, dets in enumerate(detections, start=1) for row in dets
                   if row[2] > row[0] and row[3] > row[1]]
        metrics: dict[str, dict[str, float | None]] = {}
        for k, name in enumerate(classes):
            has_gt = any(a["category_id"] == k + 1 and not a["iscrowd"]
                         for a in gt["annotations"])
            mine = [r for r in results if r["category_id"] == k + 1]
            if not has_gt:
                metrics[name] = {"ap": None, "ap50": None}
                continue
            if not mine:
                metrics[name] = {"ap": 0.0, "ap50": 0.0}
                continue
            evaluator = COCOeval(coco_gt, coco_gt.loadRes(mine), "bbox")
            evaluator.params.catIds = [k + 1]
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
            metrics[name] = {"ap": round(100 * max(0.0, float(evaluator.stats[0])), 2),
                             "ap50": round(100 * max(0.0, float(evaluator.stats[1])), 2)}
    return metrics


# --- arms ------------------------------------------------------------------------------


def seeded_rng(seed: int, arm: int) -> np.random.Generator:
    """The generator of batch order and augmentation for arm ``arm`` (0 real, 1
    synthetic, 2 the real part of synthetic+real, 3 the batches averaged weights'
    BatchNorm statistics are measured on) of ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, arm])))


def new_net(settings: Settings, seed: int) -> m.CenterNet:
    """A detector with the starting weights of ``seed``."""
    torch.manual_seed(seed)
    return m.CenterNet(len(settings.classes))


def run_seed(seed: int, synthetic: Sequence[Scaled], real: Sequence[Scaled],
             evaluation: Sequence[Scaled], settings: Settings, *,
             arms: Sequence[str] = ARMS,
             progress: Callable[[str, int], Any] | None = None) -> list[ArmResult]:
    """The arms for one seed, in :data:`ARMS` order.

    Args:
        arms: The arms to train; ``synthetic+real`` without ``synthetic`` still trains
            the synthetic arm's first steps it starts from (unless it averages weights:
            then it pre-trains on its own, ``synthetic`` or not).
        progress: Called with an arm's name and its number of steps; returns a callable
            ``(step, loss)`` told after every step (or None).
    """
    torch.set_num_threads(settings.threads)
    gt = ground_truth([item.source for item in evaluation], settings.classes)
    results = []

    def evaluated(arm: str, net: m.CenterNet, curve: list[tuple[int, float]],
                  started: float) -> ArmResult:
        # An arm trained on the real set has its sizes calibrated on it when asked; the
        # synthetic arm never sees a real label.
        bias = finish(net, real, settings) if arm != "synthetic" else None
        dets = detect(net, evaluation, flip=settings.flip_test)
        return ArmResult(arm=arm, seed=seed,
                         metrics=coco_metrics(gt, dets, settings.classes), loss=curve,
                         seconds=round(time.perf_counter() - started, 1), detections=dets,
                         size_bias=bias)

    def told(arm: str, n: int) -> Callable[[int, float], None] | None:
        return progress(arm, n) if progress else None

    if "real" in arms:
        started = time.perf_counter()
        net = new_net(settings, seed)
        curve, _ = train(net, real, settings.steps, settings, seeded_rng(seed, 0),
                         on_step=told("real", settings.steps))
        results.append(evaluated("real", net, curve, started))

    # The synthetic+real arm starts from the synthetic arm's weights after the
    # pre-training steps, unless it averages weights (it pre-trains on its own then).
    shares = "synthetic+real" in arms and settings.average_pretrained == 0
    pre, pre_seconds, head, snapshot = settings.pretrain_steps, 0.0, [], None
    if "synthetic" in arms or shares:
        started = time.perf_counter()
        net = new_net(settings, seed)
        whole = "synthetic" in arms
        curve, snapshot = train(net, synthetic, settings.steps, settings, seeded_rng(seed, 1),
                                snapshot_at=pre, stop_at=None if whole else pre,
                                on_step=told("synthetic", settings.steps if whole else pre))
        done = settings.steps if whole else pre
        pre_seconds = (time.perf_counter() - started) * pre / done
        head = [point for point in curve if point[0] <= pre]
        if whole:
            results.append(evaluated("synthetic", net, curve, started))

    if "synthetic+real" in arms:
        started = time.perf_counter() - (pre_seconds if shares else 0.0)
        net, curve = synthetic_then_real(seed, synthetic, real, settings,
                                         snapshot=snapshot if shares else None, told=told)
        results.append(evaluated("synthetic+real", net, head + curve if shares else curve,
                                 started))
    return results
