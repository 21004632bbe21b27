"""Compiled per-pixel passes: the bytes of the OpenCV calls they replaced (the ground's
depth against the NumPy formula: ``test_background.py``'s horizon band test)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from synthgen.render import effects, pixels


def _opencv_blend(image, keep, gain, color):
    """The OpenCV passes :func:`pixels.veil_blend` replaced, as the renderer made them."""
    veil = cv2.bitwise_not(keep)
    if gain is not None:
        keep = cv2.multiply(keep, gain, scale=1 / 255)
        veil = cv2.multiply(veil, gain, scale=1 / 255)
    out = cv2.multiply(image, cv2.cvtColor(keep, cv2.COLOR_GRAY2RGB), scale=1 / 255)
    veiled = cv2.merge([cv2.convertScaleAbs(veil, alpha=c / 255) for c in color])
    return cv2.add(out, veiled)


def _every_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 256 x 256 frame whose weight is its row and whose other input its column:
    every pair of byte values once."""
    values = np.arange(256, dtype=np.uint8)
    return np.repeat(values[:, None], 256, axis=1), np.repeat(values[None, :], 256, axis=0)


@settings(max_examples=40, deadline=None)
@given(color=st.tuples(*[st.floats(0.0, 255.0)] * 3), seed=st.integers(0, 2**32 - 1))
@example(color=(127.5, 63.75, 255.0), seed=0)  # scales 1/2, 1/4: halves, rounded to even
@example(color=(0.0, 0.0, 0.0), seed=1)
def test_veil_blend_gives_the_bytes_of_the_opencv_passes(color, seed):
    """Byte for byte what the OpenCV passes gave, for every image value against every
    weight (no gain), and every weight against every gain (a random image)."""
    scales = effects.veil_scales(color)
    rows, columns = _every_pair()
    image = np.repeat(columns[..., None], 3, axis=2)
    out = np.empty_like(image)
    pixels.veil_blend(image, rows, rows, False, scales, out)
    assert np.array_equal(out, _opencv_blend(image, rows, None, color))
    image = np.random.default_rng(seed).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    pixels.veil_blend(image, rows, columns, True, scales, out)
    assert np.array_equal(out, _opencv_blend(image, rows, columns, color))
    pixels.veil_blend(image, rows, columns, True, scales, image)  # in place
    assert np.array_equal(image, out)


def _opencv_noise(image, luminance, color, offset):
    """The OpenCV passes :func:`pixels.add_noise` replaced, as the renderer made them."""
    h, w = luminance.shape
    noise = cv2.add(cv2.cvtColor(luminance, cv2.COLOR_GRAY2RGB),
                    cv2.resize(color, (w, h), interpolation=cv2.INTER_NEAREST))
    return cv2.addWeighted(image, 1, noise, 1, -offset)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 130), offset=st.integers(0, 255),
       seed=st.integers(0, 2**32 - 1))
def test_noise_gives_the_bytes_of_the_opencv_passes(height, width, offset, seed):
    """Byte for byte what the OpenCV passes gave, the coarse colour noise stretched as
    cv2.resize stretches it, at any size (odd ones too), both saturations included."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    luminance = rng.integers(0, 256, (height, width), dtype=np.uint8)
    color = rng.integers(0, 256, (height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    expected = _opencv_noise(image, luminance, color, offset)
    rows, columns = effects._nearest_sources(height, width)
    pixels.add_noise(image, luminance, color, rows, columns, offset)
    assert np.array_equal(image, expected)


def test_vignette_is_the_8_bit_multiply_by_its_gain():
    rows, columns = _every_pair()
    image = np.repeat(columns[..., None], 3, axis=2)
    expected = cv2.multiply(image, cv2.cvtColor(rows, cv2.COLOR_GRAY2RGB), scale=1 / 255)
    assert np.array_equal(effects._vignette(image, rows), expected)


@pytest.mark.parametrize("keep_rows, gain_rows, out_rows, use_gain", [
    (2000, 2, 2, False),   # a weight larger than the frame: no write past it
    (1, 1, 2, False),      # smaller: no rows left unwritten
    (2, 3, 2, True),       # a gain of another size
    (2, 2, 3, False),      # an output of another size
])
def test_veil_blend_refuses_arrays_of_other_sizes(keep_rows, gain_rows, out_rows, use_gain):
    image = np.zeros((2, 3, 3), np.uint8)
    with pytest.raises(ValueError, match="veil_blend"):
        pixels.veil_blend(image, np.zeros((keep_rows, 3), np.uint8),
                          np.zeros((gain_rows, 3), np.uint8), use_gain,
                          np.zeros(3, np.float32), np.zeros((out_rows, 3, 3), np.uint8))


@pytest.mark.parametrize("luminance, rows, columns", [
    ((2, 4), [0, 0], [0, 0, 0]),    # luminance wider than the image
    ((2, 3), [0, 1], [0, 0, 0]),    # a row past the colour noise
    ((2, 3), [0, 0], [0, -1, 0]),   # a negative column
    ((2, 3), [0], [0, 0, 0]),       # too few rows
])
def test_add_noise_refuses_arrays_of_other_sizes_and_indices_off_the_noise(
        luminance, rows, columns):
    with pytest.raises(ValueError, match="add_noise"):
        pixels.add_noise(np.zeros((2, 3, 3), np.uint8), np.zeros(luminance, np.uint8),
                         np.zeros((1, 1, 3), np.uint8), np.array(rows, np.int64),
                         np.array(columns, np.int64), 0)


@pytest.mark.parametrize("rows, cols, top, bottom", [
    (3, 3, 0, 2),    # a row term too many
    (2, 4, 0, 2),    # a column term too many
    (2, 3, 1, 0),    # the band upside down
    (2, 3, 0, 3),    # the band past the last row
    (2, 3, -1, 1),   # a band before the first row
])
def test_ground_depth_refuses_terms_of_other_sizes_and_bands_off_the_frame(rows, cols, top,
                                                                           bottom):
    with pytest.raises(ValueError, match="ground_depth"):
        pixels.ground_depth(np.zeros(rows, np.float32), np.zeros(cols, np.float32),
                            np.float32(0), np.float32(-1), top, bottom,
                            np.zeros((2, 3), np.float32))


def test_ground_depth_sets_the_sky_and_the_horizon_to_inf():
    """Rows before the band are sky; in the band a rise of zero or more (the horizon,
    exactly zero, included) is sky too; the ground is its height over the rise."""
    rows = np.array([1.0, 0.5, -0.5, -1.0], np.float32)
    cols = np.array([-0.5, 0.0, 0.5], np.float32)
    out = np.full((4, 3), 7.0, np.float32)
    pixels.ground_depth(rows, cols, np.float32(0.0), np.float32(-2.0), 1, 3, out)
    expected = np.array([[np.inf] * 3, [np.inf] * 3, [2.0, 4.0, np.inf],
                         [4 / 3, 2.0, 4.0]], np.float32)
    assert np.array_equal(out, expected)
