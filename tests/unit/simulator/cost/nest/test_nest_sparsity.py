"""Sparsity on one mapped nest (``simulator.cost.nest_sparsity_nest``), in closed form.

A GEMM ``C[4×3] = A[4×5]·B[5×3]`` on a 1×1 array with one per-PE scratchpad holding every
operand, a shared buffer and DRAM, under two hand-written mappings whose register-side counts are
known: with the reduction ``C`` innermost every MAC loads its weight and its input and an output
accumulates 5 MACs in the register (drained 12 times, never reloaded); with ``P`` innermost a
weight stays for 4 MACs (15 loads) and every MAC drains and (after the first C) reloads its
partial sum (60 drains, 48 reloads).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from accelerator.spec import parse_arch
from simulator.cost.hardware import hardware
from simulator.cost.nest.analysis import NestResult, evaluate
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import INP, OUT, WGT, gemm
from simulator.cost.nest_sparsity_batch import register_words, stored_as
from simulator.cost.nest_sparsity_nest import Mode, sparse_nest

M_, N_, K_ = 4, 3, 5  # GEMM: P = M, K = N, C = K
MACS = M_ * N_ * K_
BITS = (8.0, 8.0, 32.0)  # weights, inputs, partial sums
SPAD_RD = (0.01, 0.02, 0.03)  # pJ per bit, per operand (distinct to tell them apart)
SPAD_WR = (0.015, 0.025, 0.035)
MAC_PJ = 1.0


def _arch() -> NestArch:
    spad = NestLevel("spad", (True, True, True), 1e6, SPAD_RD, SPAD_WR, 64.0)
    glb = NestLevel("glb", (True, True, True), 1e6, (0.1,) * 3, (0.12,) * 3, 64.0)
    dram = NestLevel("dram", (True, True, True), math.inf, (1.0,) * 3, (1.0,) * 3, 8.0)
    return NestArch("t", (spad, glb, dram), 1, 1, 1, BITS, 8.0, MAC_PJ, 1e9)


def _mapping(inner: str) -> Mapping:
    """All loops at the scratchpad; ``inner`` ("C" or "P") innermost. Dims: N K C P Q R S."""
    ones = (1,) * 7
    spad = (1, N_, K_, M_, 1, 1, 1)
    order = (0, 1, 3, 4, 5, 6, 2) if inner == "C" else (0, 1, 2, 4, 5, 6, 3)  # outermost first
    ident = (0, 1, 2, 3, 4, 5, 6)
    return Mapping((spad, ones, ones), (order, ident, ident), ones, ones)  # type: ignore[arg-type]


HW = hardware(
    parse_arch(
        "name: t\nclock_ghz: 1.0\ntechnology_nm: 45\ncompute: {rows: 1, cols: 1, macs_per_pe_per_cycle: {int8: 1}, "
        "precision: int8}\nmemory:\n  levels:\n    - {name: glb, size_bytes: 65536, width_bits: 64, "
        "bandwidth_bytes_per_cycle: 64}\n  dram: {kind: lpddr5, bandwidth_gb_per_s: 8}\n"
    )
)


@pytest.fixture(scope="module", params=["C", "P"])
def case(request: pytest.FixtureRequest) -> tuple[str, NestArch, NestResult]:
    arch = _arch()
    return request.param, arch, evaluate(gemm("g", M_, N_, K_), arch, _mapping(request.param))


def _spad_pj(words: float, operand: int, write: bool = False) -> float:
    return words * BITS[operand] * (SPAD_WR if write else SPAD_RD)[operand]


def test_register_side_counts_are_the_mappings(case: tuple[str, NestArch, NestResult]) -> None:
    inner, arch, r = case
    reg = register_words(r, arch)
    if inner == "C":
        assert reg[0, WGT, 0] == reg[0, INP, 0] == MACS
        assert reg[0, OUT, 1] == M_ * N_ and reg[0, OUT, 0] == 0
    else:
        assert reg[0, WGT, 0] == MACS / M_ and reg[0, INP, 0] == MACS
        assert reg[0, OUT, 1] == MACS and reg[0, OUT, 0] == MACS - M_ * N_
    assert reg[1:].sum() == 0  # only the innermost holder talks to the registers


@pytest.mark.parametrize("z", [0.0, 0.3, 0.8])
def test_act_gating_saves_weight_reads_and_psum_updates(case: tuple[str, NestArch, NestResult], z: float) -> None:
    inner, arch, r = case
    sn = sparse_nest(r, arch, HW, Mode(gate=z, gate_act=z))
    if inner == "C":  # a weight per MAC: the fraction z; an output's 5 MACs all gated: z^5
        want = _spad_pj(MACS * z, WGT) + _spad_pj(M_ * N_ * z**K_, OUT, write=True)
    else:  # a weight held for 4 MACs: z^4; every partial-sum update its own MAC: z
        want = _spad_pj(MACS / M_ * z**M_, WGT) + _spad_pj((MACS - M_ * N_) * z, OUT) + _spad_pj(MACS * z, OUT, True)
    saved = r.energy_pj_by_level["spad"] - sn.result.energy_pj_by_level["spad"]
    assert saved == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert sn.gated_pj == pytest.approx(want + MACS * z * MAC_PJ, rel=1e-12, abs=1e-15)
    assert sn.result.energy_pj_by_level["mac"] == pytest.approx(MACS * (1 - z) * MAC_PJ, rel=1e-12)
    # energy only: cycles, the zero operand's own reads and every shared level unchanged
    assert sn.result.cycles == r.cycles and sn.result.compute_cycles == r.compute_cycles
    assert sn.result.reads_words[0, INP] == r.reads_words[0, INP]
    for name in ("glb", "dram"):
        assert sn.result.energy_pj_by_level[name] == r.energy_pj_by_level[name]
    assert sn.skipped_pj == 0 and sn.skipped_cycles == 0


def test_weight_gating_saves_input_reads(case: tuple[str, NestArch, NestResult]) -> None:
    inner, arch, r = case
    z = 0.5
    sn = sparse_nest(r, arch, HW, Mode(gate=z, gate_wgt=z))
    saved_inputs = (r.reads_words[0, INP] - sn.result.reads_words[0, INP]) * 1.0
    assert saved_inputs == pytest.approx(MACS * z, rel=1e-12)  # an input per MAC in both mappings
    assert sn.result.reads_words[0, WGT] == r.reads_words[0, WGT]


def test_block_skip_takes_cycles_macs_and_pe_accesses(case: tuple[str, NestArch, NestResult]) -> None:
    inner, arch, r = case
    s = 0.25
    sn = sparse_nest(r, arch, HW, Mode(skip=s, meta_bits=1.0))
    mac_cycles = r.compute_cycles - r.fill_cycles
    assert sn.skipped_cycles == pytest.approx(s * mac_cycles, rel=1e-12)
    assert sn.result.compute_cycles == pytest.approx(r.compute_cycles - s * mac_cycles, rel=1e-12)
    k_w = 1 if inner == "C" else M_
    k_o = K_ if inner == "C" else 1
    reg = register_words(r, arch)
    want = (
        _spad_pj(reg[0, WGT, 0] * s**k_w, WGT)
        + _spad_pj(MACS * s, INP)
        + _spad_pj(reg[0, OUT, 0] * s**k_o, OUT)
        + _spad_pj(reg[0, OUT, 1] * s**k_o, OUT, True)
    )
    assert sn.skipped_pj == pytest.approx(want + MACS * s * MAC_PJ, rel=1e-12)
    # masks: one bit per input element the buffer streams to the array, kept units only
    assert sn.meta_bytes == pytest.approx(r.reads_words[1, INP] * (1 - s) / 8, rel=1e-12)
    assert sn.result.traffic_bytes["glb"] == pytest.approx(r.traffic_bytes["glb"] + sn.meta_bytes, rel=1e-12)


def test_compaction_scales_the_inputs_beyond_the_pe(case: tuple[str, NestArch, NestResult]) -> None:
    _, arch, r = case
    a = 0.4
    sn = sparse_nest(r, arch, HW, Mode(a_scale=a))
    for i, name in ((1, "glb"), (2, "dram")):
        inputs = (r.reads_words[i, INP] + r.writes_words[i, INP]) * BITS[INP] / 8
        got = r.traffic_bytes[name] - sn.result.traffic_bytes[name]
        assert got == pytest.approx(inputs * (1 - a), rel=1e-12)
    assert sn.result.traffic_bytes["spad"] == r.traffic_bytes["spad"]
    bw = arch.levels[2].bandwidth_bytes_per_cycle
    assert sn.result.transfer_cycles["dram"] == pytest.approx(sn.result.traffic_bytes["dram"] / bw, rel=1e-12)


def test_delta_mode_charges_the_previous_input_and_state(case: tuple[str, NestArch, NestResult]) -> None:
    _, arch, r = case
    sn = sparse_nest(r, arch, HW, Mode(delta=True))
    prev_in = r.reads_words[2, INP] * BITS[INP] / 8
    state = M_ * N_ * BITS[OUT] / 8
    assert sn.delta_extra_bytes == pytest.approx(prev_in + 2 * state, rel=1e-12)
    assert sn.result.traffic_bytes["dram"] == pytest.approx(r.traffic_bytes["dram"] + sn.delta_extra_bytes)
    assert sn.result.energy_pj_by_level["mac"] == pytest.approx(MACS * HW.delta_mac_pj, rel=1e-12)


def test_neutral_mode_is_the_dense_nest_exactly(case: tuple[str, NestArch, NestResult]) -> None:
    _, arch, r = case
    sn = sparse_nest(r, arch, HW, Mode())
    assert replace(sn.result, reads_words=r.reads_words, writes_words=r.writes_words) == replace(
        r,
        reads_words=r.reads_words,
        writes_words=r.writes_words,
    )
    assert (sn.gated_pj, sn.skipped_pj, sn.skipped_cycles, sn.meta_bytes, sn.delta_extra_bytes) == (0, 0, 0, 0, 0)


def test_a_coded_dram_is_told_apart_and_compacts_its_coded_bytes(case: tuple[str, NestArch, NestResult]) -> None:
    inner, arch, _ = case
    dram = replace(arch.levels[-1], compression=(1.0, 0.5, 1.0))  # inputs stored at half their bytes
    coded = replace(arch, levels=(*arch.levels[:-1], dram))
    r = evaluate(gemm("g", M_, N_, K_), coded, _mapping(inner))
    assert stored_as(r, coded) and not stored_as(r, arch)
    a = 0.4
    sn = sparse_nest(r, coded, HW, Mode(a_scale=a))
    in_bytes = r.reads_words[2, INP] * BITS[INP] * 0.5 / 8
    drop = r.traffic_bytes["dram"] - sn.result.traffic_bytes["dram"]
    assert drop == pytest.approx(in_bytes * (1 - a), rel=1e-12)
