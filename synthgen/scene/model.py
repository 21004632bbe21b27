"""A sampled scene: every random value of one image, fixed.

:mod:`synthgen.scene.sampling` builds a :class:`Scene` from a template and a generator;
:mod:`synthgen.render.painter` and :mod:`synthgen.render.effects` turn it into pixels
without drawing a single random number. World coordinates are metres: ``x`` to the right
of the road's start, ``y`` forward along it, ``z`` up; the ground is ``z = 0``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class CameraParams:
    """Pinhole camera on the ego car.

    Attributes:
        x: Lateral position (m); the camera stands at ``y = 0``.
        height: Height above the ground (m).
        pitch_deg: Downward tilt; positive looks at the ground.
        yaw_deg: Turn to the right of the road direction.
        roll_deg: Rotation about the optical axis, clockwise positive.
        fov_deg: Horizontal field of view.
    """

    x: float
    height: float
    pitch_deg: float
    yaw_deg: float
    roll_deg: float
    fov_deg: float


@dataclass(frozen=True)
class LightingParams:
    """Sun, sky and ambient light of one image."""

    time_of_day: str
    sun_elevation_deg: float
    sun_azimuth_deg: float
    exposure: float


@dataclass(frozen=True)
class WeatherParams:
    """Weather of one image; ``intensity`` in [0, 1] scales every effect of the kind."""

    kind: str
    intensity: float


@dataclass(frozen=True)
class RoadParams:
    """The road: lanes and widths (m), curvature (1/m) and paint."""

    layout: str
    forward_lanes: int
    oncoming_lanes: int
    lane_width: float
    curvature: float
    median_width: float
    shoulder_width: float
    sidewalk_width: float
    surface_color: RGB
    shoulder_color: RGB
    sidewalk_color: RGB
    ground_color: RGB
    marking_color: RGB
    center_style: str
    lane_dashes: bool
    edge_lines: bool
    line_width: float
    dash_length: float
    gap_length: float
    wear: float
    crosswalk_y: float | None
    intersection_y: float | None
    cross_lanes: int

    @property
    def right_edge(self) -> float:
        """Lateral offset of the road's right edge, shoulder included."""
        return self.median_width / 2 + self.forward_lanes * self.lane_width + self.shoulder_width

    @property
    def left_edge(self) -> float:
        """Lateral offset of the road's left edge (negative), shoulder included."""
        return -(self.median_width / 2 + self.oncoming_lanes * self.lane_width
                 + self.shoulder_width)

    def lane_center(self, lane: int, oncoming: bool) -> float:
        """Lateral offset of a lane's centre; lane 0 is the one nearest the centre line."""
        offset = self.median_width / 2 + (lane + 0.5) * self.lane_width
        return -offset if oncoming else offset

    @property
    def cross_width(self) -> float:
        """Width of the crossing road at an intersection (both directions)."""
        return 2 * self.cross_lanes * self.lane_width

    def center_x(self, y: np.ndarray | float) -> np.ndarray | float:
        """Lateral position of the road's centre line at distance ``y`` (a parabola)."""
        return 0.5 * self.curvature * np.square(y)

    def heading(self, y: float) -> float:
        """Road direction at distance ``y`` (radians from +y, positive to the right)."""
        return float(np.arctan(self.curvature * y))


@dataclass(frozen=True)
class SceneObject:
    """One labelled object. ``instance_id`` is its value in the instance id map.

    Attributes:
        x, y: Ground position of the object's centre (m).
        yaw: Heading (radians from +y, positive to the right); the object's front.
        length, width, height: Extent along its heading, across it and up (m).
        color: Main colour (vehicle body, pedestrian's top, sign face...).
        placement: The template placement rule it was put by.
        variant: A category-specific style (sedan/hatchback/van, sign shape, ...).
        state: Category-specific state (lit lamp of a traffic light, walking phase, a
            car's style value in [0, 1) that picks its finish, trim and proportions).
        secondary_color: A second colour (trousers, sign border, ...).
    """

    instance_id: int
    category: str
    x: float
    y: float
    yaw: float
    length: float
    width: float
    height: float
    color: RGB
    placement: str
    variant: str = ""
    state: float = 0.0
    secondary_color: RGB = (40, 40, 40)
    elevation: float = 0.0


@dataclass(frozen=True)
class Prop:
    """Unlabelled scenery drawn like an object: building, tree, pole, barrier, lamp."""

    kind: str
    x: float
    y: float
    yaw: float
    length: float
    width: float
    height: float
    color: RGB
    secondary_color: RGB = (40, 40, 40)
    lit_fraction: float = 0.0
    variant: str = ""


@dataclass(frozen=True)
class EffectParams:
    """Pixel-level randomness, drawn up front like everything else.

    Arrays (rain drops, snow flakes) are stored in normalised image coordinates [0, 1) so a
    scene renders the same at any size.
    """

    noise: float
    noise_seed: int
    motion_blur: int
    motion_angle_deg: float
    vignetting: float
    particles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    rain_slant: float = 0.0
    ground_texture_seed: int = 0


@dataclass(frozen=True)
class AppearanceParams:
    """How strongly one image is matched to a target camera (``--look-like``).

    Drawn after everything else of the scene, and only with ``--look-like``, so the rest
    of the scene is the same with or without it; applied by
    :func:`synthgen.render.appearance.apply_appearance`.

    Attributes:
        strength: Blend of the tone curve with the identity (1 = the full curve).
        blur: Factor on the fitted blur.
        noise: Factor on the fitted noise.
        noise_seed: Seed of the per-pixel noise.
    """

    strength: float
    blur: float
    noise: float
    noise_seed: int

    def metadata(self) -> dict[str, Any]:
        """The values written into the COCO ``images`` entry (``appearance``)."""
        return _rounded({"strength": self.strength, "blur": self.blur, "noise": self.noise})


@dataclass(frozen=True)
class SpritePick:
    """A real cut-out pasted in place of one drawn object (``--sprites``).

    Drawn after everything else of the scene, and only with ``--sprites``, so the scene
    is the same with or without it (see :mod:`synthgen.render.sprites`).

    Attributes:
        instance_id: The object it stands for.
        sprite: Its index in the bank.
        mirrored: Pasted mirrored left to right.
        feather: Blur (pixels) of its pasted edge, inside its outline.
        decoy: The cut-out's decoy is pasted instead, and the object is not labelled
            (see :mod:`synthgen.render.sprites`); an object whose 3D box reaches behind
            the camera is drawn as usual, decoy or not.
    """

    instance_id: int
    sprite: int
    mirrored: bool
    feather: float
    decoy: bool = False


@dataclass(frozen=True)
class BackgroundPick:
    """The real photo an image is drawn over (``--backgrounds``).

    Drawn after everything else of the scene (and its ``--sprites`` picks), and only with
    ``--backgrounds``, so the scene is the same with or without it (see
    :mod:`synthgen.render.backgrounds`).

    Attributes:
        background: Its index in the bank.
        mirrored: The photo is mirrored left to right.
    """

    background: int
    mirrored: bool


@dataclass(frozen=True)
class Scene:
    """Everything one image depends on, with nothing left random."""

    template: str
    seed: int
    index: int
    camera: CameraParams
    lighting: LightingParams
    weather: WeatherParams
    road: RoadParams
    horizon: str
    objects: tuple[SceneObject, ...]
    props: tuple[Prop, ...]
    effects: EffectParams

    def metadata(self) -> dict[str, Any]:
        """The per-image record written into the COCO ``images`` entry."""
        road = self.road
        return {
            "scene": self.template,
            "seed": self.seed,
            "index": self.index,
            "camera": _rounded(asdict(self.camera)),
            "time_of_day": self.lighting.time_of_day,
            "lighting": _rounded({k: v for k, v in asdict(self.lighting).items()
                                  if k != "time_of_day"}),
            "weather": _rounded(asdict(self.weather)),
            "road": _rounded({"layout": road.layout, "forward_lanes": road.forward_lanes,
                              "oncoming_lanes": road.oncoming_lanes,
                              "lane_width": road.lane_width, "curvature": road.curvature}),
        }


def _rounded(record: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in record.items()}
