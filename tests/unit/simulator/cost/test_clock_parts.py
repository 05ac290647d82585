"""The cited per-flop clock energy (simulator.cost.clock.flop_clock_parts) in closed form: the pin
and H-tree wire, the flop's Liberty internal clock energy, its share of a leaf clock buffer per
TritonCTS sink cluster, the 1.1 V library carried to 0.9 V, and node and supply scaling."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from simcase import arch

from accelerator.spec import load_arch
from simulator.cost.clock import clock_table, clocked_flops, flop_clock_fj, flop_clock_parts, sinks_per_cluster
from simulator.cost.hardware import hardware

ROOT = Path(__file__).resolve().parents[4]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"
# accelerator/tech/clock_45nm.yaml, restated: DFF_X1 CK pin (fF), metal5 clock wire (fF/um), H-tree
PIN_FF, WIRE_FF_PER_UM, HTREE = 0.91, 0.110884, 1.5
# NangateOpenCellLibrary_typical.lib at 1.1 V, restated: DFF_X1 CK internal energy per cycle with the
# output held (fJ); BUF_X4 input pin (fF) and internal energy per cycle (fJ); TritonCTS cluster bounds
FLOP_INT_FJ, BUF_IN_FF, BUF_INT_FJ = 6.8727, 3.401892, 18.1044
CLUSTER_SINKS, CLUSTER_DIAMETER_UM = 50, 20.0
# Stillmaker & Baas 2017 Table 5, 45 nm: 1.103 V^2 - 0.362 V + 0.2767; at 1.1 V 1.213130, at 0.9 V
# 0.844330: the library's 1.1 V energies are 0.844330 / 1.213130 of themselves at 0.9 V
LIB_TO_09V = 0.844330 / 1.213130


def test_the_table_holds_the_liberty_sums() -> None:
    t = clock_table()
    # DFF_X1 pin CK, slew 0.0171859 ns: (fall + rise | D=0, Q=0) and (fall + rise | D=1, Q=1), mean
    mean = (4.474442 + 2.419478 + 4.243058 + 2.608469) / 2
    assert t["flop_clock_internal_fj"]["value"] == pytest.approx(mean, abs=1e-4)
    # BUF_X4 A->Z, slew 0.0171859 ns, load 30.2888 fF: fall + rise
    assert t["cts_buffer_internal_fj"]["value"] == pytest.approx(11.220740 + 6.883670, abs=1e-4)
    assert t["liberty_vdd_v"]["value"] == 1.1 and t["vdd_v"] == 0.9
    assert (t["cts_cluster_max_sinks"]["value"], t["cts_cluster_max_diameter_um"]["value"]) == (50, 20.0)


def test_sinks_per_cluster_by_pitch() -> None:
    # a 20 um disc at a 10 um pitch covers pi * 10^2 / 10^2 = pi sinks
    assert sinks_per_cluster(10.0) == pytest.approx(math.pi, rel=1e-12)
    # dense sinks: the 50-sink bound (pi * 100 / 1 = 314 > 50)
    assert sinks_per_cluster(1.0) == CLUSTER_SINKS
    assert sinks_per_cluster(0.0) == CLUSTER_SINKS
    # sparse sinks: one per buffer at least
    assert sinks_per_cluster(100.0) == 1.0


def test_parts_in_closed_form_at_45nm() -> None:
    # 10,000 flops on 1 mm^2: a 10 um pitch, 15 um of clock wire per flop, pi sinks per leaf buffer
    p = flop_clock_parts(10_000, 1.0)
    assert p.pin_wire_fj == pytest.approx((PIN_FF + HTREE * 10.0 * WIRE_FF_PER_UM) * 0.81, rel=1e-12)
    assert p.pin_wire_fj == pytest.approx(2.0843, abs=1e-4)
    assert p.internal_fj == pytest.approx(FLOP_INT_FJ * LIB_TO_09V, rel=1e-6)
    assert p.internal_fj == pytest.approx(4.7834, abs=1e-4)
    assert p.sinks_per_buffer == pytest.approx(math.pi, rel=1e-12)
    buffer = (BUF_IN_FF * 0.81 + BUF_INT_FJ * LIB_TO_09V) / math.pi
    assert p.buffer_fj == pytest.approx(buffer, rel=1e-6)
    assert p.buffer_fj == pytest.approx(4.8880, abs=1e-4)
    assert p.total_fj == pytest.approx(2.0843 + 4.7834 + 4.8880, abs=3e-4)
    a = arch(technology_nm=45, clock_network={"enabled": True})
    assert flop_clock_fj(a, 10_000, 1.0) == pytest.approx(p.total_fj, rel=1e-12)


def test_flop_energy_scales_with_node_and_supply() -> None:
    # Stillmaker & Baas 2017 Table 5: 65 nm at 1.0 V: 3.755 - 4.398 + 1.975 = 1.332
    a = arch(technology_nm=65, vdd_v=1.0, clock_ghz=0.2, clock_network={"enabled": True})
    at45 = flop_clock_parts(10_000, 1.0).total_fj
    assert flop_clock_fj(a, 10_000, 1.0) == pytest.approx(at45 * 1.332 / 0.844330, rel=1e-6)


def test_a_denser_die_costs_less_per_flop() -> None:
    sparse, dense = flop_clock_parts(10_000, 1.0), flop_clock_parts(40_000, 1.0)
    # half the pitch: less wire per sink and four times the sinks per leaf buffer
    assert dense.pin_wire_fj < sparse.pin_wire_fj
    assert dense.sinks_per_buffer == pytest.approx(4 * math.pi, rel=1e-12)
    assert dense.buffer_fj == pytest.approx(sparse.buffer_fj / 4, rel=1e-12)
    # the flop's own clock energy does not depend on where it sits
    assert dense.internal_fj == sparse.internal_fj
    # coinciding sinks: the pin, the flop's inverters and a 50th of a buffer
    floor = flop_clock_parts(10_000, 0.0)
    assert floor.pin_wire_fj == pytest.approx(PIN_FF * 0.81, rel=1e-12)
    assert floor.buffer_fj == pytest.approx((BUF_IN_FF * 0.81 + BUF_INT_FJ * LIB_TO_09V) / 50, rel=1e-6)


def test_the_flops_inverters_outweigh_its_pin_and_wire() -> None:
    # the Liberty internal energy is ~6x the pin's C V^2: the pin-and-wire model was a lower bound
    p = flop_clock_parts(10_000, 1.0)
    assert p.internal_fj > 2 * p.pin_wire_fj
    assert p.internal_fj > 5 * PIN_FF * 0.81


def test_eyeriss_ungated_clock_per_cycle_from_the_model() -> None:
    a = load_arch(EYERISS)
    # the validation spec gates its register words (test_clock_gating.py); here every flop is clocked
    doc = a.model_dump()
    doc["clock_network"]["storage_gating"] = "none"
    doc["clock_network"]["idle_pe_gating"] = False
    a = type(a).model_validate(doc)
    hw = hardware(a)
    flops = clocked_flops(a)
    pitch_um = math.sqrt(hw.area_mm2 * 1e6 / flops)
    sinks = min(CLUSTER_SINKS, math.pi * (CLUSTER_DIAMETER_UM / 2) ** 2 / pitch_um**2)
    at45 = (
        (PIN_FF + HTREE * pitch_um * WIRE_FF_PER_UM) * 0.81
        + FLOP_INT_FJ * LIB_TO_09V
        + (BUF_IN_FF * 0.81 + BUF_INT_FJ * LIB_TO_09V) / sinks
    )
    # 65 nm at the chip's 1 V (vdd_v): 3.755 x 1.0 - 4.398 x 1.0 + 1.975 = 1.332
    fj = at45 * 1.332 / 0.844330
    assert hw.clock_pj_per_cycle == pytest.approx(flops * fj * 1e-3, rel=1e-6)
    # 105,000 flops at a ~4.5 um pitch: ~16 sinks per leaf buffer, ~11 fJ per flop per cycle
    assert 15 < sinks < 17
    assert 10.5 < fj < 12.0
