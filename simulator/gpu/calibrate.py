"""Fit the GPU cost model to real measurements: ``picojoule calibrate MEASUREMENTS... --out``.

Three fits, each a plain numpy search (deterministic, no scipy), in this order:

1. **Kernels, per op kind** (:mod:`simulator.gpu.kernel_fit`): from every measured op's kernel
   time (``per_op`` of CUDA measurement files), the kind's ``eff_max``/``flops_half`` (tensor
   kinds), ``mem_eff`` and ``kernel_fixed_s``, minimising the squared log error (half weighted
   per op, half by the op's share of measured time) over a coarse grid, then a finer grid
   around the best point.
2. **Host**: ``host_issue_s`` from the measured per-step latencies through the host/GPU queue
   of :func:`simulator.gpu.model.step_costs` (log error, 1-D grid).
3. **Power**: ``idle_w`` = mean measured idle power; the per-FLOP and per-byte energies by
   non-negative least squares on relative error of energy above idle per image (every
   non-negative subset of the four columns is solved; the best is kept).

The calibration file (``picojoule.gpu_calibration`` v1, JSON) holds the parameters, the
fit error (MAPE in %, end to end and per op class, in-sample and leave-one-model-out for the
host and power fits), the measured numbers per model, and the provenance of every input. It is
strict JSON: a fit that degenerates to a NaN or an infinity is a :class:`CalibrationError`
naming the field, never a file other tools cannot read; it is written atomically.

Every prediction in it (``predicted_*``) is the fitted model evaluated on the measurement's
*own* op list (the workload traced on the GPU, embedded in the measurement file), at the
measured batch and steps. ``picojoule run`` evaluates a scenario's workload file instead (often
a CPU trace, with other attention kernels and copies), so its prediction for "the same" model
can differ (docs/gpu.md, "Calibrating").
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from accelerator.errors import PicojouleError
from accelerator.files import write_text_atomic
from accelerator.gpu import GpuSpec
from simulator.gpu.calibration_file import FORMAT_NAME, FORMAT_VERSION, load_calibration
from simulator.gpu.kernel_fit import L2_RESIDENT_FRACTION, fit_kernels
from simulator.gpu.model import fit_key, for_mode, is_mixed_fp8, op_cost, op_energy, step_costs, weights_resident
from simulator.gpu.params import GpuCalibration, GpuModelParams, default_params
from simulator.gpu.samples import Sample, gpu_for, load_samples

__all__ = ["CalibrationError", "calibrate", "gpu_for", "load_calibration", "load_samples", "save_calibration"]


class CalibrationError(PicojouleError):
    """The measurements cannot be fitted (nothing to fit, a degenerate fit)."""


#: Measurements that calibrate kernels only (single ops, no framework code around them): kept
#: out of the host-time fit and of the end-to-end error.
KERNEL_ONLY = frozenset({"microbench"})


# -------------------------------------------------------------------------- host and power


def queue_step_s(gpu_s: np.ndarray, hosts: np.ndarray) -> np.ndarray:
    """Step latency of the host/GPU queue for each host time in ``hosts``.

    Op j (1-based) is issued at j·h; the GPU finishes at max over j of (j·h + Σ_{i≥j} t_i).
    """
    suffix = np.cumsum(gpu_s[::-1])[::-1]
    j = np.arange(1, len(gpu_s) + 1)
    return (j[None, :] * hosts[:, None] + suffix[None, :]).max(axis=1)


def _gpu_parts(s: Sample, gpu: GpuSpec, p: GpuModelParams, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """Per op: GPU time without the fixed term, and the fixed term."""
    resident = weights_resident(s.workload, gpu, p, precision)
    mixed = is_mixed_fp8(s.workload)
    total = np.array([op_cost(op, gpu, p, precision, resident, mixed).gpu_s for op in s.workload.ops])
    fixed = np.array([p.get("kernel_fixed_s", fit_key(op), 0.0) for op in s.workload.ops])
    return total - fixed, fixed


def fit_host(samples: Sequence[Sample], gpu: GpuSpec, p: GpuModelParams, precision: str) -> tuple[float, float]:
    """(``host_issue_s``, ``fixed_scale``) minimising the squared log error of per-step latency.

    ``fixed_scale`` scales every fitted ``kernel_fixed_s``: per-op times come from profiled
    runs, where host work between an op's kernels can count as op time; the unprofiled
    step latencies say how much of that fixed time is real.
    """
    hosts = np.concatenate([[0.0], np.linspace(0.5e-6, 150e-6, 300)])
    scales = np.linspace(0.0, 1.0, 21)
    parts = [_gpu_parts(s, gpu, p, precision) for s in samples]
    err = np.zeros((len(scales), len(hosts)))
    for a, scale in enumerate(scales):
        for s, (base, fixed) in zip(samples, parts, strict=True):
            h = hosts if s.mode == "eager" else np.zeros_like(hosts)  # a CUDA graph: no host per op
            err[a] += np.log(queue_step_s(base + scale * fixed, h) / s.step_s) ** 2
    best_scale, best_host = (int(i) for i in np.unravel_index(int(np.argmin(err)), err.shape))
    return float(hosts[best_host]), float(scales[best_scale])


def _scaled(p: GpuModelParams, host_s: float, scale: float) -> GpuModelParams:
    return replace(p, host_issue_s=host_s, kernel_fixed_s={k: v * scale for k, v in p.kernel_fixed_s.items()})


def predict_step_s(s: Sample, gpu: GpuSpec, p: GpuModelParams, precision: str) -> float:
    return float(sum(step_costs(s.workload, gpu, for_mode(p, s.mode), precision).latency_s))


def _image_features(s: Sample, gpu: GpuSpec, p: GpuModelParams, precision: str) -> np.ndarray:
    """Per image: kernel-busy s, tensor FLOPs, vector FLOPs, HBM bytes, all bytes (model calls)."""
    costs = step_costs(s.workload, gpu, for_mode(p, s.mode), precision).ops
    per_call = np.array([[c.gpu_s, c.tensor_flops, c.vector_flops, c.hbm_bytes, c.l2_bytes] for c in costs])
    return per_call.sum(axis=0) * s.steps / s.batch


def fit_power(samples: Sequence[Sample], gpu: GpuSpec, p: GpuModelParams, precision: str) -> GpuModelParams:
    """``idle_w``, ``active_w`` and the four dynamic energies (step 3 of the module docstring)."""
    with_e = [s for s in samples if s.energy_j_per_image is not None and s.image_s]
    if not with_e:
        return replace(p, idle_w=default_params(gpu, precision).idle_w)
    idle = float(np.mean([s.idle_w for s in with_e if s.idle_w is not None]))
    x = np.array([_image_features(s, gpu, p, precision) for s in with_e])
    y = np.array([s.energy_j_per_image - idle * s.image_s for s in with_e])  # type: ignore[operator]
    scale = np.array([s.energy_j_per_image for s in with_e], dtype=float)  # relative error
    colscale = x.max(axis=0)
    colscale[colscale == 0] = 1.0
    xs = x / colscale / scale[:, None]
    ys = y / scale
    n = x.shape[1]
    best, best_err = np.zeros(n), float(np.sum(ys**2))
    for k in range(1, n + 1):
        for cols in itertools.combinations(range(n), k):
            coef, *_ = np.linalg.lstsq(xs[:, cols], ys, rcond=None)
            err = float(np.sum((xs[:, cols] @ coef - ys) ** 2))
            if (coef >= 0).all() and err < best_err:
                best, best_err = np.zeros(n), err
                best[list(cols)] = coef
    c = best / colscale
    return replace(
        p, idle_w=idle, active_w=float(c[0]), pj_per_tensor_flop=float(c[1] * 1e12),
        pj_per_vector_flop=float(c[2] * 1e12), pj_per_hbm_byte=float(c[3] * 1e12), pj_per_l2_byte=float(c[4] * 1e12),
    )  # fmt: skip


def predict_image_j(s: Sample, gpu: GpuSpec, p: GpuModelParams, precision: str) -> float:
    p = for_mode(p, s.mode)
    step = step_costs(s.workload, gpu, p, precision)
    per_call = sum(sum(op_energy(c, t, gpu, p).values()) for c, t in zip(step.ops, step.latency_s, strict=True))
    return per_call * s.steps / s.batch


# ------------------------------------------------------------------------------- the fit


def _ape(pred: float, meas: float) -> float:
    return abs(pred - meas) / meas * 100.0


def calibrate(samples: Sequence[Sample], gpu: GpuSpec, precision: str = "bf16") -> GpuCalibration:
    """Fit every parameter to ``samples`` and measure the fit's error."""
    kern = fit_kernels(samples, gpu, precision)
    models = [s for s in samples if s.model not in KERNEL_ONLY]
    host_s, fixed_scale = fit_host(models or samples, gpu, kern, precision)
    params = fit_power(samples, gpu, _scaled(kern, host_s, fixed_scale), precision)
    mape: dict[str, float] = {}
    measured: dict[str, dict[str, Any]] = {}
    lat_err, en_err, loo_lat, loo_en = [], [], [], []
    class_err: dict[str, list[float]] = {}
    for s in samples:
        pred_step = predict_step_s(s, gpu, params, precision)
        end_to_end = s.model not in KERNEL_ONLY
        if end_to_end:
            lat_err.append(_ape(pred_step, s.step_s))
        others = [o for o in models if o.model != s.model]
        if others:  # leave this model out of the host and power fits
            lp = _scaled(kern, *fit_host(others, gpu, kern, precision))
            if end_to_end:
                loo_lat.append(_ape(predict_step_s(s, gpu, lp, precision), s.step_s))
            lp = fit_power(others, gpu, lp, precision)
            if s.energy_j_per_image:
                loo_en.append(_ape(predict_image_j(s, gpu, lp, precision), s.energy_j_per_image))
        costs = step_costs(s.workload, gpu, kern, precision).ops  # vs profiled times: unscaled
        op_class: dict[str, dict[str, float]] = {}
        for kind in sorted({o.kind for o in s.workload.ops}):
            idx = [i for i, o in enumerate(s.workload.ops) if o.kind == kind and s.op_times_s[i] > 0]
            meas = float(s.op_times_s[idx].sum()) if idx else 0.0
            if meas > 0:
                pred = sum(costs[i].gpu_s for i in idx)
                class_err.setdefault(kind, []).append(_ape(pred, meas))
                op_class[kind] = {"measured_s": meas, "predicted_s": pred, "ops": len(idx)}
        entry: dict[str, Any] = {
            "batch": s.batch, "steps": s.steps, "file": s.meta["file"],
            "latency_s_per_step": s.step_s, "predicted_latency_s_per_step": pred_step,
            "latency_error_pct": _ape(pred_step, s.step_s), "profiled_op_s_per_step": s.profiled_s,
            "mode": s.mode, "gpu_bound": s.gpu_bound, "profiler_inflation": s.inflation,
            "profiler_inflation_source": s.inflation_source, "op_class_s_per_step": op_class,
        }  # fmt: skip
        if s.energy_j_per_image is not None:
            pred_e = predict_image_j(s, gpu, params, precision)
            if end_to_end:
                en_err.append(_ape(pred_e, s.energy_j_per_image))
            entry.update(energy_j_per_image=s.energy_j_per_image, predicted_energy_j_per_image=pred_e,
                         energy_error_pct=_ape(pred_e, s.energy_j_per_image), idle_w=s.idle_w)  # fmt: skip
        key = s.point
        if key in measured:  # a second run of the same point: keep both
            key = f"{key}#{sum(k.split('#')[0] == key for k in measured) + 1}"
        measured[key] = entry
    if lat_err:
        mape["latency_step"] = float(np.mean(lat_err))
    if en_err:
        mape["energy_image"] = float(np.mean(en_err))
    if loo_lat:
        mape["latency_step_leave_one_model_out"] = float(np.mean(loo_lat))
    if loo_en:
        mape["energy_image_leave_one_model_out"] = float(np.mean(loo_en))
    points = point_summary(measured)
    for what in ("latency_step", "energy_image"):
        errs = [p[f"{what}_error_pct"] for k, p in points.items() if f"{what}_error_pct" in p and k not in KERNEL_ONLY]
        spread = [p[f"{what}_spread_pct"] for p in points.values() if p["runs"] > 1 and f"{what}_spread_pct" in p]
        if errs:
            mape[f"{what}_mean_of_runs"] = float(np.mean(errs))
        if spread:
            mape[f"{what}_run_to_run_spread"] = float(np.mean(spread))
    for kind, errs in sorted(class_err.items()):
        mape[f"profiled_op_time:{kind}"] = float(np.mean(errs))
    provenance = {
        "measurements": [s.meta for s in samples],
        "latest_measurement_utc": max((str(s.meta["created_utc"]) for s in samples), default=None),
        "method": "simulator.calibrate: per-kind kernel grid fit (log error), host-queue fit, "
        "non-negative power fit; MAPE in percent",
        "l2_resident_fraction": f"{L2_RESIDENT_FRACTION} (assumed, not fitted)",
        "kernel_fixed_scale": fixed_scale,
    }
    return GpuCalibration(gpu=gpu.name, params=params, precision=precision, mape=mape,
                          provenance=provenance, measured=measured, points=points)  # fmt: skip


def point_summary(measured: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Repeated runs of one configuration (:attr:`Sample.point`) merged: the mean measured
    latency and energy, the error of the prediction against that mean, and the run-to-run
    spread (mean absolute deviation of the runs from their mean, in %)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, run in measured.items():
        groups.setdefault(key.split("#")[0], []).append(run)
    out: dict[str, dict[str, Any]] = {}
    for point, runs in sorted(groups.items()):
        first = runs[0]
        merged: dict[str, Any] = {"runs": len(runs), "batch": first["batch"], "steps": first["steps"],
                                 "mode": first["mode"]}  # fmt: skip
        for what, meas, pred in (("latency_step", "latency_s_per_step", "predicted_latency_s_per_step"),
                                 ("energy_image", "energy_j_per_image", "predicted_energy_j_per_image")):  # fmt: skip
            values = [r[meas] for r in runs if r.get(meas) is not None]
            if not values:
                continue
            mean = float(np.mean(values))
            merged[meas] = mean
            merged[pred] = float(np.mean([r[pred] for r in runs if r.get(meas) is not None]))
            merged[f"{what}_error_pct"] = _ape(merged[pred], mean)
            merged[f"{what}_spread_pct"] = float(np.mean([abs(v - mean) for v in values]) / mean * 100.0)
        out[point] = merged
    return out


# ---------------------------------------------------------------------------- file and CLI


def calibration_to_json(c: GpuCalibration) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "gpu": c.gpu,
            "precision": c.precision, "params": c.params.to_json(), "mape": dict(c.mape),
            "measured": {k: dict(v) for k, v in c.measured.items()},
            "points": {k: dict(v) for k, v in c.points.items()},
            "provenance": dict(c.provenance)}  # fmt: skip


def _first_nonfinite(x: Any, where: str = "") -> str | None:
    """The dotted path of the first NaN or infinity in ``x`` (sorted keys), or ``None``."""
    if isinstance(x, float):
        return None if math.isfinite(x) else where
    items = sorted(x.items()) if isinstance(x, dict) else enumerate(x) if isinstance(x, (list, tuple)) else ()
    for k, v in items:
        found = _first_nonfinite(v, f"{where}.{k}" if where else str(k))
        if found is not None:
            return found
    return None


def calibration_text(c: GpuCalibration) -> str:
    """The calibration file's text (strict JSON); a NaN or infinity is a :class:`CalibrationError`."""
    doc = calibration_to_json(c)
    bad = _first_nonfinite(doc)
    if bad is not None:
        raise CalibrationError(
            f"the fit degenerated: {bad} is not a finite number; the measurements cannot calibrate "
            "this model (too few of them, or all alike); add measurements of other models or batches"
        )
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"


def save_calibration(c: GpuCalibration, path: str | Path) -> Path:
    """Write the calibration file atomically (the old file stays whole on any failure)."""
    return write_text_atomic(path, calibration_text(c))
