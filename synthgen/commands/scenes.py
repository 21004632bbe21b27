"""``synthgen scenes``: list the bundled scene templates."""

from __future__ import annotations

import click

from synthgen.scene.templates import bundled_templates, load_template


@click.command()
def scenes() -> None:
    """List the bundled scene templates, one line each: name and description.

    Use a name with `synthgen generate --scene NAME`, or copy a file from scenes/ and
    pass its path to start your own.
    """
    templates = [load_template(path.stem) for path in bundled_templates()]
    width = max((len(t.name) for t in templates), default=0)
    for template in templates:
        click.echo(f"{template.name:<{width}}  {template.description}")
