"""The box type: one convention for every box synthgen holds, converted at the edges.

Inside synthgen a box is ``x0, y0, x1, y1``: the pixel *edges* of the image it belongs
to, so a box over pixel columns 10..19 has ``x0 = 10, x1 = 20`` and its width is
``x1 - x0``. One box is a :class:`Box`; many boxes at once (drawing, training) are an
``(n, 4)`` array of the same four numbers per row.

Other conventions are met only at the edges, and converted here:

- COCO's ``[x, y, width, height]``: :meth:`Box.from_xywh` when a file is read,
  :meth:`Box.to_xywh` when one is written;
- KITTI's ``left top right bottom`` label columns are this very convention (0-based edges,
  ``bottom - top`` is the height): a KITTI box is ``Box(left, top, right, bottom)``.

A :class:`Box` keeps the numbers it is given (ints stay ints, floats floats): the files
synthgen writes spell a number the way it was read or computed, and a conversion here
must not turn a ``5`` into ``5.0``. Being a named tuple, it unpacks as
``x0, y0, x1, y1 = box`` and is written to JSON as a list.

Where a form other than :class:`Box` is right, it stays, in this convention: the
renderer's int tuples on its hot path
(:class:`synthgen.render.projections.RenderedObject`), and the float arrays of
:mod:`synthgen.viz.draw` and :mod:`synthgen.benchmark`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple


class Box(NamedTuple):
    """One box, ``x0, y0, x1, y1`` pixel edges (see the module docstring)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def from_xywh(cls, xywh: Sequence[float]) -> Box:
        """A COCO ``[x, y, width, height]`` box."""
        x, y, w, h = xywh
        return cls(x, y, x + w, y + h)

    def to_xywh(self) -> list[float]:
        """COCO ``[x, y, width, height]``."""
        return [self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0]

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def is_finite(self) -> bool:
        """Whether all four numbers are finite."""
        return all(math.isfinite(v) for v in self)

    def clip(self, width: float, height: float) -> Box:
        """The box clipped to an image ``width`` x ``height``: each edge within
        ``[0, width]`` or ``[0, height]`` (a box outside the image becomes empty)."""
        return Box(min(max(self.x0, 0.0), width), min(max(self.y0, 0.0), height),
                   min(max(self.x1, 0.0), width), min(max(self.y1, 0.0), height))

    def intersects(self, other: Box) -> bool:
        """Whether the two boxes share an area (touching edges do not)."""
        return (self.x0 < other.x1 and other.x0 < self.x1
                and self.y0 < other.y1 and other.y0 < self.y1)

    def intersection_area(self, other: Box) -> float:
        """The area the two boxes share (0 when they are apart)."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(0.0, w) * max(0.0, h)

    def covered_by(self, other: Box) -> float:
        """The share of this box's area that ``other`` covers (the box must have an
        area)."""
        return self.intersection_area(other) / self.area

    def iou(self, other: Box) -> float:
        """Intersection over union (0 when the union has no area)."""
        inter = self.intersection_area(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0
