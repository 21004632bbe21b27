"""Contact sheets and label layers: see what a dataset or a template really holds.

The ``preview`` command decides what to show; this module draws it into RGB arrays.
How a box is drawn, in one place:

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
import logging
import math
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from synthgen.errors import DatasetError, OutputError
from synthgen.formats.boxes import Box
from synthgen.formats.dataset import CocoDataset
from synthgen.formats.validate import MAX_IMAGE_SIDE
from synthgen.storage.images import read_rgb

logger = logging.getLogger(__name__)

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
SHEET_PADDING: Final = 4
BACKGROUND: Final = (28, 28, 28)
TEXT_COLOR: Final = (235, 235, 235)
MISSING_COLOR: Final = (70, 24, 24)
#: The largest sheet drawn, in pixels per side: past it image viewers and browsers give
#: up (and PNG encoders refuse a million rows), so more images are refused up front.
MAX_SHEET_SIDE: Final = 32_000

FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE: Final = 0.4
LINE_HEIGHT: Final = 15


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
            visibility.append(_finite(vis, math.nan))
            crowd.append(bool(ann.get("iscrowd", 0)))
            contrast.append(_finite(ann.get("contrast"), math.nan))
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


def _finite(value: Any, default: Any = None) -> Any:
    """``value`` as a finite float, else ``default`` (not a number, NaN, infinite, or an
    integer too large for a float: JSON has them)."""
    if not _is_number(value):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default


def _bbox_of(ann: Mapping[str, Any]) -> tuple[float, float, float, float]:
    bbox = ann.get("bbox")
    values = [_finite(v) for v in bbox] if isinstance(bbox, list) else []
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
                _draw_name(out, spans[i], _box_text(boxes, i, show_contrast),
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


def _box_text(boxes: Boxes, i: int, show_contrast: bool = False) -> str:
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
    text = _ascii(text)
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


def _ascii(text: str) -> str:
    # cv2's Hershey fonts only have ASCII glyphs; make the substitution explicit.
    return text.encode("ascii", "replace").decode("ascii")


def fit_text(text: str, width: int, *, keep_end: bool = False) -> str:
    """Shorten ``text`` with ``...`` until it fits ``width`` pixels in the caption font.

    Args:
        text: The text.
        width: Available width in pixels.
        keep_end: Cut from the start instead (the end of a file name tells files apart).
    """
    text = _ascii(text)

    def fits(candidate: str) -> bool:
        return cv2.getTextSize(candidate, FONT, FONT_SCALE, 1)[0][0] <= width

    if fits(text):
        return text
    for keep in range(len(text) - 1, -1, -1):
        candidate = "..." + text[len(text) - keep:] if keep_end else text[:keep] + "..."
        if keep == 0 or fits(candidate):
            return candidate
    return ""


def caption(lines: Sequence[str], width: int, *, keep_end: Sequence[bool] = ()) -> np.ndarray:
    """A strip of text lines under a tile, ``width`` pixels wide.

    Args:
        lines: One string per line; each is shortened to fit.
        width: Strip width in pixels.
        keep_end: Per line, whether to shorten it from the start (default: from the end).
    """
    strip = np.full((LINE_HEIGHT * len(lines) + 4, width, 3), BACKGROUND, np.uint8)
    for row, line in enumerate(lines):
        from_start = row < len(keep_end) and keep_end[row]
        text = fit_text(line, width - 4, keep_end=from_start)
        cv2.putText(strip, text, (2, LINE_HEIGHT * (row + 1) - 2), FONT, FONT_SCALE,
                    TEXT_COLOR, 1, cv2.LINE_AA)
    return strip


def scale_to_width(image: np.ndarray, width: int, *,
                   nearest: bool = False) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize an image (or a label layer) to ``width`` pixels, keeping its aspect ratio.

    Args:
        image: ``HxW`` or ``HxWxC`` array.
        width: Target width in pixels.
        nearest: Nearest-neighbour sampling, for layers whose values must not be mixed
            (instance ids, depth with infinite sky).

    Returns:
        The resized array and the ``(sx, sy)`` scale actually applied (height is rounded,
        so ``sy`` can differ from ``sx`` by a fraction of a pixel over the image).
    """
    src_h, src_w = image.shape[:2]
    height = max(1, int(math.floor(src_h * width / src_w + 0.5)))
    if (width, height) == (src_w, src_h):
        resized = image.copy()
    else:
        if nearest:
            interpolation = cv2.INTER_NEAREST
        elif width < src_w:
            interpolation = cv2.INTER_AREA  # averages, so downscaling does not alias
        else:
            interpolation = cv2.INTER_LINEAR
        resized = cv2.resize(image, (width, height), interpolation=interpolation)
    return resized, (width / src_w, height / src_h)


def draw_tile(image: np.ndarray, boxes: Boxes, width: int, *, names: bool = True) -> np.ndarray:
    """An image scaled to ``width`` pixels with its boxes drawn on the scaled edges.

    Args:
        image: ``HxWx3`` uint8 RGB image; left unchanged.
        boxes: Its boxes, in its pixel coordinates.
        width: Tile width in pixels.
        names: Write category names beside the boxes.
    """
    tile, scale = scale_to_width(image, width)
    return draw_boxes(tile, boxes, scale=scale, names=names)


def stack_cell(panels: Sequence[np.ndarray], lines: Sequence[str], *,
               keep_end: Sequence[bool] = ()) -> np.ndarray:
    """Panels side by side (tops aligned, gap of :data:`SHEET_PADDING`) over a caption."""
    height = max(panel.shape[0] for panel in panels)
    width = sum(panel.shape[1] for panel in panels) + SHEET_PADDING * (len(panels) - 1)
    top = np.full((height, width, 3), BACKGROUND, np.uint8)
    x = 0
    for panel in panels:
        top[:panel.shape[0], x:x + panel.shape[1]] = panel
        x += panel.shape[1] + SHEET_PADDING
    return np.vstack([top, caption(lines, width, keep_end=keep_end)])


def contact_sheet(cells: Sequence[np.ndarray], columns: int) -> np.ndarray:
    """Lay cells out in a grid, row by row, each at the top left of its slot.

    Args:
        cells: ``HxWx3`` uint8 images; sizes may differ.
        columns: Cells per row.

    Returns:
        The sheet, with :data:`SHEET_PADDING` pixels around and between cells, so the
        first cell's top-left pixel is at ``(SHEET_PADDING, SHEET_PADDING)``.
    """
    if not cells:
        raise ValueError("a contact sheet needs at least one cell")
    columns = max(1, min(columns, len(cells)))
    grid = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    col_widths = [max(row[c].shape[1] for row in grid if c < len(row)) for c in range(columns)]
    row_heights = [max(cell.shape[0] for cell in row) for row in grid]
    sheet = np.full((*sheet_shape(cells, columns), 3), BACKGROUND, np.uint8)
    y = SHEET_PADDING
    for row, row_height in zip(grid, row_heights, strict=True):
        x = SHEET_PADDING
        for c, cell in enumerate(row):
            sheet[y:y + cell.shape[0], x:x + cell.shape[1]] = cell
            x += col_widths[c] + SHEET_PADDING
        y += row_height + SHEET_PADDING
    return sheet


def legend(names: Iterable[str], width: int) -> np.ndarray:
    """A strip under a sheet: a colour swatch and the name of each category shown.

    Args:
        names: Categories of the boxes drawn (repeats are fine); synthgen's come first,
            in id order, then any others alphabetically.
        width: Strip width in pixels; entries wrap onto more lines.
    """
    shown = set(names)
    ordered = [n for n in CATEGORY_COLORS if n in shown] + sorted(shown - set(CATEGORY_COLORS))
    entries = []
    for name in ordered:
        text = _ascii(name)
        entries.append((name, text, 14 + cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]))
    rows: list[list[tuple[str, str, int]]] = [[]]
    x = SHEET_PADDING
    for entry in entries:
        if rows[-1] and x + entry[2] > width - SHEET_PADDING:
            rows.append([])
            x = SHEET_PADDING
        rows[-1].append(entry)
        x += entry[2] + 12
    strip = np.full((LINE_HEIGHT * len(rows) + SHEET_PADDING, width, 3), BACKGROUND, np.uint8)
    for row_index, row in enumerate(rows):
        x, base = SHEET_PADDING, LINE_HEIGHT * (row_index + 1) - 3
        for name, text, entry_width in row:
            strip[base - 9:base + 1, x:x + 10] = category_color(name)
            cv2.putText(strip, text, (x + 14, base), FONT, FONT_SCALE, TEXT_COLOR, 1,
                        cv2.LINE_AA)
            x += entry_width + 12
    return strip


def with_legend(sheet: np.ndarray, names: Iterable[str]) -> np.ndarray:
    """``sheet`` with a :func:`legend` of ``names`` below it (unchanged if there are none)."""
    names = list(names)
    return np.vstack([sheet, legend(names, sheet.shape[1])]) if names else sheet


# --- datasets ---------------------------------------------------------------------------


def weather_kind(value: Any) -> str | None:
    """The weather kind of an image or scene field: a string, or a dict with ``kind``."""
    if isinstance(value, Mapping):
        value = value.get("kind")
    return value if isinstance(value, str) and value else None


def select_images(dataset: CocoDataset, *, count: int, rng: np.random.Generator,
                  category: str | None = None,
                  weather: str | None = None) -> list[dict[str, Any]]:
    """Choose up to ``count`` images, optionally only those of a category or a weather.

    Args:
        dataset: The dataset.
        count: How many images at most.
        rng: The generator that decides which; seed it for a repeatable sheet.
        category: Only images with at least one box (not an ignore region) of this
            category name.
        weather: Only images whose ``weather`` (a string or ``{"kind": ...}``) is this.

    Returns:
        The chosen image entries, in dataset order.

    Raises:
        DatasetError: The category is not one of the dataset's, or no image matches.
    """
    candidates = list(dataset.images)
    for position, image in enumerate(candidates):
        if not isinstance(image, dict):
            raise DatasetError(f"{dataset.annotation_file}: images[{position}] is not an "
                               f"object: {image!r}")
    if category is not None:
        candidates = _with_category(dataset, candidates, category)
    if weather is not None:
        candidates = _with_weather(dataset, candidates, weather)
    if not candidates:
        raise DatasetError(f"{dataset.annotation_file}: the dataset has no images")
    picked = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    return [candidates[i] for i in np.sort(picked)]


def _with_category(dataset: CocoDataset, images: list[dict[str, Any]],
                   category: str) -> list[dict[str, Any]]:
    names = dataset.category_names()
    ids = {cid for cid, name in names.items() if name == category}
    if not ids:
        valid = ", ".join(sorted(set(names.values()))) or "(none)"
        raise DatasetError(f"--category {category!r}: not a category of "
                           f"{dataset.annotation_file}; valid names: {valid}")
    kept = [image for image in images
            if any(ann.get("category_id") in ids and not ann.get("iscrowd", 0)
                   for ann in dataset.annotations_for(image.get("id")))]
    if not kept:
        raise DatasetError(f"--category {category!r}: no image in {dataset.annotation_file} "
                           "has a box of this category")
    return kept


def _with_weather(dataset: CocoDataset, images: list[dict[str, Any]],
                  weather: str) -> list[dict[str, Any]]:
    kept = [image for image in images if weather_kind(image.get("weather")) == weather]
    if not kept:
        kinds = sorted({kind for image in images
                        if (kind := weather_kind(image.get("weather"))) is not None})
        found = f"weather found: {', '.join(kinds)}" if kinds else "no image has a 'weather' field"
        raise DatasetError(f"--weather {weather!r}: no image in {dataset.annotation_file} "
                           f"matches ({found})")
    return kept


def sheet_shape(cells: Sequence[np.ndarray], columns: int) -> tuple[int, int]:
    """``(height, width)`` of the :func:`contact_sheet` of ``cells``, legend aside."""
    columns = max(1, min(columns, len(cells)))
    grid = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    width = sum(max(row[c].shape[1] for row in grid if c < len(row)) for c in range(columns))
    height = sum(max(cell.shape[0] for cell in row) for row in grid)
    return (height + SHEET_PADDING * (len(grid) + 1), width + SHEET_PADDING * (columns + 1))


def _check_sheet_size(cells: Sequence[np.ndarray], columns: int, count: int) -> None:
    """Stop a sheet growing past :data:`MAX_SHEET_SIDE` as soon as it does.

    Raises:
        OutputError: The cells drawn so far already make too large a sheet.
    """
    height, width = sheet_shape(cells, columns)
    if max(height, width) > MAX_SHEET_SIDE:
        side = "tall" if height > MAX_SHEET_SIDE else "wide"
        raise OutputError(
            f"--count {count}: the sheet would be over {MAX_SHEET_SIDE} pixels {side} (the "
            f"first {len(cells)} images already make it {width}x{height}); lower --count "
            "or --tile-width, or choose --columns to fit")


#: Caption lines every cell has (a dataset cell may add a note line).
CAPTION_LINES: Final = 2


def _refuse_oversized(height: int, width: int, count: int, detail: str) -> None:
    """Refuse up front a sheet whose cells alone make it over :data:`MAX_SHEET_SIDE`.

    Raises:
        OutputError: Worded like :func:`_check_sheet_size`, with ``detail``.
    """
    if max(height, width) > MAX_SHEET_SIDE:
        side = "tall" if height > MAX_SHEET_SIDE else "wide"
        raise OutputError(
            f"--count {count}: the sheet would be over {MAX_SHEET_SIDE} pixels {side} "
            f"({width}x{height}{detail}); lower --count or --tile-width, or choose "
            "--columns to fit")


def check_template_sheet(count: int, size: tuple[int, int], *, tile_width: int,
                         columns: int, layers: bool) -> None:
    """Refuse, before anything is rendered, a template sheet too large to draw.

    Every cell of a template sheet has the same size, known from the render size alone,
    so the sheet's size is computed, not drawn (``--count`` may be any number).

    Raises:
        OutputError: The cells alone would make the sheet over :data:`MAX_SHEET_SIDE`
            pixels a side.
    """
    tile_height = max(1, int(math.floor(size[1] * tile_width / size[0] + 0.5)))
    panels = 4 if layers else 1
    cell_w = panels * tile_width + SHEET_PADDING * (panels - 1)
    cell_h = tile_height + LINE_HEIGHT * CAPTION_LINES + 4
    n_columns = max(1, min(columns, count))
    rows = -(-count // n_columns)
    height = rows * cell_h + SHEET_PADDING * (rows + 1)
    width = n_columns * cell_w + SHEET_PADDING * (n_columns + 1)
    fit_rows = (MAX_SHEET_SIDE - SHEET_PADDING) // (cell_h + SHEET_PADDING)
    fits = fit_rows * n_columns if width <= MAX_SHEET_SIDE else 0
    plural = "s" if n_columns != 1 else ""
    _refuse_oversized(height, width, count,
                      f" at --tile-width {tile_width} in {n_columns} column{plural}"
                      + (f"; at most {fits} images fit" if fits > 0 else ""))


def check_dataset_sheet(images: Sequence[Mapping[str, Any]], *, tile_width: int,
                        columns: int) -> None:
    """Refuse, before any image file is read, a dataset sheet too large to draw.

    Each cell is taken at the size its entry gives (1 pixel high when it gives none):
    what the sheet will be when the files match their entries, and never more than it
    will be otherwise, so no sheet that fits is refused here (a file larger than its
    entry is still caught as it is drawn).

    Raises:
        OutputError: The cells would make the sheet over :data:`MAX_SHEET_SIDE` pixels a
            side.
    """
    cells = []
    for image in images:
        src_w, src_h = image.get("width"), image.get("height")
        tile_height = 1
        if (isinstance(src_w, int) and isinstance(src_h, int)
                and 0 < src_w <= MAX_IMAGE_SIDE and 0 < src_h <= MAX_IMAGE_SIDE):
            tile_height = max(1, int(math.floor(src_h * tile_width / src_w + 0.5)))
        cells.append(_Planned((tile_height + LINE_HEIGHT * CAPTION_LINES + 4, tile_width)))
    if cells:
        height, width = sheet_shape(cells, columns)
        _refuse_oversized(height, width, len(images),
                          f" by the sizes its entries give, at --tile-width {tile_width}")


@dataclass(frozen=True)
class _Planned:
    """A cell not drawn yet: only its ``shape``, for :func:`sheet_shape`."""

    shape: tuple[int, int]


def _finished_sheet(cells: Sequence[np.ndarray], columns: int, names: Iterable[str],
                    count: int) -> np.ndarray:
    """The contact sheet of ``cells`` with its legend, refused if the legend takes it past
    :data:`MAX_SHEET_SIDE` (the cells alone were checked as they were drawn).

    Raises:
        OutputError: The finished sheet is over :data:`MAX_SHEET_SIDE` pixels tall.
    """
    sheet = with_legend(contact_sheet(cells, columns), names)
    if sheet.shape[0] > MAX_SHEET_SIDE:
        raise OutputError(
            f"--count {count}: the sheet with its legend would be over {MAX_SHEET_SIDE} "
            f"pixels tall ({sheet.shape[1]}x{sheet.shape[0]}); lower --count or "
            "--tile-width, or choose --columns to fit")
    return sheet


def dataset_cell(dataset: CocoDataset, image_entry: Mapping[str, Any], boxes: Boxes,
                 width: int) -> np.ndarray:
    """One tile of a dataset sheet: the image with its boxes, and a caption.

    A missing or unreadable image file is drawn as a dark red canvas of the size the entry
    gives, boxes still on it, and named in the caption and the log.

    Args:
        dataset: The dataset the entry belongs to.
        image_entry: A COCO ``images`` entry.
        boxes: Its boxes (:meth:`Boxes.from_coco` of its annotations).
        width: Tile width in pixels.

    Raises:
        DatasetError: The entry has no ``file_name``, or the file is missing and the entry
            has no ``width``/``height`` to draw its boxes on.
    """
    file_name = image_entry.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        raise DatasetError(f"{dataset.annotation_file}: image {image_entry.get('id', '?')} "
                           "has no 'file_name'")
    path = dataset.image_path(image_entry)
    image = read_rgb(path)
    notes = []
    if image is None:
        logger.warning("%s: missing or not an image; its boxes are drawn on a blank tile", path)
        tile = _blank_tile(image_entry, path, boxes, width)
        notes.append("IMAGE MISSING")
    else:
        if (image_entry.get("width"), image_entry.get("height")) != image.shape[1::-1]:
            notes.append(f"file is {image.shape[1]}x{image.shape[0]}, entry says "
                         f"{image_entry.get('width')}x{image_entry.get('height')}")
        tile = draw_tile(image, boxes, width)
    lines = [file_name, _describe(image_entry, len(boxes)), *notes]
    return stack_cell([tile], lines, keep_end=[True])


def _blank_tile(image_entry: Mapping[str, Any], path: Path, boxes: Boxes,
                width: int) -> np.ndarray:
    """The tile :func:`draw_tile` would make of a blank image of the entry's size, made at
    tile size (an entry may claim any size)."""
    src_w, src_h = image_entry.get("width"), image_entry.get("height")
    if not (isinstance(src_w, int) and isinstance(src_h, int)
            and 0 < src_w <= MAX_IMAGE_SIDE and 0 < src_h <= MAX_IMAGE_SIDE):
        raise DatasetError(f"{path}: missing or not an image, and the entry has no "
                           f"width/height (positive integers up to {MAX_IMAGE_SIDE}) to "
                           "draw its boxes on")
    height = max(1, int(math.floor(src_h * width / src_w + 0.5)))
    if height > MAX_SHEET_SIDE:
        raise DatasetError(f"{path}: missing or not an image, and the entry's size "
                           f"{src_w}x{src_h} is too tall to draw at --tile-width {width}")
    tile = np.full((height, width, 3), MISSING_COLOR, np.uint8)
    return draw_boxes(tile, boxes, scale=(width / src_w, height / src_h))


def _describe(fields: Mapping[str, Any], n_boxes: int) -> str:
    """Scene, weather and time of day where known, then the box count."""
    parts = []
    if isinstance(fields.get("scene"), str):
        parts.append(fields["scene"])
    if (weather := _weather_text(fields.get("weather"))) is not None:
        parts.append(weather)
    if (time := format_time_of_day(fields.get("time_of_day"))) is not None:
        parts.append(time)
    parts.append(f"{n_boxes} box" + ("" if n_boxes == 1 else "es"))
    return " | ".join(parts)


def _weather_text(value: Any) -> str | None:
    kind = weather_kind(value)
    if kind is None:
        return None
    intensity = value.get("intensity") if isinstance(value, Mapping) else None
    intensity = _finite(intensity)
    return f"{kind} {intensity:.2f}" if intensity is not None and intensity > 0 else kind


def format_time_of_day(value: Any) -> str | None:
    """A time of day for a caption: names as they are, hours (0-24) as ``HH:MM``."""
    if isinstance(value, str) and value:
        return value
    if _finite(value) is not None and 0 <= value <= 24:
        minutes = int(round(value * 60)) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return None


def dataset_sheet(dataset: CocoDataset, images: Sequence[Mapping[str, Any]], *,
                  tile_width: int, columns: int) -> np.ndarray:
    """A contact sheet of the given images of ``dataset``, with a colour legend.

    Args:
        dataset: The dataset the entries belong to.
        images: Image entries, e.g. from :func:`select_images`.
        tile_width: Width of each image on the sheet, in pixels.
        columns: Tiles per row.
    """
    check_dataset_sheet(images, tile_width=tile_width, columns=columns)
    category_names = dataset.category_names()
    cells, shown = [], []
    for image in images:
        boxes = Boxes.from_coco(dataset.annotations_for(image.get("id")), category_names)
        cells.append(dataset_cell(dataset, image, boxes, tile_width))
        _check_sheet_size(cells, columns, len(images))
        shown.extend(boxes.categories)
    return _finished_sheet(cells, columns, shown, len(images))


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


def layers_cell(image: np.ndarray, instance_map: np.ndarray, depth: np.ndarray,
                modal: Boxes, amodal: Boxes, *, width: int, title: str) -> np.ndarray:
    """What a sample's labels are made of, four panels side by side.

    Image; instance id map; depth; the image with modal boxes solid and amodal boxes
    dashed in the category colour, ignore regions hatched and dashed grey, and each
    object's contrast in the final image (``c0.123``) beside its name.

    Args:
        image: ``HxWx3`` uint8 RGB final image.
        instance_map: ``HxW`` instance ids, 0 where no object.
        depth: ``HxW`` float metres, inf for sky.
        modal: Boxes tight on the visible pixels.
        amodal: Boxes of the whole projected objects.
        width: Width of each panel in pixels.
        title: First caption line (which sample this is).
    """
    shown, scale = scale_to_width(image, width)
    ids, _ = scale_to_width(instance_map, width, nearest=True)
    depth_small, _ = scale_to_width(depth, width, nearest=True)
    depth_rgb, depth_range = depth_colors(depth_small)
    boxed = draw_boxes(shown, amodal, scale=scale, dashed=True, names=False)
    boxed = draw_boxes(boxed, modal, scale=scale, show_contrast=True)
    n_objects = len(np.unique(instance_map[instance_map > 0]))
    depth_text = ("depth: no finite values" if depth_range is None else
                  f"depth {depth_range[0]:.1f}-{depth_range[1]:.0f} m (red near, log)")
    ignored = int(modal.crowd.sum())
    lines = [title, f"image | {n_objects} instance ids | {depth_text} | "
                    "modal solid, amodal dashed, c = contrast"
                    + (f", {ignored} ignored (grey)" if ignored else "")]
    return stack_cell([shown, instance_colors(ids), depth_rgb, boxed], lines)


# --- templates --------------------------------------------------------------------------


def sample_cell(sample: Any, *, width: int, layers: bool, title: str) -> np.ndarray:
    """One rendered sample: the image with its modal boxes, or its four label layers.

    Args:
        sample: A :class:`~synthgen.generate.pipeline.Sample`.
        width: Tile (or panel) width in pixels.
        layers: Show image, instance ids, depth and modal/amodal boxes side by side.
        title: First caption line.
    """
    modal = Boxes.from_labels(sample.labels)
    # Described from the scene's COCO image record: the caption reads as in the dataset.
    description = _describe(sample.scene.metadata(), int((~modal.crowd).sum()))
    if layers:
        contrast = _contrasts(sample)
        return layers_cell(sample.image, sample.instance_map, sample.depth,
                           Boxes.from_labels(sample.labels, contrast=contrast),
                           Boxes.from_labels(sample.labels, amodal=True, contrast=contrast),
                           width=width, title=f"{title} | {description}")
    return stack_cell([draw_tile(sample.image, modal, width)], [title, description])


def _contrasts(sample: Any) -> list[float]:
    """Each label's contrast in the sample's final image: its own, or measured here for
    labels computed without the image."""
    from synthgen.labels import object_contrast  # noqa: PLC0415

    values = []
    for label in sample.labels:
        if getattr(label, "contrast", None) is not None:
            values.append(label.contrast)
            continue
        x0, y0, x1, y1 = (int(v) for v in label.bbox)
        mask = sample.instance_map[y0:y1, x0:x1] == label.instance_id
        values.append(object_contrast(sample.image, mask, (x0, y0)))
    return values


def render_size() -> tuple[int, int]:
    """The size samples are rendered at when none is given: ``generate``'s default."""
    from synthgen.generate.pipeline import GenerateOptions

    return GenerateOptions.size


def template_sheet(template: Any, *, seed: int, count: int, size: tuple[int, int] | None,
                   layers: bool, tile_width: int, columns: int,
                   appearance: Any = None, sprites: Any = None) -> np.ndarray:
    """Render ``count`` samples of a template and lay them out on a sheet.

    Args:
        template: A :class:`~synthgen.scene.templates.SceneTemplate`.
        seed: Seed of the samples; sample ``i`` is image ``i`` of ``generate`` with this
            seed and size (and its default label thresholds).
        count: Number of samples.
        size: ``(width, height)`` to render at; None for generate's default
            (:func:`render_size`).
        layers: One row of label layers per sample instead of one tile.
        tile_width: Tile (or panel) width in pixels.
        columns: Cells per row.
        appearance: An :class:`~synthgen.render.appearance.Appearance` to match the samples to
            (``--look-like``), or None.
        sprites: A :class:`~synthgen.render.sprites.SpriteBank` whose cut-outs are pasted
            (``--sprites``), or None.
    """
    # Imported here: a dataset preview never needs the renderer and its start-up cost.
    from synthgen.generate.pipeline import render_sample

    size = size if size is not None else render_size()
    check_template_sheet(count, size, tile_width=tile_width, columns=columns, layers=layers)
    cells, shown = [], []
    for index in range(count):
        sample = render_sample(template, seed=seed, index=index, appearance=appearance,
                               size=size, sprites=sprites)
        title = f"seed {seed} | #{index}"
        cells.append(sample_cell(sample, width=tile_width, layers=layers, title=title))
        _check_sheet_size(cells, columns, count)
        shown.extend(label.category for label in sample.labels)
    return _finished_sheet(cells, columns, shown, count)
