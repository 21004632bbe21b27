"""Appearance matching: rendered images toned, blurred and grained like a target camera.

``--look-like DIR`` makes images look like the frames in ``DIR`` (unlabelled photos of
the target camera) in three steps:

1. :func:`read_profile`, in the parent process, once: up to :data:`MAX_FRAMES` frames,
   evenly spaced in name order, scaled to one width, give an :class:`AppearanceProfile`
   (their headers are checked first, then one frame at a time is decoded and measured):
   pooled per-channel quantile curves (tone and colour balance), mean brightness and
   contrast, a sharpness measure and a noise level. It depends on the files' bytes only
   and is recorded, with a digest of them, in ``manifest.json``.
2. :func:`calibrate`, also once: :data:`CALIBRATION_IMAGES` scenes of the template
   (fixed indices of a fixed seed, whatever the run's seed) are rendered at the
   profile's width (and at least :data:`MIN_SIDE` pixels high) and pooled the same
   way. Quantile matching of the pooled histograms gives one global per-channel tone
   curve; a bisection finds the Gaussian blur that brings the toned renders' sharpness
   down to the profile's; the noise still missing is what the profile has beyond the
   renders. The result is an :class:`Appearance`.
3. :func:`apply_appearance`, per image, after the effects and before encoding: the tone
   curve blended with the identity by the image's sampled strength, then the blur and
   noise scaled by its sampled factors (:class:`~synthgen.scene.model.AppearanceParams`, drawn
   in :mod:`synthgen.scene.sampling` like every random value).

Why one global curve rather than matching each image to the profile: the profile is of
a camera's typical frames (KITTI: daytime), and matching every image to it would turn a
night or fog scene into a typical day. One monotone curve, fitted on the template's own
mix of scenes, maps the synthetic camera's response onto the real one's: the set as a
whole takes the real pooled histogram, and a night scene stays darker than a day one.

Only pixel values change, never geometry: the instance id map, depth and labels are
those of the render.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import cv2
import numpy as np
from PIL import Image

from synthgen.errors import DatasetError
from synthgen.storage.files import (
    ANNOTATIONS_FILE,
    UNFINISHED_MESSAGE,
    open_regular,
    unfinished_folder,
)
from synthgen.storage.images import decode_rgb, read_header

if TYPE_CHECKING:
    from synthgen.render.sprites import SpriteBank
    from synthgen.scene.model import AppearanceParams
    from synthgen.scene.templates import SceneTemplate

#: Bumped whenever what a profile or calibration computes changes: recorded runs differ.
PROFILE_VERSION = 1
#: File name endings read as frames; any other regular file in DIR is refused.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Most frames a profile reads (evenly spaced in name order).
MAX_FRAMES = 120
#: Frames wider than this are measured scaled down to it.
MAX_WIDTH = 2048
#: Most pixels a frame may have (2**26, 67 megapixels: a 64 MP camera's 9248x6936 fits);
#: checked in its header, before the file is read.
MAX_FRAME_PIXELS = 2**26
#: Fewest pixels a frame may be wide, and a calibration render wide and high (as
#: ``--size``'s smallest side): below it sharpness and noise say nothing of a camera.
MIN_SIDE = 64
#: Bytes a frame's file may hold beyond 8 per pixel (16-bit RGBA, uncompressed) for its
#: metadata; a larger file is refused unread.
FRAME_BYTES_SLACK = 16 * 2**20
#: Points of each channel's quantile curve (levels 0, 1/64, ..., 1).
QUANTILE_POINTS = 65
#: Scenes rendered to fit the tone curve, blur and noise to a template.
CALIBRATION_IMAGES = 24
#: Of those, how many the blur search measures.
BLUR_CALIBRATION_IMAGES = 12
#: The seed of the calibration scenes: fixed, so runs of any seed share one curve.
CALIBRATION_SEED = 0
#: Largest blur (pixels at the profile's width) the search considers.
MAX_BLUR_SIGMA = 3.0
#: Blur and noise below these are not applied (no visible effect).
MIN_BLUR_SIGMA, MIN_NOISE = 0.15, 0.3
#: Luma weights (ITU-R BT.601), as OpenCV's RGB to grey conversion uses.
LUMA = np.array([0.299, 0.587, 0.114])
#: Immerkær's noise estimation kernel (the difference of two Laplacians).
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
#: The quantile curves of a profile: luma, then each colour channel.
CURVES = ("luma", "red", "green", "blue")
#: Steepest the tone curve may be: full histogram matching of flat-shaded renders to
#: photos with blown-out skies would push whole facades to white.
MAX_SLOPE = 2.5
#: Range of the per-channel gain that moves the colour balance to the profile's.
GAIN_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class AppearanceProfile:
    """What a target camera's frames look like, measured once from a folder.

    Attributes:
        frames: Frames measured.
        digest: SHA-256 of their names and bytes (and :data:`PROFILE_VERSION`).
        width: The width every frame was scaled to before measuring.
        quantiles: Per curve of :data:`CURVES` (luma, R, G, B), the pooled value at
            quantile levels ``0, 1/64, ..., 1``; each frame weighs the same.
        brightness: Mean over frames of the mean luma.
        contrast: Mean over frames of the luma standard deviation.
        sharpness: Median over frames of :func:`sharpness`.
        noise: Median over frames of :func:`noise_level`.
    """

    frames: int
    digest: str
    width: int
    quantiles: tuple[tuple[float, ...], ...]
    brightness: float
    contrast: float
    sharpness: float
    noise: float

    def recorded(self) -> dict[str, Any]:
        """The profile as written to ``manifest.json`` (JSON types only)."""
        return {"version": PROFILE_VERSION, "digest": self.digest, "frames": self.frames,
                "width": self.width, "brightness": self.brightness,
                "contrast": self.contrast, "sharpness": self.sharpness, "noise": self.noise,
                "quantiles": {name: list(q) for name, q in zip(CURVES, self.quantiles,
                                                                   strict=True)}}

    def mean(self, curve: int) -> float:
        """The pooled mean of one of :data:`CURVES` (the integral of its quantile curve)."""
        q = np.asarray(self.quantiles[curve])
        return float((q[:-1] + q[1:]).mean() / 2)


@dataclass(frozen=True)
class Appearance:
    """A profile fitted to a template: what each worker applies to its images.

    Attributes:
        profile: The target camera's profile.
        tone_curve: Per channel, the output value of each input value 0..255 at full
            strength, as float64 bytes in ``(256, 3)`` order (bytes keep this hashable
            and cheap to send to workers).
        blur_sigma: Gaussian blur at full strength, in pixels at ``profile.width``.
        noise: Standard deviation of the luma noise to add at full strength.
    """

    profile: AppearanceProfile
    tone_curve: bytes
    blur_sigma: float
    noise: float

    def curve(self) -> np.ndarray:
        """The tone curve as a ``(256, 3)`` float64 array."""
        return np.frombuffer(self.tone_curve, np.float64).reshape(256, 3)

    def recorded(self) -> dict[str, Any]:
        """Profile and fitted values as written to ``manifest.json``."""
        curve = self.curve()
        return {"profile": self.profile.recorded(),
                "tone_curve_digest": hashlib.sha256(self.tone_curve).hexdigest(),
                # A coarse view of the curve for people reading the manifest.
                "tone_curve_at": {str(v): [round(float(c), 1) for c in curve[v]]
                                  for v in (0, 32, 64, 128, 192, 255)},
                "blur_sigma": self.blur_sigma, "noise": self.noise}


# ---------------------------------------------------------------------------- measures


def luma(rgb: np.ndarray) -> np.ndarray:
    """Luma of an RGB uint8 image as float32 (BT.601, as OpenCV computes it)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def sharpness(gray: np.ndarray) -> float:
    """Mean absolute Laplacian over mean gradient magnitude of a luma image.

    For an edge blurred by a Gaussian of ``sigma`` it falls roughly as ``1 / sigma``,
    whatever the edge's contrast, so it compares the sharpness of different pictures
    measured at the same scale. 0 for a flat image.
    """
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    gradient = float(cv2.magnitude(gx, gy).mean())
    if gradient <= 0:
        return 0.0
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F)).mean()) / gradient


def noise_level(gray: np.ndarray) -> float:
    """Standard deviation of the noise of a luma image (Immerkær 1996, flat areas only).

    The kernel cancels smooth shading; edges and texture would still count as noise, so
    only the half of the pixels with the smallest gradient is used, and pixels near 0 or
    255, where clipping hides noise, are left out. 0 when nothing is left.
    """
    if min(gray.shape) < 3:
        return 0.0
    response = np.abs(cv2.filter2D(gray, cv2.CV_32F, _NOISE_KERNEL))[1:-1, 1:-1]
    gradient = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0),
                             cv2.Sobel(gray, cv2.CV_32F, 0, 1))[1:-1, 1:-1]
    inner = gray[1:-1, 1:-1]
    usable = (inner > 4) & (inner < 251)
    if not usable.any():
        return 0.0
    flat = usable & (gradient <= np.median(gradient[usable]))
    return float(math.sqrt(math.pi / 2) / 6 * response[flat].mean())


def histograms(rgb: np.ndarray) -> np.ndarray:
    """``(4, 256)`` histograms of the luma and R, G, B of an RGB uint8 image, each summing
    to 1 (luma as 8-bit, as OpenCV converts it)."""
    planes = [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), rgb[..., 0], rgb[..., 1], rgb[..., 2]]
    counts = np.stack([np.bincount(plane.ravel(), minlength=256) for plane in planes])
    return counts / counts.sum(axis=1, keepdims=True)


def quantile_curve(histogram: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Values at quantile ``levels`` of a 256-bin histogram summing to 1.

    Value ``v`` stands for the interval ``[v - 0.5, v + 0.5]``; the distribution is
    linear within each non-empty bin, so the curve is continuous and increasing.
    """
    occupied = np.flatnonzero(histogram > 0)
    cumulative = np.concatenate([[0.0], np.cumsum(histogram[occupied])])
    cumulative /= cumulative[-1]
    # Each occupied bin spans [v - 0.5, v + 0.5]; empty bins between take no mass.
    lower, upper = occupied - 0.5, occupied + 0.5
    xs = np.empty(2 * len(occupied))
    ys = np.empty(2 * len(occupied))
    xs[0::2], xs[1::2] = cumulative[:-1], cumulative[1:]
    ys[0::2], ys[1::2] = lower, upper
    return np.clip(np.interp(levels, xs, ys), 0.0, 255.0)


def _levels() -> np.ndarray:
    return np.linspace(0.0, 1.0, QUANTILE_POINTS)


def _mid_cdf(histogram: np.ndarray) -> np.ndarray:
    """Per value 0..255, the share of pixels below it plus half of its own."""
    cumulative = np.cumsum(histogram)
    return cumulative - histogram / 2


def _fitted_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    return target_width, max(1, round(height * target_width / width))


# ---------------------------------------------------------------------------- profile


def _frame_files(folder: Path) -> list[Path]:
    """The frames of ``folder`` to read: regular image files, evenly spaced by name."""
    try:
        found = folder.is_dir()
    except OSError as exc:  # a name too long, a folder it may not search
        raise DatasetError(f"--look-like {_shown(folder)}: cannot read "
                           f"({exc.strerror or exc})") from None
    if not found:
        raise DatasetError(f"--look-like {_shown(folder)}: no such folder")
    # The images/ of a synthgen output still being written (or stopped): its frames, and
    # so the profile, are not final yet.
    unfinished = unfinished_folder(folder / ANNOTATIONS_FILE, folder)
    if unfinished is not None:
        raise DatasetError(f"--look-like {_shown(folder)}: {_shown(unfinished)}: "
                           f"{UNFINISHED_MESSAGE}")
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise DatasetError(f"--look-like {_shown(folder)}: cannot list "
                           f"({exc.strerror or exc})") from exc
    # Regular files only (is_file follows links and is false for FIFOs, sockets and
    # devices, which are never opened); hidden files are not frames.
    files = [p for p in entries if not p.name.startswith(".") and p.is_file()]
    others = [_shown(Path(p.name)) for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise DatasetError(f"--look-like {_shown(folder)}: {others[0]} is not an image file "
                           f"(expected only {', '.join(IMAGE_SUFFIXES)} files)")
    if not files:
        raise DatasetError(f"--look-like {_shown(folder)}: no image files in the folder")
    if len(files) > MAX_FRAMES:
        picks = np.unique(np.linspace(0, len(files) - 1, MAX_FRAMES).round().astype(int))
        files = [files[i] for i in picks]
    return files


def _shown(path: Path) -> str:
    """``path`` as printable text: the bytes of a name that is not UTF-8 as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _checked_size(path: Path, file: BinaryIO, option: str = "--look-like") -> tuple[int, int]:
    """``(width, height)`` of the frame in the open ``file``, from its header only (sides
    swapped when its EXIF orientation turns it, as the decoder does).

    Raises:
        DatasetError: Not an image Pillow can identify, under :data:`MIN_SIDE` pixels
            wide, or over :data:`MAX_FRAME_PIXELS` pixels.
    """
    try:
        # A fresh warnings context per read: Pillow's warnings about a header (a corrupt
        # EXIF block) show for every frame that has one, not for the first only.
        with warnings.catch_warnings():
            header = read_header(file, exif=True)
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{option}: {_shown(path)}: too large ({_one_line(exc)}); "
                           f"expected frames of at most {MAX_FRAME_PIXELS} pixels") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{option}: {_shown(path)}: not a readable image") from exc
    width, height = header.width, header.height
    if header.exif_turned:  # shown turned, as the decoder turns it
        width, height = height, width
    if width < MIN_SIDE:
        raise DatasetError(f"{option}: {_shown(path)}: {width}x{height} pixels, too "
                           f"small; expected frames at least {MIN_SIDE} pixels wide")
    if width * height > MAX_FRAME_PIXELS:
        raise DatasetError(f"{option}: {_shown(path)}: {width}x{height} pixels, too "
                           f"large; expected frames of at most {MAX_FRAME_PIXELS} pixels")
    return width, height


def _frame_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of a frame, from its header (see :func:`_checked_size`)."""
    try:
        with open_regular(path) as file:
            return _checked_size(path, file)
    except OSError as exc:
        raise DatasetError(f"--look-like: {_shown(path)}: cannot read "
                           f"({exc.strerror or exc})") from exc


def frame_bytes(path: Path, option: str = "--look-like") -> bytes:
    """A frame's bytes, read only once its header and file size are checked (errors name
    ``option``)."""
    try:
        # Regular files only: a FIFO (swapped in after the folder was listed, or a
        # --sprites photo) would block the reader for ever.
        with open_regular(path) as file:
            width, height = _checked_size(path, file, option)
            size = os.fstat(file.fileno()).st_size
            limit = 8 * width * height + FRAME_BYTES_SLACK
            if size > limit:
                raise DatasetError(f"{option}: {_shown(path)}: {size} bytes, more than a "
                                   f"{width}x{height} image holds; expected at most {limit}")
            file.seek(0)
            return file.read(size)  # the size checked, however the file grows meanwhile
    except OSError as exc:
        raise DatasetError(f"{option}: {_shown(path)}: cannot read "
                           f"({exc.strerror or exc})") from exc


def labelled_frame(path: Path, width: int, height: int, option: str
                   ) -> tuple[bytes, np.ndarray]:
    """A labelled photo's bytes (:func:`frame_bytes`) and its pixels, RGB as stored
    (EXIF orientation ignored: its labels are where it stores them), checked to be the
    ``width`` x ``height`` its labels say (errors name ``option``)."""
    data = frame_bytes(path, option)
    rgb = decode_rgb(data)
    if rgb is None:
        raise DatasetError(f"{option}: {path}: not a readable image")
    if rgb.shape[:2] != (height, width):
        raise DatasetError(f"{option}: {path}: {rgb.shape[1]}x{rgb.shape[0]} pixels; "
                           f"expected {width}x{height} as its labels say")
    return data, rgb


def _load_frame(path: Path, width: int, digest: Any) -> np.ndarray:
    """Add a frame's name and bytes to ``digest``; its pixels as RGB uint8, scaled to
    ``width`` wide. Only this frame is held: its bytes, then its pixels."""
    data = frame_bytes(path)
    # The name's bytes on disk: a UTF-8 name's UTF-8 text, as always; any other name too.
    digest.update(os.fsencode(path.name) + f"\0{len(data)}\0".encode())
    digest.update(data)
    try:
        # Turned as a viewer shows it: these frames have no labels to keep in place.
        rgb = decode_rgb(data, as_shown=True)
        del data
        if rgb is None:
            raise DatasetError(f"--look-like: {_shown(path)}: not a readable image")
        if rgb.shape[1] != width:
            rgb = cv2.resize(rgb, _fitted_size(rgb.shape[1], rgb.shape[0], width),
                             interpolation=cv2.INTER_AREA)
        return rgb
    except MemoryError as exc:
        raise DatasetError(f"--look-like: {_shown(path)}: cannot decode (out of memory); "
                           f"expected a smaller frame") from exc
    except cv2.error as exc:
        raise DatasetError(f"--look-like: {_shown(path)}: cannot decode "
                           f"({_one_line(exc)}); expected a readable image") from exc


def read_profile(folder: str | Path) -> AppearanceProfile:
    """Measure the frames of ``folder``: the profile :func:`calibrate` fits to.

    Every frame's header is checked first (size, and so the width all are measured at);
    then one frame at a time is read, decoded, scaled and measured, so memory holds one
    frame whatever their number or size.

    Args:
        folder: A folder of image files (subfolders and hidden files are ignored).

    Returns:
        The profile; the same bytes in the same names give the same profile.

    Raises:
        DatasetError: No such folder, no image in it, a file that is not an image, one
            under :data:`MIN_SIDE` pixels wide or over :data:`MAX_FRAME_PIXELS` pixels,
            a file larger than its pixels explain, or one that cannot be decoded.
    """
    files = _frame_files(Path(folder))
    width = min(MAX_WIDTH, int(np.median([_frame_size(path)[0] for path in files])))
    digest = hashlib.sha256(f"synthgen-appearance-{PROFILE_VERSION}".encode())
    pooled = np.zeros((len(CURVES), 256))
    brightness, contrast, sharp, noise = [], [], [], []
    for path in files:
        rgb = _load_frame(path, width, digest)
        gray = luma(rgb)
        pooled += histograms(rgb)
        brightness.append(float(gray.mean()))
        contrast.append(float(gray.std()))
        sharp.append(sharpness(gray))
        noise.append(noise_level(gray))
        del rgb, gray
    pooled /= len(files)
    quantiles = tuple(tuple(round(float(v), 3) for v in quantile_curve(h, _levels()))
                      for h in pooled)
    return AppearanceProfile(
        frames=len(files), digest=digest.hexdigest(), width=width, quantiles=quantiles,
        brightness=round(float(np.mean(brightness)), 3),
        contrast=round(float(np.mean(contrast)), 3),
        sharpness=round(float(np.median(sharp)), 4), noise=round(float(np.median(noise)), 3))


# ---------------------------------------------------------------------------- fitting


def _limited(curve: np.ndarray) -> np.ndarray:
    """``curve`` with no step steeper than :data:`MAX_SLOPE`, from the same start to the
    same end.

    As CLAHE clips a histogram: what the steep steps lose is spread evenly over the
    others, again until none is too steep, so black and white keep their places.
    """
    steps = np.diff(curve)
    for _ in range(64):
        excess = float(np.clip(steps - MAX_SLOPE, 0.0, None).sum())
        if excess < 1e-9:
            break
        steps = np.minimum(steps, MAX_SLOPE)
        room = steps < MAX_SLOPE
        if not room.any():
            break
        steps[room] += excess / int(room.sum())
    return np.clip(curve[0] + np.concatenate([[0.0], np.cumsum(steps)]), 0.0, 255.0)


def tone_curve(source: np.ndarray, profile: AppearanceProfile) -> np.ndarray:
    """Per channel, the monotone map that takes renders with histograms ``source``
    towards the profile.

    A white balance first: one gain per channel that gives each channel the profile's
    ratio of its mean to the luma mean (neutral grey stays neutral). Then one tone curve,
    by quantile matching of the luma with its slope limited (see :data:`MAX_SLOPE`),
    applied to each channel.

    Args:
        source: ``(4, 256)`` pooled :func:`histograms` of the renders.
        profile: The target.

    Returns:
        ``(256, 3)`` float64: output value per input value and channel.
    """
    matched = np.interp(_mid_cdf(source[0]), _levels(), profile.quantiles[0])
    toned = _limited(matched)
    values = np.arange(256, dtype=np.float64)
    means = source @ values
    curve = np.empty((256, 3))
    for c in range(3):
        gain = (profile.mean(c + 1) / profile.mean(0)) / (means[c + 1] / means[0])
        gain = min(max(gain, GAIN_RANGE[0]), GAIN_RANGE[1])
        curve[:, c] = np.interp(np.minimum(255.0, gain * values), values, toned)
    return curve


def _blur_for(grays: list[np.ndarray], target: float) -> float:
    """The Gaussian sigma that brings the median sharpness of ``grays`` to ``target``."""

    def median_sharpness(sigma: float) -> float:
        if sigma <= 0:
            return float(np.median([sharpness(g) for g in grays]))
        return float(np.median([sharpness(cv2.GaussianBlur(g, (0, 0), sigma))
                                for g in grays]))

    if median_sharpness(0.0) <= target:
        return 0.0
    if median_sharpness(MAX_BLUR_SIGMA) >= target:
        return MAX_BLUR_SIGMA
    low, high = 0.0, MAX_BLUR_SIGMA
    while high - low > 0.02:  # sharpness falls as the blur grows
        middle = (low + high) / 2
        if median_sharpness(middle) > target:
            low = middle
        else:
            high = middle
    return round((low + high) / 2, 2)


def calibrate(profile: AppearanceProfile, template: SceneTemplate,
              size: tuple[int, int], sprites: SpriteBank | None = None) -> Appearance:
    """Fit a profile to a template's renders at the aspect ratio of ``size``.

    Renders :data:`CALIBRATION_IMAGES` scenes of ``template`` (seed
    :data:`CALIBRATION_SEED`) at ``profile.width`` wide (at least :data:`MIN_SIDE`, as
    every frame :func:`read_profile` accepts is) and at least :data:`MIN_SIDE` high,
    whatever ``size`` (8192x64 would give frames 447 wide renders 3 high: sharpness is
    compared at the profile's scale, so the width stays and the aspect gives way), with
    their effects and no appearance matching, and derives the tone curve, blur and noise
    of an :class:`Appearance` from them (see the module docstring). With ``sprites``
    (``--sprites``) the renders have the real cut-outs pasted in, as the run's will.
    Deterministic.
    """
    # Imported here: reading a profile (and the tests of it) needs no renderer.
    from synthgen.render.effects import apply_effects  # noqa: PLC0415
    from synthgen.render.painter import render  # noqa: PLC0415
    from synthgen.scene.sampling import image_rng, sample_scene, sample_sprites  # noqa: PLC0415

    width, height = _fitted_size(size[0], size[1], max(MIN_SIDE, profile.width))
    height = max(MIN_SIDE, height)
    images = []
    for index in range(CALIBRATION_IMAGES):
        rng = image_rng(CALIBRATION_SEED, index)
        scene = sample_scene(template, rng, seed=CALIBRATION_SEED, index=index)
        pastes = None
        if sprites is not None:
            pastes = {p.instance_id: (sprites.sprites[p.sprite], p)
                      for p in sample_sprites(sprites, scene, rng, (width, height))}
        images.append(apply_effects(render(scene, width, height, pastes), scene))
    pooled = np.mean([histograms(image) for image in images], axis=0)
    curve = tone_curve(pooled, profile)
    lut = _lut(curve, 1.0)
    toned = [cv2.LUT(image, lut) for image in images]
    blur = _blur_for([luma(image) for image in toned[:BLUR_CALIBRATION_IMAGES]],
                     profile.sharpness)
    if blur >= MIN_BLUR_SIGMA:
        toned = [cv2.GaussianBlur(image, (0, 0), blur) for image in toned]
    rendered_noise = float(np.median([noise_level(luma(image)) for image in toned]))
    missing = math.sqrt(max(0.0, profile.noise ** 2 - rendered_noise ** 2))
    return Appearance(profile=profile, tone_curve=curve.astype(np.float64).tobytes(),
                      blur_sigma=blur, noise=round(missing, 3))


def look_like(folder: str | Path, template: SceneTemplate, size: tuple[int, int],
              sprites: SpriteBank | None = None) -> Appearance:
    """:func:`read_profile` of ``folder`` fitted by :func:`calibrate`: what ``--look-like``
    hands to the renderer."""
    return calibrate(read_profile(folder), template, size, sprites)


# ---------------------------------------------------------------------------- applying


def _lut(curve: np.ndarray, strength: float) -> np.ndarray:
    """The ``(256, 1, 3)`` uint8 lookup table of ``curve`` blended with the identity."""
    identity = np.arange(256, dtype=np.float64)[:, None]
    table = np.rint(identity + strength * (curve - identity))
    return np.clip(table, 0, 255).astype(np.uint8).reshape(256, 1, 3)


def _noise_amount(sigma: float) -> float:
    """The sensor-noise ``amount`` whose luma grain has standard deviation ``sigma``.

    :func:`synthgen.render.effects._noise` draws grain uniform-like in ``[-l, l]`` with
    ``l = round(12 amount)``, whose standard deviation is ``sqrt(l (l + 1) / 3)``.
    """
    level = (math.sqrt(1.0 + 12.0 * sigma * sigma) - 1.0) / 2.0
    return level / 12.0


def apply_appearance(image: np.ndarray, appearance: Appearance,
                     params: AppearanceParams) -> np.ndarray:
    """Match one final image to the target camera.

    Args:
        image: ``(H, W, 3)`` uint8 RGB, after the effects; not modified.
        appearance: The fitted profile (see :func:`calibrate`).
        params: The image's sampled strength, blur and noise factors and noise seed.

    Returns:
        A new ``(H, W, 3)`` uint8 RGB image of the same size.
    """
    # Imported here, as effects imports the renderer this module's readers do not need.
    from synthgen.render.effects import _noise  # noqa: PLC0415 - the sensor's own grain

    out = cv2.LUT(image, _lut(appearance.curve(), params.strength))
    sigma = appearance.blur_sigma * params.blur * image.shape[1] / appearance.profile.width
    if sigma >= MIN_BLUR_SIGMA:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    noise = appearance.noise * params.noise
    if noise >= MIN_NOISE:
        out = _noise(out, _noise_amount(noise), params.noise_seed)
    return out
