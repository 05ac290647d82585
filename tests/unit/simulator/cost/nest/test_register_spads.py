"""Per-PE storage built of word-gated registers costs the register-file model on the nest path.

Eyeriss's ifmap and psum spads are registers (JSSC 2017 Sec. V-C; ``eyeriss.yaml`` names them in
``clock_network.register_storage`` with ``storage_gating: word``): their per-access energy is
:func:`accelerator.tech.regfile.register_file_access_pj` of their words, not the SRAM fit, while the
filter spad (an SRAM) keeps the SRAM model. A whole per-PE level named there, and storage that is
not word-gated, follow the same rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.spec import parse_arch
from accelerator.tech.regfile import register_file_access_pj
from simulator.cost.hardware import level_energy
from simulator.cost.nest.arch import spec_per_pe_levels

ROOT = Path(__file__).resolve().parents[5]
EYERISS = (ROOT / "scenarios" / "validation" / "eyeriss.yaml").read_text(encoding="utf-8")


def test_eyeriss_register_spads_cost_the_register_file_model() -> None:
    spec = parse_arch(EYERISS)
    spad = spec_per_pe_levels(spec)[0]
    ifmap = register_file_access_pj(12, 16, 65, 1.0)  # 24 B of 16-bit words
    psum = register_file_access_pj(24, 16, 65, 1.0)  # 48 B
    # the nest's operand order: weights, inputs, outputs; energies per bit
    assert spad.read_pj_per_bit[1] * 16 == pytest.approx(ifmap.read_pj, rel=1e-12)
    assert spad.write_pj_per_bit[1] * 16 == pytest.approx(ifmap.write_pj, rel=1e-12)
    assert spad.read_pj_per_bit[2] * 16 == pytest.approx(psum.read_pj, rel=1e-12)
    assert spad.write_pj_per_bit[2] * 16 == pytest.approx(psum.write_pj, rel=1e-12)
    # the filter spad is an SRAM: the SRAM fit of a 448 B one-bank macro, as before
    sram = spec.memory.levels[0].model_copy(update={"size_bytes": 448, "partitions": None, "banks": 1})
    assert spad.read_pj_per_bit[0] * 16 == pytest.approx(level_energy(sram, 65, 1.0)[0], rel=1e-12)
    # the register model is dearer than the SRAM fit's extrapolation to 24 B (about 2x, the reason for it)
    small = sram.model_copy(update={"size_bytes": 24})
    assert ifmap.read_pj > 1.5 * level_energy(small, 65, 1.0)[0]


def test_without_word_gating_the_sram_fit_stays() -> None:
    spec = parse_arch(EYERISS.replace("  storage_gating: word\n", "  storage_gating: none\n"))
    spad = spec_per_pe_levels(spec)[0]
    sram = spec.memory.levels[0].model_copy(update={"size_bytes": 24, "partitions": None, "banks": 1})
    assert spad.read_pj_per_bit[1] * 16 == pytest.approx(level_energy(sram, 65, 1.0)[0], rel=1e-12)


def test_a_whole_register_level_costs_the_register_file_model() -> None:
    text = EYERISS.replace(
        "      partitions:\n"
        "        weight: {size_bytes: 448}  # filter spad, 224 x 16 b\n"
        "        act: {size_bytes: 24}  # ifmap spad, 12 x 16 b\n"
        "        out: {size_bytes: 48}  # psum spad, 24 x 16 b\n",
        "",
    ).replace("register_storage: [spad.act, spad.out]", "register_storage: [spad]")
    spad = spec_per_pe_levels(parse_arch(text))[0]
    rf = register_file_access_pj(260, 16, 65, 1.0)  # 520 B of 16-bit words
    assert spad.read_pj_per_bit == pytest.approx((rf.read_pj / 16,) * 3, rel=1e-12)
    assert spad.write_pj_per_bit == pytest.approx((rf.write_pj / 16,) * 3, rel=1e-12)


def test_a_given_energy_replaces_only_its_own_half_of_the_register_model() -> None:
    text = EYERISS.replace("act: {size_bytes: 24}", "act: {size_bytes: 24, write_energy_pj: 2.5}")
    spad = spec_per_pe_levels(parse_arch(text))[0]
    rf = register_file_access_pj(12, 16, 65, 1.0)
    assert spad.read_pj_per_bit[1] * 16 == pytest.approx(rf.read_pj, rel=1e-12)  # the model's read
    assert spad.write_pj_per_bit[1] * 16 == pytest.approx(2.5, rel=1e-12)  # the given write
