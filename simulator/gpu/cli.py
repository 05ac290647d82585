"""``picojoule calibrate``: fit the GPU cost model to measurement files and print the fit."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerator.files import OutputError, ensure_out_dir, input_problem
from accelerator.gpu import load_gpu
from models.gpu.measurement import MeasurementError
from simulator.gpu.calibrate import calibrate, gpu_for, load_samples, save_calibration
from simulator.gpu.params import GpuCalibration
from simulator.gpu.report import write_calibration_report


def _line(key: str, m: Mapping[str, Any], keys: tuple[str, str, str, str]) -> str:
    """One measured-vs-predicted line: latency per step, then energy per image when measured.

    ``keys``: the entry's error and spread key prefixes for latency and energy (runs carry
    ``latency_error_pct``, points ``latency_step_error_pct`` and a spread)."""
    lat_err, lat_spread, e_err, e_spread = keys
    spread = f" ±{m[lat_spread]:4.1f}%" if lat_spread in m else ""
    line = (f"  {key:24s} step {m['latency_s_per_step'] * 1e3:8.3f} ms{spread} measured, "
            f"{m['predicted_latency_s_per_step'] * 1e3:8.3f} predicted ({m[lat_err]:5.1f}%)")  # fmt: skip
    if e_err in m:
        spread = f" ±{m[e_spread]:4.1f}%" if e_spread in m else ""
        line += (f"; image {m['energy_j_per_image']:8.3f} J{spread} measured, "
                 f"{m['predicted_energy_j_per_image']:8.3f} predicted ({m[e_err]:5.1f}%)")  # fmt: skip
    return line


#: What "predicted" means in the calibration's lines: ``picojoule run`` evaluates a scenario's
#: workload file (often a CPU trace with other kernels and copies), so it can print another number.
PREDICTED_NOTE = (
    "predicted = the fitted model on the measurement's own op list (traced on the GPU, embedded in "
    "the file); `picojoule run` evaluates the scenario's workload file, which can differ"
)


def report_lines(c: GpuCalibration) -> list[str]:
    """Measured vs predicted per run and per repeated point, and the MAPE table, for the terminal."""
    lines = [f"calibration for {c.gpu} ({c.precision}), {len(c.measured)} measurements", PREDICTED_NOTE]
    lines.append("per run: latency per step and energy per image, measured vs predicted (error in %)")
    run_keys = ("latency_error_pct", "", "energy_error_pct", "")
    lines += [_line(key, m, run_keys) for key, m in sorted(c.measured.items())]
    repeated = {k: p for k, p in sorted(c.points.items()) if p.get("runs", 1) > 1}
    if repeated:
        lines.append(
            "repeated points: mean of the runs ± their run-to-run spread (mean absolute deviation, in %), "
            "latency and energy each their own"
        )
    point_keys = ("latency_step_error_pct", "latency_step_spread_pct", "energy_image_error_pct",
                  "energy_image_spread_pct")  # fmt: skip
    lines += [_line(key, p, point_keys) for key, p in repeated.items()]
    lines += [f"  MAPE {k}: {v:.1f}%" for k, v in sorted(c.mape.items())]
    return lines


def _check_outputs(args: argparse.Namespace) -> None:
    """A bad --out or --report fails before the fit (seconds to minutes), not after it."""
    out = Path(args.out)
    ensure_out_dir(out.parent)
    problem = input_problem(out)
    if problem == "is a folder, expected a file":
        raise OutputError(f"{out}: --out is a folder; give the calibration file's path (e.g. {out}/calibration.json)")
    if problem is not None and not problem.startswith("no such file"):
        raise OutputError(f"{out}: cannot write the calibration there: {problem}")
    if args.report:
        ensure_out_dir(args.report)


def _handler(args: argparse.Namespace) -> int:
    _check_outputs(args)
    samples = load_samples(args.measurements)
    gpu = load_gpu(args.gpu or gpu_for(samples))
    precisions = {s.meta["dtype"] for s in samples}
    if len(precisions) != 1:
        raise MeasurementError(f"measurements mix precisions {sorted(precisions)}; fit one at a time")
    c = calibrate(samples, gpu, precisions.pop())
    save_calibration(c, args.out)
    print("\n".join(report_lines(c)))
    print(f"wrote {args.out}")
    if args.report:
        print(f"wrote {write_calibration_report(c, args.report)}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``calibrate MEASUREMENTS... --out FILE [--gpu NAME]`` to the CLI."""
    p = subparsers.add_parser("calibrate", help="fit the GPU cost model to measurement files")
    p.add_argument("measurements", nargs="+", help="measurement files (picojoule gpu measure)")
    p.add_argument("--out", required=True, help="calibration JSON to write")
    p.add_argument("--gpu", help="GPU spec name or YAML (default: from the measurements)")
    p.add_argument("--report", metavar="DIR", help="also write DIR/calibration.html: predicted vs measured plots")
    p.set_defaults(func=_handler)
