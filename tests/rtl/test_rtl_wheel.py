"""The ``rtl`` package ships in the wheel and ``picojoule rtl test`` runs from an install.

The wheel is built from a copy of the distribution's inputs (``pyproject.toml``, the README
and every top-level package, without ``__pycache__`` or egg-info), so the check does not write
into the checkout (pip builds in the source folder). A fake RTL build product is planted in the
copy's ``rtl/pe_tile/sim_build``: the wheel must leave it out. The install test puts that wheel
in a ``--target`` folder, first on PYTHONPATH, and runs the console script from a folder outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from rtl.flow import default_sim, missing_tools

ROOT = Path(__file__).resolve().parents[2]
SIM = default_sim()
_MISSING = missing_tools(SIM)
RTL_FILES = (
    "rtl/__init__.py",
    "rtl/flow.py",
    "rtl/cli.py",
    "rtl/pe_tile/hdl/pe_tile.v",
    "rtl/pe_tile/hdl/pe_tile_pe.v",
    "rtl/pe_tile/tb/test_pe_tile.py",
    "rtl/pe_tile/tb/pe_tile_env.py",
)


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _setuptools_major() < 77:  # pyproject.toml's build requirement; no build isolation here
        pytest.skip("building the wheel needs setuptools>=77 in this environment")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in (d for d in ROOT.iterdir() if (d / "__init__.py").is_file()):
        shutil.copytree(pkg, src / pkg.name, ignore=skip)
    planted = src / "rtl" / "pe_tile" / "sim_build" / "yosys_4x4"
    planted.mkdir(parents=True, exist_ok=True)
    (planted / "stat.json").write_text("{}")
    out = tmp / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("picojoule-*.whl")
    return built


def test_wheel_ships_the_rtl_flow_verilog_and_bench(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = whl.read(entry_points).decode()
    missing = [f for f in RTL_FILES if f not in names]
    assert not missing, f"{wheel.name} lacks {missing}"
    shipped_builds = sorted(n for n in names if "sim_build" in n or "__pycache__" in n)
    assert not shipped_builds, f"{wheel.name} ships build products: {shipped_builds}"
    assert "picojoule = simulator.cli:main" in scripts


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.skipif(_MISSING is not None, reason=f"RTL flow unavailable: {_MISSING}")
def test_rtl_test_runs_from_an_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target, cache, cwd = tmp_path / "site", tmp_path / "cache", tmp_path / "elsewhere"
    cwd.mkdir()
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "PYTHONPATH")}
    env.update(PYTHONPATH=str(target), XDG_CACHE_HOME=str(cache))

    # The checkout's editable install must not win over the --target folder.
    probe = "import accelerator, rtl.flow, simulator.cli; print(rtl.flow.__file__); print(accelerator.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(target.resolve()), where.stdout

    script = target / "bin" / "picojoule"
    run = subprocess.run(
        [sys.executable, str(script), "rtl", "test", "--sim", SIM],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS 12 passed, 0 failed" in run.stdout, run.stdout
    # Builds went to the per-user cache, never next to the installed package.
    build = Path(run.stdout.split("build: ", 1)[1].splitlines()[0])
    assert build.is_relative_to(cache / "picojoule" / "rtl"), build
    assert (build / "run" / "results.xml").is_file()
    assert not (target / "rtl" / "pe_tile" / "sim_build").exists()
