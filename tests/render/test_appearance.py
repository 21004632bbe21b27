"""``--look-like``: the profile of a folder of frames, the fitted tone curve, the per-image
transform, and how generate, preview, --resume and merge treat it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import synthgen.labels
import synthgen.render.painter as render_module
from synthgen.cli import cli
from synthgen.generate.images import render_sample
from synthgen.render import appearance as ap
from synthgen.scene.model import AppearanceParams
from synthgen.scene.templates import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
KITTI_FRAMES = REPO_ROOT.parent / "shared" / "real" / "kitti_unlabelled" / "images"
SMALL = ["--size", "96x64", "--image-format", "png"]
FULL = AppearanceParams(strength=1.0, blur=0.0, noise=0.0, noise_seed=0)


def write_frame(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 array as an image file (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def declared_png(path: Path, width: int, height: int) -> Path:
    """A 64x64 PNG whose header says ``width`` x ``height`` (the data stays 64x64's)."""
    ok, png = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))
    assert ok
    data = bytearray(png.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def expected_digest(files: list[tuple[bytes, bytes]]) -> str:
    """The profile digest of frames given as ``(name bytes, file bytes)``, in name order."""
    digest = hashlib.sha256(f"synthgen-appearance-{ap.PROFILE_VERSION}".encode())
    for name, data in files:
        digest.update(name + b"\0%d\0" % len(data) + data)
    return digest.hexdigest()


def ramp(height: int = 48) -> np.ndarray:
    """A 256-wide image whose column ``v`` is grey ``v``: every value equally often."""
    row = np.arange(256, dtype=np.uint8)
    return np.repeat(np.repeat(row[None, :, None], height, axis=0), 3, axis=2)


def photo_like(seed: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """A high-contrast, slightly blue, noisy frame: what a target camera might give."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.where(y < h // 3, 250.0, np.where((x // 8 + y // 8) % 2 == 0, 30.0, 150.0))
    rgb = np.stack([base * 0.95, base, base * 1.05], axis=-1) + rng.normal(0, 4, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    """Six small photo-like frames."""
    folder = tmp_path_factory.mktemp("frames")
    for i in range(6):
        write_frame(folder / f"{i:03d}.png", photo_like(i))
    return folder


@pytest.fixture(scope="module")
def fitted(frames) -> ap.Appearance:
    """The frames' profile fitted to the urban template at 96x64."""
    return ap.look_like(frames, load_template("urban"), (96, 64))


# ---------------------------------------------------------------------------- profile


def test_profile_recovers_known_statistics(tmp_path):
    # Every grey level equally often: quantile q of each curve is 255 q (bins are
    # value +- 0.5, so the ends are -0.5 and 255.5, clipped).
    write_frame(tmp_path / "a.png", ramp())
    profile = ap.read_profile(tmp_path)
    levels = np.linspace(0, 1, ap.QUANTILE_POINTS)
    for curve in profile.quantiles:
        np.testing.assert_allclose(curve, np.clip(levels * 256 - 0.5, 0, 255), atol=0.01)
    assert profile.brightness == pytest.approx(127.5, abs=0.01)
    assert profile.contrast == pytest.approx(np.arange(256).std(), abs=0.01)
    assert profile.frames == 1 and profile.width == 256
    assert profile.mean(0) == pytest.approx(127.5, abs=0.1)


@pytest.mark.parametrize("sigma", [3.0, 8.0])
def test_noise_level_recovers_added_noise(sigma):
    rng = np.random.default_rng(0)
    flat = np.full((200, 300), 120.0) + rng.normal(0, sigma, (200, 300))
    # Half the pixels (the flattest) are measured: the estimate is biased low, a little.
    assert ap.noise_level(flat.astype(np.float32)) == pytest.approx(sigma, rel=0.25)


def test_sharpness_falls_with_blur():
    gray = ap.luma(photo_like(0, (256, 192)))
    values = [ap.sharpness(cv2.GaussianBlur(gray, (0, 0), s)) if s else ap.sharpness(gray)
              for s in (0, 0.8, 1.6, 3.2)]
    assert values == sorted(values, reverse=True)
    assert ap.sharpness(np.zeros((20, 20), np.float32)) == 0.0


def test_profile_is_deterministic_and_follows_the_bytes(tmp_path, frames):
    first = ap.read_profile(frames)
    assert ap.read_profile(frames) == first
    copy = tmp_path / "copy"
    for path in sorted(frames.iterdir()):
        write_frame(copy / path.name, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    assert ap.read_profile(copy).digest == first.digest
    write_frame(copy / "000.png", photo_like(99))
    assert ap.read_profile(copy).digest != first.digest


def test_profile_reads_a_bounded_evenly_spaced_subset(tmp_path, monkeypatch):
    for i in range(9):
        write_frame(tmp_path / f"{i}.png", np.full((8, 64, 3), 10 * i, np.uint8))
    (tmp_path / ".hidden.txt").write_text("not a frame")
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "pipe")  # never opened: only regular files are frames
    monkeypatch.setattr(ap, "MAX_FRAMES", 3)
    profile = ap.read_profile(tmp_path)
    assert profile.frames == 3
    # Frames 0, 4 and 8 (values 0, 40, 80), a third each.
    assert profile.brightness == pytest.approx(40, abs=0.5)


def test_digest_is_of_the_names_and_bytes(tmp_path):
    # Pinned: ASCII and UTF-8 names hash as their UTF-8 bytes (what the digest always was).
    write_frame(tmp_path / "a.png", photo_like(1))
    write_frame(tmp_path / "\u00e9t\u00e9.png", photo_like(2))
    files = [(name.encode(), (tmp_path / name).read_bytes())
             for name in ("a.png", "\u00e9t\u00e9.png")]
    assert ap.read_profile(tmp_path).digest == expected_digest(files)


def test_a_file_name_that_is_not_utf8_is_read(tmp_path):
    ok, png = cv2.imencode(".png", photo_like(3))
    assert ok
    name = b"caf\xe9.png"  # Latin-1, as an old camera or a Windows share may write it
    with open(os.path.join(os.fsencode(tmp_path), name), "wb") as file:
        file.write(png.tobytes())
    profile = ap.read_profile(tmp_path)
    assert profile.frames == 1
    assert profile.digest == expected_digest([(name, png.tobytes())])


def test_memory_holds_one_frame_at_a_time(tmp_path):
    # 32 frames of 640x480 (0.9 MB each decoded): holding them all would take 29 MB.
    for i in range(32):
        write_frame(tmp_path / f"{i:02d}.png", photo_like(i, (640, 480)))
    frame_bytes = 640 * 480 * 3
    tracemalloc.start()
    try:
        profile = ap.read_profile(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert profile.frames == 32 and profile.width == 640
    # One frame, its float32 luma and the measures' float32 planes: about 10 frames' worth.
    assert peak < 16 * frame_bytes, f"peak {peak / 1e6:.1f} MB"


def test_frame_widths_come_from_headers_before_any_decoding(tmp_path, monkeypatch):
    for i, width in enumerate((100, 300, 200)):
        write_frame(tmp_path / f"{i}.png", photo_like(i, (width, 80)))
    decoded = []
    real = cv2.imdecode

    def imdecode(buffer, flags):
        image = real(buffer, flags)
        decoded.append(image.shape[1])
        return image

    monkeypatch.setattr(ap.cv2, "imdecode", imdecode)
    profile = ap.read_profile(tmp_path)
    assert profile.width == 200 and decoded == [100, 300, 200]


def test_a_file_larger_than_its_pixels_is_refused_unread(tmp_path):
    frame = write_frame(tmp_path / "a.png", photo_like(0))
    with open(frame, "r+b") as file:  # sparse: 32 MiB of nothing after the PNG
        file.truncate(32 * 2**20)
    with pytest.raises(ap.DatasetError, match=r"a\.png: 33554432 bytes.*expected at most"):
        ap.read_profile(tmp_path)


@pytest.mark.parametrize("exc", [cv2.error("OpenCV(5.1.0) resize.cpp:3590: error: (-215)\n"
                                           "Assertion failed"), MemoryError()])
def test_decoder_errors_name_the_frame(tmp_path, monkeypatch, exc):
    write_frame(tmp_path / "a.png", photo_like(0))

    def decode_rgb(data, **kwargs):  # an allocation failing (imdecode's own: None)
        raise exc

    monkeypatch.setattr(ap, "decode_rgb", decode_rgb)
    with pytest.raises(ap.DatasetError, match=r"a\.png: cannot decode") as info:
        ap.read_profile(tmp_path)
    assert "\n" not in str(info.value)


def test_calibration_renders_at_least_64_pixels_each_way(tmp_path, monkeypatch):
    # Frames 300 wide and a 128:1 --size: the renders would be 300x2.
    for i in range(2):
        write_frame(tmp_path / f"{i}.png", photo_like(i, (300, 200)))
    sizes = set()
    real = render_module.render

    def render(scene, width, height, *args, **kwargs):
        sizes.add((width, height))
        return real(scene, width, height, *args, **kwargs)

    monkeypatch.setattr(render_module, "render", render)
    fitted = ap.look_like(tmp_path, load_template("urban"), (8192, 64))
    assert sizes == {(300, 64)}
    assert math.isfinite(fitted.blur_sigma) and math.isfinite(fitted.noise)


# ---------------------------------------------------------------------------- transform


def test_tone_curve_moves_quantiles_towards_the_profile(tmp_path):
    write_frame(tmp_path / "wide.png", ramp())
    profile = ap.read_profile(tmp_path)
    rng = np.random.default_rng(1)
    # Grey, so luma is as wide as each channel; within MAX_SLOPE of the profile's spread.
    narrow = np.repeat(np.clip(rng.normal(90, 40, (64, 96, 1)), 0, 255).astype(np.uint8),
                       3, axis=2)
    curve = ap.tone_curve(ap.histograms(narrow), profile)
    assert (np.diff(curve, axis=0) >= 0).all(), "the curve is monotone"
    assert (np.diff(curve, axis=0) <= ap.MAX_SLOPE * ap.GAIN_RANGE[1] + 1e-9).all()
    fake = ap.Appearance(profile=profile, tone_curve=curve.tobytes(), blur_sigma=0.0,
                         noise=0.0)
    levels = np.linspace(0, 1, ap.QUANTILE_POINTS)

    def distance(image: np.ndarray) -> float:
        got = ap.quantile_curve(ap.histograms(image)[0], levels)
        return float(np.abs(got - np.asarray(profile.quantiles[0])).mean())

    out = ap.apply_appearance(narrow, fake, FULL)
    half = ap.apply_appearance(narrow, fake, dataclasses.replace(FULL, strength=0.5))
    assert distance(out) < distance(half) < distance(narrow)
    assert distance(out) < 0.5 * distance(narrow)
    np.testing.assert_array_equal(
        ap.apply_appearance(narrow, fake, dataclasses.replace(FULL, strength=0.0)), narrow)


def test_white_balance_takes_the_profile_colour_ratios(tmp_path):
    write_frame(tmp_path / "blue.png", np.clip(ramp().astype(float) * [0.8, 1.0, 1.2], 0,
                                               255).astype(np.uint8))
    profile = ap.read_profile(tmp_path)
    grey = ramp()
    curve = ap.tone_curve(ap.histograms(grey), profile)
    # Mid-grey comes out bluer than red, as the profile is.
    assert curve[128, 2] > curve[128, 1] > curve[128, 0]


def test_fitted_appearance_is_recorded_as_json(fitted):
    record = fitted.recorded()
    assert json.loads(json.dumps(record)) == record
    assert record["profile"]["frames"] == 6 and len(record["tone_curve_digest"]) == 64
    assert fitted.blur_sigma >= 0 and fitted.noise >= 0


def test_blur_and_noise_are_applied_by_their_factors(fitted):
    image = photo_like(3, (96, 64))
    strong = dataclasses.replace(fitted, blur_sigma=2.0, noise=6.0)
    plain = ap.apply_appearance(image, strong, FULL)
    blurred = ap.apply_appearance(image, strong, dataclasses.replace(FULL, blur=1.0))
    noisy = ap.apply_appearance(image, strong, dataclasses.replace(FULL, noise=1.0,
                                                                    noise_seed=5))
    assert ap.sharpness(ap.luma(blurred)) < ap.sharpness(ap.luma(plain))
    assert not np.array_equal(noisy, plain)
    again = ap.apply_appearance(image, strong, dataclasses.replace(FULL, noise=1.0,
                                                                    noise_seed=5))
    np.testing.assert_array_equal(noisy, again)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), index=st.integers(0, 50))
def test_labels_and_ids_do_not_change_and_output_is_deterministic(fitted, seed, index):
    template = load_template("urban")
    plain = render_sample(template, seed=seed, index=index, size=(96, 64))
    matched = render_sample(template, seed=seed, index=index, size=(96, 64),
                            appearance=fitted)
    again = render_sample(template, seed=seed, index=index, size=(96, 64),
                          appearance=fitted)
    assert matched.scene.metadata() == plain.scene.metadata()
    assert matched.scene.objects == plain.scene.objects
    np.testing.assert_array_equal(matched.instance_map, plain.instance_map)
    np.testing.assert_array_equal(matched.depth, plain.depth)
    # The same objects over the same pixels; only their contrast (measured on the final
    # image) and so whether a faint one is a box or an ignore region may change.
    def shape(labels):
        return [dataclasses.replace(label, contrast=None, ignored=None) for label in labels]

    assert shape(matched.labels) == shape(plain.labels)
    assert matched.image.shape == plain.image.shape
    np.testing.assert_array_equal(matched.image, again.image)
    assert plain.appearance is None and matched.appearance == again.appearance
    assert "appearance" not in plain.metadata()
    assert set(matched.metadata()["appearance"]) == {"strength", "blur", "noise"}


# ---------------------------------------------------------------------------- CLI


def generate(out: Path, *extra: str, count: int = 4) -> None:
    workers = [] if "--workers" in extra else ["--workers", "1"]
    result = run("-q", "generate", "--scene", "urban", "--count", str(count), "--out",
                 str(out), "--seed", "2", *SMALL, *workers, *extra)
    assert result.exit_code == 0, result.output


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generate_look_like_is_the_same_for_any_workers(tmp_path, frames):
    generate(tmp_path / "w1", "--workers", "1", "--look-like", str(frames))
    generate(tmp_path / "w2", "--workers", "2", "--look-like", str(frames))
    assert folder_bytes(tmp_path / "w1") == folder_bytes(tmp_path / "w2")
    manifest = json.loads((tmp_path / "w1" / "manifest.json").read_text())
    assert manifest["options"]["look_like"]["profile"]["digest"] == \
        ap.read_profile(frames).digest
    document = json.loads((tmp_path / "w1" / "annotations.json").read_text())
    assert all(0.6 <= image["appearance"]["strength"] <= 1.0 for image in document["images"])
    # Labels are those of the same run without --look-like; only pixels differ.
    generate(tmp_path / "plain", "--workers", "1")
    plain = json.loads((tmp_path / "plain" / "annotations.json").read_text())
    def shape(annotations):
        return [{k: v for k, v in a.items() if k not in ("contrast", "iscrowd", "ignored")}
                for a in annotations]

    assert shape(plain["annotations"]) == shape(document["annotations"])
    assert [{k: v for k, v in image.items() if k != "appearance"}
            for image in document["images"]] == plain["images"]
    assert "look_like" not in json.loads(
        (tmp_path / "plain" / "manifest.json").read_text())["options"]
    assert folder_bytes(tmp_path / "plain" / "images") != folder_bytes(tmp_path / "w1" / "images")


def _bad_folders(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty"
    empty.mkdir()
    text = tmp_path / "text"
    write_frame(text / "a.png", photo_like(0))
    (text / "notes.txt").write_text("frames from the test drive")
    broken = tmp_path / "broken"
    write_frame(broken / "a.png", photo_like(0))
    (broken / "b.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    only_fifo = tmp_path / "fifo"
    only_fifo.mkdir()
    os.mkfifo(only_fifo / "frame.jpg")
    # Headers declaring more pixels than OpenCV decodes, and than synthgen reads.
    bomb = tmp_path / "bomb"
    write_frame(bomb / "a.png", photo_like(0))
    declared_png(bomb / "b.png", 33000, 33000)
    large = tmp_path / "large"
    declared_png(large / "big.png", 8200, 8200)
    tiny, small = tmp_path / "tiny", tmp_path / "small"
    write_frame(tiny / "dot.png", np.zeros((1, 1, 3), np.uint8))
    write_frame(small / "a.png", photo_like(0))
    write_frame(small / "b.png", np.zeros((2, 3, 3), np.uint8))
    latin1 = tmp_path / "latin1"
    write_frame(latin1 / "a.png", photo_like(0))
    with open(os.path.join(os.fsencode(latin1), b"caf\xe9.jpg"), "wb") as file:
        file.write(b"\xff\xd8 not really a JPEG")
    return {"missing": tmp_path / "nowhere", "empty": empty, "text": text,
            "broken": broken, "fifo": only_fifo, "file": text / "notes.txt", "bomb": bomb,
            "large": large, "tiny": tiny, "small": small, "latin1": latin1}


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no such folder"),      # the folder is not there
    ("file", "no such folder"),         # a file, not a folder
    ("empty", "no image files"),        # nothing to measure
    ("fifo", "no image files"),         # a FIFO is never opened, so nothing is left
    ("text", "notes.txt is not an image file"),  # any other file is refused by name
    ("broken", "b.jpg: not a readable image"),   # an image name that does not decode
    # 33000x33000, over Pillow's decompression-bomb limits too: refused by the same
    # rule and words as 8200x8200, from the header
    ("bomb", "b.png: 33000x33000 pixels, too large; expected frames of at most 67108864"),
    ("large", "big.png: 8200x8200 pixels, too large"),
    ("tiny", "dot.png: 1x1 pixels, too small; expected frames at least 64 pixels wide"),
    ("small", "b.png: 3x2 pixels, too small"),
    ("latin1", "caf\\xe9.jpg: not a readable image"),  # a name's bytes, shown escaped
])
@pytest.mark.parametrize("command", ["generate", "preview"])
def test_bad_look_like_folders_exit_2_with_one_error_line(tmp_path, case, message, command):
    folder = _bad_folders(tmp_path)[case]
    if command == "generate":
        args = ["generate", "--scene", "urban", "--count", "1", "--out", str(tmp_path / "o"),
                *SMALL]
    else:
        args = ["preview", "--scene", "urban", "--count", "1", "--size", "96x64", "--out",
                str(tmp_path / "o.png")]
    result = run(*args, "--look-like", str(folder))
    assert result.exit_code == 2, result.output
    errors = error_lines(result)
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.png").exists()


def test_generate_at_an_extreme_size_with_narrow_frames(tmp_path):
    # Calibration at the frames' width, 300, and --size's aspect would be 300x2.
    for i in range(2):
        write_frame(tmp_path / "frames" / f"{i}.png", photo_like(i, (300, 200)))
    result = run("-q", "generate", "--scene", "urban", "--count", "1", "--out",
                 str(tmp_path / "o"), "--size", "8192x64", "--image-format", "png",
                 "--workers", "1", "--look-like", str(tmp_path / "frames"))
    assert result.exit_code == 0, result.output
    image = cv2.imread(str(next((tmp_path / "o" / "images").iterdir())))
    assert image.shape == (64, 8192, 3)


def test_labels_docstring_names_the_appearance_blur():
    # The label pipeline's list of what spreads colour past the boxes includes it.
    doc = " ".join(synthgen.labels.__doc__.split())
    assert "apply_appearance" in doc and "3 sigma" in doc


def test_preview_look_like_renders_the_samples_of_generate(tmp_path, frames):
    result = run("preview", "--scene", "urban", "--count", "2", "--size", "96x64",
                 "--look-like", str(frames), "--out", str(tmp_path / "a.png"))
    assert result.exit_code == 0, result.output
    plain = run("preview", "--scene", "urban", "--count", "2", "--size", "96x64",
                "--out", str(tmp_path / "b.png"))
    assert plain.exit_code == 0, plain.output
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    wrong = run("preview", str(tmp_path), "--look-like", str(frames), "--out",
                str(tmp_path / "c.png"))
    assert wrong.exit_code == 2 and "--look-like only work with --scene" in wrong.output


def test_resume_refuses_a_changed_profile(tmp_path, frames):
    changed = tmp_path / "changed"
    for path in sorted(frames.iterdir()):
        changed.joinpath(path.name).parent.mkdir(exist_ok=True)
        changed.joinpath(path.name).write_bytes(path.read_bytes())
    out = tmp_path / "run"
    generate(out, "--look-like", str(changed), count=2)
    same = run("-q", "generate", "--scene", "urban", "--count", "2", "--out", str(out),
               "--seed", "2", *SMALL, "--look-like", str(changed), "--resume")
    assert same.exit_code == 0 and "already complete" in same.output, same.output
    write_frame(changed / "003.png", photo_like(42))
    refused = run("-q", "generate", "--scene", "urban", "--count", "2", "--out", str(out),
                  "--seed", "2", *SMALL, "--look-like", str(changed), "--resume")
    assert refused.exit_code == 2, refused.output
    assert "options.look_like" in refused.output and "digest" in refused.output
    missing = run("-q", "generate", "--scene", "urban", "--count", "2", "--out", str(out),
                  "--seed", "2", *SMALL, "--resume")
    assert missing.exit_code == 2 and "options.look_like: recorded" in missing.output


def test_merge_refuses_shards_of_different_profiles(tmp_path, frames):
    other = tmp_path / "other"
    for i in range(3):
        write_frame(other / f"{i}.png", photo_like(100 + i))
    generate(tmp_path / "s1", "--shard", "1/2", "--look-like", str(frames), count=2)
    generate(tmp_path / "s2", "--shard", "2/2", "--look-like", str(other), count=2)
    result = run("merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out",
                 str(tmp_path / "merged"))
    assert result.exit_code == 2 and "options" in result.output, result.output
    generate(tmp_path / "s2b", "--shard", "2/2", "--look-like", str(frames), count=2)
    merged = run("merge", str(tmp_path / "s1"), str(tmp_path / "s2b"), "--out",
                 str(tmp_path / "merged"))
    assert merged.exit_code == 0, merged.output
    generate(tmp_path / "whole", "--look-like", str(frames), count=2)
    assert folder_bytes(tmp_path / "merged") == folder_bytes(tmp_path / "whole")


def test_kitti_frames_profile():
    if not KITTI_FRAMES.is_dir():
        pytest.skip(f"unlabelled KITTI frames not found at {KITTI_FRAMES}")
    profile = ap.read_profile(KITTI_FRAMES)
    assert profile.frames == min(ap.MAX_FRAMES, sum(1 for _ in KITTI_FRAMES.iterdir()))
    # KITTI: bright, very high-contrast daylight frames with blown-out skies.
    assert 70 < profile.brightness < 120 and profile.contrast > 60
    assert profile.quantiles[0][-3] >= 250
