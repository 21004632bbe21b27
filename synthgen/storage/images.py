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
it (validate, real import) find a JPEG or PNG cut short too: :func:`read_header` looks
for its end marker without reading its pixels (:class:`CutShortError`: a JPEG's last
block, searched back to its first scan; a PNG's chunk headers, up to a whole IEND).

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

import hashlib
import io
import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
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
    a JPEG or PNG is whole (its end marker there, found without reading its pixels).

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
        width, height = image.size
        turned = None
        if exif:
            try:
                # Read only when the header holds it ("exif" in info): otherwise Pillow
                # loads the pixels looking for it (a PNG's eXIf after its data).
                turned = ("exif" in image.info
                          and image.getexif().get(_ORIENTATION) in TURNED_ORIENTATIONS)
            except Exception:  # noqa: BLE001 - a broken EXIF block (any error of its parser) turns nothing
                turned = False
    _check_whole(source)
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


#: How much of a JPEG's start a file check reads at first, then at most (each step only
#: while its segments run on past what was read), to find its first scan; and the blocks
#: it searches for an end marker in, from the file's end back.
_HEADS = (1 << 12, 1 << 16, 1 << 20)
_BLOCK = 1 << 16
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class CutShortError(OSError):
    """An image file that ends before its end marker: not a whole image."""


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    """``size`` bytes of the file from ``offset`` (fewer at its end): read where they
    are (a buffered read of a few bytes would read 8 KiB around them)."""
    try:
        fd = handle.fileno()
    except (AttributeError, OSError):  # in memory (io.BytesIO)
        handle.seek(offset)
        return handle.read(size)
    return os.pread(fd, size, offset)


def _jpeg_head(handle: BinaryIO, size: int, enough: Callable[[bytes], bool]) -> bytes:
    """The file's first bytes: 4 KB, 64 KB, 1 MB, then all of it, until ``enough`` of
    them are read (the segments it looks for are in them) or the file ends."""
    for limit in _HEADS:
        head = _read_at(handle, 0, limit)
        if len(head) >= size or enough(head):
            return head
    return _read_at(handle, 0, size)


def _found_after(handle: BinaryIO, size: int, start: int, marker: bytes) -> bool:
    """Whether ``marker`` is in the file at or after ``start``: searched in blocks from
    the end back (a whole file's end marker is in its last block; memory stays one block
    whatever follows it)."""
    end = size
    while end > start:
        begin = max(start, end - _BLOCK)
        # One byte more than the block: a marker across two blocks is found in the first.
        if _read_at(handle, begin, end - begin + len(marker) - 1).find(marker) != -1:
            return True
        end = begin
    return False


def _png_chunks(handle: BinaryIO, size: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, position, data length)`` of each chunk of a PNG whose header is in the
    file, from the first to IEND; their data is skipped, not read."""
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= size:
        header = _read_at(handle, pos, 8)
        length, kind = int.from_bytes(header[:4], "big"), header[4:]
        yield kind, pos, length
        if kind == b"IEND":
            return
        pos += 12 + length


def _check_whole(handle: BinaryIO) -> None:
    """Raise :class:`CutShortError` if the JPEG or PNG open in ``handle`` (told by its
    first bytes, as the decoder tells them) is cut short: a JPEG without an end-of-image
    marker after its first scan (:func:`jpeg_complete`), a PNG whose chunks end before a
    whole IEND chunk (its CRC not checked). Reads a JPEG's segments before its scan and
    its last block (more blocks back only when bytes follow its end), a PNG's chunk
    headers. Other formats are not checked here (OpenCV refuses them cut short, see the
    module's docstring)."""
    size = handle.seek(0, os.SEEK_END)
    magic = _read_at(handle, 0, len(_PNG_SIGNATURE))
    if magic.startswith(_PNG_SIGNATURE):
        # (An IEND holding data is invalid, but decoders read the image before it: whole
        # when that data and its CRC are there.)
        if not any(kind == b"IEND" and pos + 12 + length <= size
                   for kind, pos, length in _png_chunks(handle, size)):
            raise CutShortError("cut short: no IEND chunk at its end")
    elif magic.startswith(b"\xff\xd8"):
        scan = _first_scan(_jpeg_head(handle, size, lambda head: _first_scan(head) >= 0))
        if scan < 0 or not _found_after(handle, size, scan, _EOI):
            raise CutShortError("cut short: no end-of-image marker after its first scan")


def _png_chunks_intact(raw: bytes) -> bool:
    """Whether a PNG's chunks are whole up to its IEND and each chunk libpng refuses the
    image for has the CRC it records: IHDR, IDAT, and PLTE when the image is palette
    coloured (IHDR's colour type 3).

    libpng refuses such a PNG too, but first prints ``libpng error: IDAT: CRC error`` on
    the process's stderr, a line before the ``Error:`` line a command ends with; checked
    here (about 1 % of a decode's time), OpenCV never sees it. Other chunks' CRCs (IEND,
    a true-colour image's PLTE, ancillary chunks) are left alone: libpng only warns of
    them and decodes the image, as before.
    """
    view, size, pos = memoryview(raw), len(raw), len(_PNG_SIGNATURE)
    palette = False
    while pos + 12 <= size:
        length = int.from_bytes(raw[pos:pos + 4], "big")
        end = pos + 12 + length
        if end > size:
            return False
        kind = raw[pos + 4:pos + 8]
        if kind == b"IEND":
            return True
        if kind == b"IHDR" and length >= 10:
            palette = raw[pos + 8 + 9] == 3
        fatal = kind in (b"IHDR", b"IDAT") or (kind == b"PLTE" and palette)
        if fatal and zlib.crc32(view[pos + 4:end - 4]) != int.from_bytes(raw[end - 4:end],
                                                                         "big"):
            return False
        pos = end
    return False


def decode_rgb(data: bytes | np.ndarray, *, as_shown: bool = False) -> np.ndarray | None:
    """The pixels of an encoded image as ``HxWx3`` uint8 RGB, as stored (EXIF orientation
    ignored), or ``None`` if they are not a whole image OpenCV can decode.

    Args:
        data: The file's bytes (or a uint8 array of them).
        as_shown: Apply the EXIF orientation, as a viewer does: for `--look-like` only,
            whose frames carry no labels.

    Returns:
        The pixels; ``None`` for empty bytes, what OpenCV cannot decode (a PNG, WebP,
        BMP or TIFF cut short among them, or one over OpenCV's 2**30 pixels), a JPEG
        cut before its end-of-image marker (:func:`jpeg_complete`), which some OpenCV
        versions decode with grey for what is missing, and a PNG whose IHDR, IDAT
        or palette fails its CRC (refused before libpng prints of it).
    """
    raw = data.tobytes() if isinstance(data, np.ndarray) else data
    if not raw:  # cv2.imdecode raises on an empty buffer instead of returning None
        return None
    if raw.startswith(b"\xff\xd8") and not jpeg_complete(raw):
        return None
    if raw.startswith(_PNG_SIGNATURE) and not _png_chunks_intact(raw):
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

#: The key of :func:`place_images`' count of images written with their orientation reset.
ORIENTATION_RESET = "orientation-reset copy"
#: TIFF field types an orientation may be stored as (SHORT, LONG, SSHORT, SLONG), and
#: their sizes: readers take any of them.
_INTEGER_TYPES = {3: 2, 4: 4, 8: 2, 9: 4}


def _tiff_orientation(data: bytes, base: int) -> tuple[int, int, int, bool] | None:
    """``(position, value, size, little-endian)`` of the orientation (tag 0x0112) in the
    first IFD of the TIFF structure (EXIF) ``data``, position counted from ``base``; or
    ``None`` (none, or broken)."""
    order = data[:2]
    if order not in (b"II", b"MM"):
        return None
    little = order == b"II"
    endian = "little" if little else "big"

    def number(at: int, size: int) -> int | None:
        return int.from_bytes(data[at:at + size], endian) if at + size <= len(data) else None

    offset = number(4, 4)
    count = None if offset is None else number(offset, 2)
    if offset is None or count is None:
        return None
    for entry in range(offset + 2, offset + 2 + 12 * count, 12):
        tag, kind, values = number(entry, 2), number(entry + 2, 2), number(entry + 4, 4)
        if tag is None or kind is None or values is None:
            return None
        if tag == _ORIENTATION:
            # Read in place whatever its count says, as OpenCV reads it (Pillow gives up
            # on a count the block cannot hold; OpenCV still turns the picture).
            width = _INTEGER_TYPES.get(kind)
            value = number(entry + 8, width) if width and values >= 1 else None
            return None if value is None else (base + entry + 8, value, width, little)
    return None


@dataclass(frozen=True)
class _Orientation:
    """An image's EXIF orientation: ``value``, stored in ``size`` bytes at ``at`` in the
    file (little-endian or not); in a PNG, the ``(start, end)`` its chunk's CRC (at
    ``end``) is computed over."""

    at: int
    value: int
    size: int
    little: bool
    crc: tuple[int, int] | None = None


def _orientation(handle: BinaryIO) -> _Orientation | None:
    """The EXIF orientation of the JPEG (its first APP1 ``Exif`` segment, as Pillow and
    OpenCV read it) or PNG (its first ``eXIf`` chunk, before or after the image data)
    open in ``handle``, told by its first bytes; ``None`` when it has none or another
    format. Reads a JPEG's segments before its scan (as far as its EXIF), a PNG's chunk
    headers and its eXIf chunk."""
    size = handle.seek(0, os.SEEK_END)
    magic = _read_at(handle, 0, len(_PNG_SIGNATURE))
    if magic.startswith(_PNG_SIGNATURE):
        for kind, pos, length in _png_chunks(handle, size):
            if kind == b"eXIf":
                if pos + 12 + length > size:  # cut, or a length no file holds
                    return None
                data = _read_at(handle, pos + 8, length)
                skip = 6 if data.startswith(b"Exif\0\0") else 0
                found = _tiff_orientation(data[skip:], pos + 8 + skip)
                return (None if found is None
                        else _Orientation(*found, crc=(pos + 4, pos + 8 + length)))
        return None
    if not magic.startswith(b"\xff\xd8"):
        return None

    def exif(head: bytes) -> tuple[int, int] | None:
        """Where the first Exif segment's TIFF structure starts and ends, if it is there."""
        for marker, pos, length in _segments(head):
            if marker == 0xE1 and head.startswith(b"Exif\0\0", pos + 4):
                return pos + 10, pos + 2 + length
        return None

    def enough(head: bytes) -> bool:  # the Exif segment read whole, or none before the scan
        span = exif(head)
        return span[1] <= len(head) if span is not None else _first_scan(head) >= 0

    head = _jpeg_head(handle, size, enough)
    span = exif(head)
    if span is None or span[1] > len(head):
        return None
    found = _tiff_orientation(head[span[0]:span[1]], span[0])
    return None if found is None else _Orientation(*found)


def _reset_patches(handle: BinaryIO) -> list[tuple[int, bytes]]:
    """The bytes to write where, in the JPEG or PNG open in ``handle``, to set its EXIF
    orientation to 1 (as stored): its value, and a PNG chunk's CRC; none when it has no
    orientation that turns or mirrors it (2 to 8: readers ignore other values)."""
    found = _orientation(handle)
    if found is None or not 2 <= found.value <= 8:
        return []
    value = (1).to_bytes(found.size, "little" if found.little else "big")
    patches = [(found.at, value)]
    if found.crc is not None:
        start, end = found.crc
        chunk = bytearray(_read_at(handle, start, end - start))
        chunk[found.at - start:found.at - start + found.size] = value
        patches.append((end, zlib.crc32(chunk).to_bytes(4, "big")))
    return patches


def _patched(data: bytes, patches: Iterable[tuple[int, bytes]], offset: int = 0) -> bytes:
    """``data`` (the file's bytes from ``offset``) with ``patches`` written over it."""
    out = bytearray(data)
    for at, value in patches:
        lo, hi = max(at, offset), min(at + len(value), offset + len(out))
        if lo < hi:
            out[lo - offset:hi - offset] = value[lo - at:hi - at]
    return bytes(out)


def orientation_reset(data: bytes) -> bytes | None:
    """``data`` (a JPEG or PNG) with its EXIF orientation set to 1 (as stored), every
    other byte the same but a PNG chunk's CRC, computed again; ``None`` when it has no
    orientation that turns or mirrors it."""
    patches = _reset_patches(io.BytesIO(data))
    return _patched(data, patches) if patches else None


def image_digests(path: Path, head: int | None = None) -> tuple[str, str]:
    """The SHA-256 (hex) of an image file as a copy with its EXIF orientation reset would
    hold it (:func:`orientation_reset`), and of its bytes as they are; the same for a file
    with no orientation to reset. What identifies a photo, whether or not it went through
    :func:`place_images`. With ``head``, of its first ``head`` bytes only.

    Raises:
        OSError: The file cannot be read, or is not a regular file.
    """
    identity, raw = hashlib.sha256(), hashlib.sha256()
    with open_regular(path) as handle:
        patches = _reset_patches(handle)
        handle.seek(0)
        offset, left = 0, head
        while chunk := handle.read(1 << 20 if left is None else min(left, 1 << 20)):
            raw.update(chunk)
            identity.update(_patched(chunk, patches, offset) if patches else chunk)
            offset += len(chunk)
            if left is not None:
                left -= len(chunk)
    return identity.hexdigest(), raw.hexdigest()


def orientation_identity(path: Path) -> str | None:
    """The first of :func:`image_digests` for an image file with an orientation to reset,
    ``None`` for any other file or one that cannot be read (its header read only)."""
    try:
        with open_regular(path) as handle:
            if not _reset_patches(handle):
                return None
        return image_digests(path)[0]
    except (OSError, ValueError):
        return None


def _reset_copy(source: Path) -> bytes | None:
    """The bytes of the image file ``source`` with its EXIF orientation reset, or ``None``
    when it has none to reset or cannot be read (it is then linked, and a file that cannot
    be read is reported there). Reads the whole file only when it is to be copied."""
    try:
        with open_regular(source) as handle:
            patches = _reset_patches(handle)
            if not patches:
                return None
            handle.seek(0)
            return _patched(handle.read(), patches)
    except (OSError, ValueError):
        return None


def place_images(files: Iterable[tuple[Path, str]], folder: Path, *,
                 copy: bool) -> dict[str, int]:
    """Put each ``(source, name)`` image at ``folder / name`` as
    :func:`synthgen.storage.files.link_files` does, but for a JPEG or PNG whose EXIF
    orientation turns or mirrors it: that one is written as a copy with its orientation
    reset to 1 (:func:`orientation_reset`; its pixels and every other byte unchanged but
    a PNG chunk's CRC).

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
