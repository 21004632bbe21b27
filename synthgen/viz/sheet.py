"""Laying drawn tiles out: captions, cells of panels, the contact sheet, its legend, and
the largest sheet drawn (:data:`MAX_SHEET_SIDE`), checked before and while it is drawn.

Sits between :mod:`~synthgen.viz.draw` (what is drawn on one image), which it uses, and
:mod:`~synthgen.viz.preview` (what the sheet shows), which uses it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np

from synthgen.errors import OutputError
from synthgen.formats.validate import MAX_IMAGE_SIDE
from synthgen.viz.draw import (
    CATEGORY_COLORS,
    FONT,
    FONT_SCALE,
    Boxes,
    ascii_text,
    category_color,
    draw_boxes,
    fit_text,
)

SHEET_PADDING: Final = 4
BACKGROUND: Final = (28, 28, 28)
TEXT_COLOR: Final = (235, 235, 235)
#: The largest sheet drawn, in pixels per side: past it image viewers and browsers give
#: up (and PNG encoders refuse a million rows), so more images are refused up front.
MAX_SHEET_SIDE: Final = 32_000
LINE_HEIGHT: Final = 15


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
        text = ascii_text(name)
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


def sheet_shape(cells: Sequence[np.ndarray], columns: int) -> tuple[int, int]:
    """``(height, width)`` of the :func:`contact_sheet` of ``cells``, legend aside."""
    columns = max(1, min(columns, len(cells)))
    grid = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    width = sum(max(row[c].shape[1] for row in grid if c < len(row)) for c in range(columns))
    height = sum(max(cell.shape[0] for cell in row) for row in grid)
    return (height + SHEET_PADDING * (len(grid) + 1), width + SHEET_PADDING * (columns + 1))


def check_sheet_size(cells: Sequence[np.ndarray], columns: int, count: int) -> None:
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
        OutputError: Worded like :func:`check_sheet_size`, with ``detail``.
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


def finished_sheet(cells: Sequence[np.ndarray], columns: int, names: Iterable[str],
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
