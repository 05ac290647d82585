"""The cited tables and the node-scaling step."""

from __future__ import annotations

import pytest

from accelerator import tech
from accelerator.errors import SpecError


def test_45nm_values_are_horowitz() -> None:
    assert tech.op_energy_pj("mult", "int8", 45) == pytest.approx(0.2)
    assert tech.op_energy_pj("add", "fp32", 45) == pytest.approx(0.9)
    # INT8 MAC = INT8 mult + INT32 accumulate: 0.2 + 0.1 pJ at 45 nm.
    assert tech.mac_energy_pj("int8", 45, 32) == pytest.approx(0.3)
    assert tech.sram_access_energy_pj(8192, 64, 45) == pytest.approx(10.0)
    assert tech.sram_access_energy_pj(32768, 64, 45) == pytest.approx(20.0)


def test_node_scaling_is_stillmaker_baas() -> None:
    assert tech.node_energy_factor(45) == 1.0
    # 7 nm at 0.7 V: (0.1776·0.49 − 0.09097·0.7 + 0.02447) / (1.103·0.81 − 0.362·0.9 + 0.2767)
    expected = (0.1776 * 0.49 - 0.09097 * 0.7 + 0.02447) / (1.103 * 0.81 - 0.362 * 0.9 + 0.2767)
    assert tech.node_energy_factor(7) == pytest.approx(expected)
    assert tech.mac_energy_pj("int8", 7) == pytest.approx(0.3 * expected)
    factors = [tech.node_energy_factor(n) for n in tech.KNOWN_NODES_NM]
    assert factors == sorted(factors, reverse=True)  # smaller nodes never cost more energy


def test_every_row_has_a_source() -> None:
    rows = tech.sources()
    assert len(rows) > 30
    assert all(r.source.strip() for r in rows)


def test_unknown_node_and_dram_are_clear_errors() -> None:
    with pytest.raises(SpecError, match="allowed: 130"):
        tech.node_energy_factor(3)
    with pytest.raises(SpecError, match="allowed: hbm2e"):
        tech.dram_energy_pj_per_bit("sdram")
