"""What a scene is, before any pixel: templates, the scene model and every random draw.

- :mod:`~synthgen.scene.yamlload`: YAML read strictly (a key given twice is an error);
- :mod:`~synthgen.scene.templates`: a scene template file -> a validated
  :class:`~synthgen.scene.templates.SceneTemplate` (pydantic);
- :mod:`~synthgen.scene.model`: the frozen dataclasses a sampled scene is made of
  (:class:`~synthgen.scene.model.Scene`, objects, camera, weather, appearance);
- :mod:`~synthgen.scene.sampling`: template + (seed, index) -> Scene: the one place random
  values are drawn, from an explicit ``numpy.random.Generator``.

Imports nothing of synthgen's but :mod:`synthgen.errors`, :mod:`synthgen.categories` and
:mod:`synthgen.storage`, except where sampling picks a ``--sprites`` cut-out: its viewing
angle needs :mod:`synthgen.render.camera`'s projection and the bank's types (listed in
``tests/test_layout.py``).
"""
