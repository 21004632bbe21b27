"""``synthgen merge``: the shard folders of one run back into the run's dataset."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli import interrupted_status, sigterm_interrupts
from synthgen.commands import counted, labels_found
from synthgen.commands.options import out_dir_option, overwrite_option
from synthgen.generate.merge import merge_shards
from synthgen.storage.files import UNFINISHED_DIR


@click.command()
@click.pass_context
@click.argument("shards", nargs=-1, required=True, metavar="SHARD_DIR...",
                type=click.Path(file_okay=False, path_type=str))
@out_dir_option
@overwrite_option
def merge(ctx: click.Context, shards: tuple[str, ...], out: str, overwrite: bool) -> None:
    """Combine the N shard folders of one `generate --shard K/N` run into one dataset.

    OUT gets the same images/, annotations.json and manifest.json, byte for byte, as one
    unsharded `synthgen generate` with the same options would write: annotation ids are
    numbered across the whole run again. Images are hard-linked from the shards (copied
    where a link is not possible); the shard folders are never changed.

    Refused, before anything is written: shards of different runs (template, seed or any
    option differs), a shard missing or given twice, an unfinished shard, a shard whose
    images or lists were changed after it was written (each image is checked against
    the SHA-256 its images.sha256 lists).

    \b
    Example: synthgen merge out/urban-1 out/urban-2 out/urban-3 out/urban-4 --out out/urban
    """
    try:
        with sigterm_interrupts():
            summary = merge_shards(list(shards), out, overwrite=overwrite)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM from a scheduler
        if (Path(out) / UNFINISHED_DIR).is_dir():  # stopped while writing, not checking
            click.echo(f"\nInterrupted: {out} is unfinished (it holds {UNFINISHED_DIR}/); run "
                       "the same command with --overwrite to merge again.", err=True)
        else:
            click.echo("\nInterrupted before anything was written.", err=True)
        ctx.exit(interrupted_status(exc))
    how = f"{summary.linked} linked" + (f", {summary.copied} copied" if summary.copied else "")
    found = labels_found(summary.annotations, summary.per_class, summary.photo_boxes)
    click.echo(f"{counted(summary.images, 'image')} ({how}), {found} from "
               f"{counted(summary.shards, 'shard')} in {out}")
