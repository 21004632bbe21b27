"""Merging the shards of one ``generate --shard K/N`` run into the run's dataset.

The stages, each a function:

1. :func:`read_shard`: a shard folder's manifest -> :class:`ShardFolder` (refused when
   it is not a finished shard);
2. :func:`check_shards`: the shards given -> the N shards of one run, in order (refused
   when they come from different runs, or one is missing or given twice);
3. :func:`check_contents`: each shard's ``annotations.json`` and image files against its
   manifest, before anything is written; then :func:`link_images` hard-links (else
   copies) the images into ``OUT/images``;
4. :func:`shard_records`: per-image records streamed back out of each shard's
   ``annotations.json`` -> :func:`synthgen.formats.coco.write_coco`, which numbers annotation
   ids across the whole run again;
5. ``images.sha256``: the shards' lists of image digests, one after the other (checked
   in step 3 against the digest each shard's manifest records; no image is read);
6. :func:`synthgen.generate.folder.manifest_document` with the summed counts (checked in
   step 1), the shards' ``inputs`` and the digests of the two files above, written last.
   ``OUT`` is marked unfinished and locked until then, as ``generate`` does
   (:func:`synthgen.storage.files.new_output_dir`).

So ``OUT`` is byte for byte the folder an unsharded run of the same options writes. The
shards' files are only read (a hard link shares the bytes, it does not change them).
Nothing is held in memory beyond one image's record: ``annotations.json`` files are read
with :func:`synthgen.formats.coco.stream_top_level`, one entry at a time, rather than
loaded whole.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.categories import CATEGORY_NAMES
from synthgen.errors import DatasetError, OutputError
from synthgen.formats.coco import read_info, stream_top_level, write_coco
from synthgen.formats.dataset import ANNOTATIONS_FILE, IMAGES_DIR
from synthgen.formats.manifest import KIND, MANIFEST_FILE, VERSION
from synthgen.generate.folder import (
    DIGESTS_FILE,
    OWNED,
    PARTIAL_DIR,
    Shard,
    cannot_write,
    current_identity,
    current_libraries,
    digest_line,
    file_name,
    file_sha256,
    manifest_counts,
    manifest_document,
    read_image_digests,
    remedy,
    write_digest_list,
    writing,
)
from synthgen.storage.files import (
    link_or_copy,
    new_output_dir,
    read_json_or_fail,
    refuse_overlap,
    write_json_atomic,
)

#: The manifest entries that must agree between the shards of one run.
RUN_KEYS = (VERSION, "libraries", KIND, "template", "seed", "options")


@dataclass(frozen=True)
class ShardFolder:
    """A finished shard folder and what its manifest says.

    Attributes:
        folder: The folder as given.
        manifest: Its ``manifest.json``.
        shard: Which part of the run it holds.
        indices: Its image indices.
    """

    folder: Path
    manifest: dict[str, Any]
    shard: Shard
    indices: range

    @property
    def annotation_file(self) -> Path:
        return self.folder / ANNOTATIONS_FILE


@dataclass
class MergeSummary:
    """What a merge wrote.

    Attributes:
        images: Images in the merged folder.
        annotations: Annotations in its ``annotations.json``: boxes and ignore regions.
        shards: Shards merged.
        linked: Images hard-linked from the shards.
        copied: Images copied (where a hard link was not possible).
        per_class: Boxes per category name (ignore regions left out).
        photo_boxes: Of those boxes, the ones a background photo's labels gave.
    """

    images: int
    annotations: int
    shards: int
    linked: int
    copied: int
    per_class: dict[str, int] = field(default_factory=dict)
    photo_boxes: int = 0


def shard_records(shard: ShardFolder) -> Iterator[dict[str, Any]]:
    """Per-image records of a shard, as ``generate`` built them, read back in order.

    ``images`` entries lose their ``id``, annotations their ``id`` and ``image_id``,
    which gives back the keys and key order :func:`synthgen.formats.coco.write_coco` was given.

    Raises:
        DatasetError: The file does not hold the shard's images in index order, or an
            annotation belongs to no image of the shard or is out of image order.
    """
    path = shard.annotation_file
    annotations = stream_top_level(path, "annotations")
    try:
        pending = next(annotations, None)
        expected_id = 1
        for position, image in enumerate(stream_top_level(path, "images")):
            if not isinstance(image, dict):
                raise DatasetError(f"{path}: image {position + 1} of the shard is "
                                   f"{type(image).__name__}, expected an object")
            if position >= len(shard.indices):
                raise DatasetError(f"{path}: more images than the shard's "
                                   f"{len(shard.indices)}")
            index = shard.indices[position]
            image_id = image.pop("id", None)
            if image_id != index + 1 or image.get("index") != index:
                raise DatasetError(f"{path}: image {position + 1} of the shard should be "
                                   f"index {index} (id {index + 1}), found id {image_id}")
            record = image
            record["annotations"] = []
            while isinstance(pending, dict) and pending.get("image_id") == image_id:
                check_annotation(path, pending, expected_id)
                if pending.pop("id", None) != expected_id:
                    raise DatasetError(f"{path}: annotation ids must count from 1 in "
                                       f"order; expected {expected_id}")
                del pending["image_id"]
                record["annotations"].append(pending)
                expected_id += 1
                pending = next(annotations, None)
            yield record
        if pending is not None and not isinstance(pending, dict):
            raise DatasetError(f"{path}: annotation {expected_id} is "
                               f"{type(pending).__name__}, expected an object")
        if pending is not None:
            raise DatasetError(f"{path}: annotation {pending.get('id')} refers to image "
                               f"{pending.get('image_id')}, which is not a preceding image "
                               "of this shard")
    finally:
        annotations.close()


def annotation_problem(annotation: dict[str, Any]) -> str | None:
    """What is wrong with an annotation of a run's file for the counts a run is made of
    (``iscrowd`` 0 or 1, ``category_id`` one of synthgen's classes), or ``None``."""
    crowd, category = annotation.get("iscrowd"), annotation.get("category_id")
    if crowd not in (0, 1) or isinstance(crowd, bool):
        return f"iscrowd is {crowd!r}, expected 0 or 1"
    if type(category) is not int or not 1 <= category <= len(CATEGORY_NAMES):
        return f"category_id is {category!r}, expected 1 to {len(CATEGORY_NAMES)}"
    return None


def check_annotation(path: Path, annotation: dict[str, Any], number: int) -> None:
    """Refuse an annotation of a run's file that :func:`annotation_problem` finds wrong.

    Raises:
        DatasetError: Naming the file, the annotation and the field.
    """
    problem = annotation_problem(annotation)
    if problem is not None:
        raise DatasetError(f"{path}: annotation {number}: {problem}; was it changed?")


def read_shard(folder: str | os.PathLike[str]) -> ShardFolder:
    """Read a shard folder's manifest.

    Raises:
        DatasetError: The folder is missing, unfinished, or not a shard.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        hint = (" (it was interrupted or is still running; finish it with the same "
                "`synthgen generate ... --shard K/N` command and --resume)"
                if (folder / PARTIAL_DIR).is_dir() else "")
        raise DatasetError(f"{folder}: incomplete shard, no {MANIFEST_FILE}{hint}")
    manifest = read_json_or_fail(manifest_path, DatasetError)  # a FIFO is refused, not read
    entry = manifest.get("shard") if isinstance(manifest, dict) else None
    if not isinstance(entry, dict):
        raise DatasetError(f"{folder}: not a shard (its manifest has no shard entry; "
                           "shards are made by `synthgen generate --shard K/N`)")
    if (not all(key in manifest for key in (*RUN_KEYS, "counts"))
            or not _valid_counts(manifest["counts"])
            or not isinstance(manifest.get("digests") or {}, dict)):
        raise DatasetError(f"{manifest_path}: not a synthgen generate manifest")
    try:
        shard = Shard(int(entry["index"]), int(entry["count"]))
        indices = shard.indices(int(manifest["options"]["count"]))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # Overflow: Infinity
        raise DatasetError(f"{manifest_path}: unreadable shard entry ({exc})") from exc
    if entry.get("indices") != [indices.start, indices.stop]:
        raise DatasetError(f"{manifest_path}: shard {shard} of {manifest['options']['count']} "
                           f"images should hold indices [{indices.start}, {indices.stop}), "
                           f"the manifest says {entry.get('indices')}")
    if not (folder / ANNOTATIONS_FILE).is_file():
        raise DatasetError(f"{folder}: incomplete shard, no {ANNOTATIONS_FILE}")
    return ShardFolder(folder=folder, manifest=manifest, shard=shard, indices=indices)


def _valid_counts(counts: Any) -> bool:
    """Whether a manifest's ``counts`` has the numbers merge sums."""
    return (isinstance(counts, dict)
            and all(isinstance(counts.get(key), int) for key in ("images", "annotations"))
            and isinstance(counts.get("per_class"), dict)
            and all(isinstance(n, int) for n in counts["per_class"].values())
            and type(counts.get("photo_boxes", 0)) is int)


def check_shards(shards: Sequence[ShardFolder]) -> list[ShardFolder]:
    """The shards of one run, ordered by K.

    Raises:
        DatasetError: Shards of different runs, or a shard missing or given twice.
    """
    if not shards:
        raise DatasetError("no shard folders given")
    first = shards[0]
    for other in shards[1:]:
        differing = [key for key in RUN_KEYS
                     if current_identity({key: other.manifest[key]})
                     != current_identity({key: first.manifest[key]})]
        if other.manifest.get("inputs") != first.manifest.get("inputs"):
            differing.append("inputs (the template file's bytes)")
        if other.shard.count != first.shard.count:
            differing.append(f"shard count (N={first.shard.count} vs {other.shard.count})")
        if differing:
            raise DatasetError(
                f"{first.folder} and {other.folder} are shards of different runs "
                f"(they differ in {', '.join(differing)}); merge only the shards of one "
                "`synthgen generate` command")
    by_index: dict[int, ShardFolder] = {}
    for shard in shards:
        earlier = by_index.setdefault(shard.shard.index, shard)
        if earlier is not shard:
            raise DatasetError(f"shard {shard.shard} given twice: {earlier.folder} and "
                               f"{shard.folder}")
    missing = [f"{k}/{first.shard.count}" for k in range(1, first.shard.count + 1)
               if k not in by_index]
    if missing:
        raise DatasetError(f"missing shard{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(missing)} of this run; pass every shard folder")
    return [by_index[k] for k in sorted(by_index)]


def check_contents(shard: ShardFolder) -> int:
    """Check a shard's ``annotations.json`` and images against its manifest, and each
    image's bytes against the SHA-256 its ``images.sha256`` lists (the list itself
    against the digest the manifest records): a shard is tamper-evident.

    Returns:
        The shard's boxes from background photos (``"source": "photo"``), counted in its
        annotations: a shard made before manifests counted them does not say.

    Raises:
        DatasetError: An image file is missing or is not the image the shard wrote, the
            list of digests was changed, or the annotation file does not hold exactly
            the shard's images and the boxes its manifest counts.
    """
    image_format = shard.manifest["options"]["image_format"]
    listed = None
    # A shard written before synthgen kept image digests has only its annotations and
    # manifest to check the images against.
    if (shard.folder / DIGESTS_FILE).is_file():
        for _ in _image_digests(shard):
            pass  # the list itself first: its names, length and recorded digest
        listed = _image_digests(shard)
    images = annotations = photo_boxes = 0
    for record in shard_records(shard):
        name = file_name(record["index"], image_format)
        if record.get("file_name") != name:
            raise DatasetError(f"{shard.annotation_file}: image {record['index']} should be "
                               f"{name}, found {record.get('file_name')!r}")
        path = shard.folder / IMAGES_DIR / name
        if not path.is_file():
            raise DatasetError(f"{shard.folder}: incomplete shard, "
                               f"{IMAGES_DIR}/{name} is missing")
        recorded = next(listed, None) if listed is not None else None
        if recorded is not None and _sha256_of(path) != recorded:
            raise DatasetError(
                f"{shard.folder}: {IMAGES_DIR}/{name} is not the image shard {shard.shard} "
                f"wrote (its SHA-256 is not the one {DIGESTS_FILE} lists); was it changed? "
                "Run the shard's `synthgen generate ... --shard "
                f"{shard.shard}` command again with --resume to make it again")
        images += 1
        annotations += len(record["annotations"])
        photo_boxes += sum(not a.get("iscrowd") and a.get("source") == "photo"
                           for a in record["annotations"])
    counts = shard.manifest.get("counts", {})
    if (images, annotations) != (len(shard.indices), counts.get("annotations")):
        raise DatasetError(f"{shard.folder}: {ANNOTATIONS_FILE} holds {images} images and "
                           f"{annotations} annotations, the shard {shard.shard} has "
                           f"{len(shard.indices)} images and its manifest counts "
                           f"{counts.get('annotations')} annotations; was it changed?")
    if "photo_boxes" in counts and counts["photo_boxes"] != photo_boxes:
        raise DatasetError(f"{shard.folder}: {ANNOTATIONS_FILE} holds {photo_boxes} boxes "
                           f"from background photos, its manifest counts "
                           f"{counts['photo_boxes']}; was it changed?")
    if listed is None:
        for _ in _image_digests(shard):
            pass
    return photo_boxes


def _sha256_of(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _image_digests(shard: ShardFolder) -> Iterator[str]:
    """The shard's image digests, from its ``images.sha256`` (checked against the digest
    its manifest records), or from its image files if it has none."""
    expected = (shard.manifest.get("digests") or {}).get(DIGESTS_FILE)
    return read_image_digests(shard.folder, shard.indices,
                              shard.manifest["options"]["image_format"], expected)


def _digest_lines(shards: Sequence[ShardFolder]) -> Iterator[str]:
    """``images.sha256`` of the whole run: the shards' lines, in order."""
    image_format = shards[0].manifest["options"]["image_format"]
    for shard in shards:
        for index, sha256 in zip(shard.indices, _image_digests(shard), strict=True):
            yield digest_line(sha256, file_name(index, image_format))


def link_images(shards: Sequence[ShardFolder], images_dir: Path) -> tuple[int, int]:
    """Put every shard's images into ``images_dir`` (checked by :func:`check_contents`).

    Returns:
        ``(linked, copied)``.
    """
    linked = copied = 0
    image_format = shards[0].manifest["options"]["image_format"]
    for shard in shards:
        for index in shard.indices:
            name = file_name(index, image_format)
            if link_or_copy(shard.folder / IMAGES_DIR / name, images_dir / name) == "hardlink":
                linked += 1
            else:
                copied += 1
    return linked, copied


def _summed_counts(shards: Sequence[ShardFolder], photo_boxes: int) -> dict[str, Any]:
    per_class: dict[str, int] = {}
    for shard in shards:
        for name, n in shard.manifest["counts"]["per_class"].items():
            per_class[name] = per_class.get(name, 0) + n
    return manifest_counts(images=sum(s.manifest["counts"]["images"] for s in shards),
                           annotations=sum(s.manifest["counts"]["annotations"]
                                           for s in shards),
                           per_class=per_class, photo_boxes=photo_boxes)


def _chained(shards: Sequence[ShardFolder]) -> Callable[[], Iterator[dict[str, Any]]]:
    def records() -> Iterator[dict[str, Any]]:
        for shard in shards:
            yield from shard_records(shard)
    return records


def merge_shards(folders: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                 overwrite: bool = False) -> MergeSummary:
    """Merge the shard folders of one run into ``out``.

    Args:
        folders: Every shard folder of the run, in any order.
        out: The merged dataset folder; refused if it exists and is not empty, unless
            ``overwrite``; never one of the shards or inside one.
        overwrite: Replace what synthgen wrote in ``out``.

    Returns:
        What was written.

    Raises:
        DatasetError: The folders are not the finished shards of one run, or one does
            not agree with its own manifest.
        OutputError: ``out`` cannot be used.
    """
    shards = check_shards([read_shard(folder) for folder in folders])
    info = read_info(shards[0].annotation_file)
    for shard in shards[1:]:
        if read_info(shard.annotation_file) != info:
            raise DatasetError(f"{shard.annotation_file}: its info entry differs from "
                               f"{shards[0].annotation_file}'s; not shards of one run")
    out = Path(out)
    refuse_overlap(out, [shard.folder for shard in shards], owned=OWNED)
    # Every input is checked before the first file is written.
    # Photo boxes as the annotations hold them: a shard's manifest may predate the count.
    photo_boxes = sum(check_contents(shard) for shard in shards)
    first = shards[0].manifest
    # Marked unfinished (and locked) until the manifest is written: a merge stopped
    # halfway is neither taken for a dataset nor refused by the next --overwrite.
    with new_output_dir(out, overwrite=overwrite, owned=OWNED):
        try:
            images_dir = out / IMAGES_DIR
            with writing(images_dir) as path:
                path.mkdir()
            linked, copied = link_images(shards, images_dir)
            with writing(out / ANNOTATIONS_FILE) as path:
                n_images, n_annotations = write_coco(path, info, _chained(shards))
            with writing(out / DIGESTS_FILE) as path:
                digests = {ANNOTATIONS_FILE: file_sha256(out / ANNOTATIONS_FILE),
                           DIGESTS_FILE: write_digest_list(path, _digest_lines(shards))}
            counts = _summed_counts(shards, photo_boxes)
            manifest = manifest_document(
                version=first[VERSION], libraries=current_libraries(first.get("libraries")),
                template=first["template"], options=first["options"],
                counts=counts, inputs=first.get("inputs"), digests=digests)
            with writing(out / MANIFEST_FILE) as path:
                write_json_atomic(path, manifest)
        except BaseException as exc:
            # OUT stays marked unfinished; its lists should not look finished either.
            for name in (ANNOTATIONS_FILE, DIGESTS_FILE):
                with contextlib.suppress(OSError):
                    (out / name).unlink(missing_ok=True)
            then = (f"run the same command with --overwrite ({out} is unfinished: it holds "
                    f"{PARTIAL_DIR}/)")
            if isinstance(exc, OSError):
                raise cannot_write(exc, out, then) from exc
            if isinstance(exc, OutputError) and isinstance(exc.__cause__, OSError):
                # An image neither linked nor copied (storage.files.link_or_copy names both).
                raise OutputError(f"{exc}; {remedy(exc.__cause__)}, then {then}") from exc
            raise
    return MergeSummary(images=n_images, annotations=n_annotations, shards=len(shards),
                        linked=linked, copied=copied, per_class=counts["per_class"],
                        photo_boxes=photo_boxes)
