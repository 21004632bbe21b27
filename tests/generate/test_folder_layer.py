"""A run's output folder is read and written without the renderer (issue 12), and the
process that runs ``generate`` with worker processes does not load it either (issue 11).

``synthgen.generate.folder`` holds what ``generate`` writes and ``merge`` reads back (the
files' names, the manifest, ``images.sha256``, shards); ``merge`` imports it, not the
pipeline, so merging shards does not load OpenCV, the painter, sampling or the labels.
``synthgen.generate.images`` makes the images, in the workers; the pipeline that records
them imports it only to render in-process (one worker). Each check runs in a fresh
interpreter: this one has loaded everything already.
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


#: What the process recording a multi-worker run must not load: numba's machine code and
#: the drawing are the workers' (OpenCV's version goes into the manifest, so it stays).
DRAWING = ("numba", "synthgen.render.zbuffer", "synthgen.render.painter",
           "synthgen.render.effects", "synthgen.scene.sampling", "synthgen.generate.images")


def test_generate_with_workers_loads_no_renderer_in_its_own_process(tmp_path) -> None:
    out = tmp_path / "out"
    code = ("import json, sys\n"
            "from synthgen.cli import cli\n"
            "try:\n"
            f"    cli(['-q', 'generate', '--scene', 'urban', '--count', '4', '--size', '96x64',"
            f" '--workers', '2', '--out', {str(out)!r}])\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            f"print(json.dumps([m for m in {DRAWING!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert (out / "manifest.json").is_file()  # the images were made, by the workers


def test_the_generate_pipeline_still_exports_what_commands_import() -> None:
    from synthgen.generate import folder, pipeline

    assert pipeline.Shard is folder.Shard
    assert pipeline.manifest_document is folder.manifest_document
    assert pipeline.RUN_FILE == "run.json"
    assert pipeline.IMAGE_FORMATS is folder.IMAGE_FORMATS


def test_the_generate_command_loads_nothing_heavy_before_its_workers_start() -> None:
    """``generate`` starts its workers as soon as it runs: its module, and what it
    imports, load neither numpy, OpenCV, pydantic nor the pipeline, so that the workers'
    own start is not held up by the command's."""
    code = ("import json, sys; import synthgen.commands.generate; "
            "print(json.dumps([m for m in ('numpy', 'cv2', 'pydantic', "
            "'synthgen.generate.pipeline', 'synthgen.scene.templates') if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    assert json.loads(result.stdout) == []


def test_numpy_values_still_encode_as_json() -> None:
    import numpy as np

    from synthgen.storage.files import to_json

    assert json.loads(to_json({"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True),
                               "a": np.arange(3)})) == {"i": 3, "f": 0.5, "b": True,
                                                        "a": [0, 1, 2]}
