"""Word clock gating of register-built storage (clock_network.storage_gating: word) in closed form:
a gate per word clocked every cycle, the flops of one written word per storage, the pipeline as
before; and the spec's refusal of gating with nothing to gate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import ArchSpec, load_arch
from simulator.cost.clock import clocked_flops, clocked_pe, flop_clock_parts
from simulator.cost.hardware import hardware

ROOT = Path(__file__).resolve().parents[4]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"
# accelerator/tech/clock_45nm.yaml, restated: CLKGATETST_X1 CK pin (fF) and its Liberty internal
# energy when closed (fJ, 1.1 V); the DFF_X1 CK pin (fF)
ICG_PIN_FF, ICG_INT_FJ, FLOP_PIN_FF = 1.8122, 3.724606 + 1.959182, 0.91
# Stillmaker & Baas 2017, 45 nm: the library's 1.1 V energies at 0.9 V; 65 nm at 1 V over 45 nm at 0.9 V
LIB_TO_09V = 0.844330 / 1.213130
TO_65NM_1V = 1.332 / 0.844330


def _gating(a: ArchSpec, gating: str) -> ArchSpec:
    doc = a.model_dump()
    doc["clock_network"] = {**doc["clock_network"], "storage_gating": gating, "idle_pe_gating": False}
    return ArchSpec.model_validate(doc)


def test_eyeriss_pe_clocks_its_pipeline_gates_and_one_written_word_per_spad() -> None:
    a = load_arch(EYERISS)
    assert a.clock_network.storage_gating == "word"  # the validation spec's statement
    pe = clocked_pe(a)
    # pipeline: 16-bit accumulator + two 16-bit lanes + 1 fire flag = 49; ifmap spad 24 B = 12
    # 16-bit words, psum spad 48 B = 24 words; one word of each written: 2 x 16 bits
    assert (pe.flops, pe.gates, pe.written_bits) == (49, 12 + 24, 32)
    assert clocked_flops(a) == 168 * (49 + 36 + 1)  # and each PE's own clock gate (idle_pe_gating)
    ungated = clocked_pe(_gating(a, "none"))
    assert (ungated.flops, ungated.gates, ungated.written_bits) == (49 + 192 + 384, 0, 0)


def test_gated_energy_per_cycle_in_closed_form() -> None:
    a = _gating(load_arch(EYERISS), "word")
    hw = hardware(a)
    sinks = 168 * (49 + 36)
    p = flop_clock_parts(sinks, hw.area_mm2)
    flop = p.total_fj * TO_65NM_1V
    gate = (p.pin_wire_fj + (ICG_PIN_FF - FLOP_PIN_FF) * 0.81 + ICG_INT_FJ * LIB_TO_09V + p.buffer_fj) * TO_65NM_1V
    written = (p.pin_wire_fj + p.internal_fj) * TO_65NM_1V
    per_pe = 49 * flop + 36 * gate + 32 * written
    assert hw.clock_pj_per_cycle == pytest.approx(168 * per_pe * 1e-3, rel=1e-6)
    # a gate costs about a flop (its pin is twice a flop's, its internal energy 0.8x), so gating 576
    # storage bits behind 36 gates and 32 written bits cuts the PE's clock to well under a third
    assert 0.8 < gate / flop < 1.3
    ungated = hardware(_gating(a, "none")).clock_pj_per_cycle
    assert ungated is not None and hw.clock_pj_per_cycle is not None
    assert hw.clock_pj_per_cycle < ungated / 3


def test_a_given_flop_energy_is_used_for_flops_not_for_gates() -> None:
    base = _gating(load_arch(EYERISS), "word")
    doc = base.model_dump()
    doc["clock_network"]["flop_energy_fj"] = 10.0
    a = ArchSpec.model_validate(doc)
    hw = hardware(a)
    p = flop_clock_parts(168 * 85, hw.area_mm2)
    gate = (p.pin_wire_fj + (ICG_PIN_FF - FLOP_PIN_FF) * 0.81 + ICG_INT_FJ * LIB_TO_09V + p.buffer_fj) * TO_65NM_1V
    assert hw.clock_pj_per_cycle == pytest.approx(168 * (49 * 10.0 + 36 * gate + 32 * 10.0) * 1e-3, rel=1e-6)


def test_a_partial_last_word_is_a_word() -> None:
    doc = load_arch(EYERISS).model_dump()
    doc["memory"]["levels"][0]["width_bits"] = 64  # 24 B = 3 words, 48 B = 6 words of 64 bits
    doc["clock_network"]["storage_gating"] = "word"
    pe = clocked_pe(ArchSpec.model_validate(doc))
    assert (pe.gates, pe.written_bits) == (3 + 6, 128)
    doc["memory"]["levels"][0]["width_bits"] = 40  # 192 / 40 -> 5 words, 384 / 40 -> 10 words
    pe = clocked_pe(ArchSpec.model_validate(doc))
    assert (pe.gates, pe.written_bits) == (5 + 10, 80)
    assert math.ceil(192 / 40) == 5


def test_gating_with_no_register_storage_is_refused(tmp_path: Path) -> None:
    text = EYERISS.read_text().replace("register_storage: [spad.act, spad.out]\n", "")
    assert "storage_gating: word" in text and "register_storage" not in text
    bad = tmp_path / "eyeriss.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError, match=r"eyeriss\.yaml:\d+.*storage_gating.*names nothing"):
        load_arch(bad)
