"""Step 1 of the calibration (:mod:`simulator.gpu.calibrate`): the kernel parameters per op kind.

From every measured op's kernel time (``per_op`` of CUDA measurement files), each fit key's
(``kind:aten_op`` with enough ops, and every ``kind``) ``eff_max``/``flops_half`` (tensor
kinds), ``mem_eff`` and ``kernel_fixed_s``, minimising the squared log error (half weighted per
op, half by the op's share of measured time) over a coarse grid, then finer grids around the
best point: a plain numpy search (deterministic, no scipy).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from accelerator.gpu import GpuSpec
from simulator.gpu.model import TENSOR_KINDS, fit_key, is_mixed_fp8, op_cost, op_precision, weights_resident
from simulator.gpu.params import GpuModelParams
from simulator.gpu.samples import Sample

#: Share of the L2 assumed to hold activations between producer and consumer kernels: an
#: assumption (not fitted): eager PyTorch frees and reuses buffers, and half leaves room
#: for the weights streaming through.
L2_RESIDENT_FRACTION = 0.5

#: An ``kind:op`` with at least this many measured ops gets parameters of its own.
MIN_OPS_PER_KEY = 8


def _features(samples: Sequence[Sample], gpu: GpuSpec, precision: str) -> dict[str, dict[str, np.ndarray]]:
    """Per fit key: tensor FLOPs, HBM bytes, all bytes, measured time, weight and the tensor
    peak (FLOP/s at the op's own precision) of every op."""
    probe = GpuModelParams(l2_resident_fraction=L2_RESIDENT_FRACTION)
    rows: dict[str, list[tuple[float, float, float, float, float, float]]] = {}
    for s in samples:
        total = float(s.op_times_s.sum()) or 1.0
        n = max(1, int((s.op_times_s > 0).sum()))
        resident = weights_resident(s.workload, gpu, probe, precision)
        mixed = is_mixed_fp8(s.workload)
        for op, t in zip(s.workload.ops, s.op_times_s, strict=True):
            if t <= 0:  # no kernel (a host-side op): nothing to fit
                continue
            c = op_cost(op, gpu, probe, precision, resident, mixed)
            w = 0.5 / n + 0.5 * t / total
            peak = gpu.peak_flops_per_s(op_precision(op, precision, mixed))
            row = (c.tensor_flops, c.hbm_bytes, c.l2_bytes, float(t), w, peak)
            rows.setdefault(fit_key(op), []).append(row)
            rows.setdefault(op.kind, []).append(row)
    keep = {k: v for k, v in rows.items() if ":" not in k or len(v) >= MIN_OPS_PER_KEY}
    names = ("flops", "hbm", "all", "t", "w", "peak")
    return {k: dict(zip(names, np.array(v).T, strict=True)) for k, v in keep.items()}


def _predict_kind(f: dict[str, np.ndarray], gpu: GpuSpec, precision: str, grid: np.ndarray) -> np.ndarray:
    """Kernel times [grid point, op] for grid rows (eff_max, flops_half, mem_eff, fixed_s)."""
    eff, half, mem, fixed = (grid[:, i : i + 1] for i in range(4))
    flops = f["flops"][None, :]
    tc = np.where(flops > 0, (flops + half) / (f["peak"][None, :] * eff), 0.0)
    tm = np.maximum(f["hbm"][None, :] / (gpu.hbm_bytes_per_s * mem), f["all"][None, :] / gpu.l2_bytes_per_s)
    return np.maximum(tc, tm) + fixed


def _search(f: dict[str, np.ndarray], gpu: GpuSpec, precision: str, axes: Sequence[np.ndarray]) -> np.ndarray:
    grid = np.array(list(itertools.product(*axes)))
    log_t = np.log(f["t"])
    best, best_err = grid[0], math.inf
    for chunk in np.array_split(grid, max(1, len(grid) * len(log_t) // 2_000_000)):
        err = ((np.log(_predict_kind(f, gpu, precision, chunk)) - log_t) ** 2 * f["w"]).sum(axis=1)
        i = int(np.argmin(err))
        if err[i] < best_err:
            best, best_err = chunk[i], float(err[i])
    return best


def _grid_fit(f_: dict[str, np.ndarray], gpu: GpuSpec, precision: str, tensor: bool) -> tuple[float, ...]:
    """Best (eff_max, flops_half, mem_eff, fixed_s) of one key: a coarse grid, then a fine one."""
    one, zero = np.array([1.0]), np.array([0.0])
    coarse = (
        np.linspace(0.1, 1.0, 10) if tensor else one,
        np.concatenate([[0.0], np.logspace(6, 12, 13)]) if tensor else zero,
        np.geomspace(0.02, 1.0, 12),
        np.concatenate([[0.0], np.logspace(-6.5, -3, 15)]),
    )
    e, h, m, c = _search(f_, gpu, precision, coarse)

    def near(x: float, lo: float, hi: float, f: float) -> np.ndarray:
        return np.unique(np.clip(np.geomspace(max(x, lo) / f, max(x, lo) * f, 7), lo, hi))

    for f in (1.5, 1.12):  # two finer grids around the best point so far
        e, h, m, c = _search(f_, gpu, precision, (
            near(e, 0.01, 1.0, f) if tensor else one,
            near(h, 1e5, 1e13, f) if tensor and h else zero,
            near(m, 0.005, 1.0, f),
            near(c, 1e-7, 2e-3, f) if c else zero,
        ))  # fmt: skip
    return (float(e), float(h), float(m), float(c))


def fit_kernels(samples: Sequence[Sample], gpu: GpuSpec, precision: str) -> GpuModelParams:
    """Per-key kernel parameters (step 1 of the module docstring)."""
    eff, half, mem, fixed = {}, {}, {}, {}
    for key, f in sorted(_features(samples, gpu, precision).items()):
        tensor = key.partition(":")[0] in TENSOR_KINDS and bool((f["flops"] > 0).any())
        e, h, m, c = _grid_fit(f, gpu, precision, tensor)
        if tensor:
            eff[key], half[key] = e, h
        mem[key], fixed[key] = m, c
    return GpuModelParams(
        eff_max=eff, flops_half=half, mem_eff=mem, kernel_fixed_s=fixed, l2_resident_fraction=L2_RESIDENT_FRACTION
    )
