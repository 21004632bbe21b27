"""The scripts in ``benchmarks/`` import only what synthgen still has: they are run by hand
and rarely, so a name removed or moved in synthgen would otherwise be found by the next
person who runs one."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


def _synthgen_imports(script: Path) -> list[tuple[str, str | None]]:
    """``(module, name)`` for every ``from synthgen... import name`` (``name`` None for a
    plain ``import synthgen...``) anywhere in the script."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "synthgen":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names
                      if alias.name.split(".")[0] == "synthgen"]
    return found


def test_there_are_scripts_to_check() -> None:
    assert len(SCRIPTS) >= 5 and all(_synthgen_imports(s) for s in SCRIPTS
                                     if s.name != "arm_scripts.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_a_benchmark_script_imports_only_what_synthgen_has(script: Path) -> None:
    for module_name, name in _synthgen_imports(script):
        if module_name.startswith("synthgen.benchmark"):
            pytest.importorskip("torch", reason="the benchmark's modules need PyTorch")
        module = importlib.import_module(module_name)
        if name is not None:
            assert hasattr(module, name) or importlib.util.find_spec(
                f"{module_name}.{name}") is not None, \
                f"{script.name}: {module_name} has no {name}"
