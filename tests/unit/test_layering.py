"""The layering of docs/architecture.md, checked on the source: a change that breaks it fails here."""

from __future__ import annotations

import ast
import subprocess
import sys
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


def _modules(path: Path) -> set[str]:
    """Full dotted names of the modules ``path`` imports (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "models" / "workload").glob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_workload_format_is_standalone(path: Path) -> None:
    """The trace format imports only itself of ours, and nothing heavy."""
    assert not _imports(path) & ({"accelerator", "simulator"} | HEAVY)
    ours = {m for m in _modules(path) if m.split(".")[0] == "models"}
    assert all(m == "models.workload" or m.startswith("models.workload.") for m in ours), ours


@pytest.mark.parametrize("path", sorted((ROOT / "simulator").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_simulator_never_imports_torch(path: Path) -> None:
    assert not _imports(path) & TORCH


@pytest.mark.parametrize("path", sorted((ROOT / "models").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_models_never_import_the_simulator(path: Path) -> None:
    assert "simulator" not in _imports(path)


OURS = {"accelerator", "models", "simulator", "rtl"}
SOURCES = sorted(p for pkg in sorted(OURS) for p in (ROOT / pkg).rglob("*.py") if "sim_build" not in p.parts)


def _lazy_imports_without_reason(path: Path) -> list[str]:
    """In-function imports of our own packages whose line lacks a ``# lazy: why`` comment.

    docs/architecture.md: an import inside a function is allowed only to keep a heavy optional
    dependency (torch, simpy, cocotb, dask) out of a module that must stay light, never to
    dodge an import cycle; the comment says which.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    bad = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            else:
                continue
            if not {m.split(".")[0] for m in mods} & OURS:
                continue
            text = " ".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno)])
            if "# lazy:" not in text:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return bad


def test_in_function_imports_of_our_modules_say_why() -> None:
    bad = [line for p in SOURCES for line in _lazy_imports_without_reason(p)]
    assert not bad, "in-function imports without a '# lazy: why' comment:\n  " + "\n  ".join(bad)


def test_the_lazy_import_check_can_fail(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text(
        "def f():\n    from simulator.optable import prepare\n\n"
        "def g():\n    from models.gpu import harness  # lazy: torch\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _lazy_imports_without_reason(src) == ["mod.py:2: from simulator.optable import prepare"]
    finally:
        ROOT = saved


LIGHT = (
    "accelerator",
    "models",
    "models.workload",
    "models.layers",
    "models.trace",
    "models.trace.summary",
    "models.onnx",
    "models.numerics",
    "models.numerics.metrics",
    "models.gpu",
    "models.gpu.measurement",
    "models.zoo",
    "simulator",
    "simulator.cost",
    "simulator.gpu",
    "simulator.sweep",
    "simulator.bench",
    "simulator.cli",
    "rtl",
)


def test_package_inits_and_format_modules_import_no_heavy_dependency() -> None:
    """What a core install (no torch, no cocotb) imports must not pull them in."""
    code = (
        f"import importlib, sys\nfor m in {LIGHT!r}: importlib.import_module(m)\n"
        f"print(sorted(n for n in {sorted(HEAVY | {'dask', 'optuna'})!r} if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
