"""The code's layout is its architecture: stages in folders, data flowing one way.

Every import of a synthgen module by another (at module level, inside a function, or for
type checking only) must point down the stage order below, or within one stage. (The
CLI's lazy ``importlib`` imports of its commands are not seen: the CLI is the top
stage.) The few that still point up are listed with why; the list may only shrink: a new
upward import fails here, and so does one listed that is gone (strike it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import synthgen

PACKAGE = Path(synthgen.__file__).parent

#: Lowest first: a module may import its own stage and those before it.
STAGES = [
    # Shared by all: the error types, the fixed classes, the box type and the manifest's
    # names (leaves that import nothing of synthgen but its version, kept with the formats
    # they belong to; storage's output folders use the manifest's names).
    ("synthgen", "synthgen.errors", "synthgen.categories", "synthgen.formats.boxes",
     "synthgen.formats.manifest"),
    ("synthgen.storage",),
    ("synthgen.scene",),
    ("synthgen.render",),
    # Within render, one way too: the renderer's parts (camera, light, shapes, raster,
    # backdrop, culling, ground light, draw order, projections, cut-outs, ...), then the
    # painter that calls them, then what takes its layers: effects, and the look fitted by
    # rendering through both (appearance).
    ("synthgen.render.painter",),
    ("synthgen.render.effects",),
    ("synthgen.render.appearance",),
    # Labels, and the thresholds that decide them (kept apart: commands show their
    # defaults without loading OpenCV).
    ("synthgen.labels", "synthgen.label_options"),
    ("synthgen.formats",),
    ("synthgen.datasets",),
    ("synthgen.generate",),
    ("synthgen.analysis",),
    # Within viz, one way too: drawing on one image, then laying tiles out, then what a
    # sheet shows (the preview command's composition).
    ("synthgen.viz.draw",),
    ("synthgen.viz.sheet",),
    ("synthgen.viz",),
    ("synthgen.benchmark",),
    ("synthgen.cli", "synthgen.commands"),
]

#: Imports that still point up a stage, and why; each is a step left for the layout issue.
KNOWN_UPWARD = {
    # Sampling a cut-out needs its viewing angle, which needs the camera's projection.
    ("synthgen.scene.sampling", "synthgen.render.camera"),
    ("synthgen.scene.sampling", "synthgen.render.sprites"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    name = ".".join(("synthgen", *parts))
    return name.removesuffix(".__init__")


def _names(module: str, prefix: str) -> bool:
    """Whether ``prefix`` names ``module``: itself, or (but for the package itself, which
    holds only ``__version__``) a folder holding it."""
    return module == prefix or (prefix != "synthgen" and module.startswith(prefix + "."))


def _stage(module: str) -> int:
    """Index in :data:`STAGES` of the longest prefix naming ``module``."""
    best = max(((len(prefix), i) for i, prefixes in enumerate(STAGES) for prefix in prefixes
                if _names(module, prefix)), default=None)
    assert best is not None, f"{module} is in no stage: add it to STAGES"
    return best[1]


def _imported(node: ast.AST) -> list[str]:
    """The synthgen modules an import statement loads (``from synthgen.x import y``
    loads ``synthgen.x.y`` when that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("synthgen")]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
            and node.module.split(".")[0] == "synthgen":
        found = []
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            is_module = (PACKAGE.parent / (full.replace(".", "/") + ".py")).is_file() or \
                (PACKAGE.parent / full.replace(".", "/") / "__init__.py").is_file()
            found.append(full if is_module else node.module)
        return found
    return []


def imports() -> set[tuple[str, str]]:
    """Every (importer, imported) pair of synthgen modules."""
    pairs = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pairs.update((importer, imported) for imported in _imported(node))
    return pairs


def test_imports_point_down_the_stages() -> None:
    upward = {(a, b) for a, b in imports() if _stage(b) > _stage(a)}
    assert upward - KNOWN_UPWARD == set(), "new imports pointing up a stage"
    assert KNOWN_UPWARD - upward == set(), "fixed: strike these from KNOWN_UPWARD"


def test_every_module_is_in_a_stage() -> None:
    for path in PACKAGE.rglob("*.py"):
        _stage(_module_name(path))


def test_a_module_outside_the_stages_is_in_none() -> None:
    # A new top-level module must be placed in STAGES, not join the shared stage unseen.
    with pytest.raises(AssertionError, match="in no stage"):
        _stage("synthgen.newthing")
    assert _stage("synthgen") == 0 and _stage("synthgen.render.backdrop") == 3
    assert _stage("synthgen.render.painter") == 4


def test_relative_imports_are_not_used() -> None:
    # The check above reads absolute imports; a relative one would slip past it.
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            assert not (isinstance(node, ast.ImportFrom) and node.level), \
                f"{path}: relative import"
