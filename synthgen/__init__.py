"""synthgen: procedurally generated driving scenes with exact labels.

The stages, each a module with one public entry point:

    templates  YAML file -> validated :class:`~synthgen.templates.SceneTemplate`
    sampling   template + (seed, index) -> :class:`~synthgen.scene.Scene` (every random value fixed)
    render     scene -> :class:`~synthgen.render.Layers` (image, instance id map, depth)
    effects    layers -> final image (lighting glow, weather, sensor)
    labels     final instance id map -> :class:`~synthgen.labels.ObjectLabel` per visible object
    coco       labels -> COCO records
    pipeline   all of the above over many images, in worker processes, onto disk
"""

from __future__ import annotations

__version__ = "0.6.0"
