"""What every object is drawn over: the sky, the bare ground, the far horizon, the road
and the ground's grain, or with ``--backgrounds`` a real photo in place of all of them.

The first things the painter draws, each function filling the image and (where it
changes what is seen) the depth layer; the shadows and lamp pools on the ground come
next, then the models. Deterministic: what noise there is (the ground's texture, the
skyline's shape) comes from the seed the scene sampled.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthgen.render import raster
from synthgen.render.camera import Camera
from synthgen.render.ground import ground_polygons, horizon_profile
from synthgen.render.lighting import Illumination, face_light, lit
from synthgen.render.raster import SHIFT
from synthgen.render.textures import texture
from synthgen.scene.model import Scene

#: Depths (m) over which the ground's grain fades from full to nothing.
_GRAIN_RANGE = (6.0, 32.0)
#: The depth (m) at which rain, snow and fog veil a real photo drawn over
#: (``--backgrounds``): one value for the whole photo, about where a street's buildings
#: stand.
PHOTO_DEPTH = np.float32(40.0)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


def sky_and_ground(image: np.ndarray, depth: np.ndarray, scene: Scene, camera: Camera,
                   light: Illumination) -> None:
    """Fill the sky gradient and the bare ground; set the ground's analytic depth.

    Both colour fields vary slowly, so they are computed on a coarse grid and resized.
    The horizon is a straight line: the ground is painted over the frame, the sky over
    the rows above the horizon, and only the few rows the horizon crosses choose per
    pixel, by the depth (finite on the ground), so image and depth agree exactly.
    """
    camera.ground_depth(out=depth)
    # A camera rolled upside down has no rows of pure sky or ground: test every row.
    top, bottom = camera.horizon_band() or (0, camera.height)
    if top < camera.height:
        _ground(image, scene, light)
    if bottom == 0:
        return
    # The sky's resize may run past the rows that see sky: keep the ground there.
    rows = _sky_rows(camera, bottom)
    ground = image[top:rows].copy()
    _sky(image, camera, light, rows)
    image[bottom:rows] = ground[bottom - top:]
    if bottom > top:
        on_ground = cv2.compare(depth[top:bottom], np.inf, cv2.CMP_LT)
        cv2.copyTo(ground[:bottom - top], on_ground, image[top:bottom])


def real_photo(image: np.ndarray, depth: np.ndarray, photo: np.ndarray, scene: Scene) -> None:
    """Take a real photo (``--backgrounds``) for the sky, ground and scenery. Under a
    clear or overcast sky it is at infinite depth, seen as the camera took it (its
    haze is in it already, and the sky is not veiled then); in rain, snow and fog all
    of it is at :data:`PHOTO_DEPTH` (nothing says how far what it shows is), veiled
    evenly as a drawn wall that far away is."""
    if photo.shape != image.shape or photo.dtype != np.uint8:
        raise ValueError(f"background is {photo.shape} {photo.dtype}, expected "
                         f"{image.shape} uint8")
    image[:] = photo
    clear = scene.weather.kind in ("clear", "overcast")
    depth[:] = np.inf if clear else PHOTO_DEPTH


def _sky_rows(camera: Camera, rows: int) -> int:
    """How many rows :func:`_sky` paints to get the first ``rows`` right.

    The sky is computed on an 8-pixel grid and resized linearly. When the image is a
    whole number of cells each way, resizing only the cells these rows need gives the
    same pixels as resizing them all (a cell reaches 4.5 pixels into the next).
    """
    if camera.width % 8 or camera.height % 8:
        return camera.height
    return min(camera.height, 8 * ((rows + 11) // 8))


def _sky(image: np.ndarray, camera: Camera, light: Illumination, rows: int) -> None:
    """Paint the sky's gradient over the first ``rows`` rows (from :func:`_sky_rows`)."""
    rise = camera.ray_rise(8)
    if rows < camera.height:
        rise = rise[:rows // 8]
    t = np.clip(rise / 0.45, 0.0, 1.0)[..., None] ** 0.55
    sky = light.sky_horizon + (light.sky_top - light.sky_horizon) * t
    cv2.resize(_to_uint8(sky), (camera.width, rows), dst=image[:rows],
               interpolation=cv2.INTER_LINEAR)


def _ground(image: np.ndarray, scene: Scene, light: Illumination) -> None:
    """Paint the bare ground over the frame: its tint, lit from above, times a coarse
    random texture resized smoothly."""
    height, width = image.shape[:2]
    texture_rng = np.random.default_rng(scene.effects.ground_texture_seed)
    grit = texture_rng.normal(1.0, 0.07, (height // 16 + 1, width // 16 + 1))
    snow = scene.weather.intensity if scene.weather.kind == "snow" else 0.0
    base = np.asarray(scene.road.ground_color, np.float32)
    base = base * (1 - 0.8 * snow) + np.array([232, 234, 238], np.float32) * 0.8 * snow
    ground = base * face_light(light, np.array([0.0, 0.0, 1.0])) * grit[..., None]
    cv2.resize(_to_uint8(ground), (width, height), dst=image,
               interpolation=cv2.INTER_CUBIC)


def horizon(image: np.ndarray, depth: np.ndarray, scene: Scene, camera: Camera,
            light: Illumination) -> None:
    """Fill the far horizon's outline (a skyline, a treeline, hills: the scene's
    ``horizon``), in the colour of distant things fading into the air, at its depth."""
    outline = horizon_profile(scene.horizon, scene.effects.ground_texture_seed + 1)
    if not len(outline):
        return
    projected = raster.project(camera, outline)
    if projected is None:
        return
    pts, distance = projected
    snow = scene.weather.intensity if scene.weather.kind == "snow" else 0.0
    far = np.asarray(scene.road.ground_color, np.float32) * 0.6
    if scene.horizon == "city":
        far = np.array([120, 124, 132], np.float32)
    far = far * face_light(light, np.array([0.0, -1.0, 0.3]))
    color = far * 0.55 + light.airlight * 0.45 * (1 - 0.5 * snow) + 60 * snow
    cv2.fillPoly(image, [pts], lit(color, np.float32(1.0)), cv2.LINE_AA, SHIFT)
    cv2.fillPoly(depth, [pts], distance, cv2.LINE_8, SHIFT)


def road(image: np.ndarray, depth: np.ndarray, scene: Scene, camera: Camera,
         light: Illumination) -> None:
    """Fill the road's ground polygons (surface, wear, shoulders, sidewalks and their
    joints, paint) in order, then give the ground its grain (:func:`grain`)."""
    snow = scene.weather.intensity if scene.weather.kind == "snow" else 0.0
    factor = face_light(light, np.array([0.0, 0.0, 1.0]))
    polygons = ground_polygons(scene.road, wet=light.wet, snow=snow,
                               texture_seed=scene.effects.ground_texture_seed + 2)
    colors: dict[tuple[int, int, int], tuple[float, float, float]] = {}
    projected = raster.project_ground(camera, [p.points for p in polygons])
    for polygon, pts in zip(polygons, projected, strict=True):
        if pts is not None:
            if polygon.color not in colors:
                colors[polygon.color] = lit(polygon.color, factor)
            cv2.fillPoly(image, [pts], colors[polygon.color], cv2.LINE_AA, SHIFT)
    grain(image, depth, scene.effects.ground_texture_seed)


def grain(image: np.ndarray, depth: np.ndarray, seed: int) -> None:
    """Multiply the grain texture into the ground, strongest near the camera and gone
    by ``_GRAIN_RANGE[1]`` metres (farther, grit is finer than a pixel).

    Run before models are drawn: everything in the image nearer than that is ground.

    Args:
        image: The image, drawn up to the road.
        depth: Its depth layer.
        seed: The scene's ``ground_texture_seed``: where the frame falls on the texture.
    """
    near, far = _GRAIN_RANGE
    height, width = depth.shape
    # The ground's depth changes slowly: where and how much, on a grid 4 pixels wide.
    coarse = cv2.resize(depth, (max(1, width // 4), max(1, height // 4)),
                        interpolation=cv2.INTER_NEAREST)
    x, y, w, h = (4 * v for v in cv2.boundingRect(cv2.compare(coarse, far, cv2.CMP_LT)))
    if not w:
        return
    # A rectangle reaching the grid's last cell reaches the frame's edge.
    w = width - x if x + w >= 4 * (width // 4) else w
    h = height - y if y + h >= 4 * (height // 4) else h
    # 255 at ``near`` and nearer, 0 from ``far`` on.
    scale = 255 / (far - near)
    amount = cv2.convertScaleAbs(cv2.min(coarse[y // 4:(y + h + 3) // 4,
                                                x // 4:(x + w + 3) // 4], far),
                                 alpha=-scale, beta=scale * far)
    amount = cv2.resize(amount, (w, h), interpolation=cv2.INTER_LINEAR)
    tiled = texture("grain", height, width, seed)
    # 128 + (texture - 128) * amount / 255, in two saturating 8-bit steps.
    gain = cv2.add(cv2.multiply(tiled[y:y + h, x:x + w], amount, scale=1 / 255),
                   cv2.convertScaleAbs(amount, alpha=-128 / 255, beta=128))
    region = image[y:y + h, x:x + w]
    cv2.multiply(region, cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB), dst=region, scale=1 / 128)
