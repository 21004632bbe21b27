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

import cv2
import numpy as np
from albumentations.augmentations.pixel import functional as albu

from synthgen.lighting import Illumination, illumination
from synthgen.render import Layers
from synthgen.scene import Scene


def _upscaled(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A low-resolution float light layer, at full size as uint8."""
    h, w = shape
    return cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (w, h),
                      interpolation=cv2.INTER_LINEAR)


def _constant(shape: tuple[int, ...], color) -> np.ndarray:
    """A uint8 image of one colour (one row repeated: much faster than broadcasting)."""
    pixel = np.broadcast_to(np.clip(np.asarray(color), 0, 255).astype(np.uint8), (3,))
    row = np.tile(pixel, (shape[1], 1))
    return np.repeat(row[None], shape[0], axis=0)


def _glow(image: np.ndarray, layers: Layers, strength: float) -> None:
    """Soft halos around lit lamps, computed at quarter resolution, added in place."""
    if not layers.lights:
        return
    h, w = image.shape[:2]
    small = np.zeros((h // 4 + 1, w // 4 + 1, 3), np.float32)
    for light in layers.lights:
        radius = max(1, int(round(light.radius * 1.6 / 4)))
        cv2.circle(small, (int(light.x / 4), int(light.y / 4)), radius,
                   tuple(float(c) for c in light.color), -1, cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.5, w / 400)) * strength
    cv2.add(image, _upscaled(small, (h, w)), dst=image)


def _atmosphere(image: np.ndarray, depth: np.ndarray, scene: Scene,
                light: Illumination) -> np.ndarray:
    """Koschmieder's law: ``I = I t + A (1 - t)`` with ``t = exp(-beta d)``."""
    t = cv2.exp(depth * np.float32(-light.extinction))
    # Under a clear or overcast sky the sky already is the sky; in rain, fog and snow it
    # is veiled like everything else.
    sky_depth = 0.0 if scene.weather.kind in ("clear", "overcast") else 450.0
    np.copyto(t, np.float32(np.exp(-light.extinction * sky_depth)), where=np.isinf(depth))
    return cv2.blendLinear(image, _constant(image.shape, light.airlight), t, 1.0 - t)


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
    small = cv2.GaussianBlur(small, (0, 0), max(2.0, w / 320)) * intensity
    cv2.add(image, _upscaled(small, (h, w)), dst=image)


def _rain(image: np.ndarray, scene: Scene) -> np.ndarray:
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
    # albumentations' rain returns a new array (some versions modified their input in
    # place, so it is handed a copy regardless).
    return albu.add_rain(image.copy(), slant=fx.rain_slant * length, drop_length=length,
                         drop_width=1, drop_color=(level, level, level + 6), blur_value=3,
                         brightness_coefficient=1.0 - 0.18 * intensity,
                         rain_drops=drops.astype(np.int32))


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
    alpha = cv2.GaussianBlur(layer, (0, 0), 0.8 * scale + 0.3).astype(np.float32) / 255
    return cv2.blendLinear(image, _constant(image.shape, 245), 1.0 - alpha, alpha)


def _motion_blur(image: np.ndarray, size: int, angle_deg: float) -> np.ndarray:
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.radians(angle_deg)) * c, np.sin(np.radians(angle_deg)) * c
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
             (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def _vignette(image: np.ndarray, amount: float) -> np.ndarray:
    h, w = image.shape[:2]
    y = np.linspace(-1.0, 1.0, h // 8 + 1, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w // 8 + 1, dtype=np.float32)[None, :]
    # Darkening towards the corners is a per-pixel gain: an 8-bit multiply, computed on a
    # coarse grid (it is smooth) and resized.
    gain = np.round(255 * (1.0 - amount * 0.5 * (x * x + y * y))).astype(np.uint8)
    gain = cv2.resize(cv2.merge([gain, gain, gain]), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(image, gain, scale=1 / 255)


def _signed_add(image: np.ndarray, noise: np.ndarray) -> None:
    """Add int8 noise to a uint8 image in place, saturating at 0 and 255."""
    cv2.add(image, np.maximum(noise, 0).view(np.uint8), dst=image)
    cv2.subtract(image, np.maximum(-noise, 0).view(np.uint8), dst=image)


def _noise(image: np.ndarray, amount: float, seed: int) -> None:
    """Sensor noise: fine luminance grain and coarse colour noise, added in place."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    grain = max(1, int(round(amount * 12)))
    luminance = rng.integers(-grain, grain + 1, (h, w), dtype=np.int8)
    _signed_add(image, cv2.merge([luminance, luminance, luminance]))
    shift = max(1, int(round(amount * 5)))
    color = rng.integers(-shift, shift + 1, (h // 4 + 1, w // 4 + 1, 3), dtype=np.int8)
    _signed_add(image, cv2.resize(color, (w, h), interpolation=cv2.INTER_NEAREST))


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
    image = layers.image.copy()
    if light.lights_on:
        _glow(image, layers, 0.9 if scene.lighting.time_of_day == "night" else 0.45)
    image = _atmosphere(image, layers.depth, scene, light)
    sun = layers.sun
    if sun is not None and scene.weather.kind == "clear" and -0.1 * w < sun[0] < 1.1 * w \
            and -0.1 * h < sun[1] < 0.9 * h:
        _flare(image, sun, min(1.0, light.sun * 1.2))
    if scene.weather.kind == "rain":
        image = _rain(image, scene)
    elif scene.weather.kind == "snow":
        image = _snow(image, scene)
    fx = scene.effects
    if fx.motion_blur >= 3:
        image = _motion_blur(image, fx.motion_blur, fx.motion_angle_deg)
    if fx.vignetting > 0:
        image = _vignette(image, fx.vignetting)
    if fx.noise > 0:
        _noise(image, fx.noise, fx.noise_seed)
    return image
