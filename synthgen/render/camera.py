"""Pinhole camera: world (x right, y forward, z up, metres) to pixels.

Camera coordinates follow OpenCV: ``x`` right, ``y`` down, ``z`` along the optical axis.
Pixel ``(u, v)`` has its centre at ``(u + 0.5, v + 0.5)`` in the continuous image plane,
so a point projecting to ``(10.0, 4.0)`` lies on the top-left corner of pixel ``(10, 4)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from synthgen.scene.model import CameraParams

#: Points nearer than this along the optical axis are clipped away (metres).
NEAR = 0.25


@dataclass(frozen=True)
class Camera:
    """A posed pinhole camera for one image size."""

    params: CameraParams
    width: int
    height: int

    @cached_property
    def focal(self) -> float:
        """Focal length in pixels (square pixels)."""
        return self.width / 2 / np.tan(np.radians(self.params.fov_deg) / 2)

    @cached_property
    def position(self) -> np.ndarray:
        return np.array([self.params.x, 0.0, self.params.height])

    @cached_property
    def rotation(self) -> np.ndarray:
        """World-to-camera rotation: rows are the camera's x, y, z axes in world terms."""
        yaw, pitch, roll = np.radians([self.params.yaw_deg, self.params.pitch_deg,
                                       self.params.roll_deg])
        forward = np.array([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch),
                            -np.sin(pitch)])
        right = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
        up = np.cross(right, forward)
        right, up = (right * np.cos(roll) - up * np.sin(roll),
                     up * np.cos(roll) + right * np.sin(roll))
        return np.stack([right, -up, forward])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` to camera coordinates ``(..., 3)``."""
        return (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation.T

    def camera_to_pixels(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera coordinates ``(..., 3)`` with ``z > 0`` to pixel coordinates ``(..., 2)``."""
        z = points_cam[..., 2:3]
        return points_cam[..., :2] / z * self.focal + np.array([self.width, self.height]) / 2

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points to pixels and their depth along the optical axis.

        Returns:
            ``(pixels (..., 2), depth (...))``; pixels are meaningful where ``depth > 0``.
        """
        cam = self.to_camera(points)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.camera_to_pixels(cam), cam[..., 2]

    def unproject(self, pixels: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels ``(..., 2)`` at depths ``(...)`` back to world points ``(..., 3)``."""
        pixels = np.asarray(pixels, dtype=np.float64)
        depth = np.asarray(depth, dtype=np.float64)[..., None]
        xy = (pixels - np.array([self.width, self.height]) / 2) / self.focal * depth
        cam = np.concatenate([xy, depth], axis=-1)
        return cam @ self.rotation + self.position

    @cached_property
    def _ray_z(self) -> tuple[float, float, float]:
        # World z of the ray through pixel (u, v) with camera depth 1 is a*u + b*v + c.
        r = self.rotation
        a = r[0, 2] / self.focal
        b = r[1, 2] / self.focal
        c = r[2, 2] - a * self.width / 2 - b * self.height / 2
        return a, b, c

    def _rise_terms(self, step: int = 1) -> tuple[np.ndarray, np.ndarray, np.float32]:
        """The three float32 terms of :meth:`ray_rise`: per row, per column and constant."""
        a, b, c = self._ray_z
        u = (np.arange(0, self.width, step, dtype=np.float32) + 0.5 * step)
        v = (np.arange(0, self.height, step, dtype=np.float32) + 0.5 * step)
        return np.float32(b) * v, np.float32(a) * u, np.float32(c)

    def ray_rise(self, step: int = 1) -> np.ndarray:
        """World-z rise of each pixel's viewing ray per metre of depth, ``(H, W)`` float32.

        Negative below the horizon (the ray meets the ground), positive above it. Sampled
        at pixel centres; ``step`` > 1 gives a coarser grid for cheap smooth fields.
        """
        rows, cols, c = self._rise_terms(step)
        return rows[:, None] + cols[None, :] + c

    def horizon_band(self) -> tuple[int, int] | None:
        """Rows ``[top, bottom)`` that hold both sky and ground pixels.

        Rows before ``top`` see only sky, rows from ``bottom`` on only ground; exact for
        the float32 values of :meth:`ray_rise` (rounding is monotonic, so a row's
        extremes come from the extremes of the column term). ``None`` if the ground is
        not below the sky in the image (a camera rolled past 90 degrees).
        """
        return self._horizon_band

    @cached_property
    def _horizon_band(self) -> tuple[int, int] | None:
        rows, cols, c = self._rise_terms()
        if rows[0] < rows[-1]:
            return None
        sky = (rows + cols.min()) + c >= 0  # the row's lowest ray is at or above the horizon
        ground = (rows + cols.max()) + c < 0  # the row's highest ray meets the ground
        return int(np.count_nonzero(sky)), self.height - int(np.count_nonzero(ground))

    def ground_depth(self, *, out: np.ndarray | None = None) -> np.ndarray:
        """Camera depth of the ground plane at every pixel; ``inf`` at and above the horizon.

        Args:
            out: An ``(H, W)`` float32 array to write into (and return).

        Raises:
            ValueError: ``out`` is not a writeable ``(H, W)`` float32 array.
        """
        if out is not None and (out.shape != (self.height, self.width)
                                or out.dtype != np.float32 or not out.flags.writeable):
            raise ValueError(f"ground_depth: out must be a writeable ({self.height}, "
                             f"{self.width}) float32 array, got {out.shape} {out.dtype}")
        height = np.float32(-self.params.height)
        # Row by row, in one compiled pass: rows of sky are set without arithmetic, and
        # only the horizon's band tests its pixels (every row, for a camera rolled so far
        # that the band is not defined). Same float32 operations as ray_rise, so the same
        # values. Imported here: only processes that render load numba.
        from synthgen.render.pixels import ground_depth  # noqa: PLC0415

        depth = np.empty((self.height, self.width), np.float32) if out is None else out
        ground_depth(*self._rise_terms(), height, *(self.horizon_band() or (0, self.height)),
                     depth)
        return depth


def clip_near(points_cam: np.ndarray, near: float = NEAR) -> np.ndarray:
    """Clip a polygon in camera coordinates to ``z >= near`` (Sutherland-Hodgman).

    Args:
        points_cam: ``(n, 3)`` vertices of a planar polygon, in order.

    Returns:
        ``(m, 3)`` vertices of the part in front of the near plane; ``m`` may be 0.
    """
    inside = points_cam[:, 2] >= near
    if inside.all():
        return points_cam
    if not inside.any():
        return points_cam[:0]
    out = []
    n = len(points_cam)
    for i in range(n):
        current, following = points_cam[i], points_cam[(i + 1) % n]
        current_in, following_in = inside[i], inside[(i + 1) % n]
        if current_in:
            out.append(current)
        if current_in != following_in:
            t = (near - current[2]) / (following[2] - current[2])
            out.append(current + t * (following - current))
    return np.array(out)
