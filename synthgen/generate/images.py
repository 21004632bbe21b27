"""Making one image of a run: sampled, rendered, labelled, encoded and written.

For image index ``i``: ``scene.sampling.image_rng(seed, i)`` ->
``scene.sampling.sample_scene`` (and ``sample_sprites``, ``sample_appearance``) ->
``render.painter.render`` (cut-outs pasted) -> ``render.effects.apply_effects`` ->
``render.appearance.apply_appearance`` (``--look-like``) -> ``labels.compute_labels``
(on the final image: contrast, ignore regions) -> encoded image file + its record.

This is the worker processes' side of :mod:`synthgen.generate.pipeline`, and the only
part of it that loads the renderer (numba's machine code, OpenCV's drawing): the process
that runs ``generate`` and records the images never imports this module when workers
render, so it starts sooner and holds less memory.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from synthgen.formats.coco import annotation_record, image_record
from synthgen.generate.folder import file_name, writing
from synthgen.labels import LabelOptions, ObjectLabel, background_regions, compute_labels
from synthgen.render.appearance import Appearance, apply_appearance
from synthgen.render.backgrounds import BackgroundBank, fit_background
from synthgen.render.effects import apply_effects
from synthgen.render.painter import render
from synthgen.render.sprites import SpriteBank
from synthgen.scene.model import AppearanceParams, Scene
from synthgen.scene.sampling import (
    image_rng,
    sample_appearance,
    sample_background,
    sample_scene,
    sample_sprites,
)
from synthgen.storage.files import encode_image, write_bytes_atomic

if TYPE_CHECKING:
    from synthgen.generate.pipeline import GenerateOptions
    from synthgen.scene.templates import SceneTemplate


@dataclass
class Sample:
    """One generated image with its layers and labels."""

    scene: Scene
    image: np.ndarray
    instance_map: np.ndarray
    depth: np.ndarray
    labels: list[ObjectLabel]
    appearance: AppearanceParams | None = None
    #: ``--sprites``: instance id -> the source (``file_name#k``, ``~`` appended when
    #: mirrored) of the cut-out pasted in its place, for the objects pasted (not those
    #: drawn as usual); ``None`` without ``--sprites``.
    pasted: dict[int, str] | None = None
    #: ``--sprites``: instance ids of the objects a cut-out's decoy was pasted for
    #: (unlabelled).
    decoys: tuple[int, ...] = ()
    #: ``--backgrounds``: the photo drawn over (its file name in the set, ``~`` appended
    #: when mirrored); ``None`` without ``--backgrounds``.
    background: str | None = None

    def metadata(self) -> dict[str, Any]:
        """The scene's image record entries, with the appearance values and the
        background photo if any."""
        record = self.scene.metadata()
        if self.appearance is not None:
            record["appearance"] = self.appearance.metadata()
        if self.background is not None:
            record["background"] = self.background
        return record

    def annotation_records(self) -> list[dict[str, Any]]:
        """The COCO records of the labels; a pasted object's names its cut-out
        (``sprite``)."""
        records = [annotation_record(label) for label in self.labels]
        for label, record in zip(self.labels, records, strict=True):
            if self.pasted and label.instance_id in self.pasted:
                record["sprite"] = self.pasted[label.instance_id]
        return records



def render_sample(template: SceneTemplate, *, seed: int, index: int,
                  size: tuple[int, int] = (1280, 720),
                  label_options: LabelOptions | None = None,
                  appearance: Appearance | None = None,
                  sprites: SpriteBank | None = None,
                  backgrounds: BackgroundBank | None = None) -> Sample:
    """Make image ``index`` of a run in memory: scene, final image, layers and labels.

    With ``appearance`` (``--look-like``) the final image is matched to that camera; with
    ``sprites`` (``--sprites``) real cut-outs are pasted in place of drawn objects; with
    ``backgrounds`` (``--backgrounds``) the scene is drawn over a real photo, whose
    objects become ignore regions, or boxes if the bank keeps them
    (:func:`synthgen.labels.background_regions`, after the drawn objects' labels).
    Their sampled values are drawn after the scene's (appearance first, background
    last), so the scene does not change. Labels are measured on the
    final image (after ``appearance``): each carries its contrast there, and objects too
    small, too occluded or too faint become ignore regions (see :mod:`synthgen.labels`).
    """
    rng = image_rng(seed, index)
    scene = sample_scene(template, rng, seed=seed, index=index)
    params = sample_appearance(rng) if appearance is not None else None
    pastes, pasted = None, None
    if sprites is not None:
        picks = sample_sprites(sprites, scene, rng, size)
        pastes = {p.instance_id: (sprites.sprites[p.sprite], p) for p in picks}
    photo, regions, background = None, [], None
    if backgrounds is not None:
        pick = sample_background(len(backgrounds.backgrounds), rng)
        chosen = backgrounds.backgrounds[pick.background]
        photo, regions = fit_background(chosen, size, pick.mirrored)
        background = chosen.file_name + ("~" if pick.mirrored else "")
    layers = render(scene, *size, pastes, photo)
    if pastes is not None:
        pasted = {i: pastes[i][0].source + ("~" if pastes[i][1].mirrored else "")
                  for i in layers.pasted}
    image = apply_effects(layers, scene)
    if appearance is not None:
        image = apply_appearance(image, appearance, params)
    labels = compute_labels(layers.instance_map, layers.objects, label_options, image=image)
    labels += background_regions(regions, layers.instance_map, label_options, image=image,
                                 drawn=layers.drawn)
    return Sample(scene=scene, image=image, instance_map=layers.instance_map,
                  depth=layers.depth, labels=labels, appearance=params, pasted=pasted,
                  decoys=tuple(layers.decoys), background=background)



# Per-process state of worker processes, set once by init_worker.
_WORKER: dict[str, Any] = {}


#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_buffers() -> None:
    """Keep freed large buffers in the process for the next image (Linux, glibc).

    Every image allocates the same dozen full-frame arrays. By default glibc hands each
    one back to the kernel when it is freed (its own mapping, or a trimmed heap), and
    the next image pays a page fault on every 4 KiB page it writes again: about a
    thousand faults, a tenth of the time of a 1280x720 image. Raising the mmap and trim
    thresholds keeps them in the heap, reused; peak memory does not change. Elsewhere
    (no glibc) this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 64 << 20)
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def init_worker(template: SceneTemplate, options: GenerateOptions, images_dir: str,
                parent_pid: int | None = None) -> None:
    """Set up a process to make a run's images (``parent_pid``: the process that
    records them, whose end makes :func:`make_image` end this one)."""
    # One OpenCV thread per worker: the workers already use every core.
    cv2.setNumThreads(1)
    keep_freed_buffers()
    _WORKER.update(template=template, options=options, images_dir=images_dir,
                   parent_pid=parent_pid)


def make_image(index: int) -> dict[str, Any]:
    """Render, encode and write image ``index``; return its record."""
    parent_pid = _WORKER["parent_pid"]
    if parent_pid is not None and os.getppid() != parent_pid:
        # The parent was killed: tasks still queued in the pipe would otherwise keep an
        # orphaned worker rendering images nobody records.
        os._exit(1)
    template, options = _WORKER["template"], _WORKER["options"]
    sample = render_sample(template, seed=options.seed, index=index, size=options.size,
                           label_options=options.labels, appearance=options.look_like,
                           sprites=options.sprites, backgrounds=options.backgrounds)
    name = file_name(index, options.image_format)
    data = encode_image(sample.image, options.image_format, options.jpeg_quality)
    with writing(Path(_WORKER["images_dir"]) / name) as path:
        write_bytes_atomic(path, data)
    record = image_record(index, name, options.size[0], options.size[1], sample.metadata())
    record["annotations"] = sample.annotation_records()
    # Hashed here, from the bytes just written: the digests never read an image again.
    # Kept in records.jsonl only; annotations.json does not carry it.
    record["sha256"] = hashlib.sha256(data).hexdigest()
    return record
