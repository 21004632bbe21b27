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

The split is by image and deterministic for a seed (one ``numpy`` Generator, seeded
explicitly). :func:`split_images` first makes sure each class appears in val, then in
test, then in train, taking images for the rarest uncovered class first; the rest go,
rarest class first, to the split that most lacks that class.

Categories are matched to synthgen's by name (ignoring case, spaces, ``_`` and ``-``);
a category that does not match is an error unless the ``--map`` file maps it (to a
class, ``ignore`` or ``drop``, as in ``real import``). Image and annotation ids are
renumbered from 1 in each file; every other field of the inputs is kept as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any, Final

import numpy as np

from synthgen import __version__
from synthgen.categories import CATEGORY_ID, CATEGORY_NAME, CATEGORY_NAMES, coco_categories
from synthgen.dataset import IMAGES_DIR, MANIFEST_FILE, load_dataset
from synthgen.errors import SynthgenError
from synthgen.io import (
    UNFINISHED_DIR,
    link_files,
    new_output_dir,
    refuse_overlap,
    write_json_atomic,
)
from synthgen.realsets import (
    DROP,
    IGNORE,
    IGNORE_CATEGORY,
    CategoryMapper,
    load_mapping,
    safe_relative_path,
)
from synthgen.validate import validate_document

log = logging.getLogger(__name__)

ANNOTATIONS_DIR: Final = "annotations"
#: Splits of the real images; the real "train" part is what finetune.json holds.
REAL_SPLITS: Final = ("train", "val", "test")
#: The order :func:`split_images` guarantees classes in: evaluation splits first.
COVERAGE_ORDER: Final = ("val", "test", "train")
OUTPUT_FILES: Final = ("pretrain", "finetune", "train", "val", "test")
OWNED_OUTPUTS: Final = (IMAGES_DIR, ANNOTATIONS_DIR, MANIFEST_FILE, UNFINISHED_DIR)
REAL_LABEL: Final = "real"


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


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> dict[str, int]:
    """How many of ``n`` real images go to each split.

    Val and test together are rounded half up once, then val is, and test gets the rest:
    rounding each on its own could take two half images from fine-tuning (0.49 and 0.49
    of 50 images would leave none).
    """
    n_held_out = math.floor((val_fraction + test_fraction) * n + 0.5)
    n_val = min(math.floor(val_fraction * n + 0.5), n_held_out)
    return {"train": n - n_held_out, "val": n_val, "test": n_held_out - n_val}


def split_images(classes: Sequence[frozenset[int]], sizes: Mapping[str, int],
                 rng: np.random.Generator) -> list[str]:
    """Assign each image to a split, keeping every class in val and test where possible.

    Args:
        classes: Per image, the category ids of its (non-crowd) objects.
        sizes: Images per split (``train``, ``val``, ``test``), summing to ``len(classes)``.
        rng: Decides ties (a random rank per image); the only source of randomness.

    Returns:
        The split name of each image, in input order.

    Raises:
        ValueError: ``sizes`` do not add up to the number of images.
    """
    if sum(sizes.values()) != len(classes) or set(sizes) != set(REAL_SPLITS):
        raise ValueError(f"split sizes {dict(sizes)} do not cover {len(classes)} images")
    splitter = _Splitter(classes, sizes, rng)
    for split in COVERAGE_ORDER:
        splitter.cover(split)
    splitter.fill()
    return [split for split in splitter.assigned if split is not None]


class _Splitter:
    """State of one :func:`split_images` run."""

    def __init__(self, classes: Sequence[frozenset[int]], sizes: Mapping[str, int],
                 rng: np.random.Generator):
        self.classes = classes
        self.sizes = dict(sizes)
        self.capacity = dict(sizes)
        self.rank = np.empty(len(classes), dtype=np.int64)
        self.rank[rng.permutation(len(classes))] = np.arange(len(classes))
        self.freq: Counter[int] = Counter(c for image in classes for c in image)
        self.have: dict[str, Counter[int]] = {split: Counter() for split in REAL_SPLITS}
        self.assigned: list[str | None] = [None] * len(classes)

    def assign(self, index: int, split: str) -> None:
        self.assigned[index] = split
        self.capacity[split] -= 1
        self.have[split].update(self.classes[index])

    def free(self) -> list[int]:
        return [i for i, split in enumerate(self.assigned) if split is None]

    def rarity(self, class_id: int) -> tuple[int, int]:
        return self.freq[class_id], class_id

    def cover(self, split: str) -> None:
        """Give ``split`` one image of each class it lacks, rarest class first."""
        free = self.free()
        uncovered = {c for i in free for c in self.classes[i]} - set(self.have[split])
        while self.capacity[split] > 0 and uncovered:
            target = min(uncovered, key=self.rarity)
            candidates = [i for i in free if target in self.classes[i]]
            # Most uncovered classes at once, then fewest other classes used up.
            best = max(candidates, key=lambda i: (len(self.classes[i] & uncovered),
                                                  -len(self.classes[i]), -self.rank[i]))
            self.assign(best, split)
            free.remove(best)
            uncovered -= self.classes[best]

    def fill(self) -> None:
        """Place the remaining images, rarest class first, where that class is most lacking."""
        def order(i: int) -> tuple[float, int]:
            rarest = min((self.freq[c] for c in self.classes[i]), default=math.inf)
            return rarest, int(self.rank[i])

        n = len(self.classes)
        for index in sorted(self.free(), key=order):
            open_splits = [s for s in REAL_SPLITS if self.capacity[s] > 0]
            if self.classes[index]:
                rarest = min(self.classes[index], key=self.rarity)
                need = {s: self.freq[rarest] * self.sizes[s] / n - self.have[s][rarest]
                        for s in open_splits}
            else:
                need = dict.fromkeys(open_splits, 0.0)
            best = max(open_splits, key=lambda s: (need[s], self.capacity[s] / self.sizes[s],
                                                   -REAL_SPLITS.index(s)))
            self.assign(index, best)


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
        shown = "; ".join(p.message for p in report.problems[:3])
        raise MixError(f"{given}: not a valid COCO dataset ({len(report.problems)} problem(s): "
                       f"{shown}); run `synthgen validate {given}` for the full list")
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
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in dataset.annotations:
        by_image.setdefault(ann["image_id"], []).append(ann)
    items = []
    for image in sorted(dataset.images, key=lambda entry: entry["id"]):
        rel = safe_relative_path(image["file_name"], f"{given}: image {image['id']}")
        anns = [_mapped(ann, targets[ann["category_id"]])
                for ann in by_image.get(image["id"], []) if targets[ann["category_id"]] != DROP]
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
    """Refuse a synthetic set given as --real: val and test must be real images only.

    Raises:
        MixError: The manifest says ``kind: synthetic``, or an image says it is
            synthetic or carries a generated image's ``scene`` and ``seed``.
    """
    if (dataset.manifest or {}).get("kind") == "synthetic":
        raise MixError(f"--real {given}: this is a synthetic dataset (its manifest says kind: "
                       "synthetic); give it with --synthetic and a real set with --real")
    for image in dataset.images:
        if image.get("source") == "synthetic" or ("scene" in image and "seed" in image):
            raise MixError(f"--real {given}: image {image['id']} ({image.get('file_name')}) is "
                           "synthetic; val and test must hold real images only")


def _refuse_real(given: str, dataset: Any) -> None:
    """Refuse a real set given as --synthetic: it would train on what val and test hold.

    Raises:
        MixError: The manifest is a ``real import``'s, or an image says it is real.
    """
    if (dataset.manifest or {}).get("command") == "real import":
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


#: Bytes read from the start of two same-size files before hashing them whole.
_HEAD = 4096


def same_images(paths: Sequence[Path], n_first: int) -> list[list[int]]:
    """Groups of two or more indices into ``paths`` (each ascending) that are one file
    (same device and inode) or files with the same bytes, among the groups that hold one
    of the first ``n_first`` paths; unreadable paths are left out.

    Files are compared by size, then by the SHA-256 of their first 4 KiB, and only then
    whole, and only where a group could hold one of the first ``n_first``: a set of
    100,000 images is stat'ed, not read. Paths that are not regular files are left out.
    """
    by_file: dict[tuple[int, int], list[int]] = {}  # every path of each file, ascending
    size_of: dict[tuple[int, int], int] = {}
    for index, path in enumerate(paths):
        try:
            stat = path.stat()
        except OSError:
            continue
        if not S_ISREG(stat.st_mode):
            continue  # a FIFO or device would block or never end the comparison
        key = (stat.st_dev, stat.st_ino)
        by_file.setdefault(key, []).append(index)
        size_of[key] = stat.st_size
    candidates: dict[Any, list[tuple[int, int]]] = {}
    for key, size in size_of.items():
        candidates.setdefault(size, []).append(key)
    for digest in (_head_digest, _file_digest):
        narrowed: dict[Any, list[tuple[int, int]]] = {}
        for group, keys in candidates.items():
            if len(keys) < 2 or min(by_file[key][0] for key in keys) >= n_first:
                continue
            for key in keys:
                with contextlib.suppress(OSError):
                    narrowed.setdefault((group, digest(paths[by_file[key][0]])), []).append(key)
        candidates = narrowed
    groups = [sorted(i for key in keys for i in by_file[key])
              for keys in candidates.values() if len(keys) > 1]
    merged = {key for keys in candidates.values() if len(keys) > 1 for key in keys}
    groups += [indices for key, indices in by_file.items()
               if len(indices) > 1 and key not in merged and indices[0] < n_first]
    return [group for group in groups if group[0] < n_first]


def _head_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(_HEAD)).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
    return {"info": {"description": f"synthgen mix: {split}", "version": __version__},
            "licenses": [], "images": images, "annotations": annotations,
            "categories": coco_categories()}


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
                 map_file: str | None = None, copy: bool = False,
                 overwrite: bool = False) -> dict[str, Any]:
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

    Returns:
        The manifest written to ``OUT/manifest.json``.

    Raises:
        MixError: Bad fractions or weight, no synthetic input, an invalid input, unmatched
            categories, or too few real images.
        DatasetError: An input or the map file cannot be read.
        OutputError: ``out`` cannot be used.
    """
    check_fractions(val_fraction, test_fraction)
    if isinstance(real_weight, bool) or not isinstance(real_weight, int) or real_weight < 1:
        raise MixError(f"--real-weight {real_weight}: expected an integer >= 1")
    if not synthetic:
        raise MixError("give at least one --synthetic dataset")
    user_map = load_mapping(map_file) if map_file is not None else None
    mapper = CategoryMapper({name: name for name in CATEGORY_NAMES}, user_map)
    synth_inputs = [_load_input(path, f"synthetic-{i}", "synthetic", mapper)
                    for i, path in enumerate(synthetic)]
    _refuse_repeated_synthetic(synth_inputs)
    real_input = _load_input(real, REAL_LABEL, REAL_LABEL, mapper)
    _refuse_shared_files(synth_inputs, real_input)
    for name in mapper.unused_user_entries():
        log.warning("--map %s: %r matches no category of the inputs", map_file, name)
    splits = _split_real(real_input, val_fraction, test_fraction, seed)
    documents = _documents([i for inp in synth_inputs for i in inp.items], splits, real_weight)
    for name, document in documents.items():
        report = validate_document(document, image_root=None, check_files=False, path=name)
        if not report.ok:
            raise RuntimeError(f"mix built an invalid {name}.json (a synthgen bug):\n"
                               f"{report.to_text()}")
    inputs = [*synth_inputs, real_input]
    out_path = Path(out)
    refuse_overlap(out_path, [p for inp in inputs for p in (Path(inp.given), inp.image_root)])
    with new_output_dir(out_path, overwrite=overwrite, owned=OWNED_OUTPUTS):
        links = link_files(((item.path, item.file_name) for inp in inputs
                            for item in inp.items), out_path / IMAGES_DIR, copy=copy)
        (out_path / ANNOTATIONS_DIR).mkdir()
        for name, document in documents.items():
            write_json_atomic(out_path / ANNOTATIONS_DIR / f"{name}.json", document)
        manifest = {
            "synthgen_version": __version__,
            "command": "mix",
            "options": {"synthetic": list(synthetic), "real": real, "out": out, "seed": seed,
                        "val_fraction": val_fraction, "test_fraction": test_fraction,
                        "real_weight": real_weight, "map": map_file, "copy": copy,
                        "overwrite": overwrite},
            "inputs": {inp.label: inp.given for inp in inputs},
            "seed": seed,
            "fractions": {"val": val_fraction, "test": test_fraction},
            "real_weight": real_weight,
            "weight_semantics": "each real training image appears real_weight times in train.json "
                                "(entries share the file, 'repeat' 0..K-1); every entry has "
                                "weight 1.0",
            "mapping": {"file": map_file, "ignore_category": IGNORE_CATEGORY,
                        "used": dict(sorted(mapper.used.items()))},
            "links": links,
            "files": {name: f"{ANNOTATIONS_DIR}/{name}.json" for name in documents},
            "counts": {name: _counts(document) for name, document in documents.items()},
        }
        write_json_atomic(out_path / MANIFEST_FILE, manifest)
    return manifest


def _split_real(real_input: _Input, val_fraction: float, test_fraction: float,
                seed: int) -> dict[str, list[_Item]]:
    items = real_input.items
    if not items:
        raise MixError(f"--real {real_input.given}: has no images")
    sizes = split_sizes(len(items), val_fraction, test_fraction)
    if sizes["train"] < 1:
        raise MixError(f"--real {real_input.given}: {len(items)} image(s) are too few for "
                       f"--val-fraction {val_fraction} and --test-fraction {test_fraction}; "
                       "no image would be left for fine-tuning")
    for split, fraction in (("val", val_fraction), ("test", test_fraction)):
        if fraction > 0 and sizes[split] == 0:
            log.warning("--%s-fraction %g of %d real images is no image: %s.json is empty",
                        split, fraction, len(items), split)
    log.info("--real %s: %d images split into %s", real_input.given, len(items),
             ", ".join(f"{split} {count}" for split, count in sizes.items()))
    assignment = split_images([item.classes for item in items], sizes,
                              np.random.default_rng(seed))
    return {split: [item for item, s in zip(items, assignment, strict=True) if s == split]
            for split in REAL_SPLITS}


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
