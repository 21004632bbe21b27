"""Click options shared by several commands, defined once."""

from __future__ import annotations

import click

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
