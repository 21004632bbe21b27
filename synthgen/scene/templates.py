"""Scene templates: YAML files describing road layouts, objects and every random range.

A template is validated against :class:`SceneTemplate` (pydantic, unknown fields
rejected). ``extends: NAME`` merges the template over another one: mappings merge key by
key, except weight mappings (``time_of_day``, ``weights``, ``placements``), which are
replaced whole so that ``time_of_day: {dusk: 1}`` means dusk only; anything else
(numbers, lists, ranges) is replaced whole too. Names resolve to
``NAME.yaml`` beside the extending file first, then among the bundled templates in
``scenes/``; a path must end in ``.yaml`` (or ``.yml``) and is taken relative to the
extending file only (an absolute path is refused). An error in a file reached through
``extends`` that is not bundled names the file and the field but never echoes what the
file holds (a value, an unknown key, the text of a YAML error): a template from elsewhere
cannot make synthgen print another file.

Every number is finite: NaN and infinity are refused wherever a number goes.

Intervals are named ``*_range`` and written ``[low, high]``; equal ends mean "fixed".
Angles are in degrees, lengths in metres, colours ``[r, g, b]`` in 0-255.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthgen.errors import TemplateError
from synthgen.scene.yamlload import load_yaml
from synthgen.storage.files import open_regular

#: Bundled templates: ``synthgen/scenes`` links to the repository's top-level ``scenes/``
#: folder and is packaged with synthgen, so installs without the repository have them too.
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "scenes"

Category = Literal["car", "truck", "bus", "pedestrian", "cyclist", "traffic_light",
                   "traffic_sign"]
Placement = Literal["in_lane", "oncoming", "parked", "sidewalk", "crosswalk", "cross_traffic",
                    "roadside"]
TimeOfDay = Literal["day", "dusk", "night"]
WeatherKind = Literal["clear", "overcast", "rain", "fog", "snow"]

#: Which placements make sense for which category; anything else is a template error.
ALLOWED_PLACEMENTS: dict[str, frozenset[str]] = {
    "car": frozenset({"in_lane", "oncoming", "parked", "cross_traffic"}),
    "truck": frozenset({"in_lane", "oncoming", "parked", "cross_traffic"}),
    "bus": frozenset({"in_lane", "oncoming", "parked", "cross_traffic"}),
    "pedestrian": frozenset({"sidewalk", "crosswalk", "roadside"}),
    "cyclist": frozenset({"in_lane", "oncoming", "sidewalk", "crosswalk", "cross_traffic"}),
    "traffic_light": frozenset({"roadside"}),
    "traffic_sign": frozenset({"roadside"}),
}


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"expected [low, high] with low <= high, got [{value[0]}, {value[1]}]")
    return value


FloatRange = Annotated[tuple[float, float], AfterValidator(_ordered)]
IntRange = Annotated[tuple[int, int], AfterValidator(_ordered)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Channel = Annotated[int, Field(ge=0, le=255)]
RGB = tuple[Channel, Channel, Channel]
Palette = Annotated[list[RGB], Field(min_length=1)]


def _positive_total(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("expected at least one weight above 0, got "
                         + ("none" if not weights else "only zeros"))
    if not math.isfinite(total):
        raise ValueError(f"expected weights with a finite sum, got {total}")
    return weights


def _street_light_spacing(value: tuple[float, float]) -> tuple[float, float]:
    if value != (0.0, 0.0) and value[0] < 5.0:
        raise ValueError("expected [0, 0] (no street lights) or a range within [5, 200] m, "
                         f"got [{value[0]}, {value[1]}]")
    return value


def _odd_ends(value: tuple[int, int]) -> tuple[int, int]:
    if value[0] % 2 == 0 or value[1] % 2 == 0:
        raise ValueError("expected odd sizes (a blur kernel has a centre pixel), got "
                         f"[{value[0]}, {value[1]}]")
    return value


def _range_within(low: float, high: float):
    def check(value: tuple[float, float]) -> tuple[float, float]:
        if value[0] < low or value[1] > high:
            raise ValueError(f"expected a range within [{low}, {high}], got "
                             f"[{value[0]}, {value[1]}]")
        return value
    return AfterValidator(check)


class _Model(BaseModel):
    # allow_inf_nan: NaN passes every bound check (each comparison is false), so a
    # non-finite number is refused here, once, for every float field and range end.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Markings(_Model):
    """Paint on the road."""

    center_styles: Annotated[list[Literal["dashed", "solid", "double_solid", "none"]],
                             Field(min_length=1)] = ["dashed"]
    lane_dashes: bool = True
    edge_lines: bool = True
    line_width_range: Annotated[FloatRange, _range_within(0.05, 0.5)] = (0.10, 0.15)
    dash_length_range: Annotated[FloatRange, _range_within(0.5, 20.0)] = (3.0, 4.0)
    gap_length_range: Annotated[FloatRange, _range_within(0.5, 30.0)] = (5.0, 9.0)
    wear_range: Annotated[FloatRange, _range_within(0.0, 1.0)] = (0.0, 0.3)
    crosswalk_probability: Fraction = 0.0
    color: RGB = (235, 235, 225)


class Road(_Model):
    """Road layout: lanes each way, widths, curve and the strips beside it."""

    layout: Literal["straight", "intersection"] = "straight"
    forward_lanes_range: Annotated[IntRange, _range_within(1, 6)] = (1, 1)
    oncoming_lanes_range: Annotated[IntRange, _range_within(0, 6)] = (1, 1)
    lane_width_range: Annotated[FloatRange, _range_within(2.0, 5.0)] = (3.0, 3.6)
    curvature_range: Annotated[FloatRange, _range_within(-0.02, 0.02)] = (0.0, 0.0)
    median_width_range: Annotated[FloatRange, _range_within(0.0, 20.0)] = (0.0, 0.0)
    shoulder_width_range: Annotated[FloatRange, _range_within(0.0, 5.0)] = (0.3, 0.6)
    sidewalk_width_range: Annotated[FloatRange, _range_within(0.0, 8.0)] = (0.0, 0.0)
    intersection_distance_range: Annotated[FloatRange, _range_within(8.0, 150.0)] = (20.0, 40.0)
    cross_lanes_range: Annotated[IntRange, _range_within(1, 4)] = (1, 1)
    surface_palette: Palette = [(70, 70, 74)]
    shoulder_palette: Palette = [(96, 94, 88)]
    sidewalk_palette: Palette = [(150, 148, 142)]
    markings: Markings = Markings()


class Buildings(_Model):
    density_range: Annotated[FloatRange, _range_within(0.0, 1.0)] = (0.0, 0.0)
    height_range: Annotated[FloatRange, _range_within(2.0, 150.0)] = (6.0, 20.0)
    length_range: Annotated[FloatRange, _range_within(3.0, 100.0)] = (8.0, 20.0)
    setback_range: Annotated[FloatRange, _range_within(0.0, 50.0)] = (0.5, 3.0)
    palette: Palette = [(160, 150, 140)]
    window_color: RGB = (60, 70, 85)


class Trees(_Model):
    density_range: Annotated[FloatRange, _range_within(0.0, 1.0)] = (0.0, 0.0)
    height_range: Annotated[FloatRange, _range_within(1.0, 40.0)] = (4.0, 10.0)
    setback_range: Annotated[FloatRange, _range_within(0.0, 60.0)] = (1.0, 8.0)
    palette: Palette = [(60, 100, 45)]


class Roadside(_Model):
    """What stands beside the road: ground, buildings, trees, poles, barriers, horizon."""

    ground_palette: Palette = [(95, 115, 60)]
    horizon: Literal["city", "trees", "hills", "flat"] = "flat"
    buildings: Buildings = Buildings()
    trees: Trees = Trees()
    street_light_spacing_range: Annotated[FloatRange, _range_within(0.0, 200.0),
                                          AfterValidator(_street_light_spacing)] = (0.0, 0.0)
    barriers: Literal["none", "edge", "median", "both"] = "none"
    barrier_palette: Palette = [(170, 170, 165)]


class ObjectClass(_Model):
    """How many objects of one category, where they go, how big and in what colours."""

    count_range: Annotated[IntRange, _range_within(0, 60)]
    placements: Annotated[dict[Placement, Weight], AfterValidator(_positive_total)]
    distance_range: Annotated[FloatRange, _range_within(2.0, 300.0)] = (5.0, 70.0)
    length_range: Annotated[FloatRange, _range_within(0.05, 25.0)]
    width_range: Annotated[FloatRange, _range_within(0.05, 4.0)]
    height_range: Annotated[FloatRange, _range_within(0.2, 6.0)]
    palette: Palette
    #: Height of the pole top (traffic lights and signs only).
    mount_height_range: Annotated[FloatRange, _range_within(0.5, 8.0)] = (2.2, 4.5)
    #: How far (m) beyond its place at the road's edge a ``parked`` object stands,
    #: outwards: parking lanes, bays, driveways and lots (scenery there gives way to it).
    #: ``[0, 0]``: at the edge (and nothing is drawn for it).
    parked_setback_range: Annotated[FloatRange, _range_within(0.0, 30.0)] = (0.0, 0.0)


class Camera(_Model):
    """Dashboard camera: mounting height, angles (degrees) and horizontal field of view."""

    height_range: Annotated[FloatRange, _range_within(0.5, 5.0)] = (1.4, 1.7)
    pitch_range: Annotated[FloatRange, _range_within(-20.0, 30.0)] = (0.0, 4.0)
    yaw_range: Annotated[FloatRange, _range_within(-45.0, 45.0)] = (-3.0, 3.0)
    roll_range: Annotated[FloatRange, _range_within(-15.0, 15.0)] = (-1.5, 1.5)
    fov_range: Annotated[FloatRange, _range_within(30.0, 120.0)] = (70.0, 90.0)
    lateral_offset_range: Annotated[FloatRange, _range_within(-1.5, 1.5)] = (-0.3, 0.3)


class Lighting(_Model):
    """Time of day and the sun."""

    time_of_day: Annotated[dict[TimeOfDay, Weight], AfterValidator(_positive_total)] = {
        "day": 1.0}
    sun_elevation_range: Annotated[FloatRange, _range_within(0.0, 90.0)] = (20.0, 60.0)
    dusk_sun_elevation_range: Annotated[FloatRange, _range_within(-5.0, 20.0)] = (0.0, 8.0)
    sun_azimuth_range: Annotated[FloatRange, _range_within(-180.0, 180.0)] = (-180.0, 180.0)
    exposure_range: Annotated[FloatRange, _range_within(0.3, 3.0)] = (0.9, 1.1)


class Weather(_Model):
    """Weather kinds by weight, each with an intensity range in [0, 1]."""

    weights: Annotated[dict[WeatherKind, Weight], AfterValidator(_positive_total)] = {
        "clear": 1.0}
    intensity_range: dict[WeatherKind, Annotated[FloatRange, _range_within(0.0, 1.0)]] = {}


class Sensor(_Model):
    """The camera's own imperfections."""

    noise_range: Annotated[FloatRange, _range_within(0.0, 1.0)] = (0.0, 0.3)
    motion_blur_probability: Fraction = 0.2
    motion_blur_range: Annotated[IntRange, _range_within(3, 15),
                                 AfterValidator(_odd_ends)] = (3, 7)
    vignetting_range: Annotated[FloatRange, _range_within(0.0, 1.0)] = (0.0, 0.3)


class SceneTemplate(_Model):
    """A validated scene template, with ``extends`` already resolved."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    max_distance: Annotated[float, Field(ge=20.0, le=400.0)] = 120.0
    road: Road = Road()
    roadside: Roadside = Roadside()
    objects: dict[Category, ObjectClass] = {}
    camera: Camera = Camera()
    lighting: Lighting = Lighting()
    weather: Weather = Weather()
    sensor: Sensor = Sensor()

    @model_validator(mode="after")
    def _placements_fit_categories(self) -> SceneTemplate:
        for category, spec in self.objects.items():
            bad = sorted(set(spec.placements) - ALLOWED_PLACEMENTS[category])
            if bad:
                allowed = ", ".join(sorted(ALLOWED_PLACEMENTS[category]))
                raise ValueError(
                    f"objects.{category}.placements: {category} cannot be placed "
                    f"{', '.join(bad)}; expected some of: {allowed}")
            if spec.parked_setback_range[1] > 0 and not spec.placements.get("parked"):
                parkable = sorted(c for c, allowed in ALLOWED_PLACEMENTS.items()
                                  if "parked" in allowed)
                how = ("or a parked weight above 0 in placements"
                       if category in parkable else
                       f"({category} is never parked; {', '.join(parkable)} are)")
                raise ValueError(
                    f"objects.{category}.parked_setback_range: only parked objects are set "
                    f"back; expected [0, 0] {how}")
        return self


def bundled_templates() -> list[Path]:
    """The bundled template files, by name; names starting with ``_`` are bases only."""
    return sorted(p for p in BUNDLED_DIR.glob("*.yaml") if not p.name.startswith("_"))


def resolve_template_path(name_or_path: str | Path, *, relative_to: Path | None = None) -> Path:
    """Find the file a template name or path refers to.

    Args:
        name_or_path: A bundled template's name, or a path to a ``.yaml`` file.
        relative_to: The folder of the template whose ``extends`` names this one. Given,
            a name is looked for as ``NAME.yaml`` there first, and a path must be a
            ``.yaml`` file relative to it (nowhere else, never absolute). Without it (a
            name or path the user typed) a path is taken as given.

    Raises:
        TemplateError: Nothing by that name or path, or an ``extends`` path that is not
            a ``.yaml`` file relative to its template.
    """
    text = str(name_or_path)
    is_path = text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text
    if is_path and relative_to is not None:
        return _extended_file(text, relative_to)
    candidates: list[Path] = []
    if is_path:
        candidates.append(Path(text))
    else:
        if relative_to is not None:
            candidates.append(relative_to / f"{text}.yaml")
        candidates.append(BUNDLED_DIR / f"{text}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if is_path and candidates[0].exists():
        raise TemplateError(f"{text}: not a regular file")
    if is_path:
        raise TemplateError(f"{text}: no such template file")
    names = ", ".join(p.stem for p in bundled_templates()) or "none"
    raise TemplateError(f"unknown scene {text!r}; bundled scenes: {names} (or give a .yaml path)")


#: What ``extends`` may name, for messages.
_EXTENDS_EXPECTED = ("expected a bundled template name (see `synthgen scenes`) or a .yaml "
                     "file relative to this template")


def _extended_file(text: str, folder: Path) -> Path:
    """The file an ``extends`` path names: a ``.yaml`` file relative to ``folder`` only.

    Raises:
        TemplateError: Not a ``.yaml`` file, an absolute path, or no such file.
    """
    path = Path(text)
    if path.is_absolute() or path.anchor or text.startswith(("/", "\\")):
        raise TemplateError(f"an absolute path; {_EXTENDS_EXPECTED}")
    if path.suffix not in (".yaml", ".yml"):
        raise TemplateError(f"not a .yaml file; {_EXTENDS_EXPECTED}")
    candidate = folder / path
    if candidate.is_file():
        return candidate
    if candidate.exists():
        raise TemplateError(f"{text}: not a regular file")
    raise TemplateError(f"{text}: no such template file (beside the extending template)")


def _read_yaml(path: Path, *, quiet: bool = False) -> dict[str, Any]:
    """The mapping a template file holds.

    Args:
        path: The file.
        quiet: Say where a problem is but echo nothing the file holds (no YAML error
            text, which can quote it): for a file reached through ``extends``.

    Raises:
        TemplateError: The file cannot be read, is not YAML, is empty or is not a mapping.
    """
    try:
        with open_regular(path) as handle:
            text = handle.read().decode("utf-8")
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        if quiet:
            raise TemplateError(f"{path}: not valid YAML{where}; load it on its own "
                                "(--scene PATH) to see why") from None
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError(f"{path}: not valid YAML{where}: {problem}") from exc
    except UnicodeDecodeError:
        raise TemplateError(f"{path}: cannot read (not UTF-8 text)") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TemplateError(f"{path}: cannot read ({reason})") from None
    if document is None:
        raise TemplateError(f"{path}: empty (no fields); a template needs at least "
                            "`extends: urban` (or another bundled template) or its own fields")
    if not isinstance(document, dict):
        raise TemplateError(f"{path}: expected a mapping of fields at the top level, "
                            f"got {type(document).__name__}")
    return document


#: Mappings that are one choice's weights: an override replaces them whole.
WEIGHT_MAPPINGS = frozenset({"time_of_day", "weights", "placements"})


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` over ``base``: mappings key by key (weight mappings and other
    values replaced whole)."""
    return _merge_tracked(base, {}, override, {})[0]


#: Where each value of a merged template came from: a tree shaped like the template,
#: a mapping for each mapping merged key by key and the file's path for anything else.
Origins = dict[str, Any]


def _origins(document: dict[str, Any], path: Path,
             _done: dict[int, Origins] | None = None) -> Origins:
    # A mapping a YAML alias repeats is one object: built once, so that a file of
    # aliases of aliases costs its size, not the size it would have written out.
    done = {} if _done is None else _done
    if id(document) not in done:
        done[id(document)] = {key: _origins(value, path, done) if isinstance(value, dict)
                              else path for key, value in document.items()}
    return done[id(document)]


def _merge_tracked(base: dict[str, Any], base_origins: Origins, override: dict[str, Any],
                   override_origins: Origins) -> tuple[dict[str, Any], Origins]:
    """:func:`deep_merge`, and the same merge of where each value came from."""
    merged, origins = dict(base), dict(base_origins)
    for key, value in override.items():
        if (isinstance(value, dict) and isinstance(merged.get(key), dict)
                and key not in WEIGHT_MAPPINGS):
            merged[key], origins[key] = _merge_tracked(
                merged[key], origins.get(key) or {}, value, override_origins.get(key) or {})
        else:
            merged[key] = value
            origins[key] = override_origins.get(key)
    return merged, origins


def load_raw(path: Path, _chain: tuple[Path, ...] = (),
             files: list[Path] | None = None) -> dict[str, Any]:
    """Read a template file and everything it ``extends``, merged, not yet validated.

    Args:
        path: The template file.
        files: If given, receives the files ``path`` extends, nearest first.
    """
    return _load_tracked(path, _chain, files)[0]


def _load_tracked(path: Path, chain: tuple[Path, ...] = (),
                  files: list[Path] | None = None) -> tuple[dict[str, Any], Origins]:
    """:func:`load_raw`, and where each value came from (see :data:`Origins`).

    A file reached through ``extends`` that is not bundled is read quietly (see
    :func:`_read_yaml`): its errors name it and the line, never what it holds.
    """
    quiet = bool(chain) and not _bundled(path)
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise TemplateError(f"{path}: extends itself ({cycle})")
    document = _read_yaml(path, quiet=quiet)
    parent = document.pop("extends", None)
    origins = _origins(document, path)
    if parent is None:
        return document, origins
    if not isinstance(parent, str):
        got = "" if quiet else f", got {parent!r}"
        raise TemplateError(f"{path}: extends: {_EXTENDS_EXPECTED}{got}")
    try:
        parent_path = resolve_template_path(parent, relative_to=path.parent)
    except TemplateError as exc:
        if quiet:  # the value is the file's content
            raise TemplateError(f"{path}: extends: names no bundled template or .yaml "
                                "file relative to it") from None
        raise TemplateError(f"{path}: extends: {exc}") from None
    if files is not None:
        files.append(parent_path)
    base, base_origins = _load_tracked(parent_path, (*chain, path), files)
    return _merge_tracked(base, base_origins, document, origins)


#: ``repr`` of a value in a message, bounded: a list of a YAML alias repeated in aliases
#: stands for more elements than could ever be written out.
_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 3, 80, 80, 40
_SHORT.maxtuple = _SHORT.maxlist = _SHORT.maxdict = _SHORT.maxset = 8


def _format_location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-after")]
    return ".".join(parts) or "(top level)"


def _schema_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every field name of ``model`` and the models in it, and every name a ``Literal``
    in them allows: what a location may show without quoting a file."""
    seen = set() if seen is None else seen
    names: set[str] = set()

    def walk(annotation: Any) -> None:
        if get_origin(annotation) is Literal:
            names.update(a for a in get_args(annotation) if isinstance(a, str))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.add(annotation)
                names.update(_schema_names(annotation, seen))
        for argument in get_args(annotation):
            walk(argument)
    for name, info in model.model_fields.items():
        names.add(name)
        walk(info.annotation)
    return names


def _known_location(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` up to its first part that is not a name of the schema (a key the file made
    up: its content) nor a list index."""
    known = _schema_names(SceneTemplate)
    for index, part in enumerate(loc):
        if not isinstance(part, int) and part not in known:
            return loc[:index]
    return loc


def _foreign_origin(origins: Origins | None, loc: tuple[Any, ...],
                    trusted: Callable[[Path], bool]) -> Path | None:
    """The untrusted file the value at ``loc`` (or any part of it) came from, if any."""
    node: Any = origins
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
    found: set[Path] = set()
    seen: set[int] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if id(value) not in seen:  # shared by aliases: walked once
                seen.add(id(value))
                for child in value.values():
                    collect(child)
        elif isinstance(value, Path) and not trusted(value):
            found.add(value)
    collect(node)
    return min(found) if found else None


def _problem_line(error: Any, source: str, origins: Origins | None,
                  trusted: Callable[[Path], bool]) -> str:
    """One line of :func:`validate_template`'s message for one pydantic error."""
    message = error["msg"].removeprefix("Value error, ")
    loc = tuple(p for p in error["loc"] if not str(p).startswith("function-after"))
    foreign = _foreign_origin(origins, loc, trusted) if origins is not None else None
    if error["type"] == "finite_number":
        message = f"expected a finite number, got {_SHORT.repr(error['input'])}"
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; see scenes/_base.yaml)"
    if foreign is not None:
        # A key or value of another file is its content: the field is named up to the
        # part the schema knows, the file is named, what it holds is not shown.
        if error["type"] == "extra_forbidden":
            loc = loc[:-1]
            message = f"{foreign} has an {message}"
        else:
            message = f"{message.split(', got ')[0]} (set in {foreign})"
        return f"{source}: {_format_location(_known_location(loc))}: {message}"
    where = _format_location(loc)
    # Our own validators already say what they got.
    quiet = error["type"] in ("missing", "extra_forbidden") or ", got " in message
    got = "" if quiet else f" (got {_SHORT.repr(error['input'])})"
    if message.startswith("objects.") and where == "(top level)":
        return f"{source}: {message}"
    return f"{source}: {where}: {message}{got}"


def validate_template(raw: dict[str, Any], source: str, *,
                      origins: Origins | None = None,
                      trusted: Callable[[Path], bool] | None = None) -> SceneTemplate:
    """Validate merged template data; errors name ``source``, the field and what was expected.

    Args:
        raw: The merged template data.
        source: How to name the template in messages.
        origins: Where each value came from (see :func:`_load_tracked`); a value from a
            file ``trusted`` does not accept is never echoed.
        trusted: Whether a file's content may be quoted (default: every file).

    Raises:
        TemplateError: One line per problem.
    """
    try:
        return SceneTemplate.model_validate(raw)
    except ValidationError as exc:
        trusted = trusted or (lambda _: True)
        lines = [_problem_line(error, source, origins, trusted)
                 for error in exc.errors(include_url=False)]
        # Lines whose locations were cut short (see _known_location) may repeat.
        raise TemplateError("\n".join(dict.fromkeys(lines))) from exc


def load_template(name_or_path: str | Path) -> SceneTemplate:
    """Load, merge (``extends``) and validate a template by bundled name or file path.

    Args:
        name_or_path: ``"urban"`` for a bundled template, or a path to a YAML file.

    Returns:
        The validated template. Its ``name`` defaults to the file's stem.

    Raises:
        TemplateError: The file is missing, empty, not YAML, or does not match the
            schema; the message names the file, the field and what was expected (and
            quotes nothing from a file it extends that is not bundled).
    """
    path = resolve_template_path(name_or_path)
    parents: list[Path] = []
    raw, origins = _load_tracked(path, files=parents)
    raw.setdefault("name", path.stem)
    # Name the file the way the user can find it: as given, or scenes/NAME.yaml; a field
    # in error may come from a file it extends, so those are named too.
    source = _shown(path) if _bundled(path) else str(name_or_path)
    if parents:
        source += f" (extending {', '.join(_shown(p) for p in parents)})"
    own = path.resolve()
    return validate_template(raw, source, origins=origins,
                             trusted=lambda file: file == own or _bundled(file))


def _bundled(path: Path) -> bool:
    # Resolved on both sides: in a source checkout synthgen/scenes links to scenes/.
    return path.resolve().parent == BUNDLED_DIR.resolve()


def _shown(path: Path) -> str:
    """A template file as the user knows it: ``scenes/NAME.yaml`` if bundled."""
    return f"scenes/{path.name}" if _bundled(path) else str(path)
