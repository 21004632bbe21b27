"""Drawing on one image: boxes, their names, category colours and label layers in colour.

The leaf of :mod:`synthgen.viz`: :mod:`~synthgen.viz.sheet` lays drawn tiles out and
:mod:`~synthgen.viz.preview` decides what to show. How a box is drawn, in one place:

1. Boxes arrive as ``xyxy`` float pixel-edge coordinates, the rows of an array of
   :class:`~synthgen.formats.boxes.Box` edges (a box over pixel columns 10..19 has x0=10,
   x1=20). COCO ``[x, y, w, h]`` is converted once, in :meth:`Boxes.from_coco`; renderer
   labels already are boxes (:meth:`Boxes.from_labels`).
2. The tile scale ``(sx, sy)`` = tile size / image size multiplies the edges, and each
   edge is rounded to the nearest pixel boundary: the box covers the pixel span
   ``[round(x0 * sx), round(x1 * sx))``, at least one pixel wide, clipped to the tile.
3. The outline is the outer ring of that span, so its outer edge lies on the scaled box
   edge within half a pixel at any scale. It is :data:`THICKNESS` px wide, or 1 px and
   half transparent when the visibility is below :data:`LOW_VISIBILITY`; dashed for
   amodal boxes.
4. Ignore regions (``iscrowd: 1``; synthgen's objects too small, too occluded or too
   faint to box) are hatched inside their span and outlined 1 px, dashed, in
   :data:`IGNORE_COLOR` grey.
5. Names are drawn after every outline, on a patch of the box colour, so none is hidden;
   only beside boxes at least :data:`MIN_NAMED_SIZE` px on both sides, because the names
   of far-away objects would cover the scene. The sheet's legend maps colours to names.
"""

from __future__ import annotations

import hashlib
import math
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np

from synthgen.errors import DatasetError
from synthgen.formats.boxes import Box

#: One fixed colour (RGB) per synthgen category: saturated and bright, so they stand out
#: from grey asphalt, green verges and blue sky, and black text on them stays legible.
CATEGORY_COLORS: Final[dict[str, tuple[int, int, int]]] = {
    "car": (255, 56, 56),
    "truck": (255, 150, 0),
    "bus": (255, 230, 0),
    "pedestrian": (255, 0, 230),
    "cyclist": (0, 255, 120),
    "traffic_light": (0, 225, 255),
    "traffic_sign": (160, 110, 255),
}

THICKNESS: Final = 2
MIN_NAMED_SIZE: Final = 8
LOW_VISIBILITY: Final = 0.5
DIM_ALPHA: Final = 0.5
HATCH_SPACING: Final = 6
DASH_LENGTH: Final = 6
#: Outline of ignore regions: a neutral grey, unlike every category colour.
IGNORE_COLOR: Final = (170, 170, 170)

FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE: Final = 0.4


def category_color(name: str) -> tuple[int, int, int]:
    """The RGB colour boxes of category ``name`` are drawn in.

    Names outside synthgen's categories (real datasets have their own) get a bright colour
    derived from an MD5 of the name, so it is the same in every run and on every machine.
    """
    color = CATEGORY_COLORS.get(name)
    if color is not None:
        return color
    hue = int.from_bytes(hashlib.md5(name.encode("utf-8")).digest()[:2], "big") / 65536.0
    return _hsv_to_rgb(np.array([hue]), saturation=0.85)[0]


def _hsv_to_rgb(hues: np.ndarray, *, saturation: float) -> list[tuple[int, int, int]]:
    """Fully bright RGB colours for hues in [0, 1)."""
    hsv = np.zeros((1, len(hues), 3), np.float32)
    hsv[0, :, 0] = hues * 360.0
    hsv[0, :, 1] = saturation
    hsv[0, :, 2] = 1.0
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]
    return [tuple(int(v) for v in np.round(px * 255)) for px in rgb]


@dataclass(frozen=True)
class Boxes:
    """Boxes to draw on one image, in pixel-edge ``xyxy`` coordinates of that image.

    What is drawn with each box rides along; the boxes themselves are a float array whose
    rows are :class:`~synthgen.formats.boxes.Box` edges, as drawing takes them all at once.

    Attributes:
        xyxy: ``(n, 4)`` float array of x0, y0, x1, y1.
        categories: Category name of each box.
        visibility: ``(n,)`` visible fraction of each object; NaN where unknown.
        crowd: ``(n,)`` bool, True for ignore regions.
        contrast: ``(n,)`` contrast of each object in the final image
            (:func:`synthgen.labels.object_contrast`); NaN where unknown. None is all NaN.
    """

    xyxy: np.ndarray
    categories: tuple[str, ...]
    visibility: np.ndarray
    crowd: np.ndarray
    contrast: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.categories)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must have shape ({n}, 4), not {self.xyxy.shape}")
        if self.contrast is None:
            object.__setattr__(self, "contrast", np.full(n, np.nan))
        if self.visibility.shape != (n,) or self.crowd.shape != (n,) \
                or self.contrast.shape != (n,):
            raise ValueError("visibility, crowd and contrast need one entry per box")

    def __len__(self) -> int:
        return len(self.categories)

    @classmethod
    def create(cls, xyxy: Sequence[Sequence[float]] | np.ndarray, categories: Iterable[str],
               visibility: Sequence[float] | np.ndarray | None = None,
               crowd: Sequence[bool] | np.ndarray | None = None,
               contrast: Sequence[float] | np.ndarray | None = None) -> Boxes:
        """Build from plain sequences; unknown visibility and contrast are NaN, crowd
        defaults to False."""
        categories = tuple(categories)
        n = len(categories)
        return cls(
            xyxy=np.asarray(xyxy, np.float64).reshape(n, 4),
            categories=categories,
            visibility=(np.full(n, np.nan) if visibility is None
                        else np.asarray(visibility, np.float64)),
            crowd=np.zeros(n, bool) if crowd is None else np.asarray(crowd, bool),
            contrast=(np.full(n, np.nan) if contrast is None
                      else np.asarray(contrast, np.float64)),
        )

    @classmethod
    def from_coco(cls, annotations: Sequence[Mapping[str, Any]],
                  category_names: Mapping[int, str]) -> Boxes:
        """Convert COCO annotations (``bbox`` = x, y, w, h) to xyxy boxes.

        Args:
            annotations: The annotations of one image.
            category_names: Category id -> name; ids not in it are shown as ``#<id>``.

        Returns:
            The boxes, with ``visibility`` and ``contrast`` from the optional annotation
            fields of those names.

        Raises:
            DatasetError: An annotation has no ``bbox`` of four finite numbers.
        """
        xyxy, names, visibility, crowd, contrast = [], [], [], [], []
        for ann in annotations:
            xyxy.append(Box.from_xywh(_bbox_of(ann)))
            cid = ann.get("category_id")
            names.append(category_names.get(cid, f"#{cid}"))
            vis = ann.get("visibility")
            visibility.append(finite_number(vis, math.nan))
            crowd.append(bool(ann.get("iscrowd", 0)))
            contrast.append(finite_number(ann.get("contrast"), math.nan))
        return cls.create(xyxy, names, visibility, crowd, contrast)

    @classmethod
    def from_labels(cls, labels: Iterable[Any], *, amodal: bool = False,
                    contrast: Sequence[float | None] | None = None) -> Boxes:
        """Boxes of renderer labels (``.category``, ``.bbox``/``.bbox_amodal``, ``.visibility``,
        and if they have them ``.ignored`` and ``.contrast``).

        Args:
            labels: :class:`~synthgen.labels.ObjectLabel` objects, or anything shaped alike.
            amodal: Take the whole projected object's box instead of the visible part's.
            contrast: Each label's contrast, in place of its own ``.contrast``.
        """
        labels = list(labels)
        if contrast is None:
            contrast = [getattr(label, "contrast", None) for label in labels]
        return cls.create(
            [label.bbox_amodal if amodal else label.bbox for label in labels],
            [label.category for label in labels],
            [label.visibility for label in labels],
            [getattr(label, "ignored", None) is not None for label in labels],
            [math.nan if value is None else value for value in contrast],
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_number(value: Any, default: Any = None) -> Any:
    """``value`` as a finite float, else ``default`` (not a number, NaN, infinite, or an
    integer too large for a float: JSON has them); how fields of COCO entries are read."""
    if not _is_number(value):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default


def _bbox_of(ann: Mapping[str, Any]) -> tuple[float, float, float, float]:
    bbox = ann.get("bbox")
    values = [finite_number(v) for v in bbox] if isinstance(bbox, list) else []
    if len(values) != 4 or None in values or values[2] < 0 or values[3] < 0:
        shown = reprlib.repr(bbox)
        raise DatasetError(
            f"annotation {reprlib.repr(ann.get('id', '?'))}: 'bbox' must be four finite "
            f"numbers [x, y, w, h] with w, h >= 0, not {shown}"
        )
    x, y, w, h = values
    return x, y, w, h


def pixel_spans(xyxy: np.ndarray, scale: tuple[float, float],
                shape: tuple[int, int]) -> np.ndarray:
    """The pixel rectangles boxes cover on a canvas scaled by ``scale``.

    Args:
        xyxy: ``(n, 4)`` boxes in pixel-edge coordinates of the unscaled image.
        scale: ``(sx, sy)`` canvas pixels per image pixel.
        shape: ``(height, width)`` of the canvas.

    Returns:
        ``(n, 4)`` int array of column/row spans ``c0, r0, c1, r1`` (end exclusive), each
        at least one pixel and clipped to the canvas; a box wholly outside the canvas gets
        an empty span (``c1 <= c0`` or ``r1 <= r0``).
    """
    sx, sy = scale
    height, width = shape
    scaled = np.asarray(xyxy, np.float64) * np.array([sx, sy, sx, sy])
    # floor(v + 0.5) rather than np.round: half-pixel edges always go the same way.
    spans = np.floor(scaled + 0.5).astype(np.int64)
    # A box thinner than a pixel after scaling still shows as one pixel line.
    spans[:, 2] = np.maximum(spans[:, 2], spans[:, 0] + 1)
    spans[:, 3] = np.maximum(spans[:, 3], spans[:, 1] + 1)
    spans[:, [0, 2]] = np.clip(spans[:, [0, 2]], 0, width)
    spans[:, [1, 3]] = np.clip(spans[:, [1, 3]], 0, height)
    return spans


def draw_boxes(canvas: np.ndarray, boxes: Boxes, *, scale: tuple[float, float] = (1.0, 1.0),
               dashed: bool = False, names: bool = True,
               show_contrast: bool = False) -> np.ndarray:
    """Draw boxes onto a copy of ``canvas`` (see the module docstring for how).

    Args:
        canvas: ``HxWx3`` uint8 RGB image, already at tile size; left unchanged.
        boxes: Boxes in coordinates of the unscaled image.
        scale: ``(sx, sy)`` canvas pixels per image pixel.
        dashed: Dashed outlines (amodal boxes in the layers view).
        names: Write each box's category name beside it (if the box is big enough).
        show_contrast: Add each object's contrast, where known, to its name.

    Returns:
        The new image.
    """
    out = canvas.copy()
    spans = pixel_spans(boxes.xyxy, scale, out.shape[:2])
    drawn = []
    for i, (c0, r0, c1, r1) in enumerate(spans):
        if c1 <= c0 or r1 <= r0:
            continue
        color = category_color(boxes.categories[i])
        dim = bool(boxes.visibility[i] < LOW_VISIBILITY)  # NaN (unknown) compares False
        if boxes.crowd[i]:
            _blend(out, _hatch_mask(c0, r0, c1, r1), (c0, r0), color, DIM_ALPHA)
            ring = _ring_mask(c1 - c0, r1 - r0, 1) & _dash_mask(c0, r0, c1, r1)
            _blend(out, ring, (c0, r0), IGNORE_COLOR, 1.0)
            drawn.append(i)
            continue
        ring = _ring_mask(c1 - c0, r1 - r0, 1 if dim else THICKNESS)
        if dashed:
            ring &= _dash_mask(c0, r0, c1, r1)
        _blend(out, ring, (c0, r0), color, DIM_ALPHA if dim else 1.0)
        drawn.append(i)
    if names:
        for i in drawn:
            c0, r0, c1, r1 = spans[i]
            if min(c1 - c0, r1 - r0) >= MIN_NAMED_SIZE:
                _draw_name(out, spans[i], box_text(boxes, i, show_contrast),
                           IGNORE_COLOR if boxes.crowd[i]
                           else category_color(boxes.categories[i]))
    return out


def _blend(canvas: np.ndarray, mask: np.ndarray, origin: tuple[int, int],
           color: tuple[int, int, int], alpha: float) -> None:
    c0, r0 = origin
    region = canvas[r0:r0 + mask.shape[0], c0:c0 + mask.shape[1]]
    if alpha >= 1.0:
        region[mask] = color
    else:
        mixed = (1.0 - alpha) * region[mask] + alpha * np.asarray(color, np.float64)
        region[mask] = np.round(mixed).astype(np.uint8)


def _ring_mask(width: int, height: int, thickness: int) -> np.ndarray:
    mask = np.ones((height, width), bool)
    mask[thickness:height - thickness, thickness:width - thickness] = False
    return mask


def _dash_mask(c0: int, r0: int, c1: int, r1: int) -> np.ndarray:
    # Along a horizontal edge x changes, along a vertical one y does: one pattern dashes both.
    rows, cols = np.ogrid[r0:r1, c0:c1]
    return ((rows + cols) // DASH_LENGTH) % 2 == 0


def _hatch_mask(c0: int, r0: int, c1: int, r1: int) -> np.ndarray:
    # Anchored to canvas coordinates so neighbouring ignore regions hatch as one pattern.
    rows, cols = np.ogrid[r0:r1, c0:c1]
    return (cols - rows) % HATCH_SPACING == 0


def box_text(boxes: Boxes, i: int, show_contrast: bool = False) -> str:
    """The text :func:`draw_boxes` writes beside box ``i``: its category, its contrast
    when ``show_contrast`` and known (``car c0.137``), then ``(ignore)`` for an ignore
    region or the visibility of a box below :data:`LOW_VISIBILITY` (``car 30%``)."""
    name = boxes.categories[i]
    contrast = boxes.contrast[i]
    if show_contrast and math.isfinite(contrast):
        name = f"{name} c{contrast:.3f}"
    if boxes.crowd[i]:
        return f"{name} (ignore)"
    if boxes.visibility[i] < LOW_VISIBILITY:
        return f"{name} {boxes.visibility[i]:.0%}"
    return name


def _draw_name(canvas: np.ndarray, span: np.ndarray, text: str,
               color: tuple[int, int, int]) -> None:
    """Write ``text`` black on a patch of ``color``: above the box, else below, else inside."""
    text = ascii_text(text)
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
    patch_w, patch_h = text_w + 4, text_h + baseline + 2
    height, width = canvas.shape[:2]
    c0, r0, _, r1 = (int(v) for v in span)
    if r0 - patch_h >= 0:
        top = r0 - patch_h
    elif r1 + patch_h <= height:
        top = r1
    else:
        top = r0
    left = max(0, min(c0, width - patch_w))
    canvas[top:top + patch_h, left:left + patch_w] = color
    cv2.putText(canvas, text, (left + 2, top + text_h + 1), FONT, FONT_SCALE, (0, 0, 0), 1,
                cv2.LINE_AA)


def ascii_text(text: str) -> str:
    """``text`` with every non-ASCII character replaced by ``?``, as it is drawn."""
    # cv2's Hershey fonts only have ASCII glyphs; make the substitution explicit.
    return text.encode("ascii", "replace").decode("ascii")


def fit_text(text: str, width: int, *, keep_end: bool = False) -> str:
    """Shorten ``text`` with ``...`` until it fits ``width`` pixels in the caption font.

    Args:
        text: The text.
        width: Available width in pixels.
        keep_end: Cut from the start instead (the end of a file name tells files apart).
    """
    text = ascii_text(text)

    def fits(candidate: str) -> bool:
        return cv2.getTextSize(candidate, FONT, FONT_SCALE, 1)[0][0] <= width

    if fits(text):
        return text
    for keep in range(len(text) - 1, -1, -1):
        candidate = "..." + text[len(text) - keep:] if keep_end else text[:keep] + "..."
        if keep == 0 or fits(candidate):
            return candidate
    return ""


# --- label layers -----------------------------------------------------------------------


def instance_colors(instance_map: np.ndarray) -> np.ndarray:
    """An instance id map as RGB: one distinct colour per id, 0 (no object) black."""
    top = int(instance_map.max(initial=0))
    ids = np.arange(top + 1, dtype=np.float64)
    # Golden-ratio steps put consecutive ids (often neighbours in the scene) far apart in hue.
    lut = np.array([(0, 0, 0), *_hsv_to_rgb((ids[1:] * 0.6180339887) % 1.0, saturation=0.75)],
                   np.uint8)
    return lut[instance_map]


def depth_colors(depth: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
    """A depth map as RGB on a log scale, near red to far blue; sky (inf) and NaN black.

    Returns:
        The image and the ``(near, far)`` metres the colours span, None if nothing is finite.
    """
    finite = np.isfinite(depth) & (depth > 0)
    out = np.zeros((*depth.shape, 3), np.uint8)
    if not finite.any():
        return out, None
    near, far = float(depth[finite].min()), float(depth[finite].max())
    log_depth = np.log(np.where(finite, depth, near))
    span = max(math.log(far) - math.log(near), 1e-6)
    level = np.round(255.0 * (1.0 - (log_depth - math.log(near)) / span)).astype(np.uint8)
    colored = cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)
    out[finite] = colored[finite]
    return out, (near, far)
