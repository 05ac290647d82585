"""A shared level that prefetches an operand (``memory.levels[].prefetch``; Eyeriss's GLB preloads
the next pass's filters, JSSC 2017 Sec. V-A) on the one-level model: the single-buffered formula
moves the prefetched operands' DRAM time into the overlapped part, their tiles count twice in the
capacity check, and a caller that does not pass the prefetched time is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simcase import gemm_dims

from accelerator.errors import SimulationError
from accelerator.spec import load_arch, parse_arch
from models.layers import load_layers_yaml
from simulator.cost import analytic
from simulator.cost.array import K_INNER
from simulator.cost.gemm import fits, gemm_cost
from simulator.cost.hardware import Hardware, dram_efficiency, hardware
from simulator.cost.overlap import overlap_cycles
from simulator.optable import prepare

ROOT = Path(__file__).resolve().parents[4]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"
TEXT = EYERISS.read_text(encoding="utf-8")


def _hw(prefetch: str | None = "[weight]", double_buffered: bool = False) -> Hardware:
    """eyeriss.yaml's design (one shared level, the 108 kB GLB), its GLB's prefetch as given."""
    assert "      prefetch: [weight]\n" in TEXT
    line = "" if prefetch is None else f"      prefetch: {prefetch}\n"
    text = TEXT.replace("      prefetch: [weight]\n", line)
    text = text.replace("      partitions: {weight: {size_bytes: 8192}}\n", "")  # one shared pool here
    if double_buffered:
        text = text.replace("      banks: 27\n", "      banks: 27\n      double_buffered: true\n")
    return hardware(parse_arch(text, "eyeriss.yaml"))


def _cycles(hw: Hardware, compute: float, lv: float, pf: float | None) -> tuple[float, dict[str, float]]:
    """One op: 50 cycles of DRAM reads, 20 of writes, 4 tiles, one fold run."""
    a = np.asarray
    cyc, stalls = overlap_cycles(
        hw,
        a(compute),
        a(50.0),
        a(20.0),
        a(lv),
        a(4.0),
        a(True),
        a(1.0),
        prefetch_cyc=None if pf is None else a(pf),
    )
    return float(cyc), {k: float(v) for k, v in stalls.items()}


def test_prefetched_reads_overlap_compute() -> None:
    hw = _hw()
    lat = hw.dram_latency_cycles
    # compute 100 > level 30 > prefetched 40 of the 70 DRAM cycles: 30 stay serial
    cyc, stalls = _cycles(hw, 100.0, 30.0, 40.0)
    assert cyc == pytest.approx(4 * lat + 30.0 + 100.0, rel=1e-15)
    assert stalls == pytest.approx({"dram": 0.0, "sram": 0.0, "fill_drain": 4 * lat, "serial": 30.0})
    # prefetched loads longer than compute and the levels: the rest is a dram stall
    cyc, stalls = _cycles(hw, 10.0, 30.0, 45.0)
    assert cyc == pytest.approx(4 * lat + 25.0 + 45.0, rel=1e-15)
    assert stalls == pytest.approx({"dram": 15.0, "sram": 20.0, "fill_drain": 4 * lat, "serial": 25.0})
    assert 10.0 + sum(stalls.values()) == pytest.approx(cyc, rel=1e-15)


def test_without_prefetch_the_formula_is_unchanged() -> None:
    hw = _hw(prefetch=None)
    lat = hw.dram_latency_cycles
    for pf in (None, 0.0):
        cyc, stalls = _cycles(hw, 100.0, 30.0, pf)
        assert cyc == 4 * lat + 50.0 + 20.0 + 100.0
        assert stalls["serial"] == 70.0 and stalls["dram"] == 0.0


def test_double_buffered_overlaps_everything_already() -> None:
    hw = _hw(prefetch=None, double_buffered=True)
    assert _cycles(hw, 100.0, 30.0, 40.0) == _cycles(hw, 100.0, 30.0, 0.0)


def test_a_caller_without_the_prefetched_time_is_refused() -> None:
    with pytest.raises(SimulationError, match=r"levels prefetch \(glb: weight"):
        _cycles(_hw(), 100.0, 30.0, None)


def test_gemm_cost_reports_the_weights_dram_time_as_prefetched() -> None:
    d = gemm_dims(64, 64, 64)  # one tile: each operand crosses the DRAM link once
    tiles = (np.asarray(64.0), np.asarray(64.0), np.asarray(64.0), np.asarray(K_INNER))
    hw, plain_hw = _hw(), _hw(prefetch=None)
    pre = gemm_cost(hw, d, *tiles, False, False)
    plain = gemm_cost(plain_hw, d, *tiles, False, False)
    weight_bytes = 64 * 64 * 2.0  # fp16 weights (the spec's stand-in for 16-bit fixed point)
    want = weight_bytes / dram_efficiency(np.asarray(weight_bytes), hw) / hw.dram_bytes_per_cycle
    assert float(pre.dram_prefetch_cycles) == pytest.approx(float(want), rel=1e-12)
    assert float(plain.dram_prefetch_cycles) == 0.0
    # the DRAM time itself and everything else are the same
    assert float(pre.dram_rd_cycles) == float(plain.dram_rd_cycles)
    assert float(pre.dram_rd_bytes) == float(plain.dram_rd_bytes)
    # prefetched outputs: their spill reads and their writes overlap; here only the writes
    out_hw = _hw(prefetch="[out]")
    out = gemm_cost(out_hw, d, *tiles, False, False)
    assert float(out.dram_prefetch_cycles) == pytest.approx(float(out.dram_wr_cycles), rel=1e-12)


def test_a_prefetched_tile_counts_twice_in_the_capacity() -> None:
    # tiles of 32 kB inputs, 48 kB weights, 12 kB partial sums: 92 kB fit the 108 kB GLB once,
    # not with a second 48 kB weight tile (140 kB)
    d = gemm_dims(64, 96, 256)
    mt, nt, kt = np.asarray(64.0), np.asarray(96.0), np.asarray(256.0)
    assert 64 * 256 * 2 + 96 * 256 * 2 + 64 * 96 * 2 <= 110592 < 64 * 256 * 2 + 2 * 96 * 256 * 2 + 64 * 96 * 2
    assert bool(fits(_hw(prefetch=None), d, mt, nt, kt, False, False))
    assert not bool(fits(_hw(), d, mt, nt, kt, False, False))
    assert not bool(fits(_hw(prefetch="[act]"), d, mt, nt, kt, False, False))  # 32 kB inputs twice: 124 kB
    # half the reduction per tile: 16 + 2 x 24 + 12 = 76 kB fit with the weights twice
    assert bool(fits(_hw(), d, mt, nt, np.asarray(128.0), False, False))


def test_eyeriss_spec_prefetches_its_filters() -> None:
    hw = hardware(load_arch(EYERISS))
    assert [lv.name for lv in hw.levels] == ["glb"]
    assert hw.levels[0].prefetched == (False, True, False)  # act, weight, out


def test_evaluate_table_overlaps_the_filters(tmp_path: Path) -> None:
    """Through ``analytic.evaluate_table`` (needs its and ``mapping.py``'s ``prefetch_cyc=``): the
    serial stall is the DRAM time less the filters', and the stalls add up to the cycles."""
    text = (
        "name: one\nsteps: 1\nlayers:\n"
        "  - {name: A, type: conv, N: 1, C: 16, H: 14, W: 14, K: 32, R: 3, S: 3, padding: 1}\n"
    )
    (tmp_path / "one.layers.yaml").write_text(text, encoding="utf-8")
    table = prepare(load_layers_yaml(tmp_path / "one.layers.yaml"))
    costs = analytic.evaluate_table(table, load_arch(EYERISS))
    dram = float(costs.dram_rd_cycles[0, 0] + costs.dram_wr_cycles[0, 0])
    serial = float(costs.stalls["serial"][0, 0])
    weight_bytes = 32 * 16 * 3 * 3 * 2.0  # read at least once, overlapped
    assert 0.0 < serial <= dram - weight_bytes / costs.hw.dram_bytes_per_cycle + 1e-9
    total = float(costs.compute_cycles[0, 0]) + sum(float(v[0, 0]) for v in costs.stalls.values())
    assert total == pytest.approx(float(costs.cycles[0, 0]), rel=1e-12)
