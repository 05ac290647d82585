"""The vectorised sparsity path (``simulator.cost.nest_sparsity_batch``, ``_nest``, ``_columns``)
against the one-nest path it replaces: every nest and step at once must give what one nest and
one step at a time gives.

- :func:`reduce` against ``nest_columns.reduce_nest`` on dense and sparse nests;
- :func:`effects` on the steps × nests grid against the same cases one by one;
- ``nest_sparsity.apply`` against a per-(op, step, nest) reference loop (the implementation the
  arrays replaced, kept here as the oracle: :func:`sparse_nest` then ``reduce_nest``, the
  one-level delta criterion, the nests summed per op) on a three-step trace whose statistics
  change every step, with gating, block skipping, compaction and temporal deltas all on;
- the register-side counts' memo: the counts themselves, and its bound.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from accelerator.spec import parse_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost import nest_costs
from simulator.cost.analytic import OpCosts
from simulator.cost.hardware import Hardware, hardware
from simulator.cost.mapping import score
from simulator.cost.nest.analysis import NestResult, evaluate
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import gemm
from simulator.cost.nest_columns import STALLS, Nest, columns, reduce_nest
from simulator.cost.nest_sparsity import _reduce, _rows, apply
from simulator.cost.nest_sparsity_batch import RegisterMemo, nests, register_words
from simulator.cost.nest_sparsity_nest import Cases, Mode, cases, effects, sparse_nest
from simulator.optable import OpTable, prepare

M_, N_, K_ = 4, 3, 5
HW = hardware(
    parse_arch(
        "name: t\nclock_ghz: 1.0\ntechnology_nm: 45\ncompute: {rows: 1, cols: 1, macs_per_pe_per_cycle: {int8: 1}, "
        "precision: int8}\nmemory:\n  levels:\n    - {name: glb, size_bytes: 65536, banks: 2, width_bits: 64, "
        "bandwidth_bytes_per_cycle: 16, double_buffered: true}\n  dram: {kind: lpddr5, bandwidth_gb_per_s: 8}\n"
    )
)


def _arch() -> NestArch:
    spad = NestLevel("spad", (True, True, True), 1e6, (0.01, 0.02, 0.03), (0.015, 0.025, 0.035), 64.0)
    glb = NestLevel("glb", (True, True, True), 1e6, (0.1,) * 3, (0.12,) * 3, 16.0, double_buffered=True)
    dram = NestLevel("dram", (True, True, True), math.inf, (1.0,) * 3, (1.0,) * 3, 8.0)
    return NestArch("t", (spad, glb, dram), 1, 1, 1, (8.0, 8.0, 32.0), 8.0, 1.0, 1e9)


def _mapping(inner: str, glb_p: int = 1) -> Mapping:
    """Loops at the scratchpad (``inner`` innermost), ``glb_p`` of P's at the buffer."""
    ones = (1,) * 7
    spad = (1, N_, K_, M_ // glb_p, 1, 1, 1)
    order = (0, 1, 3, 4, 5, 6, 2) if inner == "C" else (0, 1, 2, 4, 5, 6, 3)
    ident = (0, 1, 2, 3, 4, 5, 6)
    glb = (1, 1, 1, glb_p, 1, 1, 1)
    return Mapping((spad, glb, ones), (order, ident, ident), ones, ones)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def mapped() -> tuple[list[NestResult], list[NestArch]]:
    arch = _arch()
    rs = [evaluate(gemm("g", M_, N_, K_), arch, _mapping(inner, p)) for inner in ("C", "P") for p in (1, 2)]
    return rs, [arch] * len(rs)


def _reduced(n: object, r: object) -> dict[str, float]:
    """A Nest's or a one-case Reduced's numbers by name."""
    out = {"compute": float(np.asarray(r.compute).ravel()[0]), "cycles": float(np.asarray(r.cycles).ravel()[0])}  # type: ignore[attr-defined]
    out["memory"] = float(np.asarray(r.memory).ravel()[0])  # type: ignore[attr-defined]
    for k in STALLS:
        out[f"stalls.{k}"] = float(np.asarray(r.stalls[k]).ravel()[0])  # type: ignore[attr-defined]
    energy = r.energy_pj  # type: ignore[attr-defined]
    for k, v in energy.items():
        out[f"energy.{k}"] = float(np.asarray(v).ravel()[0])
    return out


@pytest.mark.parametrize(
    "mode",
    [Mode(), Mode(skip=0.3, gate=0.5, gate_act=0.4, gate_wgt=0.2, meta_bits=0.5), Mode(a_scale=0.4), Mode(delta=True)],
)
def test_reduce_is_reduce_nest(mapped: tuple[list[NestResult], list[NestArch]], mode: Mode) -> None:
    rs, archs = mapped
    for r, a in zip(rs, archs, strict=True):
        sn = sparse_nest(r, a, HW, mode).result
        n = nests([r], [a])
        e = effects(n, cases(np.zeros(1, dtype=np.int64), mode), HW)
        got = _reduce(n, HW, e)
        want = reduce_nest(sn, HW, a)
        g, w = _reduced(n, got), _reduced(n, want)
        assert g.keys() == w.keys()
        for k in w:
            assert g[k] == pytest.approx(w[k], rel=1e-12, abs=1e-12), k
        assert want.stalls["sram"] > 0 or want.stalls["dram"] > 0 or mode != Mode()  # the banks and DRAM matter


def test_the_grid_is_the_cases_one_by_one(mapped: tuple[list[NestResult], list[NestArch]]) -> None:
    rs, archs = mapped
    n = nests(rs, archs)
    rng = np.random.default_rng(7)
    steps, count = 3, len(rs)
    p = {k: rng.uniform(0.0, 0.9, (count, steps)) for k in ("skip", "gate", "gate_act", "gate_wgt", "a_scale", "slow")}
    for delta in (False, True):
        grid = effects(n, Cases(None, **p, meta_bits=0.25, compact_meta=not delta, delta=delta), HW)
        for s in range(steps):
            for j in range(count):
                one = effects(
                    n,
                    Cases(
                        np.array([j]),
                        **{k: v[j, s : s + 1] for k, v in p.items()},
                        meta_bits=0.25,
                        compact_meta=not delta,
                        delta=delta,
                    ),
                    HW,
                )
                for f in (
                    "energy_pj",
                    "traffic_bytes",
                    "transfer_cycles",
                    "exposed_cycles",
                    "compute_cycles",
                    "gated_pj",
                    "skipped_pj",
                    "mac_energy_pj",
                    "meta_bytes",
                    "delta_extra_bytes",
                ):
                    np.testing.assert_allclose(getattr(grid, f)[j, s], getattr(one, f)[0], rtol=1e-14, err_msg=f)
    assert grid.gated_pj.min() > 0 and grid.skipped_pj.min() > 0  # every effect present


def test_the_register_memo_holds_the_counts_and_its_bound(mapped: tuple[list[NestResult], list[NestArch]]) -> None:
    rs, archs = mapped
    memo = RegisterMemo(capacity=2)
    for r, a in zip(rs, archs, strict=True):
        np.testing.assert_array_equal(memo.counts(r, a), register_words(r, a))
    assert len(memo._found) == 2  # the oldest went first
    first = memo.counts(rs[-1], archs[-1])
    assert memo.counts(rs[-1], archs[-1]) is first  # found again, not recounted
    same = replace(rs[-1], mapping=replace(rs[-1].mapping))  # equal, another object: counted again
    again = memo.counts(same, archs[-1])
    assert again is not first and np.array_equal(again, first)
    with pytest.raises(AssertionError, match="counts drifted"):  # a nest whose reads are not its mapping's
        memo.counts(replace(rs[0], mapping=replace(rs[0].mapping), reads_words=rs[0].reads_words * 2), archs[0])


# --- apply against the per-(op, step, nest) loop it replaced ---------------------------------

TEXT = """name: sp
clock_ghz: 1.0
technology_nm: 45
mapping: {memory_model: nest}
compute:
  rows: 8
  cols: 8
  dataflow: weight_stationary
  macs_per_pe_per_cycle: {int8: 1}
  precision: int8
  sparsity: {act_zero_gating: true, weight_zero_gating: true, block_skip: [1, 8], compact_activations: true,
             temporal_delta: true}
  mac_energy_pj: {int8: 100.0}
memory:
  levels:
    - name: spad
      size_bytes: 96
      per_pe: true
      width_bits: 8
      bandwidth_bytes_per_cycle: 8
      partitions: {weight: {size_bytes: 32}, act: {size_bytes: 32}, out: {size_bytes: 32}}
    - {name: glb, size_bytes: 1048576, banks: 16, width_bits: 64, bandwidth_bytes_per_cycle: 128,
       double_buffered: true}
  dram: {kind: lpddr5, bandwidth_gb_per_s: 51.2}
"""


def _row_value(a: np.ndarray, s: int, j: int, g_rows: np.ndarray, weights: np.ndarray, nests_: int) -> float:
    """Nest j's probability at step s: its row's, the op's one row's, or the rows' MAC-weighted mean."""
    if len(g_rows) in (1, nests_):
        return float(a[s, g_rows[j] if len(g_rows) == nests_ else g_rows[0]])
    return float(np.average(a[s, g_rows], weights=weights))


def _reference(
    table: OpTable, hw: Hardware, costs: OpCosts, results: dict[int, list[NestResult]], archs: dict[int, list[NestArch]]
) -> dict[str, np.ndarray]:
    """The columns the loop computed: per op and step, each nest under its row's mode (delta mode
    where allowed and cheaper), reduced and summed; the op's column moved by new − dense."""
    rows = _rows(table, hw)
    sp = rows.sp
    out = {"compute": costs.compute_cycles.copy(), "cycles": costs.cycles.copy()}
    out.update({f"energy.{k}": v.copy() for k, v in costs.energy_pj.items()})
    out["energy.compute"] = out["energy.compute"] + costs.gating_saved_pj
    out.update({f"stalls.{k}": v.copy() for k, v in costs.stalls.items()})
    out.update({f"traffic.{k}": v.copy() for k, v in costs.traffic_bytes.items()})
    out["gated"], out["skipped_cycles"], out["delta"] = (np.zeros((table.steps, table.n_ops)) for _ in range(3))

    def total_score(x: Nest) -> float:
        return float(score(hw, "energy", np.asarray(x.cycles), np.asarray(sum(x.energy_pj.values()))))

    for i, rs in results.items():
        g_rows = np.flatnonzero(table.g_op == i)
        weights = (table.g_batch * table.g_m * table.g_n * table.g_k)[g_rows].astype(np.float64)

        dense = [reduce_nest(r, hw, a) for r, a in zip(rs, archs[i], strict=True)]
        for s in range(table.steps):
            for j, (r, a) in enumerate(zip(rs, archs[i], strict=True)):
                single = len(g_rows) in (1, len(rs))
                g = g_rows[j] if len(g_rows) == len(rs) else g_rows[0]
                mode = Mode(
                    skip=_row_value(sp.skip, s, j, g_rows, weights, len(rs)),
                    gate=_row_value(sp.gate, s, j, g_rows, weights, len(rs)),
                    gate_act=_row_value(rows.gate_act, s, j, g_rows, weights, len(rs)),
                    gate_wgt=_row_value(rows.gate_wgt, s, j, g_rows, weights, len(rs)),
                    a_scale=_row_value(sp.a_scale, s, j, g_rows, weights, len(rs)),
                    meta_bits=sp.meta_bits_per_elem,
                    compact_meta=hw.compact_acts,
                )
                sn = sparse_nest(r, a, hw, mode)
                x = reduce_nest(sn.result, hw, a)
                if single and sp.delta_ok[s, g]:
                    d_mode = Mode(
                        skip=sp.d_skip[s, g],
                        gate=sp.d_gate[s, g],
                        gate_act=rows.d_gate_act[s, g],
                        gate_wgt=rows.d_gate_wgt[s, g],
                        meta_bits=rows.d_meta_bits,
                        delta=True,
                        slow=sp.d_slow[s, g],
                    )
                    d_sn = sparse_nest(r, a, hw, d_mode)
                    d_x = reduce_nest(d_sn.result, hw, a)
                    if total_score(d_x) < total_score(x):
                        sn, x = d_sn, d_x
                        out["delta"][s, i] = 1.0
                d = dense[j]
                out["compute"][s, i] += x.compute - d.compute
                out["cycles"][s, i] += x.cycles - d.cycles
                for k in STALLS:
                    out[f"stalls.{k}"][s, i] += x.stalls[k] - d.stalls[k]
                for k, v in x.energy_pj.items():
                    out[f"energy.{k}"][s, i] += v - d.energy_pj[k]
                for k, v in x.traffic.items():
                    out[f"traffic.{k}"][s, i] += v - d.traffic[k]
                out["gated"][s, i] += sn.gated_pj
                out["skipped_cycles"][s, i] += sn.skipped_cycles
    return out


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> OpTable:
    """Two GEMMs over three steps; every statistic moves from step to step."""
    p = tmp_path_factory.mktemp("w") / "g.layers.yaml"
    p.write_text(
        "name: g\nsteps: 3\nlayers:\n  - {name: a, type: gemm, M: 64, N: 32, K: 48}\n"
        "  - {name: b, type: gemm, M: 64, N: 16, K: 32}\n"
    )
    w: Workload = load_layers_yaml(p)
    per_step = {
        "act_zero_frac": ((0.5, 0.3), (0.6, 0.2), (0.7, 0.4)),
        "weight_zero_frac": ((0.2, 0.1),) * 3,
        "act_block_zero_frac_1x8": ((0.3, 0.1), (0.4, 0.2), (0.5, 0.05)),
        "delta_int8_zero_frac": ((0.9, 0.2), (0.95, 0.3), (0.97, 0.1)),
    }
    return prepare(replace(w, stats=per_step))


def _check(got: OpCosts, want: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(got.compute_cycles, want["compute"], rtol=1e-12)
    np.testing.assert_allclose(got.cycles, want["cycles"], rtol=1e-12)
    for k in STALLS:
        np.testing.assert_allclose(got.stalls[k], want[f"stalls.{k}"], rtol=1e-12, atol=1e-9, err_msg=k)
    for k, v in got.energy_pj.items():
        if k != "leakage":
            np.testing.assert_allclose(v, want[f"energy.{k}"], rtol=1e-12, err_msg=k)
    for k, v in got.traffic_bytes.items():
        np.testing.assert_allclose(v, want[f"traffic.{k}"], rtol=1e-12, err_msg=k)
    np.testing.assert_allclose(got.gating_saved_pj, want["gated"], rtol=1e-12)
    np.testing.assert_allclose(got.skipped_cycles, want["skipped_cycles"], rtol=1e-12)
    np.testing.assert_array_equal(got.delta_used, want["delta"] > 0)


def test_apply_is_the_loop_it_replaced(table: OpTable, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    real = nest_costs.nest_sparsity.apply

    def spy(table, hw, costs, results, narch, *args, **kw):  # type: ignore[no-untyped-def]
        seen.update(hw=hw, costs=costs, results=results, archs=kw["archs"])
        return real(table, hw, costs, results, narch, *args, **kw)

    monkeypatch.setattr(nest_costs.nest_sparsity, "apply", spy)
    got = nest_costs.evaluate_table(table, parse_arch(TEXT)).costs
    want = _reference(table, seen["hw"], seen["costs"], seen["results"], seen["archs"])  # type: ignore[arg-type]
    _check(got, want)
    assert got.delta_used[1:].any() and not got.delta_used[0].any()  # delta mode ran, from step 2
    assert got.skipped_cycles.min() > 0 and got.meta_bytes.min() > 0


def test_nests_on_two_level_structures_and_one_row(table: OpTable) -> None:
    """An op's two nests on archs whose per-PE level is named apart (two groups of arrays), one
    GEMM row for both; the other op's nest on the first arch."""
    hw = hardware(parse_arch(TEXT))
    first = _arch()
    second = replace(first, levels=(replace(first.levels[0], name="rf"), *first.levels[1:]))
    results = {
        0: [
            evaluate(gemm("a", M_, N_, K_), first, _mapping("C")),
            evaluate(gemm("b", M_, N_, K_), second, _mapping("P", 2)),
        ],
        1: [evaluate(gemm("c", M_, N_, K_), first, _mapping("P"))],
    }
    archs = {0: [first, second], 1: [first]}
    parts = {i: [reduce_nest(r, hw, a) for r, a in zip(rs, archs[i], strict=True)] for i, rs in results.items()}
    costs = columns(table, hw, parts, "energy")
    got = apply(table, hw, costs, results, first, archs=archs)
    _check(got, _reference(table, hw, costs, results, archs))
    assert got.traffic_bytes["rf"][:, 1].max() == 0 < got.traffic_bytes["rf"][:, 0].min()


def test_a_nest_standing_for_several_rows_takes_their_mean(tmp_path: object) -> None:
    """Attention has two GEMM rows (Q·Kᵀ, P·V); one nest for the op takes their MAC-weighted mean
    and never runs in delta mode."""
    p = tmp_path / "a.layers.yaml"  # type: ignore[operator]
    p.write_text("name: a\nsteps: 2\nlayers:\n  - {name: at, type: attention, batch: 1, Lq: 16, Lk: 8, d: 4}\n")
    w: Workload = load_layers_yaml(p)
    stats = {"act_zero_frac": ((0.4,), (0.6,)), "act_block_zero_frac_1x8": ((0.3,), (0.5,))}
    t = prepare(replace(w, stats=stats))
    assert int((t.g_op == 0).sum()) == 2
    hw = hardware(parse_arch(TEXT))
    arch = _arch()
    results = {0: [evaluate(gemm("a", M_, N_, K_), arch, _mapping("C"))]}
    archs = {0: [arch]}
    costs = columns(t, hw, {0: [reduce_nest(results[0][0], hw, arch)]}, "energy")
    got = apply(t, hw, costs, results, arch, archs=archs)
    _check(got, _reference(t, hw, costs, results, archs))
    assert got.gating_saved_pj[1, 0] > got.gating_saved_pj[0, 0] > 0
