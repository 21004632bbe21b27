"""The models a scene is drawn with: its objects and scenery built in world space, less
what cannot show in the view.

A street holds far more than one camera sees (buildings, trees and poles all along the
road, behind the camera too). A thing whose bounding sphere, and the sphere around the
shadow it casts, lie wholly outside the view frustum can change no pixel, so it is not
built at all: building and drawing nothing of it gives the same image, instance id map
and depth, and the draw order (:func:`synthgen.render.order.draw_order`) is made not to
depend on it either.
"""

from __future__ import annotations

import numpy as np

from synthgen.render.camera import Camera
from synthgen.render.lighting import Illumination
from synthgen.render.shapes import Model, object_models, prop_models
from synthgen.scene.model import Scene


def build_models(scene: Scene, camera: Camera | None = None,
                 light: Illumination | None = None, *, scenery: bool = True) -> list[Model]:
    """World-space models of the objects and scenery of a scene.

    Args:
        scene: The scene.
        camera: If given, only what can show in its view (itself or its shadow, see
            :func:`relevant`) is built. A street lamp's pool of light is drawn from the
            scene's props whether its model is built or not.
        light: The scene's illumination (where shadows fall); needed with ``camera``.
        scenery: False: the objects only (a real photo stands for the scenery).
    """
    def kept(things) -> list:
        if camera is None or not things:
            return list(things)
        xy = np.array([(t.x, t.y) for t in things], np.float64)
        sizes = np.array([(t.length, t.width, t.height + getattr(t, "elevation", 0.0))
                          for t in things], np.float64)
        return [t for t, keep in zip(things, relevant(camera, light, xy, sizes).tolist(),
                                     strict=True) if keep]

    return prop_models(kept(scene.props if scenery else ())) + object_models(kept(scene.objects))


def relevant(camera: Camera, light: Illumination, xy: np.ndarray,
             sizes: np.ndarray) -> np.ndarray:
    """Which things at ground positions ``xy`` ``(n, 2)`` of ``sizes`` ``(n, 3)``
    (length, width, height) can show.

    True where a thing's bounding sphere, or the sphere around the shadow it casts,
    meets the view frustum; what cannot is neither built nor drawn, which changes no
    pixel.
    """
    length, width, height = sizes.T
    radius = 0.5 * np.sqrt(length * length + width * width + height * height)
    keep = _meets_frustum(camera, np.column_stack([xy, height / 2]), radius)
    sun = light.sun_direction
    if light.shadow > 0 and sun[2] > 0.05:
        offset = -height[:, None] / sun[2] * sun[:2]
        shadow = np.column_stack([xy + offset / 2, np.zeros(len(xy))])
        keep |= _meets_frustum(camera, shadow, radius + 0.5 * np.hypot(*offset.T))
    return keep


def _meets_frustum(camera: Camera, centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether spheres of ``radii`` about world ``centers`` may meet the view frustum:
    false only for one wholly behind the camera or wholly outside one of its side planes."""
    tx, ty = camera.width / 2 / camera.focal, camera.height / 2 / camera.focal
    cx, cy, cz = camera.to_camera(centers).T
    return ((cz >= -radii) & ((np.abs(cx) - tx * cz) / np.sqrt(1 + tx * tx) <= radii)
            & ((np.abs(cy) - ty * cz) / np.sqrt(1 + ty * ty) <= radii))
