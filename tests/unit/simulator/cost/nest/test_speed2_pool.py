"""The mapper's shared samples and counts (simulator/cost/nest/pool.py): a search that reuses
another's counts returns what a search from nothing returns, and a scoring from filled counts
gives the very numbers of a fresh one."""

from __future__ import annotations

import math

import numpy as np

from simulator.cost.nest import pool
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.memo import SearchMemo
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.problem import conv, gemm
from simulator.cost.nest.score import COUNTED, TILED, Counts, arch_arrays, counts_key, score
from simulator.cost.nest.search import Mapper, clear_caches
from simulator.cost.nest_homes import _divisors_down, homed

ONE = (1.0, 1.0, 1.0)


def _arch(glb_bytes: float, rf_bytes: float = 64.0) -> NestArch:
    levels = (
        NestLevel("rf", (True, True, True), rf_bytes, (0.1,) * 3, (0.1,) * 3, 16.0),
        NestLevel("glb", (True, True, True), glb_bytes, ONE, ONE, 64.0, double_buffered=True),
        NestLevel("dram", (True, True, True), math.inf, (80.0,) * 3, (80.0,) * 3, 8.0),
    )
    return NestArch("t", levels, 8, 8, 1, (8.0, 8.0, 24.0), 8.0, 0.5, 1e9)


def _search(problem: object, arch: NestArch, shared: SearchMemo | None) -> object:
    m = Mapper(samples=120, local_rounds=10, shared=shared)
    return m._search(problem, arch, PRESETS["output_stationary"], "edp")  # type: ignore[arg-type]


def test_keep_states_sharing_counts_find_the_mappings_of_fresh_searches() -> None:
    clear_caches()
    prob = conv("c", n=1, k=32, c=16, p=14, q=14, r=3, s=3)
    plain = _arch(8192.0)
    # the keep states: less room in the glb, the input's DRAM traffic dropped
    states = [
        plain,
        homed(plain, (False, True, False), [(1, 1, 3000.0)]),
        homed(plain, (False, False, True), [(1, 2, 5000.0)]),
    ]
    memo = SearchMemo()
    for arch in states:
        assert arch is not None
        assert _search(prob, arch, memo) == _search(prob, arch, None)
    # one pool for the three states (same shape, same levels' holds and buffering)
    assert len(pool._POOLS) == 1
    clear_caches()
    assert len(pool._POOLS) == 0


def test_scoring_from_filled_counts_equals_a_fresh_scoring() -> None:
    prob = gemm("g", 24, 16, 40)
    rng = np.random.default_rng(3)
    n = 200
    bounds = np.asarray(prob.bounds, np.int64)
    f = np.ones((n, 3, 7), np.int64)
    f[:, 2, :] = bounds
    for d in (1, 2, 3):  # K, C, P split at random between rf, glb and dram (imperfect ones too)
        inner = rng.integers(1, 5, (n, 2))
        f[:, 0, d], f[:, 1, d] = inner[:, 0], inner[:, 1]
        f[:, 2, d] = -(-bounds[d] // (inner[:, 0] * inner[:, 1]))
    o = np.tile(np.arange(7), (n, 3, 1))
    sp = np.ones((n, 3, 7), np.int64)
    coef = np.ones((3, 4, 2), np.int64)
    big, small = arch_arrays(_arch(1e6)), arch_arrays(_arch(600.0))
    assert counts_key(big) == counts_key(small)
    counts = Counts.empty(n, 3)
    e_big, c_big = score(big, bounds, coef, f, o, sp, counts)
    assert (counts.state >= TILED).all()  # every candidate's tiles are known
    assert (counts.state[np.isfinite(e_big)] == COUNTED).all()  # the fitting ones' counts too
    e_small, c_small = score(small, bounds, coef, f, o, sp, counts)  # from the counts filled above
    e_fresh, c_fresh = score(small, bounds, coef, f, o, sp)
    assert np.array_equal(e_small, e_fresh) and np.array_equal(c_small, c_fresh)
    assert np.isinf(e_small).sum() > np.isinf(e_big).sum()  # the small glb rejects some tiles


def test_divisors_largest_first() -> None:
    assert _divisors_down(36) == [36, 18, 12, 9, 6, 4, 3, 2, 1]
    assert _divisors_down(4096)[:3] == [4096, 2048, 1024]
    for k in range(1, 500):
        assert _divisors_down(k) == [d for d in range(k, 0, -1) if k % d == 0]


def test_memo_keeps_one_object_per_equal_design_and_forgets_op_runs_with_them() -> None:
    memo = SearchMemo(capacity=2)
    a, b = _arch(4096.0), _arch(4096.0)
    assert a is not b and a == b
    assert memo.canonical(a) is a and memo.canonical(b) is a  # equal designs: the first object
    memo.keep_op_run((id(a), "op"), (None, None))
    assert memo.op_run((id(a), "op")) == (None, None)
    memo.canonical(_arch(2048.0))
    memo.canonical(_arch(1024.0))  # over capacity: designs and the op runs keyed by their ids go
    assert memo.op_run((id(a), "op")) is None
    memo.keep_op_run((1, "x"), (None, None))
    memo.clear()
    assert memo.op_run((1, "x")) is None and memo.canonical(b) is b
