"""``evaluate(workload, arch) -> DesignResult``: the simulator's one entry point.

Pure and deterministic: the same (workload, arch, options) give the same result, bit for bit.
Sweeps call :func:`evaluate_prepared` with a table from :func:`simulator.optable.prepare` so
the workload is converted once.
"""

from __future__ import annotations

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from models.workload import Workload
from simulator import analytic
from simulator.optable import OpTable, prepare
from simulator.result import DesignResult, OpResult

FIDELITIES = ("analytic",)


def image_step_map(traced_steps: int, image_steps: int) -> np.ndarray:
    """Which traced step stands for each of ``image_steps`` sampling steps.

    A trace of T steps covers the sampling trajectory; image step s maps to traced step
    round(s·(T−1)/(S−1)), so the first and last steps keep their own statistics.
    """
    if image_steps < 1:
        raise SimulationError(f"steps per image must be a positive integer, got {image_steps}")
    if image_steps == 1 or traced_steps == 1:
        return np.zeros(image_steps, dtype=np.int64)
    s = np.arange(image_steps, dtype=np.float64)
    return np.rint(s * (traced_steps - 1) / (image_steps - 1)).astype(np.int64)


def evaluate(
    workload: Workload, arch: ArchSpec, *, steps: int | None = None, fidelity: str = "analytic"
) -> DesignResult:
    """Evaluate ``workload`` on ``arch``; ``steps`` overrides the sampling steps per image."""
    return evaluate_prepared(prepare(workload), arch, steps=steps, fidelity=fidelity)


def evaluate_prepared(
    table: OpTable, arch: ArchSpec, *, steps: int | None = None, fidelity: str = "analytic"
) -> DesignResult:
    if fidelity not in FIDELITIES:
        raise SimulationError(f"unknown fidelity {fidelity!r}; allowed: {', '.join(FIDELITIES)}")
    costs = analytic.evaluate_table(table, arch)
    image_steps = steps if steps is not None else table.steps
    step_of = image_step_map(table.steps, image_steps)
    counts = np.bincount(step_of, minlength=table.steps).astype(np.float64)  # weight per traced step
    weight = counts / image_steps  # mean over the image's steps

    clock_hz = arch.clock_ghz * 1e9
    lat_step = costs.latency_s.sum(axis=1)  # [traced steps]
    energy_step = {k: v.sum(axis=1) * 1e-12 for k, v in costs.energy_pj.items()}  # J
    total_step = sum(energy_step.values())
    per_image_breakdown = {k: float(np.dot(counts, v)) for k, v in sorted(energy_step.items())}

    def mean_op(a: np.ndarray) -> np.ndarray:
        return weight @ a

    op_lat = mean_op(costs.latency_s)
    op_cycles = mean_op(costs.cycles)
    op_comp = mean_op(costs.compute_cycles)
    op_mem = mean_op(costs.memory_cycles)
    op_energy = {k: mean_op(v) * 1e-12 for k, v in costs.energy_pj.items()}
    op_total = sum(op_energy.values())
    op_gate = mean_op(costs.gating_saved_pj) * 1e-12
    op_skip = mean_op(costs.skipped_cycles)
    op_util = mean_op(costs.utilization)
    op_traffic = {k: mean_op(v) for k, v in costs.traffic_bytes.items()}
    m = costs.mapping
    gemm_first: dict[int, int] = {}
    for row, op_i in enumerate(table.g_op.tolist()):
        gemm_first.setdefault(op_i, row)
    orders = ("k_tiled", "act_resident", "weight_resident")
    per_op = []
    for i, op in enumerate(table.workload.ops):
        mapping = {}
        if i in gemm_first:
            r = gemm_first[i]
            mapping = {"dataflow": arch.compute.dataflow, "glb_tile_mnk": [int(m.mt[r]), int(m.nt[r]), int(m.kt[r])],
                       "loop_order": orders[int(m.order[r])]}
        per_op.append(
            OpResult(
                index=i, name=op.name, kind=op.kind, module=op.module, macs=op.macs,
                cycles=float(op_cycles[i]), latency_s=float(op_lat[i]), energy_j=float(op_total[i]),
                compute_cycles=float(op_comp[i]), memory_cycles=float(op_mem[i]),
                utilization=float(op_util[i]),
                energy_breakdown_j={k: float(v[i]) for k, v in sorted(op_energy.items())},
                gating_saved_j=float(op_gate[i]), skipped_cycles=float(op_skip[i]),
                bound=str(costs.bound[i]), mapping=mapping,
                traffic_bytes={k: float(v[i]) for k, v in sorted(op_traffic.items())},
            )
        )
    per_step = tuple(
        {"step": int(s), "traced_step": int(step_of[s]), "latency_s": float(lat_step[step_of[s]]),
         "energy_j": float(total_step[step_of[s]])}
        for s in range(image_steps)
    )
    lat_image = float(np.dot(counts, lat_step))
    e_image = float(np.dot(counts, total_step))
    gating_image = float(np.dot(counts, costs.gating_saved_pj.sum(axis=1))) * 1e-12
    skipped_image = float(np.dot(counts, costs.skipped_cycles.sum(axis=1)))
    return DesignResult(
        name=arch.name,
        kind="accelerator",
        latency_s_per_step=lat_image / image_steps,
        latency_s_per_image=lat_image,
        energy_j_per_step=e_image / image_steps,
        energy_j_per_image=e_image,
        energy_breakdown_j=per_image_breakdown,
        area_mm2=costs.area_mm2,
        per_op=tuple(per_op),
        per_step=per_step,
        label="modelled",
        extras={
            "fidelity": fidelity,
            "clock_ghz": arch.clock_ghz,
            "pes": arch.compute.rows * arch.compute.cols,
            "precision": arch.compute.precision,
            "sparsity_gating_saved_j_per_image": gating_image,
            "sparsity_skipped_cycles_per_image": skipped_image,
            "sparsity_skipped_s_per_image": skipped_image / clock_hz,
            "mean_utilization": float(np.average(op_util, weights=np.maximum(op_cycles, 1e-30)))
            if op_cycles.sum() > 0 else 0.0,
        },
    )
