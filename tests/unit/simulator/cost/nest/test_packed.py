"""Packed precision on the loop-nest engine (``NestArch.lanes``, ``arch.packed``): a PE does
``lanes`` MACs per cycle on consecutive values of the reduction ``C``, their operands in one
storage word, into one accumulator (the RTL tile's INT4 mode, ``rtl/pe_tile/hdl/pe_tile_pe.v``).

Closed forms on a GEMM mapped by hand; the brute-force oracle (values through the PE's lanes,
counted per storage word) against the counts; the mapper's batched scorer against ``evaluate``;
the output-stationary folds against the RTL tile's cycles in INT4 mode."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nestcase import dims, order

from accelerator import pe
from accelerator.errors import SimulationError
from simulator.cost.nest import oracle
from simulator.cost.nest.analysis import NestResult, evaluate, nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel, packed
from simulator.cost.nest.counts import axis_coefs, peeled_counts
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.problem import INP, OUT, WGT, C, K, N, P, Problem, Q, R, S, conv, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.search import Mapper
from simulator.cost.nest.systolic import pipeline

ROWS, COLS = 4, 8
PES = ROWS * COLS
MAC_PJ = 0.25
VALUE_BITS = 4.0  # int4 weights and inputs; a packed word holds ``lanes`` of them
ONE = (1.0, 1.0, 1.0)


def _arch(lanes: int, dataflow: str | None = None) -> NestArch:
    """A per-PE level holding every operand (ample room), DRAM; the array fans out under DRAM."""
    levels = (
        NestLevel("rf", (True, True, True), 1e9, (0.5, 0.25, 1.0), (0.75, 0.5, 1.5), 64.0),
        NestLevel("dram", (True, True, True), math.inf, (20.0,) * 3, (25.0,) * 3, 1e6),
    )
    bits = (VALUE_BITS * lanes, VALUE_BITS * lanes, 32.0)
    arch = NestArch("packed", levels, ROWS, COLS, 1, bits, VALUE_BITS, MAC_PJ, 1e9, lanes=lanes)
    return replace(arch, pipeline=pipeline(dataflow, ROWS, COLS)) if dataflow else arch


def _gemm_mapping(words: int) -> Mapping:
    """GEMM M = 8 (P), N = 8 (K), reduction in ``words`` packed words: P4 across rows, K8 across
    columns; per PE C outer and P2 inner (so every beat updates another partial sum)."""
    return Mapping(
        factors=(dims(C=words, P=2), dims()),  # type: ignore[arg-type]
        orders=(order(C, P), order()),  # type: ignore[arg-type]
        spatial_rows=dims(P=4),  # type: ignore[arg-type]
        spatial_cols=dims(K=8),  # type: ignore[arg-type]
    )


def _run(c_values: int, lanes: int) -> tuple[Problem, NestArch, NestResult]:
    prob = gemm("g", 8, 8, c_values)
    arch = _arch(lanes)
    words = -(-c_values // lanes)
    return prob, arch, evaluate(packed(prob, lanes), arch, _gemm_mapping(words))


def test_a_multiple_of_the_lanes_takes_one_lanes_th_of_the_beats_and_the_same_macs() -> None:
    prob, _, one = _run(16, 1)
    for lanes in (2, 4):
        _, _, res = _run(16, lanes)
        words = 16 // lanes
        beats = 2 * words  # per PE: C words x P2
        assert res.compute_cycles == one.compute_cycles / lanes == beats
        assert res.macs == one.macs == prob.macs == 8 * 8 * 16
        assert res.energy_pj_by_level["mac"] == one.energy_pj_by_level["mac"] == prob.macs * MAC_PJ
        rd, wr = res.reads_words, res.writes_words
        # per PE, one access of a packed word per weight change (every C step) and per input
        # change (every beat): the lanes' values arrive together
        assert rd[0, WGT] == PES * words == one.reads_words[0, WGT] / lanes
        assert rd[0, INP] == PES * beats == one.reads_words[0, INP] / lanes
        # the partial sum is updated once per beat, not per MAC, and read back at every later beat
        assert wr[0, OUT] == PES * beats == one.writes_words[0, OUT] / lanes
        assert rd[0, OUT] == PES * (beats - 2) + PES * 2  # reloads + the last drain to DRAM
        # DRAM moves each weight and input value once: the same bits in fewer, wider words
        bits = np.asarray(res.reads_words[1]) * np.array([VALUE_BITS * lanes] * 2 + [32.0])
        bits_one = np.asarray(one.reads_words[1]) * np.array([VALUE_BITS] * 2 + [32.0])
        np.testing.assert_array_equal(bits[:2], bits_one[:2])
        assert res.utilization == pytest.approx(one.utilization)


@pytest.mark.parametrize(("c_values", "lanes"), [(15, 2), (3, 2), (6, 4), (9, 4)])
def test_a_partial_last_word_takes_a_whole_beat_and_charges_its_idle_lanes(c_values: int, lanes: int) -> None:
    # The rule: C is packed ceil(C / lanes) words; the last word holds C mod lanes values and zero
    # padding, takes one beat, one access and one partial-sum update like any other, and its idle
    # lanes are MAC slots (an ungated datapath multiplies the padding).
    prob, _, res = _run(c_values, lanes)
    words = -(-c_values // lanes)
    assert res.compute_cycles == 2 * words
    assert res.macs == 8 * 8 * words * lanes > prob.macs
    assert res.energy_pj_by_level["mac"] == res.macs * MAC_PJ
    assert res.reads_words[0, WGT] == PES * words
    assert res.writes_words[0, OUT] == PES * 2 * words
    # the oracle enumerates the values: the padding is no MAC, but every slot a beat offers
    beats, slots, macs = oracle.beats_and_macs(prob, _arch(lanes), res.mapping, lanes)
    assert (beats, slots, macs) == (res.compute_cycles, res.macs, prob.macs)


def test_packed_is_the_identity_at_one_lane_and_refuses_no_lanes() -> None:
    prob = conv("c", n=1, k=4, c=3, p=5, q=5, r=3, s=3, stride=2)
    assert packed(prob, 1) is prob
    two = packed(prob, 2)
    assert two.bounds == (1, 4, 2, 5, 5, 3, 3) and two.stride == prob.stride  # R, S not packed
    with pytest.raises(SimulationError, match="lanes"):
        packed(prob, 0)
    with pytest.raises(SimulationError, match="lanes"):
        replace(_arch(1), lanes=0)


def test_the_oracle_names_the_storage_word_of_a_value() -> None:
    # value c of a weight or input sits in word c // lanes; outputs do not depend on C
    assert oracle._element(WGT, [0, 1, 5, 0, 0, 2, 0], gemm("g", 1, 1, 1), 2) == (1, 2, 2, 0)
    assert oracle._element(INP, [0, 0, 7, 1, 0, 0, 0], gemm("g", 1, 1, 1), 4) == (0, 1, 1, 0)
    assert oracle._element(OUT, [0, 3, 7, 1, 0, 0, 0], gemm("g", 1, 1, 1), 4) == (0, 3, 1, 0)


@st.composite
def packed_cases(draw: st.DrawFn) -> tuple[Problem, NestArch, Mapping, int]:
    """A tiny packed nest: random bounds (C in words), strides, a per-PE level and a GLB holding
    random operands, random factors over the levels and the array, random orders, and a true C
    whose last word may be partial."""
    lanes = draw(st.sampled_from([2, 3, 4]))
    bounds = [draw(st.sampled_from([1, 1, 2, 3, 4])) for _ in range(7)]
    bounds[C] = draw(st.integers(1, 3))
    while math.prod(bounds) * lanes > 96:
        bounds[draw(st.sampled_from([N, K, P, Q, R, S]))] = 1
    c_values = draw(st.integers((bounds[C] - 1) * lanes + 1, bounds[C] * lanes))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    levels = (
        NestLevel("rf", (True, True, True), 1e9, (0.5, 0.25, 1.0), (0.75, 0.5, 1.5), 4.0),
        NestLevel("glb", tuple(draw(st.booleans()) for _ in range(3)), 1e9, ONE, ONE, 8.0),  # type: ignore[arg-type]
        NestLevel("dram", (True, True, True), math.inf, (20.0,) * 3, (25.0,) * 3, 1.0),
    )
    arch = NestArch("p", levels, 96, 96, 1, (4.0 * lanes, 4.0 * lanes, 16.0), 4.0, 1.0, 1e9, lanes=lanes)
    factors = [[1] * 7 for _ in range(3)]
    rows, cols = [1] * 7, [1] * 7
    for d in range(7):
        n, p = bounds[d], 2
        while n > 1:
            while n % p:
                p += 1
            n //= p
            slot = draw(st.integers(0, 4))
            if slot < 3:
                factors[slot][d] *= p
            elif slot == 3:
                rows[d] *= p
            else:
                cols[d] *= p
    orders = tuple(tuple(draw(st.permutations(range(7)))) for _ in range(3))
    mapping = Mapping(tuple(tuple(f) for f in factors), orders, tuple(rows), tuple(cols))  # type: ignore[arg-type, misc]
    b = list(bounds)
    b[C] = c_values
    return Problem("tiny", tuple(b), stride), arch, mapping, lanes  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(packed_cases())
def test_counts_of_the_packed_nest_equal_the_oracle_through_the_lanes(
    case: tuple[Problem, NestArch, Mapping, int],
) -> None:
    values, arch, mapping, lanes = case
    words = packed(values, lanes)
    acc, final, compute, _, valid = peeled_counts(*nest_arrays(words, arch, mapping))
    assert valid
    want, want_final = oracle.simulate(values, arch, mapping, lanes)
    np.testing.assert_array_equal(acc, want)
    assert final == want_final == words.footprint(OUT)
    beats, slots, macs = oracle.beats_and_macs(values, arch, mapping, lanes)
    res = evaluate(words, arch, mapping)
    assert compute == beats == res.compute_cycles
    assert slots == res.macs == words.macs * lanes
    assert macs == values.macs


def test_a_partial_word_in_an_imperfect_mapping_equals_the_oracle() -> None:
    # C = 7 values in 4 words of 2 (the last partial) as 2 x 2 with the outer loop at DRAM: no
    # remainder pass in words; then C = 9 values in 5 words as ceil(5 / 2) = 3 x 2: a remainder.
    arch = _arch(2)
    for c_values, outer in ((7, 2), (9, 3)):
        values = gemm("g", 4, 8, c_values)
        m = Mapping(
            factors=(dims(C=2, P=1), dims(C=outer)),  # type: ignore[arg-type]
            orders=(order(C), order(C)),  # type: ignore[arg-type]
            spatial_rows=dims(P=4),  # type: ignore[arg-type]
            spatial_cols=dims(K=8),  # type: ignore[arg-type]
        )
        words = packed(values, 2)
        acc, _, compute, _, valid = peeled_counts(*nest_arrays(words, arch, m))
        assert valid
        np.testing.assert_array_equal(acc, oracle.simulate(values, arch, m, 2)[0])
        beats, slots, macs = oracle.beats_and_macs(values, arch, m, 2)
        assert (compute, slots, macs) == (beats, words.macs * 2, values.macs)
        assert beats == -(-c_values // 2)  # one beat per word, the partial one included


@pytest.mark.parametrize("dataflow", [None, "weight_stationary", "output_stationary"])
def test_the_batched_scorer_charges_what_evaluate_charges(dataflow: str | None) -> None:
    arch = _arch(2, dataflow)
    for c_values in (16, 15):
        words = packed(gemm("g", 8, 8, c_values), 2)
        m = _gemm_mapping(words.bounds[C])
        f, o, sp = m.arrays(arch)
        e, cyc = score(
            arch_arrays(arch),
            np.asarray(words.bounds, np.int64),
            axis_coefs((1, 1), (1, 1)),
            f[None],
            o[None],
            sp[None],
        )
        res = evaluate(words, arch, m)
        assert cyc[0] == pytest.approx(res.cycles, rel=1e-12)
        assert e[0] == pytest.approx(res.energy_pj, rel=1e-12)


def test_the_mapper_maps_the_packed_words_and_its_score_is_the_result() -> None:
    arch = _arch(2, "output_stationary")
    words = packed(gemm("g", 16, 16, 48), 2)
    res = Mapper(samples=60, seed=0, shared=None).best(words, arch, PRESETS["output_stationary"], "edp")
    f, o, sp = res.mapping.arrays(arch)
    e, cyc = score(
        arch_arrays(arch), np.asarray(words.bounds, np.int64), axis_coefs((1, 1), (1, 1)), f[None], o[None], sp[None]
    )
    assert (e[0], cyc[0]) == (pytest.approx(res.energy_pj, rel=1e-12), pytest.approx(res.cycles, rel=1e-12))
    assert res.macs == 16 * 16 * 48
    one = Mapper(samples=60, seed=0, shared=None).best(
        gemm("g", 16, 16, 48), _arch(1, "output_stationary"), PRESETS["output_stationary"], "edp"
    )
    assert res.compute_cycles < one.compute_cycles


@pytest.mark.parametrize("k", [20, 21])
def test_output_stationary_folds_are_the_rtl_tiles_int4_op(k: int) -> None:
    # GEMM P = 8, K = 8 on a 4 x 8 output-stationary array, reduction k int4 values: each of the
    # two folds is one tile op of the RTL's INT4 mode, 2 + ceil(k / 2) + R cycles
    arch = replace(_arch(2), cols=4, pipeline=pipeline("output_stationary", ROWS, 4))
    words = packed(gemm("g", 8, 8, k), 2)
    m = Mapping(
        factors=(dims(C=words.bounds[C]), dims(P=2, K=2)),  # type: ignore[arg-type]
        orders=(order(C), order(P, K)),  # type: ignore[arg-type]
        spatial_rows=dims(P=4),  # type: ignore[arg-type]
        spatial_cols=dims(K=4),  # type: ignore[arg-type]
    )
    res = evaluate(words, arch, m)
    fold = pe.tile_cycles(pe.beats_for_k(k, "int4"), "int4", rows=ROWS, cols=4)
    assert res.compute_cycles == 4 * fold
