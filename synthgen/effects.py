"""Effects: lamp glow, atmosphere (haze and fog from depth), sun flare, rain, snow and the
sensor's blur, vignetting and noise, applied to a rendered image.

Every effect is pixel-level: none moves scene content, so the instance id map the labels
are computed from stays exact (camera angle, height and roll are part of the 3D
projection, not image warps). A geometric effect added later must warp the instance id
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


def _glow(shape: tuple[int, int], layers: Layers, strength: float) -> np.ndarray | None:
    """Soft halos around lit lamps, computed at quarter resolution."""
    if not layers.lights:
        return None
    h, w = shape
    small = np.zeros((h // 4 + 1, w // 4 + 1, 3), np.float32)
    for light in layers.lights:
        radius = max(1, int(round(light.radius * 1.6 / 4)))
        cv2.circle(small, (int(light.x / 4), int(light.y / 4)), radius,
                   tuple(float(c) for c in light.color), -1, cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.5, w / 400))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) * strength


def _atmosphere(image: np.ndarray, depth: np.ndarray, scene: Scene,
                light: Illumination) -> np.ndarray:
    """Koschmieder's law: ``I = I t + A (1 - t)`` with ``t = exp(-beta d)``."""
    kind = scene.weather.kind
    # Under a clear or overcast sky the sky already is the sky; in rain, fog and snow it
    # is veiled like everything else.
    sky_depth = 0.0 if kind in ("clear", "overcast") else 450.0
    d = np.where(np.isinf(depth), np.float32(sky_depth), depth)
    t = np.exp(np.float32(-light.extinction) * d)[..., None]
    return image * t + light.airlight * (1.0 - t)


def _flare(shape: tuple[int, int], sun: tuple[float, float], intensity: float) -> np.ndarray:
    """A bright sun halo and a few ghosts along the line through the image centre."""
    h, w = shape
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
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) * intensity


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
    # albumentations' rain works on uint8 and is handed a copy (some versions modified
    # their input in place).
    return albu.add_rain(np.clip(image, 0, 255).astype(np.uint8), slant=fx.rain_slant * length,
                         drop_length=length, drop_width=1, drop_color=(level, level, level + 6),
                         blur_value=3, brightness_coefficient=1.0 - 0.18 * intensity,
                         rain_drops=drops.astype(np.int32)).astype(np.float32)


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
    alpha = cv2.GaussianBlur(layer, (0, 0), 0.8 * scale + 0.3).astype(np.float32)[..., None] / 255
    return image * (1 - alpha) + 245.0 * alpha


def _motion_blur(image: np.ndarray, size: int, angle_deg: float) -> np.ndarray:
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.radians(angle_deg)) * c, np.sin(np.radians(angle_deg)) * c
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
             (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def _vignette(shape: tuple[int, int], amount: float) -> np.ndarray:
    h, w = shape
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    return (1.0 - amount * 0.5 * (x * x + y * y))[..., None]


def _noise(image: np.ndarray, amount: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    luminance = rng.standard_normal((h, w), dtype=np.float32) * np.float32(amount * 9.0)
    chroma = rng.standard_normal((h // 4 + 1, w // 4 + 1, 3), dtype=np.float32) * np.float32(
        amount * 4.0)
    chroma = cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)
    return image + luminance[..., None] + chroma


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
    image = layers.image.astype(np.float32)
    if light.lights_on:
        glow = _glow((h, w), layers, 0.9 if scene.lighting.time_of_day == "night" else 0.45)
        if glow is not None:
            image += glow
    image = _atmosphere(image, layers.depth, scene, light)
    sun = layers.sun
    if sun is not None and scene.weather.kind == "clear" and -0.1 * w < sun[0] < 1.1 * w \
            and -0.1 * h < sun[1] < 0.9 * h:
        image += _flare((h, w), sun, min(1.0, light.sun * 1.2))
    if scene.weather.kind == "rain":
        image = _rain(image, scene)
    elif scene.weather.kind == "snow":
        image = _snow(image, scene)
    fx = scene.effects
    if fx.motion_blur >= 3:
        image = _motion_blur(image, fx.motion_blur, fx.motion_angle_deg)
    if fx.vignetting > 0:
        image *= _vignette((h, w), fx.vignetting)
    if fx.noise > 0:
        image = _noise(image, fx.noise, fx.noise_seed)
    return np.clip(image, 0, 255).astype(np.uint8)
