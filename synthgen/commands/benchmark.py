"""``synthgen benchmark``: does a synthetic set help a detector on real images?"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synthgen.benchmark.data import (
    ARMS,
    BOX_FIELDS,
    DEFAULT_MIN_HEIGHT,
    BenchmarkError,
    LabelledImage,
    LabelledSet,
    load_labelled_set,
    parse_classes,
    read_images,
    refuse_shared_images,
)
from synthgen.commands.options import FiniteFloatRange
from synthgen.errors import OutputError, SynthgenError
from synthgen.formats.dataset import refuse_output_inside
from synthgen.storage.files import prepare_output_file, write_json_atomic

if TYPE_CHECKING:
    from synthgen.benchmark.train import Settings

log = logging.getLogger(__name__)

#: Defaults of a run that fits in about half an hour on two cores (see the README).
DEFAULT_STEPS = 1500
DEFAULT_SIZE = "640x192"


def parse_size(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, e.g. {DEFAULT_SIZE}; got "
                                 f"{value!r}") from None
    if not (64 <= width <= 4096 and 64 <= height <= 4096) or width % 32 or height % 32:
        raise click.BadParameter(f"expected sides of 64-4096 pixels, each a multiple of 32; "
                                 f"got {value!r}")
    return width, height


def _seeds(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        seeds = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected seeds separated by commas, e.g. 0,1; got "
                                 f"{value!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or any(s < 0 or s >= 2**32 for s in seeds):
        raise click.BadParameter(f"expected distinct seeds 0 <= seed < 2**32, e.g. 0,1; got "
                                 f"{value!r}")
    return seeds


def load_input(option: str, given: str, expected: str, classes: list[str],
               min_height: float, boxes: str = "visible") -> LabelledSet:
    try:
        labelled = load_labelled_set(given, classes=classes, min_height=min_height,
                                     kind=expected, boxes=boxes)
    except SynthgenError as exc:
        # The reader names the path; the Error: line also says which input it was.
        if not exc.message.startswith(given):
            raise
        raise type(exc)(f"{option} {exc.message}", details=exc.details) from exc
    labelled.check_role(option)
    return labelled


def training_options(*, steps: int, steps_help: str,
                     min_height_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of the detector's training, shared with ``real pseudo-label``:
    ``--classes``, ``--steps``, ``--batch``, ``--size``, ``--pretrain-fraction``,
    ``--finetune-synthetic``, ``--finetune-lr``, ``--average-pretrained``,
    ``--min-height``, ``--synthetic-boxes``, ``--lr``, ``--threads`` and
    ``--calibrate-sizes``; and ``--flip-test``, how the trained detector detects."""
    options = [
        click.option("--classes", default="car", show_default=True,
                     help="Classes to detect, separated by commas."),
        click.option("--steps", type=click.IntRange(min=2, max=1_000_000), default=steps,
                     show_default=True, help=steps_help),
        click.option("--batch", type=click.IntRange(min=1, max=256), default=16,
                     show_default=True, help="Images per training step."),
        click.option("--size", "size", default=DEFAULT_SIZE, show_default=True,
                     callback=parse_size,
                     help="Training crop WIDTHxHEIGHT; every image is first scaled to WIDTH "
                          "pixels wide (those detected in too, whole)."),
        click.option("--pretrain-fraction", type=FiniteFloatRange(min=0.05, max=0.7),
                     default=0.5, show_default=True,
                     help="Share of the steps spent on synthetic images before the real "
                          "set (only with synthetic steps before it: the synthetic+real "
                          "arm, or --pretrain)."),
        click.option("--finetune-synthetic", type=FiniteFloatRange(min=0, max=0.9),
                     default=0.0, show_default=True,
                     help="Share of each batch after the synthetic steps taken from the "
                          "synthetic images (rounded to whole images, at least one real "
                          "image per batch; only with synthetic images to mix: the "
                          "synthetic+real arm, or --pretrain); 0: real images only."),
        click.option("--finetune-lr", type=FiniteFloatRange(min=1e-6, max=1.0), default=None,
                     help="Peak learning rate of the steps after the synthetic ones, "
                          "--lr if not given (same schedule; only with synthetic steps "
                          "before them: the synthetic+real arm, or --pretrain)."),
        click.option("--average-pretrained", type=FiniteFloatRange(min=0, max=0.9),
                     default=0.0, show_default=True,
                     help="Share of the pre-trained weights averaged into the fine-tuned "
                          "ones at the end (WiSE-FT): the synthetic steps then run a "
                          "schedule of their own (not shared with the synthetic arm), and "
                          "BatchNorm statistics are measured again on the fine-tuning's "
                          "batches (only with synthetic steps before them: the "
                          "synthetic+real arm, or --pretrain); 0: none."),
        click.option("--min-height", type=FiniteFloatRange(min=0, max=10_000),
                     default=DEFAULT_MIN_HEIGHT, show_default=True, help=min_height_help),
        click.option("--synthetic-boxes", type=click.Choice(list(BOX_FIELDS)),
                     default="visible", show_default=True,
                     help="The box each object of the synthetic sets is trained on: "
                          "visible (the pixels that show: synthgen's label) or amodal (the "
                          "whole object inside the frame, bbox_amodal: how KITTI's labellers "
                          "box a partly hidden car). Ignore regions keep their visible "
                          "extent; real sets have one box."),
        click.option("--lr", type=FiniteFloatRange(min=1e-6, max=1.0), default=2e-3,
                     show_default=True, help="Peak learning rate (AdamW)."),
        click.option("--threads", type=click.IntRange(min=1, max=256), default=2,
                     show_default=True,
                     help="Torch threads; the same seed and threads give the same results."),
        click.option("--calibrate-sizes", is_flag=True, default=False,
                     help="Once a detector has learnt from the real set (benchmark's "
                          "real and synthetic+real arms, not the synthetic one; the "
                          "pseudo-labeller), shift its box sizes so that on that set they "
                          "are, in the median, as wide and as tall as their labels (boxes "
                          "found at IoU 0.5 or more; nothing changes with fewer than 10; "
                          "one shift for every class)."),
        click.option("--flip-test", is_flag=True, default=False,
                     help="Detect with the flip test: the mirror image goes through the "
                          "detector too, its heatmap and box sizes averaged in before peaks "
                          "are picked, so scores are the two passes' mean (twice the "
                          "detection time; training unchanged)."),
    ]

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command
    return apply


def check_finetune(ctx: click.Context, settings: Settings, without: str | None) -> None:
    """Refuse fine-tuning options that would change nothing: ``--finetune-synthetic``
    mixing no image in, or ``--pretrain-fraction``, ``--finetune-synthetic``,
    ``--finetune-lr`` or ``--average-pretrained`` given where nothing is fine-tuned.

    Args:
        ctx: The command's context (whether ``--pretrain-fraction`` was given).
        settings: The training settings the options went into.
        without: Why nothing is fine-tuned after synthetic steps, if so (the options are
            then refused whatever their values).

    Raises:
        BenchmarkError: One of the options given where nothing is fine-tuned, or a share
            that mixes no synthetic image in.
    """
    given = []
    if ctx.get_parameter_source("pretrain_fraction") not in (
            click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP):
        given.append(f"--pretrain-fraction {settings.pretrain_fraction:g}")
    if settings.finetune_synthetic != 0:
        given.append(f"--finetune-synthetic {settings.finetune_synthetic:g}")
    if settings.finetune_lr is not None:
        given.append(f"--finetune-lr {settings.finetune_lr:g}")
    if settings.average_pretrained != 0:
        given.append(f"--average-pretrained {settings.average_pretrained:g}")
    if given and without is not None:
        raise BenchmarkError(f"{', '.join(given)}: {without}; leave "
                             f"{'it' if len(given) == 1 else 'them'} out")
    if settings.finetune_synthetic != 0 and settings.finetune_synthetic_images == 0:
        raise BenchmarkError(f"--finetune-synthetic {settings.finetune_synthetic:g}: not one "
                             f"synthetic image in a --batch of {settings.batch} (rounded to "
                             "whole images, at least one real image in each); give a larger "
                             "share or batch")


def check_synthetic_boxes(synthetic_boxes: str, without: str | None) -> None:
    """Refuse ``--synthetic-boxes`` other than the default where no synthetic set is
    trained on (``without`` says why; None: one is).

    Raises:
        BenchmarkError: It would change nothing.
    """
    if synthetic_boxes != "visible" and without is not None:
        raise BenchmarkError(f"--synthetic-boxes {synthetic_boxes}: {without}; leave it out")


def require_torch(command: str) -> None:
    """Refuse to run ``command`` without PyTorch (the ``bench`` extra).

    Raises:
        BenchmarkError: torch cannot be imported.
    """
    try:
        import torch  # noqa: F401, PLC0415
    except ModuleNotFoundError:
        raise BenchmarkError(f"synthgen {command} needs PyTorch; install it with "
                             "pip install 'synthgen[bench]'") from None


def require_targets(sets: list[LabelledSet], classes: list[str], what: str) -> None:
    """Refuse a set with no object of ``classes`` to ``what`` ("train on", "score").

    Raises:
        BenchmarkError: Naming the set.
    """
    for labelled in sets:
        if not any(image.targets().any() for image in labelled.images):
            raise BenchmarkError(f"{labelled.given}: no object of {', '.join(classes)} to "
                                 f"{what}")


def read_scaled(sources: dict[str, list[LabelledImage]], width: int, *, threads: int,
                quiet: bool) -> dict[str, list[Any]]:
    """Every image of every role decoded once and scaled to ``width``, with a progress bar.

    Raises:
        DatasetError: An image cannot be read or does not have its recorded size.
    """
    from tqdm import tqdm  # noqa: PLC0415

    from synthgen.benchmark.train import Scaled  # noqa: PLC0415

    scaled = {}
    with tqdm(total=sum(len(v) for v in sources.values()), desc="reading images",
              unit="image", disable=quiet) as bar:
        for role, images in sources.items():
            arrays = read_images(images, width, threads=threads, progress=bar)
            scaled[role] = [Scaled(a, s) for a, s in zip(arrays, images, strict=True)]
    return scaled


def _arms(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    arms = [part.strip() for part in value.split(",") if part.strip()]
    if not arms or len(set(arms)) != len(arms) or not set(arms) <= set(ARMS):
        raise click.BadParameter(f"expected distinct arms from {', '.join(ARMS)}; got "
                                 f"{value!r}")
    return [arm for arm in ARMS if arm in arms]


def _refuse_report_inside(option: str, path: Path | None, inputs: list[LabelledSet]) -> None:
    """Refuse a report inside an input: a COCO set's folders (as stats and compare
    refuse them) or a KITTI folder."""
    if path is None:
        return
    refuse_output_inside(option, path, [s.dataset for s in inputs if s.dataset is not None])
    target = path.resolve()
    for labelled in inputs:
        if labelled.dataset is None and target.is_relative_to(Path(labelled.given).resolve()):
            raise OutputError(f"{option} {path}: inside the input folder {labelled.given}, "
                              "which synthgen never writes to; write it somewhere else")


def input_summary(labelled: LabelledSet, classes: list[str]) -> dict[str, Any]:
    """What a report or manifest records of an input: as given, images, objects."""
    return {"given": labelled.given, "images": len(labelled.images),
            "objects": labelled.object_counts(classes)}


@click.command(name="benchmark")
@click.option("--synthetic", "synthetic", multiple=True,
              help="A synthetic set (synthgen folder or COCO file) to pre-train on; repeat "
                   "for several (needed unless --arms is real alone).")
@click.option("--real", "real", default=None,
              help="The real fine-tune set: a synthgen folder, a COCO file or a KITTI folder "
                   "(training/image_2 + label_2); needed unless --arms is synthetic alone.")
@click.option("--eval", "evaluation", required=True,
              help="The real evaluation set (same forms as --real); it may share no image "
                   "with what is trained on.")
@click.option("--arms", default=",".join(ARMS), show_default=True, callback=_arms,
              help="Arms to train, separated by commas (leave out one whose numbers you "
                   "already have).")
@training_options(steps=DEFAULT_STEPS, steps_help="Training steps of every arm.",
                  min_height_help="Boxes shorter than this (pixels of their image) are ignore "
                                  "regions, in training and evaluation.")
@click.option("--seeds", default="0", show_default=True, callback=_seeds,
              help="Seeds, separated by commas: each trains the three arms again; the "
                   "report gives the mean and range.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results (per seed and arm, with loss curves) as JSON here.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report here.")
@click.option("--overwrite", is_flag=True, default=False, help="Replace existing report files.")
@click.pass_context
def benchmark(ctx: click.Context, synthetic: tuple[str, ...], real: str | None, evaluation: str,
              arms: list[str], classes: str, steps: int, batch: int, size: tuple[int, int],
              seeds: list[int], pretrain_fraction: float, finetune_synthetic: float,
              finetune_lr: float | None, average_pretrained: float, min_height: float,
              synthetic_boxes: str, lr: float, threads: int, calibrate_sizes: bool,
              flip_test: bool, json_path: Path | None, html_path: Path | None,
              overwrite: bool) -> None:
    """Train a small detector three ways and score it on real images.

    The arms: the real fine-tune set alone; the synthetic set(s) alone; and synthetic
    then real (the synthetic arm's weights after --pretrain-fraction of the steps, then
    the rest on the real set, or on batches --finetune-synthetic of which are
    synthetic, peaking at --finetune-lr; with --average-pretrained, pre-trained on a
    schedule of its own, which costs those steps again beside the synthetic arm, and
    averaged at the end with the weights it was fine-tuned from). Every arm trains
    --steps steps of the same detector (CenterNet-style, from scratch); with
    --calibrate-sizes the arms that learnt from the real set then have their box sizes
    re-centred on it. Each is scored with COCOeval on --eval (with --flip-test, from the
    detector's outputs averaged with those for the mirror image): AP50 and AP per class.
    Needs PyTorch: pip install 'synthgen[bench]'.
    """
    from synthgen.analysis import report as text_report

    prepare_output_file("--json", json_path, overwrite=overwrite)
    prepare_output_file("--html", html_path, overwrite=overwrite)
    text_report.check_distinct(json_path, html_path)
    require_torch("benchmark")
    from tqdm import tqdm

    from synthgen.benchmark import report, train

    quiet = (ctx.obj or {}).get("quiet", 0) > 0
    names = parse_classes(classes)
    needs_synthetic = arms != ["real"]
    needs_real = arms != ["synthetic"]
    if needs_synthetic and not synthetic:
        raise BenchmarkError(f"--synthetic: missing; the arms {', '.join(arms)} train on a "
                             "synthetic set")
    if needs_real and real is None:
        raise BenchmarkError(f"--real: missing; --arms {','.join(arms)} trains on the real "
                             "fine-tune set (only --arms synthetic needs none)")
    settings = train.Settings(classes=names, steps=steps, batch=batch, width=size[0],
                              height=size[1], lr=lr, pretrain_fraction=pretrain_fraction,
                              threads=threads, finetune_synthetic=finetune_synthetic,
                              finetune_lr=finetune_lr, average_pretrained=average_pretrained,
                              flip_test=flip_test, calibrate_sizes=calibrate_sizes)
    check_finetune(ctx, settings, None if "synthetic+real" in arms else
                   f"only the synthetic+real arm is fine-tuned, and --arms is {','.join(arms)}")
    if calibrate_sizes and not needs_real:
        raise BenchmarkError("--calibrate-sizes: --arms synthetic learns from no real set "
                             "to calibrate on; leave it out")
    check_synthetic_boxes(synthetic_boxes, None if needs_synthetic else
                          "--arms real trains on no synthetic set")
    synthetic_sets = [load_input("--synthetic", given, "synthetic", names, min_height,
                                 synthetic_boxes)
                      for given in synthetic] if needs_synthetic else []
    # Given though not trained on (--arms synthetic), it is still read: a report's
    # inputs say what it was, and a bad path is an error either way.
    real_sets = [] if real is None else [load_input("--real", real, "real", names, min_height)]
    eval_set = load_input("--eval", evaluation, "real", names, min_height)
    eval_set.check_human_labelled("--eval")
    for option, path in (("--json", json_path), ("--html", html_path)):
        _refuse_report_inside(option, path, [*synthetic_sets, *real_sets, eval_set])
    trained = [*synthetic_sets, *real_sets] if needs_real else synthetic_sets
    refuse_shared_images(eval_set, trained)
    require_targets(trained, names, "train on")
    if not any(image.targets().any() for image in eval_set.images):
        raise BenchmarkError(f"--eval {evaluation}: no object of {', '.join(names)} to "
                             "score")

    width, height = size
    sources = {"synthetic": [image for s in synthetic_sets for image in s.images],
               "real": real_sets[0].images if needs_real else [], "eval": eval_set.images}
    scaled = read_scaled(sources, width, threads=threads, quiet=quiet)

    results = []
    bars: list[Any] = []
    for seed in seeds:
        def progress(arm: str, n: int, seed: int = seed) -> Any:
            bar = tqdm(total=n, desc=f"seed {seed} {arm}", unit="step", disable=quiet,
                       leave=False)
            bars.append(bar)

            def step(_: int, loss: float) -> None:
                bar.update(1)
                if bar.n % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            return step

        results += train.run_seed(seed, scaled["synthetic"], scaled["real"], scaled["eval"],
                                  settings, arms=arms, progress=progress)
        for bar in bars:
            bar.close()
        bars.clear()

    summary = report.summarise(results, names)
    on_real = [r for r in results if r.arm != "synthetic"]
    calibrated = ((sum(r.size_bias is not None for r in on_real), len(on_real))
                  if calibrate_sizes else None)
    text = report.table(summary, names, seeds, flip_test=flip_test, calibrated=calibrated)
    click.echo(text)
    settings_doc = {"arms": arms, "classes": names, "steps": steps, "batch": batch,
                    "size": f"{width}x{height}", "seeds": seeds,
                    "pretrain_fraction": pretrain_fraction,
                    "pretrain_steps": settings.pretrain_steps,
                    "finetune_synthetic": finetune_synthetic,
                    "finetune_synthetic_images": settings.finetune_synthetic_images,
                    "finetune_lr": settings.finetune_peak_lr,
                    "average_pretrained": average_pretrained,
                    "min_height": min_height, "synthetic_boxes": synthetic_boxes,
                    "lr": lr, "threads": threads, "flip_test": flip_test,
                    "calibrate_sizes": calibrate_sizes}
    inputs = {"synthetic": [input_summary(s, names) for s in synthetic_sets],
              "real": [input_summary(r, names) for r in real_sets],
              "eval": [input_summary(eval_set, names)]}
    if json_path is not None:
        write_json_atomic(json_path, report.document(results, summary, settings=settings_doc,
                                                     inputs=inputs))
        click.echo(f"wrote {json_path}", err=True)
    if html_path is not None:
        text_report.write_html(html_path, report.html_page(
            results, summary, text, settings=settings_doc, inputs=inputs,
            evaluation=scaled["eval"]))
        click.echo(f"wrote {html_path}", err=True)
