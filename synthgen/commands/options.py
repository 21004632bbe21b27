"""Click options shared by several commands, defined once."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthgen.commands import counted

if TYPE_CHECKING:
    from synthgen.render.backgrounds import BackgroundBank
    from synthgen.render.sprites import SpriteBank
    from synthgen.scene.templates import SceneTemplate

log = logging.getLogger(__name__)

#: Smallest and largest image side, in pixels, that generate and preview accept.
MIN_SIDE, MAX_SIDE = 64, 8192


class ImageSize(click.ParamType):
    """``WIDTHxHEIGHT`` in pixels, e.g. ``1280x720``."""

    name = "WxH"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        # At most 9 digits a side: past that it is out of range anyway, and int() of
        # thousands of digits raises instead of returning.
        match = re.fullmatch(r"\s*(\d{1,9})\s*[xX]\s*(\d{1,9})\s*", str(value))
        if match is None and re.fullmatch(r"\s*\d+\s*[xX]\s*\d+\s*", str(value)):
            self.fail(f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels, "
                      f"got {_short(value)}", param, ctx)
        if match is None:
            self.fail(f"expected WIDTHxHEIGHT such as 1280x720, got {value!r}", param, ctx)
        width, height = int(match[1]), int(match[2])
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            self.fail(f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels, "
                      f"got {value!r}", param, ctx)
        return width, height


class FiniteFloatRange(click.FloatRange):
    """:class:`click.FloatRange` that also refuses NaN and infinity.

    ``float()`` reads ``nan``, ``inf`` and ``1e400`` (infinity), and NaN passes every
    bound check (each comparison with it is false): a plain ``FloatRange(0, 1)`` lets
    ``nan`` through, and one without a maximum lets ``inf`` through.
    """

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {_short(value)}", param, ctx)
        return number


def _short(value: object, limit: int = 40) -> str:
    """A value for a message, cut to ``limit`` characters."""
    text = repr(str(value))
    return text if len(text) <= limit else text[:limit - 4] + "...'"


out_dir_option = click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False, path_type=str),
    help="Output folder.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, default=False,
    help="Replace what synthgen wrote in an existing, non-empty output folder.",
)
seed_option = click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True,
    help="Random seed; the same seed and options give the same bytes.",
)
map_option = click.option(
    "--map", "map_file", type=click.Path(dir_okay=False, path_type=str),
    help="YAML file 'category_name: target' (a synthgen class, ignore or drop); overrides "
         "the built-in mapping of category names.",
)
copy_option = click.option(
    "--copy", is_flag=True, default=False,
    help="Copy image files instead of hard-linking (or symlinking) them.",
)
decoys_option = click.option(
    "--decoys", type=FiniteFloatRange(0.0, 1.0), default=None, metavar="SHARE",
    help="With --sprites: the share of pasted objects whose cut-out has a decoy (a piece "
         "of its photo beside it, clear of every box) that get the decoy instead, "
         "unlabelled, e.g. 0.25 [default: 0, none].",
)


background_labels_option = click.option(
    "--background-labels", type=click.Choice(["ignore", "boxes"]), default=None,
    help="With --backgrounds: what the photo's labelled objects become: ignore regions, "
         "or boxes (source \"photo\") where what is drawn hides less than half of them "
         "and the set does not mark them largely occluded or more than 0.3 cut off "
         "[default: ignore]. The set's ignore regions stay ignore regions.",
)


def sprite_bank_of(sprites_src: Sequence[str], decoys: float | None) -> SpriteBank | None:
    """The ``--sprites`` bank of the sets given (None without the option), with
    ``--decoys``' share.

    Raises:
        click.UsageError: ``--decoys`` without ``--sprites``.
    """
    if not sprites_src:
        if decoys is not None:
            raise click.UsageError("--decoys only works with --sprites")
        return None
    from synthgen.datasets.cutouts import sprite_banks  # noqa: PLC0415 - loads OpenCV
    from synthgen.render.sprites import DECOY_SHARE  # noqa: PLC0415

    return sprite_banks(list(sprites_src),
                        decoy_share=DECOY_SHARE if decoys is None else decoys)


def background_bank_of(backgrounds_src: str | None, look_like_dir: str | None,
                       template: SceneTemplate, size: tuple[int, int],
                       background_labels: str | None = None) -> BackgroundBank | None:
    """The ``--backgrounds`` bank (None without the option), keeping the photos' boxes
    with ``--background-labels boxes``. Warns of each class the
    template places that the set labels nowhere: its real objects in the photos are
    then neither boxed nor ignored (KITTI labels no traffic lights, signs or buses; a
    set ``real pseudo-label`` wrote, only the classes its detector knows); and when
    photos are enlarged to fill images of ``size`` (blurrier than the objects drawn over
    them: a cue a detector can learn).

    Raises:
        click.UsageError: ``--backgrounds`` with ``--look-like``; ``--background-labels``
            without ``--backgrounds``.
    """
    if backgrounds_src is None:
        if background_labels is not None:
            raise click.UsageError("--background-labels only works with --backgrounds")
        return None
    if look_like_dir is not None:
        raise click.UsageError("--look-like and --backgrounds cannot be combined: the "
                               "photos already have the camera's look")
    from synthgen.datasets.backgrounds import background_bank  # noqa: PLC0415 - OpenCV

    bank = background_bank(backgrounds_src, boxes=background_labels == "boxes")
    placed = [name for name, spec in template.objects.items() if spec.count_range[1] > 0]
    unlabelled = [name for name in placed if name not in bank.per_class()]
    if unlabelled:
        log.warning("--backgrounds %s labels no %s: such objects in its photos are "
                    "neither boxed nor ignored in the images drawn over them",
                    backgrounds_src, ", ".join(unlabelled))
    from synthgen.render.backgrounds import enlargement  # noqa: PLC0415

    grown, factor = enlargement(bank, size)
    if grown:
        log.warning("--backgrounds %s: %d of its %s enlarged (up to %.2fx) to fill %dx%d "
                    "images, blurrier than what is drawn over them; a --size no larger "
                    "than the photos' crop to its aspect avoids it", backgrounds_src,
                    grown, counted(len(bank.backgrounds), "photo"), factor, *size)
    return bank


def refuse_inputs_in_out(out: str | Path,
                         inputs: Sequence[tuple[str, str | None]]) -> None:
    """Refuse an ``--out`` that is, holds or lies in one of the ``inputs`` (``(option,
    path)``, path None for an option not given): ``--overwrite`` would delete or replace
    it.

    Raises:
        OutputError: They overlap (the message names the option).
    """
    from synthgen.errors import OutputError  # noqa: PLC0415
    from synthgen.storage.files import refuse_overlap  # noqa: PLC0415

    for option, path in inputs:
        if path is None:
            continue
        try:
            refuse_overlap(Path(out), [Path(path)])
        except OutputError as exc:
            raise OutputError(f"{exc} ({option})") from exc


def distinct_sets(option: str, paths: Sequence[str]) -> None:
    """Refuse the same set given twice to ``option`` (its objects would count twice).

    Raises:
        click.BadParameter: Two of ``paths`` are the same folder or file.
    """
    seen: dict[Path, str] = {}
    for path in paths:
        if not os.path.exists(path):  # its reader says why, once (never raises)
            continue
        key = Path(path).resolve()
        if key in seen:
            raise click.BadParameter(f"{path} is given twice (as {seen[key]} too)",
                                     param_hint=f"'{option}'")
        seen[key] = path
