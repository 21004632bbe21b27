"""Reading a COCO dataset folder, synthetic or real.

A synthgen dataset folder holds ``images/``, ``annotations.json`` and ``manifest.json``.
:func:`load_dataset` also accepts any COCO annotation file, with images resolved by
:func:`image_root_for` (``images/`` beside it, or beside its ``annotations/`` folder as
``synthgen mix`` writes, or the file's own folder).

Reading stays inside the dataset: an image's ``file_name`` is a relative path that does
not climb out of the image folder (:meth:`CocoDataset.image_path`, the rule ``mix`` and
``real import`` apply), and a folder that a synthgen command left unfinished is refused
by the commands that measure or show it (:func:`refuse_unfinished`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from synthgen.errors import DatasetError, OutputError
from synthgen.formats.manifest import MANIFEST_FILE

# The folder's file names and the unfinished-folder test live in storage; imported from
# here too, where datasets are read.
from synthgen.storage.files import ANNOTATIONS_FILE as ANNOTATIONS_FILE
from synthgen.storage.files import IMAGES_DIR as IMAGES_DIR
from synthgen.storage.files import UNFINISHED_ADVICE as UNFINISHED_ADVICE
from synthgen.storage.files import UNFINISHED_MESSAGE as UNFINISHED_MESSAGE
from synthgen.storage.files import (
    read_json,
    read_json_or_fail,
    unfinished_folder,
)


@dataclass
class CocoDataset:
    """A COCO annotation file and the folder its ``file_name`` entries are relative to.

    Attributes:
        annotation_file: The JSON file read.
        image_root: Folder that image ``file_name`` values are relative to.
        data: The parsed JSON document, as read.
        manifest: ``manifest.json`` beside the annotations, if there is one.
    """

    annotation_file: Path
    image_root: Path
    data: dict[str, Any]
    manifest: dict[str, Any] | None = None
    _by_image: dict[int, list[dict[str, Any]]] | None = field(default=None, repr=False)

    @property
    def images(self) -> list[dict[str, Any]]:
        return self.data.get("images", [])

    @property
    def annotations(self) -> list[dict[str, Any]]:
        return self.data.get("annotations", [])

    @property
    def categories(self) -> list[dict[str, Any]]:
        return self.data.get("categories", [])

    def category_names(self) -> dict[int, str]:
        """Category id -> name."""
        return {c["id"]: c["name"] for c in self.categories}

    def image_path(self, image: dict[str, Any]) -> Path:
        """Where the file of a COCO ``images`` entry lies.

        Raises:
            DatasetError: Its ``file_name`` is empty, absolute or climbs out of the image
                folder with ``..``.
        """
        return self.image_root / self.relative_image_path(image)

    def relative_image_path(self, image: dict[str, Any]) -> PurePosixPath:
        """An entry's ``file_name``, checked to stay inside the image folder.

        Raises:
            DatasetError: It is empty, absolute or climbs out with ``..``.
        """
        return safe_relative_path(image["file_name"],
                                  f"{self.annotation_file}: image {image.get('id')}")

    def check_image_paths(self) -> None:
        """Refuse the dataset if any image's ``file_name`` leaves the image folder, before
        any file is read (one rule for every command: ``mix`` and ``real import`` refuse
        such a name too).

        Raises:
            DatasetError: Naming the first such entry.
        """
        for image in self.images:
            if isinstance(image, dict) and isinstance(image.get("file_name"), str):
                self.relative_image_path(image)

    def annotations_for(self, image_id: int) -> list[dict[str, Any]]:
        """The annotations of one image (built into an index on first use)."""
        if self._by_image is None:
            index: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for ann in self.annotations:
                index[ann["image_id"]].append(ann)
            self._by_image = dict(index)
        return self._by_image.get(image_id, [])


def is_synthetic_image(entry: dict[str, Any]) -> bool:
    """Whether a COCO ``images`` entry says it was rendered by ``synthgen generate``: it
    carries the ``scene`` and ``seed`` it was made from (as generate writes every image),
    or its ``source`` is ``"synthetic"`` (as a ``mix`` output marks it).

    One test for every command that must tell rendered images from real ones (``mix``
    refusing them as --real, ``real import`` refusing to import them, ``benchmark``
    judging a set's kind).
    """
    return entry.get("source") == "synthetic" or ("scene" in entry and "seed" in entry)


def is_pseudo_labelled(entry: dict[str, Any]) -> bool:
    """Whether a COCO ``images`` entry says its labels are a detector's, not people's
    (``"labels": "pseudo"``, as ``real pseudo-label`` marks every image and ``real
    import`` keeps it): one test for ``benchmark`` (refusing it as --eval or --train),
    ``mix`` (refusing it as --real) and ``real import`` (keeping the mark)."""
    return entry.get("labels") == "pseudo"


def refuse_output_inside(option: str, path: Path | None, datasets: list[CocoDataset]) -> None:
    """Refuse an output file (a report, a sheet) that would be written into an input
    dataset: its annotation file's folder or its image folder, or the folder holding
    both. Inputs are never modified, not even by a file added beside them.

    Raises:
        OutputError: ``path`` lies inside one of those folders.
    """
    if path is None:
        return
    target = path.resolve()
    for dataset in datasets:
        folders = [dataset.annotation_file.parent, dataset.image_root]
        if (dataset.image_root != dataset.annotation_file.parent
                and dataset.image_root.parent == dataset.annotation_file.parent.parent):
            # annotations/ and images/ side by side (a mix output, a COCO download): the
            # folder holding both is the dataset's (and each of the two stays checked on
            # its own: either may be a link to a folder elsewhere).
            folders.append(dataset.image_root.parent)
        for folder in dict.fromkeys(folders):
            if target.is_relative_to(folder.resolve()):
                raise OutputError(f"{option} {path}: inside the dataset folder {folder} read "
                                  "as input, which synthgen never writes to; write it "
                                  "somewhere else")


def refuse_unfinished(dataset: CocoDataset) -> None:
    """Refuse a dataset whose folder a synthgen command left unfinished.

    Raises:
        DatasetError: See :func:`unfinished_folder`.
    """
    folder = unfinished_folder(dataset.annotation_file, dataset.image_root)
    if folder is not None:
        raise DatasetError(f"{folder}: {UNFINISHED_MESSAGE}")


def find_annotation_file(path: str | Path) -> Path:
    """The COCO file a user means by ``path``: the file itself, or ``annotations.json`` in it.

    Its errors, and :func:`read_document`'s, are those of every reader of a dataset
    (``validate`` and the commands that load one say the same), and name the file the
    problem is in: the folder when it holds no ``annotations.json``, the annotations
    file when that is what cannot be read.

    Raises:
        DatasetError: Nothing readable is there (a path the system refuses to look at,
            too long or in a folder it may not list, says why).
    """
    path = Path(path)
    try:
        return _find_annotation_file(path)
    except OSError as exc:  # Path.is_dir() and friends raise for all but a missing path
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError:  # a name holding a NUL byte names nothing
        raise DatasetError(f"{path}: no such file or folder") from None


def _find_annotation_file(path: Path) -> Path:
    if path.is_dir():
        candidate = path / ANNOTATIONS_FILE
        if not candidate.is_file():
            if candidate.exists():
                raise DatasetError(f"{candidate}: not a regular file")
            if candidate.is_symlink():
                raise DatasetError(f"{candidate}: cannot read (a link to nothing)")
            raise DatasetError(f"{path}: no {ANNOTATIONS_FILE} in this folder")
        return candidate
    if path.is_file():
        return path
    if path.exists():
        raise DatasetError(f"{path}: not a regular file or a folder")
    raise DatasetError(f"{path}: no such file or folder")


def image_root_for(annotation_file: Path) -> Path:
    """The folder image ``file_name`` entries are taken relative to.

    ``images/`` beside the file (a synthgen dataset), else ``images/`` beside the
    ``annotations/`` folder holding the file (a ``synthgen mix`` output), else the file's
    own folder.
    """
    folder = annotation_file.parent
    if (folder / IMAGES_DIR).is_dir():
        return folder / IMAGES_DIR
    if folder.name == "annotations" and (folder.parent / IMAGES_DIR).is_dir():
        return folder.parent / IMAGES_DIR
    return folder


#: Keys every entry of a COCO list needs for synthgen to index it.
_REQUIRED = {"images": ("id", "file_name"), "annotations": ("id", "image_id", "category_id"),
             "categories": ("id", "name")}


def _check_entries(annotation_file: Path, data: dict[str, Any]) -> None:
    """Refuse entries that are not objects or lack the keys every reader relies on.

    Raises:
        DatasetError: Naming the list, the entry's position and the missing key.
    """
    for key, required in _REQUIRED.items():
        for position, entry in enumerate(data[key]):
            if not isinstance(entry, dict):
                raise DatasetError(f"{annotation_file}: {key}[{position}]: expected an object, "
                                   f"got {type(entry).__name__} (synthgen validate lists "
                                   "every problem)")
            missing = [k for k in required if k not in entry]
            if missing:
                raise DatasetError(f"{annotation_file}: {key}[{position}]: missing "
                                   f"{', '.join(repr(k) for k in missing)} (synthgen validate "
                                   "lists every problem)")
            for k in required:
                value = entry[k]
                text = k in ("file_name", "name")
                ok = isinstance(value, str) if text else (
                    isinstance(value, (int, str)) and not isinstance(value, bool))
                if not ok:
                    expected = "a string" if text else "an integer id"
                    raise DatasetError(f"{annotation_file}: {key}[{position}].{k}: expected "
                                       f"{expected}, got {value!r} (synthgen validate lists "
                                       "every problem)")


def read_document(annotation_file: Path) -> dict[str, Any]:
    """The JSON object in a COCO file (:func:`find_annotation_file` found it).

    Raises:
        DatasetError: It cannot be read, is not UTF-8 JSON, or its top level is not an
            object; the message names ``annotation_file``.
    """
    # (A FIFO or a folder swapped in since it was found is refused, not read.)
    data = read_json_or_fail(annotation_file, DatasetError)
    if not isinstance(data, dict):
        raise DatasetError(f"{annotation_file}: expected a JSON object at the top level, "
                           f"found {json_type_name(data)}")
    return data


def json_type_name(value: Any) -> str:
    """What a parsed JSON value is, in words: ``"a list"``, ``"null"``..."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def load_dataset(path: str | Path) -> CocoDataset:
    """Read a COCO dataset from a synthgen folder or a COCO JSON file.

    Args:
        path: A folder holding ``annotations.json`` (and ``images/``), or a JSON file.

    Returns:
        The dataset; the document is checked only for being a JSON object with the
        three COCO lists (see ``synthgen validate`` for a full check).

    Raises:
        DatasetError: The path is missing, not JSON, or not a COCO document.
    """
    annotation_file = find_annotation_file(path)
    data = read_document(annotation_file)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(f"{annotation_file}: expected a list under {key!r}")
    _check_entries(annotation_file, data)
    folder = annotation_file.parent
    image_root = image_root_for(annotation_file)
    manifest = None
    manifest_file = folder / MANIFEST_FILE
    if manifest_file.is_file():
        try:
            manifest = read_json(manifest_file)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            manifest = None
        if not isinstance(manifest, dict):  # not a manifest synthgen could have written
            manifest = None
    return CocoDataset(annotation_file=annotation_file, image_root=image_root, data=data,
                       manifest=manifest)


def safe_relative_path(file_name: str, where: str) -> PurePosixPath:
    """A ``file_name`` that stays inside the folder it is relative to.

    Raises:
        DatasetError: It is empty, absolute or climbs out with ``..``.
    """
    rel = PurePosixPath(file_name)
    if not file_name or rel.is_absolute() or ".." in rel.parts or rel == PurePosixPath("."):
        raise DatasetError(f"{where}: file_name {file_name!r} must be a relative path inside "
                           "the image folder (no leading '/', no '..')")
    return rel


def refuse_unfinished_input(path: Path) -> None:
    """Refuse a folder given as input that a synthgen command left unfinished (it holds
    ``.partial/`` and no manifest), before anything in it is read: such a folder may not
    hold its ``annotations.json`` yet, or one describing images no longer there. The
    rule of :func:`synthgen.formats.dataset.refuse_unfinished`, for a path not loaded yet; a
    KITTI folder (an ``export --format kitti`` output) is checked the same way, and so
    is the folder holding a ``training/`` folder given as the KITTI set.

    Raises:
        DatasetError: Naming the unfinished folder and what to do.
    """
    if not path.is_dir():
        return
    folders = [path]
    if path.name == "training":
        folders.append(path.parent)
    for folder in folders:
        found = unfinished_folder(folder / ANNOTATIONS_FILE, folder / IMAGES_DIR)
        if found is not None:
            raise DatasetError(f"{found}: {UNFINISHED_MESSAGE}")
