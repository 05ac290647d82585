"""The mapper's fast paths give what the plain code gave: the compiled moves and covering, the
cached spatial candidates, the closed-form union of the counts; and the process's memo shares
mappings across mappers with the same search settings only."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from accelerator.spec import load_arch
from simulator.cost.nest import search
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.memo import SearchMemo
from simulator.cost.nest.moves import cover, neighbours
from simulator.cost.nest.presets import PRESETS, SpatialPreset, eyeriss
from simulator.cost.nest.problem import Problem, conv, conv_from_input, gemm
from simulator.cost.nest.union import union_length as _union

ROOT = Path(__file__).resolve().parents[5]


@pytest.fixture(scope="module")
def eyeriss_arch() -> NestArch:
    return eyeriss(load_arch(ROOT / "scenarios/validation/eyeriss.yaml"))


# --- the plain implementations the compiled ones replaced (the oracles) ---------------------------


def _plain_cover(f: np.ndarray, bounds: np.ndarray, spatial: np.ndarray, fanout: int) -> None:
    nlev = f.shape[1]
    for d in range(7):
        if bounds[d] == 1:
            continue
        cols = [f[:, lv, d] for lv in range(nlev - 1, fanout - 1, -1)]
        cols.append(np.full(f.shape[0], spatial[d]))
        cols += [f[:, lv, d] for lv in range(fanout - 1, -1, -1)]
        slots = np.stack(cols, axis=1)
        levels = [*range(nlev - 1, fanout - 1, -1), -1, *range(fanout - 1, -1, -1)]
        inner = np.ones_like(slots)
        for j in range(slots.shape[1] - 2, -1, -1):
            inner[:, j] = inner[:, j + 1] * slots[:, j + 1]
        first = np.argmax(slots > 1, axis=1)
        rows = np.arange(f.shape[0])
        want = -(-int(bounds[d]) // inner[rows, first])
        for j, lv in enumerate(levels):
            if lv >= 0:
                sel = first == j
                f[sel, lv, d] = want[sel]


def _plain_neighbours(f: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nlev = f.shape[0]
    nf, no = [], []
    moves = [(d, a, p) for d in range(7) for a in range(nlev) for p in sorted(set(search._primes(int(f[a, d]))))]
    for d, a, p in moves:
        for b in range(nlev):
            if b != a:
                g = f.copy()
                g[a, d] //= p
                g[b, d] *= p
                nf.append(g)
                no.append(o)
    for d, a, p in moves:
        for e, b, q in moves:
            if e != d and b != a:
                g = f.copy()
                g[a, d] //= p
                g[b, d] *= p
                g[b, e] //= q
                g[a, e] *= q
                nf.append(g)
                no.append(o)
    for lv in range(nlev):
        loops = [int(d) for d in o[lv] if f[lv, d] > 1]
        rest = [int(d) for d in o[lv] if f[lv, d] <= 1]
        for i, j in itertools.permutations(range(len(loops)), 2):
            if j == i - 1:
                continue
            moved = loops[:i] + loops[i + 1 :]
            moved.insert(j, loops[i])
            g = o.copy()
            g[lv] = moved + rest
            nf.append(f)
            no.append(g)
    return np.array(nf).reshape(-1, nlev, 7), np.array(no).reshape(-1, nlev, 7)


def _plain_spatial(problem: Problem, arch: NestArch, preset: SpatialPreset, keep: int) -> list[object]:
    def tiles(bound: int, extent: int) -> list[int]:
        out = {d for d in range(1, bound + 1) if bound % d == 0 and d <= extent}
        out |= {-(-bound // n) for n in range(1, bound + 1) if -(-bound // n) <= extent}
        return sorted(out)

    def choices(dims: tuple[int, ...], bounds: list[int], extent: int) -> list[dict[int, int]]:
        combos = itertools.product(*(tiles(bounds[d], extent) for d in dims))
        return [dict(zip(dims, c, strict=True)) for c in combos if math.prod(c) <= extent]

    bounds = list(problem.bounds)
    perfect: list[tuple[float, int, tuple[int, ...], tuple[int, ...]]] = []
    imperfect: list[tuple[float, int, tuple[int, ...], tuple[int, ...]]] = []
    for rows in choices(preset.rows, bounds, arch.rows):
        if any(bounds[d] <= arch.rows and rows.get(d, 1) != bounds[d] for d in preset.whole_rows):
            continue
        left = [-(-b // rows.get(d, 1)) for d, b in enumerate(bounds)]
        for cols in choices(preset.cols, left, arch.cols):
            r = tuple(rows.get(d, 1) for d in range(7))
            c = tuple(cols.get(d, 1) for d in range(7))
            busy = math.prod(b / -(-b // (r[d] * c[d])) for d, b in enumerate(bounds))
            found = perfect if all(b % (r[d] * c[d]) == 0 for d, b in enumerate(bounds)) else imperfect
            found.append((-busy, len(found), r, c))
    perfect.sort()
    imperfect.sort()
    return [(r, c) for _, _, r, c in perfect[:keep] + imperfect[:keep]]


# --- the tests ------------------------------------------------------------------------------------


def _random_candidates(rng: np.random.Generator, n: int, nlev: int) -> tuple[np.ndarray, np.ndarray]:
    f = rng.choice([1, 1, 1, 2, 3, 4, 6, 12, 5, 7], size=(n, nlev, 7)).astype(np.int64)
    o = np.array([[rng.permutation(7) for _ in range(nlev)] for _ in range(n)], np.int64)
    return f, o


@pytest.mark.parametrize("seed", range(4))
def test_compiled_neighbours_are_the_plain_ones_in_the_same_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    f, o = _random_candidates(rng, 6, 3 + seed % 2)
    for fi, oi in zip(f, o, strict=True):
        want_f, want_o = _plain_neighbours(fi, oi)
        got_f, got_o = neighbours(fi, oi)
        assert len(want_f) > 0
        np.testing.assert_array_equal(got_f, want_f)
        np.testing.assert_array_equal(got_o, want_o)


@pytest.mark.parametrize("fanout", [0, 1, 2])
def test_compiled_cover_is_the_plain_one(fanout: int) -> None:
    rng = np.random.default_rng(fanout)
    f, _ = _random_candidates(rng, 200, 4)
    f[::7, :, 3] = 1  # no loop above 1 on P: DRAM takes the bound
    bounds = np.array([1, 96, 40, 13, 28, 3, 7], np.int64)
    spatial = np.array([1, 4, 1, 14, 1, 3, 1], np.int64)
    want, got = f.copy(), f.copy()
    _plain_cover(want, bounds, spatial, fanout)
    cover(got, bounds, spatial, fanout)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, f)  # it did change something


@pytest.mark.parametrize(
    ("prob", "preset"),
    [
        (conv_from_input("CONV1", n=4, c=3, h=227, w=227, k=96, r=11, s=11, stride=4), "row_stationary"),
        (conv_from_input("CONV3", n=4, c=256, h=13, w=13, k=384, r=3, s=3, padding=1), "row_stationary"),
        (conv("c", n=1, k=48, c=20, p=13, q=9, r=5, s=5), "weight_stationary"),
        (gemm("g", 100, 37, 64, batch=3), "output_stationary"),
    ],
)
def test_cached_spatial_candidates_are_the_plain_ones(eyeriss_arch: NestArch, prob: Problem, preset: str) -> None:
    want = _plain_spatial(prob, eyeriss_arch, PRESETS[preset], 3)
    assert search.spatial_candidates(prob, eyeriss_arch, PRESETS[preset], 3) == want
    assert search.spatial_candidates(prob, eyeriss_arch, PRESETS[preset], 3) == want  # from the cache


@pytest.mark.parametrize("seed", range(3))
def test_union_closed_form_equals_the_set_union(seed: int) -> None:
    """One or two spatial loops over an axis: the union of the shifted intervals, counted by a set."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n_loops = int(rng.integers(1, 3))
        bounds = rng.integers(2, 6, n_loops)
        steps = rng.integers(1, 9, n_loops)
        start, stop = int(rng.integers(0, 4)), int(rng.integers(1, 12))
        ldim = np.array([0, 3][:n_loops], np.int64)
        lbound = bounds.astype(np.int64)
        lspat = np.ones(n_loops, np.bool_)
        weight = steps.astype(np.int64)  # coef 1: the step is the weight
        got = _union(ldim, lbound, lspat, weight, 0, n_loops, 0, 3, 1, 1, start, stop)
        offsets = {
            sum(k * int(s) for k, s in zip(ks, steps, strict=True)) for ks in itertools.product(*map(range, bounds))
        }
        want = len({off + x for off in offsets for x in range(start, stop)})
        assert got == want


def test_the_shared_memo_serves_mappers_with_the_same_settings(
    eyeriss_arch: NestArch, monkeypatch: pytest.MonkeyPatch
) -> None:
    prob = conv("c", n=2, k=16, c=8, p=6, q=6, r=3, s=3)
    rs = PRESETS["row_stationary"]
    memo = SearchMemo()
    ran: list[int] = []
    real = search.Mapper._search

    def counted(self: search.Mapper, *args: object) -> object:
        ran.append(self.samples)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(search.Mapper, "_search", counted)
    first = search.Mapper(samples=50, shared=memo).best(prob, eyeriss_arch, rs, "edp")
    again = search.Mapper(samples=50, shared=memo).best(prob, eyeriss_arch, rs, "edp")
    assert ran == [50] and again is first and (memo.hits, memo.misses) == (0, 1)  # the result itself
    with pytest.raises(ValueError, match="read-only"):
        first.reads_words[0, 0] = 1.0  # shared: never changed in place
    twin = search.Mapper(samples=50, shared=memo).best(replace(prob, name="twin", copies=2), eyeriss_arch, rs, "edp")
    assert ran == [50] and (memo.hits, memo.misses) == (1, 1)  # the same shape: the mapping, evaluated anew
    assert twin.mapping == first.mapping and twin.energy_pj == pytest.approx(2 * first.energy_pj, rel=1e-12)
    search.Mapper(samples=60, shared=memo).best(prob, eyeriss_arch, rs, "edp")  # other settings: searched
    search.Mapper(samples=50, shared=memo).best(prob, eyeriss_arch, rs, "energy")  # other objective
    alone = search.Mapper(samples=50, shared=None).best(prob, eyeriss_arch, rs, "edp")
    assert ran == [50, 60, 50, 50] and alone.mapping == first.mapping and len(memo) == 3  # three mappings


def test_memo_drops_the_oldest_beyond_its_capacity_and_clears() -> None:
    memo = SearchMemo(capacity=2)
    marks = [object() for _ in range(3)]
    for i, m in enumerate(marks):
        memo.put(i, m)  # type: ignore[arg-type]
    assert memo.get(0) is None and memo.get(1) is marks[1] and memo.get(2) is marks[2]
    assert (memo.hits, memo.misses, len(memo)) == (2, 1, 2)
    memo.clear()
    assert (memo.hits, memo.misses, len(memo)) == (0, 0, 0)
