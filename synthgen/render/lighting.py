"""Illumination derived from a scene's time of day and weather, and the light it gives a
face (no randomness here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.scene.model import Scene

#: Sky colours (zenith, horizon) and ambient/sun strengths per time of day.
_TIME = {
    "day": dict(top=(62, 120, 200), horizon=(178, 204, 232), ambient=0.50, sun=0.70,
                tint=(1.0, 1.0, 1.0)),
    "dusk": dict(top=(58, 66, 118), horizon=(238, 148, 92), ambient=0.34, sun=0.55,
                 tint=(1.0, 0.80, 0.60)),
    "night": dict(top=(8, 10, 22), horizon=(30, 34, 52), ambient=0.16, sun=0.0,
                  tint=(0.62, 0.70, 1.0)),
}
#: Colour of lamp light (warm white), per channel.
_LAMP = np.array([1.0, 0.93, 0.8], np.float32)
#: Extinction coefficient (1/m) of the air: base and per unit of weather intensity.
_EXTINCTION = {"clear": (0.0012, 0.0), "overcast": (0.0025, 0.002), "rain": (0.004, 0.02),
               "fog": (0.012, 0.09), "snow": (0.006, 0.035)}


@dataclass(frozen=True)
class Illumination:
    """How a scene is lit, as the renderer and effects need it."""

    sun_direction: np.ndarray  # unit vector towards the sun
    sun: float                 # direct light strength
    ambient: float             # light from every direction
    tint: np.ndarray           # colour of the light, per channel multiplier
    sky_top: np.ndarray        # RGB float at the zenith
    sky_horizon: np.ndarray    # RGB float at the horizon
    shadow: float              # how much a cast shadow darkens the ground, 0-1
    extinction: float          # fog/haze coefficient, 1/m
    airlight: np.ndarray       # colour distant things fade to
    lights_on: bool            # vehicle and street lights lit
    wet: float                 # 0-1, darkens the road and adds reflections


def illumination(scene: Scene) -> Illumination:
    """Derive the lighting of ``scene`` from its sampled time of day and weather."""
    light, weather = scene.lighting, scene.weather
    base = _TIME[light.time_of_day]
    elevation, azimuth = np.radians([light.sun_elevation_deg, light.sun_azimuth_deg])
    sun_direction = np.array([np.cos(elevation) * np.sin(azimuth),
                              np.cos(elevation) * np.cos(azimuth), np.sin(elevation)])
    top = np.array(base["top"], np.float32)
    horizon = np.array(base["horizon"], np.float32)
    sun, ambient = float(base["sun"]), float(base["ambient"])
    if light.time_of_day == "dusk":
        # The lower the sun, the darker and redder the evening.
        sun *= float(np.clip(light.sun_elevation_deg / 8.0, 0.15, 1.0))
    cloud = 0.0 if weather.kind == "clear" else min(1.0, 0.6 + 0.4 * weather.intensity)
    night = light.time_of_day == "night"
    if cloud:
        grey = np.array([150, 154, 160] if weather.kind != "snow" else [190, 192, 198],
                        np.float32)
        if night:
            grey = grey * 0.16
        elif light.time_of_day == "dusk":
            grey = grey * 0.6
        darken = 1.0 - 0.25 * weather.intensity * (weather.kind == "rain")
        top = (top * (1 - cloud) + grey * 0.85 * cloud) * darken
        horizon = (horizon * (1 - cloud) + grey * cloud) * darken
        sun *= 1.0 - 0.9 * cloud
        ambient += 0.18 * cloud * (0.2 if night else 1.0)
    base_ext, per_intensity = _EXTINCTION[weather.kind]
    airlight = horizon.copy()
    if weather.kind == "fog":
        airlight = np.array([185, 188, 192], np.float32) * (0.18 if night else 1.0)
    return Illumination(
        sun_direction=sun_direction, sun=sun, ambient=ambient,
        tint=np.array(base["tint"], np.float32) * light.exposure,
        sky_top=top, sky_horizon=horizon,
        shadow=0.55 * sun / 0.7 if sun > 0.05 else 0.0,
        extinction=base_ext + per_intensity * weather.intensity,
        airlight=airlight,
        lights_on=light.time_of_day != "day" or weather.kind in ("fog", "rain", "snow"),
        wet=weather.intensity if weather.kind == "rain" else 0.0,
    )


def shading(light: Illumination, normals: np.ndarray, two_sided: np.ndarray,
            local: float | np.ndarray) -> np.ndarray:
    """Light reaching faces with these normals, ``(n, 3)`` per channel.

    Ambient light weighted towards faces that look up at the sky, direct sun by
    Lambert's cosine, lamp light ``local`` (one value, or one per face) added;
    two-sided faces (decals, lines) get a fixed share of each.
    """
    direct = np.where(two_sided, 0.3 * light.sun,
                      light.sun * np.maximum(0.0, normals @ light.sun_direction))
    sky = np.where(two_sided, 0.5, 0.5 + 0.5 * normals[:, 2])
    strength = light.ambient * (0.6 + 0.4 * sky) + direct
    lamp = np.asarray(local, np.float32)[..., None] * _LAMP
    return (strength[:, None] * light.tint + lamp).astype(np.float32)


def face_light(light: Illumination, normal: np.ndarray | None,
               local: float = 0.0) -> np.ndarray:
    """Light reaching one face with this normal (``None``: two-sided), per channel, plus
    ``local`` lamp light: :func:`shading` of one face."""
    normals = np.zeros((1, 3)) if normal is None else np.asarray(normal)[None]
    return shading(light, normals, np.array([normal is None]), local)[0]


def lit(color, factor: np.ndarray) -> tuple[float, float, float]:
    """A base colour (RGB, 0-255) under light ``factor`` (per channel), for OpenCV."""
    c = np.minimum(np.asarray(color, np.float32) * factor, 255.0)
    return float(c[0]), float(c[1]), float(c[2])
