"""The mapper: deterministic, cached, no worse than the trivial mapping, scores equal to evaluate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelerator.spec import load_arch
from simulator.cost.nest.analysis import evaluate, nest_arrays
from simulator.cost.nest.mapping import single_level
from simulator.cost.nest.presets import PRESETS, eyeriss, zigzag_tpu_like
from simulator.cost.nest.problem import INP, OUT, WGT, conv_from_input, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.search import Mapper, spatial_candidates

ROOT = Path(__file__).resolve().parents[5]


@pytest.fixture(scope="module")
def eyeriss_arch():  # type: ignore[no-untyped-def]
    return eyeriss(load_arch(ROOT / "scenarios/validation/eyeriss.yaml"))


def test_mapper_is_deterministic_cached_and_beats_the_trivial_mapping(eyeriss_arch) -> None:  # type: ignore[no-untyped-def]
    prob = conv_from_input("CONV3", n=4, c=256, h=13, w=13, k=384, r=3, s=3, padding=1)
    mapper = Mapper(seed=1)
    res = mapper.best(prob, eyeriss_arch, PRESETS["row_stationary"], "edp")
    assert len(mapper.cache) == 1
    again = mapper.best(prob, eyeriss_arch, PRESETS["row_stationary"], "edp")
    assert again.mapping == res.mapping and len(mapper.cache) == 1
    fresh = Mapper(seed=1).best(prob, eyeriss_arch, PRESETS["row_stationary"], "edp")
    assert fresh.mapping == res.mapping
    trivial = evaluate(prob, eyeriss_arch, single_level(prob, eyeriss_arch))
    assert res.energy_pj * res.cycles < trivial.energy_pj * trivial.cycles
    assert res.reads_words[-1, WGT] >= prob.footprint(WGT)
    assert res.reads_words[-1, INP] >= prob.footprint(INP)
    assert res.writes_words[-1, OUT] >= prob.footprint(OUT)


@pytest.mark.parametrize("objective", ["energy", "latency", "edp"])
def test_batch_scores_equal_evaluate(objective: str) -> None:
    arch = zigzag_tpu_like(load_arch(ROOT / "scenarios/validation/zigzag-tpu-like.yaml"))
    prob = gemm("g", 64, 96, 48, batch=2)
    res = Mapper(samples=200).best(prob, arch, PRESETS["weight_stationary"], objective)  # type: ignore[arg-type]
    b, coef, f, o, sp, _ = nest_arrays(prob, arch, res.mapping)
    e, c = score(arch_arrays(arch), b, coef, f[None], o[None], sp[None])
    assert e[0] * prob.copies == pytest.approx(res.energy_pj, rel=1e-12)
    assert c[0] * prob.copies == pytest.approx(res.cycles, rel=1e-12)
    assert np.prod(res.mapping.spatial_rows) <= arch.rows and np.prod(res.mapping.spatial_cols) <= arch.cols


def test_imperfect_candidates_never_lose_and_fill_awkward_dims(eyeriss_arch) -> None:  # type: ignore[no-untyped-def]
    # CONV1: P = Q = 55 on 14 columns (divisors 5 and 11 leave columns idle)
    prob = conv_from_input("CONV1", n=4, c=3, h=227, w=227, k=96, r=11, s=11, stride=4)
    rs = PRESETS["row_stationary"]
    cands = spatial_candidates(prob, eyeriss_arch, rs, 3)
    assert any(c[3] == 14 for _, c in cands)  # P on all 14 columns, 4 iterations, the last of 13
    both = Mapper(seed=0).best(prob, eyeriss_arch, rs, "edp")
    perfect = Mapper(seed=0, imperfect=False).best(prob, eyeriss_arch, rs, "edp")
    assert both.energy_pj * both.cycles <= perfect.energy_pj * perfect.cycles
    assert both.writes_words[-1, OUT] >= prob.footprint(OUT)


def test_row_stationary_unrolls_the_whole_filter_height_on_the_rows(eyeriss_arch) -> None:  # type: ignore[no-untyped-def]
    # a PE set holds all R filter rows (Chen et al. JSSC 2017 Sec. III): R = 5 and R = 3 fit 12 rows
    rs = PRESETS["row_stationary"]
    for r in (5, 3):
        prob = conv_from_input("c", n=4, c=48, h=13, w=13, k=64, r=r, s=r, padding=r // 2)
        cands = spatial_candidates(prob, eyeriss_arch, rs, 3)
        assert cands and all(rows[5] == r for rows, _ in cands)  # index 5 = R
        res = Mapper(seed=0, samples=100).best(prob, eyeriss_arch, rs, "edp")
        assert res.mapping.spatial_rows[5] == r
    # the other presets leave every factor free
    prob = conv_from_input("c", n=4, c=48, h=13, w=13, k=64, r=3, s=3, padding=1)
    ws = spatial_candidates(prob, eyeriss_arch, PRESETS["weight_stationary"], 3)
    assert any(rows[5] != 3 for rows, _ in ws)
