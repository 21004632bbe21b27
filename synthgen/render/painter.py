"""The renderer: a sampled scene to named layers (image, instance id map, depth).

:func:`render` draws in this order, each step but the models' own in a module of its own:
the backdrop (sky, ground, horizon and road, or a real photo with ``--backgrounds``:
:mod:`~synthgen.render.backdrop`); the models that can show
(:mod:`~synthgen.render.culling`); their shadows and the lamp pools on the ground
(:mod:`~synthgen.render.ground_light`); the models themselves, here; and last, per
labelled object, the pixels its whole projection covers, for the labels
(:mod:`~synthgen.render.projections`).

This module holds that sequence, the layers it returns and the drawing of models: every
face of every object and piece of scenery, lit by the sun and the sky, goes through the
compiled z-buffer (:mod:`~synthgen.render.zbuffer`), which writes colour, instance id and
depth in one pass with a per-pixel depth test, so what hides what is exact; models are
given to it far to near (:func:`synthgen.render.order.draw_order`) only so that
antialiased edges blend over what stands behind them. Models are tested against each
other, never against the backdrop, which stands behind them all. Lamps hidden by what
stands in front give no glow. With ``--sprites`` a real cut-out is pasted in an object's
place instead of its faces (:meth:`_Painter.paste`), depth-tested the same way.
Deterministic: nothing here is random.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from synthgen.render import backdrop, zbuffer
from synthgen.render.camera import NEAR, Camera, clip_near
from synthgen.render.culling import build_models
from synthgen.render.ground_light import ground_light
from synthgen.render.lighting import Illumination, face_light, illumination, shading
from synthgen.render.order import draw_order
from synthgen.render.projections import RenderedObject, polygon_arrays, projections
from synthgen.render.shapes import MATERIAL_TEXTURES, DecalBatch, Model
from synthgen.render.sprites import Sprite, outline, paste_pixels
from synthgen.render.textures import texture
from synthgen.scene.model import Scene, SceneObject, SpritePick

#: A decal marked as a detail is drawn only where its face spans at least this many pixels
#: (its projection's width or height).
DETAIL_PIXELS = 24
#: Faces of scenery of material ``m`` > 0 take ``_MATERIAL_ID + m`` in the instance id map
#: while models are drawn; the texture pass reads and then clears them (no labelled object
#: has an id this high: a scene has far fewer objects).
_MATERIAL_ID = 0xFF00
#: How much farther than what is there a decal may be and still take a pixel (a share
#: of the depth): decals of one face lie in one plane, the one drawn last on top.
DECAL_SLACK = 1e-5
#: How far in front of a lamp too small to take a pixel something must stand to hide it
#: (m): lamps are decals 1-3 cm proud of their body.
LAMP_REACH = 0.05
#: Light on a two-sided face under a clear midday sky at exposure 1 (see
#: :func:`synthgen.render.lighting.shading`): the light a pasted photo
#: (``--sprites``) is taken to have been lit by, so it is scaled by the scene's own over it.
_DAYLIGHT = np.float32(0.5 * (0.6 + 0.4 * 0.5) + 0.3 * 0.7)


@dataclass(frozen=True)
class Light:
    """A lit lamp seen in the image, for the glow effect."""

    x: float
    y: float
    radius: float
    color: tuple[int, int, int]


@dataclass
class Layers:
    """The renderer's output.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, before weather and sensor effects.
        instance_map: ``(H, W)`` uint16; 0 where no labelled object is seen, else its id.
        depth: ``(H, W)`` float32 camera depth in metres, ``inf`` for the sky.
        objects: One entry per labelled object of the scene, seen or not.
        lights: Lit lamps in view.
        sun: Pixel position of the sun if it is in front of the camera.
        pasted: Instance ids of the objects a real cut-out was pasted for
            (``--sprites``); the others given a cut-out were drawn as usual.
        decoys: Instance ids of the objects whose cut-out's decoy was pasted in their
            place (unlabelled: none of their pixels is in ``instance_map``).
        drawn: ``(H, W)`` bool, where a model or cut-out was drawn over the real photo
            (unlabelled parts too: a sign's pole, a decoy); None without a photo.
    """

    image: np.ndarray
    instance_map: np.ndarray
    depth: np.ndarray
    objects: list[RenderedObject]
    lights: list[Light] = field(default_factory=list)
    sun: tuple[float, float] | None = None
    pasted: list[int] = field(default_factory=list)
    decoys: list[int] = field(default_factory=list)
    drawn: np.ndarray | None = None


class _Merged:
    """The polygons of several models in one set of arrays (see :class:`Model`), with
    indices shifted; ``model`` and ``part_model`` say which model a polygon or part is of.
    """

    def __init__(self, models: list[Model]) -> None:
        polygons = np.array([len(m.counts) for m in models])
        first_polygon = np.cumsum(polygons) - polygons
        vertices = np.array([len(m.points) for m in models])
        first_vertex = np.cumsum(vertices) - vertices
        parts = np.array([len(m.parts) for m in models])
        self.model = np.repeat(np.arange(len(models)), polygons)
        self.points = np.concatenate([m.points for m in models])
        self.starts = np.concatenate([m.starts for m in models]) + np.repeat(first_vertex,
                                                                             polygons)
        self.counts = np.concatenate([m.counts for m in models])
        self.colors = np.concatenate([m.colors for m in models])
        self.normals = np.concatenate([m.normals for m in models])
        self.two_sided = np.concatenate([m.two_sided for m in models])
        self.labelled = np.concatenate([m.labelled for m in models])
        self.emissive = np.concatenate([m.emissive for m in models])
        self.emits = np.concatenate([m.emits for m in models])
        self.line_widths = np.concatenate([m.line_widths for m in models])
        self.closed = np.concatenate([m.closed for m in models])
        self.detail = np.concatenate([m.detail for m in models])
        self.materials = np.concatenate([m.materials for m in models])
        self.parent = np.concatenate([m.parent for m in models]) + np.repeat(first_polygon,
                                                                             polygons)
        self.instance_id = np.array([m.instance_id for m in models])[self.model]
        ranges = np.array([r for m in models for r in m.parts]).reshape(-1, 2)
        ranges += np.repeat(first_polygon, parts)[:, None]
        self.part_starts, self.part_ends = ranges[:, 0], ranges[:, 1]
        self.part_model = np.repeat(np.arange(len(models)), parts)
        self.part_centers = np.concatenate([m.part_centers for m in models])
        self.batches = {int(first) + key: batches for m, first in zip(models, first_polygon,
                                                                       strict=True)
                        for key, batches in m.batches.items()}


class _Faces:
    """Polygons in the rasterizer's form (:mod:`synthgen.render.zbuffer`) for one draw
    call: those of a :class:`_Merged` as they are (pixel corners, ``1 / depth``, colour,
    id-map value), and more added after them (clipped polygons, stroke quads, decal
    batches). Faces are numbered from ``first`` in the painter's face buffer."""

    def __init__(self, pixels: np.ndarray, inverse: np.ndarray, starts: np.ndarray,
                 counts: np.ndarray, colors: np.ndarray, values: np.ndarray,
                 slack: np.ndarray, first: int) -> None:
        self.first = first
        self._xy, self._inverse = [pixels], [inverse]
        self._vertices = len(pixels)
        self._starts, self._counts = [starts.astype(np.int64)], [counts.astype(np.int64)]
        self._colors, self._values = [colors], [values.astype(np.int64)]
        self._slack = [slack]
        self.count = len(starts)
        self._base_colors, self._base_values, self._base_slack = colors, values, slack
        self._added: list[np.ndarray] = []

    def add(self, xy: np.ndarray, inverse: np.ndarray, like: int) -> int:
        """Add a polygon in the colour and value of polygon ``like``; its number."""
        return self.add_like(xy, inverse, like, len(xy))[0]

    def add_like(self, xy: np.ndarray, inverse: np.ndarray, like: int,
                 corners: int = 4) -> list[int]:
        """Add polygons of ``corners`` corners each in the colour and value of polygon
        ``like``; their numbers."""
        return self.add_quads(xy, inverse, self._base_colors[like],
                              int(self._base_values[like]), float(self._base_slack[like]),
                              corners)

    def add_quads(self, xy: np.ndarray, inverse: np.ndarray, color: np.ndarray, value: int,
                  slack: float, corners: int = 4) -> list[int]:
        """Add polygons of ``corners`` corners each (``xy`` in order), of one value and
        slack, in one colour ``(3,)`` or one each ``(n, 3)``; their numbers."""
        n = len(xy) // corners
        self._xy.append(xy)
        self._inverse.append(inverse)
        self._starts.append(self._vertices + corners * np.arange(n, dtype=np.int64))
        self._counts.append(np.full(n, corners, np.int64))
        self._colors.append(np.broadcast_to(np.asarray(color, np.float32), (n, 3)))
        self._values.append(np.full(n, value, np.int64))
        self._slack.append(np.full(n, slack))
        self._added.extend(xy.reshape(n, corners, 2))
        self._vertices += len(xy)
        self.count += n
        return list(range(self.count - n, self.count))

    def polygon(self, f: int) -> np.ndarray:
        """Pixel corners of face ``f``."""
        if f < len(self._starts[0]):
            start = self._starts[0][f]
            return self._xy[0][start:start + self._counts[0][f]]
        return self._added[f - len(self._starts[0])]

    def draw(self, order: np.ndarray, painter: _Painter) -> None:
        """Rasterize faces ``order`` into the painter's layers, in that order."""
        if len(order):
            zbuffer.draw(np.concatenate(self._xy).astype(np.float64),
                        np.concatenate(self._inverse).astype(np.float64),
                        np.concatenate(self._starts), np.concatenate(self._counts),
                        order.astype(np.int64), np.concatenate(self._colors),
                        np.concatenate(self._values), np.concatenate(self._slack),
                        painter.image, painter.ids,
                        painter.model_depth, painter.face, self.first)
        painter.faces_drawn = self.first + self.count


def _piece(pixels: np.ndarray, starts: np.ndarray, counts: np.ndarray, faces: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polygons ``faces`` of the corner arrays as one piece: their corners, starts and
    counts (see :func:`synthgen.render.projections.polygon_arrays`)."""
    n = counts[faces].astype(np.int64)
    offsets = np.cumsum(n) - n
    corners = np.repeat(starts[faces] - offsets, n) + np.arange(int(n.sum()))
    return pixels[corners], offsets, n


def single(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One polygon as a piece."""
    return xy, np.zeros(1, np.int64), np.array([len(xy)], np.int64)


class _Painter:
    """One scene's layers while they are drawn, and the drawing of its models onto them.

    The steps before the models (:func:`render`) draw on its ``image`` and ``depth``
    with its ``camera`` and ``light``; the models' faces, decals and lines, the pasted
    cut-outs, the lamps seen (for the glow) and the polygons each labelled object took
    (for its projection) are drawn and kept here.
    """

    def __init__(self, scene: Scene, width: int, height: int,
                 pastes: Mapping[int, tuple[Sprite, SpritePick]] | None = None, *,
                 scenery: bool = True) -> None:
        self.scene = scene
        #: False over a real photo (``--backgrounds``): no scenery, so no street lamps
        #: and no light pools drawn on the ground.
        self.scenery = scenery
        self.objects = {obj.instance_id: obj for obj in scene.objects}
        self.pastes = dict(pastes or {})
        self.width, self.height = width, height
        self.camera = Camera(scene.camera, width, height)
        self.light: Illumination = illumination(scene)
        self.image = np.empty((height, width, 3), np.uint8)
        self.ids = np.zeros((height, width), np.uint16)
        self.depth = np.empty((height, width), np.float32)
        #: The depth of what models and cut-outs are drawn at, tested against each other
        #: only (the backdrop, ``depth``, is behind them all: nothing drawn stands below
        #: the ground or beyond the horizon), infinite where none is; merged into
        #: ``depth`` when they are drawn.
        self.model_depth = np.full((height, width), np.inf, np.float32)
        #: Which face took each pixel (numbered across the frame's draw calls; -1: none).
        self.face = np.full((height, width), -1, np.int32)
        self.faces_drawn = 0
        self.lights: list[Light] = []
        #: Per glowing face drawn: its faces' numbers (consecutive: the face, or its
        #: stroke's quads), their polygons (pieces), its light,
        #: its depth.
        self.glowing: list[tuple[range, list[tuple], np.ndarray, float]] = []
        self.lamps = (self._lamps() if scenery and scene.lighting.time_of_day != "day"
                      else np.zeros((0, 3)))
        #: Per labelled object's instance id, every polygon the rasterizer was given for
        #: it, in pieces (corners, starts, counts), for
        #: :func:`synthgen.render.projections.projections`.
        self.polygons: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        #: Instance ids of the objects a cut-out was pasted for, in drawing order.
        self.pasted: list[int] = []
        self.decoys: list[int] = []

    def _lamps(self) -> np.ndarray:
        """Ground positions of lit street lamps, ``(n, 3)``."""
        lamps = [(p.x + p.width * np.sin(p.yaw), p.y + p.width * np.cos(p.yaw), p.height)
                 for p in self.scene.props if p.kind == "street_light" and p.lit_fraction]
        return np.array(lamps).reshape(-1, 3)

    def local_light(self, center: np.ndarray) -> float:
        """Light from the ego car's headlights and nearby street lamps, after dark."""
        if self.scene.lighting.time_of_day == "day":
            return 0.0
        ahead = center - self.camera.position
        distance = float(np.hypot(ahead[0], ahead[1]))
        light = 0.0
        # Dipped headlights: a cone about 25 degrees wide, fading over some 40 m.
        if ahead[1] > 1.0 and abs(ahead[0]) < 0.45 * ahead[1] + 1.5:
            light += 0.9 * np.exp(-((distance / 40.0) ** 2))
        if len(self.lamps):
            d = np.hypot(self.lamps[:, 0] - center[0], self.lamps[:, 1] - center[1])
            light += float(0.5 * np.exp(-((d / 9.0) ** 2)).sum())
        return min(light, 1.2)

    # --- models ---
    def draw_models(self, models: list[Model]) -> None:
        """Draw models far to near; in each, parts far to near, faces after back-face
        culling, each decal right after its face (the depth test decides what hides
        what; the order, how antialiased edges blend).

        All polygons of all models are projected, culled, shaded and coloured together in
        a few array operations and given to the rasterizer in one call per run of models
        between two pastes. A polygon that crosses the near plane is clipped on its own,
        a stroke cut into quads (:meth:`_stroke_or_clip`). When all are drawn their depth
        goes into ``depth`` where they took a pixel.
        """
        if not models:
            return
        models = [models[i] for i in draw_order(self.camera, models)]
        # A pasted real object (--sprites) is drawn on its own, in its place in the order;
        # the models between two of them are drawn together.
        run: list[Model] = []
        for model in models:
            paste = self.pastes.get(model.instance_id) if model.instance_id else None
            box = self.paste_box(model) if paste is not None else None
            if box is None:
                run.append(model)
                continue
            # Everything before it in the order first: it may stand in front of them.
            self._draw_faces(run)
            run = []
            self.paste(model, box, *paste)
        self._draw_faces(run)
        np.copyto(self.depth, self.model_depth, where=self.model_depth < np.inf)
        self.drop_hidden_lights()
        self.texture_scenery()

    def _draw_faces(self, models: list[Model]) -> None:
        """Draw the faces of ``models`` (in draw order): see :meth:`draw_models`."""
        if not models:
            return
        camera = self.camera
        merged = _Merged(models)
        # Within each model (in the order above), parts far to near, its unlabelled parts
        # (a sign's pole) before its labelled ones: the depth test decides which shows,
        # the order how their edges blend.
        part_depth = camera.to_camera(merged.part_centers)[:, 2]
        part_labelled = merged.labelled[merged.part_starts]
        by_depth = np.lexsort((np.arange(len(part_depth)), -part_depth, part_labelled,
                               merged.part_model))
        lengths = merged.part_ends[by_depth] - merged.part_starts[by_depth]
        sequence = (np.repeat(merged.part_starts[by_depth] - np.cumsum(lengths) + lengths,
                              lengths) + np.arange(lengths.sum()))
        starts, counts = merged.starts, merged.counts
        facing = merged.two_sided | (((camera.position - merged.points[starts])
                                      * merged.normals).sum(axis=1) > 0)
        sequence = sequence[facing[merged.parent[sequence]]]
        if not len(sequence):
            return
        cam = camera.to_camera(merged.points)
        behind = np.logical_or.reduceat(cam[:, 2] < NEAR, starts)
        depths = np.add.reduceat(cam[:, 2], starts) / counts
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = np.clip(camera.camera_to_pixels(cam), -zbuffer.LIMIT, zbuffer.LIMIT)
            inverse = 1.0 / cam[:, 2]
        lo = np.minimum.reduceat(pixels, starts, axis=0)
        hi = np.maximum.reduceat(pixels, starts, axis=0)
        # Details of a face small on screen would be specks: left out (a face that
        # crosses the near plane is near, and large).
        span = (hi - lo).max(axis=1)
        large = behind | (span >= DETAIL_PIXELS)
        sequence = sequence[~merged.detail[sequence] | large[merged.parent[sequence]]]
        thickness = self._thickness(merged.line_widths, depths)
        # A stroke reaches half its thickness beyond its outline.
        margin = 2 + thickness
        offscreen = ((hi[:, 0] < -margin) | (hi[:, 1] < -margin)
                     | (lo[:, 0] > self.width + margin) | (lo[:, 1] > self.height + margin))
        # Low beams light the road and what is on it more than the scenery beside it.
        local = np.array([self.local_light(m.center) * (1.0 if m.instance_id else 0.4)
                          for m in models])[merged.model]
        factors = shading(self.light, merged.normals, merged.two_sided, local)[merged.parent]
        lights_on = self.light.lights_on
        # A lit signal lamp shows its colour by day too.
        shows_light = np.array([lights_on or (m.instance_id > 0 and m.category == "traffic_light")
                                for m in models])[merged.model]
        colors = np.where((merged.emits & shows_light)[:, None], merged.emissive,
                          np.minimum(merged.colors * factors, 255.0)).astype(np.float32)
        glows = merged.emits & lights_on
        values = np.where(merged.labelled & (merged.instance_id > 0), merged.instance_id,
                          np.where(merged.materials > 0,
                                   _MATERIAL_ID + merged.materials.astype(np.intp), 0))
        # Decals lie over their face and the decals drawn before them on it, in the
        # same plane: they take pixels as near as what is there, within a hair.
        slack = np.where(merged.parent != np.arange(len(merged.parent)), DECAL_SLACK, 0.0)
        faces = _Faces(pixels, inverse, starts, counts, colors, values, slack,
                       self.faces_drawn)
        special = behind | (thickness > 0)
        # Each object's polygons drawn as they are, in one piece for its projection (a
        # projection is their union: order does not matter); offscreen ones count too.
        plain = sequence[(values[sequence] > 0) & (values[sequence] < _MATERIAL_ID)
                         & ~special[sequence]]
        if len(plain):
            by_value = plain[np.argsort(values[plain], kind="stable")]
            cuts = np.flatnonzero(np.diff(values[by_value])) + 1
            for group in np.split(by_value, cuts):
                self.polygons.setdefault(int(values[group[0]]), []).append(
                    _piece(pixels, starts, counts, group))
        # Most polygons go to the rasterizer as they are, in sequence; the others one by
        # one: a stroke becomes a quad per segment, a polygon crossing the near plane is
        # clipped first, a glowing face becomes a lamp, a face's decal batches follow it.
        irregular = special | glows
        irregular[list(merged.batches)] = True
        positions = np.flatnonzero(irregular[sequence]).tolist()
        segments: list[np.ndarray] = []
        previous = 0
        for position in positions + [len(sequence)]:
            run = sequence[previous:position]
            segments.append(run[~offscreen[run]])
            previous = position + 1
            if position == len(sequence):
                break
            j = int(sequence[position])
            value = int(values[j])
            away = bool(offscreen[j])
            drawn = [j]
            if special[j]:
                drawn, away = self._stroke_or_clip(faces, merged, j, cam, thickness[j])
                if drawn and 0 < value < _MATERIAL_ID:
                    self.polygons.setdefault(value, []).extend(
                        single(faces.polygon(f)) for f in drawn)
            if drawn and not away:
                segments.append(np.array(drawn, np.int64))
                if glows[j]:
                    self.glowing.append((range(faces.first + drawn[0],
                                               faces.first + drawn[-1] + 1),
                                         [single(faces.polygon(f)) for f in drawn],
                                         merged.emissive[j], float(depths[j])))
            batch = merged.batches.get(j)
            if batch is not None and not away:
                segments.append(np.array(self._batches(faces, batch, factors[j], value),
                                         np.int64))
        order = np.concatenate(segments)
        faces.draw(order, self)

    def _stroke_or_clip(self, faces: _Faces, merged: _Merged, j: int, cam: np.ndarray,
                        thickness: int) -> tuple[list[int], bool]:
        """Add polygon ``j`` to ``faces`` in the rasterizer's form: clipped to the near
        plane if it crosses it, a polyline as one quad per segment ``thickness`` pixels
        wide. Returns the faces added (none if nothing is left in front), and whether
        they lie wholly off screen."""
        start, end = int(merged.starts[j]), int(merged.starts[j] + merged.counts[j])
        points = cam[start:end]
        closed = bool(merged.closed[j])
        if (points[:, 2] < NEAR).any():
            points = clip_near(points) if closed else points[points[:, 2] >= NEAR]
            if len(points) < (2 if thickness else 3):
                return [], True
            if thickness:
                thickness = int(self._thickness(merged.line_widths[j:j + 1],
                                                np.array([points[:, 2].mean()]))[0])
        xy = np.clip(self.camera.camera_to_pixels(points), -zbuffer.LIMIT, zbuffer.LIMIT)
        inverse = 1.0 / points[:, 2]
        reach = 2 + thickness
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        away = bool(hi[0] < -reach or hi[1] < -reach or lo[0] > self.width + reach
                    or lo[1] > self.height + reach)
        if not thickness:
            return [faces.add(xy, inverse, j)], away
        # A quad per segment of non-zero length, all added at once.
        a = np.arange(len(xy)) if closed else np.arange(len(xy) - 1)
        b = (a + 1) % len(xy)
        along = xy[b] - xy[a]
        length = np.hypot(along[:, 0], along[:, 1])
        drawn = length != 0.0
        if not drawn.any():
            return [], away
        a, b, along = a[drawn], b[drawn], along[drawn]
        # Square caps half the width long close the joints between segments.
        along = along / length[drawn, None] * (thickness / 2)
        across = np.stack([-along[:, 1], along[:, 0]], axis=1)
        quads = np.stack([xy[a] - along + across, xy[b] + along + across,
                          xy[b] + along - across, xy[a] - along - across], axis=1)
        return faces.add_like(quads.reshape(-1, 2),
                              inverse[np.stack([a, b, b, a], axis=1).reshape(-1)], j), away

    def _batches(self, faces: _Faces, batches: list[DecalBatch], factor: np.ndarray,
                 value: int) -> list[int]:
        """Add a face's decal batches (a building's windows) to ``faces``: quads in the
        colour of their batch, lit like the face, marked in the id map as the face is;
        every batch's quads projected and added together, those wholly in front of the
        near plane kept."""
        batches = [batch for batch in batches if len(batch.quads)]
        if not batches:
            return []
        colors = np.array([
            np.asarray(batch.color, np.float32) if batch.emissive and self.light.lights_on
            else np.minimum(np.asarray(batch.color, np.float32) * factor, 255.0)
            for batch in batches], np.float32)
        colors = np.repeat(colors, [len(batch.quads) for batch in batches], axis=0)
        cam = self.camera.to_camera(np.concatenate([batch.quads for batch in batches])
                                    .reshape(-1, 3)).reshape(-1, 4, 3)
        kept = (cam[..., 2] >= NEAR).all(axis=1)
        cam = cam[kept]
        if not len(cam):
            return []
        xy = np.clip(self.camera.camera_to_pixels(cam.reshape(-1, 3)), -zbuffer.LIMIT,
                     zbuffer.LIMIT)
        added = faces.add_quads(xy, 1.0 / cam[..., 2].reshape(-1), colors[kept], value,
                                DECAL_SLACK)
        if 0 < value < _MATERIAL_ID:  # on a labelled face: part of its projection
            self.polygons.setdefault(value, []).extend(single(faces.polygon(f))
                                                       for f in added)
        return added

    def paste_box(self, model: Model) -> tuple[int, int, int, int] | None:
        """The pixel box ``(x0, y0, x1, y1)`` a cut-out replacing ``model`` is pasted
        over: the bounds of its 3D box's projection, rounded to pixel edges; ``None``
        when the 3D box reaches behind the near plane (or absurdly far out), where the
        object is drawn as usual."""
        obj = self.objects[model.instance_id]
        cam = self.camera.to_camera(_box_corners(obj))
        if (cam[:, 2] < NEAR).any():
            return None
        pixels = self.camera.camera_to_pixels(cam)
        x0, y0 = np.floor(pixels.min(axis=0) + 0.5).astype(int).tolist()
        x1, y1 = np.floor(pixels.max(axis=0) + 0.5).astype(int).tolist()
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        if max(abs(x0), abs(y0), abs(x1), abs(y1)) > zbuffer.LIMIT:
            return None
        return x0, y0, x1, y1

    def paste(self, model: Model, box: tuple[int, int, int, int], sprite: Sprite,
              pick: SpritePick) -> None:
        """Paste a real cut-out in place of ``model``'s faces (``--sprites``), over
        ``box`` (see :meth:`paste_box`), after everything before it in the draw order.

        The cut-out is stretched over the box inside its class outline
        (:func:`synthgen.render.sprites.outline`), lit like a face turned to the sky; the
        instance id map and depth take the outline at the depth of the object's centre,
        as a drawn face would. Like a drawn face, its colour is filled antialiased and
        the id map without: the edge pixels just outside the outline take a share of
        the pasted colour; the sampled feathering blurs the edge inside the outline.
        Only the part in the frame is resized and lit. A decoy (``pick.decoy``) is pasted
        the same way from the cut-out's decoy pixels, but the id map takes the
        background's 0 and the object keeps no projection: it is not labelled.
        """
        obj = self.objects[model.instance_id]
        x0, y0, x1, y1 = box
        value = 0 if pick.decoy else model.instance_id
        (self.decoys if pick.decoy else self.pasted).append(model.instance_id)
        unit = outline(sprite.category)
        # The outline's pixel corners: on pixel edges where the box's are, so the outline
        # takes exactly the pixels of [x0, x1) x [y0, y1) along the box's sides.
        corners = np.column_stack([x0 + unit[:, 0] * (x1 - x0), y0 + unit[:, 1] * (y1 - y0)])
        centre = np.array([obj.x, obj.y, obj.elevation + obj.height / 2])
        depth = np.float32(self.camera.to_camera(centre)[2])
        if not pick.decoy:
            self.polygons.setdefault(model.instance_id, []).append(single(corners))
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x1, self.width), min(y1, self.height)
        if fx1 <= fx0 or fy1 <= fy0:
            return
        h, w = fy1 - fy0, fx1 - fx0
        # The pixels it takes: inside the outline (the rasterizer's rule, as a drawn
        # face), where nothing nearer was drawn; the image's share is tested at the same
        # depth (nothing nearer is blended over).
        inside = np.zeros((h, w), np.uint8)
        zbuffer.cover(*polygon_arrays([single(corners)]), np.zeros(1, np.int64), inside,
                      fx0, fy0)
        nearer = self.model_depth[fy0:fy1, fx0:fx1] > depth
        takes = inside.view(bool) & nearer
        self.ids[fy0:fy1, fx0:fx1][takes] = value
        self.model_depth[fy0:fy1, fx0:fx1][takes] = depth
        self.face[fy0:fy1, fx0:fx1][takes] = -1
        # Coverage of the outline, antialiased, feathered inside it.
        alpha = np.zeros((h, w), np.uint8)
        zbuffer.coverage(corners.astype(np.float64), 0, len(corners), alpha, fx0, fy0)
        if pick.feather > 0.05:
            alpha = np.minimum(alpha, cv2.GaussianBlur(cv2.erode(alpha, None), (0, 0),
                                                       pick.feather))
        light = face_light(self.light, None) / _DAYLIGHT
        pixels = sprite.decoy if pick.decoy else sprite.pixels
        colour = paste_pixels(pixels, pick.mirrored, (x1 - x0, y1 - y0),
                              (fx0 - x0, fy0 - y0, fx1 - x0, fy1 - y0), light)
        weight = (alpha.astype(np.float32) * nearer)[..., None] / 255.0
        region = self.image[fy0:fy1, fx0:fx1]
        mixed = region.astype(np.float32) * (1.0 - weight) + colour * weight
        region[...] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)

    def texture_scenery(self) -> None:
        """Multiply each material's texture into the pixels its faces show, then clear
        their material marks from the instance id map (scenery is 0 there).

        Works inside the rectangle the marks cover; the texture's offset comes from the
        scene's sampled texture seed.
        """
        ids = self.ids
        marked = cv2.compare(ids, _MATERIAL_ID, cv2.CMP_GT)
        x, y, w, h = cv2.boundingRect(marked)
        if not w:
            return
        region = ids[y:y + h, x:x + w]
        gain = np.full((h, w), 128, np.uint8)
        seed = self.scene.effects.ground_texture_seed
        for material, kind in MATERIAL_TEXTURES.items():
            mask = cv2.compare(region, _MATERIAL_ID + material, cv2.CMP_EQ)
            if cv2.countNonZero(mask):
                tiled = texture(kind, self.height, self.width, seed + material)
                cv2.copyTo(tiled[y:y + h, x:x + w], mask, gain)
        image = self.image[y:y + h, x:x + w]
        cv2.multiply(image, cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB), dst=image, scale=1 / 128)
        cv2.threshold(region, _MATERIAL_ID, 0, cv2.THRESH_TOZERO_INV, dst=region)

    def _thickness(self, widths: np.ndarray, depths: np.ndarray) -> np.ndarray:
        """Pixel width of polylines ``widths`` metres wide at ``depths``; 0 for faces."""
        pixels = np.maximum(1, np.rint(widths * self.camera.focal / np.maximum(depths, NEAR)))
        return np.where(widths > 0, pixels, 0).astype(int)

    def drop_hidden_lights(self) -> None:
        """Turn the glowing faces drawn into lamps for the glow effect, each dimmed by the
        share of its pixels something nearer hides (read from the face buffer); a lamp
        hidden entirely, or centred outside the frame, casts no glow. A lamp too small to
        take a pixel's centre is seen, whole, where nothing stands more than
        :data:`LAMP_REACH` in front of it at the pixel holding its centre."""
        lights = []
        for numbers, polygons, color, depth in self.glowing:
            xy, starts, counts = polygon_arrays(polygons)
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            center = (lo + hi) / 2
            if not (0 <= center[0] < self.width and 0 <= center[1] < self.height):
                continue
            x0, y0 = (max(0, int(np.floor(v)) - 1) for v in lo)
            x1 = min(self.width, int(np.ceil(hi[0])) + 1)
            y1 = min(self.height, int(np.ceil(hi[1])) + 1)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            drawn = zbuffer.cover(xy, starts, counts, np.arange(len(starts)), mask, x0, y0)
            if drawn:
                taken = self.face[y0:y1, x0:x1]
                shown = int(np.count_nonzero((taken >= numbers.start)
                                             & (taken < numbers.stop)))
                share = shown / drawn
            else:
                nearest = self.model_depth[int(center[1]), int(center[0])]
                share = 1.0 if nearest >= depth - LAMP_REACH else 0.0
            if not share:
                continue
            lights.append(Light(float(center[0]), float(center[1]),
                                max(1.0, float(np.max(hi - lo)) / 2),
                                tuple(int(round(int(c) * share)) if share < 1 else int(c)
                                      for c in color)))
        self.lights = lights
        self.glowing = []

    def sun_position(self) -> tuple[float, float] | None:
        if self.light.sun <= 0.05:
            return None
        far = self.camera.position + self.light.sun_direction * 1e4
        pixels, depth = self.camera.project(far)
        if depth <= 0:
            return None
        return float(pixels[0]), float(pixels[1])


def _box_corners(obj: SceneObject) -> np.ndarray:
    """The 8 world corners of an object's 3D box, ``(8, 3)``."""
    ahead = np.array([np.sin(obj.yaw), np.cos(obj.yaw)])
    right = np.array([np.cos(obj.yaw), -np.sin(obj.yaw)])
    corners = []
    for along in (-0.5, 0.5):
        for across in (-0.5, 0.5):
            x, y = (np.array([obj.x, obj.y]) + along * obj.length * ahead
                    + across * obj.width * right)
            corners += [(x, y, obj.elevation), (x, y, obj.elevation + obj.height)]
    return np.array(corners)


def render(scene: Scene, width: int, height: int,
           pastes: Mapping[int, tuple[Sprite, SpritePick]] | None = None,
           background: np.ndarray | None = None) -> Layers:
    """Render ``scene`` at ``width`` x ``height`` pixels.

    Args:
        scene: A fully sampled scene.
        width: Image width in pixels.
        height: Image height in pixels.
        pastes: Instance id -> the real cut-out pasted in place of that object and how
            (``--sprites``, see :meth:`_Painter.paste`).
        background: ``(height, width, 3)`` uint8 RGB: a real photo drawn in place of the
            sky, ground, road and scenery (``--backgrounds``, see
            :mod:`synthgen.render.backgrounds`), at
            :data:`~synthgen.render.backdrop.PHOTO_DEPTH` (see
            :func:`synthgen.render.backdrop.real_photo`); no street lamps light it.

    Returns:
        The image (before weather and sensor effects), instance id map and depth, plus
        what labels and effects need to know of objects and lamps.
    """
    painter = _Painter(scene, width, height, pastes, scenery=background is None)
    drawing = (painter.image, painter.depth, scene, painter.camera, painter.light)
    if background is None:
        backdrop.sky_and_ground(*drawing)
        backdrop.horizon(*drawing)
        backdrop.road(*drawing)
        models = build_models(scene, painter.camera, painter.light)
    else:
        backdrop.real_photo(painter.image, painter.depth, background, scene)
        models = build_models(scene, painter.camera, painter.light, scenery=False)
    ground_light(painter.image, scene, painter.camera, painter.light, models, painter.lamps,
                 scenery=painter.scenery)
    painter.draw_models(models)
    objects = projections(scene.objects, painter.polygons, painter.camera)
    return Layers(image=painter.image, instance_map=painter.ids, depth=painter.depth,
                  objects=objects, lights=painter.lights,
                  sun=painter.sun_position(), pasted=painter.pasted, decoys=painter.decoys,
                  # Only over a photo: what the photo's objects are hidden by.
                  drawn=None if background is None else painter.model_depth < np.inf)
