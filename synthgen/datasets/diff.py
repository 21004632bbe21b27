"""What changed between two versions of a dataset: ``synthgen diff OLD NEW``.

A version is a finished folder that ``generate`` (or ``merge``), ``real import`` or
``mix`` wrote, or any COCO dataset folder. The stages, each a function:

1. :func:`read_version`: a folder -> :class:`Version`: its manifest, its images by file
   name with their content digests where the folder records them (``images.sha256`` of
   a synthetic set; a real import records none, so its images are compared by name) and
   a fingerprint of each image's labels, and its boxes per class. A mix is read from its
   manifest alone: the content digest and split of every real image (``real_images``) and
   the counts of each split file.
2. :func:`diff_versions`: two versions -> a JSON-ready report: images added, removed,
   changed (same name, other bytes) and relabelled (other boxes); for a mix, real images
   added, removed and moved per split (matched by content, so a renamed file is the same
   image); boxes per class before and after; and the manifests' records that differ
   (template, options, inputs), bulky entries left out.
3. :func:`format_diff`: the report as plain text.

Nothing is written and no image file is read.
"""

from __future__ import annotations

import hashlib
import reprlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.categories import CATEGORY_NAMES
from synthgen.errors import DatasetError
from synthgen.formats.dataset import (
    IMAGES_DIR,
    load_dataset,
    refuse_unfinished,
    safe_relative_path,
)
from synthgen.formats.manifest import (
    MANIFEST_FILE,
    MIX,
    REAL_IMPORT,
    SYNTHETIC,
    command_of,
    is_synthetic,
)
from synthgen.storage.files import (
    DIGESTS_FILE,
    UNFINISHED_DIR,
    read_json_or_fail,
    read_text_or_fail,
    to_json,
)
from synthgen.storage.images import orientation_identity

#: Manifest entries left out of the record comparison: counts and per-image lists are
#: compared on their own, and a digest changes whenever the content does.
BULKY_KEYS = ("counts", "digests", "real_images", "previous", "links", "appended")
#: Names listed per group in the text report; the JSON report lists them all.
LISTED = 5
#: Manifest differences listed in the text report before the rest are counted.
MAX_RECORD_LINES = 20
_MISSING = object()
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 1, 60, 60
_SHORT.maxlist = _SHORT.maxdict = 4


@dataclass
class Version:
    """One version of a dataset, as :func:`diff_versions` compares it.

    Attributes:
        path: The folder as given.
        kind: ``synthetic``, ``real import``, ``mix`` or ``coco`` (no synthgen manifest).
        manifest: Its ``manifest.json``, if any.
        images: File name -> SHA-256 of the file, or ``None`` where not recorded.
        labels: File name -> a fingerprint of its annotations.
        per_class: Boxes per class (ignore regions left out).
        real_images: A mix: content digest -> ``(file_name, split)`` of each real image.
        split_counts: A mix: split file name -> its manifest counts.
    """

    path: Path
    kind: str
    manifest: dict[str, Any] | None
    images: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    per_class: dict[str, int] = field(default_factory=dict)
    real_images: dict[str, tuple[str, str]] | None = None
    split_counts: dict[str, dict[str, Any]] | None = None

    @property
    def n_images(self) -> int:
        if self.split_counts is not None:
            return len(self.real_images or {}) + int(
                (self.split_counts.get("pretrain") or {}).get("images", 0))
        return len(self.images)

    @property
    def n_boxes(self) -> int:
        return sum(self.per_class.values())


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        return None
    document = read_json_or_fail(path, DatasetError)  # a regular file (is_file above)
    if not isinstance(document, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    return document


def _kind(manifest: dict[str, Any] | None) -> str:
    if manifest is None:
        return "coco"
    if is_synthetic(manifest):
        return SYNTHETIC
    command = command_of(manifest)
    return command if command in (REAL_IMPORT, MIX) else "coco"


def read_version(path: str | Path) -> Version:
    """Read a finished dataset folder for :func:`diff_versions`.

    Raises:
        DatasetError: Not a folder, unfinished, or not readable as a dataset.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder (diff compares two dataset folders)")
    manifest = _read_manifest(folder)
    if manifest is None and (folder / UNFINISHED_DIR).is_dir():
        raise DatasetError(f"{folder}: unfinished (it holds {UNFINISHED_DIR}/ and no "
                           f"{MANIFEST_FILE}); finish it first")
    kind = _kind(manifest)
    if kind == MIX:
        return _read_mix(folder, manifest)
    dataset = load_dataset(folder)
    refuse_unfinished(dataset)
    names = dataset.category_names()
    file_of = {image.get("id"): str(image.get("file_name")) for image in dataset.images}
    boxes: dict[str, list[Any]] = {name: [] for name in file_of.values()}
    per_class: Counter[str] = Counter()
    for ann in dataset.annotations:
        name = names.get(ann.get("category_id"), str(ann.get("category_id")))
        if not ann.get("iscrowd"):
            per_class[name] += 1
        if ann.get("image_id") in file_of:
            boxes[file_of[ann["image_id"]]].append(
                [name, ann.get("bbox"), ann.get("iscrowd", 0)])
    labels = {file: hashlib.sha256(to_json(sorted(entries, key=to_json)).encode()).hexdigest()
              for file, entries in boxes.items()}
    digests = _image_digests(folder)
    images = {file: digests.get(file) for file in file_of.values()}
    ordered = {name: per_class[name] for name in CATEGORY_NAMES}
    ordered.update({name: n for name, n in sorted(per_class.items()) if name not in ordered})
    return Version(path=folder, kind=kind, manifest=manifest, images=images, labels=labels,
                   per_class=ordered)


def _image_digests(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 from the folder's ``images.sha256``, if it has one."""
    path = folder / DIGESTS_FILE
    if not path.is_file():
        return {}
    digests = {}
    lines = read_text_or_fail(path, DatasetError).splitlines()
    for number, line in enumerate(lines, start=1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name.startswith(f"{IMAGES_DIR}/"):
            raise DatasetError(f"{path}: line {number} is not 'SHA256  images/NAME'")
        digests[name[len(IMAGES_DIR) + 1:]] = digest
    return digests


def _read_mix(folder: Path, manifest: dict[str, Any]) -> Version:
    records = manifest.get("real_images")
    counts = manifest.get("counts")
    if not isinstance(records, list) or not isinstance(counts, dict):
        raise DatasetError(f"{folder / MANIFEST_FILE}: a mix manifest without "
                           "'real_images' (written before mixes recorded their images' "
                           "digests); run that mix again to compare it")
    real: dict[str, tuple[str, str]] = {}
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
            raise DatasetError(f"{folder / MANIFEST_FILE}: unreadable real_images entry "
                               f"{_SHORT.repr(record)}")
        name = str(record.get("file_name"))
        # An earlier synthgen recorded a turned photo by its bytes as they were, a later
        # one with its orientation reset: known by the latter, from the mix's own copy.
        try:
            alias = orientation_identity(folder / IMAGES_DIR / safe_relative_path(
                name, f"{folder / MANIFEST_FILE}: real_images"))
        except DatasetError:
            alias = None
        real[alias or record["sha256"]] = (name, str(record.get("split")))
    per_class: Counter[str] = Counter()
    for name, entry in counts.items():
        if name in ("pretrain", "finetune", "val", "test") and isinstance(entry, dict):
            split_classes = entry.get("per_class") or {}
            if (not isinstance(split_classes, dict)
                    or not all(type(n) is int for n in split_classes.values())
                    or type(entry.get("images", 0)) is not int):
                raise DatasetError(f"{folder / MANIFEST_FILE}: field 'counts.{name}' is not "
                                   "what mix writes (images and per_class counts); was it "
                                   "edited?")
            per_class.update(split_classes)
    return Version(path=folder, kind=MIX, manifest=manifest, per_class=dict(per_class),
                   real_images=real, split_counts={k: v for k, v in counts.items()
                                                   if isinstance(v, dict)})


def record_changes(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two manifests' records differ: ``{"path", "old", "new"}`` entries, a value
    missing on one side given as ``None`` with ``"missing": "old"|"new"``."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in [*old, *(k for k in new if k not in old)]:
            if not path and key in BULKY_KEYS:
                continue
            where = f"{path}.{key}" if path else str(key)
            found.extend(record_changes(old.get(key, _MISSING), new.get(key, _MISSING), where))
        return found
    if old == new:
        return []
    entry: dict[str, Any] = {"path": path, "old": None if old is _MISSING else old,
                             "new": None if new is _MISSING else new}
    if old is _MISSING or new is _MISSING:
        entry["missing"] = "old" if old is _MISSING else "new"
    return [entry]


def _class_table(old: dict[str, int], new: dict[str, int]) -> dict[str, list[int]]:
    names = [*old, *(name for name in new if name not in old)]
    return {name: [old.get(name, 0), new.get(name, 0)] for name in names}


def _images(old: Version, new: Version) -> dict[str, Any]:
    common = [name for name in old.images if name in new.images]
    changed = [name for name in common if None not in (old.images[name], new.images[name])
               and old.images[name] != new.images[name]]
    changed_set = set(changed)
    relabelled = [name for name in common if name not in changed_set
                  and old.labels.get(name) != new.labels.get(name)]
    compared = "content" if all(d is not None for v in (old, new)
                                for d in v.images.values()) else "name"
    return {"compared_by": compared,
            "added": [name for name in new.images if name not in old.images],
            "removed": [name for name in old.images if name not in new.images],
            "changed": changed, "relabelled": relabelled,
            "unchanged": len(common) - len(changed) - len(relabelled)}


def _splits(old: Version, new: Version) -> dict[str, Any]:
    before, after = old.real_images or {}, new.real_images or {}
    names = list(dict.fromkeys([*(s for _, s in before.values()),
                                *(s for _, s in after.values())]))
    splits = {}
    for split in names:
        splits[split] = {
            "old": sum(1 for _, s in before.values() if s == split),
            "new": sum(1 for _, s in after.values() if s == split),
            "added": [f for d, (f, s) in after.items() if s == split and d not in before],
            "removed": [f for d, (f, s) in before.items() if s == split and d not in after],
        }
    moved = [{"file_name": after[d][0], "from": before[d][1], "to": after[d][1]}
             for d in after if d in before and before[d][1] != after[d][1]]
    files = list(dict.fromkeys([*(old.split_counts or {}), *(new.split_counts or {})]))
    per_file = {}
    for name in files:
        was, now = (old.split_counts or {}).get(name, {}), (new.split_counts or {}).get(name, {})
        per_file[name] = {"images": [was.get("images", 0), now.get("images", 0)],
                          "per_class": _class_table(was.get("per_class") or {},
                                                    now.get("per_class") or {})}
    return {"real": splits, "moved": moved, "files": per_file}


def diff_versions(old: Version, new: Version) -> dict[str, Any]:
    """What changed from ``old`` to ``new``, JSON-ready (see the module docstring).

    Raises:
        DatasetError: One is a mix and the other is not.
    """
    if (old.kind == MIX) != (new.kind == MIX):
        raise DatasetError(f"{old.path} is {_a(old.kind)} folder and {new.path} is "
                           f"{_a(new.kind)} one; diff compares two versions of one dataset")
    report: dict[str, Any] = {
        "old": {"path": str(old.path), "kind": old.kind, "images": old.n_images,
                "boxes": old.n_boxes},
        "new": {"path": str(new.path), "kind": new.kind, "images": new.n_images,
                "boxes": new.n_boxes},
    }
    if old.kind == MIX:
        report["splits"] = _splits(old, new)
    else:
        report["images"] = _images(old, new)
    report["per_class"] = _class_table(old.per_class, new.per_class)
    report["records"] = record_changes(old.manifest or {}, new.manifest or {})
    if old.kind == REAL_IMPORT or new.kind == REAL_IMPORT:
        batches = [_appended(v) for v in (old, new)]
        report["appended"] = [{"source": b.get("source"), "images": (b.get("counts") or {})
                               .get("images")} for b in batches[1][len(batches[0]):]]
    return report


def _appended(version: Version) -> list[dict[str, Any]]:
    """The batches ``real import --append`` recorded in a version's manifest.

    Raises:
        DatasetError: The field is not what real import writes (a list of objects, each
            with its counts an object).
    """
    batches = (version.manifest or {}).get("appended") or []
    if not isinstance(batches, list) or not all(
            isinstance(b, dict) and isinstance(b.get("counts") or {}, dict) for b in batches):
        raise DatasetError(f"{version.path / MANIFEST_FILE}: field 'appended' is not what "
                           "real import writes (a list of batches); was it edited?")
    return batches


def _a(kind: str) -> str:
    return f"a {kind}" if kind != MIX else "a mix output"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f", ... ({len(names) - LISTED} more)" if len(names) > LISTED else "")


def _signed(n: int) -> str:
    return f"{n:+d}" if n else "0"


def format_diff(report: dict[str, Any]) -> str:
    """The report of :func:`diff_versions` as plain text."""
    lines = []
    for side in ("old", "new"):
        entry = report[side]
        lines.append(f"{side.upper():<4} {entry['path']}  {entry['kind']}, "
                     f"{entry['images']} images, {entry['boxes']} boxes")
    lines.append("")
    if "images" in report:
        images = report["images"]
        lines.append(f"Images: {len(images['added'])} added, {len(images['removed'])} "
                     f"removed, {len(images['changed'])} changed, "
                     f"{len(images['relabelled'])} relabelled, {images['unchanged']} unchanged")
        for group in ("added", "removed", "changed", "relabelled"):
            if images[group]:
                lines.append(f"  {group}: {_names(images[group])}")
        if images["compared_by"] == "name":
            lines.append("  (image bytes compared only where both folders record their "
                         f"digests in {DIGESTS_FILE}; others by file name and labels)")
    else:
        splits = report["splits"]
        lines.append("Real images per split (matched by content):")
        lines.append(f"  {'split':<10} {'old':>6} {'new':>6} {'added':>6} {'removed':>8}")
        for name, split in splits["real"].items():
            lines.append(f"  {name:<10} {split['old']:>6} {split['new']:>6} "
                         f"{len(split['added']):>6} {len(split['removed']):>8}")
        for name, split in splits["real"].items():
            for group in ("added", "removed"):
                if split[group]:
                    lines.append(f"  {name} {group}: {_names(split[group])}")
        if splits["moved"]:
            lines.append(f"  moved between splits: {len(splits['moved'])} (an earlier "
                         "evaluation image may now be trained on):")
            lines.extend(f"    {m['file_name']}: {m['from']} -> {m['to']}"
                         for m in splits["moved"][:LISTED])
        else:
            lines.append("  no real image moved between splits")
        lines.append("Images per file:")
        for name, entry in splits["files"].items():
            was, now = entry["images"]
            lines.append(f"  {name:<10} {was:>6} -> {now:<6} ({_signed(now - was)})")
    lines.append("Boxes per class (pretrain + finetune + val + test):" if "splits" in report
                 else "Boxes per class:")
    width = max([5, *(len(name) for name in report["per_class"])])
    lines.append(f"  {'class':<{width}} {'old':>7} {'new':>7} {'change':>7}")
    for name, (was, now) in report["per_class"].items():
        lines.append(f"  {name:<{width}} {was:>7} {now:>7} {_signed(now - was):>7}")
    if "splits" in report:
        for name, entry in report["splits"]["files"].items():
            moved = [f"{c} {was} -> {now} ({_signed(now - was)})"
                     for c, (was, now) in entry["per_class"].items() if was != now]
            if moved:
                lines.append(f"  {name}: " + ", ".join(moved))
    for batch in report.get("appended", []):
        lines.append(f"Appended: {batch['images']} images from {batch['source']}")
    records = report["records"]
    if records:
        lines.append("Manifest records that differ:")
        for entry in records[:MAX_RECORD_LINES]:
            was = "(none)" if entry.get("missing") == "old" else _SHORT.repr(entry["old"])
            now = "(none)" if entry.get("missing") == "new" else _SHORT.repr(entry["new"])
            lines.append(f"  {entry['path']}: {was} -> {now}")
        if len(records) > MAX_RECORD_LINES:
            lines.append(f"  ... and {len(records) - MAX_RECORD_LINES} more (--json lists "
                         "them all)")
    else:
        lines.append("Manifest records: the same")
    return "\n".join(lines)
