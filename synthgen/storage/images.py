"""Reading image files: their size from the header, their pixels in the frame their labels
use.

Boxes in COCO and KITTI files, and the sizes :func:`read_header` reads from image headers,
refer to the pixel grid as stored in the file. A JPEG may carry an EXIF orientation that
viewers (and OpenCV's default decoder) apply, turning or mirroring the picture: its labels
would then point at other pixels, and a quarter turn swaps its width and height. Every
reader of labelled images decodes here, with the orientation ignored; the header says
whether the orientation turns the picture (:attr:`ImageHeader.exif_turned`) for the one
reader that shows frames as a viewer does, on purpose: `--look-like`, see
:mod:`synthgen.render.appearance` (it decodes here too, ``as_shown``).

**One decoder.** Every command that needs pixels decodes them with :func:`decode_rgb`
(OpenCV), or :func:`read_rgb` for a path, so an image one command reads is an image every
command reads. A file cut short is not an image: its pixels would be partly the decoder's
filler, lost data passed off as a photo. OpenCV 4.x decodes a baseline JPEG whose data
ends before its end-of-image marker, filling what is missing with grey (libjpeg only
warns on stderr), so :func:`decode_rgb` refuses such a JPEG itself
(:func:`jpeg_complete`). A PNG, WebP, BMP or TIFF cut short is refused by OpenCV itself
(4.10 and 5.1 checked; a PNG missing one byte of its end chunk too), as is a progressive
JPEG by 4.10 and any JPEG by 5.1. Readers that take an image's size without decoding
it (validate, real import) find a JPEG or PNG cut short from its header too:
:func:`read_header` looks for its end marker in its last bytes (:class:`CutShortError`).

**Decompression bombs.** Opening a PNG, JPEG, BMP, TIFF or WebP reads its header and
decodes nothing, so :func:`read_header` applies no pixel limit to those: Pillow's guard (a
``DecompressionBombWarning`` over ``Image.MAX_IMAGE_PIXELS``, about 89 megapixels, and a
``DecompressionBombError`` over twice that) is not run, the global being lifted for the
moment of the call, under a lock (see :func:`_open_unchecked`). Any other format is opened
under Pillow's limits: opening some allocates a whole frame (a GIF whose first frame is
disposed to the background: 43 bytes can declare a 4-gigapixel frame). The size limits
that matter are the callers' own, checked on the width and height the header gives:
`--look-like` and `--sprites` refuse frames over
:data:`synthgen.render.appearance.MAX_FRAME_PIXELS`, `export`'s blackout (the one
command that decodes every image it writes) those over
:data:`synthgen.formats.export.MAX_BLACKOUT_PIXELS`; validate and real import take any
size. :func:`decode_rgb` itself has OpenCV's limit only: a header declaring over 2**30
pixels is not decoded (``None``), nor is a frame OpenCV cannot allocate; a few bytes
declaring a large frame under that limit are found cut short (``None``) without the
frame's memory being touched.
"""

from __future__ import annotations

import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from synthgen.errors import OutputError
from synthgen.storage.files import link_files, open_regular, write_bytes_atomic

#: EXIF orientations that turn a picture a quarter: shown, its width is its stored height.
TURNED_ORIENTATIONS = frozenset({5, 6, 7, 8})
#: The EXIF tag of the orientation.
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says.

    Attributes:
        width: Pixels per row, as stored.
        height: Rows, as stored.
        exif_turned: Its EXIF orientation (5 to 8) turns it a quarter when shown, so a
            viewer shows it ``height`` wide; false without EXIF, or with a broken one;
            ``None`` unless asked for (``read_header(..., exif=True)``).
    """

    width: int
    height: int
    exif_turned: bool | None = None


def read_header(source: BinaryIO | str | os.PathLike[str], *,
                exif: bool = False) -> ImageHeader:
    """The size of an image, and whether its EXIF turns it, from its header; and whether
    a JPEG or PNG is whole (its end marker there, read from the file's last bytes).

    Identifies the file with :func:`PIL.Image.open`, without its decompression-bomb
    check for the formats whose header is all it reads: see the module's docstring.

    Args:
        source: A file open for binary reading (read from its start; left open), or a
            path, opened only if it is a regular file
            (:func:`synthgen.storage.files.open_regular`).
        exif: Also read the EXIF orientation (``exif_turned``); a reader of labelled
            images ignores it. (Pillow's JPEG reader parses EXIF when it opens a file
            and may warn, ``UserWarning``, about a corrupt block either way.)

    Raises:
        PIL.UnidentifiedImageError: No image format Pillow knows (an ``OSError``); its
            message names the file object, so callers word their own.
        synthgen.storage.files.NotRegularFileError: ``source`` is a path to a FIFO, a
            folder, a device or a socket.
        CutShortError: A JPEG or PNG cut short (its end marker missing): the header
            of an image that is not whole (an ``OSError``).
        OSError: The file cannot be opened or read, or its header is broken.
        ValueError: A broken header, or a path holding a NUL character.
        EOFError: Some formats' headers, cut short.
        PIL.Image.DecompressionBombError: A format other than those above whose frame
            is over twice Pillow's pixel limit.
    """
    if isinstance(source, (str, os.PathLike)):
        with open_regular(source) as handle:
            return read_header(handle, exif=exif)
    with _open_unchecked(source) as image:
        width, height, image_format = *image.size, image.format
        turned = None
        if exif:
            try:
                # Read only when the header holds it ("exif" in info): otherwise Pillow
                # loads the pixels looking for it (a PNG's eXIf after its data).
                turned = ("exif" in image.info
                          and image.getexif().get(_ORIENTATION) in TURNED_ORIENTATIONS)
            except Exception:  # noqa: BLE001 - a broken EXIF block (any error of its parser) turns nothing
                turned = False
    _check_whole(source, image_format)
    return ImageHeader(width, height, turned)


#: Held while Pillow's pixel limit is lifted (see :func:`_open_unchecked`).
_LIMIT_LIFTED = threading.Lock()


#: Formats whose opening reads the header only (no frame is decoded): opened without
#: Pillow's pixel limit. The suffixes synthgen reads images by are all here.
HEADER_ONLY_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")


def _open_unchecked(handle: BinaryIO) -> ImageFile.ImageFile:
    """``Image.open(handle)``, without its decompression-bomb check when the file is of
    one of :data:`HEADER_ONLY_FORMATS`, with it for the other formats, each tried once.

    The check reads the module global ``Image.MAX_IMAGE_PIXELS`` inside ``Image.open``
    and has no switch of its own, so the limit is lifted for the first call, under a
    lock, and put back before the second: synthgen reads headers in one thread, and a
    reader that called ``Image.open`` meanwhile from another would find no limit for
    that moment. A plugin's error other than those a reader expects (a corrupt DDS raises
    ``NotImplementedError``) is raised as an ``OSError`` naming it.
    """
    handle.seek(0)
    Image.init()  # every plugin registered, so those this Pillow was built without are known
    formats = [name for name in HEADER_ONLY_FORMATS if name in Image.OPEN]
    with _LIMIT_LIFTED:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(handle, formats=formats)
        except UnidentifiedImageError:
            pass
        finally:
            Image.MAX_IMAGE_PIXELS = limit
        handle.seek(0)
        others = [name for name in Image.OPEN if name not in formats]
        try:
            return Image.open(handle, formats=others)
        except (OSError, ValueError, EOFError, Image.DecompressionBombError):
            raise
        except Exception as exc:  # noqa: BLE001 - any other plugin failure: not readable
            raise OSError(f"{type(exc).__name__}: {exc}") from exc


#: JPEG markers with no length after them: TEM, RST0-RST7 and SOI.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})
_SOS, _EOI = 0xDA, b"\xff\xd9"
_FILL = re.compile(rb"\xff+")


def jpeg_complete(data: bytes) -> bool:
    """Whether the JPEG ``data`` holds its whole compressed image: an end-of-image marker
    (EOI) after the start of its first scan.

    The segments from the start-of-image marker to the first scan (SOS) are walked by
    their lengths (APPn, COM, DQT, DHT, SOFn, DRI...), so an EOI inside one (an EXIF
    thumbnail's, in APP1) does not count; from there one search, from the end back,
    finds the EOI: the compressed data writes a 0xFF byte as ``FF 00`` and its restart
    markers are ``FF D0``-``FF D7``, so ``FF D9`` there is the real end (the segments
    between a progressive JPEG's scans hold no ``FF D9`` in practice: Huffman tables
    cannot, only an odd quantisation table or comment could). Bytes after the EOI do not
    matter. A whole file costs microseconds (its EOI is its last bytes); one cut short,
    a search of its scan (about a millisecond per megabyte).

    Args:
        data: The file's bytes, from its start-of-image marker (``FF D8``).

    Returns:
        False for a JPEG cut anywhere before its EOI, or with no scan before it (not a
        JPEG a decoder reads whole). Bytes between segments that begin no marker are
        skipped, as libjpeg skips them (with a warning) and decodes the image whole.
    """
    scan = _first_scan(data)
    # From the end back: a whole file's EOI is its last two bytes.
    return scan >= 0 and data.rfind(_EOI, scan) != -1


def _segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """``(marker, position, length)`` of each segment of a JPEG that has a length, from its
    start-of-image marker to its first scan's SOS segment (the last yielded), ``position``
    that of the segment's ``FF``. Walked as libjpeg's next_marker does: bytes other than a
    marker before one are skipped (a warning, "extraneous bytes before marker"), as are
    fill bytes and ``FF 00``. Ends early where ``data`` ends or a segment is broken (a
    length under 2, an EOI before any scan)."""
    size = len(data)
    pos = 2  # after SOI
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0:
            return
        fill = _FILL.match(data, pos)
        pos = fill.end() - 1
        if pos + 1 >= size:
            return
        marker = data[pos + 1]
        if marker == 0x00 or marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker == _EOI[1] or pos + 4 > size:  # no scan, or cut in a length
            return
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return
        yield marker, pos, length
        if marker == _SOS:
            return
        pos += 2 + length


def _first_scan(data: bytes) -> int:
    """Where the compressed data of a JPEG's first scan starts (after its SOS segment),
    its segments walked as :func:`_segments` says; -1 when ``data`` ends before it or has
    no scan."""
    for marker, pos, length in _segments(data):
        if marker == _SOS:
            return pos + 2 + length
    return -1


#: What a file check reads of a JPEG at first from its start (to its first scan: a few
#: kilobytes, more with an EXIF thumbnail or an ICC profile) and from its end (its EOI).
_HEAD, _TAIL = 1 << 16, 1 << 12
#: A PNG's IEND chunk, whole: length 0, type, CRC.
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


class CutShortError(OSError):
    """An image file that ends before its end marker: not a whole image."""


def _check_whole(handle: BinaryIO, image_format: str | None) -> None:
    """Raise :class:`CutShortError` if the JPEG or PNG open in ``handle`` is cut short: a
    JPEG without its end-of-image marker after its first scan (:func:`jpeg_complete`),
    a PNG without its IEND chunk. Reads the file's start and its last kilobytes, the
    whole file only when those do not tell (a header of many segments, bytes after the
    end). Other formats are not checked here (OpenCV refuses them cut short, see the
    module's docstring)."""
    if image_format not in ("JPEG", "PNG"):
        return
    size = handle.seek(0, os.SEEK_END)
    if image_format == "PNG":
        handle.seek(max(0, size - len(_PNG_END)))
        if handle.read() == _PNG_END:
            return
        handle.seek(0)
        if handle.read().rfind(_PNG_END) == -1:
            raise CutShortError("cut short: no IEND chunk at its end")
        return
    handle.seek(0)
    head = handle.read(_HEAD)
    scan = _first_scan(head)
    if scan < 0 and len(head) < size:  # its segments go on past the head
        handle.seek(0)
        head = handle.read()
        scan = _first_scan(head)
    if scan >= 0:
        start = max(scan, size - _TAIL)
        handle.seek(start)
        if handle.read().rfind(_EOI) != -1:
            return
        if start > scan:  # bytes after the EOI, or an EOI across the tail's first byte
            handle.seek(scan)
            if handle.read().rfind(_EOI) != -1:
                return
    raise CutShortError("cut short: no end-of-image marker after its first scan")


def decode_rgb(data: bytes | np.ndarray, *, as_shown: bool = False) -> np.ndarray | None:
    """The pixels of an encoded image as ``HxWx3`` uint8 RGB, as stored (EXIF orientation
    ignored), or ``None`` if they are not a whole image OpenCV can decode.

    Args:
        data: The file's bytes (or a uint8 array of them).
        as_shown: Apply the EXIF orientation, as a viewer does: for `--look-like` only,
            whose frames carry no labels.

    Returns:
        The pixels; ``None`` for empty bytes, what OpenCV cannot decode (a PNG, WebP,
        BMP or TIFF cut short among them, or one over OpenCV's 2**30 pixels) and a JPEG
        cut before its end-of-image marker (:func:`jpeg_complete`), which some OpenCV
        versions decode with grey for what is missing.
    """
    raw = data.tobytes() if isinstance(data, np.ndarray) else data
    if not raw:  # cv2.imdecode raises on an empty buffer instead of returning None
        return None
    if raw.startswith(b"\xff\xd8") and not jpeg_complete(raw):
        return None
    flags = cv2.IMREAD_COLOR if as_shown else cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), flags)
    except cv2.error:
        return None
    # In place: one frame's memory, not two.
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)


def read_rgb(path: Path) -> np.ndarray | None:
    """An image file's pixels (see :func:`decode_rgb`), or ``None`` if it is missing, not
    a regular file (a FIFO would block, a device never end) or not a readable image."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    return decode_rgb(data)


# --- images placed in an output, their EXIF orientation reset -------------------------------

#: How many bytes of an image :func:`place_images` reads first to find its EXIF
#: orientation: a JPEG's segments up to its scan, a PNG's chunks up to its image data, in
#: most files (the whole file is read when they go on past them).
_ORIENTATION_HEAD = 1 << 12
#: The key of :func:`place_images`' count of images written with their orientation reset.
ORIENTATION_RESET = "orientation-reset copy"


@dataclass(frozen=True)
class _Orientation:
    """Where an image's EXIF orientation is: its two-byte value at ``at`` in the file,
    ``value``, little-endian or not; ``crc``: the span ``(start, end)`` a PNG chunk's CRC
    (at ``end``) is computed over, ``None`` in a JPEG."""

    at: int
    value: int
    little: bool
    crc: tuple[int, int] | None = None


def _tiff_orientation(data: bytes, start: int, end: int) -> tuple[int, int, bool] | None:
    """``(position, value, little-endian)`` of the orientation tag (0x0112) in the first
    IFD of the TIFF structure (EXIF) at ``data[start:end]``, or ``None`` (none, or broken)."""
    order = data[start:start + 2]
    if order not in (b"II", b"MM"):
        return None
    little = order == b"II"
    endian = "little" if little else "big"

    def number(at: int, size: int) -> int | None:
        if at < start or at + size > end:
            return None
        return int.from_bytes(data[at:at + size], endian)

    offset = number(start + 4, 4)
    count = None if offset is None else number(start + offset, 2)
    if count is None:
        return None
    for entry in range(start + offset + 2, start + offset + 2 + 12 * count, 12):
        tag, kind = number(entry, 2), number(entry + 2, 2)
        if tag is None or kind is None:
            return None
        if tag == _ORIENTATION:
            value = number(entry + 8, 2) if kind == 3 else None  # SHORT, left-justified
            return None if value is None else (entry + 8, value, little)
    return None


#: What :func:`_orientation` says of bytes that end before the image's header does.
_READ_MORE = "read more"


def _orientation(data: bytes) -> _Orientation | str | None:
    """Where the EXIF orientation of a JPEG (the first APP1 ``Exif`` segment, as Pillow
    reads it) or a PNG (an ``eXIf`` chunk before its image data) is; ``None`` when it has
    none (or another format); :data:`_READ_MORE` when ``data`` ends before its header
    does (segments up to the first scan, chunks up to the first image data)."""
    if data.startswith(b"\xff\xd8"):
        for marker, pos, length in _segments(data):
            if marker == 0xE1 and data.startswith(b"Exif\0\0", pos + 4):
                if pos + 2 + length > len(data):
                    return _READ_MORE
                found = _tiff_orientation(data, pos + 10, pos + 2 + length)
                return None if found is None else _Orientation(*found)
        return None if _first_scan(data) >= 0 else _READ_MORE
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    while True:
        if pos + 8 > len(data):
            return _READ_MORE
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, begin, end = data[pos + 4:pos + 8], pos + 8, pos + 8 + length
        if kind in (b"IDAT", b"IEND"):
            return None
        if end + 4 > len(data):
            return _READ_MORE
        if kind == b"eXIf":
            tiff = begin + 6 if data.startswith(b"Exif\0\0", begin) else begin
            found = _tiff_orientation(data, tiff, end)
            return None if found is None else _Orientation(*found, crc=(pos + 4, end))
        pos = end + 4


def orientation_reset(data: bytes) -> bytes | None:
    """``data`` (a JPEG or PNG) with its EXIF orientation set to 1 (as stored), every
    other byte the same (a PNG chunk's CRC computed again), or ``None`` when it has no
    orientation other than 1 (see :func:`_orientation`)."""
    found = _orientation(data)
    if not isinstance(found, _Orientation) or found.value == 1:
        return None
    out = bytearray(data)
    out[found.at:found.at + 2] = (1).to_bytes(2, "little" if found.little else "big")
    if found.crc is not None:
        start, end = found.crc
        out[end:end + 4] = zlib.crc32(out[start:end]).to_bytes(4, "big")
    return bytes(out)


def _reset_copy(source: Path) -> bytes | None:
    """The bytes of the image file ``source`` with its EXIF orientation reset, or ``None``
    when it has none to reset or cannot be read (it is then linked, and a file that cannot
    be read is reported there). Reads the file's start, and all of it only when its
    orientation is to be reset or its header runs on past that start."""
    try:
        with open_regular(source) as handle:
            # A few kilobytes, then a few hundred (a phone's EXIF with its thumbnail),
            # then the whole file, while the header runs on past what was read.
            for limit in (_ORIENTATION_HEAD, 64 * _ORIENTATION_HEAD, -1):
                handle.seek(0)
                data = handle.read(limit)
                found = _orientation(data)
                if found != _READ_MORE or len(data) < limit:
                    break
            if not isinstance(found, _Orientation) or found.value == 1:
                return None
            handle.seek(0)
            data = handle.read()
    except (OSError, ValueError):
        return None
    return orientation_reset(data)


def place_images(files: Iterable[tuple[Path, str]], folder: Path, *,
                 copy: bool) -> dict[str, int]:
    """Put each ``(source, name)`` image at ``folder / name`` as
    :func:`synthgen.storage.files.link_files` does, but for a JPEG or PNG whose EXIF
    orientation turns or mirrors it: that one is written as a copy with its orientation
    reset to 1 (:func:`orientation_reset`; its pixels and every other byte unchanged).

    Labels refer to an image as stored; a trainer that applies the orientation (OpenCV's
    ``imread``, detectron2, mmdetection, Ultralytics) would see it turned under them. With
    the orientation reset, every reader sees what the labels describe. The source is never
    written.

    Returns:
        How many files went each way, as ``link_files`` says, and
        :data:`ORIENTATION_RESET`: those written with their orientation reset.

    Raises:
        OutputError: A file could not be written.
    """
    links: Counter[str] = Counter()
    plain: list[tuple[Path, str]] = []
    done: set[str] = set()
    for source, name in files:
        if name in done:
            continue
        done.add(name)
        data = _reset_copy(source)
        if data is None:
            plain.append((source, name))
            continue
        target = folder / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, data)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write a copy of {source} "
                              f"({exc.strerror or exc})") from exc
        links[ORIENTATION_RESET] += 1
    links.update(link_files(plain, folder, copy=copy))
    return dict(sorted(links.items()))
