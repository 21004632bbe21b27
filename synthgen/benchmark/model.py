"""The benchmark's detector: a small CenterNet, trained from scratch on the CPU.

Objects are found as peaks of one heatmap per class at a quarter of the input
resolution (Zhou et al., "Objects as Points", 2019), with each peak's box size (log of
width and height, in output cells) and sub-cell offset regressed beside it. The
backbone is a small residual network (strides 4 to 32: one residual block at stride 8,
two at 16 and at 32) whose features are brought back to stride 4 by a light top-down
path; about 1.0 M parameters, so a training step of 16 images of 640 x 192 takes about
half a second on two cores.

Targets follow TTFNet (Liu et al., 2019): an elliptical Gaussian per object, sigma a
sixth of its size times 0.54. Ignore regions are neither positives nor negatives: the
heatmap loss leaves out the cells they cover (except where a real object's own peak
lies), and they give no box to regress.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Output stride of the heatmap.
STRIDE = 4
#: Gaussian size factor (TTFNet's alpha).
GAUSSIAN_ALPHA = 0.54
#: Boxes regressed per image at most (the rest still shape the heatmap).
MAX_OBJECTS = 128
#: Prior probability of an object at a cell, for the heatmap bias.
PRIOR = 0.01


def _conv_bn(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class _Block(nn.Module):
    """A basic residual block (two 3x3 convolutions)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                   nn.BatchNorm2d(c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.skip(x), inplace=True)


class CenterNet(nn.Module):
    """Heatmap, size and offset heads on a small residual backbone.

    Args:
        num_classes: Heatmap channels, one per benchmarked class.
        widths: Channels at strides 4, 8, 16 and 32.
        head: Channels of the stride-4 features the heads read.
    """

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (32, 64, 96, 128),
                 head: int = 48):
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, 16, 2), _conv_bn(16, widths[0], 2))
        stages, c_in = [], widths[0]
        for i, width in enumerate(widths[1:]):
            # One block at stride 8 (where positions are many), two deeper down.
            blocks = [_Block(c_in, width, 2)]
            if i > 0:
                blocks.append(_Block(width, width, 1))
            stages.append(nn.Sequential(*blocks))
            c_in = width
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList(nn.Conv2d(width, head, 1) for width in widths)
        self.smooth = _conv_bn(head, head)
        self.shared = _conv_bn(head, head)
        self.heatmap = nn.Conv2d(head, num_classes, 1)
        self.size = nn.Conv2d(head, 2, 1)
        self.offset = nn.Conv2d(head, 2, 1)
        nn.init.constant_(self.heatmap.bias, -math.log((1 - PRIOR) / PRIOR))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.stem(x)
        features = [y]
        for stage in self.stages:
            y = stage(y)
            features.append(y)
        top = self.lateral[-1](features[-1])
        for lateral, feature in zip(self.lateral[-2::-1], features[-2::-1], strict=True):
            top = F.interpolate(top, size=feature.shape[-2:], mode="nearest") + lateral(feature)
        top = self.shared(self.smooth(top))
        return {"heatmap": self.heatmap(top), "size": self.size(top),
                "offset": self.offset(top)}


# --- targets ---------------------------------------------------------------------------


def make_targets(boxes: np.ndarray, classes: np.ndarray, ignore: np.ndarray,
                 num_classes: int, out_h: int, out_w: int) -> dict[str, np.ndarray]:
    """Training targets of one image at output resolution.

    Args:
        boxes: ``(n, 4)`` ``x0, y0, x1, y1`` in input pixels.
        classes: ``(n,)`` class index (``-1`` for a box of another class).
        ignore: ``(n,)`` True for boxes neither rewarded nor punished.
        num_classes: Heatmap channels.
        out_h: Output rows.
        out_w: Output columns.

    Returns:
        ``heatmap`` (C, H, W) float32, ``weight`` (C, H, W) float32 (0 where ignored),
        ``index`` (K,) int64 flat cell of each regressed box, ``size`` (K, 2) log sizes,
        ``offset`` (K, 2), ``mask`` (K,) float32.
    """
    heatmap = np.zeros((num_classes, out_h, out_w), np.float32)
    weight = np.ones((num_classes, out_h, out_w), np.float32)
    index = np.zeros(MAX_OBJECTS, np.int64)
    size = np.zeros((MAX_OBJECTS, 2), np.float32)
    offset = np.zeros((MAX_OBJECTS, 2), np.float32)
    mask = np.zeros(MAX_OBJECTS, np.float32)
    scaled = boxes / STRIDE
    for x0, y0, x1, y1 in scaled[ignore]:
        c0, r0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        c1, r1 = min(out_w, math.ceil(x1)), min(out_h, math.ceil(y1))
        if c1 > c0 and r1 > r0:
            weight[:, r0:r1, c0:c1] = 0.0
    keep = ~ignore & (classes >= 0)
    # Large objects first, so a small object's peak is drawn over a large one's tail.
    order = np.argsort(-((scaled[:, 2] - scaled[:, 0]) * (scaled[:, 3] - scaled[:, 1])))
    k = 0
    rows = np.arange(out_h, dtype=np.float32)[:, None]
    cols = np.arange(out_w, dtype=np.float32)[None, :]
    for i in order:
        if not keep[i]:
            continue
        x0, y0, x1, y1 = scaled[i]
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            continue
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ix, iy = min(out_w - 1, max(0, int(cx))), min(out_h - 1, max(0, int(cy)))
        sx, sy = max(GAUSSIAN_ALPHA * w / 6, 0.3), max(GAUSSIAN_ALPHA * h / 6, 0.3)
        g = np.exp(-((cols - ix) ** 2) / (2 * sx * sx) - ((rows - iy) ** 2) / (2 * sy * sy))
        channel = heatmap[classes[i]]
        np.maximum(channel, g.astype(np.float32), out=channel)
        channel[iy, ix] = 1.0
        weight[classes[i], iy, ix] = 1.0
        if k < MAX_OBJECTS:
            index[k] = iy * out_w + ix
            size[k] = (math.log(max(w, 0.25)), math.log(max(h, 0.25)))
            offset[k] = (cx - ix, cy - iy)
            mask[k] = 1.0
            k += 1
    return {"heatmap": heatmap, "weight": weight, "index": index, "size": size,
            "offset": offset, "mask": mask}


# --- losses ----------------------------------------------------------------------------


def losses(outputs: dict[str, torch.Tensor],
           targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CenterNet's penalty-reduced focal loss on the heatmap, L1 on log size and offset.

    Returns:
        ``heatmap``, ``size``, ``offset`` and their weighted sum ``total``.
    """
    logits = outputs["heatmap"]
    gt, weight = targets["heatmap"], targets["weight"]
    pred = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    positive = gt.eq(1).float()
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    pos_loss = -(log_p * (1 - pred) ** 2 * positive).sum()
    neg_loss = -(log_not_p * pred ** 2 * (1 - gt) ** 4 * (1 - positive) * weight).sum()
    n_pos = positive.sum().clamp(min=1.0)
    heatmap_loss = (pos_loss + neg_loss) / n_pos

    mask = targets["mask"].unsqueeze(-1)
    n_box = mask.sum().clamp(min=1.0)
    size_loss = (F.l1_loss(_gather(outputs["size"], targets["index"]), targets["size"],
                           reduction="none") * mask).sum() / n_box
    offset_loss = (F.l1_loss(_gather(outputs["offset"], targets["index"]),
                             targets["offset"], reduction="none") * mask).sum() / n_box
    total = heatmap_loss + size_loss + offset_loss
    return {"total": total, "heatmap": heatmap_loss, "size": size_loss, "offset": offset_loss}


def _gather(feature: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, 2, H, W)`` values at flat cells ``(B, K)`` -> ``(B, K, 2)``."""
    b, c = feature.shape[:2]
    flat = feature.view(b, c, -1).permute(0, 2, 1)
    return flat.gather(1, index.unsqueeze(-1).expand(-1, -1, c))


# --- decoding --------------------------------------------------------------------------


def probabilities(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The network's outputs as :func:`decode` reads them: the heatmap as probabilities
    (``heat``), sizes and offsets as they are."""
    return {"heat": torch.sigmoid(outputs["heatmap"]), "size": outputs["size"],
            "offset": outputs["offset"]}


@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, *, flip: bool = False) -> dict[str, torch.Tensor]:
    """What :func:`decode` reads for a batch of normalised ``images`` (B, 3, H, W).

    With ``flip``, CenterNet's flip test (Zhou et al. 2019): the mirror images go through
    the network too, and their heatmap probabilities and box sizes, mirrored back, are
    averaged with the images' own (sizes as lengths, not logarithms); offsets are the
    images' own (a mirrored x offset would mean one minus itself). Output cells map onto
    their mirror exactly when W is a multiple of 32 (the network's deepest stride; the
    benchmark's widths always are); the strided convolutions sample the mirror image a
    few pixels to the other side of a cell's centre, which training's random crops and
    flips make no matter.
    """
    outputs = probabilities(net(images))
    if not flip:
        return outputs
    mirror = probabilities(net(images.flip(-1)))
    return {"heat": (outputs["heat"] + mirror["heat"].flip(-1)) / 2,
            "size": torch.logaddexp(outputs["size"], mirror["size"].flip(-1)) - math.log(2),
            "offset": outputs["offset"]}


@torch.no_grad()
def decode(outputs: dict[str, torch.Tensor], top_k: int = 100,
           min_score: float = 0.01) -> list[np.ndarray]:
    """Detections per image: rows ``x0, y0, x1, y1, score, class`` in input pixels.

    Reads :func:`probabilities` or :func:`predict`'s outputs. Peaks are cells that equal
    the maximum of their 3x3 neighbourhood (CenterNet's max-pool suppression); the
    ``top_k`` best over all classes are kept.
    """
    heat = outputs["heat"]
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).float()
    b, c, h, w = peaks.shape
    scores, flat = peaks.reshape(b, -1).topk(min(top_k, c * h * w))
    classes = flat // (h * w)
    cells = flat % (h * w)
    ys, xs = (cells // w).float(), (cells % w).float()
    size = _gather(outputs["size"], cells).exp()
    offset = _gather(outputs["offset"], cells)
    cx, cy = xs + offset[..., 0], ys + offset[..., 1]
    half_w, half_h = size[..., 0] / 2, size[..., 1] / 2
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], -1) * STRIDE
    result = []
    for i in range(b):
        keep = scores[i] >= min_score
        rows = torch.cat([boxes[i][keep], scores[i][keep, None],
                          classes[i][keep, None].float()], 1)
        result.append(rows.numpy().astype(np.float64))
    return result
