"""Procedural surface textures: fixed tileable noise, cropped per image at a sampled offset.

Each texture is a gain map (uint8, 128 = unchanged, 64 = half as bright, 192 = half as
bright again) that the renderer multiplies into the pixels of one kind of surface
(foliage, facades, bark, the ground's grain). A texture is a 256 x 256 tile of filtered
noise, periodic by construction (filtered in the Fourier domain), made once per process
from a fixed seed: like a bundled image, it is the same on every run and in every worker.
What varies between images is where the frame falls on the tiling, an offset the renderer
takes from the scene's sampled ``ground_texture_seed``.

Textures are in screen space: cheap (a crop and a multiply), at the scale of a few
pixels, which is the scale of leaves, grain and weathering on things of the size the
renderer draws.
"""

from __future__ import annotations

import functools

import numpy as np

#: Side of a texture tile, pixels.
TILE = 256

#: Per kind: (fixed seed, layers of (blur sigma x, sigma y in pixels, weight)), the
#: amplitude of the gain (its standard deviation as a fraction of 1) and a contrast curve
#: (``tanh`` steepness; 0 = linear).
_KINDS: dict[str, tuple[int, tuple[tuple[float, float, float], ...], float, float]] = {
    # Leaves and the gaps between them: clumps of a few pixels, strongly contrasted.
    "foliage": (11, ((1.0, 1.0, 0.6), (3.0, 3.0, 1.0), (9.0, 9.0, 0.5)), 0.32, 1.6),
    # Render, stains and weathering streaks running down a wall, faint.
    "facade": (12, ((0.8, 0.8, 0.5), (2.0, 14.0, 0.8), (16.0, 16.0, 0.6)), 0.09, 0.0),
    # Vertical furrows.
    "bark": (13, ((0.8, 6.0, 1.0), (2.0, 10.0, 0.5)), 0.2, 0.0),
    # Grit of asphalt, concrete or soil, with a slower mottle.
    "grain": (14, ((0.7, 0.7, 1.0), (4.0, 4.0, 0.6)), 0.09, 0.0),
}


def _filtered(rng: np.random.Generator, sigma_x: float, sigma_y: float) -> np.ndarray:
    """White noise blurred by a Gaussian of ``sigma`` pixels, periodic over the tile,
    scaled to unit standard deviation."""
    white = rng.standard_normal((TILE, TILE))
    fy = np.fft.fftfreq(TILE)[:, None]
    fx = np.fft.rfftfreq(TILE)[None, :]
    envelope = np.exp(-2 * np.pi ** 2 * ((fx * sigma_x) ** 2 + (fy * sigma_y) ** 2))
    field = np.fft.irfft2(np.fft.rfft2(white) * envelope, s=(TILE, TILE))
    return field / field.std()


@functools.cache
def tile(kind: str) -> np.ndarray:
    """The ``TILE x TILE`` gain tile of a texture kind (read-only)."""
    seed, layers, amplitude, contrast = _KINDS[kind]
    rng = np.random.default_rng(seed)
    field = sum(weight * _filtered(rng, sx, sy) for sx, sy, weight in layers)
    field = field / field.std()
    if contrast:
        field = np.tanh(contrast * field) / np.tanh(contrast)
    gain = np.clip(np.rint(128.0 * (1.0 + amplitude * field)), 0, 255).astype(np.uint8)
    gain.flags.writeable = False
    return gain


@functools.lru_cache(maxsize=16)
def _tiled(kind: str, height: int, width: int) -> np.ndarray:
    reps = (-(-(height + TILE) // TILE), -(-(width + TILE) // TILE))
    tiled = np.ascontiguousarray(np.tile(tile(kind), reps))
    tiled.flags.writeable = False
    return tiled


def texture(kind: str, height: int, width: int, seed: int) -> np.ndarray:
    """A ``(height, width)`` view of the tiled texture, offset by ``seed`` (read-only).

    Args:
        kind: ``foliage``, ``facade``, ``bark`` or ``grain``.
        height: Rows wanted.
        width: Columns wanted.
        seed: A sampled value; different seeds show different parts of the tiling.
    """
    oy, ox = (seed // TILE) % TILE, seed % TILE
    return _tiled(kind, height, width)[oy:oy + height, ox:ox + width]
