"""Sparsity on the loop-nest engine's columns: zero gating beyond the MAC, block skipping,
compacted activations and temporal deltas (the one-level model's :mod:`simulator.cost.sparsity`
effects, applied to :func:`simulator.cost.nest_costs.evaluate_table`'s dense nests).

The probabilities are the one-level model's (:func:`simulator.cost.sparsity.sparse_state`, per
GEMM row and traced step: the skipped fraction of units, the gated fraction of executed MACs, the
compacted bytes, delta mode's own); each nest takes its GEMM row's (a convolution or GEMM has one
nest and one row, attention Q·Kᵀ and P·V two of each, in order). What they do to a nest's counts,
energy, bytes and cycles is :mod:`simulator.cost.nest_sparsity_nest`'s. As in the one-level model
(:mod:`simulator.cost.analytic`), delta mode runs for a nest and step only where the trace allows
it (``delta_ok``) and it costs less energy, leakage over its cycles included
(:func:`simulator.cost.mapping.score`), than the dense nest with its sparsity.

:func:`apply` takes the dense columns and the mapped nests of every op and returns the columns
with the design's sparsity (compute + stalls = cycles kept per op and step; the report's
``gating_saved_j``, ``skipped_cycles``, ``skipping_saved_j``, ``delta_step_fraction``,
``delta_extra_bytes`` and ``metadata_bytes`` filled); :func:`notes` says what of it the nest path
does not model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from simulator.cost.analytic import BOUND_SLACK, OpCosts
from simulator.cost.clock import clock_energy, idle_gating, weighted_coverage
from simulator.cost.hardware import Hardware
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest_columns import STALLS
from simulator.cost.nest_sparsity_batch import Nests, group, stored_as
from simulator.cost.nest_sparsity_columns import Reduced, reduce
from simulator.cost.nest_sparsity_nest import Cases, Effects, effects
from simulator.cost.overlap import total
from simulator.cost.sparsity import Sparse, sparse_state, unit_shape
from simulator.optable import OpTable


def notes(arch: ArchSpec, table: OpTable) -> list[str]:
    """What of the design's sparsity the nest path leaves out, one note each."""
    sp = arch.compute.sparsity
    head = "memory_model nest: "
    out: list[str] = []
    if sp.act_zero_gating or sp.weight_zero_gating or sp.block_skip is not None:
        out.append(
            head + "sparsity: the mapper ranks mappings on the dense nest, and zero gating and skipping are "
            "applied to the mapping it chose, so where most MACs are gated it can keep a mapping that the "
            "reported EDP ranks lower (docs/validation.md, Eyeriss CONV5)"
        )
    if sp.block_skip is not None:
        out.append(
            head + "block skipping: the shared buffers and DRAM still stage the skipped units' operands "
            "(the MACs, cycles and per-PE accesses are saved)"
        )
    if sp.compact_activations and sp.block_skip is not None:
        out.append(head + "compacted activations: the mapping is chosen on dense activation bytes")
    delta = arch.numerics.temporal_delta.enabled
    if delta or (delta is None and sp.temporal_delta):
        out.append(
            head + "temporal deltas: a packed delta precision runs the dense nest's MAC cycles over its packing "
            "(not remapped), and the output-stationary preload of the previous outputs takes no cycles"
        )
    return out


@dataclass(frozen=True)
class _Rows:
    """Per GEMM row and step ``[steps, n_gemm]``: the one-level model's probabilities and the
    gated fractions by cause (zero activations, zero weights), dense and in delta mode."""

    sp: Sparse
    gate_act: np.ndarray
    gate_wgt: np.ndarray
    d_gate_act: np.ndarray
    d_gate_wgt: np.ndarray
    d_meta_bits: float


def _rows(table: OpTable, hw: Hardware) -> _Rows:
    sp = sparse_state(table, hw)
    zero = np.zeros_like(sp.gate)
    ga, gw, dga, dgw = zero, zero, zero, zero
    if hw.act_gating and hw.weight_gating:
        a = sparse_state(table, replace(hw, weight_gating=False))
        # a zero weight's gating does not depend on the skipped units: no skip masks needed
        w = sparse_state(table, replace(hw, act_gating=False, block=None, compact_acts=False))
        ga, gw, dga, dgw = a.gate, w.gate, a.d_gate, w.d_gate
    elif hw.act_gating:
        ga, dga = sp.gate, sp.d_gate
    elif hw.weight_gating:
        gw, dgw = sp.gate, sp.d_gate
    um, uk = unit_shape(hw, hw.delta_mpc)  # delta mode's skip masks: one per delta unit
    return _Rows(sp, ga, gw, dga, dgw, hw.metadata_bits_per_block / float(um * uk))


@dataclass(frozen=True)
class _PerNest:
    """The rows' probabilities as each nest takes them, ``[steps, J]`` (the nests of every op in
    order); ``delta_ok``: where the nest may run in delta mode (one GEMM row, the trace allows it)."""

    dense: dict[str, np.ndarray]
    delta: dict[str, np.ndarray]
    delta_ok: np.ndarray


def _per_nest(table: OpTable, rows: _Rows, counts: list[tuple[int, int]]) -> _PerNest:
    """``counts``: (op, its nests) in order. A nest takes its own row where an op has as many rows
    as nests (or one row), else the rows' MAC-weighted mean and never delta mode."""
    sp = rows.sp
    order = np.argsort(table.g_op, kind="stable")
    starts = np.searchsorted(table.g_op[order], np.arange(table.n_ops + 1))
    row_macs = (table.g_batch * table.g_m * table.g_n * table.g_k).astype(np.float64)
    col: list[int] = []
    mean: dict[int, np.ndarray] = {}  # nest -> its op's rows, where it takes their mean
    for i, count in counts:
        g_rows = order[starts[i] : starts[i + 1]]
        if len(g_rows) == count:
            col.extend(g_rows.tolist())
        elif len(g_rows) == 1:
            col.extend([int(g_rows[0])] * count)
        else:
            for _ in range(count):
                mean[len(col)] = g_rows
                col.append(-1)
    cols = np.array(col, dtype=np.int64)

    def take(a: np.ndarray) -> np.ndarray:
        out = a[:, cols]
        for j, g_rows in mean.items():
            out[:, j] = np.average(a[:, g_rows], axis=1, weights=row_macs[g_rows])
        return out

    dense = {
        "skip": take(sp.skip),
        "gate": take(sp.gate),
        "gate_act": take(rows.gate_act),
        "gate_wgt": take(rows.gate_wgt),
        "a_scale": take(sp.a_scale),
    }
    delta_ok = sp.delta_ok[:, cols] & (cols >= 0)
    delta: dict[str, np.ndarray] = {}
    if delta_ok.any():
        delta = {
            "skip": take(sp.d_skip),
            "gate": take(sp.d_gate),
            "gate_act": take(rows.d_gate_act),
            "gate_wgt": take(rows.d_gate_wgt),
            "slow": take(sp.d_slow),
        }
    return _PerNest(dense, delta, delta_ok)


def _cases(p: dict[str, np.ndarray], nest: np.ndarray | None, meta_bits: float, delta: bool, hw: Hardware) -> Cases:
    """Cases with the probabilities ``p`` (each of one shape; ``nest``: as :class:`Cases`');
    ``delta``: delta mode (else dense)."""
    ones = np.ones(p["skip"].shape)
    return Cases(
        nest=nest,
        skip=p["skip"],
        gate=p["gate"],
        gate_act=p["gate_act"],
        gate_wgt=p["gate_wgt"],
        a_scale=p.get("a_scale", ones),
        slow=p.get("slow", 0.0 * ones),
        meta_bits=meta_bits,
        compact_meta=hw.compact_acts and not delta,
        delta=delta,
    )


def _reduce(n: Nests, hw: Hardware, e: Effects) -> Reduced:
    return reduce(
        n.names,
        n.fanout_level,
        hw,
        e.compute_cycles,
        e.transfer_cycles,
        e.traffic_bytes,
        e.exposed_cycles,
        e.energy_pj,
        e.mac_energy_pj,
    )


def _columns(red: Reduced, e: Effects | None, shape: tuple[int, ...]) -> tuple[list[str], np.ndarray]:
    """The cases' numbers: their names and ``[names, *shape]``, the reduced columns and (from
    ``e``) the reported ones, with ``"delta"`` (0) last."""
    out = {"compute": red.compute, "cycles": red.cycles, "memory": red.memory}
    out.update({f"stalls.{k}": v for k, v in red.stalls.items()})
    out.update({f"energy.{k}": v for k, v in red.energy_pj.items()})
    out.update({f"traffic.{k}": v for k, v in red.traffic.items()})
    if e is not None:
        out.update(
            gated=e.gated_pj,
            skipped_pj=e.skipped_pj,
            skipped_cycles=e.skipped_cycles,
            meta=e.meta_bytes,
            extra=e.delta_extra_bytes,
        )
    stack = np.empty((len(out) + 1, *shape))
    for i, v in enumerate(out.values()):
        stack[i] = v
    stack[-1] = 0.0
    return [*out, "delta"], stack


def _nest_columns(
    table: OpTable,
    hw: Hardware,
    rows: _Rows,
    results: list[NestResult],
    archs: list[NestArch],
    counts: list[tuple[int, int]],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(names, dense, new)``: every nest's columns by name, dense ``[names, J]`` and with the
    sparsity ``[names, J, steps]`` (delta mode where it pays; ``"delta"`` marks it)."""
    steps, count = table.steps, len(results)
    p = _per_nest(table, rows, counts)
    parts: list[tuple[np.ndarray, list[str], np.ndarray, list[str], np.ndarray]] = []
    for idx, n in group(results, archs):
        glob = np.array(idx, dtype=np.int64)
        shape = (len(idx), steps)
        static_names, static = _columns(
            reduce(
                n.names,
                n.fanout_level,
                hw,
                n.compute,
                n.transfer_cycles,
                n.traffic_bytes,
                n.exposed_cycles,
                n.energy_pj,
                n.mac_energy_pj,
            ),
            None,
            (len(idx),),
        )
        probs = {k: np.ascontiguousarray(v[:, glob].T) for k, v in p.dense.items()}
        e = effects(n, _cases(probs, None, rows.sp.meta_bits_per_elem, False, hw), hw)
        red = _reduce(n, hw, e)
        names, cols = _columns(red, e, shape)
        ok = p.delta_ok[:, glob].T.ravel()
        if ok.any():
            at = np.flatnonzero(ok)
            probs = {k: v[:, glob].T.ravel()[at] for k, v in p.delta.items()}
            d = effects(n, _cases(probs, at // steps, rows.d_meta_bits, True, hw), hw)
            d_red = _reduce(n, hw, d)
            better = d_red.energy_score(hw) < red.energy_score(hw).ravel()[at]
            d_names, d_cols = _columns(d_red, d, (len(at),))
            assert d_names == names
            d_cols[-1] = 1.0
            cols.reshape(len(names), -1)[:, at[better]] = d_cols[:, better]  # at: flat over the nests × steps
        parts.append((glob, static_names, static, names, cols))
    if len(parts) == 1:  # one level structure: the nests in order
        _, static_names, static, names, cols = parts[0]
        dense = np.zeros((len(names), count))
        dense[[names.index(k) for k in static_names]] = static
        return names, dense, cols
    names = list(dict.fromkeys(k for part in parts for k in part[3]))
    dense, new = np.zeros((len(names), count)), np.zeros((len(names), count, steps))
    for glob, static_names, static, part_names, cols in parts:
        for i, k in enumerate(part_names):
            new[names.index(k), glob] = cols[i]
        for i, k in enumerate(static_names):
            dense[names.index(k), glob] = static[i]
    return names, dense, new


def _sum_by_op(a: np.ndarray, counts: list[int]) -> np.ndarray:
    """``a`` (nests on axis 1, op by op, ``counts`` of each) summed per op, in order."""
    size = np.array(counts)
    first = np.cumsum(size) - size
    out = np.take(a, first, axis=1)
    for m in range(1, int(size.max())):  # the ops' second, third, ... nests
        more = np.flatnonzero(size > m)
        out[:, more] += np.take(a, first[more] + m, axis=1)
    return out


def apply(
    table: OpTable,
    hw: Hardware,
    costs: OpCosts,
    results: dict[int, list[NestResult]],
    narch: NestArch,
    archs: dict[int, list[NestArch]] | None = None,
) -> OpCosts:
    """``costs`` (:func:`simulator.cost.nest_columns.columns` of the dense nests, MAC zero gating
    applied) with the design's sparsity.

    ``results``: per GEMM-like op, its mapped nests; ``archs``: per op, the arch each nest was
    mapped on (DRAM coded or carrying a kept operand at factor 0, :mod:`simulator.cost.nest_homes`),
    ``narch`` for every nest when not given. Compaction and delta mode change the inputs' DRAM
    bytes, so without ``archs`` they are refused where a nest's DRAM is not ``narch``'s."""
    if not (hw.act_gating or hw.weight_gating or hw.block is not None or hw.delta_enabled) or not results:
        return costs
    if archs is None and (hw.compact_acts or hw.delta_enabled):
        for i, nests in results.items():
            if not all(stored_as(r, narch) for r in nests):
                raise SimulationError(
                    f"op {table.workload.ops[i].name!r}: its nests were mapped on a DRAM that codes or keeps an "
                    "operand; compaction and delta mode change the inputs' DRAM bytes and need those archs "
                    "(nest_sparsity.apply's archs)"
                )
    ops = sorted(results)
    flat_results = [r for i in ops for r in results[i]]
    flat_archs = [a for i in ops for a in (archs[i] if archs is not None else [narch] * len(results[i]))]
    counts = [(i, len(results[i])) for i in ops]
    names, dense, new = _nest_columns(table, hw, _rows(table, hw), flat_results, flat_archs, counts)
    # each op's nests summed (they are in order, op by op), in the ops' columns (0 elsewhere)
    steps, n = table.steps, table.n_ops
    d_all, x_all = np.zeros((len(names), n)), np.zeros((len(names), n, steps))
    d_all[:, ops] = _sum_by_op(dense, [c for _, c in counts])
    x_all[:, ops] = _sum_by_op(new, [c for _, c in counts])
    d = dict(zip(names, d_all, strict=True))
    x = {k: np.ascontiguousarray(v.T) for k, v in zip(names, x_all, strict=True)}  # [steps, ops]

    compute = costs.compute_cycles + (x["compute"] - d["compute"])
    cycles = costs.cycles + (x["cycles"] - d["cycles"])
    stalls = {
        k: v + (x[f"stalls.{k}"] - d[f"stalls.{k}"]) if k in STALLS else v.copy() for k, v in costs.stalls.items()
    }
    energy = {k: v.copy() for k, v in costs.energy_pj.items()}
    traffic = {k: v.copy() for k, v in costs.traffic_bytes.items()}
    energy["compute"] = energy["compute"] + costs.gating_saved_pj  # the columns' MAC gating, redone here
    for key, v in x.items():
        kind, _, name = key.partition(".")
        if kind == "energy":
            energy[name] += v - d[key]
        elif kind == "traffic":
            traffic[name] += v - d[key]
    gemm_mask = np.zeros(n, dtype=bool)
    gemm_mask[ops] = True
    # the vector part's memory time is the column's where it exceeded the nests' (a GEMM-like op's
    # own vector work: attention's softmax), else at most the nests'
    mem = costs.memory_cycles
    memory = np.where(gemm_mask & (mem <= d["memory"]), x["memory"], np.maximum(mem, x["memory"]))
    memory = np.where(gemm_mask, memory, mem)
    delta = x["delta"] > 0
    latency_s = cycles / hw.clock_hz
    energy["leakage"] = latency_s * hw.leakage_mw * 1e-3 * 1e12  # W·s -> pJ
    coverage = None
    if idle_gating(hw):  # the PEs each op's nests cover, weighted by their dense compute cycles
        op = np.array([i for i, c in counts for _ in range(c)], dtype=np.int64)
        busy = np.array([r.compute_cycles for r in flat_results], dtype=np.float64)
        pes = np.array([r.mapping.pes() for r in flat_results])
        coverage = weighted_coverage(busy, pes, op, n, hw.rows * hw.cols)
    energy.update(clock_energy(hw, cycles, coverage))  # the clock network over the new cycles; {} when off
    macs = table.macs.astype(np.float64)
    util = np.where(cycles > 0, macs / np.maximum(cycles * hw.rows * hw.cols * hw.mpc, 1), 0.0)
    bound0 = np.where(
        cycles[0] <= 0,
        "none",
        np.where(total(stalls)[0] > BOUND_SLACK * compute[0], "memory", np.where(gemm_mask, "compute", "vector")),
    )
    return replace(
        costs,
        compute_cycles=compute,
        memory_cycles=memory,
        cycles=cycles,
        latency_s=latency_s,
        energy_pj=energy,
        gating_saved_pj=x["gated"],
        skipped_cycles=x["skipped_cycles"],
        skipped_pj=x["skipped_pj"],
        delta_used=delta,
        delta_extra_bytes=x["extra"],
        meta_bytes=x["meta"],
        utilization=util,
        stalls=stalls,
        traffic_bytes=traffic,
        bound=bound0,
    )
