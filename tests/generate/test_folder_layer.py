"""A run's output folder is read and written without the renderer (issue 12).

``synthgen.generate.folder`` holds what ``generate`` writes and ``merge`` reads back (the
files' names, the manifest, ``images.sha256``, shards); ``merge`` imports it, not the
pipeline, so merging shards does not load OpenCV, the painter, sampling or the labels.
Each check imports in a fresh interpreter: this one has loaded everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Modules of the renderer that reading or writing a run's folder must not load.
RENDERER = ("cv2", "synthgen.render.painter", "synthgen.scene.sampling", "synthgen.labels",
            "synthgen.generate.pipeline")


def loaded(module: str) -> list[str]:
    """The modules of :data:`RENDERER` that importing ``module`` loads, in a fresh
    interpreter."""
    code = (f"import json, sys; import {module}; "
            f"print(json.dumps([m for m in {RENDERER!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    return json.loads(result.stdout)


def test_the_folder_module_loads_no_renderer() -> None:
    assert loaded("synthgen.generate.folder") == []


def test_merge_loads_no_renderer() -> None:
    assert loaded("synthgen.generate.merge") == []


def test_the_generate_pipeline_still_exports_what_commands_import() -> None:
    from synthgen.generate import folder, pipeline

    assert pipeline.Shard is folder.Shard
    assert pipeline.manifest_document is folder.manifest_document
    assert pipeline.RUN_FILE == "run.json"
