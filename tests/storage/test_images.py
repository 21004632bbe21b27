"""Every reader of labelled images sees the pixels as stored, where the labels are: an
EXIF orientation (which viewers and OpenCV's default decoder apply) is ignored. Sizes come
from one header reader, with one policy on decompression bombs (none: it decodes nothing)."""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from synthgen.analysis.measure import read_downscaled
from synthgen.datasets.realsets import image_size
from synthgen.formats.validate import validate_path
from synthgen.storage import images
from synthgen.storage.files import NotRegularFileError
from synthgen.storage.images import (
    CutShortError,
    ImageHeader,
    decode_rgb,
    read_header,
    read_rgb,
)
from tests.factories import declared_png, disposed_gif, oriented

WIDTH, HEIGHT = 96, 48


def oriented_jpeg(orientation: int) -> bytes:
    """A WIDTHxHEIGHT JPEG, dark on its left half and bright on its right as stored,
    whose EXIF says to show it turned or mirrored (``orientation`` 1 to 8)."""
    pixels = np.full((HEIGHT, WIDTH, 3), 230, np.uint8)
    pixels[:, :WIDTH // 2] = 20
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def assert_as_stored(rgb: np.ndarray | None, scale: float = 1.0) -> None:
    assert rgb is not None
    assert rgb.shape == (round(HEIGHT * scale), round(WIDTH * scale), 3)
    half = rgb.shape[1] // 2
    assert rgb[:, :half - 2].mean() < 60 < 180 < rgb[:, half + 2:].mean()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_ignores_the_exif_orientation(orientation: int) -> None:
    assert_as_stored(decode_rgb(oriented_jpeg(orientation)))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_file_readers_agree_on_the_stored_frame(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "turned.jpg"
    path.write_bytes(oriented_jpeg(orientation))
    assert_as_stored(read_rgb(path))
    assert_as_stored(read_downscaled(path, max_side=WIDTH // 2), scale=0.5)


@pytest.mark.parametrize("orientation", [6, 8])
def test_header_readers_see_the_stored_size_too(tmp_path: Path, orientation: int) -> None:
    # validate and real import read sizes from headers (Pillow, which does not turn a
    # JPEG): they must agree with the decoder, or a turned photo's labels would be
    # checked against one frame and cut from another.
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(oriented_jpeg(orientation))
    assert image_size(images / "a.jpg") == (WIDTH, HEIGHT)
    (tmp_path / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": WIDTH, "height": HEIGHT}],
        "annotations": [], "categories": [{"id": 1, "name": "car"}]}))
    report = validate_path(tmp_path)
    assert report.readable and not report.problems, report.problems


def photo() -> np.ndarray:
    """WIDTHxHEIGHT RGB noise: its JPEG scan holds stuffed ``FF 00`` bytes."""
    return np.random.default_rng(7).integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8)


def jpeg(**options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo()).save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo()).save(buffer, "PNG")
    return buffer.getvalue()


def restart_jpeg() -> bytes:
    """A JPEG with a restart marker (``FF D0``-``FF D7``) after every MCU row."""
    ok, encoded = cv2.imencode(".jpg", photo(), [cv2.IMWRITE_JPEG_RST_INTERVAL, 1])
    assert ok
    return encoded.tobytes()


def scan_start(data: bytes, last: bool = False) -> int:
    """Where the first (or last) scan's compressed data starts, after its SOS header."""
    sos = data.rindex(b"\xff\xda") if last else data.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")


def thumbnail_jpeg() -> bytes:
    """A JPEG whose EXIF (APP1, before the scan) holds a whole thumbnail JPEG, EOI
    included."""
    buffer = io.BytesIO()
    Image.fromarray(photo()[:8, :16]).save(buffer, "JPEG")
    thumb = buffer.getvalue()
    # TIFF header, IFD0 (no entries) pointing at IFD1: the thumbnail's offset and length.
    tiff = (b"II*\0" + struct.pack("<I", 8) + struct.pack("<HI", 0, 14)
            + struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, 44)
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumb)) + struct.pack("<I", 0) + thumb)
    payload = b"Exif\0\0" + tiff
    main = jpeg()
    app0_end = 4 + int.from_bytes(main[4:6], "big")  # after SOI and JFIF's APP0
    return (main[:app0_end] + b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload
            + main[app0_end:])


def with_fill_bytes() -> bytes:
    """A JPEG with fill bytes (``FF``) before its DQT marker, as the standard allows."""
    data = jpeg()
    dqt = data.index(b"\xff\xdb")
    return data[:dqt] + b"\xff\xff" + data[dqt:]


def stray(junk: bytes) -> bytes:
    """A JPEG with ``junk`` between two segments, before its DQT marker."""
    data = jpeg()
    dqt = data.index(b"\xff\xdb")
    return data[:dqt] + junk + data[dqt:]


def cut(make: Callable[[], bytes], end: Callable[[bytes], int]) -> Callable[[], bytes]:
    def made() -> bytes:
        data = make()
        return data[:end(data)]
    return made


# (case, file bytes, whether they decode: to WIDTHxHEIGHT pixels, or None)
DECODE_CASES: list[tuple[str, Callable[[], bytes], bool]] = [
    ("jpeg", jpeg, True),
    # cut anywhere before its end-of-image marker (EOI): not an image
    ("jpeg-cut-in-segments", cut(jpeg, lambda d: 30), False),
    ("jpeg-cut-after-scan-header", cut(jpeg, scan_start), False),
    ("jpeg-cut-mid-scan", cut(jpeg, lambda d: (scan_start(d) + len(d)) // 2), False),
    ("jpeg-cut-before-eoi", cut(jpeg, lambda d: len(d) - 2), False),
    ("jpeg-cut-in-eoi", cut(jpeg, lambda d: len(d) - 1), False),
    # bytes after the EOI (a camera's, or an MPO's second picture) do not matter
    ("jpeg-trailing-bytes", lambda: jpeg() + b"\0\xff\xd8 trailing", True),
    ("jpeg-then-another", lambda: jpeg() + jpeg(), True),
    # an EXIF thumbnail's EOI, before the scan, is not the image's
    ("exif-thumbnail", thumbnail_jpeg, True),
    ("exif-thumbnail-cut-mid-scan",
     cut(thumbnail_jpeg, lambda d: (scan_start(d, last=True) + len(d)) // 2), False),
    # a progressive JPEG: several scans, Huffman tables between them
    ("progressive", lambda: jpeg(progressive=True), True),
    ("progressive-cut-after-first-scan-header",
     cut(lambda: jpeg(progressive=True), scan_start), False),
    ("progressive-cut-halfway", cut(lambda: jpeg(progressive=True), lambda d: len(d) // 2),
     False),
    ("progressive-cut-before-eoi", cut(lambda: jpeg(progressive=True), lambda d: len(d) - 2),
     False),
    # restart markers in the scan, fill bytes before a marker: both whole
    ("restart-markers", restart_jpeg, True),
    ("restart-markers-cut-mid-scan",
     cut(restart_jpeg, lambda d: (scan_start(d) + len(d)) // 2), False),
    ("fill-bytes", with_fill_bytes, True),
    # stray bytes between segments (some webcams write them): libjpeg skips them with a
    # warning and decodes the image whole, so do we
    ("stray-zero-before-dqt", lambda: stray(b"\0"), True),
    ("stray-junk-before-dqt", lambda: stray(b"ab"), True),
    ("stray-ff00-before-dqt", lambda: stray(b"\xff\0"), True),
    ("stray-bytes-cut-mid-scan",
     cut(lambda: stray(b"\0"), lambda d: (scan_start(d) + len(d)) // 2), False),
    # segments that do not chain up to a scan
    ("jpeg-segment-length-0", lambda: b"\xff\xd8\xff\xdb\0\0" + jpeg()[2:], False),
    # (not FF D8 FF: not a JPEG to OpenCV, whatever the walker says of the bytes after)
    ("jpeg-no-marker-after-soi", lambda: b"\xff\xd8\0" + jpeg()[2:], False),
    ("jpeg-eoi-before-any-scan", lambda: b"\xff\xd8\xff\xd9" + jpeg()[2:], False),
    ("jpeg-soi-only", lambda: b"\xff\xd8", False),
    ("jpeg-soi-then-zeros", lambda: b"\xff\xd8\xff" + b"\0" * 64, False),
    # a PNG: OpenCV refuses it cut short, even by one byte or just its IEND chunk
    ("png", png, True),
    ("png-cut-in-iend-crc", cut(png, lambda d: len(d) - 1), False),
    ("png-without-iend", cut(png, lambda d: len(d) - 12), False),
    ("png-cut-mid-data", cut(png, lambda d: len(d) // 2), False),
    # not an image at all
    ("empty", lambda: b"", False),
    ("text", lambda: b"not an image", False),
    ("random-bytes", lambda: np.random.default_rng(3).bytes(4096), False),
]


@pytest.mark.parametrize(("data", "decodes"), [pytest.param(data, decodes, id=case)
                                               for case, data, decodes in DECODE_CASES])
def test_decode_rgb_decodes_whole_images_only(data: Callable[[], bytes],
                                              decodes: bool) -> None:
    content = data()
    rgb = decode_rgb(content)
    if decodes:
        assert rgb is not None and rgb.shape == (HEIGHT, WIDTH, 3) and rgb.dtype == np.uint8
    else:
        assert rgb is None
    # the same from a uint8 array of the bytes
    from_array = decode_rgb(np.frombuffer(content, np.uint8))
    assert (from_array is None) == (rgb is None)


@pytest.mark.parametrize(("data", "decodes"), [
    pytest.param(data, decodes, id=case) for case, data, decodes in DECODE_CASES
    if data().startswith(b"\xff\xd8")])
@pytest.mark.usefixtures("grey_filling_decoder")
def test_a_jpeg_cut_short_is_refused_whatever_opencv_does(data: Callable[[], bytes],
                                                          decodes: bool) -> None:
    # OpenCV 4.x decodes a baseline JPEG cut short, grey where its data is missing; the
    # refusal is synthgen's own, so it holds with any OpenCV.
    assert (decode_rgb(data()) is not None) == decodes


def test_the_thumbnail_case_holds_an_eoi_before_its_cut_scan() -> None:
    # What the case tests: a search for EOI from the file's start (or from the thumbnail's
    # own scan) would find one.
    data = dict((case, make) for case, make, _ in DECODE_CASES)["exif-thumbnail-cut-mid-scan"]()
    main_scan = scan_start(data, last=True)
    assert b"\xff\xd9" in data[:main_scan] and b"\xff\xd9" not in data[main_scan:]


def big_header_jpeg() -> bytes:
    """A JPEG whose segments before its scan (two 60 KB comments) run past the first
    64 KB a header check reads."""
    data = jpeg()
    comment = b"\xff\xfe" + (60_002).to_bytes(2, "big") + b"c" * 60_000
    return data[:2] + comment * 2 + data[2:]


@pytest.mark.parametrize("window", ["default", "tiny"])
@pytest.mark.parametrize("data", [
    pytest.param(data, id=case) for case, data, _ in [
        *DECODE_CASES, ("big-header", big_header_jpeg, True),
        ("big-header-cut-mid-scan",
         cut(big_header_jpeg, lambda d: (scan_start(d) + len(d)) // 2), False),
        ("eoi-across-the-tail", lambda: jpeg() + b"\0" * 4095, True)]])
def test_read_header_finds_what_decode_rgb_refuses_as_cut_short(
        monkeypatch: pytest.MonkeyPatch, data: Callable[[], bytes], window: str) -> None:
    # A reader of sizes (validate, real import) and the decoder agree on which JPEGs and
    # PNGs are whole; with a tiny head and tail the file check takes its longer paths.
    if window == "tiny":
        monkeypatch.setattr(images, "_HEADS", (16, 64, 256))
        monkeypatch.setattr(images, "_BLOCK", 8)
    content = data()
    try:
        header = read_header(io.BytesIO(content))
    except CutShortError:
        assert decode_rgb(content) is None
        return
    except (OSError, ValueError, EOFError):  # not identified, or its header broken
        return
    if content.startswith((b"\xff\xd8", b"\x89PNG")):
        assert decode_rgb(content) is not None
        assert (header.width, header.height) == (WIDTH, HEIGHT)


def _png_with(chunk_type: bytes, edit: Callable[[bytearray, int, int], None]) -> bytes:
    """:func:`png` with its first ``chunk_type`` chunk edited: ``edit(data, start, end)``
    of the chunk's data (its CRC left as it was)."""
    data = bytearray(png())
    pos = data.find(chunk_type) - 4
    length = int.from_bytes(data[pos:pos + 4], "big")
    edit(data, pos + 8, pos + 8 + length)
    return bytes(data)


def _flip(data: bytearray, start: int, end: int) -> None:
    data[(start + end) // 2] ^= 0xFF


def _with_plte(palette_image: bool, crc_flip: int = 1) -> bytes:
    """A PNG with a PLTE chunk whose CRC is wrong: a palette image's (libpng refuses it)
    or a true-colour image's suggested palette (libpng warns and decodes)."""
    image = Image.fromarray(photo())
    buffer = io.BytesIO()
    (image.convert("P", palette=Image.Palette.ADAPTIVE) if palette_image
     else image).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    if not palette_image:  # a suggested palette after IHDR, with a right CRC first
        body = b"PLTE" + bytes(range(48))
        chunk = (48).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
        data[33:33] = chunk
    pos = data.find(b"PLTE") - 4
    end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")
    data[end - 1] ^= crc_flip
    return bytes(data)


def _text_chunk_bad_crc() -> bytes:
    """:func:`png` with a tEXt chunk (ancillary) whose CRC is wrong, after IHDR."""
    data = png()
    text = b"tEXt" + b"Comment\0synthgen"
    chunk = len(text[4:]).to_bytes(4, "big") + text + (zlib.crc32(text) ^ 1).to_bytes(4, "big")
    return data[:33] + chunk + data[33:]


@pytest.mark.parametrize(("data", "decodes"), [
    pytest.param(lambda: _png_with(b"IDAT", _flip), False, id="idat-byte-flipped"),
    pytest.param(lambda: _png_with(b"IHDR", _flip), False, id="ihdr-byte-flipped"),
    # libpng only warns of IEND's CRC and of an ancillary chunk's, and decodes the
    # image: so do we
    pytest.param(lambda: _png_with(b"IEND", lambda d, s, e: d.__setitem__(
        slice(e, e + 1), bytes([d[e] ^ 1]))), True, id="iend-crc-wrong"),
    pytest.param(_text_chunk_bad_crc, True, id="ancillary-crc-wrong"),
    pytest.param(lambda: _with_plte(palette_image=True), False, id="palette-plte-crc-wrong"),
    pytest.param(lambda: _with_plte(palette_image=False), True, id="rgb-plte-crc-wrong"),
    pytest.param(png, True, id="intact"),
])
def test_a_png_failing_its_crc_is_refused_without_libpng_printing(
        capfd: pytest.CaptureFixture[str], data: Callable[[], bytes], decodes: bool) -> None:
    """Refused as before, but before libpng sees it: its "libpng error: IDAT: CRC error"
    was a line on stderr before a command's Error: line."""
    content = data()
    capfd.readouterr()
    rgb = decode_rgb(content)
    assert (rgb is not None) == decodes
    if decodes and "PLTE" not in content[:200].decode("latin-1"):
        assert np.array_equal(rgb, decode_rgb(png()))
    elif not decodes:
        assert "libpng" not in capfd.readouterr().err


def test_read_rgb_refuses_a_jpeg_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg()[:-2])
    assert read_rgb(path) is None


def test_decode_as_shown_applies_the_exif_orientation() -> None:
    # --look-like's frames, shown as a viewer shows them: a quarter turn swaps the sides.
    turned = decode_rgb(oriented_jpeg(6), as_shown=True)
    assert turned is not None and turned.shape == (WIDTH, HEIGHT, 3)
    assert_as_stored(decode_rgb(oriented_jpeg(1), as_shown=True))


def test_a_fifo_or_a_missing_file_is_none(tmp_path: Path) -> None:
    assert read_rgb(tmp_path / "missing.png") is None
    assert read_rgb(tmp_path) is None
    fifo = tmp_path / "fifo.png"
    try:
        os.mkfifo(fifo)
    except (AttributeError, OSError):
        pytest.skip("no FIFOs here")
    assert read_rgb(fifo) is None  # returns at once: never opened for reading


def encoded(image_format: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(buffer, image_format)
    return buffer.getvalue()


def broken_exif_jpeg() -> bytes:
    """An orientation-6 JPEG whose EXIF says a tag's data runs past the block's end."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "x" * 100
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((HEIGHT, WIDTH, 3), np.uint8)).save(buffer, "JPEG", exif=exif)
    data = bytearray(buffer.getvalue())
    entry = data.find(b"Exif\0\0") + 6 + 8 + 2 + 12  # the second IFD entry: orientation
    data[entry + 4:entry + 8] = b"\x00\x00\xff\x00"  # its count: 65280 values
    return bytes(data)


#: A DDS header whose pixel format flags (153) Pillow's plugin does not know.
BAD_DDS = ("444453207c0000000f100000280000003200000096000000003300000000000000cb0000da00"
           "0000000000000000000000000000000000000000000000000000000000000000000000000000"
           "00200000009900000000000000180000000000ff0000ff0000ff000000000000000010000000"
           "000000000000000000000000000000000000")

def png_chunks(data: bytes) -> list[bytes]:
    """A PNG's chunks, whole (length, type, data, CRC), after its signature."""
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        chunks.append(data[pos:pos + 12 + length])
        pos += 12 + length
    return chunks


def exif_after_idat(data: bytes) -> bytes:
    """The PNG ``data`` with its eXIf chunk moved to just before IEND."""
    chunks = png_chunks(data)
    exif = [c for c in chunks if c[4:8] == b"eXIf"]
    rest = [c for c in chunks if c[4:8] != b"eXIf"]
    return data[:8] + b"".join(rest[:-1] + exif + rest[-1:])


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def with_thumbnail_chunk(data: bytes) -> bytes:
    """A PNG holding a whole PNG (its IEND among its bytes) in a private chunk before its
    image data, as a thumbnail in a metadata chunk is."""
    chunks = png_chunks(data)
    return data[:8] + chunks[0] + png_chunk(b"thUm", encoded("PNG")) + b"".join(chunks[1:])


def mpo(parts: int = 2) -> bytes:
    """A JPEG whose MP index lists ``parts`` pictures: Pillow calls it MPO."""
    buffer = io.BytesIO()
    image = Image.fromarray(photo())
    image.save(buffer, "MPO", save_all=True, append_images=[image] * (parts - 1))
    return buffer.getvalue()


# (case, file bytes, expected header, or the exception read_header raises)
HEADER_CASES: list[tuple[str, Callable[[], bytes], ImageHeader | type[Exception]]] = [
    # every format --look-like takes, and GIF: the size as stored
    ("png", lambda: encoded("PNG"), ImageHeader(WIDTH, HEIGHT, False)),
    ("jpeg", lambda: encoded("JPEG"), ImageHeader(WIDTH, HEIGHT, False)),
    ("bmp", lambda: encoded("BMP"), ImageHeader(WIDTH, HEIGHT, False)),
    ("tiff", lambda: encoded("TIFF"), ImageHeader(WIDTH, HEIGHT, False)),
    ("webp", lambda: encoded("WEBP"), ImageHeader(WIDTH, HEIGHT, False)),
    ("gif", lambda: encoded("GIF"), ImageHeader(WIDTH, HEIGHT, False)),
    # EXIF orientations: 1-4 keep the sides (mirrors, half turn), 5-8 turn a quarter; the
    # size stays the stored one either way
    *[(f"exif-{o}", lambda o=o: oriented_jpeg(o), ImageHeader(WIDTH, HEIGHT, o >= 5))
      for o in range(1, 9)],
    # Pillow cannot parse the orientation: nothing is turned
    ("broken-exif", broken_exif_jpeg, ImageHeader(WIDTH, HEIGHT, False)),
    # the header is whole, the pixels cut: not a whole image, whatever its header says
    ("truncated-pixels", lambda: oriented_jpeg(6)[:-100], CutShortError),
    ("jpeg-without-eoi", lambda: encoded("JPEG")[:-2], CutShortError),
    ("png-without-iend", lambda: encoded("PNG")[:-12], CutShortError),
    ("png-cut-in-iend", lambda: encoded("PNG")[:-1], CutShortError),
    # bytes after the end marker: whole (a camera's trailer, longer than the tail read)
    ("jpeg-long-trailer", lambda: encoded("JPEG") + bytes(20_000),
     ImageHeader(WIDTH, HEIGHT, False)),
    ("png-trailer", lambda: encoded("PNG") + b"trailer", ImageHeader(WIDTH, HEIGHT, False)),
    # an IEND holding data (invalid, but decoders read the image before it): whole when
    # that data is there, cut short when not
    ("png-iend-with-data", lambda: encoded("PNG")[:-12] + png_chunk(b"IEND", b"data"),
     ImageHeader(WIDTH, HEIGHT, False)),
    ("png-iend-with-data-cut", lambda: (encoded("PNG")[:-12] + png_chunk(b"IEND", b"data"))[:-6],
     CutShortError),
    # an IEND whose CRC is wrong: decoders read the image whole
    ("png-bad-iend-crc", lambda: encoded("PNG")[:-4] + bytes(4), ImageHeader(WIDTH, HEIGHT, False)),
    # an IEND inside a chunk (a thumbnail's) is not the file's
    ("png-thumbnail-cut", lambda: cut(lambda: with_thumbnail_chunk(encoded("PNG")),
                                      lambda d: len(d) - 30)(), CutShortError),
    ("png-thumbnail", lambda: with_thumbnail_chunk(encoded("PNG")),
     ImageHeader(WIDTH, HEIGHT, False)),
    # a JPEG Pillow calls MPO (several pictures): checked as a JPEG
    ("mpo", mpo, ImageHeader(WIDTH, HEIGHT, False)),
    ("mpo-cut", lambda: mpo()[:len(mpo()) // 3], CutShortError),
    # over Pillow's decompression-bomb warning (89 MP) and error (179 MP) limits: read,
    # neither warned nor refused (a header decodes nothing)
    ("100-megapixels", lambda: declared_png(10_000, 10_000), ImageHeader(10_000, 10_000, False)),
    ("400-megapixels", lambda: declared_png(20_000, 20_000), ImageHeader(20_000, 20_000, False)),
    ("4-gigapixels", lambda: declared_png(65_535, 65_535), ImageHeader(65_535, 65_535, False)),
    # a format whose opening allocates the frame stays under Pillow's limits: refused, not
    # gigabytes allocated
    ("gif-4-gigapixels", lambda: disposed_gif(65_535, 65_535), Image.DecompressionBombError),
    # not an image at all
    ("empty", lambda: b"", UnidentifiedImageError),
    ("text", lambda: b"frames from the test drive\n", UnidentifiedImageError),
    ("png-signature-only", lambda: encoded("PNG")[:8], UnidentifiedImageError),
    # a header cut short: Pillow's "Truncated File Read"
    ("jpeg-cut-in-header", lambda: oriented_jpeg(1)[:40], OSError),
    # a plugin failing otherwise (DDS: NotImplementedError on unknown pixel format flags)
    # is an OSError, which every reader words
    ("dds-unknown-pixel-format", lambda: bytes.fromhex(BAD_DDS) + bytes(32), OSError),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(data, expected, id=case)
                                                  for case, data, expected in HEADER_CASES])
def test_read_header(tmp_path: Path, data: Callable[[], bytes],
                     expected: ImageHeader | type[Exception]) -> None:
    content = data()
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow's own warnings (a corrupt EXIF block) are expected; a bomb warning is not.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if isinstance(expected, ImageHeader):
            handle = io.BytesIO(content)
            handle.seek(5)  # read from the start wherever the handle stands
            assert read_header(handle, exif=True) == expected
            assert not handle.closed  # left open: the caller reads on
            # Without exif=True the orientation is not read.
            plain = ImageHeader(expected.width, expected.height)
            assert read_header(io.BytesIO(content)) == plain
            path = tmp_path / "image"
            path.write_bytes(content)
            assert read_header(path) == plain
        else:
            with pytest.raises(expected):
                read_header(io.BytesIO(content), exif=True)
    assert Image.MAX_IMAGE_PIXELS == limit  # Pillow's global is put back


@pytest.mark.parametrize("data", [
    pytest.param(data, id=case) for case, data, expected in HEADER_CASES
    # (over the bomb limits, a plugin's odd error and a file cut short after its header,
    # read_header differs on purpose)
    if not case.endswith(("megapixels", "gigapixels")) and not case.startswith("dds")
    and expected is not CutShortError])
def test_read_header_reads_as_pillow_opens_under_its_limits(data: Callable[[], bytes]) -> None:
    # An oracle: within Pillow's decompression-bomb limits (over them read_header differs
    # on purpose), the same size, or the same error and message (but for Pillow's "cannot
    # identify", which names the file object), as Image.open.
    content = data()
    warnings.simplefilter("ignore", UserWarning)  # a corrupt EXIF block, both ways
    try:
        with Image.open(io.BytesIO(content)) as image:
            opened: tuple[int, int] | Exception = image.size
    except Exception as exc:  # noqa: BLE001 - compared below
        opened = exc
    try:
        header = read_header(io.BytesIO(content))
        read: tuple[int, int] | Exception = (header.width, header.height)
    except Exception as exc:  # noqa: BLE001 - compared below
        read = exc
    if isinstance(opened, UnidentifiedImageError):
        assert isinstance(read, UnidentifiedImageError)
    elif isinstance(opened, Exception):
        assert (type(read), str(read)) == (type(opened), str(opened))
    else:
        assert read == opened


def test_read_header_of_a_path_opens_regular_files_only(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_header(tmp_path / "missing.png")
    with pytest.raises(NotRegularFileError):
        read_header(tmp_path)
    fifo = tmp_path / "fifo.png"
    try:
        os.mkfifo(fifo)
    except (AttributeError, OSError):
        pytest.skip("no FIFOs here")
    with pytest.raises(NotRegularFileError):
        read_header(fifo)  # returns at once: never opened for reading


# --------------------------------------------------------------------------- orientation


ORIENTATION_CASES = [
    # (case, bytes, whether the orientation is reset)
    *[(f"{fmt.lower()}-{o}-{'ii' if little else 'mm'}",
       lambda fmt=fmt, o=o, little=little: oriented(fmt, o, little=little), o != 1)
      for fmt in ("JPEG", "PNG") for o in range(1, 9) for little in (False, True)],
    ("png-exif-prefix", lambda: oriented("PNG", 6, prefix=True), True),
    # stored as another integer type: read (and turned) by Pillow and OpenCV alike
    *[(f"jpeg-type-{kind}-{'ii' if little else 'mm'}",
       lambda kind=kind, little=little: oriented("JPEG", 6, little=little, kind=kind), True)
      for kind in (4, 8, 9) for little in (False, True)],
    # a PNG's eXIf after its image data: OpenCV and Pillow apply it there too
    ("png-exif-after-idat", lambda: exif_after_idat(oriented("PNG", 6)), True),
    # values no reader applies: left alone
    ("jpeg-0", lambda: oriented("JPEG", 0), False),
    ("jpeg-9", lambda: oriented("JPEG", 9), False),
    ("pillow-exif", lambda: oriented_jpeg(8), True),
    # nothing to reset: no EXIF, another format, not an image
    ("jpeg-no-exif", lambda: encoded("JPEG"), False),
    ("png-no-exif", lambda: encoded("PNG"), False),
    ("webp", lambda: encoded("WEBP"), False),
    ("text", lambda: b"not an image", False),
    # an EXIF block Pillow cannot parse (a tag's data past its end), whose orientation
    # OpenCV still applies: reset too
    ("broken-exif", broken_exif_jpeg, True),
]


@pytest.mark.filterwarnings("ignore:Tag data larger than file")  # Pillow, broken-exif
@pytest.mark.parametrize(("data", "reset"), [pytest.param(data, reset, id=case)
                                             for case, data, reset in ORIENTATION_CASES])
def test_orientation_reset_changes_the_orientation_only(data: Callable[[], bytes],
                                                        reset: bool) -> None:
    content = data()
    out = images.orientation_reset(content)
    if not reset:
        assert out is None
        return
    assert out is not None and len(out) == len(content)
    # two bytes differ (a PNG's chunk CRC too), the pixels are the same
    assert 1 <= sum(a != b for a, b in zip(out, content, strict=True)) <= 6
    assert np.array_equal(decode_rgb(out), decode_rgb(content))
    with Image.open(io.BytesIO(out)) as image:
        image.load()  # a PNG chunk with a wrong CRC would fail here
        if data is not broken_exif_jpeg:
            assert image.getexif().get(0x0112) == 1
    # a reader that applies the orientation (OpenCV's default) sees the frame as stored
    assert np.array_equal(decode_rgb(out, as_shown=True), decode_rgb(content))
    assert images.orientation_reset(out) is None


def test_place_images_resets_orientations_and_links_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {"turned.jpg": oriented("JPEG", 6), "mirrored.png": oriented("PNG", 2),
             "upright.jpg": oriented("JPEG", 1), "plain.png": encoded("PNG")}
    for name, content in files.items():
        (src / name).write_bytes(content)
    out = tmp_path / "out"
    links = images.place_images([(src / name, f"sub/{name}") for name in files]
                                + [(src / "turned.jpg", "sub/turned.jpg")], out, copy=False)
    assert links == {"hardlink": 2, images.ORIENTATION_RESET: 2}
    for name, content in files.items():
        assert (src / name).read_bytes() == content  # the inputs are never written
        placed = out / "sub" / name
        assert read_header(placed, exif=True).exif_turned is False
        if name in ("turned.jpg", "mirrored.png"):
            assert placed.stat().st_ino != (src / name).stat().st_ino
            assert placed.read_bytes() == images.orientation_reset(content)
        else:
            assert placed.stat().st_ino == (src / name).stat().st_ino
    assert not [p for p in (out / "sub").iterdir() if p.name.startswith(".tmp-")]


def test_place_images_reads_a_header_longer_than_its_first_read(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(images, "_HEADS", (40,))
    (tmp_path / "a.jpg").write_bytes(oriented("JPEG", 6))
    (tmp_path / "b.png").write_bytes(oriented("PNG", 6))
    links = images.place_images([(tmp_path / "a.jpg", "a.jpg"), (tmp_path / "b.png", "b.png")],
                                tmp_path / "out", copy=True)
    assert links == {images.ORIENTATION_RESET: 2}
