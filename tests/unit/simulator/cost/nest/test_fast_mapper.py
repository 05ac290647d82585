"""The fast mapping strategy (``Mapper(strategy="fast")``, :mod:`simulator.cost.nest.fast`):
deterministic, within a stated margin of the exhaustive optimum, valid mappings that fit, imperfect
spatial candidates and prime bounds, its own memo entries, and far fewer scored candidates than the
sampled search."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from accelerator.errors import SimulationError
from accelerator.spec import load_arch
from simulator.cost.nest import fast, fast_kernels
from simulator.cost.nest.analysis import NestResult, evaluate, fits
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.counts import axis_coefs
from simulator.cost.nest.mapping import single_level
from simulator.cost.nest.memo import SearchMemo
from simulator.cost.nest.moves import neighbours
from simulator.cost.nest.presets import PRESETS, eyeriss, zigzag_tpu_like
from simulator.cost.nest.problem import OUT, Problem, conv, conv_from_input, gemm
from simulator.cost.nest.score import arch_arrays
from simulator.cost.nest.search import Mapper, _stationary_orders, spatial_candidates
from simulator.cost.nest.tiles import tile_words

from .test_search import _exhaustive_edp

ROOT = Path(__file__).resolve().parents[5]


@pytest.fixture(scope="module")
def eyeriss_arch() -> NestArch:
    return eyeriss(load_arch(ROOT / "scenarios/validation/eyeriss.yaml"))


@pytest.fixture(scope="module")
def tpu_arch() -> NestArch:
    return zigzag_tpu_like(load_arch(ROOT / "scenarios/validation/zigzag-tpu-like.yaml"))


def _edp(res: NestResult, arch: NestArch | None = None) -> float:
    """The mapper's EDP objective: energy with the arch's static energy per cycle, times cycles."""
    static = arch.static_pj_per_cycle if arch is not None else 0.0
    return (res.energy_pj + static * res.cycles) * res.cycles


def _assert_valid(prob: Problem, arch: NestArch, res: NestResult) -> None:
    """The mapping fits every level, covers every bound and stays within the array."""
    m = res.mapping
    assert fits(prob, arch, m) == []
    assert np.prod(m.spatial_rows) <= arch.rows and np.prod(m.spatial_cols) <= arch.cols
    sp = m.spatial()
    for d, bound in enumerate(prob.bounds):
        covered = sp[d] * int(np.prod([lv[d] for lv in m.factors]))
        assert covered >= bound  # every index visited (the outermost loop is a ceiling)
    assert res.writes_words[-1, OUT] >= prob.footprint(OUT)
    evaluate(prob, arch, m)  # raises on an invalid mapping


def test_fast_is_deterministic_ignores_the_seed_and_is_cached(eyeriss_arch: NestArch) -> None:
    prob = conv_from_input("CONV3", n=4, c=256, h=13, w=13, k=384, r=3, s=3, padding=1)
    rs = PRESETS["row_stationary"]
    runs = [Mapper(strategy="fast", seed=seed, shared=None).best(prob, eyeriss_arch, rs, "edp") for seed in (0, 0, 7)]
    assert runs[0].mapping == runs[1].mapping == runs[2].mapping  # nothing random
    mapper = Mapper(strategy="fast", shared=None)
    first = mapper.best(prob, eyeriss_arch, rs, "edp")
    assert mapper.best(prob, eyeriss_arch, rs, "edp").mapping == first.mapping and len(mapper.cache) == 1
    _assert_valid(prob, eyeriss_arch, first)
    trivial = evaluate(prob, eyeriss_arch, single_level(prob, eyeriss_arch))
    assert _edp(first) < _edp(trivial)


@pytest.mark.parametrize("imperfect", [False, True])
def test_fast_reaches_the_exhaustive_optimum_when_the_buffer_is_full(eyeriss_arch: NestArch, imperfect: bool) -> None:
    # test_search.py's small convolution under a 512 B GLB: the sampled search (600 samples)
    # reaches the least EDP of every perfect mapping; the fast strategy is allowed 2 % above it
    # (measured: it reaches it exactly, perfect only and with imperfect candidates).
    glb = replace(eyeriss_arch.levels[1], size_bytes=512)
    arch = replace(eyeriss_arch, levels=(eyeriss_arch.levels[0], glb, *eyeriss_arch.levels[2:]))
    prob = conv("c", n=2, k=8, c=4, p=4, q=4, r=3, s=3)
    rs = PRESETS["row_stationary"]
    best = _exhaustive_edp(prob, arch, rs)
    res = Mapper(strategy="fast", imperfect=imperfect, shared=None).best(prob, arch, rs, "edp")
    _assert_valid(prob, arch, res)
    assert _edp(res) <= best * 1.02
    if not imperfect:  # perfect mappings only: never below the exhaustive optimum
        assert _edp(res) >= best * (1 - 1e-9)


def test_fast_handles_imperfect_candidates_and_prime_bounds(eyeriss_arch: NestArch, tpu_arch: NestArch) -> None:
    # CONV1: P = Q = 55 on 14 columns (the best candidates are imperfect: 14 columns, the last of
    # four iterations 13 wide)
    prob = conv_from_input("CONV1", n=4, c=3, h=227, w=227, k=96, r=11, s=11, stride=4)
    rs = PRESETS["row_stationary"]
    assert any(c[3] == 14 for _, c in spatial_candidates(prob, eyeriss_arch, rs, 3))
    res = Mapper(strategy="fast", shared=None).best(prob, eyeriss_arch, rs, "edp")
    _assert_valid(prob, eyeriss_arch, res)
    # prime bounds: 97 output channels, 53 rows, 101 reduction (no divisor but 1 and itself)
    prob = gemm("g", 53, 97, 101)
    ws = PRESETS["weight_stationary"]
    res = Mapper(strategy="fast", shared=None).best(prob, tpu_arch, ws, "latency")
    _assert_valid(prob, tpu_arch, res)
    trivial = evaluate(prob, tpu_arch, single_level(prob, tpu_arch))
    assert res.cycles < trivial.cycles
    # no spatial candidate at all: a clear error naming the problem
    with pytest.raises(SimulationError, match="'g'"):
        Mapper(strategy="fast", shared=None).best(prob, replace(tpu_arch, rows=0, cols=0), ws, "latency")


def test_seeds_fit_cover_the_bounds_and_follow_the_capacity(tpu_arch: NestArch) -> None:
    prob = gemm("g", 1024, 128, 1152)  # SCALE-Sim's ddpm_conv32 as a GEMM: overflows the buffers
    aa = arch_arrays(tpu_arch)
    bounds, coef = np.asarray(prob.bounds, np.int64), axis_coefs(prob.stride, prob.dilation)
    cands = spatial_candidates(prob, tpu_arch, PRESETS["weight_stationary"], 3)
    nlev = len(tpu_arch.levels)
    size, opsize = aa.size_bytes.astype(np.float64), aa.operand_bytes.astype(np.float64)
    f, o, s, owner = fast.seeds(aa, bounds, coef, fast.spatial_factors(aa, cands), _stationary_orders())
    assert sorted(set(owner.tolist())) == list(range(len(cands)))
    assert len({(a.tobytes(), b.tobytes(), c.tobytes()) for a, b, c in zip(f, o, s, strict=True)}) == len(f)
    for j in range(len(f)):
        assert sorted(o[j, -1].tolist()) == list(range(7))
        tiles = tile_words(bounds, coef, f[j], s[j], aa.holds) * aa.word_bytes
        for lv in range(nlev - 1):
            need = tiles[lv] * aa.tile_copies[lv]
            assert (need <= opsize[lv]).all() and need.sum() <= size[lv]
        assert (np.prod(f[j], axis=0) * np.prod(s[j], axis=0) >= bounds).all()
    # greedy by capacity: the level below DRAM is filled last, so no prime DRAM still holds fits
    # there (one more prime of any dimension overflows some level)
    top = nlev - 1
    checked = 0
    for j in range(len(f)):
        for d in range(7):
            rest = int(f[j, top, d])
            if rest == 1:
                continue
            p = next(q for q in range(2, rest + 1) if rest % q == 0)
            g = f[j].copy()
            g[top, d] //= p
            g[top - 1, d] *= p
            assert not fast_kernels.fits(g, s[j], bounds, coef, *fast.capacity_args(aa))
            checked += 1
    assert checked > 0


def test_kicks_move_a_whole_factor_and_refill(eyeriss_arch: NestArch) -> None:
    # A hand-made local optimum on Eyeriss: the kicks of level 1 (GLB) send one dimension's whole
    # factor to DRAM and refill the GLB; none equals the start, all fit.
    prob = conv("c", n=2, k=8, c=4, p=4, q=4, r=3, s=3)
    aa = arch_arrays(eyeriss_arch)
    bounds, coef = np.asarray(prob.bounds, np.int64), axis_coefs(prob.stride, prob.dilation)
    nlev = len(eyeriss_arch.levels)
    sp = np.ones((nlev, 7), np.int64)
    sp[aa.fanout] = (1, 1, 1, 4, 1, 3, 1)  # R across rows, P across columns
    f = np.ones((nlev, 7), np.int64)
    f[0] = (1, 1, 1, 1, 4, 1, 3)  # spad: Q S
    f[1] = (2, 8, 4, 1, 1, 1, 1)  # glb: N K C
    o = np.tile(_stationary_orders()[2], (nlev, 1))
    kf, ko = fast.kicks(aa, bounds, coef, _stationary_orders(), f, o, sp)
    assert len(kf) > 0 and len(kf) == len(ko)
    for g, h in zip(kf, ko, strict=True):
        assert not (np.array_equal(g, f) and np.array_equal(h, o))
        assert (np.prod(g, axis=0) * np.prod(sp, axis=0) >= bounds).all()
        moved = [d for d in range(7) for lv in range(nlev - 1) if f[lv, d] > 1 and g[lv, d] == 1]
        assert moved  # some dimension's whole factor left a level below DRAM
    # each level-1 kick of K: all 8 of K at DRAM, the GLB refilled (N and C stay)
    k_kicks = [g for g in kf if g[1, 1] == 1 and g[0, 1] == 1]
    assert k_kicks and all(g[2, 1] == 8 and g[1, 0] == 2 and g[1, 2] == 4 for g in k_kicks)


def test_memo_keys_carry_the_strategy(eyeriss_arch: NestArch) -> None:
    prob = conv_from_input("CONV3", n=4, c=256, h=13, w=13, k=384, r=3, s=3, padding=1)
    rs = PRESETS["row_stationary"]
    memo = SearchMemo()
    sampled = Mapper(shared=memo).best(prob, eyeriss_arch, rs, "edp")
    fast_alone = Mapper(strategy="fast", shared=None).best(prob, eyeriss_arch, rs, "edp")
    assert sampled.mapping != fast_alone.mapping  # this problem tells the strategies apart
    after = Mapper(strategy="fast", shared=memo).best(prob, eyeriss_arch, rs, "edp")
    assert after.mapping == fast_alone.mapping  # not the sampled search's memo entry
    assert Mapper().settings() != Mapper(strategy="fast").settings()
    assert Mapper().settings() == (600, 3, True, 30, 0)  # the sampled search's keys as before


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(SimulationError, match=r"Mapper\.strategy: 'greedy' is not one of sampled, fast"):
        Mapper(strategy="greedy")  # type: ignore[arg-type]


def test_fast_scores_far_fewer_candidates(eyeriss_arch: NestArch, monkeypatch: pytest.MonkeyPatch) -> None:
    counted = {"n": 0}
    cost = Mapper._cost

    def counting(*args: object) -> np.ndarray:
        counted["n"] += len(args[3].factors)  # type: ignore[attr-defined]
        return cost(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(Mapper, "_cost", staticmethod(counting))
    prob = conv_from_input("CONV4", n=4, c=384, h=13, w=13, k=384, r=3, s=3, padding=1)
    rs = PRESETS["row_stationary"]
    scored = {}
    for strategy in ("sampled", "fast"):
        counted["n"] = 0
        res = Mapper(strategy=strategy, shared=None).best(prob, eyeriss_arch, rs, "edp")  # type: ignore[arg-type]
        scored[strategy] = (counted["n"], _edp(res, eyeriss_arch))
    assert scored["fast"][0] * 5 <= scored["sampled"][0]  # measured: 910 against 6,677
    # within 10 % of the sampled search's objective on this layer (measured 1.067x since the mapper's
    # energy has the leakage and clock per cycle; 1.0x before): the fast strategy trades a little
    # quality for a tenth of the scored candidates (docs/memory-model.md, The fast strategy)
    assert scored["fast"][1] <= scored["sampled"][1] * 1.10


@pytest.mark.parametrize(
    "factors",
    [
        [(1, 2, 1, 4, 1, 3, 1), (2, 4, 6, 1, 5, 1, 1), (1, 1, 2, 7, 1, 1, 3)],
        [(1, 1, 1, 1, 1, 1, 1), (1, 8, 1, 1, 1, 1, 1), (2, 1, 3, 1, 1, 1, 1)],
        [(4, 9, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1, 1)],
    ],
)
def test_move_counts_split_the_neighbours_by_kind(factors: list[tuple[int, ...]]) -> None:
    # neighbours returns prime moves (one dimension changes at two levels), then exchanges (two
    # dimensions change, each at two levels), then loop moves (factors unchanged, orders moved)
    f = np.array(factors, np.int64)
    o = np.tile(np.arange(7, dtype=np.int64), (len(f), 1))
    nf, no = neighbours(f, o)
    moves, pairs = fast_kernels.move_counts(f)
    assert 0 < moves <= moves + pairs <= len(nf)
    changed = [np.argwhere(g != f) for g in nf]
    assert all(len({d for _, d in c}) == 1 and len(c) == 2 for c in changed[:moves])
    assert all(len({d for _, d in c}) == 2 and len(c) == 4 for c in changed[moves : moves + pairs])
    assert all(len(c) == 0 for c in changed[moves + pairs :])
    assert (no[: moves + pairs] == o).all() and not (no[moves + pairs :] == o).all(axis=(1, 2)).any()
