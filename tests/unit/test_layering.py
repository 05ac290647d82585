"""DESIGN.md's layering, checked on the source: a change that breaks it fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH = {"torch", "diffusers", "onnx", "onnxruntime", "safetensors"}  # the trace extra
HEAVY = TORCH | {"cocotb", "cocotb_tools"}


def _imports(path: Path) -> set[str]:
    """Top-level package names imported anywhere in ``path`` (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "accelerator").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_accelerator_imports_nothing_of_ours(path: Path) -> None:
    assert not _imports(path) & {"models", "simulator"}
    assert not _imports(path) & HEAVY


def test_workload_format_is_standalone() -> None:
    assert not _imports(ROOT / "models" / "workload.py") & ({"accelerator", "models", "simulator"} | HEAVY)


@pytest.mark.parametrize("path", sorted((ROOT / "simulator").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_simulator_never_imports_torch(path: Path) -> None:
    assert not _imports(path) & TORCH


@pytest.mark.parametrize("path", sorted((ROOT / "models").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_models_never_import_the_simulator(path: Path) -> None:
    assert "simulator" not in _imports(path)
