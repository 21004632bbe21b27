"""Light and shade on the ground: the shadows models cast in the sun, the soft contact
shadow under a vehicle, and after dark the pools of street lamps and the ego car's low
beams.

Drawn after the backdrop (:mod:`synthgen.render.backdrop`) and before any model, so
whatever stands on the ground is drawn over them. Every shape lies on the ground: the
world corners of all of them go through one batched projection
(:func:`synthgen.render.raster.project_ground`) into a mask, and the image is changed
only in the rectangle the mask's polygons cover (for the blurred pools, as far as the
blur reaches).
"""

from __future__ import annotations

import cv2
import numpy as np

from synthgen.render import raster
from synthgen.render.camera import Camera
from synthgen.render.lighting import Illumination
from synthgen.render.raster import SHIFT
from synthgen.render.shapes import Model
from synthgen.scene.model import Scene

#: Lamp pools on the ground: the whole levels a glow of 0-255 adds, a table per channel.
_GLOW = np.floor(np.array([1.0, 0.9, 0.72], np.float32)[:, None] * np.float32(0.6)
                 * np.arange(256, dtype=np.float32)).astype(np.uint8)
#: The contact shadow under a vehicle: its footprint scaled about its centre, and how
#: dark (of 255), from the outermost ring in.
_CONTACT_SHADOW = ((1.16, 80), (1.06, 140), (0.96, 195))


def ground_light(image: np.ndarray, scene: Scene, camera: Camera, light: Illumination,
                 models: list[Model], lamps: np.ndarray, *, scenery: bool = True) -> None:
    """Darken the ground under cast and contact shadows; brighten it under lamps.

    Shadows are drawn into a mask and applied only inside the rectangle the mask's
    polygons cover: everywhere else the image would be multiplied by one.

    Args:
        image: The image, drawn up to the road.
        scene: The scene (its time of day, and the camera's place for the low beams).
        camera: The view.
        light: The scene's illumination.
        models: Everything built (see :func:`synthgen.render.culling.build_models`).
        lamps: Ground positions of lit street lamps, ``(n, 3)``.
        scenery: False over a real photo (``--backgrounds``): no light pools, of lamps
            or of the low beams.
    """
    sun = light.sun_direction
    cast = light.shadow > 0 and sun[2] > 0.05
    vertices = {id(m): m.vertices() for m in models
                if (cast and m.casts_shadow) or m.contact_shadow}
    shapes = []
    casting = [vertices[id(m)] for m in models if cast and m.casts_shadow]
    if casting:
        # Every corner slides down the sun's rays to the ground, all models at once.
        points = np.concatenate(casting)
        on_ground = (points[:, :2] - points[:, 2:3] / sun[2] * sun[:2]).astype(np.float32)
        ends = np.cumsum([len(v) for v in casting])[:-1]
        shapes += [(cv2.convexHull(corners).reshape(-1, 2), int(255 * light.shadow))
                   for corners in np.split(on_ground, ends)]
    # Contact shadows last: the dark patch right under a vehicle wins over any cast
    # shadow that falls there. Soft: a fainter rim around a darker core.
    for model in models:
        if model.contact_shadow:
            points = vertices[id(model)]
            hull = cv2.convexHull(points[:, :2].astype(np.float32)).reshape(-1, 2)
            center = hull.mean(axis=0)
            shapes += [(center + (hull - center) * scale, value)
                       for scale, value in _CONTACT_SHADOW]
    shade = np.zeros(image.shape[:2], np.uint8)
    area = _fill_ground(shade, camera, shapes)
    if area is not None:
        keep = cv2.subtract(255, shade[area])
        region = image[area]
        cv2.multiply(region, cv2.cvtColor(keep, cv2.COLOR_GRAY2RGB), dst=region,
                     scale=1 / 255)
    if light.lights_on and scene.lighting.time_of_day != "day" and scenery:
        _lamp_pools(image, scene, camera, lamps)


def _fill_ground(mask: np.ndarray, camera: Camera, shapes: list[tuple[np.ndarray, int]]
                 ) -> tuple[slice, slice] | None:
    """Fill ground polygons into ``mask``, in order (later ones win).

    Args:
        mask: ``(H, W)`` uint8.
        camera: The view.
        shapes: Per polygon its world corners ``(n, 2)`` and the value to fill.

    Returns:
        The rows and columns the fills may have changed, or ``None`` if none drew.
    """
    drawn = []
    projected = raster.project_ground(camera, [xy for xy, _ in shapes])
    for (_, value), pts in zip(shapes, projected, strict=True):
        if pts is not None:
            cv2.fillPoly(mask, [pts], value, cv2.LINE_AA, SHIFT)
            drawn.append(pts)
    return raster.extent(np.concatenate(drawn), camera.width, camera.height) if drawn else None


def _lamp_pools(image: np.ndarray, scene: Scene, camera: Camera, lamps: np.ndarray) -> None:
    """Add the warm light of street lamps and the ego car's low beams to the ground.

    The pools are blurred at a quarter of the size and the glow is added as whole
    levels, looked up per channel (the same as truncating the float sum). When the
    frame divides into 4x4 cells all of it is done only on the cells the pools and
    the blur reach, plus a ring of empty cells so the last resize sees zeros as it
    would on the whole frame: the same pixels, at a fraction of the cost.
    """
    height, width = image.shape[:2]
    pool = np.zeros((height, width), np.uint8)
    cam = scene.camera
    shapes = []
    if scene.lighting.time_of_day == "night":
        # The ego car's own headlights light the road ahead.
        beam = np.array([[cam.x - 1.0, 4.0], [cam.x + 1.0, 4.0], [cam.x + 3.5, 28.0],
                         [cam.x - 3.5, 28.0]])
        shapes.append((beam, 55))
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    circle = 7.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    shapes += [(lamp[:2] + circle, 150) for lamp in lamps]
    area = _fill_ground(pool, camera, shapes)
    if area is None:
        return
    sigma = max(2.0, width / 160)
    frame = (slice(0, height), slice(0, width))
    small_size = (width // 4, height // 4)
    if width % 4 == 0 and height % 4 == 0:
        # OpenCV's Gaussian kernel for 8-bit images reaches 3 sigma each way.
        reach = (round(sigma * 6 + 1) | 1) // 2 + 1
        rows, cols = (slice(4 * max(a.start // 4 - reach, 0),
                            4 * min(-(-a.stop // 4) + reach, n // 4))
                      for a, n in zip(area, (height, width), strict=True))
        frame = (rows, cols)
        small_size = ((cols.stop - cols.start) // 4, (rows.stop - rows.start) // 4)
    small = cv2.resize(pool[frame], small_size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma)
    region = image[frame]
    glow = cv2.resize(small, region.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    cv2.add(region, cv2.merge([cv2.LUT(glow, table) for table in _GLOW]), dst=region)
