"""``evaluate(workload, arch) -> DesignResult``: the simulator's one entry point.

Pure and deterministic: the same (workload, arch, options) give the same result, bit for bit.
Sweeps call :func:`evaluate_prepared` with a table from :func:`simulator.optable.prepare` so
the workload is converted once.

Options: ``fidelity`` ``"analytic"`` (closed forms, for sweeps) or ``"event"`` (simpy, one
event per buffer tile: overlap across ops, DMA contention, a per-op timeline);
``objective`` of the mapper (default: the spec's ``mapping_objective``); ``decoder``, a
workload run once per image after the sampling steps (e.g. the VAE decoder), whose cost is
added to the per-image totals and reported apart in ``extras["decoder"]``; ``batch``, images
evaluated at once (:func:`simulator.optable.with_batch`: weights shared, activations scaled; the
mapper sees the batched shapes), whose result is per image
(:func:`simulator.result.per_image`: energies / B, latency of the batch).

A design with ``mapping.memory_model: nest`` has its GEMM-like ops costed by the loop-nest engine
(:mod:`simulator.nest_evaluation`; the event fidelity replays its nests' tiles); ``mapper`` shares one seeded
:class:`~simulator.cost.nest.search.Mapper` (with the design's seed and samples) across calls, so a
sweep maps each shape once. It keeps activations between ops, weights across steps and fused
attention's scores on chip as the one-level model does (:mod:`simulator.cost.nest_homes`). What
that path does not model yet is in the result's ``notes``. Its
DRAM codes feature maps where the spec asks (``memory.dram.compression``, at each op's zero
fractions); the one-level model moves plain bytes and refuses a design that asks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from models.workload import Workload
from simulator.cost import analytic, residency
from simulator.cost.analytic import OpCosts
from simulator.cost.array import LOOP_ORDERS, spatial_utilization
from simulator.cost.nest.search import Mapper
from simulator.cost.overlap import total
from simulator.cost.residency import Residency
from simulator.nest_evaluation import nest_costs
from simulator.optable import OpTable, prepare
from simulator.result import DesignResult, OpResult, per_image

FIDELITIES = ("analytic", "event")
_DATAFLOWS = ("output_stationary", "weight_stationary", "input_stationary")


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
    workload: Workload,
    arch: ArchSpec,
    *,
    steps: int | None = None,
    fidelity: str = "analytic",
    objective: str | None = None,
    decoder: Workload | None = None,
    mapper: Mapper | None = None,
    batch: int = 1,
) -> DesignResult:
    """Evaluate ``workload`` on ``arch``; ``steps`` overrides the sampling steps per image;
    ``batch`` images run at once (the result is per image, its latency the batch's)."""
    dec = prepare(decoder, batch=batch) if decoder is not None else None
    return evaluate_prepared(
        prepare(workload, batch=batch),
        arch,
        steps=steps,
        fidelity=fidelity,
        objective=objective,
        decoder=dec,
        mapper=mapper,
    )


def _costs(
    table: OpTable, arch: ArchSpec, fidelity: str, objective: str | None, counts: np.ndarray, resident_ok: bool
) -> tuple[OpCosts, Residency | None]:
    """Analytic (then event) costs, with weights resident across steps where the design asks
    for it and it pays (:mod:`simulator.cost.residency`)."""
    costs = analytic.evaluate_table(table, arch, objective)
    res = None
    if resident_ok and arch.memory.weight_residency == "across_steps":
        res = residency.plan(table, arch, costs.hw)
        if res.resident:
            try:
                kept = analytic.evaluate_table(table, arch, objective, residency=res)
            except SimulationError as exc:
                res = residency.refuse(res, f"the remaining capacity maps no tile ({exc})")
            else:
                refused = residency.dram_refusal(res, counts, costs, kept)
                res, costs = (refused, costs) if refused is not None else (res, kept)
    if fidelity == "event":
        from simulator.cost.event import simulate  # lazy: simpy, only for the event fidelity

        costs = simulate(table, costs)
    return costs, res


def _mapping_info(table: OpTable, costs: OpCosts) -> dict[int, dict[str, Any]]:
    """Per-op mapping description for the report (GEMM ops only)."""
    hw, mp = costs.hw, costs.mapping
    info: dict[int, dict[str, Any]] = {}
    util = spatial_utilization(hw.dataflow, hw.rows, hw.cols, hw.mpc, table.g_m, table.g_n, table.g_k).tolist()
    cols = [
        x.astype(np.int64).tolist()
        for x in (table.g_batch, table.g_m, table.g_n, table.g_k, mp.mt, mp.nt, mp.kt, mp.order)
    ]
    for r, (i, b, m, n, k, mt, nt, kt, o) in enumerate(zip(table.g_op.tolist(), *cols, strict=True)):
        gemm = {
            "batch": b,
            "mnk": [m, n, k],
            "tile_mnk": [mt, nt, kt],
            "loop_order": LOOP_ORDERS[o],
            "spatial_utilization": util[r],
        }
        if i not in info:
            info[i] = {
                "dataflow": _DATAFLOWS[hw.dataflow],
                "precision": hw.precision,
                "objective": mp.objective,
                "glb_tile_mnk": gemm["tile_mnk"],
                "loop_order": gemm["loop_order"],
                "gemms": [],
            }
        info[i]["gemms"].append(gemm)
    for i, d in info.items():
        if table.kind[i] == "attention":
            d["fused_attention"] = bool(hw.fused_attention)
    return info


def evaluate_prepared(
    table: OpTable,
    arch: ArchSpec,
    *,
    steps: int | None = None,
    fidelity: str = "analytic",
    objective: str | None = None,
    decoder: OpTable | None = None,
    weight_residency: bool = True,
    mapper: Mapper | None = None,
) -> DesignResult:
    """``weight_residency=False`` ignores the design's ``memory.weight_residency`` (decoders:
    run once per image, nothing to keep across steps). A table prepared at ``batch`` B gives
    per-image energies and the batch's latency (:func:`simulator.result.per_image`); its
    weights resident across steps are filled once per batch."""
    if decoder is not None and decoder.batch != table.batch:
        raise SimulationError(f"the decoder is prepared at batch {decoder.batch}, the workload at {table.batch}")
    batch_result = _evaluate_batch(
        table,
        arch,
        steps=steps,
        fidelity=fidelity,
        objective=objective,
        decoder=decoder,
        weight_residency=weight_residency,
        mapper=mapper,
    )
    return per_image(batch_result, table.batch)


def _evaluate_batch(
    table: OpTable,
    arch: ArchSpec,
    *,
    steps: int | None,
    fidelity: str,
    objective: str | None,
    decoder: OpTable | None,
    weight_residency: bool,
    mapper: Mapper | None,
) -> DesignResult:
    """:func:`evaluate_prepared` for the whole batch the table holds (per batch, not per image)."""
    if fidelity not in FIDELITIES:
        raise SimulationError(f"unknown fidelity {fidelity!r}; allowed: {', '.join(FIDELITIES)}")
    image_steps = steps if steps is not None else table.steps
    step_of = image_step_map(table.steps, image_steps)
    counts = np.bincount(step_of, minlength=table.steps).astype(np.float64)  # per traced step
    weight = counts / image_steps  # mean over the image's steps
    nest = None
    if arch.mapping.memory_model == "nest":
        nest, res = nest_costs(table, arch, fidelity, objective, mapper, counts, weight_residency)
        costs = nest.costs
    else:
        costs, res = _costs(table, arch, fidelity, objective, counts, weight_residency)
    hw = costs.hw

    lat_step = costs.latency_s.sum(axis=1)  # [traced steps]
    energy_step = {k: v.sum(axis=1) * 1e-12 for k, v in costs.energy_pj.items()}  # J
    total_step = total(energy_step)
    breakdown = {k: float(np.dot(counts, v)) for k, v in sorted(energy_step.items())}

    def mean_op(a: np.ndarray) -> np.ndarray:
        return weight @ a

    def per_image(a: np.ndarray) -> float:
        return float(counts @ a.sum(axis=1))

    op_lat, op_cycles = mean_op(costs.latency_s), mean_op(costs.cycles)
    op_comp, op_mem = mean_op(costs.compute_cycles), mean_op(costs.memory_cycles)
    op_energy = {k: mean_op(v) * 1e-12 for k, v in costs.energy_pj.items()}
    op_total = total(op_energy)
    op_gate, op_skip = mean_op(costs.gating_saved_pj) * 1e-12, mean_op(costs.skipped_cycles)
    op_skip_j = mean_op(costs.skipped_pj) * 1e-12
    op_util = mean_op(costs.utilization)
    op_traffic = {k: mean_op(v) for k, v in sorted(costs.traffic_bytes.items())}
    op_stall = {k: mean_op(v) for k, v in sorted(costs.stalls.items())}
    op_delta = mean_op(costs.delta_used.astype(float))
    op_dx, op_meta = mean_op(costs.delta_extra_bytes), mean_op(costs.meta_bytes)
    timeline = costs.timeline or None
    mapping = nest.mapping if nest is not None else _mapping_info(table, costs)

    def rows_of(named: dict[str, np.ndarray]) -> list[dict[str, float]]:
        keys = sorted(named)
        if not keys:
            return [{} for _ in range(table.n_ops)]
        return [dict(zip(keys, r, strict=True)) for r in np.stack([named[k] for k in keys], axis=1).tolist()]

    energy_rows = rows_of(op_energy)
    traffic_rows = rows_of(op_traffic)
    stall_rows = rows_of(op_stall)
    sparsity_rows = rows_of(
        {
            "gating_saved_j": op_gate,
            "skipping_saved_j": op_skip_j,
            "skipped_cycles": op_skip,
            "delta_step_fraction": op_delta,
            "delta_extra_bytes": op_dx,
            "metadata_bytes": op_meta,
        }
    )
    cycles_l, lat_l, energy_l, comp_l, mem_l, util_l, gate_l, skip_l = (
        x.tolist() for x in (op_cycles, op_lat, op_total, op_comp, op_mem, op_util, op_gate, op_skip)
    )
    res_in, res_out = costs.mapping.res_in.tolist(), costs.mapping.res_out.tolist()
    chain, bound = table.chain_in.tolist(), costs.bound.tolist()
    per_op = []
    for i, op in enumerate(table.workload.ops):
        m = dict(mapping.get(i, {}))
        if m or chain[i]:
            m["input_resident"] = res_in[i]
            m["output_kept"] = res_out[i]
        per_op.append(
            OpResult(
                index=i,
                name=op.name,
                kind=op.kind,
                module=op.module,
                macs=op.macs,
                cycles=cycles_l[i],
                latency_s=lat_l[i],
                energy_j=energy_l[i],
                compute_cycles=comp_l[i],
                memory_cycles=mem_l[i],
                utilization=util_l[i],
                energy_breakdown_j=energy_rows[i],
                gating_saved_j=gate_l[i],
                skipped_cycles=skip_l[i],
                bound=bound[i],
                mapping=m,
                traffic_bytes=traffic_rows[i],
                stall_cycles=stall_rows[i],
                sparsity=sparsity_rows[i],
                timeline=timeline[i] if timeline is not None else {},
            )
        )
    per_step = tuple(
        {
            "step": int(s),
            "traced_step": int(step_of[s]),
            "latency_s": float(lat_step[step_of[s]]),
            "energy_j": float(total_step[step_of[s]]),
        }
        for s in range(image_steps)
    )
    lat_image = float(np.dot(counts, lat_step))
    e_image = float(np.dot(counts, total_step))
    skipped = per_image(costs.skipped_cycles)
    extras: dict[str, Any] = {
        "fidelity": fidelity,
        "objective": costs.mapping.objective,
        "clock_ghz": arch.clock_ghz,
        "pes": hw.rows * hw.cols,
        "precision": hw.precision,
        "sparsity": {
            "gating_saved_j_per_image": per_image(costs.gating_saved_pj) * 1e-12,
            "skipping_saved_j_per_image": per_image(costs.skipped_pj) * 1e-12,
            "skipped_cycles_per_image": skipped,
            "skipped_s_per_image": skipped / hw.clock_hz,
            "delta_extra_bytes_per_image": per_image(costs.delta_extra_bytes),
            "metadata_bytes_per_image": per_image(costs.meta_bytes),
        },
        # flat copies of three "sparsity" entries: results.json keeps them (result.py, extras)
        "sparsity_gating_saved_j_per_image": per_image(costs.gating_saved_pj) * 1e-12,
        "sparsity_skipped_cycles_per_image": skipped,
        "sparsity_skipped_s_per_image": skipped / hw.clock_hz,
        "stall_cycles_per_image": {k: per_image(v) for k, v in sorted(costs.stalls.items())},
        "traffic_bytes_per_image": {k: per_image(v) for k, v in sorted(costs.traffic_bytes.items())},
        "mean_utilization": float(np.average(op_util, weights=np.maximum(op_cycles, 1e-30)))
        if op_cycles.sum() > 0
        else 0.0,
    }
    notes: tuple[str, ...] = nest.notes if nest is not None else ()
    if nest is None and fidelity == "event":  # the nest path adds its own (simulator.nest_evaluation)
        from simulator.cost.event import prefetch_note  # lazy: simpy, only for the event fidelity

        note = prefetch_note(hw)
        notes = notes if note is None else (*notes, note)
    if nest is not None:
        extras["memory_model"] = "nest"
    fill_s_per_step = fill_j_per_step = 0.0  # the weight fill, spread over the image's steps
    if res is not None:
        notes = (*notes, res.note)
        extras["weight_residency"] = _residency_extras(res)
        if res.resident:
            fill = residency.fill_cost(hw, res)
            fill_s, fill_j = fill.cycles / hw.clock_hz, sum(fill.energy_pj.values()) * 1e-12
            extras["weight_residency"].update(fill_latency_s=fill_s, fill_energy_j=fill_j)
            for k, v in fill.energy_pj.items():
                breakdown[k] = breakdown.get(k, 0.0) + v * 1e-12
            traffic = extras["traffic_bytes_per_image"]
            traffic["dram"] = traffic.get("dram", 0.0) + fill.dram_bytes
            traffic[res.level] = traffic.get(res.level, 0.0) + fill.level_bytes
            lat_image += fill_s
            e_image += fill_j
            fill_s_per_step, fill_j_per_step = fill_s / image_steps, fill_j / image_steps
    if decoder is not None:
        dec = _evaluate_batch(
            decoder,
            arch,
            steps=1,
            fidelity=fidelity,
            objective=objective,
            decoder=None,
            weight_residency=False,
            mapper=mapper,
        )
        extras["decoder"] = {
            "latency_s": dec.latency_s_per_image,
            "energy_j": dec.energy_j_per_image,
            "energy_breakdown_j": dict(dec.energy_breakdown_j),
        }
        lat_image += dec.latency_s_per_image
        e_image += dec.energy_j_per_image
        for k, v in dec.energy_breakdown_j.items():
            breakdown[k] = breakdown.get(k, 0.0) + v
    return DesignResult(
        name=arch.name,
        kind="accelerator",
        latency_s_per_step=float(np.dot(counts, lat_step)) / image_steps + fill_s_per_step,
        latency_s_per_image=lat_image,
        energy_j_per_step=float(np.dot(counts, total_step)) / image_steps + fill_j_per_step,
        energy_j_per_image=e_image,
        energy_breakdown_j=dict(sorted(breakdown.items())),
        area_mm2=costs.area_mm2,
        per_op=tuple(per_op),
        per_step=per_step,
        label="modelled",
        notes=notes,
        extras=extras,
    )


def _residency_extras(res: Residency) -> dict[str, Any]:
    """``extras["weight_residency"]``: only designs with ``across_steps`` carry it."""
    return {
        "mode": "across_steps",
        "resident": res.resident,
        "level": res.level,
        "resident_bytes": res.resident_bytes,
        "level_bytes": res.level_bytes,
        "fill": "once per image",
        "note": res.note,
    }
