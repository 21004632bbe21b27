"""Which visible objects get a box and which an ignore region: the thresholds
:func:`synthgen.labels.compute_labels` applies (its module docstring says how), kept apart
from it so that a command shows their defaults without loading OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelOptions:
    """Which objects get a box, and which an ignore region (see :mod:`synthgen.labels`).

    Attributes:
        min_pixels: Fewest visible pixels an object needs.
        min_visibility: Smallest visible fraction of its in-frame projection (the rest
            is hidden by occluders), in [0, 1].
        min_contrast: Smallest :func:`~synthgen.labels.object_contrast` in the final
            image, in [0, 1]; applied only when :func:`~synthgen.labels.compute_labels`
            is given the image. 0 boxes every object the other two rules let through.
    """

    min_pixels: int = 20
    min_visibility: float = 0.05
    min_contrast: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_contrast <= 1.0:  # NaN fails too
            raise ValueError(f"min_contrast must be in [0, 1], not {self.min_contrast!r}")
