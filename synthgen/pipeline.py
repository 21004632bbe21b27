"""The pipeline: from a template to a dataset folder on disk.

For each image index ``i`` of a run: ``sampling.image_rng(seed, i)`` ->
``sampling.sample_scene`` -> ``render.render`` -> ``effects.apply_effects`` ->
``labels.compute_labels`` -> encoded image file + one per-image record. Images are made
in worker processes; records come back in index order and are appended to
``OUT/.partial/records.jsonl``; when every image is done, ``annotations.json`` is
streamed from those records and ``manifest.json`` is written last, so a folder with a
manifest is complete. Every file is written under a temporary name and renamed.

An image depends on ``(template, seed, index, options)`` only, so output bytes are the
same for any number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from synthgen import __version__
from synthgen.categories import CATEGORY_NAMES
from synthgen.coco import annotation_record, image_record, info_record, write_coco
from synthgen.dataset import ANNOTATIONS_FILE, IMAGES_DIR, MANIFEST_FILE
from synthgen.effects import apply_effects
from synthgen.io import prepare_output_dir, to_json, write_bytes_atomic, write_json_atomic
from synthgen.labels import LabelOptions, ObjectLabel, compute_labels
from synthgen.render import render
from synthgen.sampling import image_rng, sample_scene
from synthgen.scene import Scene
from synthgen.templates import SceneTemplate

PARTIAL_DIR = ".partial"
RECORDS_FILE = "records.jsonl"
#: Everything ``generate`` writes into its output folder (and ``--overwrite`` removes).
OWNED = (IMAGES_DIR, ANNOTATIONS_FILE, MANIFEST_FILE, PARTIAL_DIR)
IMAGE_FORMATS = ("jpg", "png")


@dataclass(frozen=True)
class GenerateOptions:
    """Everything besides the template that decides a dataset's bytes (and the workers)."""

    count: int
    seed: int = 0
    size: tuple[int, int] = (1280, 720)
    image_format: str = "jpg"
    jpeg_quality: int = 90
    labels: LabelOptions = field(default_factory=LabelOptions)
    workers: int = 1

    def recorded(self) -> dict[str, Any]:
        """The options as written to the manifest (workers left out: they change nothing)."""
        record = asdict(self)
        record.pop("workers")
        record["size"] = list(self.size)
        return record


@dataclass
class Sample:
    """One generated image with its layers and labels."""

    scene: Scene
    image: np.ndarray
    instance_map: np.ndarray
    depth: np.ndarray
    labels: list[ObjectLabel]


@dataclass
class Summary:
    """What a run produced."""

    images: int
    annotations: int
    per_class: dict[str, int]
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def render_sample(template: SceneTemplate, *, seed: int, index: int,
                  size: tuple[int, int] = (1280, 720),
                  label_options: LabelOptions | None = None) -> Sample:
    """Make image ``index`` of a run in memory: scene, final image, layers and labels."""
    scene = sample_scene(template, image_rng(seed, index), seed=seed, index=index)
    layers = render(scene, *size)
    image = apply_effects(layers, scene)
    labels = compute_labels(layers.instance_map, layers.objects, label_options)
    return Sample(scene=scene, image=image, instance_map=layers.instance_map,
                  depth=layers.depth, labels=labels)


def encode_image(image: np.ndarray, image_format: str, jpeg_quality: int) -> bytes:
    """RGB array to JPEG or PNG bytes (deterministic for the same OpenCV build)."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if image_format == "png":
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image_format} image")
    return data.tobytes()


def file_name(index: int, image_format: str) -> str:
    return f"{index:06d}.{image_format}"


# Per-process state of worker processes, set once by _init_worker.
_WORKER: dict[str, Any] = {}


def _init_worker(template: SceneTemplate, options: GenerateOptions, images_dir: str) -> None:
    # One OpenCV thread per worker: the workers already use every core.
    cv2.setNumThreads(1)
    _WORKER.update(template=template, options=options, images_dir=images_dir)


def _make_image(index: int) -> dict[str, Any]:
    """Render, encode and write image ``index``; return its record."""
    template, options = _WORKER["template"], _WORKER["options"]
    sample = render_sample(template, seed=options.seed, index=index, size=options.size,
                           label_options=options.labels)
    name = file_name(index, options.image_format)
    write_bytes_atomic(Path(_WORKER["images_dir"]) / name,
                       encode_image(sample.image, options.image_format, options.jpeg_quality))
    record = image_record(index, name, options.size[0], options.size[1],
                          sample.scene.metadata())
    record["annotations"] = [annotation_record(label) for label in sample.labels]
    return record


def _records(indices: range, template: SceneTemplate, options: GenerateOptions,
             images_dir: Path) -> Iterator[dict[str, Any]]:
    """Image records in index order, made by ``options.workers`` processes."""
    if options.workers <= 1:
        _init_worker(template, options, str(images_dir))
        yield from map(_make_image, indices)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(options.workers, initializer=_init_worker,
                      initargs=(template, options, str(images_dir))) as pool:
        yield from pool.imap(_make_image, indices, chunksize=4)


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Per-image records from a JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def manifest(template: SceneTemplate, options: GenerateOptions, summary: Summary
             ) -> dict[str, Any]:
    """``manifest.json``: enough to make every image of the folder again."""
    return {
        "synthgen_version": __version__,
        "kind": "synthetic",
        "template": template.model_dump(mode="json"),
        "seed": options.seed,
        "options": options.recorded(),
        "counts": {"images": summary.images, "annotations": summary.annotations,
                   "per_class": summary.per_class},
    }


def generate(template: SceneTemplate, out: str | os.PathLike[str], options: GenerateOptions,
             *, overwrite: bool = False, progress: bool = True) -> Summary:
    """Generate a dataset folder.

    Args:
        template: The validated scene template.
        out: Output folder; refused if it exists and is not empty, unless ``overwrite``.
        options: Count, seed, size, format, label thresholds and workers.
        overwrite: Replace what an earlier run wrote in ``out``.
        progress: Show a tqdm progress bar on stderr.

    Returns:
        Counts and timing of the run.
    """
    out = prepare_output_dir(out, overwrite=overwrite, owned=OWNED)
    images_dir = out / IMAGES_DIR
    partial = out / PARTIAL_DIR
    images_dir.mkdir(exist_ok=True)
    partial.mkdir(exist_ok=True)
    write_json_atomic(partial / "run.json", {"template": template.model_dump(mode="json"),
                                             "options": options.recorded()})
    records_path = partial / RECORDS_FILE
    per_class: Counter[str] = Counter()
    n_annotations = 0
    started = time.perf_counter()
    # Records are appended one line each; only annotations.json and manifest.json,
    # written at the end, mark the dataset complete.
    with open(records_path, "w", encoding="utf-8") as records, \
            tqdm(total=options.count, unit="img", disable=not progress,
                 desc=f"generate {template.name}") as bar:
        for record in _records(range(options.count), template, options, images_dir):
            records.write(to_json(record) + "\n")
            for annotation in record["annotations"]:
                per_class[CATEGORY_NAMES[annotation["category_id"] - 1]] += 1
            n_annotations += len(record["annotations"])
            bar.update(1)
    info = info_record(f"synthgen synthetic driving scenes ({template.name})",
                       scene=template.name, seed=options.seed)
    write_coco(out / ANNOTATIONS_FILE, info, lambda: read_records(records_path))
    summary = Summary(images=options.count, annotations=n_annotations,
                      per_class={name: per_class[name] for name in CATEGORY_NAMES},
                      seconds=time.perf_counter() - started)
    write_json_atomic(out / MANIFEST_FILE, manifest(template, options, summary))
    shutil.rmtree(partial)
    return summary

