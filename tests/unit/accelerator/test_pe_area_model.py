"""The PE area model (accelerator.tech.pe_area) and the chip area built on it, in closed form.

Cell areas are the NanGate FreePDK45 LEF sizes (W x H um), arithmetic the Horowitz 2014 rows;
the synthesised comparison is tests/rtl/test_pe_tile_rtl.py (marker ``rtl``).
"""

from __future__ import annotations

import pytest
from simcase import arch

from accelerator import tech
from accelerator.errors import SpecError
from simulator.cost.hardware import area_mm2

DFF, MUX2, AND2, OR2 = 3.23 * 1.4, 1.33 * 1.4, 0.76 * 1.4, 0.76 * 1.4


def test_cell_areas_are_the_lef_sizes() -> None:
    assert tech.cell_area_um2("DFF_X1") == pytest.approx(DFF)
    assert tech.cell_area_um2("MUX2_X1") == pytest.approx(MUX2)
    assert tech.cell_area_um2("FA_X1") == pytest.approx(3.04 * 1.4)
    assert tech.cell_area_um2("NAND2_X1") == pytest.approx(0.57 * 1.4)
    with pytest.raises(SpecError, match="no area entry for cell"):
        tech.cell_area_um2("DFF_X9")


def test_rtl_tile_pe_part_by_part() -> None:
    # rtl/pe_tile: one INT8 8x8 multiplier, two INT4 4x4 ones, an 8-bit add of the two INT4
    # products, a 32-bit accumulate; 8-bit operand lanes; 2 fire flags.
    a = tech.pe_area({"int8": 1, "int4": 2}, 45, 32)
    assert a.multipliers == pytest.approx(282 + 2 * 71)
    assert a.adders == pytest.approx(36 + 137)
    assert a.product_mux == pytest.approx(16 * MUX2)
    assert a.accumulator_register == pytest.approx(32 * (DFF + 2 * MUX2 + AND2))
    assert a.operand_registers == pytest.approx(16 * (DFF + MUX2 + AND2))
    assert a.control == pytest.approx(2 * (DFF + AND2) + 16 * OR2)
    assert a.total == pytest.approx(1072.076)
    # the synthesised PE is 1,411 um^2 (docs/rtl.md); the old model said 563
    assert 0.75 < a.total / 1411 < 1.25


def test_more_precisions_cost_more_and_nodes_scale() -> None:
    int8 = tech.pe_area_um2({"int8": 1}, 45)
    assert int8 == pytest.approx(
        282 + 137 + 32 * (DFF + 2 * MUX2 + AND2) + 16 * (DFF + MUX2 + AND2) + DFF + AND2 + 16 * OR2
    )
    assert tech.pe_area_um2({"int8": 1, "int4": 2}, 45) > int8
    # an integer and a floating-point precision need both accumulate adders
    mixed = tech.pe_area({"int8": 1, "fp8": 1}, 45, 32)
    assert mixed.adders == pytest.approx(137 + 4184)
    assert tech.pe_area_um2({"int8": 1}, 7) == pytest.approx(int8 * tech.node_area_factor(7))
    with pytest.raises(SpecError, match="at least one precision"):
        tech.pe_area({}, 45)


def test_chip_area_is_pes_plus_vector_unit_plus_sram() -> None:
    a = arch(8, 8, "output_stationary", "int8", glb_bytes=1 << 20)
    pe = tech.pe_area_um2({"int8": 1, "int4": 2}, 45, 32)
    vector = 16 * (1640 + 1360)  # 16 lanes of fp16 mult + add (an integer array's vector unit)
    sram = (1 << 20) * 8 * 0.346 / 0.7 * 1e-6
    assert area_mm2(a) == pytest.approx((64 * pe + vector) * 1e-6 + sram, rel=1e-12)
