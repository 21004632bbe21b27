"""Tests of :mod:`synthgen.viz.sheet`: cells laid out on the contact sheet, captions, the
legend and the largest sheet drawn."""

from __future__ import annotations

import numpy as np
import pytest

from synthgen.errors import OutputError
from synthgen.viz.draw import CATEGORY_COLORS, category_color, fit_text
from synthgen.viz.sheet import (
    BACKGROUND,
    LINE_HEIGHT,
    SHEET_PADDING,
    caption,
    check_dataset_sheet,
    check_sheet_size,
    contact_sheet,
    scale_to_width,
    sheet_shape,
    stack_cell,
    with_legend,
)


def cell(height: int, width: int, value: int) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


@pytest.mark.parametrize(("shapes", "columns"), [
    ([(10, 20)], 4),                               # one cell, fewer than the columns
    ([(10, 20), (30, 5), (7, 7)], 2),              # sizes differ: widest and tallest count
    ([(4, 4)] * 5, 1),                             # one column
])
def test_contact_sheet_places_cells_where_sheet_shape_says(
        shapes: list[tuple[int, int]], columns: int) -> None:
    cells = [cell(h, w, 10 + i) for i, (h, w) in enumerate(shapes)]
    sheet = contact_sheet(cells, columns)
    assert sheet.shape[:2] == sheet_shape(cells, columns)
    first_h, first_w = shapes[0]
    assert (sheet[SHEET_PADDING:SHEET_PADDING + first_h,
                  SHEET_PADDING:SHEET_PADDING + first_w] == 10).all()
    assert (sheet[0] == BACKGROUND).all()


def test_a_contact_sheet_needs_a_cell() -> None:
    with pytest.raises(ValueError, match="at least one cell"):
        contact_sheet([], 3)


def test_stack_cell_puts_panels_side_by_side_over_a_caption() -> None:
    out = stack_cell([cell(20, 30, 1), cell(10, 40, 2)], ["one", "two"])
    assert out.shape == (20 + 2 * LINE_HEIGHT + 4, 30 + SHEET_PADDING + 40, 3)
    assert (out[:20, :30] == 1).all() and (out[:10, 30 + SHEET_PADDING:] == 2).all()
    assert (out[10:20, 30 + SHEET_PADDING:] == BACKGROUND).all()  # below the short panel


def test_captions_fit_their_width() -> None:
    long = "a_very_long_file_name_that_tells_files_apart_at_its_end_000123.png"
    assert fit_text(long, 60).endswith("...")
    assert fit_text(long, 60, keep_end=True).startswith("...")
    assert fit_text(long, 60, keep_end=True).endswith(".png")
    assert fit_text("short", 400) == "short"
    assert caption([long, "x"], 80).shape == (2 * LINE_HEIGHT + 4, 80, 3)


def test_legend_shows_a_swatch_for_each_category_only() -> None:
    sheet = cell(50, 300, 0)
    assert with_legend(sheet, []) is sheet
    shown = with_legend(sheet, ["bus", "car", "car"])[50:]
    for name, color in CATEGORY_COLORS.items():
        present = np.all(shown == np.array(color, np.uint8), axis=-1).any()
        assert present == (name in ("bus", "car"))
    other = with_legend(sheet, ["forklift"])[50:]
    assert np.all(other == np.array(category_color("forklift"), np.uint8), axis=-1).any()


def test_scale_to_width_keeps_the_aspect_and_says_the_scale() -> None:
    scaled, (sx, sy) = scale_to_width(cell(75, 100, 5), 40)
    assert scaled.shape == (30, 40, 3) and (sx, sy) == (0.4, 0.4)
    same, scale = scale_to_width(cell(3, 4, 5), 4)
    assert same.shape == (3, 4, 3) and scale == (1.0, 1.0)


def test_sheets_too_large_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import synthgen.viz.sheet as sheet_module

    monkeypatch.setattr(sheet_module, "MAX_SHEET_SIDE", 100)
    check_sheet_size([cell(90, 90, 0)], 1, 1)  # 98 px with its padding
    with pytest.raises(OutputError, match="over 100 pixels tall"):
        check_sheet_size([cell(90, 90, 0), cell(10, 10, 0)], 1, 2)
    # Entries give the size before any file is read; an entry without one counts 1 px.
    entries = [{"width": 100, "height": 50}, {"width": "?"}]
    check_dataset_sheet(entries, tile_width=40, columns=2)
    with pytest.raises(OutputError, match="by the sizes its entries give"):
        check_dataset_sheet(entries, tile_width=60, columns=2)
