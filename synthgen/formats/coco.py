"""COCO export: small functions returning dicts, a streaming writer, and its reader.

A label's boxes (:class:`~synthgen.formats.boxes.Box`, pixel edges) are written as COCO's
``[x, y, width, height]`` here, by :meth:`~synthgen.formats.boxes.Box.to_xywh`. Ignore
regions (objects too small, too occluded or too faint to be boxed: see
:mod:`synthgen.labels`) are written as COCO crowd annotations, ``iscrowd: 1`` with their
mask. Category ids are synthgen's fixed 1-based ids.
:func:`write_coco` streams images and annotations from an iterable of per-image records,
so a dataset of any size is written without holding its annotations in memory; and
:func:`stream_top_level` reads such a file back one entry at a time (``merge`` and
``generate``, reopening a finished folder, read ``annotations.json`` files with it), where
:func:`synthgen.formats.dataset.load_dataset` loads a whole COCO file to check and index it.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from synthgen import __version__
from synthgen.categories import CATEGORY_ID, coco_categories
from synthgen.errors import DatasetError
from synthgen.storage.files import atomic_writer, open_regular, to_json, why_unreadable

if TYPE_CHECKING:  # the labels (and the renderer they come from) are not loaded to write
    from synthgen.labels import ObjectLabel

_CHUNK = 1 << 16
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def annotation_record(label: ObjectLabel) -> dict[str, Any]:
    """A COCO annotation of one label, without ``id`` and ``image_id`` (given on writing).

    A box has ``iscrowd: 0``; an ignore region (``label.ignored`` set) has ``iscrowd: 1``,
    its mask as RLE ``segmentation``, the tight bound of the mask as ``bbox``, its pixel
    count as ``area`` and ``ignored``, the rule it failed (``pixels``, ``visibility`` or
    ``contrast``). ``contrast`` is written when the labels were measured on the final
    image; labels computed without it give the records synthgen always wrote. A box a
    ``--backgrounds`` set labels has ``source: "photo"``.
    """
    record: dict[str, Any] = {
        "category_id": CATEGORY_ID[label.category],
        "bbox": label.bbox.to_xywh(),
        "area": label.area,
        "iscrowd": 0 if label.ignored is None else 1,
        "segmentation": label.rle,
        "bbox_amodal": label.bbox_amodal.to_xywh(),
        "visibility": round(label.visibility, 4),
        "truncation": round(label.truncation, 4),
        "occluded": label.occluded,
        "distance": round(label.distance, 2),
    }
    if label.contrast is not None:
        record["contrast"] = round(label.contrast, 4)
    if label.ignored is not None:
        record["ignored"] = label.ignored
    if label.source is not None:
        record["source"] = label.source
    return record


def image_record(index: int, file_name: str, width: int, height: int,
                 metadata: dict[str, Any]) -> dict[str, Any]:
    """A per-image record: what the ``images`` entry and its annotations are built from."""
    return {"index": index, "file_name": file_name, "width": width, "height": height,
            **metadata}


def info_record(description: str, **extra: Any) -> dict[str, Any]:
    """COCO ``info``; deliberately without a date, so identical runs give identical bytes."""
    return {"description": description, "version": __version__, "contributor": "synthgen",
            **extra}


def write_coco(path: str | os.PathLike[str], info: dict[str, Any],
               records: Callable[[], Iterable[dict[str, Any]]]) -> tuple[int, int]:
    """Write a COCO file from per-image records, streaming, atomically.

    Args:
        path: Where ``annotations.json`` goes.
        info: The ``info`` section.
        records: Called twice (images, then annotations); each call yields, in order,
            dicts with ``index``, ``file_name``, ``width``, ``height``, any per-image
            metadata and ``annotations`` (a list of :func:`annotation_record` dicts).
            Image ids are ``index + 1``; annotation ids count from 1 in that order.

    Returns:
        ``(images, annotations)`` written.
    """
    n_images = n_annotations = 0
    with atomic_writer(path, "w") as out:
        out.write('{"info":' + to_json(info) + ',"licenses":[],"images":[')
        for record in records():
            image = {"id": record["index"] + 1, **{k: v for k, v in record.items()
                                                    if k not in ("annotations",)}}
            out.write(("," if n_images else "") + "\n" + to_json(image))
            n_images += 1
        out.write('\n],"annotations":[')
        for record in records():
            for annotation in record["annotations"]:
                n_annotations += 1
                entry = {"id": n_annotations, "image_id": record["index"] + 1, **annotation}
                out.write(("," if n_annotations > 1 else "") + "\n" + to_json(entry))
        out.write('\n],"categories":' + to_json(coco_categories()) + "}\n")
    return n_images, n_annotations


class _JsonStream:
    """Reads JSON values one at a time from a text file, holding only a small buffer."""

    def __init__(self, handle: IO[str], source: Path) -> None:
        self._handle, self._source = handle, source
        self._buffer, self._pos = "", 0

    def _fill(self) -> bool:
        data = self._handle.read(_CHUNK)
        if not data:
            return False
        self._buffer = self._buffer[self._pos:] + data
        self._pos = 0
        return True

    def error(self, expected: str) -> DatasetError:
        return DatasetError(f"{self._source}: not a COCO file synthgen can read "
                            f"(expected {expected})")

    def peek(self) -> str:
        """The next character that is not whitespace, without consuming it ('' at end)."""
        while True:
            self._pos = _WHITESPACE.match(self._buffer, self._pos).end()
            if self._pos < len(self._buffer) or not self._fill():
                return self._buffer[self._pos:self._pos + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(repr(char))
        self._pos += 1

    def value(self) -> Any:
        """Decode the next whole JSON value."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise self.error("a JSON value") from None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buffer) and self._fill():
                continue
            self._pos = end
            return value

    def items(self) -> Iterator[Any]:
        """The elements of the array starting here, one at a time."""
        self.expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            following = self.peek()
            self._pos += 1
            if following == "]":
                return
            if following != ",":
                raise self.error("',' or ']' in an array")

    def skip(self) -> None:
        """Consume the next value; arrays are walked element by element, not built."""
        if self.peek() == "[":
            for _ in self.items():
                pass
        else:
            self.value()


def stream_top_level(path: Path, key: str) -> Iterator[Any]:
    """The value under ``key`` of the top-level object in ``path``: the elements, one by
    one, if it is an array, else the value itself as the only item.

    Only a small buffer and the current element are held: a run's ``annotations.json``
    may be larger than memory, so it is never loaded whole. The keys before ``key`` are
    walked, not built.

    Raises:
        DatasetError: The file cannot be read (it is not a regular file, or not
            UTF-8), or is not a JSON object holding ``key``.
    """
    try:
        # Regular files only: a FIFO would block the reader for ever.
        with io.TextIOWrapper(open_regular(path), encoding="utf-8") as handle:
            stream = _JsonStream(handle, path)
            stream.expect("{")
            if stream.peek() == "}":
                raise stream.error(f"a {key!r} entry")
            while True:
                name = stream.value()
                stream.expect(":")
                if name == key:
                    if stream.peek() == "[":
                        yield from stream.items()
                    else:
                        yield stream.value()
                    return
                stream.skip()
                if stream.peek() != ",":
                    raise stream.error(f"a {key!r} entry")
                stream.expect(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(why_unreadable(str(path), exc)) from exc
    except (ValueError, RecursionError) as exc:  # a number too long, a value nested too deep
        raise DatasetError(why_unreadable(str(path), exc)) from None


def read_info(annotation_file: Path) -> Any:
    """The ``info`` entry of a COCO file, read without loading the rest."""
    return next(stream_top_level(annotation_file, "info"))
