"""Effects: lamp glow, atmosphere (haze and fog from depth), sun flare, rain, snow and the
sensor's blur, vignetting and noise, applied to a rendered image.

Every effect is pixel-level: none moves scene content, so the instance id map the labels
are computed from stays exact (camera angle, height and roll are part of the 3D
projection, not image warps). Motion blur spreads colour by up to half its kernel
(``sensor.motion_blur_range``, 3-7 px in the bundled templates) across object edges; boxes
stay on the sharp silhouette. A geometric effect added later must warp the instance id
map and depth the same way, with nearest-neighbour sampling, before labels are computed.

The parameters come from the scene (sampled up front); the only generator here is the
one seeded with the scene's sampled ``noise_seed`` for per-pixel sensor noise.
"""

from __future__ import annotations

import functools
from statistics import NormalDist

import cv2
import numpy as np

from synthgen.render.lighting import Illumination, illumination
from synthgen.render.painter import Layers
from synthgen.render.pixels import add_noise, veil_blend
from synthgen.scene.model import Scene


def _upscaled(small: np.ndarray, strength: float, shape: tuple[int, int]) -> np.ndarray:
    """A low-resolution float light layer times ``strength``, at full size as uint8."""
    h, w = shape
    # One pass scales, rounds and saturates to uint8 (the layer is never negative).
    return cv2.resize(cv2.convertScaleAbs(small, alpha=strength), (w, h),
                      interpolation=cv2.INTER_LINEAR)


def veil_scales(color) -> np.ndarray:
    """The veil's per-channel scales for :func:`veil_blend`: ``color / 255`` as float32,
    the precision OpenCV's ``convertScaleAbs`` scales 8-bit images in."""
    return np.array([c / 255 for c in np.broadcast_to(np.asarray(color, np.float64), (3,))],
                    np.float32)


def _glow(image: np.ndarray, layers: Layers, strength: float) -> np.ndarray:
    """Soft halos around lit lamps, computed at quarter resolution and added."""
    if not layers.lights:
        return image
    h, w = image.shape[:2]
    small = np.zeros((h // 4 + 1, w // 4 + 1, 3), np.float32)
    for light in layers.lights:
        radius = max(1, int(round(light.radius * 1.6 / 4)))
        cv2.circle(small, (int(light.x / 4), int(light.y / 4)), radius,
                   tuple(float(c) for c in light.color), -1, cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.5, w / 400))
    return cv2.add(image, _upscaled(small, strength, (h, w)))


def _transmittance(depth: np.ndarray, extinction: float, sky_depth: float) -> np.ndarray:
    """``t = exp(-beta d)`` per pixel as uint8 (255 = nothing veiled).

    The sky (infinite depth) is seen through ``sky_depth`` metres of air.
    """
    t = depth * np.float32(-extinction)
    # exp(-inf) takes a slow path in OpenCV, many times slower than a finite argument;
    # 255 exp(-20) rounds to 0 like 255 exp(-inf).
    t = cv2.exp(cv2.max(t, -20.0, dst=t), dst=t)
    t8 = cv2.convertScaleAbs(t, alpha=255)
    # The sky as a 0/255 mask, cut down to its own transmittance, replaces those zeros.
    sky = cv2.compare(depth, float(np.finfo(np.float32).max), cv2.CMP_GT)
    sky_t = round(255 * float(np.exp(-extinction * sky_depth)))
    return cv2.max(t8, cv2.min(sky, sky_t, dst=sky), dst=t8)


def _atmosphere(image: np.ndarray, depth: np.ndarray, scene: Scene, light: Illumination,
                gain: np.ndarray | None = None) -> np.ndarray:
    """Koschmieder's law: ``I = I t + A (1 - t)`` with ``t = exp(-beta d)``.

    ``gain``, the vignette's per-pixel gain (see :func:`_vignette_gain`), is folded into
    both weights when given, saving a full-image multiply.
    """
    # Under a clear or overcast sky the sky already is the sky; in rain, fog and snow it
    # is veiled like everything else.
    sky_depth = 0.0 if scene.weather.kind in ("clear", "overcast") else 450.0
    t = _transmittance(depth, light.extinction, sky_depth)
    out = np.empty_like(image)
    veil_blend(image, t, t if gain is None else gain, gain is not None,
               veil_scales(light.airlight), out)
    return out


def _flare(image: np.ndarray, sun: tuple[float, float], intensity: float) -> None:
    """A bright sun halo and a few ghosts along the line through the image centre."""
    h, w = image.shape[:2]
    small = np.zeros((h // 4 + 1, w // 4 + 1, 3), np.float32)
    sx, sy = sun[0] / 4, sun[1] / 4
    cx, cy = w / 8, h / 8
    cv2.circle(small, (int(sx), int(sy)), max(2, w // 40), (255, 245, 220), -1, cv2.LINE_AA)
    ghosts = ((0.5, 0.030, (140, 180, 255)), (0.9, 0.018, (255, 200, 120)),
              (1.3, 0.045, (120, 255, 170)), (1.7, 0.025, (255, 160, 200)))
    for t, size, color in ghosts:
        gx, gy = sx + (cx - sx) * t, sy + (cy - sy) * t
        cv2.circle(small, (int(gx), int(gy)), max(1, int(w * size / 4)),
                   tuple(c * 0.25 for c in color), -1, cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), max(2.0, w / 320))
    cv2.add(image, _upscaled(small, intensity, (h, w)), dst=image)


def _rain(image: np.ndarray, scene: Scene) -> np.ndarray:
    """Rain streaks over ``image`` (modified in place and returned), at the drops sampled
    with the scene, then the light a wet sky takes away."""
    h, w = image.shape[:2]
    fx = scene.effects
    if not len(fx.particles):
        return image
    intensity = scene.weather.intensity
    length = max(4, int(h * (0.02 + 0.03 * intensity)))
    # Drops catch the light around them: faint at night, brighter by day.
    level = {"day": 175, "dusk": 120}.get(scene.lighting.time_of_day, 70)
    drops = fx.particles[:, :2] * np.array([w, h - length], np.float32)
    drops = drops[: int(len(drops) * (w * h) / 1e6) + 1]
    return rain_streaks(image, drops.astype(np.int32), slant=fx.rain_slant * length,
                        length=length, color=(level, level, level + 6),
                        brightness=1.0 - 0.18 * intensity)


def rain_streaks(image: np.ndarray, drops: np.ndarray, *, slant: float, length: int,
                 color: tuple[int, int, int], brightness: float, width: int = 1,
                 blur: int = 3) -> np.ndarray:
    """Streaks from ``drops`` (``(N, 2)`` int32 pixel positions) to ``slant`` and
    ``length`` pixels right of and below them, in ``color``, blurred by a ``blur``-pixel
    box and added to ``image`` (``(H, W, 3)`` uint8, modified in place and returned),
    which is then scaled by ``brightness``.

    The same OpenCV calls, in the same order, as albumentations 2.0's ``add_rain``
    (``albumentations.augmentations.pixel.functional``), which synthgen called before:
    the same bytes (a test compares the two), without importing albumentations and the
    SciPy it loads in every worker process (about 0.4 s before its first rainy image) or
    copying the frame twice.
    """
    if not len(drops):
        return image
    layer = np.zeros_like(image)
    ends = drops + np.array([[slant, length]])
    cv2.polylines(layer, np.stack((drops, ends), axis=1).astype(np.int32), False, color,
                  width, lineType=cv2.LINE_4)
    if blur > 1:
        cv2.blur(layer, (blur, blur), dst=layer)
    cv2.add(image, layer, dst=image)
    if brightness != 1.0:
        # The bytes of cv2.multiply(image, brightness, dtype=cv2.CV_8U), albumentations'
        # call, value by value through a table of that call's own results: a tenth of
        # the time (OpenCV multiplies by a scalar by making a full-size array of it).
        values = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
        cv2.LUT(image, cv2.multiply(values, brightness, dtype=cv2.CV_8U), dst=image)
    return image


def _snow(image: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = image.shape[:2]
    flakes = scene.effects.particles
    if not len(flakes):
        return image
    count = int(len(flakes) * (w * h) / 1e6) + 1
    layer = np.zeros((h, w), np.uint8)
    scale = h / 720
    for u, v, size in flakes[:count]:
        radius = max(1, int(round((0.6 + 2.4 * size ** 3) * scale)))
        cv2.circle(layer, (int(u * w), int(v * h)), radius, int(150 + 105 * size), -1,
                   cv2.LINE_AA)
    alpha = cv2.GaussianBlur(layer, (0, 0), 0.8 * scale + 0.3)
    out = np.empty_like(image)
    veil_blend(image, cv2.bitwise_not(alpha), alpha, False, veil_scales(245), out)
    return out


def _motion_blur(image: np.ndarray, size: int, angle_deg: float) -> np.ndarray:
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.radians(angle_deg)) * c, np.sin(np.radians(angle_deg)) * c
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
             (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def _vignette_gain(shape: tuple[int, int], amount: float) -> np.ndarray:
    """Darkening towards the corners as a one-channel uint8 gain (255 = 1)."""
    h, w = shape
    y = np.linspace(-1.0, 1.0, h // 8 + 1, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w // 8 + 1, dtype=np.float32)[None, :]
    # Computed on a coarse grid (it is smooth) and resized.
    gain = np.round(255 * (1.0 - amount * 0.5 * (x * x + y * y))).astype(np.uint8)
    return cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)


def _vignette(image: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Apply a :func:`_vignette_gain`: ``image gain / 255`` rounded (a blend with no
    veil), into a new image: in place, the compiled pass could not be vectorised (its
    source and target overlap) and took twice as long."""
    out = np.empty_like(image)
    veil_blend(image, gain, gain, False, np.zeros(3, np.float32), out)
    return out


def _random_bytes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform random uint8 of ``shape``, the same on every machine.

    Drawn 64 bits at a time, three times faster than drawing uint8, and read in
    little-endian order whatever the machine's.
    """
    size = int(np.prod(shape))
    words = rng.integers(0, 2**64, -(-size // 8), dtype=np.uint64, endpoint=False)
    return words.astype("<u8", copy=False).view(np.uint8)[:size].reshape(shape)


@functools.cache
def _noise_table(level: int) -> tuple[np.ndarray, int]:
    """Map a random byte to zero-mean, roughly Gaussian noise, offset to be unsigned.

    The standard deviation is that of integers uniform in ``[-level, level]``. Byte ``b``
    maps to the normal quantile at ``(b + 0.5) / 256``, rounded: the table is symmetric,
    so the noise has zero mean and never shifts brightness.

    Returns:
        The 256-entry uint8 table, and the offset added to every entry.
    """
    sigma = np.sqrt(level * (level + 1) / 3)
    normal = NormalDist()
    values = np.array([round(sigma * normal.inv_cdf((b + 0.5) / 256)) for b in range(256)])
    offset = int(-values.min())
    table = (values + offset).astype(np.uint8)
    table.flags.writeable = False  # cached: shared by every image
    return table, offset


def _noise(image: np.ndarray, amount: float, seed: int) -> np.ndarray:
    """Sensor noise: fine luminance grain and coarse colour noise, added in place.

    Both come from random bytes through :func:`_noise_table`, as unsigned noise plus an
    offset; :func:`add_noise` applies them together, the colour noise stretched over the
    frame as ``cv2.resize`` with ``INTER_NEAREST`` stretches it.
    """
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    grain, grain_offset = _noise_table(max(1, int(round(amount * 12))))
    luminance = _random_bytes(rng, (h, w))
    luminance = cv2.LUT(luminance, grain, dst=luminance)
    shift, shift_offset = _noise_table(max(1, int(round(amount * 5))))
    color = cv2.LUT(_random_bytes(rng, (h // 4 + 1, w // 4 + 1, 3)), shift)
    rows, columns = _nearest_sources(h, w)
    add_noise(image, luminance, color, rows, columns, grain_offset + shift_offset)
    return image


@functools.cache
def _nearest_sources(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns of an ``(h // 4 + 1, w // 4 + 1)`` image that
    ``cv2.resize(..., (w, h), interpolation=cv2.INTER_NEAREST)`` puts at each row and
    column (OpenCV's own choice, read off a resized index image; read-only)."""
    rows = np.arange(h // 4 + 1, dtype=np.float32)[:, None].repeat(2, axis=1)
    columns = np.arange(w // 4 + 1, dtype=np.float32)[None, :].repeat(2, axis=0)
    rows = cv2.resize(rows, (2, h), interpolation=cv2.INTER_NEAREST)[:, 0].astype(np.int64)
    columns = cv2.resize(columns, (w, 2), interpolation=cv2.INTER_NEAREST)[0].astype(np.int64)
    rows.flags.writeable = columns.flags.writeable = False
    return rows, columns


def apply_effects(layers: Layers, scene: Scene) -> np.ndarray:
    """The final image of ``scene`` from its rendered layers.

    Args:
        layers: The renderer's output; not modified.
        scene: The scene rendered, whose sampled effect parameters are used.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    light = illumination(scene)
    h, w = layers.image.shape[:2]
    fx, kind, sun = scene.effects, scene.weather.kind, layers.sun
    flare = sun is not None and kind == "clear" and -0.1 * w < sun[0] < 1.1 * w \
        and -0.1 * h < sun[1] < 0.9 * h
    gain = _vignette_gain((h, w), fx.vignetting) if fx.vignetting > 0 else None
    # The vignette's gain rides along with the fog's weights when nothing is drawn between.
    fold = gain is not None and not flare and kind not in ("rain", "snow") \
        and fx.motion_blur < 3
    image = layers.image  # each step below returns a new image before any works in place
    if light.lights_on:
        image = _glow(image, layers, 0.9 if scene.lighting.time_of_day == "night" else 0.45)
    image = _atmosphere(image, layers.depth, scene, light, gain if fold else None)
    if flare:
        _flare(image, sun, min(1.0, light.sun * 1.2))
    if kind == "rain":
        image = _rain(image, scene)
    elif kind == "snow":
        image = _snow(image, scene)
    if fx.motion_blur >= 3:
        image = _motion_blur(image, fx.motion_blur, fx.motion_angle_deg)
    if gain is not None and not fold:
        image = _vignette(image, gain)
    if fx.noise > 0:
        image = _noise(image, fx.noise, fx.noise_seed)
    return image
