"""picojoule bench from a wheel: its designs and traces are the packaged scenarios/ (accelerator.files)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accelerator import files
from accelerator.errors import SpecError
from simulator.bench.inputs import SWEEP_BASE_ARCH, SWEEP_WORKLOAD, bench_inputs
from simulator.bench.speed import run_bench
from simulator.cli import main

ROOT = Path(__file__).resolve().parents[4]
SCENARIOS = ROOT / "scenarios"


def test_default_inputs_are_the_committed_scenarios() -> None:
    """Without --scenarios the bench reads scenarios/ itself (packaged_scenario), not a copy."""
    inputs = bench_inputs()
    assert inputs.arch_dir.resolve() == (SCENARIOS / "arch").resolve()
    assert inputs.workloads_dir.resolve() == (SCENARIOS / "workloads").resolve()
    assert inputs.arch_files() and inputs.trace_files()
    assert (inputs.arch_dir / SWEEP_BASE_ARCH).is_file()
    assert (inputs.workloads_dir / SWEEP_WORKLOAD).is_file()


def _run_from_site(site: Path, cwd: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _copy_packages(site: Path, packages: tuple[str, ...]) -> None:
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "sim_build*")
    for pkg in packages:
        shutil.copytree(ROOT / pkg, site / pkg, ignore=skip)


def test_bench_runs_from_a_copy_of_the_packages_outside_the_checkout(tmp_path: Path) -> None:
    """What `pip install . && picojoule bench` sees: the packages, scenarios/ among them, in a site folder."""
    site, cwd = tmp_path / "site", tmp_path / "elsewhere"
    cwd.mkdir()
    _copy_packages(site, ("accelerator", "models", "simulator", "scenarios"))
    script = (
        "import json, simulator.bench.speed as s, simulator.bench.inputs as i\n"
        "doc = s.run_bench(['tiny-unet'], repeat=1, event=False, sweep=False, nest=False)\n"
        "print(json.dumps({'file': s.__file__, 'root': str(i.bench_inputs().root), 'designs': doc['designs'], "
        "'ms': doc['analytic_ms_per_design']}))\n"
    )
    proc = _run_from_site(site, cwd, script)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert Path(out["file"]).resolve().is_relative_to(site.resolve()), out["file"]
    assert Path(out["root"]).resolve() == (site / "scenarios").resolve()
    assert out["designs"] == [p.stem for p in sorted((SCENARIOS / "arch").glob("*.yaml"))]
    assert out["ms"]["tiny-unet"] > 0


def test_bench_without_the_scenarios_package_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incomplete install (no scenarios package): exit 2 naming what is missing, no traceback."""
    real = importlib.util.find_spec

    def without_scenarios(name: str, package: str | None = None) -> Any:
        return None if name == files.SCENARIOS_PACKAGE else real(name, package)

    monkeypatch.setattr(files.importlib.util, "find_spec", without_scenarios)
    assert main(["bench", "--skip-sweep", "--workload", "tiny-unet", "--repeat", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "'scenarios'" in err and "reinstall" in err


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
