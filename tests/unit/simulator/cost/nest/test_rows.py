"""The counted candidates of a pool (simulator/cost/nest/rows.py): a scoring that finds its
candidates' counts in the table gives the very numbers of a fresh scoring, every candidate is
entered once however often it comes, and the table grows without losing entries."""

from __future__ import annotations

import math

import numpy as np

from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.problem import gemm
from simulator.cost.nest.rows import OFF, RowTable, find, row_hash
from simulator.cost.nest.score import arch_arrays, score

ONE = (1.0, 1.0, 1.0)


def _arch(glb_bytes: float) -> NestArch:
    levels = (
        NestLevel("rf", (True, True, True), 64.0, (0.1,) * 3, (0.1,) * 3, 16.0),
        NestLevel("glb", (True, True, True), glb_bytes, ONE, ONE, 64.0, double_buffered=True),
        NestLevel("dram", (True, True, True), math.inf, (80.0,) * 3, (80.0,) * 3, 8.0),
    )
    return NestArch("t", levels, 8, 8, 1, (8.0, 8.0, 24.0), 8.0, 0.5, 1e9)


def _candidates(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` gemm candidates over rf, glb and dram (imperfect ones too), with repeats."""
    bounds = np.asarray(gemm("g", 24, 16, 40).bounds, np.int64)
    rng = np.random.default_rng(seed)
    f = np.ones((n, 3, 7), np.int64)
    f[:, 2, :] = bounds
    for d in (1, 2, 3):
        inner = rng.integers(1, 4, (n, 2))
        f[:, 0, d], f[:, 1, d] = inner[:, 0], inner[:, 1]
        f[:, 2, d] = -(-bounds[d] // (inner[:, 0] * inner[:, 1]))
    o = np.tile(np.arange(7), (n, 3, 1))
    return bounds, f, o, np.ones((n, 3, 7), np.int64)


def test_scoring_through_the_table_equals_a_fresh_scoring() -> None:
    bounds, f, o, sp = _candidates(300, 5)
    coef = np.ones((3, 4, 2), np.int64)
    distinct = len({(a.tobytes(), b.tobytes()) for a, b in zip(f, o, strict=True)})
    assert distinct < len(f)  # the batch repeats candidates
    table = RowTable.empty(3, 4)  # small: it grows while scoring
    for glb in (1e6, 600.0):  # two designs with the same counts key: one table
        aa = arch_arrays(_arch(glb))
        e_fresh, c_fresh = score(aa, bounds, coef, f, o, sp)
        e, c = score(aa, bounds, coef, f, o, sp, None, table)
        assert np.array_equal(e, e_fresh) and np.array_equal(c, c_fresh)
    entered = int(table.used[0])
    assert 0 < entered <= distinct  # each candidate once (the ones that fit a level)
    score(arch_arrays(_arch(1e6)), bounds, coef, f, o, sp, None, table)
    assert int(table.used[0]) == entered  # all found again
    for j in range(len(f)):  # every entry is found where it was put, after the growth
        e_at, _ = find(table.slots, table.hashes, table.keys, f[j], o[j], sp[j], np.uint64(row_hash(f[j], o[j], sp[j])))
        if e_at >= 0:
            assert np.array_equal(table.keys[e_at, 0], f[j]) and np.array_equal(table.keys[e_at, 1], o[j])


def test_an_off_table_keeps_nothing() -> None:
    bounds, f, o, sp = _candidates(20, 1)
    score(arch_arrays(_arch(1e6)), bounds, np.ones((3, 4, 2), np.int64), f, o, sp, None, OFF)
    assert len(OFF.slots) == 0 and int(OFF.used[0]) == 0
    OFF.reserve(100)
    assert len(OFF.slots) == 0
