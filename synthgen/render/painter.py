"""The renderer: a sampled scene to named layers (image, instance id map, depth).

:func:`render` draws in this order, each step but the models' own in a module of its own:
the backdrop (sky, ground, horizon and road, or a real photo with ``--backgrounds``:
:mod:`~synthgen.render.backdrop`); the models that can show
(:mod:`~synthgen.render.culling`); their shadows and the lamp pools on the ground
(:mod:`~synthgen.render.ground_light`); the models themselves, here, in the order
:func:`synthgen.render.order.draw_order` gives; and last, per labelled object, the pixels
its whole projection covers, for the labels (:mod:`~synthgen.render.projections`).

This module holds that sequence, the layers it returns and the drawing of models: a
painter's algorithm over flat, convex faces with OpenCV's polygon fill, every object and
piece of scenery from far to near (where their footprints show which stands in front,
that decides), each face lit by the sun and the sky. Lamps hidden by what is drawn after
them give no glow. The image is antialiased; the instance id map and depth are filled
with the same fixed-point polygons (:mod:`~synthgen.render.raster`) without
antialiasing, so a pixel's id says which object the final image shows there. With
``--sprites`` a real cut-out is pasted in an object's place in that order instead of its
faces (:meth:`_Painter.paste`), filling the id map and depth the same way. Deterministic:
nothing here is random.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from synthgen.render import backdrop, raster
from synthgen.render.camera import NEAR, Camera
from synthgen.render.culling import build_models
from synthgen.render.ground_light import ground_light
from synthgen.render.lighting import Illumination, face_light, illumination, lit, shading
from synthgen.render.order import draw_order
from synthgen.render.projections import RenderedObject, projections
from synthgen.render.raster import LIMIT, ONE, SHIFT
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
    """

    image: np.ndarray
    instance_map: np.ndarray
    depth: np.ndarray
    objects: list[RenderedObject]
    lights: list[Light] = field(default_factory=list)
    sun: tuple[float, float] | None = None
    pasted: list[int] = field(default_factory=list)
    decoys: list[int] = field(default_factory=list)


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
        self.lights: list[Light] = []
        self._lamp_pixels: list[tuple[int, int, np.ndarray, np.float32]] = []
        self.lamps = (self._lamps() if scenery and scene.lighting.time_of_day != "day"
                      else np.zeros((0, 3)))
        #: Per labelled object's instance id, the polygons filled into the instance id map
        #: for it (fixed-point pixels, stroke thickness, closed), for
        #: :func:`synthgen.render.projections.projections`.
        self.polygons: dict[int, list[tuple[np.ndarray, int, bool]]] = {}
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
        culling, each decal right after its face.

        All polygons of all models are projected, culled, shaded and coloured together in
        a few array operations, so that only the fills themselves are per polygon. A
        polygon that crosses the near plane is clipped on its own (:meth:`_draw_clipped`).
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
        self.drop_hidden_lights()
        self.texture_scenery()

    def _draw_faces(self, models: list[Model]) -> None:
        """Draw the faces of ``models`` (in draw order): see :meth:`draw_models`."""
        if not models:
            return
        camera = self.camera
        merged = _Merged(models)
        # Within each model (in the order above), parts far to near; its unlabelled parts
        # (a sign's pole) before its labelled ones, which they only ever touch: a pole's
        # edge never takes the labelled part's pixels.
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
            fixed = raster.fixed(camera.camera_to_pixels(cam))
        lo = np.minimum.reduceat(fixed, starts, axis=0)
        hi = np.maximum.reduceat(fixed, starts, axis=0)
        # Details of a face small on screen would be specks: left out (a face that
        # crosses the near plane is near, and large).
        span = (hi.astype(np.int64) - lo).max(axis=1)
        large = behind | (span >= DETAIL_PIXELS * ONE)
        sequence = sequence[~merged.detail[sequence] | large[merged.parent[sequence]]]
        thickness = self._thickness(merged.line_widths, depths)
        # A stroke reaches half its thickness beyond its outline.
        margin = (2 + thickness) * ONE
        offscreen = ((hi[:, 0] < -margin) | (hi[:, 1] < -margin)
                     | (lo[:, 0] > self.width * ONE + margin)
                     | (lo[:, 1] > self.height * ONE + margin))
        # Low beams light the road and what is on it more than the scenery beside it.
        local = np.array([self.local_light(m.center) * (1.0 if m.instance_id else 0.4)
                          for m in models])[merged.model]
        factors = shading(self.light, merged.normals, merged.two_sided, local)[merged.parent]
        lights_on = self.light.lights_on
        # A lit signal lamp shows its colour by day too.
        shows_light = np.array([lights_on or (m.instance_id > 0 and m.category == "traffic_light")
                                for m in models])[merged.model]
        colors = np.where((merged.emits & shows_light)[:, None], merged.emissive,
                          np.minimum(merged.colors * factors, 255.0))
        glows = merged.emits & lights_on
        values = np.where(merged.labelled & (merged.instance_id > 0), merged.instance_id,
                          np.where(merged.materials > 0,
                                   _MATERIAL_ID + merged.materials.astype(np.intp), 0))
        ends = starts + counts
        image, ids, depth_map, polygons = self.image, self.ids, self.depth, self.polygons
        for j, start, end, face_colors, glow, value, t, closed, depth, cut, away in zip(
                sequence.tolist(), starts[sequence].tolist(), ends[sequence].tolist(),
                colors[sequence].tolist(), glows[sequence].tolist(),
                values[sequence].tolist(), thickness[sequence].tolist(),
                merged.closed[sequence].tolist(), depths[sequence].tolist(),
                behind[sequence].tolist(), offscreen[sequence].tolist(), strict=True):
            color = tuple(face_colors)
            if cut:
                self._draw_clipped(merged.points[start:end], closed,
                                   float(merged.line_widths[j]), color,
                                   merged.emissive[j] if glow else None, value)
            elif t or glow:
                self._paint(fixed[start:end], depth, t, closed, color,
                            merged.emissive[j] if glow else None, value, away)
            else:  # the common case, _paint inlined: a filled face that gives no light
                pts = fixed[start:end]
                if not away:
                    cv2.fillConvexPoly(image, pts, color, cv2.LINE_AA, SHIFT)
                    cv2.fillConvexPoly(ids, pts, value, cv2.LINE_8, SHIFT)
                    cv2.fillConvexPoly(depth_map, pts, depth, cv2.LINE_8, SHIFT)
                if 0 < value < _MATERIAL_ID:
                    polygons.setdefault(value, []).append((pts, 0, True))
            batch = merged.batches.get(j)
            if batch is not None:
                self._draw_batches(batch, factors[j])

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
        if max(abs(x0), abs(y0), abs(x1), abs(y1)) > LIMIT:
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
        pts = raster.fixed(np.column_stack([x0 + unit[:, 0] * (x1 - x0),
                                            y0 + unit[:, 1] * (y1 - y0)]))
        # OpenCV fills the pixels whose centres lie on a polygon's right or bottom edge:
        # moved in by one fixed-point step, the outline fills exactly [x0, x1) x [y0, y1).
        pts[unit[:, 0] == 1.0, 0] -= 1
        pts[unit[:, 1] == 1.0, 1] -= 1
        centre = np.array([obj.x, obj.y, obj.elevation + obj.height / 2])
        depth = float(self.camera.to_camera(centre)[2])
        if not pick.decoy:
            self.polygons.setdefault(model.instance_id, []).append((pts, 0, True))
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x1, self.width), min(y1, self.height)
        if fx1 <= fx0 or fy1 <= fy0:
            return
        cv2.fillConvexPoly(self.ids, pts, value, cv2.LINE_8, SHIFT)
        cv2.fillConvexPoly(self.depth, pts, depth, cv2.LINE_8, SHIFT)
        # Coverage of the outline, antialiased, feathered inside it.
        h, w = fy1 - fy0, fx1 - fx0
        alpha = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(alpha, pts - np.array([fx0 * ONE, fy0 * ONE], np.int32), 255,
                           cv2.LINE_AA, SHIFT)
        if pick.feather > 0.05:
            alpha = np.minimum(alpha, cv2.GaussianBlur(cv2.erode(alpha, None), (0, 0),
                                                       pick.feather))
        light = face_light(self.light, None) / _DAYLIGHT
        pixels = sprite.decoy if pick.decoy else sprite.pixels
        colour = paste_pixels(pixels, pick.mirrored, (x1 - x0, y1 - y0),
                              (fx0 - x0, fy0 - y0, fx1 - x0, fy1 - y0), light)
        weight = alpha.astype(np.float32)[..., None] / 255.0
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

    def _draw_clipped(self, points: np.ndarray, closed: bool, width: float, color: tuple,
                      light, value: int) -> None:
        """Draw a polygon (world ``points``) that crosses the near plane, clipped to it."""
        projected = raster.project(self.camera, points, closed=closed)
        if projected is None:
            return
        pts, depth = projected
        thickness = int(self._thickness(np.array([width]), np.array([depth]))[0])
        self._paint(pts, depth, thickness, closed, color, light, value,
                    raster.offscreen(pts, self.width, self.height, margin=2 + thickness))

    def _paint(self, pts: np.ndarray, depth: float, thickness: int, closed: bool,
               color: tuple, light, value: int, offscreen: bool) -> None:
        """Fill one projected polygon (or stroke a polyline) into the image, the instance
        id map (``value``) and depth; remember it as part of object ``value`` (if not 0).

        Args:
            light: Colour of the light the polygon gives off, or ``None``.
            offscreen: Nothing of it is in the frame: only remembered.
        """
        if not offscreen:
            if thickness:
                cv2.polylines(self.image, [pts], closed, color, thickness, cv2.LINE_AA, SHIFT)
            else:
                cv2.fillConvexPoly(self.image, pts, color, cv2.LINE_AA, SHIFT)
            raster.fill(self.ids, pts, value, thickness, closed)
            raster.fill(self.depth, pts, depth, thickness, closed)
            if light is not None:
                self._add_light(pts, light, depth, thickness, closed)
        if 0 < value < _MATERIAL_ID:
            self.polygons.setdefault(value, []).append((pts, thickness, closed))

    def _thickness(self, widths: np.ndarray, depths: np.ndarray) -> np.ndarray:
        """Pixel width of polylines ``widths`` metres wide at ``depths``; 0 for faces."""
        pixels = np.maximum(1, np.rint(widths * self.camera.focal / np.maximum(depths, NEAR)))
        return np.where(widths > 0, pixels, 0).astype(int)

    def _add_light(self, pts: np.ndarray, color, depth: float, thickness: int = 0,
                   closed: bool = True) -> None:
        """Remember a lamp just drawn (``pts`` at ``depth``) for the glow effect, with the
        pixels it took (see :meth:`drop_hidden_lights`)."""
        xy = pts.astype(np.float64) / ONE + 0.5
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        center = (lo + hi) / 2
        if 0 <= center[0] < self.width and 0 <= center[1] < self.height:
            radius = max(1.0, float(np.max(hi - lo)) / 2)
            self.lights.append(Light(float(center[0]), float(center[1]), radius,
                                     tuple(int(c) for c in color)))
            x0, y0 = (max(0, int(v) - thickness - 2) for v in lo)
            x1 = min(self.width, int(hi[0]) + thickness + 2)
            y1 = min(self.height, int(hi[1]) + thickness + 2)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            raster.fill(mask, pts - np.array([x0 * ONE, y0 * ONE], np.int32), 1, thickness,
                        closed)
            self._lamp_pixels.append((x0, y0, mask.view(bool), np.float32(depth)))

    def drop_hidden_lights(self) -> None:
        """Dim each lamp by the share of its pixels something nearer was drawn over since
        (read from the depth layer, which unlike the antialiased image changes only where
        a later polygon takes a pixel); a lamp hidden entirely casts no glow."""
        lights = []
        for light, (x0, y0, mask, depth) in zip(self.lights, self._lamp_pixels, strict=True):
            region = self.depth[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]]
            drawn = int(np.count_nonzero(mask))
            shown = int(np.count_nonzero(region[mask] == depth))
            if shown == drawn:
                lights.append(light)
            elif shown:
                share = shown / drawn
                lights.append(dataclasses.replace(
                    light, color=tuple(int(round(c * share)) for c in light.color)))
        self.lights = lights
        self._lamp_pixels = []

    def _draw_batches(self, batches: list[DecalBatch], factor: np.ndarray) -> None:
        for batch in batches:
            if not len(batch.quads):
                continue
            cam = self.camera.to_camera(batch.quads.reshape(-1, 3)).reshape(-1, 4, 3)
            keep = (cam[..., 2] >= NEAR).all(axis=1)
            if not keep.any():
                continue
            pix = self.camera.camera_to_pixels(cam[keep])
            pts = list(raster.fixed(pix))
            glowing = batch.emissive and self.light.lights_on
            color = (tuple(float(c) for c in batch.color) if glowing
                     else lit(batch.color, factor))
            cv2.fillPoly(self.image, pts, color, cv2.LINE_AA, SHIFT)

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
                  sun=painter.sun_position(), pasted=painter.pasted, decoys=painter.decoys)
