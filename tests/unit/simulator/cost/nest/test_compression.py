"""Eyeriss's run-length code (closed form and an encoder), DRAM that stores coded fmaps, and the
adapter that codes each op's fmaps at its zero fractions."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from accelerator.errors import SimulationError
from accelerator.spec import load_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost.nest.analysis import evaluate, nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel, from_spec
from simulator.cost.nest.compression import EYERISS_RLC, RunLengthCode
from simulator.cost.nest.mapping import Mapping, single_level
from simulator.cost.nest.ops import problems
from simulator.cost.nest.presets import PRESETS, eyeriss
from simulator.cost.nest.problem import INP, OUT, WGT, conv_from_input, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.search import Mapper
from simulator.cost.nest_costs import evaluate_table, fmap_zero_fracs
from simulator.optable import prepare

ROOT = Path(__file__).resolve().parents[5]
ONE = (1.0, 1.0, 1.0)
IDENT = (0, 1, 2, 3, 4, 5, 6)


def _encoded_pairs(values: np.ndarray, max_run: int) -> int:
    """Pairs an encoder of (run of up to ``max_run`` zeros, value) writes for ``values``."""
    pairs, run = 0, 0
    for v in values:
        if v == 0 and run < max_run:
            run += 1
            continue
        pairs += 1  # the run so far, then this element as the value (zero after a full run)
        run = 0
    return pairs + (1 if run else 0)


def test_eyeriss_code_closed_forms() -> None:
    code = EYERISS_RLC
    assert (code.run_bits, code.value_bits, code.pairs_per_word, code.word_bits) == (5, 16, 3, 64)
    assert code.max_run == 31
    # no zeros: a pair per value, 64/3 bits for a 16-bit value
    assert code.bits_per_element(0.0) == pytest.approx(64 / 3, rel=1e-15)
    assert code.ratio(0.0) == pytest.approx(4 / 3, rel=1e-15)
    # all zeros: a pair covers 31 zeros and a zero value
    assert code.elements_per_pair(1.0) == 32
    assert code.ratio(1.0) == pytest.approx(64 / 3 / 32 / 16, rel=1e-15)
    z = 0.725  # CONV3's ifmaps (Table V)
    assert code.ratio(z) == pytest.approx(4 / 3 * (1 - z) / (1 - z**32), rel=1e-12)
    assert code.ratio(z) == pytest.approx(0.3667, abs=1e-4)


@pytest.mark.parametrize("z", [0.0, 0.387, 0.725, 0.95])
def test_closed_form_matches_an_encoder(z: float) -> None:
    rng = np.random.default_rng(7)
    values = (rng.random(1_000_000) >= z).astype(np.int8)  # zero with probability z, independently
    pairs = _encoded_pairs(values, EYERISS_RLC.max_run)
    assert pairs / values.size == pytest.approx(1 / EYERISS_RLC.elements_per_pair(z), rel=0.01)


def test_invalid_codes_and_fractions_are_refused() -> None:
    with pytest.raises(SimulationError, match="do not fit a 64-bit word"):
        RunLengthCode(run_bits=6, value_bits=16, pairs_per_word=3, word_bits=64)
    with pytest.raises(SimulationError, match="outside"):
        EYERISS_RLC.ratio(1.5)


def _arch(comp: tuple[float, float, float]) -> NestArch:
    levels = (
        NestLevel("glb", (True, True, True), 1e9, ONE, ONE, 64.0),
        NestLevel("dram", (True, True, True), math.inf, (10.0,) * 3, (10.0,) * 3, 8.0, compression=comp),
    )
    return NestArch("t", levels, 4, 4, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)


def test_dram_moves_coded_fmaps_and_plain_weights() -> None:
    prob = gemm("g", 6, 4, 5)  # weights 20, inputs 30, outputs 24 words of 1 B
    f = (prob.bounds, (1,) * 7)
    m = Mapping(f, (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    plain = evaluate(prob, _arch(ONE), m)
    res = evaluate(prob, _arch((1.0, 0.5, 0.25)), m)
    np.testing.assert_array_equal(res.reads_words, plain.reads_words)  # the counts are words, as before
    assert plain.traffic_bytes["dram"] == 20 + 30 + 24
    assert res.traffic_bytes["dram"] == 20 + 30 * 0.5 + 24 * 0.25
    assert res.energy_pj_by_level["dram"] == pytest.approx(10.0 * 8 * (20 + 15 + 6), rel=1e-12)
    assert res.energy_pj_by_level["glb"] == plain.energy_pj_by_level["glb"]  # the buffer holds plain words
    # the single-buffered glb's fills and drains: 74 plain B at 64 B/cycle, 41 coded B at DRAM's 8
    assert res.cycles == 120 + 41 / 8


def test_spilled_partial_sums_stay_plain() -> None:
    prob = gemm("g", 6, 4, 5)
    arch = _arch((1.0, 1.0, 0.25))
    res = evaluate(prob, arch, single_level(prob, arch))
    # outputs at DRAM: 120 writes (24 final) and 96 read-backs; only the 24 final ones are coded
    assert res.writes_words[-1, OUT] == 120 and res.reads_words[-1, OUT] == 96
    assert res.traffic_bytes["dram"] == 20 + 120 + (120 - 24) + 96 + 24 * 0.25


def test_only_dram_codes() -> None:
    arch = _arch(ONE)
    glb = replace(arch.levels[0], compression=(1.0, 0.5, 1.0))
    with pytest.raises(SimulationError, match="only DRAM"):
        replace(arch, levels=(glb, arch.levels[1]))


def test_scores_equal_evaluate_with_coded_dram() -> None:
    base = eyeriss(load_arch(ROOT / "scenarios/validation/eyeriss.yaml"))
    dram = replace(base.levels[-1], compression=(1.0, EYERISS_RLC.ratio(0.725), EYERISS_RLC.ratio(0.793)))
    arch = replace(base, levels=(*base.levels[:-1], dram))
    prob = conv_from_input("CONV3", n=4, c=256, h=13, w=13, k=384, r=3, s=3, padding=1)
    res = Mapper(seed=0, samples=200).best(prob, arch, PRESETS["row_stationary"], "edp")
    b, coef, f, o, sp, _ = nest_arrays(prob, arch, res.mapping)
    e, c = score(arch_arrays(arch), b, coef, f[None], o[None], sp[None])
    assert e[0] * prob.copies == pytest.approx(res.energy_pj, rel=1e-12)
    assert c[0] * prob.copies == pytest.approx(res.cycles, rel=1e-12)
    plain = evaluate(prob, base, res.mapping)
    assert res.traffic_bytes["dram"] < plain.traffic_bytes["dram"]
    assert res.reads_words[-1, WGT] == plain.reads_words[-1, WGT] and res.reads_words[-1, INP] > 0


def _two_convs(tmp_path: Path) -> Workload:
    text = (
        "name: two\nsteps: 1\nlayers:\n"
        "  - {name: A, type: conv, N: 1, C: 16, H: 14, W: 14, K: 32, R: 3, S: 3, padding: 1}\n"
        "  - {name: B, type: conv, N: 1, C: 32, H: 14, W: 14, K: 16, R: 3, S: 3, padding: 1}\n"
    )
    (tmp_path / "two.layers.yaml").write_text(text, encoding="utf-8")
    workload = load_layers_yaml(tmp_path / "two.layers.yaml")
    return replace(workload, stats={"act_zero_frac": ((0.1, 0.6),)})


def test_adapter_codes_each_ops_fmaps_at_its_zero_fractions(tmp_path: Path) -> None:
    workload = _two_convs(tmp_path)
    spec = load_arch(ROOT / "scenarios/validation/eyeriss.yaml")
    # one search (the spec's 128 restarts only cost time here)
    spec = spec.model_copy(update={"mapping": spec.mapping.model_copy(update={"memory_model": "nest", "restarts": 1})})
    table = prepare(workload)
    z_in, z_out = fmap_zero_fracs(table)
    np.testing.assert_array_equal(z_in, [0.1, 0.6])
    np.testing.assert_array_equal(z_out, [0.0, 0.0])  # no tensor ids: the outputs' zeros are unknown
    # with tensor ids, A's output is B's input: its zeros are B's
    linked = replace(workload, ops=(replace(workload.ops[0], writes=(1,)), replace(workload.ops[1], reads=(1,))))
    np.testing.assert_array_equal(fmap_zero_fracs(prepare(linked))[1], [0.6, 0.0])
    # a recorded out_zero_frac wins over the readers' act_zero_frac; an op without one falls back
    stats = {**workload.stats, "out_zero_frac": ((0.6, 0.5),)}
    table = prepare(replace(workload, stats=stats))
    np.testing.assert_array_equal(fmap_zero_fracs(table)[1], [0.6, 0.5])
    partial = replace(linked, stats={**workload.stats, "out_zero_frac": ((None, 0.5),)})
    np.testing.assert_array_equal(fmap_zero_fracs(prepare(partial))[1], [0.6, 0.5])

    # separate tensors (ids that do not link A to B), so B reads its input from DRAM: without ids
    # the size rule chains them and keeps B's input on chip (simulator.cost.nest_homes)
    table = prepare(
        replace(
            workload,
            stats=stats,
            ops=(replace(workload.ops[0], writes=(1,)), replace(workload.ops[1], reads=(2,))),
        )
    )
    coded = evaluate_table(table, spec, dram_code=EYERISS_RLC).costs
    plain = evaluate_table(table, spec).costs
    # op B through the engine with DRAM coded at (weights plain, 0.6 in, 0.5 out): the same bytes
    narch = from_spec(spec)
    dram = replace(narch.levels[-1], compression=(1.0, EYERISS_RLC.ratio(0.6), EYERISS_RLC.ratio(0.5)))
    arch = replace(narch, levels=(*narch.levels[:-1], dram))
    (prob,) = problems(workload.ops[1])
    res = Mapper(seed=spec.mapping.seed, samples=spec.mapping.samples).best(
        prob,
        arch,
        PRESETS[spec.compute.dataflow],
        spec.mapping_objective,  # type: ignore[arg-type]
    )
    assert coded.traffic_bytes["dram"][0, 1] == pytest.approx(res.traffic_bytes["dram"], rel=1e-12)
    assert coded.traffic_bytes["dram"][0, 1] < plain.traffic_bytes["dram"][0, 1]
