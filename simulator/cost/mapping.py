"""Mapping: buffer tiles and loop order per GEMM, and which activations stay on chip.

For every distinct GEMM shape the mapper scores a grid of candidate tiles in one vectorised
pass: ``Mt``, ``Nt``, ``Kt`` take the values ``base·2^i`` (clipped) and the whole extent, where
``base`` is the array extent that dimension maps to (rows or columns, times the packing for
the reduction) or 32 for the streamed dimension, so fold counts add up exactly; three loop
orders (the innermost of M, N, K); and six residency cases (activation input left on chip by
the previous op or not; output kept for the next op or not, and when kept, its DRAM write
dropped or still paid because another op reads it too: ``OpTable.out_shared``). A candidate
is legal when every level it uses holds its tiles (twice when double-buffered) and resident
tensors. Its score is the design's objective computed by the same cost functions the model reports
(:func:`simulator.cost.gemm.gemm_cost`, dense):

- ``latency``: the op's cycles; ``energy``: its energy incl. leakage over those cycles;
- ``edp``: energy × cycles of the op (a per-op surrogate of the workload's EDP).

Ties go to the first candidate (smallest tiles, K innermost), so the choice is deterministic.

Inter-op reuse: op ``i + 1`` may read op ``i``'s output from the buffer when the table marks
it as chained (:func:`simulator.optable.chain_edges`) and both ops still fit with the tensor
resident; op ``i`` then skips its DRAM write unless another op reads the tensor too. A dynamic
programme over the op sequence picks the keep/spill decision of every edge that minimises the
summed objective (a kept shared tensor's write included), so a resident tensor is kept only
where it pays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost.array import IS, K_INNER, M_INNER, N_INNER, OS, WS, spatial_coverage
from simulator.cost.clock import clock_energy, clock_pj, idle_gating
from simulator.cost.gemm import Dims, fits, gemm_cost
from simulator.cost.hardware import Hardware
from simulator.cost.overlap import overlap_cycles, total
from simulator.cost.vector import VectorWork, streaming_cycles, vector_cost
from simulator.optable import ROLE_PV, OpTable

OBJECTIVES = ("edp", "energy", "latency")
#: Candidate values per tile dimension (base·2^0 .. base·2^(N−2), then the extent).
N_CANDIDATES = 7
#: Base tile of a streamed (temporal) dimension, elements.
TEMPORAL_BASE = 32
#: Candidates scored per vectorised pass (sized for the CPU caches; see ``_search``).
CHUNK = 4096
#: Residency cases of an op (input resident, output kept): the keep/spill programme's states.
RES_IN = np.array([False, True, False, True])
RES_OUT = np.array([False, False, True, True])
#: Residency cases of a GEMM shape's search: the four above, then output kept but still
#: written to DRAM (``out_shared``) with the input spilled or resident.
CASE_IN = np.array([False, True, False, True, False, True])
CASE_OUT = np.array([False, False, True, True, True, True])
CASE_SHARED = np.array([False, False, False, False, True, True])
N_CASES = len(CASE_IN)


@dataclass(frozen=True)
class Mapping:
    """Chosen tiles per GEMM row and residency per op."""

    mt: np.ndarray  # [n_gemm]
    nt: np.ndarray
    kt: np.ndarray
    order: np.ndarray
    res_in: np.ndarray  # [n_ops] bool: input read from the buffer (left by the previous op)
    res_out: np.ndarray  # [n_ops] bool: output kept in the buffer for the next op
    objective: str


def dims_of(table: OpTable, hw: Hardware) -> Dims:
    """The :class:`Dims` of every GEMM row of ``table`` (1-D)."""
    f = np.float64
    fused = np.zeros(table.n_gemm, dtype=bool)
    n2 = np.zeros(table.n_gemm)
    if hw.fused_attention:
        qk = np.flatnonzero(table.g_role == 1)
        fused[qk] = True
        n2[qk] = table.g_n[qk + 1]  # the P·V row follows its QKᵀ row
    return Dims(
        batch=table.g_batch.astype(f),
        m=table.g_m.astype(f),
        n=table.g_n.astype(f),
        k=table.g_k.astype(f),
        a_unique=table.g_a_unique,
        geo=replace(table.g_geo.map(lambda x: x.astype(f)), conv=table.g_geo.conv),
        fused=fused,
        n2=n2,
    )


def skipped_rows(table: OpTable, hw: Hardware) -> np.ndarray:
    """P·V rows folded into their fused attention row (costed there)."""
    return (table.g_role == ROLE_PV) & hw.fused_attention


def _candidates(extent: np.ndarray, base: int) -> np.ndarray:
    sizes = base * (2.0 ** np.arange(N_CANDIDATES - 1))
    return np.concatenate([np.minimum(extent[:, None], sizes[None, :]), extent[:, None]], axis=1)


def _bases(hw: Hardware) -> tuple[int, int, int]:
    """Base tile of M, N, K for the dataflow (see the module docstring)."""
    R, C, p = hw.rows, hw.cols, hw.mpc
    if hw.dataflow == OS:
        return R, C, 16 * p
    if hw.dataflow == WS:
        return TEMPORAL_BASE, C, R * p
    assert hw.dataflow == IS
    return C, TEMPORAL_BASE, R * p


def score(
    hw: Hardware,
    objective: str,
    cycles: np.ndarray,
    energy_pj: np.ndarray,
    coverage: np.ndarray | float | None = None,
) -> np.ndarray:
    """The objective of (cycles, energy without leakage and clock): the energy objective's energy
    is the op's whole energy, leakage and the clock network (when the design charges one) included.
    ``coverage``: the fraction of the PEs the candidates cover, whose clock alone a design with
    ``idle_pe_gating`` pays (:func:`simulator.cost.clock.clock_energy`, as the result reports; the
    one-level mapper passes it); None: every PE clocked (an upper bound under idle-PE gating)."""
    total = energy_pj + hw.leakage_mw * 1e-3 * cycles / hw.clock_hz * 1e12
    if coverage is not None and idle_gating(hw):
        cov = np.broadcast_to(np.asarray(coverage, np.float64), np.shape(cycles))
        total = total + clock_energy(hw, cycles, cov)["clock"]
    elif hw.clock_pj_per_cycle is not None:  # every PE clocked
        total = total + clock_pj(hw, cycles)
    if objective == "latency":
        return cycles
    if objective == "energy":
        return total
    return total * cycles


def _flat_candidates(d: Dims, hw: Hardware, cases: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct, legal candidates, flat and grouped by (shape, residency case).

    Returns ``(seg, mt, nt, kt, order, case)``: 1-D arrays, ``seg`` = shape·N_CASES + case,
    ascending; within a segment candidates run from small tiles to large, K innermost first.
    ``cases`` [u, N_CASES] says which residency cases a shape needs.
    """
    bm, bn, bk = _bases(hw)
    cm, cn, ck = (_candidates(x, b) for x, b in ((d.m, bm), (d.n, bn), (d.k, bk)))

    def distinct(c: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones((c.shape[0], 1), dtype=bool), c[:, 1:] != c[:, :-1]], axis=1)

    ok = (
        distinct(cm)[:, :, None, None, None]
        & distinct(cn)[:, None, :, None, None]
        & distinct(ck)[:, None, None, :, None]
    )
    # Orders that cannot win (weakly dominated): with one K tile, K innermost only loses A
    # reuse; with one M (N) tile, M (N) innermost only adds partial-sum spills.
    one_m = (cm == d.m[:, None])[:, :, None, None, None]
    one_n = (cn == d.n[:, None])[:, None, :, None, None]
    one_k = (ck == d.k[:, None])[:, None, None, :, None]
    order = np.arange(3)[None, None, None, None, :]
    ok = (
        ok
        & ~((order == K_INNER) & one_k)
        & ~((order == M_INNER) & one_m & ~one_k)
        & ~((order == N_INNER) & one_n & ~one_k)
    )
    ok = ok[:, None] & cases[:, :, None, None, None, None]  # [u, N_CASES, nc, nc, nc, 3]
    legal = fits(
        hw,
        d.expand(5),
        cm[:, None, :, None, None, None],
        cn[:, None, None, :, None, None],
        ck[:, None, None, None, :, None],
        CASE_IN[None, :, None, None, None, None],
        CASE_OUT[None, :, None, None, None, None],
    )
    u, case, im, inn, ik, order = np.nonzero(ok & legal)
    return (u * N_CASES + case, cm[u, im], cn[u, inn], ck[u, ik], order, case)


def _search(table: OpTable, hw: Hardware, objective: str, cases: np.ndarray) -> tuple[np.ndarray, ...]:
    """Best candidate per distinct shape and residency case: (mt, nt, kt, order, obj) [u, N_CASES]."""
    dims = dims_of(table, hw).take(table.u_rows)
    seg, mt, nt, kt, order, case = _flat_candidates(dims, hw, cases)
    res_in, res_out, shared = CASE_IN[case], CASE_OUT[case], CASE_SHARED[case]
    d = dims.take(seg // N_CASES)
    obj = np.full(len(seg), np.inf)
    # Fused attention rows carry a second product; cost them apart so plain rows skip it.
    # Chunks of CHUNK candidates keep the temporaries in cache (twice as fast as one pass).
    plain, fused = np.flatnonzero(~d.fused), np.flatnonzero(d.fused)
    parts = [x[i : i + CHUNK] for x in (plain, fused) for i in range(0, len(x), CHUNK)]
    # Weights resident across steps (simulator.cost.residency): score tiles as the model costs them.
    w_res = table.g_weight_is_param[table.u_rows][seg // N_CASES] if hw.resident_level >= 0 else None
    for part in parts:
        dp = d.take(part)
        rc = gemm_cost(
            hw,
            dp,
            mt[part],
            nt[part],
            kt[part],
            order[part],
            res_in[part],
            res_out[part],
            check_fit=False,
            w_resident=False if w_res is None else w_res[part],
            out_shared=shared[part],
        )
        cycles, _ = overlap_cycles(
            hw,
            rc.compute_cycles,
            rc.dram_rd_cycles,
            rc.dram_wr_cycles,
            rc.level_cycles,
            rc.n_tiles,
            (rc.dram_rd_bytes + rc.dram_wr_bytes) > 0,
            rc.n_runs,
            prefetch_cyc=rc.dram_prefetch_cycles,
        )
        coverage = spatial_coverage(hw.dataflow, hw.rows, hw.cols, hw.mpc, dp.m, dp.n, dp.k)
        obj[part] = score(hw, objective, cycles, total(rc.energy_pj), coverage)
    # First minimum of every segment (segments are contiguous and ascending).
    n_u = len(table.u_rows)
    out = [np.zeros(n_u * N_CASES) for _ in range(4)] + [np.full(n_u * N_CASES, np.inf)]
    if len(seg) == 0:
        return tuple(x.reshape(n_u, N_CASES) for x in out)
    starts = np.flatnonzero(np.concatenate([[True], seg[1:] != seg[:-1]]))
    seg_min = np.minimum.reduceat(obj, starts)
    lens = np.diff(np.concatenate([starts, [len(seg)]]))
    hits = np.flatnonzero(obj == np.repeat(seg_min, lens))
    first = hits[np.searchsorted(hits, starts)]
    s = seg[starts]
    for arr, src in zip(out, (mt, nt, kt, order, obj), strict=True):
        arr[s] = src[first]
    return tuple(x.reshape(n_u, N_CASES) for x in out)


def vector_objective(hw: Hardware, work: VectorWork, objective: str) -> np.ndarray:
    """[n_ops, 4] objective of each op's vector work per residency case (inf if illegal)."""
    vc = vector_cost(hw, _col(work), RES_IN[None, :], RES_OUT[None, :])
    cycles = streaming_cycles(hw, vc.cycles, vc.level_cycles, vc.dram_rd_bytes + vc.dram_wr_bytes)
    energy = total(vc.energy_pj)
    return np.where(vc.legal, score(hw, objective, cycles, energy, 0.0), np.inf)  # the array idles


def _col(work: VectorWork) -> VectorWork:
    return VectorWork(
        *(
            x[:, None]
            for x in (work.ops, work.in_elems, work.out_elems, work.chained, work.onchip_elems, work.out_shared)
        )
    )


def map_workload(table: OpTable, hw: Hardware, work: VectorWork, objective: str) -> Mapping:
    """Choose tiles, loop orders and residency for every op of ``table`` on ``hw``."""
    if objective not in OBJECTIVES:
        raise SimulationError(f"unknown mapping objective {objective!r}; allowed: {', '.join(OBJECTIVES)}")
    op_obj = vector_objective(hw, work, objective)  # [n, 4]
    g = table.n_gemm
    if g:
        # Residency cases each distinct shape needs: input resident only if chained, output
        # kept only if the next op is chained to it (written all the same if shared).
        can_in = table.chain_in[table.g_op]
        can_out = np.concatenate([table.chain_in[1:], [False]])[table.g_op]
        shared = table.out_shared[table.g_op]
        row_cases = np.stack(
            [
                np.ones_like(can_in),
                can_in,
                can_out & ~shared,
                can_in & can_out & ~shared,
                can_out & shared,
                can_in & can_out & shared,
            ],
            axis=1,
        )
        row_cases &= ~skipped_rows(table, hw)[:, None]  # costed with their QKᵀ row
        cases = np.zeros((len(table.u_rows), N_CASES), dtype=bool)
        np.logical_or.at(cases, table.g_u, row_cases)
        u_mt, u_nt, u_kt, u_order, u_obj = _search(table, hw, objective, cases)
        # Each row's four keep states, read from the shared cases where its output is shared.
        row_case = _row_case(shared, RES_IN[None, :], RES_OUT[None, :])
        row_obj = np.where(skipped_rows(table, hw)[:, None], 0.0, u_obj[table.g_u[:, None], row_case])
        np.add.at(op_obj, table.g_op, row_obj)
    bad = ~np.isfinite(op_obj[:, 0])
    if bad.any():
        i = int(np.argmax(bad))
        op = table.workload.ops[i]
        raise SimulationError(
            f"op {i} ({op.name} {op.module}): no tile fits the buffers of {hw.name}, even one "
            "array-sized tile; enlarge the buffer"
        )
    res_in, res_out = keep_edges(op_obj, table.chain_in)
    if not g:
        z = np.zeros(0)
        return Mapping(z, z, z, z.astype(np.int64), res_in, res_out, objective)
    case = _row_case(table.out_shared[table.g_op], res_in[table.g_op], res_out[table.g_op])
    u = table.g_u
    skip = skipped_rows(table, hw)
    # Rows folded into a fused attention row keep whole-extent placeholders (never costed).
    return Mapping(
        np.where(skip, table.g_m, u_mt[u, case]),
        np.where(skip, table.g_n, u_nt[u, case]),
        np.where(skip, table.g_k, u_kt[u, case]),
        np.where(skip, 0, u_order[u, case]).astype(np.int64),
        res_in,
        res_out,
        objective,
    )


def _row_case(shared: np.ndarray, res_in: np.ndarray, res_out: np.ndarray) -> np.ndarray:
    """Search case (``CASE_*`` index) of GEMM rows with output sharing ``shared`` ([g], or [g, 1]
    against keep states broadcast beside it) in keep state (``res_in``, ``res_out``)."""
    shared = shared.reshape(shared.shape + (1,) * (np.ndim(res_in) - shared.ndim))
    return res_in.astype(int) + 2 * res_out.astype(int) + 2 * (res_out & shared).astype(int)


def keep_edges(op_obj: np.ndarray, chain_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimise Σ objective over keep decisions of the chained edges (Viterbi over ops).

    State = whether the previous op's output was kept; ``op_obj[i, in + 2·out]``.
    """
    n = op_obj.shape[0]
    cost = op_obj.tolist()
    can_keep = np.concatenate([chain_in[1:], [False]]).tolist()  # op i's output feeds op i+1
    inf = float("inf")
    b0, b1 = 0.0, inf
    back: list[tuple[int, int]] = []
    for i in range(n):
        c = cost[i]
        s0a, s0b = b0 + c[0], b1 + c[1]
        n0, k0 = (s0a, 0) if s0a <= s0b else (s0b, 1)
        n1, k1 = inf, 0
        if can_keep[i]:
            s1a, s1b = b0 + c[2], b1 + c[3]
            n1, k1 = (s1a, 0) if s1a <= s1b else (s1b, 1)
        back.append((k0, k1))
        b0, b1 = n0, n1
    state = 0 if b0 <= b1 else 1
    res_out = np.zeros(n, dtype=bool)
    res_in = np.zeros(n, dtype=bool)
    for i in range(n - 1, -1, -1):
        res_out[i] = bool(state)
        state = back[i][state]
        res_in[i] = bool(state)
    return res_in, res_out
