"""Scene templates: bundled ones load; bad ones fail naming the file, field and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from synthgen.cli import cli
from synthgen.errors import TemplateError
from synthgen.scene.templates import bundled_templates, deep_merge, load_template

BUNDLED = ["highway", "intersection", "kitti", "rural", "urban"]


def test_bundled_templates_are_listed_and_load():
    assert [p.stem for p in bundled_templates()] == BUNDLED
    for name in BUNDLED:
        template = load_template(name)
        assert template.name == name
        assert template.objects, f"{name} declares no objects"


def test_scenes_command_lists_one_line_each():
    result = CliRunner().invoke(cli, ["scenes"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == BUNDLED
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_extends_overrides_and_keeps_the_rest():
    urban, intersection = load_template("urban"), load_template("intersection")
    assert intersection.road.layout == "intersection"
    assert urban.road.layout == "straight"
    # Not overridden: inherited from urban, which inherited the camera from _base.
    assert intersection.roadside.buildings == urban.roadside.buildings
    assert intersection.camera == urban.camera
    # A mapping merges key by key; a list or range is replaced whole.
    assert intersection.objects["car"].length_range == urban.objects["car"].length_range
    assert "cross_traffic" in intersection.objects["car"].placements


def test_deep_merge_replaces_lists_and_merges_mappings():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    assert deep_merge(base, {"a": {"y": [3]}}) == {"a": {"x": 1, "y": [3]}, "b": 1}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}, "merge must not modify its input"


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# (case, yaml text, words the error must contain)
BAD_TEMPLATES = [
    # a range given high-to-low
    ("reversed range", "extends: urban\ncamera: {height_range: [2.0, 1.0]}\n",
     ["camera.height_range", "low <= high"]),
    # a typo in a field name
    ("unknown field", "extends: urban\nroad: {lanes: 3}\n", ["road.lanes", "unknown field"]),
    # wrong type
    ("not a number", "extends: urban\ncamera: {fov_range: [wide, 90]}\n",
     ["camera.fov_range.0", "valid number"]),
    # outside the allowed interval
    ("out of bounds", "extends: urban\ncamera: {fov_range: [10, 90]}\n",
     ["camera.fov_range", "within [30.0, 120.0]"]),
    # a bus cannot walk on the sidewalk
    ("placement not allowed", "extends: urban\nobjects: {bus: {placements: {sidewalk: 1}}}\n",
     ["objects.bus.placements", "sidewalk"]),
    # weights must not all be zero (a weight mapping replaces the base's whole)
    ("zero weights", "extends: urban\nweather: {weights: {clear: 0, fog: 0}}\n",
     ["weather.weights", "above 0", "only zeros"]),
    # ... nor be missing: nothing could be drawn
    ("no weights", "extends: urban\nlighting: {time_of_day: {}}\n",
     ["lighting.time_of_day", "above 0, got none"]),
    ("no placements", "extends: urban\nobjects: {car: {placements: {}}}\n",
     ["objects.car.placements", "above 0, got none"]),
    # ... nor be infinite, or add up to infinity
    ("infinite weight", "extends: urban\nlighting: {time_of_day: {day: .inf}}\n",
     ["lighting.time_of_day.day", "finite"]),
    ("weights overflow", "extends: urban\nlighting: {time_of_day: {day: 1.0e308, "
     "dusk: 1.0e308}}\n", ["lighting.time_of_day", "finite sum"]),
    # lamps a metre apart are no street; [0, 0] means none
    ("street lights too close", "extends: urban\nroadside: {street_light_spacing_range: "
     "[0, 40]}\n", ["roadside.street_light_spacing_range", "[0, 0] (no street lights)"]),
    # a blur kernel has a centre pixel: its sizes are odd
    ("even blur kernel", "extends: urban\nsensor: {motion_blur_range: [4, 6]}\n",
     ["sensor.motion_blur_range", "odd sizes"]),
    # an unknown category
    ("unknown category",
     "extends: urban\nobjects: {tram: {count_range: [1, 2]}}\n", ["objects.tram"]),
    # a colour channel out of range
    ("bad colour", "extends: urban\nroad: {surface_palette: [[300, 0, 0]]}\n",
     ["road.surface_palette.0.0", "less than or equal to 255"]),
    # a setback for a class never parked, and one beyond its bound
    ("setback not parked", "extends: urban\nobjects:\n  car:\n    placements: {in_lane: 1}\n"
     "    parked_setback_range: [0, 4]\n",
     ["objects.car.parked_setback_range", "only parked objects are set back"]),
    ("setback never parked", "extends: urban\nobjects:\n  pedestrian: "
     "{parked_setback_range: [0, 4]}\n",
     ["objects.pedestrian.parked_setback_range", "pedestrian is never parked; bus, car, "
      "truck are"]),
    ("setback too far", "extends: urban\nobjects:\n  car: {parked_setback_range: [0, 40]}\n",
     ["objects.car.parked_setback_range"]),
    # YAML that does not parse
    ("yaml syntax", "road: {lanes: [1, 2\n", ["not valid YAML", "line"]),
    # a field given twice: YAML alone would keep the second without a word
    ("repeated key", "extends: urban\nroad: {lanes: [1, 2]}\nroad: {lanes: [2, 3]}\n",
     ["line 3", "'road' is given twice (first on line 2)"]),
    # ... inside a nested mapping too
    ("repeated nested key", "extends: urban\nroad:\n  lanes: [1, 2]\n  lanes: [2, 2]\n",
     ["line 4", "'lanes' is given twice"]),
    # not a mapping
    ("top level list", "- a\n- b\n", ["expected a mapping"]),
    # extends something that does not exist: the file saying so is named
    ("missing parent", "extends: nowhere\n", ["extends: unknown scene 'nowhere'"]),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in BAD_TEMPLATES],
                         ids=[c[0] for c in BAD_TEMPLATES])
def test_bad_template_names_file_field_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(TemplateError) as excinfo:
        load_template(str(path))
    message = str(excinfo.value)
    assert str(path) in message
    for words in expected:
        assert words in message, message


def test_bad_template_on_the_cli_exits_2_without_traceback(tmp_path):
    path = write(tmp_path, "extends: urban\ncamera: {height_range: [2.0, 1.0]}\n")
    result = CliRunner().invoke(cli, ["generate", "--scene", str(path), "--count", "1",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert str(path) in result.output and "camera.height_range" in result.output
    assert not (tmp_path / "out").exists(), "nothing is written for a bad template"


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(TemplateError, match="extends itself"):
        load_template(str(tmp_path / "a.yaml"))


def test_a_user_template_may_extend_a_bundled_one(tmp_path):
    path = write(tmp_path, "extends: rural\ndescription: mine\nmax_distance: 90\n", "mine.yaml")
    template = load_template(str(path))
    assert template.name == "mine" and template.max_distance == 90
    assert template.road == load_template("rural").road


def test_unknown_scene_lists_the_bundled_ones():
    with pytest.raises(TemplateError,
                       match="bundled scenes: highway, intersection, kitti, rural, urban"):
        load_template("downtown")


def test_weight_mappings_are_replaced_whole_by_extends(tmp_path):
    # The README's example: dusk in the rain means only dusk and only rain.
    path = write(tmp_path, "extends: rural\nlighting:\n  time_of_day: {dusk: 1}\n"
                           "weather:\n  weights: {rain: 1}\n  intensity_range: {rain: [0.6, 1.0]}\n"
                           "objects:\n  car: {placements: {oncoming: 1}}\n", "wet.yaml")
    template = load_template(str(path))
    assert template.lighting.time_of_day == {"dusk": 1.0}
    assert template.weather.weights == {"rain": 1.0}
    assert template.objects["car"].placements == {"oncoming": 1.0}
    # Other mappings still merge key by key.
    assert template.weather.intensity_range["fog"] == load_template("rural").weather \
        .intensity_range["fog"]
    assert template.objects["car"].palette == load_template("rural").objects["car"].palette


def test_key_order_never_changes_what_is_sampled(tmp_path):
    from synthgen.scene.sampling import image_rng, sample_scene

    forward = write(tmp_path, "extends: urban\nweather:\n  weights: {clear: 1, fog: 2, snow: 3}\n"
                              "lighting:\n  time_of_day: {day: 1, night: 1}\n", "a.yaml")
    backward = write(tmp_path, "extends: urban\nweather:\n  weights: {snow: 3, fog: 2, clear: 1}\n"
                               "lighting:\n  time_of_day: {night: 1, day: 1}\n", "b.yaml")
    a, b = load_template(str(forward)), load_template(str(backward))
    assert a.weather == b.weather and a.lighting == b.lighting
    for index in range(12):
        scene_a = sample_scene(a, image_rng(0, index))
        scene_b = sample_scene(b, image_rng(0, index))
        assert (scene_a.weather, scene_a.lighting) == (scene_b.weather, scene_b.lighting)
        assert scene_a.objects == scene_b.objects


def test_an_error_from_an_extended_file_names_that_file_too(tmp_path):
    (tmp_path / "sub").mkdir()
    parent = write(tmp_path / "sub", "extends: urban\ncamera: {fov_range: [10, 90]}\n",
                   "parent.yaml")
    child = write(tmp_path, "extends: sub/parent.yaml\n", "child.yaml")
    with pytest.raises(TemplateError) as excinfo:
        load_template(str(child))
    message = str(excinfo.value)
    # Bundled files by their name in the repository, however the package is installed.
    assert message.startswith(f"{child} (extending {parent.resolve()}, scenes/urban.yaml, "
                              "scenes/_base.yaml): ")
    assert "camera.fov_range" in message


def test_a_yaml_merge_may_override_what_it_brings_in(tmp_path):
    # `<<: *anchor` then one of the anchor's keys is an override, not a repeated key.
    path = write(tmp_path, "extends: urban\n"
                           "_shared: &cam {height_range: [1.2, 1.6], pitch_range: [-3, 0]}\n"
                           "camera: {<<: *cam, height_range: [1.4, 1.5]}\n", "ok.yaml")
    with pytest.raises(TemplateError, match="_shared"):  # unknown fields stay refused
        load_template(path)
    path.write_text("extends: urban\n"
                    "camera: {<<: {height_range: [1.2, 1.6], pitch_range: [-3, 0]},"
                    " height_range: [1.4, 1.5]}\n")
    camera = load_template(path).camera
    assert camera.height_range == (1.4, 1.5) and camera.pitch_range == (-3, 0)
