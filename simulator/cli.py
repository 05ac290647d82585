"""The ``picojoule`` command line.

Every user error (a :class:`accelerator.errors.PicojouleError` or a malformed workload) becomes
one paragraph on stderr and exit code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from accelerator.errors import PicojouleError
from models.workload import WorkloadError
from simulator.run import run_scenario
from simulator.validate import validate_file

#: Sub-command modules that add themselves with ``register(subparsers)`` (the signature of
#: :func:`register` below). Each is imported only when present, so a core install (no torch,
#: no cocotb) still has a working CLI.
PLUGINS = (
    "models.trace.cli",
    "models.zoo.cli",
    "models.gpu.cli",
    "simulator.gpu.cli",
    "rtl.cli",
    "simulator.sweep.cli",
    "simulator.bench.cli",
    "models.numerics.cli",
)


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for f in args.files:
        try:
            kind = validate_file(Path(f))
            print(f"{f}: ok ({kind})")
        except (PicojouleError, WorkloadError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


def _cmd_run(args: argparse.Namespace) -> int:
    out = run_scenario(args.scenario, args.out)
    print(out.summary)
    print(f"\nwrote {out.results_path} and {out.report_path}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the simulator's own commands, ``validate`` and ``run``."""
    p = subparsers.add_parser("validate", help="check scenario / arch / sweep / layer YAML files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=_cmd_validate)
    p = subparsers.add_parser("run", help="evaluate a scenario and write results.json + report.html")
    p.add_argument("scenario", metavar="SCENARIO.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=_cmd_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="picojoule",
        description="Energy of image generation on accelerators vs GPUs: trace, simulate, sweep, validate RTL.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(sub)
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # the plugin itself is absent; a broken import inside it is a bug
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (PicojouleError, WorkloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
