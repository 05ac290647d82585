"""Supply voltage (``vdd_v``): the energy polynomial, the alpha-power-law clock limit, leakage, and
the spec's errors. Closed forms from the cited coefficients (accelerator/tech/voltage.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from accelerator import tech
from accelerator.errors import SpecError
from accelerator.spec import parse_arch
from accelerator.tech import voltage
from simulator.cost.hardware import hardware

ROOT = Path(__file__).resolve().parents[3]
EDGE = yaml.safe_load((ROOT / "scenarios" / "arch" / "edge-os-int8.yaml").read_text(encoding="utf-8"))


def _text(**top: object) -> str:
    """edge-os-int8 with ``top`` fields first, so that their lines are known (1, 2, ...)."""
    doc = {**top, **{k: v for k, v in EDGE.items() if k not in top}}
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.parametrize("node", tech.KNOWN_NODES_NM)
def test_energy_at_the_nominal_supply_is_today_s_exactly(node: float) -> None:
    assert tech.node_energy_factor(node, tech.NOMINAL_VDD_V[node]) == tech.node_energy_factor(node)
    assert voltage.max_clock_ghz(node, tech.NOMINAL_VDD_V[node]) == voltage.NOMINAL_CLOCK_GHZ[node]
    assert voltage.max_clock_ghz(node) == voltage.NOMINAL_CLOCK_GHZ[node]
    assert voltage.leakage_voltage_factor(node, tech.NOMINAL_VDD_V[node]) == 1.0


def test_energy_scales_by_the_polynomial_ratio() -> None:
    # Stillmaker & Baas 2017, Table 5, 7 nm: a V^2 + b V + c with (0.1776, -0.09097, 0.02447)
    def poly(v: float) -> float:
        return 0.1776 * v * v - 0.09097 * v + 0.02447

    ratio = tech.node_energy_factor(7, 0.5) / tech.node_energy_factor(7)
    assert ratio == pytest.approx(poly(0.5) / poly(0.7), rel=1e-12)
    assert ratio == pytest.approx(0.48907, abs=1e-5)
    pj = tech.op_energy_pj("mult", "int8", 7, 0.5) / tech.op_energy_pj("mult", "int8", 7)
    assert pj == pytest.approx(ratio, rel=1e-12)
    assert tech.sram_access_energy_pj(8192, 64, 7, 0.5) == pytest.approx(10.0 * tech.node_energy_factor(7, 0.5))


def test_max_clock_is_the_alpha_power_law() -> None:
    # f_max = f_nom (V - Vt)^a / V / ((V_nom - Vt)^a / V_nom), a = 1.3, Vt = 0.3 V, 7 nm: 2 GHz at 0.7 V
    expected = 2.0 * (0.2**1.3 / 0.5) / (0.4**1.3 / 0.7)
    assert voltage.max_clock_ghz(7, 0.5) == pytest.approx(expected, rel=1e-12)
    assert voltage.clock_scale(7, 0.5) == pytest.approx(expected / 2.0, rel=1e-12)
    assert voltage.clock_scale(7, 0.5) == pytest.approx(0.56858, abs=1e-5)
    fs = [voltage.max_clock_ghz(16, v) for v in (0.4, 0.5, 0.6, 0.8, 1.0)]
    assert fs == sorted(fs)  # a higher supply never slows the clock


def test_lowest_supply_is_vt_plus_margin_or_the_fit_vertex() -> None:
    assert voltage.min_vdd_v(7) == pytest.approx(0.4)
    assert voltage.min_vdd_v(65) == pytest.approx(4.398 / (2 * 3.755))  # where 65 nm's fit stops falling


def test_leakage_scales_with_the_supply() -> None:
    assert tech.sram_leakage_mw(1 << 20, 7, 0.5) == pytest.approx(tech.sram_leakage_mw(1 << 20, 7) * 0.5 / 0.7)


def test_nominal_vdd_given_explicitly_changes_nothing() -> None:
    plain = hardware(parse_arch(_text(technology_nm=7)))
    given = hardware(parse_arch(_text(technology_nm=7, vdd_v=0.7)))
    assert given == plain


def test_a_lower_supply_scales_mac_and_leakage_not_dram_nor_given_energies() -> None:
    nom = hardware(parse_arch(_text(technology_nm=7)))
    low = hardware(parse_arch(_text(technology_nm=7, vdd_v=0.5, clock_ghz=0.5)))
    k = tech.node_energy_factor(7, 0.5) / tech.node_energy_factor(7)
    assert low.mac_pj == pytest.approx(nom.mac_pj * k, rel=1e-12)
    assert low.vector_pj == pytest.approx(nom.vector_pj * k, rel=1e-12)
    assert low.leakage_mw == pytest.approx(nom.leakage_mw * 0.5 / 0.7, rel=1e-12)
    assert low.dram_pj_per_bit == nom.dram_pj_per_bit
    compute = {**EDGE["compute"], "mac_energy_pj": {"int8": 0.2}}
    given = hardware(parse_arch(_text(technology_nm=7, vdd_v=0.5, clock_ghz=0.5, compute=compute)))
    assert given.mac_pj == 0.2  # used as given: not supply-scaled


def test_a_clock_too_fast_for_the_supply_is_a_located_error() -> None:
    limit = voltage.max_clock_ghz(7, 0.5)
    parse_arch(_text(clock_ghz=round(limit, 3) - 0.001, technology_nm=7, vdd_v=0.5))
    with pytest.raises(
        SpecError, match=r"x\.yaml:1 clock_ghz: 1\.2 GHz exceeds 1\.137 GHz, the fastest clock at vdd_v 0\.5 V"
    ):
        parse_arch(_text(clock_ghz=1.2, technology_nm=7, vdd_v=0.5), "x.yaml")


@pytest.mark.parametrize(
    ("vdd", "message"),
    [
        (0.35, r"x\.yaml:3 vdd_v: 0\.35 V is below 0\.4 V, the lowest supply the 7 nm models cover"),
        (0.2, r"x\.yaml:3 vdd_v: .*0\.3"),
        (2.0, r"x\.yaml:3 vdd_v: .*1\.5"),
        (True, r"x\.yaml:3 vdd_v"),
    ],
)
def test_a_supply_out_of_range_is_a_located_error(vdd: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_arch(_text(clock_ghz=0.3, technology_nm=7, vdd_v=vdd), "x.yaml")


def test_the_nest_model_applies_the_supply_too() -> None:
    from simulator import evaluate, load_workload  # lazy: the cost model, only this test needs it

    workload = load_workload(ROOT / "scenarios" / "validation" / "alexnet-conv-b4.layers.yaml")
    nest = {"memory_model": "nest"}
    base = parse_arch(_text(clock_ghz=0.3, technology_nm=7, mapping=nest), "x.yaml")
    nominal = parse_arch(_text(clock_ghz=0.3, technology_nm=7, vdd_v=tech.NOMINAL_VDD_V[7], mapping=nest), "x.yaml")
    low = parse_arch(_text(clock_ghz=0.3, technology_nm=7, vdd_v=0.6, mapping=nest), "x.yaml")
    e_base = evaluate(workload, base).energy_breakdown_j
    assert evaluate(workload, nominal).energy_breakdown_j == e_base  # nominal is the default, exactly
    e_low = evaluate(workload, low).energy_breakdown_j
    ratio = tech.node_energy_factor(7, 0.6) / tech.node_energy_factor(7)
    assert e_low["compute"] == pytest.approx(e_base["compute"] * ratio, rel=1e-9)  # MACs at the lower supply
    assert sum(e_low.values()) < sum(e_base.values())
