"""The ``picojoule`` command line.

Every user error (a :class:`accelerator.errors.PicojouleError` or a malformed workload) becomes
one paragraph on stderr and exit code 2 — never a traceback. So does a command that needs an
optional dependency that is not installed (torch, diffusers, ...): the paragraph names the
extra that brings it (:func:`missing_extra_error`). Output cut short by its reader
(``picojoule trace --summary FILE | head``) ends the command quietly with exit code 141, what
a shell reports for a program stopped by SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "simulator.validation.cli",
    "simulator.explain.cli",
)

#: Optional dependencies, by the extra of ``pyproject.toml`` that installs them.
EXTRA_OF_MODULE = {
    "torch": "trace",
    "diffusers": "trace",
    "safetensors": "trace",
    "onnx": "trace",
    "onnxruntime": "trace",
    "sklearn": "trace",
    "cocotb": "rtl",
    "cocotb_tools": "rtl",
    "pynvml": "gpu",
    "dask": "dask",
    "distributed": "dask",
    "optuna": "search",
}
#: Extras a command needs beyond the missing module's (``gpu measure`` reads energy with the gpu extra).
COMMAND_EXTRAS = {"gpu": ("trace", "gpu")}
TORCH_FIRST = "pip install torch==2.13.0 (the CPU build; a CUDA build for GPU runs)"
SIGPIPE_EXIT = 141
"""128 + SIGPIPE: what a shell reports when a reader such as ``head`` stops reading early."""


def missing_extra_error(exc: ModuleNotFoundError, command: str) -> PicojouleError | None:
    """The user error for ``command`` failing on a missing optional dependency, or ``None`` when
    the missing module is none of :data:`EXTRA_OF_MODULE` (then it is a bug, not a user error)."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    extras = COMMAND_EXTRAS.get(command, (extra,))
    if extra not in extras:
        extras = (*extras, extra)
    install = f"pip install 'picojoule[{','.join(extras)}]'"
    if "trace" in extras:
        install = f"{TORCH_FIRST}, then {install}"
    return PicojouleError(f"picojoule {command} needs {module} (the {extra} extra), which is not installed; {install}")


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
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader is gone: send what is still buffered to /dev/null, so the interpreter's own
        # flush at exit does not raise again, and stop quietly.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is no file (captured, closed)
            pass
        return SIGPIPE_EXIT


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside main, rather than at exit
        return code
    except (PicojouleError, WorkloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        error = missing_extra_error(exc, args.command)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
