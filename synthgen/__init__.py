"""synthgen: procedurally generated driving scenes with exact labels.

Data flows one way through the stages, each a folder; lowest first, a module uses its
own stage and those above it (``tests/test_layout.py`` checks):

    storage/   atomic writes, output folders, their file names, locks, image decoding
    scene/     YAML template -> SceneTemplate; (template, seed, index) -> Scene: every
               random value drawn here (scene.sampling)
    render/    Scene -> image, instance id map and depth (render.painter), real cut-outs
               pasted (render.sprites), weather and sensor (render.effects), a real
               camera's look (render.appearance)
    labels     final image and instance id map -> ObjectLabel per visible object
    formats/   COCO files read, checked and written, exports (YOLO, KITTI)
    datasets/  real sets imported (and read for fit and the --sprites
               cut-outs), hybrid mixes, versions compared
    generate/  all of the above over many images in worker processes, resume, shards,
               merge
    analysis/  statistics, synthetic-vs-real gaps, templates fitted to real sets
    viz/       contact sheets: drawing on one image (viz.draw), layout (viz.sheet),
               what a sheet shows (viz.preview)
    benchmark/ the transfer benchmark (optional: torch)

``cli.py`` and ``commands/`` (one module per command) sit on top; ``errors.py`` and
``categories.py`` are shared by all.
"""

from __future__ import annotations

__version__ = "0.7.0"
