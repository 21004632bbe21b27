"""Effects: deterministic, seeded only by the scene, and close to their float formulas."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.render import effects
from synthgen.render.lighting import illumination
from synthgen.render.painter import Layers, Light, render
from synthgen.scene.sampling import image_rng, sample_scene
from synthgen.scene.templates import load_template

H, W = 180, 320


def _scene(kind: str = "clear", time_of_day: str = "day", intensity: float = 0.0,
           **effect_params):
    """A sampled urban scene with the weather, time of day and effect parameters given."""
    scene = sample_scene(load_template("urban"), image_rng(7, 0))
    fx = dict(noise=0.0, motion_blur=0, vignetting=0.0,
              particles=np.zeros((0, 3), np.float32))
    fx.update(effect_params)
    return dataclasses.replace(
        scene, weather=dataclasses.replace(scene.weather, kind=kind, intensity=intensity),
        lighting=dataclasses.replace(scene.lighting, time_of_day=time_of_day),
        effects=dataclasses.replace(scene.effects, **fx))


def _layers(value: int = 128, depth: float = 50.0, sky_rows: int = 0,
            lights: list[Light] | None = None) -> Layers:
    """Flat grey layers at one depth, the top ``sky_rows`` rows being sky."""
    image = np.full((H, W, 3), value, np.uint8)
    distance = np.full((H, W), depth, np.float32)
    distance[:sky_rows] = np.inf
    return Layers(image=image, instance_map=np.zeros((H, W), np.uint16), depth=distance,
                  objects=[], lights=lights or [], sun=None)


@pytest.mark.parametrize("name, index", [
    ("urban", 4),         # snow at night: glow, veiled sky, snow, noise
    ("highway", 0),       # rain by day: albumentations rain, vignette applied on its own
    ("rural", 0),         # fog at night
    ("intersection", 5),  # clear, motion blur
])
def test_same_inputs_give_identical_bytes_and_layers_stay_untouched(name, index):
    scene = sample_scene(load_template(name), image_rng(1, index))
    layers = render(scene, 320, 180)
    before = layers.image.copy(), layers.depth.copy()
    first = effects.apply_effects(layers, scene)
    assert first.dtype == np.uint8 and first.shape == layers.image.shape
    assert np.array_equal(first, effects.apply_effects(layers, scene))
    assert np.array_equal(layers.image, before[0]) and np.array_equal(layers.depth, before[1])


def test_noise_comes_from_the_scene_seed_only():
    layers = _layers()
    scene = _scene(noise=0.3, noise_seed=11)
    np.random.seed(0)  # noqa: NPY002 (the legacy global state must not matter)
    first = effects.apply_effects(layers, scene)
    np.random.seed(1)  # noqa: NPY002
    assert np.array_equal(first, effects.apply_effects(layers, scene))
    other = effects.apply_effects(layers, _scene(noise=0.3, noise_seed=12))
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("amount", [0.02, 0.15, 0.35])
def test_noise_is_zero_mean_with_the_intended_spread(amount):
    noiseless = effects.apply_effects(_layers(), _scene()).astype(np.float64)
    noisy = effects.apply_effects(_layers(), _scene(noise=amount, noise_seed=3))
    grain, shift = max(1, round(amount * 12)), max(1, round(amount * 5))
    # Luminance grain and colour noise are independent; each has the spread of integers
    # uniform in [-level, level].
    expected = np.sqrt(grain * (grain + 1) / 3 + shift * (shift + 1) / 3)
    residual = noisy - noiseless
    assert abs(residual.mean()) < 0.05
    assert residual.std() == pytest.approx(expected, rel=0.1)


def test_noise_saturates_instead_of_wrapping():
    for value in (0, 255):
        noisy = effects._noise(np.full((H, W, 3), value, np.uint8), 0.35, seed=5)
        # Black stays near black and white near white: no value wrapped round.
        assert np.abs(noisy.astype(int) - value).max() < 40
        assert (noisy == value).mean() > 0.3


@pytest.mark.parametrize("level", [1, 2, 4, 8])
def test_noise_table_is_symmetric_about_its_offset(level):
    table, offset = effects._noise_table(level)
    signed = table.astype(int) - offset
    assert table.dtype == np.uint8 and signed.min() == -signed.max()
    assert np.array_equal(signed, -signed[::-1])


@pytest.mark.parametrize("shape", [(7,), (3, 5, 3), (H, W)])
def test_random_bytes_are_seeded_and_shaped(shape):
    first = effects._random_bytes(np.random.default_rng(9), shape)
    assert first.shape == shape and first.dtype == np.uint8
    assert np.array_equal(first, effects._random_bytes(np.random.default_rng(9), shape))


def test_random_bytes_are_the_same_on_every_machine():
    # Golden bytes: the 64-bit words are read little-endian whatever the machine's order.
    assert effects._random_bytes(np.random.default_rng(9), (16,)).tolist() == [
        33, 135, 234, 107, 222, 166, 200, 222, 32, 4, 7, 246, 68, 218, 108, 73]


@pytest.mark.parametrize("kind, time_of_day, intensity", [
    ("clear", "day", 0.0),      # the sky is left as it is
    ("overcast", "dusk", 0.8),
    ("fog", "night", 0.5),      # the sky is veiled like 450 m of fog
    ("rain", "day", 0.6),
])
def test_atmosphere_follows_koschmieder_within_rounding(kind, time_of_day, intensity):
    scene = _scene(kind, time_of_day, intensity)
    light = illumination(scene)
    depth = np.repeat(np.linspace(0, 700, W, dtype=np.float32)[None], H, axis=0)
    depth[:40] = np.inf
    image = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    sky_depth = 0.0 if kind in ("clear", "overcast") else 450.0
    t = np.exp(-light.extinction * np.where(np.isinf(depth), sky_depth, depth))[..., None]
    expected = image * t + light.airlight * (1 - t)
    got = effects._atmosphere(image, depth, scene, light)
    assert np.abs(got - expected).max() <= 1.5
    if kind == "clear":
        assert np.array_equal(got[:40], image[:40])


def test_vignette_folded_into_the_fog_matches_it_applied_after():
    layers = _layers(value=200, depth=120.0, sky_rows=30)
    scene = _scene("overcast", "day", 0.5)
    light = illumination(scene)
    gain = effects._vignette_gain((H, W), 0.35)
    separate = effects._vignette(effects._atmosphere(layers.image, layers.depth, scene,
                                                     light), gain)
    folded = effects._atmosphere(layers.image, layers.depth, scene, light, gain)
    assert np.abs(folded.astype(int) - separate).max() <= 2
    # The corners really are darker than the centre.
    assert folded[0, 0].mean() < folded[H // 2, W // 2].mean() - 20


@pytest.mark.parametrize("fx, folded", [
    (dict(), True),                                       # nothing between fog and vignette
    (dict(motion_blur=5, motion_angle_deg=0.0), False),   # the blur comes between them
])
def test_vignette_is_folded_into_the_fog_only_when_nothing_comes_between(fx, folded):
    layers = _layers(value=60, depth=80.0, sky_rows=30)
    layers.image[:, W // 2:] = 220  # a sharp edge for the blur to spread
    scene = _scene("overcast", "day", 0.5, vignetting=0.35, **fx)
    light = illumination(scene)
    gain = effects._vignette_gain((H, W), 0.35)
    if folded:
        expected = effects._atmosphere(layers.image, layers.depth, scene, light, gain)
    else:
        fogged = effects._atmosphere(layers.image, layers.depth, scene, light)
        expected = effects._vignette(effects._motion_blur(fogged, 5, 0.0), gain)
    assert np.array_equal(effects.apply_effects(layers, scene), expected)


def test_glow_brightens_around_lamps_only():
    lamp = Light(x=160, y=90, radius=6, color=(255, 220, 160))
    dark = effects.apply_effects(_layers(value=20, lights=[lamp]), _scene(time_of_day="night"))
    assert dark[90, 160].mean() > 60 and dark[5, 5].mean() < 25


@st.composite
def _rain_inputs(draw):
    """An image, drops (some off the frame) and every parameter add_rain takes."""
    h, w = draw(st.integers(1, 48)), draw(st.integers(1, 64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    count = draw(st.integers(0, 40))
    drops = np.stack([rng.integers(-8, w + 8, count), rng.integers(-8, h + 8, count)],
                     axis=1).astype(np.int32).reshape(count, 2)
    return dict(
        image=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), drops=drops,
        slant=draw(st.floats(-12, 12)), length=draw(st.integers(1, 30)),
        color=tuple(draw(st.integers(0, 255)) for _ in range(3)),
        brightness=draw(st.one_of(st.just(1.0), st.floats(0.3, 1.2))),
        width=draw(st.integers(1, 3)), blur=draw(st.integers(1, 5)))


@settings(max_examples=150, deadline=None)
@given(_rain_inputs())
def test_rain_streaks_are_albumentations_add_rain_byte_for_byte(inputs):
    """The streaks are drawn as albumentations 2.0's ``add_rain`` drew them when the
    renderer called it: the same bytes, so no image changed when it stopped."""
    functional = pytest.importorskip("albumentations.augmentations.pixel.functional")
    expected = functional.add_rain(
        inputs["image"].copy(), slant=inputs["slant"], drop_length=inputs["length"],
        drop_width=inputs["width"], drop_color=inputs["color"], blur_value=inputs["blur"],
        brightness_coefficient=inputs["brightness"], rain_drops=inputs["drops"])
    image = inputs["image"].copy()
    drawn = effects.rain_streaks(image, inputs["drops"], slant=inputs["slant"],
                                 length=inputs["length"], color=inputs["color"],
                                 brightness=inputs["brightness"], width=inputs["width"],
                                 blur=inputs["blur"])
    assert drawn is image  # in place: the frame is not copied
    assert np.array_equal(drawn, expected)


def test_a_worker_renders_rain_without_albumentations_or_scipy():
    """A worker (numba imported without SciPy) renders a rainy image importing neither
    albumentations nor SciPy (about 0.4 and 0.25-0.4 s before its first image), and
    renders it as a process that has SciPy does."""
    code = """if True:
        import sys
        from synthgen.generate.worker_start import import_numba_without_scipy
        import_numba_without_scipy()
        from synthgen.generate import images
        from synthgen.scene.sampling import image_rng, sample_scene
        from synthgen.scene.templates import load_template
        template = load_template("highway")
        for index in range(200):
            scene = sample_scene(template, image_rng(0, index))
            if scene.weather.kind == "rain" and len(scene.effects.particles):
                break
        else:
            raise AssertionError("no rain in 200 highway scenes")
        sample = images.render_sample(template, seed=0, index=index, size=(160, 96))
        loaded = sorted(m for m in sys.modules
                        if m.split(".")[0] in ("albumentations", "albucore", "scipy"))
        assert not loaded, loaded
        import scipy.linalg  # refused only while numba looked for it
        print(index)
        sys.stdout.write(sample.image.tobytes().hex())
    """
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    index, pixels = result.stdout.splitlines()
    from synthgen.generate import images

    here = images.render_sample(load_template("highway"), seed=0, index=int(index),
                                size=(160, 96))
    assert here.scene.weather.kind == "rain"
    assert bytes.fromhex(pixels) == here.image.tobytes()


def test_the_compiled_core_uses_nothing_the_blas_probe_changes():
    """Without BLAS (a worker imports numba without SciPy) numba compiles np.correlate and
    np.convolve as a plain loop, whose results differ in the last bits from a process
    with BLAS (--workers 1): no compiled code of synthgen may use them."""
    import re

    import synthgen

    # Modules that compile code: numba imported at their top (worker_start imports it
    # in a function, to compile nothing).
    top_import = re.compile(r"^(from numba(\.\S+)? import|import numba)", re.MULTILINE)
    compiled = [path for path in Path(synthgen.__file__).parent.rglob("*.py")
                if top_import.search(path.read_text(encoding="utf-8"))]
    assert any(path.name == "zbuffer.py" for path in compiled)
    for path in compiled:
        code = path.read_text(encoding="utf-8")
        assert "correlate" not in code and "convolve" not in code, path
