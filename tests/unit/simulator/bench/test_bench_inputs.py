"""picojoule bench from a wheel: its designs and traces ship inside the package, equal to scenarios/."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from accelerator.errors import SpecError
from simulator.bench.inputs import PACKAGED_DIR, SWEEP_BASE_ARCH, SWEEP_WORKLOAD, bench_inputs
from simulator.bench.speed import run_bench

ROOT = Path(__file__).resolve().parents[4]
SCENARIOS = ROOT / "scenarios"


def _names(folder: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in folder.glob(pattern))


def test_packaged_inputs_are_the_committed_ones_byte_for_byte() -> None:
    """The copies in simulator/bench/data must follow scenarios/: same files, same bytes."""
    for sub, pattern in (("arch", "*.yaml"), ("workloads", "*.workload.json.gz")):
        committed = _names(SCENARIOS / sub, pattern)
        assert _names(PACKAGED_DIR / sub, pattern) == committed, f"copy scenarios/{sub}/{pattern} again"
        for name in committed:
            same = (PACKAGED_DIR / sub / name).read_bytes() == (SCENARIOS / sub / name).read_bytes()
            assert same, f"simulator/bench/data/{sub}/{name} differs from scenarios/{sub}/{name}"
    assert (PACKAGED_DIR / "arch" / SWEEP_BASE_ARCH).is_file()
    assert (PACKAGED_DIR / "workloads" / SWEEP_WORKLOAD).is_file()


def test_packaged_inputs_are_package_data() -> None:
    """Each data file resolves through importlib.resources and matches pyproject's package-data globs."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    data = [p for p in PACKAGED_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(data) == len(bench_inputs().arch_files()) + len(bench_inputs().trace_files())
    for path in data:
        rel = path.relative_to(PACKAGED_DIR).as_posix()
        assert files("simulator.bench").joinpath("data", *rel.split("/")).is_file(), rel
        assert any(fnmatch.fnmatch(path.name, g) for g in globs), f"{rel} matches no package-data glob {globs}"


def test_bench_runs_from_a_copy_of_the_packages_outside_the_checkout(tmp_path: Path) -> None:
    """What `pip install . && picojoule bench` sees: the packages without scenarios/ beside them."""
    site = tmp_path / "site"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "sim_build*")
    for pkg in ("accelerator", "models", "simulator"):
        shutil.copytree(ROOT / pkg, site / pkg, ignore=skip)
    script = (
        "import json, simulator.bench.speed as s\n"
        "doc = s.run_bench(['tiny-unet'], repeat=1, event=False, sweep=False)\n"
        "print(json.dumps({'file': s.__file__, 'designs': doc['designs'], 'ms': doc['analytic_ms_per_design']}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert Path(out["file"]).resolve().is_relative_to(site.resolve()), out["file"]
    assert not (site / "scenarios").exists()
    assert out["designs"] == [p.stem for p in sorted((SCENARIOS / "arch").glob("*.yaml"))]
    assert out["ms"]["tiny-unet"] > 0


def test_scenarios_folder_is_checked(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not a folder"):
        bench_inputs(tmp_path / "missing")
    (tmp_path / "arch").mkdir()
    with pytest.raises(SpecError, match=r"no designs in .*arch"):
        bench_inputs(tmp_path)
    assert bench_inputs(SCENARIOS).arch_files() == sorted((SCENARIOS / "arch").glob("*.yaml"))


def test_no_designs_is_a_user_error_not_a_division_by_zero() -> None:
    with pytest.raises(SpecError, match="no designs"):
        run_bench(["tiny-unet"], repeat=1, event=False, sweep=False, archs=[])
