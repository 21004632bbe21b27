"""3D shapes of objects and scenery: flat faces in local coordinates, placed in the world.

Each object is a :class:`Model`: a few convex *parts* (body, cabin, legs, ...) made of
planar, convex polygons with outward normals, held as flat arrays, gathered as such while
a shape is built (:class:`_Polygons`; no object per polygon), or, for a scene's cars and
pedestrians, worked out for all of them at once (:func:`car_models`,
:func:`pedestrian_models`). Details that lie on a face (windows, lights, wheels, lamps)
are *decals* of that face, drawn right after it, so they never fight with it over depth.
Faces of a labelled object that are not part of what a human labeller would box (the pole
of a traffic light or sign) are marked unlabelled and leave the instance id map at 0.

Local coordinates of a model: ``x`` across (to its right), ``y`` along its heading, ``z``
up from the ground. Nothing here is random: every choice comes from the scene.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from synthgen.scene.model import Prop, SceneObject

#: Tinted glass, and the sky it reflects (lower and upper band of a window).
GLASS = (17, 21, 27)
SKY_GLINT = ((48, 57, 70), (86, 99, 118))
TYRE = (20, 20, 22)
ARCH = (11, 11, 12)
UNDERBODY = (14, 14, 15)
#: Rims: silver alloy, steel grey, black.
RIMS = ((168, 171, 176), (120, 120, 125), (46, 46, 49))
TRIM = (34, 34, 36)
GRILLE = (24, 24, 26)
PLATE = (228, 228, 220)
HEADLIGHT = (255, 246, 215)
TAIL_LIGHT = (230, 28, 22)
TAIL_LIGHT_OFF = (150, 25, 20)
SKIN = ((224, 186, 160), (190, 140, 105), (141, 95, 66), (92, 62, 45))
LAMP_OFF = ((70, 18, 16), (70, 55, 12), (14, 55, 30))
LAMP_ON = ((255, 50, 40), (255, 190, 40), (60, 255, 140))
#: Surface materials: which texture (:mod:`synthgen.render.textures`) the renderer puts on a
#: face of scenery. Faces of labelled objects are never textured this way.
PLAIN, FACADE, FOLIAGE, BARK = 0, 1, 2, 3
MATERIAL_TEXTURES = {FACADE: "facade", FOLIAGE: "foliage", BARK: "bark"}


@dataclass(frozen=True)
class DecalBatch:
    """Many same-coloured quads on one face (windows of a building), drawn in one call."""

    quads: np.ndarray  # (m, 4, 3)
    color: tuple[int, int, int]
    emissive: bool = False


@dataclass(eq=False)
class Model:
    """An object or prop, ready to draw: every polygon of it in flat arrays.

    Polygons are the faces of its convex *parts* and the decals on them, in drawing order
    within each part: a face, then its decals. Shapes are gathered as arrays while they
    are built (:class:`_Polygons`, or for many cars or pedestrians at once), so that
    building, placing, projecting, culling and shading a model are a few array
    operations, not work per face. Its arrays are
    read-only: models are cached, and placed copies share the arrays placing does not
    change.

    Attributes:
        points: ``(p, 3)`` vertices of all polygons, one polygon after another.
        starts: ``(n,)`` index in ``points`` of each polygon's first vertex.
        counts: ``(n,)`` vertices per polygon.
        colors: ``(n, 3)`` float32 base colours.
        normals: ``(n, 3)`` outward unit normals; zero for two-sided polygons.
        two_sided: ``(n,)`` polygons without a normal (decals, lines).
        labelled: ``(n,)`` polygons whose pixels belong to the object's label.
        emissive: ``(n, 3)`` float32 light colours; valid where ``emits``.
        emits: ``(n,)`` polygons that glow when lights are on.
        line_widths: ``(n,)`` width in metres of polylines, 0 for filled polygons.
        closed: ``(n,)`` whether a polyline is closed.
        parent: ``(n,)`` the face a decal lies on (a face is its own parent): a decal is
            drawn only if that face is, with that face's light.
        parts: ``(start, end)`` polygon ranges of the parts; parts are drawn far to near.
        part_centers: ``(k, 3)`` mean face vertex of each part, to order them by depth.
        face_vertex: ``(p,)`` vertices of faces (not of decals), the model's outline.
        detail: ``(n,)`` decals drawn only when their face is large enough on screen.
        materials: ``(n,)`` uint8 surface materials (``PLAIN``, ``FACADE``, ...).
        batches: Window batches drawn right after the polygon whose index is the key.
        instance_id: Value in the instance id map (0 for scenery).
        category: Category name of a labelled object, else ``None``.
        center: World position used to order models far to near.
        casts_shadow: Whether a sun shadow is drawn for it.
        contact_shadow: Whether a dark patch is drawn under it (vehicles).
    """

    points: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    colors: np.ndarray
    normals: np.ndarray
    two_sided: np.ndarray
    labelled: np.ndarray
    emissive: np.ndarray
    emits: np.ndarray
    line_widths: np.ndarray
    closed: np.ndarray
    parent: np.ndarray
    parts: tuple[tuple[int, int], ...]
    part_centers: np.ndarray
    face_vertex: np.ndarray
    detail: np.ndarray
    materials: np.ndarray
    batches: dict[int, list[DecalBatch]] = field(default_factory=dict)
    instance_id: int = 0
    category: str | None = None
    center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    casts_shadow: bool = True
    contact_shadow: bool = False

    def vertices(self) -> np.ndarray:
        """All vertices of all faces (not decals), ``(n, 3)``."""
        return self.points[self.face_vertex]


def _read_only(model: Model) -> Model:
    """Freeze a model's arrays: models are cached, and placed or stretched copies share
    the arrays they do not change, so none may ever be written."""
    arrays = [v for v in vars(model).values() if isinstance(v, np.ndarray)]
    arrays += [batch.quads for group in model.batches.values() for batch in group]
    for array in arrays:
        array.flags.writeable = False
    return model


def _replace(model: Model, **changes) -> Model:
    """A copy of ``model`` with some fields changed, their new arrays made read-only.

    What :func:`dataclasses.replace` then :func:`_read_only` do, without running
    ``__init__`` again or re-freezing the shared arrays: models are placed dozens of times
    per image.
    """
    copy = object.__new__(Model)
    copy.__dict__.update(model.__dict__)
    copy.__dict__.update(changes)
    for value in changes.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        elif isinstance(value, dict):
            for group in value.values():
                for batch in group:
                    batch.quads.flags.writeable = False
    return copy


# --- building blocks, in local coordinates -------------------------------------------------

_BOX_FACES = np.array([(1, 2, 6, 5), (3, 0, 4, 7), (2, 3, 7, 6), (0, 1, 5, 4), (4, 5, 6, 7),
                       (3, 2, 1, 0)])  # +x, -x, +y, -y, top, bottom
_BOX_NORMALS = np.array([(1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0),
                         (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)])
_BOX_NORMALS.flags.writeable = False


def _normals(polygons: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Outward unit normals ``(n, 3)`` of planar polygons ``(n, k, 3)`` of a solid around
    ``center`` ``(3,)``: the cross product of the first two edges, flipped where it points
    towards the centre; where that product is shorter than 1e-12 (a polygon without
    area) it is returned as it is, not made unit.

    Written with Python floats, not array operations: a solid has five or six faces, and
    a dozen NumPy calls on arrays that small cost several times the arithmetic. Each
    value is the same IEEE operation, in the same order, that the array form does.
    """
    cx, cy, cz = center.tolist()
    k = polygons.shape[1]
    normals = []
    for polygon in polygons.tolist():
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = polygon[:3]
        ax, ay, az = x1 - x0, y1 - y0, z1 - z0
        bx, by, bz = x2 - x0, y2 - y0, z2 - z0
        nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        length = math.sqrt(nx * nx + ny * ny + nz * nz)
        if length > 1e-12:
            nx, ny, nz = nx / length, ny / length, nz / length
        mx, my, mz = polygon[0]
        for px, py, pz in polygon[1:]:
            mx, my, mz = mx + px, my + py, mz + pz
        if (mx / k - cx) * nx + (my / k - cy) * ny + (mz / k - cz) * nz >= 0:
            normals.append((nx, ny, nz))
        else:
            normals.append((-nx, -ny, -nz))
    return np.array(normals, np.float64).reshape(-1, 3)


def _hexahedron(base: tuple[float, float, float, float],
                top: tuple[float, float, float, float], z0: float, z1: float) -> np.ndarray:
    """The corners ``(8, 3)`` of a solid between rectangles ``(x0, x1, y0, y1)`` at
    heights ``z0`` and ``z1``: bottom then top, each -x-y, +x-y, +x+y, -x+y."""
    bx0, bx1, by0, by1 = base
    tx0, tx1, ty0, ty1 = top
    return np.array([[bx0, by0, z0], [bx1, by0, z0], [bx1, by1, z0], [bx0, by1, z0],
                     [tx0, ty0, z1], [tx1, ty0, z1], [tx1, ty1, z1], [tx0, ty1, z1]],
                    np.float64)


def _solid_faces(vertices: np.ndarray, n: int = 5
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``n`` faces of a hexahedron (:func:`_hexahedron`'s corners; a bottom as
    the sixth): outlines ``(n, 4, 3)``, outward normals (:func:`_normals`) and which
    have area (a face without a normal is left out of every solid)."""
    outlines = vertices[_BOX_FACES[:n]]
    normals = _normals(outlines, vertices.mean(axis=0))
    return outlines, normals, normals.any(axis=1)


def _hexahedra(base: tuple[np.ndarray, ...], top: tuple[np.ndarray, ...], z0: np.ndarray,
               z1: np.ndarray) -> np.ndarray:
    """:func:`_hexahedron` of many solids, the bounds given as ``(m,)`` arrays:
    ``(m, 8, 3)``."""
    bx0, bx1, by0, by1 = base
    tx0, tx1, ty0, ty1 = top
    corners = np.empty((len(z0), 8, 3))
    for k, corner in enumerate(((bx0, by0, z0), (bx1, by0, z0), (bx1, by1, z0),
                                (bx0, by1, z0), (tx0, ty0, z1), (tx1, ty0, z1),
                                (tx1, ty1, z1), (tx0, ty1, z1))):
        for axis, value in enumerate(corner):
            corners[:, k, axis] = value
    return corners


def _solid_faces_of_many(vertices: np.ndarray, n: int = 5
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_solid_faces` of many hexahedra ``(m, 8, 3)``: outlines ``(m, n, 4, 3)``,
    normals ``(m, n, 3)`` and which have area ``(m, n)``; each value the same IEEE
    operation, in the same order, as for one solid (:func:`_normals`)."""
    outlines = vertices[:, _BOX_FACES[:n]]
    center = vertices[:, 0]
    for k in range(1, 8):
        center = center + vertices[:, k]
    center = center / 8
    p0, p1, p2 = outlines[..., 0, :], outlines[..., 1, :], outlines[..., 2, :]
    a, b = p1 - p0, p2 - p0
    ax, ay, az, bx, by, bz = a[..., 0], a[..., 1], a[..., 2], b[..., 0], b[..., 1], b[..., 2]
    normal = np.empty(a.shape)
    normal[..., 0] = ay * bz - az * by
    normal[..., 1] = az * bx - ax * bz
    normal[..., 2] = ax * by - ay * bx
    nx, ny, nz = normal[..., 0], normal[..., 1], normal[..., 2]
    length = np.sqrt(nx * nx + ny * ny + nz * nz)
    has_length = length > 1e-12
    normal[has_length] /= length[has_length, None]
    k = outlines.shape[-2]
    mean = (p0 + p1 + p2 + outlines[..., 3, :]) / k - center[:, None]
    out = mean[..., 0] * nx + mean[..., 1] * ny + mean[..., 2] * nz >= 0
    normal[~out] *= -1
    return outlines, normal, normal.any(axis=-1)


#: Faces of a solid: ``(outlines (k, n, 3), outward normals (k, 3), which faces they
#: are)``, see :func:`_box_faces`.
SolidFaces = tuple[np.ndarray, np.ndarray, list[int]]


def _frustum_faces(base: tuple[float, float, float, float],
                   top: tuple[float, float, float, float], z0: float, z1: float,
                   n: int = 5) -> SolidFaces:
    """The first ``n`` faces (:func:`_solid_faces`) of a box whose top rectangle may be
    smaller or shifted (a car's cabin, a roof), those without area left out: their
    outlines, normals, and the index of each among the ``n``."""
    outlines, normals, has_area = _solid_faces(_hexahedron(base, top, z0, z1), n)
    if has_area.all():
        return outlines, normals, list(range(n))
    return outlines[has_area], normals[has_area], np.flatnonzero(has_area).tolist()


def _box_faces(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float,
               n: int = 5) -> SolidFaces:
    """The first ``n`` faces of an axis-aligned box (+x, -x, +y, -y, top, bottom), as
    :func:`_frustum_faces`: the axes are its normals. A flat box is a frustum, whose
    faces without area are left out."""
    if not (x1 > x0 and y1 > y0 and z1 > z0):
        return _frustum_faces((x0, x1, y0, y1), (x0, x1, y0, y1), z0, z1, n)
    vertices = _hexahedron((x0, x1, y0, y1), (x0, x1, y0, y1), z0, z1)
    return vertices[_BOX_FACES[:n]], _BOX_NORMALS[:n], list(range(n))


def _inset(points: np.ndarray, fraction_x: float, fraction_y: float | None = None
           ) -> np.ndarray:
    """A face's outline ``(n, 3)`` shrunk towards its centre (a window inside a pillar
    frame)."""
    center = points.mean(axis=0)
    fy = fraction_x if fraction_y is None else fraction_y
    scale = np.array([1 - fraction_x, 1 - fraction_x, 1 - fy])
    return center + (points - center) * scale


def _circle(center: tuple[float, float, float], radius: float, axis: str, n: int = 12,
            shape: str = "circle") -> np.ndarray:
    """A regular polygon in the plane perpendicular to ``axis`` ('x' or 'y')."""
    cos, sin = _unit_polygon(shape, n)
    a, b = radius * cos, radius * sin
    cx, cy, cz = center
    if axis == "x":
        return np.stack([np.full_like(a, cx), cy + a, cz + b], axis=1)
    return np.stack([cx + a, np.full_like(a, cy), cz + b], axis=1)


@functools.cache
def _unit_polygon(shape: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines of the corners of a regular polygon (read-only)."""
    if shape == "triangle":
        angles = np.radians([90.0, 210.0, 330.0])
    elif shape == "octagon":
        angles = np.radians(22.5 + 45.0 * np.arange(8))
    elif shape == "square":
        angles = np.radians(45.0 + 90.0 * np.arange(4))
    elif shape == "diamond":
        angles = np.radians(90.0 * np.arange(4))
    else:
        angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    cos, sin = np.cos(angles), np.sin(angles)
    cos.flags.writeable = sin.flags.writeable = False
    return cos, sin


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(max(c * factor, 0), 255)) for c in color)  # type: ignore[return-value]


# --- vehicles ----------------------------------------------------------------------------

_CAR_SHAPES = {
    # body top (fraction of height), cabin bottom y0/y1 and top y0/y1 (fractions of length)
    "sedan": (0.52, (-0.36, 0.20), (-0.24, 0.06)),
    "hatchback": (0.52, (-0.46, 0.18), (-0.40, 0.04)),
    "suv": (0.55, (-0.47, 0.24), (-0.44, 0.12)),
    "van": (0.45, (-0.49, 0.36), (-0.48, 0.26)),
}
#: Multipliers that read quasi-independent style values off one sampled value: the value
#: times 1, 7, 53, ... modulo 1, its digits in other bases, which are as good as
#: independent draws for picking a finish and proportions, and fixed by the scene.
_STYLE_MULTIPLIERS = (1.0, 7.0, 53.0, 331.0, 2203.0)


class _Rects(NamedTuple):
    """Decal rectangles in the plane of a vertical face of an axis-aligned box, for many
    boxes at once: ``h0..h1`` along the face (local ``y`` on a side, ``x`` on the front or
    back), ``z0..z1`` up, each ``(n, k)`` for ``n`` boxes and ``k`` rectangles; they may
    reach beyond the face (a wheel arch, the gap under the body). Each rectangle is
    ``offsets`` metres off the face (see :meth:`_Solid.decal`), a detail or not, and
    glows with a light or not (``None``)."""

    h0: np.ndarray
    h1: np.ndarray
    z0: np.ndarray
    z1: np.ndarray
    offsets: np.ndarray
    detail: list[bool]
    emissive: list[tuple[int, int, int] | None]


def _rects(n: int, rows: list[tuple]) -> _Rects:
    """:class:`_Rects` of ``n`` boxes from ``rows`` ``(h0, h1, z0, z1, offset, detail,
    light)``, each bound a number or an ``(n,)`` array."""
    bounds = np.empty((4, n, len(rows)))
    for k, row in enumerate(rows):
        for i in range(4):
            bounds[i, :, k] = row[i]
    return _Rects(*bounds, np.array([row[4] for row in rows]), [row[5] for row in rows],
                  [row[6] for row in rows])


def _rect_outlines(normal: np.ndarray, plane: np.ndarray, rects: _Rects) -> np.ndarray:
    """The outlines ``(n, k, 4, 3)`` of ``rects`` on a vertical face of each of ``n``
    axis-aligned boxes with outward ``normal``, whose plane is ``x = plane`` (a side) or
    ``y = plane`` (a front or back), ``plane`` ``(n,)``, each moved its offset off the
    face (the arithmetic of :meth:`_Solid.decal`, element for element)."""
    outlines = np.empty((*rects.h0.shape, 4, 3))
    across, along = (0, 1) if abs(normal[0]) > 0.5 else (1, 0)
    outlines[..., across] = np.asarray(plane, np.float64)[:, None, None]
    for corner, (h, z) in enumerate(((rects.h0, rects.z0), (rects.h1, rects.z0),
                                     (rects.h1, rects.z1), (rects.h0, rects.z1))):
        outlines[..., corner, along] = h
        outlines[..., corner, 2] = z
    outlines += normal * rects.offsets[:, None, None]
    return outlines


def _subs(outlines: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Parts of planar quads ``(..., 4, 3)``, each ``(b0, b1, t1, t0)`` (bottom edge,
    then top edge backwards, as the side faces of :func:`_frustum_faces` are): per quad,
    ``bounds`` ``(..., 4)`` gives fractions ``s0..s1`` along it and ``u0..u1`` from
    bottom to top. Bilinear, so each part stays in its quad's plane."""
    b0, b1, t1, t0 = (outlines[..., i, :] for i in range(4))
    s0, s1, u0, u1 = (bounds[..., i, None] for i in range(4))
    lo0, lo1 = b0 + (t0 - b0) * u0, b1 + (t1 - b1) * u0
    hi0, hi1 = b0 + (t0 - b0) * u1, b1 + (t1 - b1) * u1
    return np.stack([lo0 + (lo1 - lo0) * s0, lo0 + (lo1 - lo0) * s1,
                     hi0 + (hi1 - hi0) * s1, hi0 + (hi1 - hi0) * s0], axis=-2)


def _wheel_rings(normal: np.ndarray, positions, radius, x) -> list[np.ndarray]:
    """Per axle position on a side face (outward ``normal``, plane ``x``): the outlines
    of the wheel arch, tyre, rim and hub, ``(..., axles, n, 3)`` each, moved off the face
    (the arithmetic of :func:`_circle` and :meth:`_Solid.decal`, for every axle at once).
    The arch is a circle cut off at the axle's height, so nothing of it shows below the
    body that the tyre does not cover.

    ``positions`` ``(..., axles)``, ``radius`` and ``x`` ``(...)``: one vehicle, or many
    (cars, :func:`car_models`) along leading axes.
    """
    y = np.asarray(positions, np.float64)[..., None]
    radius = np.asarray(radius, np.float64)[..., None, None]
    x = np.asarray(x, np.float64)[..., None, None]
    rings = []
    for r, n, offset in ((radius * 1.16, 12, 0.015), (radius, 14, 0.02),
                         (radius * 0.64, 12, 0.025), (radius * 0.22, 8, 0.03)):
        cos, sin = _unit_polygon("circle", n)
        outline = np.empty((*y.shape[:-1], n, 3))
        outline[..., 0] = x
        outline[..., 1] = y + r * cos
        outline[..., 2] = radius + r * sin
        outline += normal * offset
        rings.append(outline)
    rings[0][..., 2] = np.maximum(rings[0][..., 2], radius)
    return rings


def _wheels(solid: _Solid, side: int, positions: list[float], radius: float, x: float,
            rim: tuple[int, int, int] = RIMS[1]) -> None:
    """Per axle position, as decals of face ``side`` of ``solid`` (plane ``x``): the dark
    wheel arch above the tyre, the tyre, its rim and hub (rim and hub are details; see
    :func:`_wheel_rings`)."""
    hub_color = _shade(rim, 0.45)
    for arch, tyre, disc, hub in zip(*_wheel_rings(solid.normals[side], positions, radius, x),
                                     strict=True):
        solid.decal(side, arch, ARCH, offset=None)
        solid.decal(side, tyre, TYRE, offset=None)
        solid.decal(side, disc, rim, offset=None, detail=True)
        solid.decal(side, hub, hub_color, offset=None, detail=True)


def _lights(front: _Solid, front_face: int, rear: _Solid, rear_face: int, w: float,
            z: float, size: float) -> None:
    """Head lights on ``front_face`` of ``front`` and tail lights on ``rear_face`` of
    ``rear``, glowing when lights are on."""
    for sx in (-1.0, 1.0):
        cx = sx * (w / 2 - size * 1.2)
        for solid, face, color in ((front, front_face, HEADLIGHT),
                                   (rear, rear_face, TAIL_LIGHT)):
            y = solid.outlines[face][0, 1]
            quad = np.array([[cx - size, y, z - size * 0.45], [cx + size, y, z - size * 0.45],
                             [cx + size, y, z + size * 0.45], [cx - size, y, z + size * 0.45]])
            lit = color if color == TAIL_LIGHT else HEADLIGHT
            dim = _shade(color, 0.75) if color == HEADLIGHT else TAIL_LIGHT_OFF
            solid.decal(face, quad, dim, emissive=lit, offset=0.02)


def _face_colors(colors: tuple[int, int, int] | list[tuple[int, int, int]],
                 kept: list[int]) -> list[tuple[int, int, int]]:
    """The colours of a solid's ``kept`` faces, from one colour for all or one per face
    of the whole solid."""
    return [colors] * len(kept) if isinstance(colors, tuple) else [colors[i] for i in kept]


class _Solid:
    """A solid's faces (:func:`_box_faces`, :func:`_frustum_faces`) in their colours (one
    for all, or one per face of the solid before any was left out), each with the decals
    put on it, until :meth:`_Polygons.solid` adds them as a part."""

    def __init__(self, faces: SolidFaces,
                 colors: tuple[int, int, int] | list[tuple[int, int, int]]) -> None:
        self.outlines, self.normals, kept = faces
        self.colors = _face_colors(colors, kept)
        #: Per face, its decals: (outline, colour, whether a detail, light or None).
        self.decals: list[list[tuple]] = [[] for _ in kept]

    def facing(self, direction: tuple[float, float, float]) -> int:
        """The face whose outward normal points most along ``direction`` (the first of
        equals)."""
        target = np.array(direction, dtype=np.float64)
        return max(range(len(self.normals)),
                   key=lambda i: float(np.dot(self.normals[i], target)))

    def decal(self, face: int, outline: np.ndarray, color: tuple[int, int, int], *,
              offset: float | None = 0.01, emissive: tuple[int, int, int] | None = None,
              detail: bool = False) -> None:
        """Put a decal on ``face``: ``outline`` ``(n, 3)`` moved ``offset`` metres off it
        along its normal (``None``: an outline already off it), drawn after the decals
        put on it before."""
        points = outline if offset is None else outline + self.normals[face] * offset
        self.decals[face].append((points, color, detail, emissive))


#: The normal of a stroke (a polyline, seen from both sides).
_NO_NORMAL = np.zeros(3)
_NO_NORMAL.flags.writeable = False


class _Polygons:
    """A model's polygons gathered as arrays, in drawing order: each face, then the decals
    that lie on it, part after part; :meth:`model` makes the :class:`Model`.

    A face is filled, with an outward normal, or is a stroke (a polyline with a width,
    seen from both sides); a decal is filled and seen from both sides. A face is of the
    model's surface ``material`` unless given another, a decal plain; a face is labelled
    (in a labelled object) unless said otherwise (a sign's pole), a decal as its face is.

    What depends only on the polygons' number, sizes and kinds (which are faces, details,
    lit, strokes, unlabelled) is made once per such layout and shared by every model of it
    (read-only, as every model's arrays are).
    """

    def __init__(self, material: int = PLAIN) -> None:
        self.material = material
        self.points: list[np.ndarray] = []
        self.counts: list[int] = []
        self.colors: list[tuple[int, int, int]] = []
        self.normals: list[np.ndarray] = []  # of faces
        self.is_face: list[bool] = []
        self.detail: list[bool] = []
        self.glows: list[tuple[int, tuple[int, int, int]]] = []  # (polygon, its light)
        self.unlabelled: list[int] = []
        self.materials: list[tuple[int, int]] = []  # (face, material) not the model's
        self.strokes: list[tuple[int, float, bool]] = []  # (face, width, closed)
        self.parts: list[tuple[int, int]] = []
        self.centers: list[np.ndarray] = []
        self._part_start = 0
        self._part_faces: list[np.ndarray] = []
        self._labelled = True  # the face added last

    def face(self, points: np.ndarray, color: tuple[int, int, int], normal: np.ndarray, *,
             labelled: bool = True, material: int | None = None) -> None:
        if not labelled:
            self.unlabelled.append(len(self.counts))
        if material is not None and material != self.material:
            self.materials.append((len(self.counts), material))
        self._labelled = labelled
        self.points.append(points)
        self.counts.append(len(points))
        self.colors.append(color)
        self.normals.append(normal)
        self.is_face.append(True)
        self.detail.append(False)
        self._part_faces.append(points)

    def stroke(self, points: np.ndarray, color: tuple[int, int, int], width: float, *,
               closed: bool = True) -> None:
        """A polyline through ``points`` ``(n, 3)``, ``width`` metres wide, as a face of
        the part (a wheel, a bicycle's frame, an arm)."""
        self.strokes.append((len(self.counts), width, closed))
        self.face(points, color, _NO_NORMAL, material=PLAIN)

    def decals(self, outlines: np.ndarray | Sequence[np.ndarray],
               colors: Sequence[tuple[int, int, int]], detail: Sequence[bool],
               emissive: Sequence[tuple[int, int, int] | None] | None = None) -> None:
        """Decals of the face added last: their outlines (``(k, n, 3)``, or ``(n, 3)``
        each), colours, whether each is a detail, and the light each glows with."""
        first = len(self.counts)
        if isinstance(outlines, np.ndarray):
            self.points.append(outlines.reshape(-1, 3))
            self.counts += [outlines.shape[1]] * len(outlines)
        else:
            self.points += outlines
            self.counts += [len(outline) for outline in outlines]
        self.colors += colors
        self.is_face += [False] * len(colors)
        self.detail += detail
        if not self._labelled:
            self.unlabelled += range(first, len(self.counts))
        for k, light in enumerate(emissive or ()):
            if light is not None:
                self.glows.append((first + k, light))

    def solid(self, solid: _Solid, *, labelled: bool = True,
              material: int | None = None) -> None:
        """The faces of ``solid``, each followed by its decals, as a part of their own."""
        for outline, color, normal, decals in zip(solid.outlines, solid.colors,
                                                  solid.normals, solid.decals, strict=True):
            self.face(outline, color, normal, labelled=labelled, material=material)
            if decals:
                points, colors, detail, emissive = zip(*decals, strict=True)
                self.decals(list(points), colors, detail, emissive)
        self.end_part()

    def box(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float,
            colors: tuple[int, int, int] | list[tuple[int, int, int]], *,
            bottom: bool = False, labelled: bool = True, material: int | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """The faces of an axis-aligned box (:func:`_box_faces`; its bottom too if
        ``bottom``), without decals, as a part of their own, in one colour or one each;
        the outlines ``(k, 4, 3)`` and normals of those added."""
        return self._plain_solid(_box_faces(x0, x1, y0, y1, z0, z1, 6 if bottom else 5),
                                 colors, labelled, material)

    def frustum(self, base: tuple[float, float, float, float],
                top: tuple[float, float, float, float], z0: float, z1: float,
                colors: tuple[int, int, int] | list[tuple[int, int, int]]
                ) -> tuple[np.ndarray, np.ndarray]:
        """The faces of :func:`_frustum_faces` (no bottom; those without area left out),
        without decals, as a part of their own; the outlines ``(k, 4, 3)`` and normals of
        those added."""
        return self._plain_solid(_frustum_faces(base, top, z0, z1), colors, True, None)

    def _plain_solid(self, faces: SolidFaces,
                     colors: tuple[int, int, int] | list[tuple[int, int, int]],
                     labelled: bool, material: int | None) -> tuple[np.ndarray, np.ndarray]:
        outlines, normals, kept = faces
        for outline, color, normal in zip(outlines, _face_colors(colors, kept), normals,
                                          strict=True):
            self.face(outline, color, normal, labelled=labelled, material=material)
        self.end_part()
        return outlines, normals

    def end_part(self) -> None:
        self.centers.append(np.concatenate(self._part_faces).mean(axis=0))
        self.parts.append((self._part_start, len(self.counts)))
        self._part_start = len(self.counts)
        self._part_faces = []

    def model(self, batches: dict[int, list[DecalBatch]] | None = None, **kwargs) -> Model:
        """The model (``batches`` keyed by polygon index; ``kwargs`` as for
        :class:`Model`)."""
        layout = _layout(tuple(self.counts), tuple(self.is_face), tuple(self.detail),
                         tuple(self.glows), tuple(self.parts), self.material,
                         tuple(self.unlabelled), tuple(self.materials), tuple(self.strokes))
        n = len(self.counts)
        normals = np.zeros((n, 3), np.float64)
        normals[layout["face_index"]] = self.normals
        shared = {k: v for k, v in layout.items() if k != "face_index"}
        return _read_only(Model(
            points=np.concatenate(self.points).astype(np.float64),
            colors=np.array(self.colors, np.float32).reshape(n, 3),
            normals=normals,
            part_centers=np.array(self.centers, np.float64),
            batches=batches or {}, **shared, **kwargs))


@functools.lru_cache(maxsize=256)
def _layout(counts: tuple[int, ...], is_face: tuple[bool, ...], detail: tuple[bool, ...],
            glows: tuple[tuple[int, tuple[int, int, int]], ...],
            parts: tuple[tuple[int, int], ...], material: int, unlabelled: tuple[int, ...],
            materials: tuple[tuple[int, int], ...],
            strokes: tuple[tuple[int, float, bool], ...]) -> dict[str, object]:
    """The arrays of a model that its layout fixes (see :meth:`_Polygons.model`; a
    scene's cars and pedestrians pass their layouts directly), read-only."""
    n = len(counts)
    count_array = np.array(counts, np.intp)
    faces = np.array(is_face, bool)
    emissive = np.zeros((n, 3), np.float32)
    emits = np.zeros(n, bool)
    if glows:
        glowing, lights = zip(*glows, strict=True)
        emissive[list(glowing)] = np.array(lights, np.float32)
        emits[list(glowing)] = True
    labelled = np.ones(n, bool)
    labelled[list(unlabelled)] = False
    material_array = np.where(faces, np.uint8(material), np.uint8(PLAIN))
    for face, face_material in materials:
        material_array[face] = face_material
    two_sided, line_widths, closed = ~faces, np.zeros(n, np.float64), np.ones(n, bool)
    for face, width, is_closed in strokes:
        two_sided[face], line_widths[face], closed[face] = True, width, is_closed
    layout = dict(
        starts=np.concatenate([[0], np.cumsum(count_array)[:-1]]).astype(np.intp),
        counts=count_array,
        two_sided=two_sided,
        labelled=labelled,
        emissive=emissive,
        emits=emits,
        line_widths=line_widths,
        closed=closed,
        parent=np.maximum.accumulate(np.where(faces, np.arange(n), 0)),
        parts=parts,
        face_vertex=np.repeat(faces, count_array),
        detail=np.array(detail, bool),
        materials=material_array,
        face_index=np.flatnonzero(faces))
    for value in layout.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return layout


_WHITE = (255, 255, 255)


def _car_side_rects(length: np.ndarray, clearance: np.ndarray, zb: np.ndarray,
                    doors: tuple[np.ndarray, np.ndarray]) -> _Rects:
    """Shading bands, trim, door seams, the gap under the body and a rear light corner on
    one side of cars' bodies (the wheels come after); colours in :func:`_car_colors`."""
    half = length / 2
    low = clearance + 0.42 * (zb - clearance)
    return _rects(len(length), [
        # Below the shoulder the side faces down a little and sees the dark road: darker.
        (-half, half, clearance, low, 0.012, True, None),
        (-half, half, zb - 0.09, zb - 0.04, 0.012, True, None),
        (-half + 0.05, half - 0.05, clearance, clearance + 0.07, 0.012, True, None),
        *((y - 0.012, y + 0.012, clearance + 0.09, zb - 0.05, 0.012, True, None)
          for y in doors),
        (-half + 0.15, half - 0.15, 0.45 * clearance, clearance, 0.012, False, None),
        (-half, -half + 0.1, zb - 0.2, zb - 0.06, 0.012, True, None)])


def _car_end_rects(width: np.ndarray, clearance: np.ndarray, zb: np.ndarray,
                   rear: bool) -> _Rects:
    """The underside, the tyres below the bumper, the bumper, lights and plate of cars'
    fronts or backs; colours in :func:`_car_colors`.

    Between the tyres the shadowed road shows under the car; the tyres are drawn in this
    face's plane, reaching the ground at its foot.
    """
    half = width / 2
    rows: list[tuple] = [(-half + 0.25, half - 0.25, clearance - 0.07, clearance, 0.012,
                          False, None)]
    for sx in (-1.0, 1.0):
        outer, inner = sx * (half - 0.03), sx * (half - 0.27)
        rows.append((np.minimum(outer, inner), np.maximum(outer, inner), 0.0,
                     clearance + 0.02, 0.012, False, None))
    rows.append((-half, half, clearance, clearance + 0.2, 0.012, False, None))
    if rear:
        light, z0, z1, size = TAIL_LIGHT, zb - 0.2, zb - 0.05, 0.22
    else:
        light, z0, z1, size = HEADLIGHT, zb - 0.17, zb - 0.06, 0.2
        rows.append((-0.28 * width, 0.28 * width, clearance + 0.21,
                     np.minimum(zb - 0.08, clearance + 0.36), 0.012, False, None))
    for sx in (-1.0, 1.0):
        outer, inner = sx * (half - 0.04), sx * (half - 0.04 - size * width)
        rows.append((np.minimum(outer, inner), np.maximum(outer, inner), z0, z1, 0.02,
                     False, light))
    # The number plate, with a dark line of characters (a detail).
    plate = clearance + 0.3 if rear else clearance + 0.12
    rows += [(-0.26, 0.26, plate - 0.06, plate + 0.06, 0.025, False, None),
             (-0.2, 0.2, plate - 0.025, plate + 0.025, 0.03, True, None)]
    # The edge of the bonnet or boot lid catches the sky.
    rows.append((-half, half, zb - 0.04, zb - 0.01, 0.012, True, None))
    return _rects(len(width), rows)


def _shades(colors: np.ndarray, factor) -> np.ndarray:
    """:func:`_shade` of colours ``(..., 3)`` (by ``factor``, a number or ``(...)``)."""
    return np.minimum(np.maximum(colors * np.asarray(factor)[..., None], 0), 255
                      ).astype(np.int64)


def _mixes(a, b, t) -> np.ndarray:
    """Colours ``a`` and ``b`` (``(..., 3)`` or one colour) mixed by ``t`` (``(...)``):
    ``a + (b - a) t``, rounded half to even (as ``round``) to whole levels."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    return np.rint(a + (b - a) * np.asarray(t)[..., None]).astype(np.int64)


#: The colours of a car's decals that are the same on every car, in the order
#: :func:`_car_colors` returns them (sides, wheels, front, back); zero where they
#: depend on the car.
_CAR_DECAL_COLORS = np.array(
    [(0, 0, 0)] * 5 + [UNDERBODY, TAIL_LIGHT_OFF]
    + [ARCH, TYRE, (0, 0, 0), (0, 0, 0)] * 2
    + [UNDERBODY, TYRE, TYRE, (0, 0, 0), GRILLE, (205, 208, 212), (205, 208, 212), PLATE,
       (52, 54, 62), (0, 0, 0)]
    + [UNDERBODY, TYRE, TYRE, (0, 0, 0), TAIL_LIGHT_OFF, TAIL_LIGHT_OFF, PLATE, (52, 54, 62),
       (0, 0, 0)], np.int64)
_CAR_DECAL_COLORS.flags.writeable = False


def _car_colors(color: np.ndarray, gloss: np.ndarray, trim_kind: np.ndarray,
                rims: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cars' decal colours, ``(n, k, 3)`` for ``n`` cars of body ``color`` ``(n, 3)``:
    of their sides' rectangles, wheels, front and back rectangles (in
    :func:`_car_side_rects` and :func:`_car_end_rects` order), and the sky's lower and
    upper glint on their glass ``(n, 3)``."""
    colors = np.repeat(_CAR_DECAL_COLORS[None], len(color), axis=0)
    side, wheels, front, back = colors[:, :7], colors[:, 7:15], colors[:, 15:25], colors[:, 25:]
    trim = np.where((trim_kind < 0.3)[:, None], TRIM, _shades(color, 0.88))
    rim = np.array(RIMS)[np.minimum((rims * len(RIMS)).astype(np.int64), len(RIMS) - 1)]
    side[:, 0] = _shades(color, 0.8)
    side[:, 1] = _mixes(color, _WHITE, 0.06 + 0.24 * gloss)
    side[:, 2] = front[:, 3] = back[:, 3] = trim
    side[:, 3] = side[:, 4] = _shades(color, 0.5)  # door seams
    wheels[:, 2] = wheels[:, 6] = rim
    wheels[:, 3] = wheels[:, 7] = _shades(rim, 0.45)
    front[:, 9] = back[:, 8] = _mixes(color, _WHITE, np.full(len(color), 0.25))
    strength = 0.5 + 0.5 * gloss
    low, high = SKY_GLINT
    return side, wheels, front, back, _mixes(GLASS, low, strength), _mixes(GLASS, high, strength)


def _car_glass(outlines: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tinted glass in cabin faces ``outlines`` ``(..., 4, 3)`` (outward ``normals``
    ``(..., 3)``), reflecting the sky: lighter towards the top, most on the steep
    windscreen and rear window; a dark pillar between the side windows.

    Returns:
        Per face, its window and two bands, ``(..., 3, 4, 3)`` (the bands are details),
        and whether it is a windscreen or rear window (steep, its upper band a glint)
        rather than a side window (its second band the pillar).
    """
    centers = outlines.mean(axis=-2, keepdims=True)
    glass = centers + (outlines - centers) * np.array([1 - 0.12, 1 - 0.12, 1 - 0.22])
    # Two bands per window: the windscreen and rear window (steep) reflect the sky in a
    # lower and an upper band; a side window in its upper part, with a pillar across.
    screen = np.abs(normals[..., 1]) > np.abs(normals[..., 0])
    first = np.where(screen[..., None], [0.0, 1.0, 0.45, 0.75], [0.0, 1.0, 0.6, 1.0])
    second = np.where(screen[..., None], [0.0, 1.0, 0.75, 1.0], [0.47, 0.53, 0.0, 1.0])
    offset = normals[..., None, :] * 0.012
    bands = _subs(glass[..., None, :, :], np.stack([first, second], axis=-2))
    return np.stack([glass + offset, bands[..., 0, :, :] + offset,
                     bands[..., 1, :, :] + offset], axis=-3), screen


def car_models(objs: Sequence[SceneObject]) -> list[Model]:
    """Body, cabin with glass, wheels, lights, bumpers and plates of each car, in local
    coordinates.

    A car's style value (its sampled ``state``) sets its proportions within its variant,
    how glossy its paint is, its rims and whether its bumpers are painted or black.

    The cars of a scene are built together: every coordinate is worked out for all of
    them in each array operation (the same operations on the same numbers as for one
    car alone), and only their polygons are then gathered car by car.
    """
    n = len(objs)
    if not n:
        return []
    length, width, height, state = (np.array([getattr(obj, name) for obj in objs], np.float64)
                                    for name in ("length", "width", "height", "state"))
    gloss, rims, trim_kind, shape_a, shape_b = (
        (state * k) % 1.0 for k in _STYLE_MULTIPLIERS)
    shapes = np.array([(top, *cabin, *roof) for top, cabin, roof in (
        _CAR_SHAPES.get(obj.variant, _CAR_SHAPES["sedan"]) for obj in objs)], np.float64)
    body_top = shapes[:, 0] + 0.06 * (shape_a - 0.5)
    cy0, cy1 = shapes[:, 1], shapes[:, 2] + 0.04 * (shape_b - 0.5)
    ty0, ty1 = shapes[:, 3] + 0.04 * (shape_a - 0.5), shapes[:, 4] + 0.05 * (shape_b - 0.5)
    clearance = np.minimum(0.28, 0.18 * height)
    zb = height * body_top
    radius = np.minimum(0.34, 0.5 * zb)
    axle = length / 2 - np.maximum(0.7, 0.18 * length)
    doors = (0.5 * (cy0 + cy1) * length, cy1 * length - 0.05)
    # The body: a box, its faces +x, -x, +y (front), -y (back) and top, with their decals.
    x0, x1, y0, y1 = -width / 2, width / 2, -length / 2, length / 2
    body = _hexahedra((x0, x1, y0, y1), (x0, x1, y0, y1), clearance, zb)[:, _BOX_FACES[:5]]
    side_rects = _car_side_rects(length, clearance, zb, doors)
    sides = [(_rect_outlines(_BOX_NORMALS[k], plane, side_rects),
              _wheel_rings(_BOX_NORMALS[k], np.stack([-axle, axle], axis=1), radius, plane))
             for k, plane in ((0, x1), (1, x0))]
    ends = [(k, rects, _rect_outlines(_BOX_NORMALS[k], plane, rects))
            for k, plane, rects in ((2, y1, _car_end_rects(width, clearance, zb, False)),
                                    (3, y0, _car_end_rects(width, clearance, zb, True)))]
    # The cabin: a frustum, glass on each face but the roof. Faces without a normal are
    # left out (a car 6 cm wide has a cabin whose front and back are slivers with their
    # first two edges in line), and so is the glass of a face turned up like a roof.
    inset = (0.07 + 0.05 * shape_b) * width
    cabin, normals, has_area = _solid_faces_of_many(_hexahedra(
        (-width / 2 + 0.03, width / 2 - 0.03, cy0 * length, cy1 * length),
        (-width / 2 + inset, width / 2 - inset, ty0 * length, ty1 * length), zb, height))
    _refuse_without_area(objs, has_area[:, None], "cabin")
    glass, screen = _car_glass(cabin, normals)
    has_glass = has_area & (normals[..., 2] < 0.9)
    # Every polygon of the bodies, section by section in drawing order: points
    # (n, polygons, corners, 3), colours (n, polygons, 3), whether they are faces,
    # details, and the light they glow with.
    color = np.array([obj.color for obj in objs], np.int64)
    side_colors, wheel_colors, front_colors, back_colors, tint_low, tint_high = _car_colors(
        color, gloss, trim_kind, rims)
    face_color = color[:, None]
    sections, section_colors, counts, is_face, detail, lights = [], [], [], [], [], []

    def add(outlines: np.ndarray, colors: np.ndarray, face: bool, details: list[bool],
            emissive: list | None = None) -> None:
        k, m = outlines.shape[1:3]
        assert colors.shape[1] == k == len(details), "a colour and a detail flag per polygon"
        sections.append(outlines.reshape(n, k * m, 3))
        section_colors.append(colors)
        counts.extend([m] * k)
        is_face.extend([face] * k)
        detail.extend(details)
        lights.extend(emissive or [None] * k)
    for k, (outlines, rings) in enumerate(sides):
        add(body[:, k, None], face_color, True, [False])
        add(outlines, side_colors, False, side_rects.detail)
        for axle in (0, 1):
            for i, ring in enumerate(rings):
                add(ring[:, axle, None], wheel_colors[:, 4 * axle + i, None], False, [i > 1])
    for (k, rects, outlines), end_colors in zip(ends, (front_colors, back_colors),
                                                strict=True):
        add(body[:, k, None], face_color, True, [False])
        add(outlines, end_colors, False, rects.detail, rects.emissive)
    add(body[:, 4, None], face_color, True, [False])
    body_points = np.concatenate(sections, axis=1)
    body_colors = np.concatenate(section_colors, axis=1)
    glows = tuple((i, light) for i, light in enumerate(lights) if light is not None)
    body_centers = body.reshape(n, 20, 3).mean(axis=1)
    # The cabin: per face, the face then its window and two bands, kept as each car's
    # cabin has them (cars of one layout gathered together).
    cabin_points = np.concatenate([cabin[:, :, None], glass], axis=2).reshape(n, 80, 3)
    glass_colors = np.broadcast_to(np.where(screen[..., None], tint_high[:, None],
                                            TRIM)[:, :, None], (n, 5, 1, 3))
    cabin_colors = np.concatenate([np.broadcast_to(face_color[:, None], (n, 5, 1, 3)),
                                   np.broadcast_to(np.array(GLASS), (n, 5, 1, 3)),
                                   np.broadcast_to(tint_low[:, None, None], (n, 5, 1, 3)),
                                   glass_colors], axis=2).reshape(n, 20, 3)
    patterns: dict[tuple, list[int]] = {}
    for c, pattern in enumerate(zip(map(tuple, has_area.tolist()),
                                    map(tuple, has_glass.tolist()), strict=True)):
        patterns.setdefault(pattern, []).append(c)
    models: list[Model | None] = [None] * n
    for (kept, windows), cars in patterns.items():
        polygons = [4 * f + j for f in range(5) if kept[f] for j in range(4 if windows[f] else 1)]
        faces = [f for f in range(5) if kept[f]]
        rows = np.array([4 * p + i for p in polygons for i in range(4)])
        points = np.concatenate([body_points[cars], cabin_points[cars][:, rows]], axis=1)
        colors = np.concatenate([body_colors[cars], cabin_colors[cars][:, polygons]],
                                axis=1).astype(np.float32)
        first = len(counts)
        layout = _layout(tuple(counts) + (4,) * len(polygons),
                         tuple(is_face) + tuple(p % 4 == 0 for p in polygons),
                         tuple(detail) + tuple(p % 4 > 1 for p in polygons), glows,
                         ((0, first), (first, first + len(polygons))), PLAIN, (), (), ())
        face_normals = np.zeros((len(cars), len(layout["counts"]), 3))
        face_normals[:, layout["face_index"][:5]] = _BOX_NORMALS[:5]
        face_normals[:, layout["face_index"][5:]] = normals[cars][:, faces]
        cabin_centers = cabin[cars][:, faces].reshape(len(cars), -1, 3).mean(axis=1)
        shared = {k: v for k, v in layout.items() if k != "face_index"}
        for i, c in enumerate(cars):
            models[c] = _read_only(Model(
                points=points[i], colors=colors[i], normals=face_normals[i],
                part_centers=np.stack([body_centers[c], cabin_centers[i]]), **shared))
    return models  # type: ignore[return-value]


def car_model(obj: SceneObject) -> Model:
    """The model of one car (:func:`car_models`)."""
    return car_models([obj])[0]


def truck_model(obj: SceneObject) -> Model:
    """Cab, cargo box (or trailer), chassis, wheels and lights of a truck."""
    length, width, height = obj.length, obj.width, obj.height
    cab_length = min(2.4, 0.3 * length)
    y_cab = length / 2 - cab_length
    chassis = _Solid(_box_faces(-width / 2 + 0.15, width / 2 - 0.15, -length / 2, length / 2,
                                0.45, 1.0), (45, 45, 48))
    cab = _Solid(_box_faces(-width / 2, width / 2, y_cab, length / 2, 0.5,
                            min(height, 3.0) * 0.95), obj.color)
    cab_front = cab.facing((0, 1, 0))
    front = cab.outlines[cab_front]
    windshield = front.copy()
    windshield[:, 2] = np.clip(windshield[:, 2], front[:, 2].max() * 0.62,
                               front[:, 2].max() - 0.15)
    cab.decal(cab_front, _inset(windshield, 0.06, 0.0), GLASS)
    for sx in (1, -1):
        side = cab.facing((sx, 0, 0))
        window = cab.outlines[side].copy()
        window[:, 2] = np.clip(window[:, 2], 1.7, cab.outlines[side][:, 2].max() - 0.2)
        window[:, 1] = np.clip(window[:, 1], y_cab + 0.3, length / 2 - 0.4)
        cab.decal(side, window, GLASS)
    gap = 0.5 if obj.variant == "semi" else 0.15
    cargo_color = (228, 228, 224) if obj.variant == "semi" else _shade(obj.color, 0.85)
    cargo = _Solid(_box_faces(-width / 2, width / 2, -length / 2, y_cab - gap, 0.95, height),
                   cargo_color)
    radius = 0.5
    axles = [length / 2 - 1.2, -length / 2 + 1.3, -length / 2 + 2.4]
    _wheels(chassis, chassis.facing((1, 0, 0)), axles, radius, width / 2 - 0.15)
    _wheels(chassis, chassis.facing((-1, 0, 0)), axles, radius, -width / 2 + 0.15)
    _lights(cab, cab_front, cargo, cargo.facing((0, -1, 0)), width, 0.75, 0.14)
    polygons = _Polygons()
    for solid in (chassis, cab, cargo):
        polygons.solid(solid)
    return polygons.model()


def bus_model(obj: SceneObject) -> Model:
    """Body with a window band, windshield, destination sign, wheels and lights of a bus."""
    length, width, height = obj.length, obj.width, obj.height
    body = _Solid(_box_faces(-width / 2, width / 2, -length / 2, length / 2, 0.3, height),
                  obj.color)
    for sx in (1, -1):
        side = body.facing((sx, 0, 0))
        band = body.outlines[side].copy()
        band[:, 2] = np.clip(band[:, 2], 0.52 * height, 0.88 * height)
        band[:, 1] = np.clip(band[:, 1], -length / 2 + 0.5, length / 2 - 0.4)
        body.decal(side, band, GLASS)
        _wheels(body, side, [length / 2 - 2.4, -length / 2 + 2.8], 0.5, sx * width / 2)
    front, rear = body.facing((0, 1, 0)), body.facing((0, -1, 0))
    shield = body.outlines[front].copy()
    shield[:, 2] = np.clip(shield[:, 2], 0.45 * height, 0.85 * height)
    body.decal(front, _inset(shield, 0.05, 0.0), GLASS)
    sign = body.outlines[front].copy()
    sign[:, 2] = np.clip(sign[:, 2], 0.88 * height, 0.96 * height)
    body.decal(front, _inset(sign, 0.2, 0.0), (30, 30, 30), emissive=(255, 170, 40),
               offset=0.02)
    _lights(body, front, body, rear, width, 0.7, 0.15)
    polygons = _Polygons()
    polygons.solid(body)
    return polygons.model()


# --- people ------------------------------------------------------------------------------

def _skin(obj: SceneObject) -> tuple[int, int, int]:
    index = int(obj.variant[4:]) if obj.variant.startswith("skin") else 0
    return SKIN[index % len(SKIN)]


def _kept_faces_of_many(vertices: np.ndarray, boxes: bool) -> tuple[np.ndarray, ...]:
    """The faces (no bottom) of hexahedra ``(m, 8, 3)`` and which of them are kept, as
    :class:`_Polygons` adds one solid (:meth:`~_Polygons.box` if they are ``boxes``, else
    :meth:`~_Polygons.frustum`): outlines ``(m, 5, 4, 3)``, normals ``(m, 5, 3)`` (a
    box's are the axes, unless it is flat and so a frustum) and which faces are kept
    ``(m, 5)``."""
    outlines, normals, has_area = _solid_faces_of_many(vertices)
    if boxes:
        low, high = vertices[:, 0], vertices[:, 6]
        upright = (high > low).all(axis=1)
        normals[upright] = _BOX_NORMALS[:5]
        has_area[upright] = True
    return outlines, normals, has_area


def _refuse_without_area(objs: Sequence[SceneObject], has_area: np.ndarray, part: str
                         ) -> None:
    """Raise a ValueError naming the first object with a solid of which no face has area
    (``has_area`` ``(n, solids, faces)``; of a size no template can give)."""
    empty = np.flatnonzero((~has_area.any(axis=2)).any(axis=1))
    if len(empty):
        obj = objs[int(empty[0])]
        raise ValueError(f"{obj.category} {obj.instance_id} of length {obj.length}, width "
                         f"{obj.width} and height {obj.height} has a {part} without area")


def pedestrian_models(objs: Sequence[SceneObject]) -> list[Model]:
    """Legs, torso, arms and head of walking people, each part a solid; built together,
    every value by the same IEEE operations as for one person alone."""
    n = len(objs)
    if not n:
        return []
    h, w, length = (np.array([getattr(obj, name) for obj in objs], np.float64)
                    for name in ("height", "width", "length"))
    d = np.maximum(length, 0.2)
    swing = 0.16 * np.array([math.sin(2 * math.pi * obj.state) for obj in objs]) * h / 1.7
    hip, shoulder, neck = 0.47 * h, 0.80 * h, 0.84 * h
    leg_w = 0.36 * w
    zero = np.zeros(n)
    solids = []  # (corners, a box, colour per person)
    trousers = np.array([obj.secondary_color for obj in objs], np.float32)
    shirt = np.array([obj.color for obj in objs], np.float32)
    for sx, sy in ((-1, 1), (1, -1)):
        x0 = sx * 0.04 + zero if sx > 0 else -0.04 - leg_w
        solids.append((_hexahedra((x0, x0 + leg_w, -0.08 + sy * swing, 0.08 + sy * swing),
                                  (x0, x0 + leg_w, zero - 0.09, zero + 0.09), zero, hip),
                       False, trousers))
    torso = (-w / 2 + 0.06, w / 2 - 0.06, -d / 2, d / 2)
    solids.append((_hexahedra(torso, torso, hip - 0.05, shoulder + 0.03), True, shirt))
    arm = 0.11
    for sx, sy in ((-1, -1), (1, 1)):
        x0 = w / 2 - 0.06 if sx > 0 else -w / 2 + 0.06 - arm
        solids.append((_hexahedra((x0, x0 + arm, -0.05 + sy * swing * 0.8,
                                   0.05 + sy * swing * 0.8),
                                  (x0, x0 + arm, zero - 0.05, zero + 0.05), 0.5 * h, shoulder),
                       False, shirt))
    head = 0.11 * h / 1.7
    face = (-head * 0.75, head * 0.75, -head * 0.9, head * 0.9)
    solids.append((_hexahedra(face, face, neck, h), True,
                   np.array([_skin(obj) for obj in objs], np.float32)))
    faces = [_kept_faces_of_many(corners, boxes) for corners, boxes, _ in solids]
    outlines = np.concatenate([f[0] for f in faces], axis=1)  # (n, 30, 4, 3)
    normals = np.concatenate([f[1] for f in faces], axis=1)
    has_area = np.concatenate([f[2] for f in faces], axis=1)
    _refuse_without_area(objs, has_area.reshape(n, 6, 5), "body part")
    colors = np.repeat(np.stack([color for *_, color in solids], axis=1), 5, axis=1)
    patterns: dict[tuple[bool, ...], list[int]] = {}
    for p, pattern in enumerate(map(tuple, has_area.tolist())):
        patterns.setdefault(pattern, []).append(p)
    models: list[Model | None] = [None] * n
    for kept, people in patterns.items():
        kept_faces = [f for f in range(30) if kept[f]]
        ends = np.cumsum([sum(kept[5 * k:5 * k + 5]) for k in range(6)]).tolist()
        parts = tuple(zip([0, *ends[:-1]], ends, strict=True))
        layout = _layout((4,) * len(kept_faces), (True,) * len(kept_faces),
                         (False,) * len(kept_faces), (), parts, PLAIN, (), (), ())
        shared = {k: v for k, v in layout.items() if k != "face_index"}
        group = outlines[people][:, kept_faces]
        points = group.reshape(len(people), -1, 3)
        group_colors = colors[people][:, kept_faces]
        group_normals = normals[people][:, kept_faces]
        centers = np.stack([group[:, a:b].reshape(len(people), -1, 3).mean(axis=1)
                            for a, b in parts], axis=1)
        for i, p in enumerate(people):
            models[p] = _read_only(Model(points=points[i], colors=group_colors[i],
                                         normals=group_normals[i], part_centers=centers[i],
                                         **shared))
    return models  # type: ignore[return-value]


def pedestrian_model(obj: SceneObject) -> Model:
    """The model of one walking person (:func:`pedestrian_models`)."""
    return pedestrian_models([obj])[0]


def cyclist_model(obj: SceneObject) -> Model:
    """A bicycle (wheels and frame as strokes) with its rider."""
    length, h = obj.length, obj.height
    radius = min(0.35, 0.2 * length)
    rear_y, front_y = -length / 2 + radius, length / 2 - radius
    seat = np.array([0.0, rear_y + 0.35, 0.95 * h / 1.75])
    bar = np.array([0.0, front_y - 0.15, 1.05 * h / 1.75])
    crank = np.array([0.0, 0.0, radius])
    rear_hub, front_hub = np.array([0.0, rear_y, radius]), np.array([0.0, front_y, radius])
    polygons = _Polygons()
    for y in (rear_y, front_y):
        polygons.stroke(_circle((0.0, y, radius), radius, "x", 14), TYRE, 0.05)
    frame = np.array([rear_hub, seat, crank, rear_hub, crank, bar, front_hub])
    polygons.stroke(frame, obj.color, 0.04, closed=False)
    polygons.end_part()
    w = obj.width
    torso_bottom, shoulder = seat[2] + 0.05, 0.86 * h
    lean = 0.25
    for sx in (-1, 1):
        x0 = sx * 0.03 if sx > 0 else -0.03 - 0.13
        pedal_y = 0.12 * math.sin(2 * math.pi * obj.state + (0 if sx > 0 else math.pi))
        polygons.frustum((x0, x0 + 0.13, pedal_y - 0.06, pedal_y + 0.06),
                         (x0, x0 + 0.13, seat[1] - 0.08, seat[1] + 0.12),
                         crank[2], torso_bottom, obj.secondary_color)
    polygons.frustum((-w / 2 + 0.08, w / 2 - 0.08, seat[1] - 0.12, seat[1] + 0.14),
                     (-w / 2 + 0.05, w / 2 - 0.05, seat[1] + lean, seat[1] + lean + 0.24),
                     torso_bottom, shoulder, obj.color)
    head = 0.11 * h / 1.75
    hy = seat[1] + lean + 0.14
    polygons.box(-head * 0.75, head * 0.75, hy - head * 0.8, hy + head, shoulder + 0.04,
                 shoulder + 0.04 + 2.1 * head, _skin(obj))
    for sx in (-1, 1):
        x = sx * (w / 2 - 0.08)
        arm = np.array([[x, seat[1] + lean + 0.15, shoulder - 0.05], [x, bar[1], bar[2]]])
        polygons.stroke(arm, obj.color, 0.08, closed=False)
        polygons.end_part()
    return polygons.model()


# --- traffic control ---------------------------------------------------------------------

def _pole(polygons: _Polygons, top: float, thickness: float = 0.12, y: float = 0.0) -> None:
    """An unlabelled square pole from the ground up to ``top``, centred on ``(0, y)``.

    A pole stands behind the labelled part it carries (wholly behind its back plane) and
    ends below it: seen from the front, it can never hide a pixel of it (the depth test
    decides, and a pole reaching into the part would punch a hole in its label).
    """
    t = thickness / 2
    polygons.box(-t, t, y - t, y + t, 0.0, top, (96, 98, 102), labelled=False)


def traffic_light_model(obj: SceneObject) -> Model:
    """A signal head (housing, back plate, three lamps) on an unlabelled pole."""
    w, d, h, z0 = obj.width, obj.length, obj.height, obj.elevation
    housing = _Solid(_box_faces(-w / 2, w / 2, -d / 2, d / 2, z0, z0 + h, 6), obj.color)
    front = housing.facing((0, 1, 0))
    lit = int(obj.state) % 3
    radius = min(0.4 * w, 0.13 * h)
    for i in range(3):
        z = z0 + h * (0.8 - 0.3 * i)
        color = LAMP_ON[i] if i == lit else LAMP_OFF[i]
        housing.decal(front, _circle((0.0, d / 2, z), radius, "y", 12), color,
                      emissive=LAMP_ON[i] if i == lit else None, offset=0.02)
    polygons = _Polygons()
    # The pole carries the back plate from behind and below (see _pole).
    _pole(polygons, z0 - 0.1, y=-d / 2 - 0.04 - 0.06 - 0.005)
    polygons.box(-w * 0.8, w * 0.8, -d / 2 - 0.04, -d / 2, z0 - 0.1, z0 + h + 0.1,
                 (20, 20, 20), bottom=True)
    polygons.solid(housing)
    return polygons.model()


def traffic_sign_model(obj: SceneObject) -> Model:
    """A sign plate (circle, triangle, octagon, square or diamond) on an unlabelled pole."""
    w, h, z0 = obj.width, obj.height, obj.elevation
    center = (0.0, 0.0, z0 + h / 2)
    shape = obj.variant or "circle"
    radius = 0.5 * max(w, h) * (1.15 if shape == "triangle" else 1.0)
    outline = _circle(center, radius, "y", 16, shape)
    outline[:, 0] *= w / max(w, h)
    outline[:, 2] = center[2] + (outline[:, 2] - center[2]) * h / max(w, h)
    inner_color = obj.secondary_color if obj.color != obj.secondary_color else (20, 20, 20)
    inner = center + (outline + [0, 0.02, 0] - center) * 0.72
    front = np.array([0, 1.0, 0])
    polygons = _Polygons()
    # The pole ends at the plate's lowest point, behind it (see _pole).
    _pole(polygons, float(outline[:, 2].min()), 0.08, y=-0.02 - 0.04 - 0.005)
    polygons.face(outline + [0, 0.02, 0], obj.color, front)
    polygons.decals([inner + front * 0.01], [inner_color], [False])
    polygons.face(outline[::-1] - [0, 0.02, 0], (150, 150, 150), np.array([0, -1.0, 0]))
    polygons.end_part()
    return polygons.model()


# --- scenery -----------------------------------------------------------------------------

_WINDOW_ACROSS = np.array([-0.6, 0.6, 0.6, -0.6])  # corners of a window, along the wall
_WINDOW_UP = np.array([0.0, 0.0, 1.5, 1.5])  # and up from its sill (metres)


def _windows(walls: list[tuple[np.ndarray, np.ndarray, float, float, int,
                              tuple[int, int, int]]],
             lit_color: tuple[int, int, int]) -> list[list[DecalBatch]]:
    """Grids of windows on vertical walls of boxes, each wall given as ``(outline,
    normal, height, lit fraction, seed, colour)`` (its outline bottom edge first, its
    outward normal, its building's height, the colour of its windows): per wall, a batch
    of dark windows and, if any are lit, one of lit ones (none on a wall under 2 m).

    Every window of every wall is worked out in the same array operations (each value
    the same IEEE operations on the same numbers as for one wall alone)."""
    if not walls:
        return []
    outlines, normals, heights, lit_fractions, seeds, colors = zip(*walls, strict=True)
    a = np.array([outline[0] for outline in outlines])
    along = np.array([outline[1] for outline in outlines]) - a
    spans = [math.hypot(*row) for row in along.tolist()]
    wide = [k for k, span in enumerate(spans) if span >= 2.0]  # the walls with windows
    span = np.array([spans[k] for k in wide], np.float64)
    ux, uy, uz = (along[wide] / span[:, None]).T
    x0, y0, z0 = (a[wide] + np.array(normals)[wide] * 0.03).T
    cols = np.array([max(1, int(spans[k] / 2.8)) for k in wide], np.int64)
    floors = np.array([max(1, int((heights[k] - 1.0) / 3.0)) for k in wide], np.int64)
    counts = floors * cols
    wall = np.repeat(np.arange(len(wide)), counts)
    # Each window's number on its wall, floor by floor; its column and floor.
    index = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    column, floor = index % cols[wall], index // cols[wall]
    s = (column + 0.5) * span[wall] / cols[wall]
    sills = 1.2 + floor * 3.0
    # Per window, its wall's direction.
    wx, wy, wz = ux[wall, None], uy[wall, None], uz[wall, None]
    quads = np.stack([(x0[wall] + s * wx[:, 0])[:, None] + _WINDOW_ACROSS * wx,
                      (y0[wall] + s * wy[:, 0])[:, None] + _WINDOW_ACROSS * wy,
                      ((z0[wall] + s * wz[:, 0])[:, None] + sills[:, None])
                      + _WINDOW_ACROSS * wz + _WINDOW_UP], axis=-1)
    # Which windows are lit is fixed by the prop (its lit fraction) and the window's place.
    pattern = (index * 2654435761 + np.array(seeds)[wide][wall]) % 1000 / 1000.0
    lit = pattern < np.array(lit_fractions)[wide][wall]
    batches: list[list[DecalBatch]] = [[] for _ in walls]
    for k, count, end in zip(wide, counts.tolist(), np.cumsum(counts).tolist(), strict=True):
        on_wall, lit_on_wall = quads[end - count:end], lit[end - count:end]
        if not lit_on_wall.any():
            batches[k] = [DecalBatch(on_wall, colors[k])]
        else:
            batches[k] = [DecalBatch(on_wall[~lit_on_wall], colors[k]),
                          DecalBatch(on_wall[lit_on_wall], lit_color, emissive=True)]
    return batches


def building_models(props: Sequence[Prop]) -> list[Model]:
    """Boxes with a darker roof and a facade texture, with grids of windows on their
    walls (the windows of all of them worked out together, :func:`_windows`)."""
    buildings, walls = [], []
    for prop in props:
        polygons = _Polygons(FACADE)
        outlines, normals = polygons.box(
            -prop.width / 2, prop.width / 2, -prop.length / 2, prop.length / 2, 0.0,
            prop.height, [prop.color] * 4 + [_shade(prop.color, 0.7)])
        seed = int(abs(prop.x) * 100 + abs(prop.y) * 10)
        faces = [i for i, normal in enumerate(normals) if abs(normal[2]) < 0.5]
        walls += [(outlines[i], normals[i], prop.height, prop.lit_fraction, seed + i,
                   prop.secondary_color) for i in faces]
        buildings.append((polygons, faces))
    windows = iter(_windows(walls, (255, 214, 140)))
    return [polygons.model({i: next(windows) for i in faces}) for polygons, faces in buildings]


def building_model(prop: Prop) -> Model:
    """The model of one building (:func:`building_models`)."""
    return building_models([prop])[0]


#: Crown profiles: (height fraction, radius fraction) from the bottom tip to the top tip.
_CROWNS = {
    "broadleaf": ((0.32, 0.0), (0.42, 0.75), (0.62, 1.0), (0.82, 0.75), (1.0, 0.0)),
    "conifer": ((0.18, 0.0), (0.2, 1.0), (0.55, 0.62), (1.0, 0.0)),
}


@functools.cache
def _unit_crown(variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A crown of radius 1 and height 1: rings of an octagon between two tips.

    Returns:
        ``(points, counts, normals)`` of its faces, band after band from the bottom:
        planar trapezoids, or triangles where a ring is a tip. Read-only.
    """
    profile = _CROWNS[variant]
    sides = 8
    angles = 2 * np.pi * (np.arange(sides) + 0.5) / sides
    rings = [np.stack([f * np.cos(angles), f * np.sin(angles), np.full(sides, z)], axis=1)
             for z, f in profile]
    center = np.array([0.0, 0.0, sum(z for z, _ in profile) / len(profile)])
    points, counts, normals = [], [], []
    for (lower, (_, lower_r)), (upper, (_, upper_r)) in zip(
            zip(rings[:-1], profile[:-1], strict=True), zip(rings[1:], profile[1:], strict=True),
            strict=True):
        quads = np.stack([lower, np.roll(lower, -1, axis=0), np.roll(upper, -1, axis=0),
                          upper], axis=1)
        if upper_r == 0:
            quads = quads[:, [0, 1, 3]]
        elif lower_r == 0:  # the lower ring is a tip: its corners 0 and 1 coincide
            quads = quads[:, [0, 2, 3]]
        points.append(quads.reshape(-1, 3))
        counts += [quads.shape[1]] * sides
        normals.append(_normals(quads, center))
    arrays = np.concatenate(points), np.array(counts), np.concatenate(normals)
    for array in arrays:
        array.flags.writeable = False
    return arrays


@functools.cache
def _unit_tree(variant: str) -> tuple[Model, np.ndarray]:
    """A tree 1 m tall with a crown of radius 1 (colours unset), and which of its polygons
    are the crown's."""
    polygons = _Polygons()
    polygons.box(-0.15, 0.15, -0.15, 0.15, 0.0, 0.45, (0, 0, 0), material=BARK)
    points, counts, normals = _unit_crown(variant)
    for outline, normal in zip(np.split(points, np.cumsum(counts)[:-1]), normals,
                               strict=True):
        polygons.face(outline, (0, 0, 0), normal, material=FOLIAGE)
    polygons.end_part()
    model = polygons.model()
    return model, np.arange(len(model.counts)) >= model.parts[1][0]


def tree_models(props: Sequence[Prop]) -> list[Model]:
    """Trees: a trunk and a faceted crown, the unit tree of its variant stretched to each
    tree's size, those of one variant together (each step one array operation).

    The trunk keeps its width and grows with the tree; the crown stretches both ways. A
    stretch maps normals by its inverse: planes stay planes, outward stays outward.
    """
    models: list[Model] = [None] * len(props)  # type: ignore[list-item]  # all set below
    variants: dict[str, list[int]] = {}
    for k, prop in enumerate(props):
        variants.setdefault("conifer" if prop.variant == "conifer" else "broadleaf",
                            []).append(k)
    for variant, members in variants.items():
        unit, crown = _unit_tree(variant)
        trees = [props[k] for k in members]
        h = np.array([tree.height for tree in trees])
        r = np.array([tree.width / 2 for tree in trees])
        trunk_scale = np.stack([np.ones_like(h), np.ones_like(h), h], axis=1)
        crown_scale = np.stack([r, r, h], axis=1)
        scale = np.where(crown[None, :, None], crown_scale[:, None], trunk_scale[:, None])
        normals = unit.normals / scale
        normals /= np.sqrt((normals * normals).sum(axis=2, keepdims=True))
        colors = np.where(crown[None, :, None],
                          np.array([tree.color for tree in trees], np.float32)[:, None],
                          np.array([tree.secondary_color for tree in trees],
                                   np.float32)[:, None])
        points = unit.points * np.repeat(scale, unit.counts, axis=1)
        centers = unit.part_centers * np.stack([trunk_scale, crown_scale], axis=1)
        for i, k in enumerate(members):
            models[k] = _replace(unit, points=points[i], normals=normals[i],
                                 colors=colors[i], part_centers=centers[i])
    return models


def tree_model(prop: Prop) -> Model:
    """The model of one tree (:func:`tree_models`)."""
    return tree_models([prop])[0]


def street_light_model(prop: Prop) -> Model:
    """A pole, its arm and a lamp whose underside glows when the lamp is lit."""
    h, reach = prop.height, prop.width
    polygons = _Polygons()
    polygons.box(-0.09, 0.09, -0.09, 0.09, 0.0, h, prop.color)
    polygons.box(-0.05, 0.05, 0.0, reach, h - 0.12, h, prop.color)
    lamp = _Solid(_box_faces(-0.2, 0.2, reach - 0.55, reach, h - 0.25, h - 0.05, 6),
                  (60, 60, 62))
    underside = lamp.facing((0, 0, -1))
    lamp.decal(underside, _inset(lamp.outlines[underside], 0.15), (210, 205, 190),
               emissive=(255, 220, 160) if prop.lit_fraction else None)
    polygons.solid(lamp)
    return polygons.model(casts_shadow=False)


def barrier_model(prop: Prop) -> Model:
    """A concrete barrier segment: narrower at the top."""
    w, h = prop.width, prop.height
    polygons = _Polygons()
    polygons.frustum((-w / 2, w / 2, -prop.length / 2, prop.length / 2),
                     (-w / 4, w / 4, -prop.length / 2, prop.length / 2), 0.0, h, prop.color)
    return polygons.model(casts_shadow=False)


def _each(build: Callable[[Any], Model]) -> Callable[[Sequence[Any]], list[Model]]:
    """The builder of many things that builds them one by one with ``build``."""
    return lambda things: [build(thing) for thing in things]


def _repeated(build: Callable[[Prop], Model]) -> Callable[[Sequence[Prop]], list[Model]]:
    """The builder of scenery that repeats with the same shape in a scene (a row of barrier
    segments, the street lights of a road): each shape built once, then only placed."""
    cached = functools.lru_cache(maxsize=64)(build)
    return lambda props: [cached(dataclasses.replace(prop, x=0.0, y=0.0, yaw=0.0))
                          for prop in props]


#: Per category of object and kind of scenery, the builder of a scene's things of it, in
#: local coordinates and in their order: a scene's cars and pedestrians are built
#: together, and its buildings' windows worked out together.
OBJECT_MODELS = {"car": car_models, "truck": _each(truck_model), "bus": _each(bus_model),
                 "pedestrian": pedestrian_models, "cyclist": _each(cyclist_model),
                 "traffic_light": _each(traffic_light_model),
                 "traffic_sign": _each(traffic_sign_model)}
PROP_MODELS = {"building": building_models, "tree": tree_models,
               "street_light": _repeated(street_light_model),
               "barrier": _repeated(barrier_model)}


def _local_models(things: Sequence, kinds: list[str],
                  builders: dict[str, Callable[[Sequence], list[Model]]]) -> list[Model]:
    """The local models of ``things`` of ``kinds`` (one each), in their order, those of
    each kind made by its builder in one call."""
    groups: dict[str, list] = {}
    for thing, kind in zip(things, kinds, strict=True):
        groups.setdefault(kind, []).append(thing)
    built = {kind: iter(builders[kind](group)) for kind, group in groups.items()}
    return [next(built[kind]) for kind in kinds]


def _place(model: Model, x: float, y: float, yaw: float) -> Model:
    """A copy of a model moved from local coordinates to its world pose (yaw positive to
    the right); arrays that placing does not change are shared."""
    c, s = math.cos(yaw), math.sin(yaw)
    rotation_t = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    offset = np.array([x, y, 0.0])
    batches = {key: [DecalBatch(batch.quads @ rotation_t + offset, batch.color,
                                batch.emissive) for batch in group]
               for key, group in model.batches.items()}
    return _replace(model, points=model.points @ rotation_t + offset,
                    normals=model.normals @ rotation_t,
                    part_centers=model.part_centers @ rotation_t + offset, batches=batches,
                    center=offset)


def object_models(objs: Sequence[SceneObject]) -> list[Model]:
    """The world-space models of labelled objects, in their order (see
    :data:`OBJECT_MODELS`)."""
    categories = [obj.category for obj in objs]
    return [_place(_replace(local, instance_id=obj.instance_id, category=obj.category,
                            contact_shadow=obj.category in ("car", "truck", "bus")),
                   obj.x, obj.y, obj.yaw)
            for obj, local in zip(objs, _local_models(objs, categories, OBJECT_MODELS),
                                  strict=True)]


def object_model(obj: SceneObject) -> Model:
    """The world-space model of a labelled object."""
    return object_models([obj])[0]


def prop_models(props: Sequence[Prop]) -> list[Model]:
    """The world-space models of pieces of scenery, in their order (see
    :data:`PROP_MODELS`)."""
    kinds = [prop.kind for prop in props]
    return [_place(local, prop.x, prop.y, prop.yaw)
            for prop, local in zip(props, _local_models(props, kinds, PROP_MODELS),
                                   strict=True)]


def prop_model(prop: Prop) -> Model:
    """The world-space model of a piece of scenery."""
    return prop_models([prop])[0]
