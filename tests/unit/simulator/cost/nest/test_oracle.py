"""The analytic access counts against the brute-force oracle on random tiny nests and mappings;
DRAM traffic against the unique footprint; energy against its components."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cost.nest import oracle
from simulator.cost.nest.analysis import evaluate, nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.counts import peeled_counts
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import INP, OUT, WGT, Problem

ONE = (1.0, 1.0, 1.0)


def _primes(n: int) -> list[int]:
    out, d = [], 2
    while n > 1:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple[Problem, NestArch, Mapping]:
    bounds = [draw(st.sampled_from([1, 1, 2, 3, 4, 5])) for _ in range(7)]
    while math.prod(bounds) > 72:
        bounds[draw(st.integers(0, 6))] = 1
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    nlev = draw(st.integers(2, 4))
    levels = [
        NestLevel(
            f"l{i}",
            tuple(draw(st.booleans()) for _ in range(3)),  # type: ignore[arg-type]
            1e9,
            (0.5 + i, 0.25 + i, 1.0 + i),
            (0.75 + i, 0.5 + i, 1.5 + i),
            4.0,
            double_buffered=draw(st.booleans()),
        )
        for i in range(nlev - 1)
    ]
    levels.append(NestLevel("dram", (True, True, True), math.inf, (20.0,) * 3, (25.0,) * 3, 1.0))
    arch = NestArch("random", tuple(levels), 72, 72, draw(st.integers(0, nlev - 1)), (8.0, 8.0, 16.0), 8.0, 1.0, 1e9)
    factors = [[1] * 7 for _ in range(nlev)]
    rows, cols = [1] * 7, [1] * 7
    if draw(st.booleans()):
        # imperfect: an outermost loop of ceil(D / t) iterations over random loops inside it
        fanout = arch.fanout_level
        slots = [(lv, False) for lv in range(nlev - 1, fanout - 1, -1)]
        slots += [(fanout, True)] + [(lv, False) for lv in range(fanout - 1, -1, -1)]
        for d in range(7):
            if bounds[d] == 1:
                continue
            top = draw(st.integers(0, len(slots) - 1))
            inner = [draw(st.integers(1, 3)) for _ in slots[top + 1 :]]
            if math.prod(inner) >= bounds[d]:
                inner = [1] * len(inner)
            loops = [-(-bounds[d] // math.prod(inner)), *inner]
            for (lv, sp), b in zip(slots[top:], loops, strict=True):
                if not sp:
                    factors[lv][d] = b
                elif draw(st.booleans()):
                    rows[d] = b
                else:
                    cols[d] = b
    else:
        for d in range(7):
            for p in _primes(bounds[d]):
                slot = draw(st.integers(0, nlev + 1))
                if slot < nlev:
                    factors[slot][d] *= p
                elif slot == nlev:
                    rows[d] *= p
                else:
                    cols[d] *= p
    orders = tuple(tuple(draw(st.permutations(range(7)))) for _ in range(nlev))
    mapping = Mapping(
        tuple(tuple(f) for f in factors),  # type: ignore[misc]
        orders,  # type: ignore[arg-type]
        tuple(rows),  # type: ignore[arg-type]
        tuple(cols),  # type: ignore[arg-type]
    )
    return Problem("tiny", tuple(bounds), stride, dilation), arch, mapping  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(cases())
def test_counts_equal_the_oracle(case: tuple[Problem, NestArch, Mapping]) -> None:
    problem, arch, mapping = case
    acc, final, _, _, valid = peeled_counts(*nest_arrays(problem, arch, mapping))
    assert valid
    want, want_final = oracle.simulate(problem, arch, mapping)
    np.testing.assert_array_equal(acc, want)
    assert final == want_final == problem.footprint(OUT)
    macs = sum(p.macs for p, _, _ in oracle._passes(problem, arch, mapping))
    assert macs == problem.macs  # the passes cover the iteration space exactly once


@settings(max_examples=80, deadline=None)
@given(cases())
def test_dram_traffic_at_least_the_footprint_and_energy_adds_up(case: tuple[Problem, NestArch, Mapping]) -> None:
    problem, arch, mapping = case
    res = evaluate(problem, arch, mapping)
    assert res.reads_words[-1, WGT] >= problem.footprint(WGT)
    assert res.reads_words[-1, INP] >= problem.footprint(INP)
    assert res.writes_words[-1, OUT] >= problem.footprint(OUT)
    bits = np.asarray(arch.word_bits)
    total = problem.macs * arch.mac_pj
    for i, lv in enumerate(arch.levels):
        total += float((res.reads_words[i] * bits * lv.read_pj_per_bit).sum())
        total += float((res.writes_words[i] * bits * lv.write_pj_per_bit).sum())
    # final outputs reach DRAM at the output width (8 b), not the partial-sum width (16 b)
    total -= problem.footprint(OUT) * 8.0 * 25.0
    assert math.isclose(res.energy_pj, total, rel_tol=1e-12)
    assert res.cycles >= res.compute_cycles >= problem.macs / (arch.rows * arch.cols)
