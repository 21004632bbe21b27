"""Mixing synthetic and real sets into the files of the hybrid training strategy.

``synthgen mix`` reads one or more synthetic dataset folders (``synthgen generate``) and
one real one (``synthgen real import``, or any COCO set), splits the *real* images into
train / val / test, and writes under ``OUT``:

- ``annotations/pretrain.json``: every synthetic image;
- ``annotations/finetune.json``: the real training images;
- ``annotations/train.json``: both at once, each real training image repeated
  ``real_weight`` times (see below);
- ``annotations/val.json`` and ``annotations/test.json``: real images only, never
  synthetic ones, so every number measured on them is a number about real data;
- ``images/<input>/...``: links to the input images, one sub-folder per input
  (``real``, ``synthetic-0``, ``synthetic-1``...) so equal file names never collide;
- ``manifest.json``: inputs as given, seed, fractions, weight, mapping and counts.

Weights: ``real_weight = K`` is realised by repetition. In ``train.json`` each real
training image appears as K image entries with distinct ids (``"repeat": 0..K-1``) that
share one file, each with its own copy of the annotations. Every image entry in every
file carries ``"source"`` (``"synthetic"`` or ``"real"``) and ``"weight": 1.0``, the
sampling weight *of that entry*: the K copies already apply K, so a loader that samples
by entry weight and one that simply iterates the entries see the same K : 1 ratio, and
the weights of the entries that share a file add up to that file's weight.
``origin_input`` and ``origin_id`` name the input and image id each entry came from.

The split is by image and *stable*: :func:`stable_split` places each real image by a
hash of its file's bytes (its EXIF orientation reset) and the seed alone, so adding
images to the real set never moves an image already placed (test images never drift into
fine-tuning), and the same seed gives the same files. The requested fractions hold on
average, not exactly (see :func:`stable_split`); a class that val or test ends up
without is warned about.
``--previous`` goes further: every real image an earlier mix held keeps the split it had
there (whatever rule or seed made it), new images are placed by the stable rule, and the
manifest lists what is new and gone per split. The manifest records each real image's
content digest and split (``real_images``) for that.

Categories are matched to synthgen's by name (ignoring case, spaces, ``_`` and ``-``);
a category that does not match is an error unless the ``--map`` file maps it (to a
class, ``ignore`` or ``drop``, as in ``real import``). Image and annotation ids are
renumbered from 1 in each file; every other field of the inputs is kept as it is.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from synthgen import __version__
from synthgen.categories import CATEGORY_ID, CATEGORY_NAME, CATEGORY_NAMES, coco_categories
from synthgen.datasets.realsets import (
    DROP,
    IGNORE,
    IGNORE_CATEGORY,
    CategoryMapper,
    load_mapping,
    same_images,
)
from synthgen.errors import SynthgenError
from synthgen.formats.dataset import (
    IMAGES_DIR,
    is_pseudo_labelled,
    is_synthetic_image,
    load_dataset,
    safe_relative_path,
)
from synthgen.formats.manifest import (
    MANIFEST_FILE,
    MIX,
    REAL_IMPORT,
    command_of,
    header,
    is_synthetic,
)
from synthgen.formats.validate import in_one_line, validate_document
from synthgen.storage.files import (
    ANNOTATIONS_DIR,
    OUTPUT_FILES,
    UNFINISHED_DIR,
    new_output_dir,
    read_json_or_fail,
    refuse_overlap,
    write_json_atomic,
)
from synthgen.storage.images import image_digests, orientation_identity, place_images

log = logging.getLogger(__name__)

#: Splits of the real images; the real "train" part is what finetune.json holds.
REAL_SPLITS: Final = ("train", "val", "test")
#: The file each real split is written to (the real "train" split is fine-tuning).
SPLIT_FILE: Final = {"train": "finetune", "val": "val", "test": "test"}
#: Hashed before the seed and the image digest (see :func:`split_position`); changing
#: it would move every image, so it names the rule's version.
_SPLIT_TAG: Final = b"synthgen mix stable split v1\0"
#: How the real split was made, in the manifest's words.
SPLIT_RULE: Final = (
    "stable v1: u = first 8 bytes of sha256(tag, seed, sha256 of the image file) / 2**64; "
    "val if u < val fraction, test if u < val + test fraction, else finetune; images of "
    "--previous keep their split")
OWNED_OUTPUTS: Final = (IMAGES_DIR, ANNOTATIONS_DIR, MANIFEST_FILE, UNFINISHED_DIR)
REAL_LABEL: Final = "real"
#: Largest ``--real-weight``. Each repeat is a whole entry of ``train.json`` (the image
#: entry and a copy of its boxes), so the weight multiplies the file and the memory that
#: builds it; 1000 already outweighs any synthetic set by far.
MAX_REAL_WEIGHT: Final = 1000
#: Most repeated real entries ``train.json`` may hold (``real_weight`` times the real
#: training images): each costs a few KB of memory while the file is built (about 2 KB
#: of JSON with five boxes), so a million is already several GB.
MAX_REPEATED_ENTRIES: Final = 1_000_000
#: Why there is a limit, for messages and ``--help``.
WEIGHT_REASON: Final = ("each repeat is a whole entry of train.json with a copy of its "
                        "boxes, so the weight multiplies the file's size and the memory "
                        "that builds it")


class MixError(SynthgenError):
    """Options or inputs that ``mix`` cannot use (fractions, categories, empty sets)."""


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse fractions outside ``[0, 1)`` or summing to 1 or more (no real training left).

    Raises:
        MixError: Naming the option and the value.
    """
    for option, value in (("--val-fraction", val_fraction), ("--test-fraction", test_fraction)):
        if not (math.isfinite(value) and 0.0 <= value < 1.0):
            raise MixError(f"{option} {value}: expected a number in [0, 1)")
    if val_fraction + test_fraction >= 1.0:
        raise MixError(f"--val-fraction {val_fraction} + --test-fraction {test_fraction} = "
                       f"{val_fraction + test_fraction:g}: must be below 1, or no real image "
                       "is left for fine-tuning")


def check_real_weight(real_weight: int) -> None:
    """Refuse a weight that is not an integer from 1 to :data:`MAX_REAL_WEIGHT`, before
    anything is read.

    Raises:
        MixError: Naming the value, the bound and why there is one.
    """
    if isinstance(real_weight, bool) or not isinstance(real_weight, int) or real_weight < 1:
        raise MixError(f"--real-weight {_shown_number(real_weight)}: expected an integer >= 1")
    if real_weight > MAX_REAL_WEIGHT:
        raise MixError(f"--real-weight {_shown_number(real_weight)}: at most "
                       f"{MAX_REAL_WEIGHT}, as {WEIGHT_REASON}; give a smaller weight, or "
                       "fine-tune on finetune.json after pre-training on pretrain.json")


def check_repeated_entries(real_weight: int, real_training_images: int) -> None:
    """Refuse a ``train.json`` of more than :data:`MAX_REPEATED_ENTRIES` repeated real
    entries, before it is built (a weight of 1 repeats nothing and is never refused).

    Raises:
        MixError: Naming the count, the bound, why, and the largest weight that fits.
    """
    entries = real_weight * real_training_images
    if real_weight > 1 and entries > MAX_REPEATED_ENTRIES:  # 1 repeats nothing
        fits = max(1, MAX_REPEATED_ENTRIES // real_training_images)
        raise MixError(f"--real-weight {real_weight}: train.json would repeat "
                       f"{real_training_images} real training images {real_weight} times, "
                       f"{entries} entries; at most {MAX_REPEATED_ENTRIES} are written, as "
                       f"{WEIGHT_REASON}: give --real-weight {fits} or less, or fine-tune on "
                       "finetune.json after pre-training on pretrain.json")


def _shown_number(value: object) -> str:
    """A value for a message: an integer of thousands of digits is not written out (nor
    can ``str`` write it)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return "(an integer of over 38 digits)"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> dict[str, int]:
    """How many of ``n`` real images each split holds *on average* under the stable rule.

    Val and test together are rounded half up once, then val is, and test gets the rest:
    rounding each on its own could take two half images from fine-tuning (0.49 and 0.49
    of 50 images would leave none). :func:`stable_split` places each image on its own, so
    a real split differs from these by chance (see :func:`stable_split`); ``mix`` uses
    them to refuse sets too small to leave any image for fine-tuning.
    """
    n_held_out = math.floor((val_fraction + test_fraction) * n + 0.5)
    n_val = min(math.floor(val_fraction * n + 0.5), n_held_out)
    return {"train": n - n_held_out, "val": n_val, "test": n_held_out - n_val}


def split_position(digest: str, seed: int) -> float:
    """Where an image lies in ``[0, 1)`` for ``seed``: the first 8 bytes of the SHA-256
    of a fixed tag, the seed and the image's content digest, read as a fraction.

    Args:
        digest: The SHA-256 (hex) of the image file's bytes, its EXIF orientation reset
            (:func:`synthgen.storage.images.image_digests`).
        seed: ``mix``'s ``--seed``.
    """
    key = hashlib.sha256(_SPLIT_TAG + f"{seed}\0".encode() + bytes.fromhex(digest)).digest()
    return int.from_bytes(key[:8], "big") / 2.0**64


def stable_split(digest: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """The split of one real image, from its content and the seed alone.

    ``u = split_position(digest, seed)``: ``val`` if ``u < val_fraction``, ``test`` if
    ``u < val_fraction + test_fraction``, else ``train`` (fine-tuning). No other image
    plays a part, so adding images to (or removing them from) the real set never moves
    another image; renaming or re-importing a file does not move it either, re-encoding
    it does (other bytes, another image).

    The price is exactness: each image falls into val with probability ``val_fraction``
    on its own, so of ``n`` images val holds ``Binomial(n, val_fraction)``, off the
    requested share by about ``sqrt(f * (1 - f) / n)`` (one standard deviation: 5.7
    points for 50 images at 0.2, 1.8 for 500, 0.6 for 5,000).

    Returns:
        ``"train"``, ``"val"`` or ``"test"``.
    """
    position = split_position(digest, seed)
    if position < val_fraction:
        return "val"
    if position < val_fraction + test_fraction:
        return "test"
    return "train"


@dataclass
class _Item:
    """One input image, its annotations mapped to synthgen's categories."""

    label: str
    source: str
    image: dict[str, Any]
    annotations: list[dict[str, Any]]
    file_name: str
    path: Path
    classes: frozenset[int]


@dataclass
class _Input:
    label: str
    given: str
    image_root: Path
    items: list[_Item]


def _load_input(given: str, label: str, source: str, mapper: CategoryMapper) -> _Input:
    """Read, check and map one input dataset."""
    option = "--real" if source == REAL_LABEL else "--synthetic"
    path = Path(given)
    # Checked before loading: an unfinished folder has no annotations.json yet.
    _refuse_unfinished(option, given, [path] if path.is_dir() else [])
    dataset = load_dataset(given)
    _refuse_unfinished(option, given, [dataset.annotation_file.parent,
                                       dataset.annotation_file.parent.parent])
    report = validate_document(dataset.data, image_root=dataset.image_root, check_files=True,
                               path=str(dataset.annotation_file))
    if not report.ok:
        raise MixError(f"{given}: not a valid COCO dataset ({in_one_line(report.problems)}); "
                       f"run `synthgen validate {given}` for the full list")
    unknown = [c["name"] for c in dataset.categories if not mapper.knows(c["name"])]
    if unknown:
        raise MixError(f"{given}: categories {', '.join(map(repr, unknown))} are not synthgen "
                       f"categories ({', '.join(CATEGORY_NAMES)}); map them with --map "
                       "FILE.yaml ('name: target', target a category, ignore or drop), or "
                       "import the set with `synthgen real import`")
    if source == REAL_LABEL:
        _refuse_synthetic(given, dataset)
    else:
        _refuse_real(given, dataset)
    targets = {c["id"]: mapper.target(c["name"]) for c in dataset.categories}
    items = []
    for image in sorted(dataset.images, key=lambda entry: entry["id"]):
        rel = safe_relative_path(image["file_name"], f"{given}: image {image['id']}")
        anns = [_mapped(ann, targets[ann["category_id"]])
                for ann in dataset.annotations_for(image["id"])
                if targets[ann["category_id"]] != DROP]
        items.append(_Item(label=label, source=source, image=image, annotations=anns,
                           file_name=f"{label}/{rel.as_posix()}",
                           path=dataset.image_root / rel,
                           classes=frozenset(a["category_id"] for a in anns if not a["iscrowd"])))
    return _Input(label=label, given=given, image_root=dataset.image_root, items=items)


def _refuse_unfinished(option: str, given: str, folders: list[Path]) -> None:
    for folder in dict.fromkeys(folders):
        # A manifest says a folder is finished, whatever else is left in it.
        if (folder / UNFINISHED_DIR).is_dir() and not (folder / MANIFEST_FILE).is_file():
            raise MixError(f"{option} {given}: {folder} is unfinished (it holds "
                           f"{UNFINISHED_DIR}/: a synthgen command was stopped or is still "
                           "writing it); finish it first")


def _refuse_synthetic(given: str, dataset: Any) -> None:
    """Refuse a synthetic set given as --real: val and test must be real images only,
    labelled by people.

    Raises:
        MixError: The manifest says ``kind: synthetic``, or an image says it is
            synthetic or carries a generated image's ``scene`` and ``seed``, or says its
            labels are a detector's (``real pseudo-label``).
    """
    if is_synthetic(dataset.manifest):
        raise MixError(f"--real {given}: this is a synthetic dataset (its manifest says kind: "
                       "synthetic); give it with --synthetic and a real set with --real")
    for image in dataset.images:
        if is_synthetic_image(image):
            raise MixError(f"--real {given}: image {image['id']} ({image.get('file_name')}) is "
                           "synthetic; val and test must hold real images only")
        if is_pseudo_labelled(image):
            raise MixError(f"--real {given}: image {image['id']} ({image.get('file_name')}) "
                           "says its labels are a detector's (real pseudo-label); val and "
                           "test must hold human-labelled images only")


def _refuse_real(given: str, dataset: Any) -> None:
    """Refuse a real set given as --synthetic: it would train on what val and test hold.

    Raises:
        MixError: The manifest is a ``real import``'s, or an image says it is real.
    """
    if command_of(dataset.manifest) == REAL_IMPORT:
        raise MixError(f"--synthetic {given}: this is a real set (made by `synthgen real "
                       "import`); give real images with --real only")
    for image in dataset.images:
        if image.get("source") == "real":
            raise MixError(f"--synthetic {given}: image {image['id']} "
                           f"({image.get('file_name')}) says it is real; give real images "
                           "with --real only")


def _refuse_shared_files(synthetic: Sequence[_Input], real: _Input) -> None:
    """Refuse an image that is both a synthetic and a real input, or twice in the real
    set (test leaking into training): the same file, a link to it, or a byte copy.

    Files are compared by identity (device and inode), then by content: size first, and
    SHA-256 only for files whose size another file has, so a set is not read whole.

    Raises:
        MixError: Naming the first image found twice.
    """
    real_paths = [item.path for item in real.items]
    paths = real_paths + [item.path for inp in synthetic for item in inp.items]
    for first, second, *_ in same_images(paths, len(real_paths)):
        if paths[first] == paths[second]:
            twice = "is listed twice"
        else:
            what = "real image" if second < len(real_paths) else "synthetic input"
            twice = (f"is also the {what} {paths[second]} (the same file, a link or a byte "
                     "copy)")
        raise MixError(f"--real {real.given}: {paths[first]} {twice}; an image must not be "
                       "in both training and evaluation: remove the duplicate")


def _refuse_repeated_synthetic(synthetic: Sequence[_Input]) -> None:
    """Refuse two --synthetic inputs that share an image file (the same set given twice,
    as a folder and as its annotations.json, or through a link): pre-training would
    see those images twice as often as the rest, silently.

    Files are compared by identity (device and inode); byte copies are not looked for.

    Raises:
        MixError: Naming both inputs and one shared image.
    """
    owner: dict[tuple[int, int], tuple[_Input, Path]] = {}
    for inp in synthetic:
        for item in inp.items:
            stat = item.path.stat()
            first = owner.setdefault((stat.st_dev, stat.st_ino), (inp, item.path))
            if first[0] is not inp:
                raise MixError(f"--synthetic {inp.given}: shares its image {item.path} with "
                               f"--synthetic {first[0].given} ({first[1]}); give each "
                               "synthetic set once")


def _mapped(ann: dict[str, Any], target: str) -> dict[str, Any]:
    if target == IGNORE:
        return {**ann, "category_id": CATEGORY_ID[IGNORE_CATEGORY], "iscrowd": 1}
    return {**ann, "category_id": CATEGORY_ID[target]}


def _document(entries: Sequence[tuple[_Item, int | None]], split: str) -> dict[str, Any]:
    """A COCO document of ``(item, repeat index or None)`` entries, ids from 1."""
    images, annotations = [], []
    for image_id, (item, repeat) in enumerate(entries, start=1):
        kept = {k: v for k, v in item.image.items()
                if k not in ("id", "file_name", "source", "weight", "repeat")}
        entry = {"id": image_id, "file_name": item.file_name, **kept, "source": item.source,
                 "weight": 1.0, "origin_input": item.label, "origin_id": item.image["id"]}
        if repeat is not None:
            entry["repeat"] = repeat
        images.append(entry)
        for ann in item.annotations:
            annotations.append({**ann, "id": len(annotations) + 1, "image_id": image_id})
    return {"info": {"description": f"synthgen mix: {split}", "version": __version__,
                     "segmentation": _segmentation(annotations)},
            "licenses": [], "images": images, "annotations": annotations,
            "categories": coco_categories()}


def _segmentation(annotations: Sequence[Mapping[str, Any]]) -> str:
    """What ``info.segmentation`` says of a file's objects (ignore regions aside): masks
    on ``"every object"``, on ``"none"``, or on ``"synthetic images only"`` (real sets
    carry boxes only)."""
    masked = [("segmentation" in ann) for ann in annotations if not ann["iscrowd"]]
    if all(masked):
        return "every object"
    return "none" if not any(masked) else "synthetic images only"


def _counts(document: Mapping[str, Any]) -> dict[str, Any]:
    per_class = dict.fromkeys(CATEGORY_NAMES, 0)
    crowd = 0
    for ann in document["annotations"]:
        if ann["iscrowd"]:
            crowd += 1
        else:
            per_class[CATEGORY_NAME[ann["category_id"]]] += 1
    sources = Counter(image["source"] for image in document["images"])
    return {"images": len(document["images"]),
            "files": len({image["file_name"] for image in document["images"]}),
            "per_source": {s: sources[s] for s in ("synthetic", REAL_LABEL)},
            "annotations": sum(per_class.values()), "ignore_regions": crowd,
            "per_class": per_class}


def mix_datasets(synthetic: Sequence[str], real: str, out: str, *, seed: int,
                 val_fraction: float = 0.2, test_fraction: float = 0.2, real_weight: int = 1,
                 map_file: str | None = None, copy: bool = False, overwrite: bool = False,
                 previous: str | None = None) -> dict[str, Any]:
    """Write the pretrain / finetune / train / val / test files of a hybrid set.

    Args:
        synthetic: Synthetic dataset folders (or COCO files), as the user gave them.
        real: The real dataset folder (or COCO file).
        out: Output folder.
        seed: Seed of the real split.
        val_fraction: Share of real images for ``val.json``, in ``[0, 1)``.
        test_fraction: Share of real images for ``test.json``, in ``[0, 1)``.
        real_weight: How many times each real training image appears in ``train.json``.
        map_file: Optional ``--map`` YAML file (as in ``real import``).
        copy: Copy image files instead of linking them.
        overwrite: Replace what synthgen wrote in a non-empty ``out``.
        previous: An earlier ``mix`` output folder: each real image it held keeps its
            split there (see :func:`load_previous`), only new ones are placed by
            :func:`stable_split`, and the manifest says what is new and gone per split.

    Returns:
        The manifest written to ``OUT/manifest.json``.

    Raises:
        MixError: Bad fractions or weight, no synthetic input, an invalid input, unmatched
            categories, too few real images, or a ``previous`` that is not a mix.
        DatasetError: An input or the map file cannot be read.
        OutputError: ``out`` cannot be used.
    """
    check_fractions(val_fraction, test_fraction)
    check_real_weight(real_weight)
    if not synthetic:
        raise MixError("give at least one --synthetic dataset")
    user_map = load_mapping(map_file) if map_file is not None else None
    earlier = load_previous(previous) if previous is not None else None
    if earlier is not None and earlier.seed not in (None, seed):
        log.warning("--previous %s was mixed with --seed %d: its images keep their splits, "
                    "images new to the real set are placed with --seed %d", previous,
                    earlier.seed, seed)
    mapper = CategoryMapper({name: name for name in CATEGORY_NAMES}, user_map)
    synth_inputs = [_load_input(path, f"synthetic-{i}", "synthetic", mapper)
                    for i, path in enumerate(synthetic)]
    _refuse_repeated_synthetic(synth_inputs)
    real_input = _load_input(real, REAL_LABEL, REAL_LABEL, mapper)
    _refuse_shared_files(synth_inputs, real_input)
    for name in mapper.unused_user_entries():
        log.warning("--map %s: %r matches no category of the inputs", map_file, name)
    splits, records, changes = _split_real(real_input, val_fraction, test_fraction, seed,
                                           earlier)
    check_repeated_entries(real_weight, len(splits["train"]))
    documents = _documents([i for inp in synth_inputs for i in inp.items], splits, real_weight)
    for name, document in documents.items():
        report = validate_document(document, image_root=None, check_files=False, path=name)
        if not report.ok:
            raise RuntimeError(f"mix built an invalid {name}.json (a synthgen bug):\n"
                               f"{report.to_text()}")
    inputs = [*synth_inputs, real_input]
    out_path = Path(out)
    read = [p for inp in inputs for p in (Path(inp.given), inp.image_root)]
    refuse_overlap(out_path, read + ([Path(previous)] if previous is not None else []))
    with new_output_dir(out_path, overwrite=overwrite, owned=OWNED_OUTPUTS):
        links = place_images(((item.path, item.file_name) for inp in inputs
                            for item in inp.items), out_path / IMAGES_DIR, copy=copy)
        (out_path / ANNOTATIONS_DIR).mkdir()
        for name, document in documents.items():
            write_json_atomic(out_path / ANNOTATIONS_DIR / f"{name}.json", document)
        manifest = {
            **header(MIX),
            "options": {"synthetic": list(synthetic), "real": real, "out": out, "seed": seed,
                        "val_fraction": val_fraction, "test_fraction": test_fraction,
                        "real_weight": real_weight, "map": map_file, "copy": copy,
                        "overwrite": overwrite, "previous": previous},
            "inputs": {inp.label: inp.given for inp in inputs},
            "seed": seed,
            "fractions": {"val": val_fraction, "test": test_fraction},
            "split_rule": SPLIT_RULE,
            "real_weight": real_weight,
            "weight_semantics": "each real training image appears real_weight times in train.json "
                                "(entries share the file, 'repeat' 0..K-1); every entry has "
                                "weight 1.0",
            "mapping": {"file": map_file, "ignore_category": IGNORE_CATEGORY,
                        "used": dict(sorted(mapper.used.items()))},
            "links": links,
            "files": {name: f"{ANNOTATIONS_DIR}/{name}.json" for name in documents},
            "counts": {name: _counts(document) for name, document in documents.items()},
            "previous": changes,
            "real_images": records,
        }
        write_json_atomic(out_path / MANIFEST_FILE, manifest)
    return manifest


def _split_real(real_input: _Input, val_fraction: float, test_fraction: float, seed: int,
                previous: PreviousMix | None
                ) -> tuple[dict[str, list[_Item]], list[dict[str, Any]], dict[str, Any] | None]:
    """Place every real image (:func:`stable_split`, or where ``previous`` had it).

    Returns:
        The images of each split (in input order), one record per image for the manifest
        (``file_name``, ``sha256``, ``split``) and, with ``previous``, what changed since.
    """
    items = real_input.items
    if not items:
        raise MixError(f"--real {real_input.given}: has no images")
    expected = split_sizes(len(items), val_fraction, test_fraction)
    if expected["train"] < 1 and previous is None:
        raise MixError(f"--real {real_input.given}: {len(items)} image(s) are too few for "
                       f"--val-fraction {val_fraction} and --test-fraction {test_fraction}; "
                       "no image would be left for fine-tuning")
    # A photo is known by the digest of its bytes with its EXIF orientation reset (as
    # place_images writes it): the same whether or not it went through `real import`.
    # An earlier mix recorded the bytes as they were: an image is looked up by both.
    digests, raw_digests = [], []
    for item in items:
        try:
            digest, raw = image_digests(item.path)
        except OSError as exc:
            raise MixError(f"--real {real_input.given}: cannot read {item.path} "
                           f"({exc.strerror or exc})") from exc
        digests.append(digest)
        raw_digests.append(raw)
    kept = previous.split_of if previous is not None else {}
    assignment = [kept.get(raw) or kept.get(digest)
                  or stable_split(digest, seed, val_fraction, test_fraction)
                  for digest, raw in zip(digests, raw_digests, strict=True)]
    splits = {split: [item for item, s in zip(items, assignment, strict=True) if s == split]
              for split in REAL_SPLITS}
    if not splits["train"]:
        raise MixError(f"--real {real_input.given}: with --seed {seed}, none of its "
                       f"{len(items)} image(s) falls to fine-tuning (--val-fraction "
                       f"{val_fraction}, --test-fraction {test_fraction}): choose another "
                       "--seed or smaller fractions")
    for split, fraction in (("val", val_fraction), ("test", test_fraction)):
        if fraction > 0 and not splits[split]:
            log.warning("--%s-fraction %g of %d real images: no image fell into %s "
                        "(each is placed on its own, by its content and --seed): %s.json is "
                        "empty", split, fraction, len(items), split, split)
    _warn_uncovered(splits, {"val": val_fraction, "test": test_fraction})
    log.info("--real %s: %d images split into %s (asked %s)", real_input.given, len(items),
             ", ".join(f"{SPLIT_FILE[s]} {len(splits[s])}" for s in REAL_SPLITS),
             ", ".join(f"{SPLIT_FILE[s]} {n}" for s, n in expected.items()))
    records = [{"file_name": item.file_name, "sha256": digest, "split": SPLIT_FILE[split]}
               for item, digest, split in zip(items, digests, assignment, strict=True)]
    changes = None
    if previous is not None:
        changes = _changes(previous, items, digests, raw_digests, assignment)
    return splits, records, changes


def _warn_uncovered(splits: Mapping[str, list[_Item]], fractions: Mapping[str, float]) -> None:
    """Warn about a class of the real set that val or test holds no image of."""
    images_of: Counter[int] = Counter(c for items in splits.values() for item in items
                                      for c in item.classes)
    for split, fraction in fractions.items():
        if fraction <= 0 or not splits[split]:
            continue
        present = {c for item in splits[split] for c in item.classes}
        for class_id in sorted(set(images_of) - present):
            log.warning("%s.json holds no image of %s (%d real image(s) have one): it cannot "
                        "score that class; label more images of it, or (on a first mix) try "
                        "another --seed", split, CATEGORY_NAME[class_id], images_of[class_id])


def _changes(previous: PreviousMix, items: Sequence[_Item], digests: Sequence[str],
             raw_digests: Sequence[str], assignment: Sequence[str]) -> dict[str, Any]:
    """What is new, kept and gone per split since the ``--previous`` mix (an image known
    there by either of its digests, see :func:`synthgen.storage.images.image_digests`)."""
    files = list(SPLIT_FILE.values())
    kept = dict.fromkeys(files, 0)
    new: dict[str, list[str]] = {name: [] for name in files}
    matched: set[str] = set()  # the previous mix's images met again, by file name there
    for item, digest, raw, split in zip(items, digests, raw_digests, assignment, strict=True):
        key = raw if raw in previous.split_of else digest
        if key in previous.split_of:
            kept[SPLIT_FILE[split]] += 1
            matched.add(previous.file_of[key])
        else:
            new[SPLIT_FILE[split]].append(item.file_name)
    removed: dict[str, list[str]] = {name: [] for name in files}
    for name, split in {previous.file_of[d]: s for d, s in previous.split_of.items()}.items():
        if name not in matched:
            removed[SPLIT_FILE[split]].append(name)
    # The same name gone and new: most likely one photo that --previous could not match
    # (changed bytes; an earlier mix's copy of a turned photo unreadable).
    again = sorted({n for names in removed.values() for n in names}
                   & {n for names in new.values() for n in names})
    if again:
        log.warning("--previous %s: %d image(s) it held are placed anew under the same name "
                    "(their bytes differ from what it recorded, or its copy of them cannot "
                    "be read): %s; check that they did not move between splits",
                    previous.given, len(again), ", ".join(again[:5])
                    + (", ..." if len(again) > 5 else ""))
    return {"mix": previous.given, "seed": previous.seed, "kept": kept,
            "new": {name: len(names) for name, names in new.items()},
            "removed": {name: len(names) for name, names in removed.items()},
            "new_images": new, "removed_images": removed}


# --------------------------------------------------------------------------- --previous


@dataclass
class PreviousMix:
    """The real images of an earlier ``mix`` output, each by content, and its split.

    Attributes:
        given: The folder as the user gave it.
        seed: Its ``--seed`` (None if its manifest does not say).
        split_of: Content SHA-256 -> split (``train``, ``val`` or ``test``).
        file_of: Content SHA-256 -> ``file_name`` in that mix.
    """

    given: str
    seed: int | None
    split_of: dict[str, str]
    file_of: dict[str, str]


def load_previous(given: str) -> PreviousMix:
    """Read the real split of an earlier ``mix`` output folder.

    A mix records every real image's content digest and split in its manifest
    (``real_images``). For a mix written before it did, the images are found through its
    ``finetune``/``val``/``test`` files and hashed in its ``images/`` folder.

    Raises:
        MixError: The folder is not a finished ``mix`` output, its record is malformed,
            or (older mixes) one of its image files cannot be read.
    """
    folder = Path(given)
    manifest_path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise MixError(f"--previous {given}: no such folder (expected the --out folder of "
                       "an earlier `synthgen mix`)")
    if not manifest_path.is_file():
        why = (f"it holds {UNFINISHED_DIR}/: that mix was stopped or is still writing"
               if (folder / UNFINISHED_DIR).is_dir()
               else "expected the --out folder of an earlier `synthgen mix`")
        raise MixError(f"--previous {given}: no {MANIFEST_FILE} ({why})")
    manifest = read_json_or_fail(manifest_path, MixError, prefix="--previous ")
    command = command_of(manifest)
    if command != MIX:
        raise MixError(f"--previous {manifest_path}: field 'command' is {command!r}, expected "
                       "'mix' (the --out folder of an earlier `synthgen mix`)")
    records = manifest.get("real_images")
    if records is None:
        split_of, file_of = _previous_from_files(given, folder)
    else:
        split_of, file_of = _previous_from_manifest(manifest_path, records)
    seed = manifest.get("seed")
    return PreviousMix(given=given, seed=seed if isinstance(seed, int) else None,
                       split_of=split_of, file_of=file_of)


_SPLIT_OF_FILE: Final = {name: split for split, name in SPLIT_FILE.items()}


def _previous_from_manifest(manifest_path: Path, records: Any
                            ) -> tuple[dict[str, str], dict[str, str]]:
    if not isinstance(records, list):
        raise MixError(f"--previous {manifest_path}: field 'real_images' is "
                       f"{type(records).__name__}, expected a list")
    split_of: dict[str, str] = {}
    file_of: dict[str, str] = {}
    for index, record in enumerate(records):
        where = f"--previous {manifest_path}: real_images[{index}]"
        if not isinstance(record, dict):
            raise MixError(f"{where} is {type(record).__name__}, expected an object")
        digest, split, name = record.get("sha256"), record.get("split"), record.get("file_name")
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise MixError(f"{where}.sha256 is {digest!r}, expected 64 lower-case hex digits")
        if split not in _SPLIT_OF_FILE:
            raise MixError(f"{where}.split is {split!r}, expected one of "
                           f"{', '.join(_SPLIT_OF_FILE)}")
        if not isinstance(name, str):
            raise MixError(f"{where}.file_name is {name!r}, expected a file name")
        if digest in split_of:
            raise MixError(f"{where}.sha256 {digest} is listed twice (also for "
                           f"{file_of[digest]}); the manifest was edited or is corrupt")
        split_of[digest], file_of[digest] = _SPLIT_OF_FILE[split], name
    # An earlier synthgen recorded a turned photo by its bytes as they were; the same photo
    # now comes with its orientation reset (real import writes it so): known by that too,
    # from the mix's own copy of it.
    for digest, name in list(file_of.items()):
        alias = orientation_identity(manifest_path.parent / IMAGES_DIR / safe_relative_path(
            name, f"--previous {manifest_path}: real_images of {name!r}"))
        if alias is not None and alias not in split_of:
            split_of[alias], file_of[alias] = split_of[digest], name
    return split_of, file_of


def _previous_from_files(given: str, folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The split of each real image of a mix that recorded no digests, by hashing its
    image files (links to, or copies of, the real images of its time)."""
    split_of: dict[str, str] = {}
    file_of: dict[str, str] = {}
    for split, name in SPLIT_FILE.items():
        dataset = load_dataset(folder / ANNOTATIONS_DIR / f"{name}.json")
        for image in dataset.images:
            rel = safe_relative_path(image["file_name"], f"--previous {given}: {name}.json "
                                     f"image {image['id']}")
            path = dataset.image_root / rel
            try:
                digest = image_digests(path)[0]
            except OSError as exc:
                raise MixError(
                    f"--previous {given}: cannot read {path} ({exc.strerror or exc}), an "
                    f"image of {ANNOTATIONS_DIR}/{name}.json; a mix written before synthgen "
                    "recorded image digests is matched by its image files, which must still "
                    "be readable") from exc
            split_of.setdefault(digest, split)
            file_of.setdefault(digest, rel.as_posix())
    return split_of, file_of


def _documents(synthetic: list[_Item], splits: Mapping[str, list[_Item]],
               real_weight: int) -> dict[str, dict[str, Any]]:
    real_train = splits["train"]
    train = [(item, None) for item in synthetic]
    train += [(item, repeat) for repeat in range(real_weight) for item in real_train]
    entries = {
        "pretrain": [(item, None) for item in synthetic],
        "finetune": [(item, None) for item in real_train],
        "train": train,
        "val": [(item, None) for item in splits["val"]],
        "test": [(item, None) for item in splits["test"]],
    }
    return {name: _document(entries[name], name) for name in OUTPUT_FILES}
