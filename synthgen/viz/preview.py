"""What ``synthgen preview`` shows: which images of a dataset, and samples rendered from
a template, each drawn as a captioned cell and laid out on one sheet.

:mod:`~synthgen.viz.draw` draws boxes on one image, :mod:`~synthgen.viz.sheet` lays the
cells out; this module chooses the images (by seed, category, weather), reads them, writes
their captions and renders template samples, and imports those two, never the reverse.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from synthgen.errors import DatasetError
from synthgen.formats.dataset import CocoDataset
from synthgen.formats.validate import MAX_IMAGE_SIDE
from synthgen.storage.images import read_rgb
from synthgen.viz.draw import Boxes, depth_colors, draw_boxes, finite_number, instance_colors
from synthgen.viz.sheet import (
    MAX_SHEET_SIDE,
    check_dataset_sheet,
    check_sheet_size,
    check_template_sheet,
    draw_tile,
    finished_sheet,
    scale_to_width,
    stack_cell,
)

logger = logging.getLogger(__name__)

MISSING_COLOR: Final = (70, 24, 24)


# --- datasets ---------------------------------------------------------------------------


def weather_kind(value: Any) -> str | None:
    """The weather kind of an image or scene field: a string, or a dict with ``kind``."""
    if isinstance(value, Mapping):
        value = value.get("kind")
    return value if isinstance(value, str) and value else None


def select_images(dataset: CocoDataset, *, count: int, rng: np.random.Generator,
                  category: str | None = None,
                  weather: str | None = None) -> list[dict[str, Any]]:
    """Choose up to ``count`` images, optionally only those of a category or a weather.

    Args:
        dataset: The dataset.
        count: How many images at most.
        rng: The generator that decides which; seed it for a repeatable sheet.
        category: Only images with at least one box (not an ignore region) of this
            category name.
        weather: Only images whose ``weather`` (a string or ``{"kind": ...}``) is this.

    Returns:
        The chosen image entries, in dataset order.

    Raises:
        DatasetError: The category is not one of the dataset's, or no image matches.
    """
    candidates = list(dataset.images)
    for position, image in enumerate(candidates):
        if not isinstance(image, dict):
            raise DatasetError(f"{dataset.annotation_file}: images[{position}] is not an "
                               f"object: {image!r}")
    if category is not None:
        candidates = _with_category(dataset, candidates, category)
    if weather is not None:
        candidates = _with_weather(dataset, candidates, weather)
    if not candidates:
        raise DatasetError(f"{dataset.annotation_file}: the dataset has no images")
    picked = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    return [candidates[i] for i in np.sort(picked)]


def _with_category(dataset: CocoDataset, images: list[dict[str, Any]],
                   category: str) -> list[dict[str, Any]]:
    names = dataset.category_names()
    ids = {cid for cid, name in names.items() if name == category}
    if not ids:
        valid = ", ".join(sorted(set(names.values()))) or "(none)"
        raise DatasetError(f"--category {category!r}: not a category of "
                           f"{dataset.annotation_file}; valid names: {valid}")
    kept = [image for image in images
            if any(ann.get("category_id") in ids and not ann.get("iscrowd", 0)
                   for ann in dataset.annotations_for(image.get("id")))]
    if not kept:
        raise DatasetError(f"--category {category!r}: no image in {dataset.annotation_file} "
                           "has a box of this category")
    return kept


def _with_weather(dataset: CocoDataset, images: list[dict[str, Any]],
                  weather: str) -> list[dict[str, Any]]:
    kept = [image for image in images if weather_kind(image.get("weather")) == weather]
    if not kept:
        kinds = sorted({kind for image in images
                        if (kind := weather_kind(image.get("weather"))) is not None})
        found = f"weather found: {', '.join(kinds)}" if kinds else "no image has a 'weather' field"
        raise DatasetError(f"--weather {weather!r}: no image in {dataset.annotation_file} "
                           f"matches ({found})")
    return kept


def dataset_cell(dataset: CocoDataset, image_entry: Mapping[str, Any], boxes: Boxes,
                 width: int) -> np.ndarray:
    """One tile of a dataset sheet: the image with its boxes, and a caption.

    A missing or unreadable image file is drawn as a dark red canvas of the size the entry
    gives, boxes still on it, and named in the caption and the log.

    Args:
        dataset: The dataset the entry belongs to.
        image_entry: A COCO ``images`` entry.
        boxes: Its boxes (:meth:`Boxes.from_coco` of its annotations).
        width: Tile width in pixels.

    Raises:
        DatasetError: The entry has no ``file_name``, or the file is missing and the entry
            has no ``width``/``height`` to draw its boxes on.
    """
    file_name = image_entry.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        raise DatasetError(f"{dataset.annotation_file}: image {image_entry.get('id', '?')} "
                           "has no 'file_name'")
    path = dataset.image_path(image_entry)
    image = read_rgb(path)
    notes = []
    if image is None:
        logger.warning("%s: missing or not an image; its boxes are drawn on a blank tile", path)
        tile = _blank_tile(image_entry, path, boxes, width)
        notes.append("IMAGE MISSING")
    else:
        if (image_entry.get("width"), image_entry.get("height")) != image.shape[1::-1]:
            notes.append(f"file is {image.shape[1]}x{image.shape[0]}, entry says "
                         f"{image_entry.get('width')}x{image_entry.get('height')}")
        tile = draw_tile(image, boxes, width)
    lines = [file_name, _describe(image_entry, len(boxes)), *notes]
    return stack_cell([tile], lines, keep_end=[True])


def _blank_tile(image_entry: Mapping[str, Any], path: Path, boxes: Boxes,
                width: int) -> np.ndarray:
    """The tile :func:`draw_tile` would make of a blank image of the entry's size, made at
    tile size (an entry may claim any size)."""
    src_w, src_h = image_entry.get("width"), image_entry.get("height")
    if not (isinstance(src_w, int) and isinstance(src_h, int)
            and 0 < src_w <= MAX_IMAGE_SIDE and 0 < src_h <= MAX_IMAGE_SIDE):
        raise DatasetError(f"{path}: missing or not an image, and the entry has no "
                           f"width/height (positive integers up to {MAX_IMAGE_SIDE}) to "
                           "draw its boxes on")
    height = max(1, int(math.floor(src_h * width / src_w + 0.5)))
    if height > MAX_SHEET_SIDE:
        raise DatasetError(f"{path}: missing or not an image, and the entry's size "
                           f"{src_w}x{src_h} is too tall to draw at --tile-width {width}")
    tile = np.full((height, width, 3), MISSING_COLOR, np.uint8)
    return draw_boxes(tile, boxes, scale=(width / src_w, height / src_h))


def _describe(fields: Mapping[str, Any], n_boxes: int) -> str:
    """Scene, weather and time of day where known, then the box count."""
    parts = []
    if isinstance(fields.get("scene"), str):
        parts.append(fields["scene"])
    if (weather := _weather_text(fields.get("weather"))) is not None:
        parts.append(weather)
    if (time := format_time_of_day(fields.get("time_of_day"))) is not None:
        parts.append(time)
    parts.append(f"{n_boxes} box" + ("" if n_boxes == 1 else "es"))
    return " | ".join(parts)


def _weather_text(value: Any) -> str | None:
    kind = weather_kind(value)
    if kind is None:
        return None
    intensity = value.get("intensity") if isinstance(value, Mapping) else None
    intensity = finite_number(intensity)
    return f"{kind} {intensity:.2f}" if intensity is not None and intensity > 0 else kind


def format_time_of_day(value: Any) -> str | None:
    """A time of day for a caption: names as they are, hours (0-24) as ``HH:MM``."""
    if isinstance(value, str) and value:
        return value
    if finite_number(value) is not None and 0 <= value <= 24:
        minutes = int(round(value * 60)) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return None


def dataset_sheet(dataset: CocoDataset, images: Sequence[Mapping[str, Any]], *,
                  tile_width: int, columns: int) -> np.ndarray:
    """A contact sheet of the given images of ``dataset``, with a colour legend.

    Args:
        dataset: The dataset the entries belong to.
        images: Image entries, e.g. from :func:`select_images`.
        tile_width: Width of each image on the sheet, in pixels.
        columns: Tiles per row.
    """
    check_dataset_sheet(images, tile_width=tile_width, columns=columns)
    category_names = dataset.category_names()
    cells, shown = [], []
    for image in images:
        boxes = Boxes.from_coco(dataset.annotations_for(image.get("id")), category_names)
        cells.append(dataset_cell(dataset, image, boxes, tile_width))
        check_sheet_size(cells, columns, len(images))
        shown.extend(boxes.categories)
    return finished_sheet(cells, columns, shown, len(images))


# --- label layers -----------------------------------------------------------------------


def layers_cell(image: np.ndarray, instance_map: np.ndarray, depth: np.ndarray,
                modal: Boxes, amodal: Boxes, *, width: int, title: str) -> np.ndarray:
    """What a sample's labels are made of, four panels side by side.

    Image; instance id map; depth; the image with modal boxes solid and amodal boxes
    dashed in the category colour, ignore regions hatched and dashed grey, and each
    object's contrast in the final image (``c0.123``) beside its name.

    Args:
        image: ``HxWx3`` uint8 RGB final image.
        instance_map: ``HxW`` instance ids, 0 where no object.
        depth: ``HxW`` float metres, inf for sky.
        modal: Boxes tight on the visible pixels.
        amodal: Boxes of the whole projected objects.
        width: Width of each panel in pixels.
        title: First caption line (which sample this is).
    """
    shown, scale = scale_to_width(image, width)
    ids, _ = scale_to_width(instance_map, width, nearest=True)
    depth_small, _ = scale_to_width(depth, width, nearest=True)
    depth_rgb, depth_range = depth_colors(depth_small)
    boxed = draw_boxes(shown, amodal, scale=scale, dashed=True, names=False)
    boxed = draw_boxes(boxed, modal, scale=scale, show_contrast=True)
    n_objects = len(np.unique(instance_map[instance_map > 0]))
    depth_text = ("depth: no finite values" if depth_range is None else
                  f"depth {depth_range[0]:.1f}-{depth_range[1]:.0f} m (red near, log)")
    ignored = int(modal.crowd.sum())
    lines = [title, f"image | {n_objects} instance ids | {depth_text} | "
                    "modal solid, amodal dashed, c = contrast"
                    + (f", {ignored} ignored (grey)" if ignored else "")]
    return stack_cell([shown, instance_colors(ids), depth_rgb, boxed], lines)


# --- templates --------------------------------------------------------------------------


def sample_cell(sample: Any, *, width: int, layers: bool, title: str) -> np.ndarray:
    """One rendered sample: the image with its modal boxes, or its four label layers.

    Args:
        sample: A :class:`~synthgen.generate.images.Sample`.
        width: Tile (or panel) width in pixels.
        layers: Show image, instance ids, depth and modal/amodal boxes side by side.
        title: First caption line.
    """
    modal = Boxes.from_labels(sample.labels)
    # Described from the scene's COCO image record: the caption reads as in the dataset.
    description = _describe(sample.scene.metadata(), int((~modal.crowd).sum()))
    if layers:
        contrast = _contrasts(sample)
        return layers_cell(sample.image, sample.instance_map, sample.depth,
                           Boxes.from_labels(sample.labels, contrast=contrast),
                           Boxes.from_labels(sample.labels, amodal=True, contrast=contrast),
                           width=width, title=f"{title} | {description}")
    return stack_cell([draw_tile(sample.image, modal, width)], [title, description])


def _contrasts(sample: Any) -> list[float]:
    """Each label's contrast in the sample's final image: its own, or measured here for
    labels computed without the image."""
    from synthgen.labels import object_contrast  # noqa: PLC0415

    values = []
    for label in sample.labels:
        if getattr(label, "contrast", None) is not None:
            values.append(label.contrast)
            continue
        x0, y0, x1, y1 = (int(v) for v in label.bbox)
        mask = sample.instance_map[y0:y1, x0:x1] == label.instance_id
        values.append(object_contrast(sample.image, mask, (x0, y0)))
    return values


def render_size() -> tuple[int, int]:
    """The size samples are rendered at when none is given: ``generate``'s default."""
    from synthgen.generate.pipeline import GenerateOptions

    return GenerateOptions.size


def template_sheet(template: Any, *, seed: int, count: int, size: tuple[int, int] | None,
                   layers: bool, tile_width: int, columns: int,
                   appearance: Any = None, sprites: Any = None,
                   backgrounds: Any = None) -> np.ndarray:
    """Render ``count`` samples of a template and lay them out on a sheet.

    Args:
        template: A :class:`~synthgen.scene.templates.SceneTemplate`.
        seed: Seed of the samples; sample ``i`` is image ``i`` of ``generate`` with this
            seed and size (and its default label thresholds).
        count: Number of samples.
        size: ``(width, height)`` to render at; None for generate's default
            (:func:`render_size`).
        layers: One row of label layers per sample instead of one tile.
        tile_width: Tile (or panel) width in pixels.
        columns: Cells per row.
        appearance: An :class:`~synthgen.render.appearance.Appearance` to match the samples to
            (``--look-like``), or None.
        sprites: A :class:`~synthgen.render.sprites.SpriteBank` whose cut-outs are pasted
            (``--sprites``), or None.
        backgrounds: A :class:`~synthgen.render.backgrounds.BackgroundBank` whose photos
            the samples are drawn over (``--backgrounds``), or None.
    """
    # Imported here: a dataset preview never needs the renderer and its start-up cost.
    from synthgen.generate.images import render_sample

    size = size if size is not None else render_size()
    check_template_sheet(count, size, tile_width=tile_width, columns=columns, layers=layers)
    cells, shown = [], []
    for index in range(count):
        sample = render_sample(template, seed=seed, index=index, appearance=appearance,
                               size=size, sprites=sprites, backgrounds=backgrounds)
        title = f"seed {seed} | #{index}"
        cells.append(sample_cell(sample, width=tile_width, layers=layers, title=title))
        check_sheet_size(cells, columns, count)
        shown.extend(label.category for label in sample.labels)
    return finished_sheet(cells, columns, shown, count)
