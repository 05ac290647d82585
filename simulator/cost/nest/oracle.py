"""A brute-force simulator of the loop nest, the oracle for :mod:`simulator.cost.nest.counts`.

For tiny problems only: it enumerates every temporal iteration of the mapped nest, computes the
set of elements every instance of every level holds (an input tile is the window of rows and
columns its points span), and counts what moves when a tile changes. The buffer policy it
simulates is the one the analysis assumes, stated here without its formulas:

- a level's tile changes when the index of a loop above it that the operand depends on moves
  (the address generator follows the nest; it does not compare contents: a move that happens to
  revisit the same window still reloads it); the words that arrive are the new tile's, except
  when the loop that moved is the innermost loop above the level that touches the operand —
  then what the old and the new tile share stays (a sliding window);
- the parent reads, per change, the union of what the instances under it receive (multicast);
- an output tile drains to its parent at every change and at the end (partial sums of the
  instances under one parent summed on the way), and a tile the parent has seen before is read
  back from it (one instance receives each element; the others start at zero);
- an imperfect mapping (an outermost loop of ``ceil(D / t)`` iterations, the last partial) runs
  as a main nest of the full iterations and then a remainder nest (loop peeling), nothing kept
  across the seam; each is enumerated as above;
- packed precision (``lanes`` > 1, :func:`simulator.cost.nest.arch.packed`): the mapping's ``C``
  loops step packed words and a loop of ``lanes`` consecutive values of ``C`` sits innermost,
  inside the datapath's registers (the PE's lanes); every element is enumerated as a value and
  counted as the storage word that holds it (value ``c`` in word ``c // lanes``), so a register
  load of weights or inputs is one word of ``lanes`` values and a partial sum is updated once per
  beat. :func:`beats_and_macs` counts the beats (temporal iterations that run) and the MACs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import INP, OUT, RELEVANT, WGT, C, Problem

Loop = tuple[int, int, int, bool]  # level, dim, bound, spatial
Elems = frozenset[tuple[int, ...]]
Change = tuple[Elems, Elems, Elems]  # old tile, new tile, words that arrive


def _loops(mapping: Mapping, arch: NestArch) -> list[Loop]:
    loops: list[Loop] = []
    spatial = mapping.spatial()
    for lv in range(len(arch.levels) - 1, -1, -1):
        loops += [(lv, d, mapping.factors[lv][d], False) for d in mapping.orders[lv] if mapping.factors[lv][d] > 1]
        if lv == arch.fanout_level:
            loops += [(lv, d, spatial[d], True) for d in range(7) if spatial[d] > 1]
    return loops


def _element(o: int, idx: list[int], prob: Problem, lanes: int = 1) -> tuple[int, ...]:
    """The storage word of operand ``o`` at point ``idx`` (``idx[C]`` a value: its word is
    ``c // lanes``)."""
    n, k, c, p, q, r, s = idx
    c //= lanes
    if o == WGT:
        return (k, c, r, s)
    if o == OUT:
        return (n, k, p, q)
    return (n, c, p * prob.stride[0] + r * prob.dilation[0], q * prob.stride[1] + s * prob.dilation[1])


def _tile(
    o: int, fixed: dict[int, int], inner: list[int], loops: list[Loop], prob: Problem, lanes: int = 1
) -> frozenset[tuple[int, ...]]:
    """Elements (storage words) touched by the loops ``inner`` (indices into ``loops``) with the
    others at ``fixed``."""
    pts = set()
    for combo in itertools.product(*(range(loops[i][2]) for i in inner)):
        val = dict(fixed)
        val.update(zip(inner, combo, strict=True))
        idx = [0] * 7
        for i, (_, d, _, _) in enumerate(loops):
            idx[d] = idx[d] * loops[i][2] + val[i]
        pts.add(_element(o, idx, prob, lanes))
    if o != INP or not pts:
        return frozenset(pts)
    # an input tile is the window its points span
    ns = {e[0] for e in pts}
    cs = {e[1] for e in pts}
    hs = range(min(e[2] for e in pts), max(e[2] for e in pts) + 1)
    ws = range(min(e[3] for e in pts), max(e[3] for e in pts) + 1)
    return frozenset(itertools.product(ns, cs, hs, ws))


def _instances(spatial_above: list[int], loops: list[Loop]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(loops[i][2]) for i in spatial_above))


def _peel(bound: int, loops: list[int]) -> list[list[int]]:
    """The loop bounds (outermost first) of each pass covering ``bound`` points with ``loops``:
    the outermost loop with a bound above 1 runs its full iterations, then the remainder (its
    partial last iteration) is covered by the loops inside it, recursively."""
    if not loops:
        assert bound == 1
        return [[]]
    head, rest = loops[0], loops[1:]
    tile = math.prod(rest)
    full, left = divmod(bound, tile)
    out = [[full, *r] for r in _peel(tile, rest)] if full else []
    if left:
        out += [[1, *r] for r in _peel(left, rest)]
    assert full + (1 if left else 0) <= head
    return out


def _passes(problem: Problem, arch: NestArch, mapping: Mapping) -> list[tuple[Problem, Mapping, bool]]:
    """The perfect nests an imperfect mapping runs, one after the other (every combination of the
    dimensions' passes), each with whether it revisits outputs (a later pass of a dimension the
    outputs do not depend on: C, R or S)."""
    slots = [(lv, False) for lv in range(len(arch.levels) - 1, arch.fanout_level - 1, -1)]
    slots += [(arch.fanout_level, True)] + [(lv, False) for lv in range(arch.fanout_level - 1, -1, -1)]
    spatial = mapping.spatial()
    per_dim = []
    for d in range(7):
        loops = [spatial[d] if sp else mapping.factors[lv][d] for lv, sp in slots]
        per_dim.append(_peel(problem.bounds[d], loops))
    out = []
    for which in itertools.product(*(range(len(p)) for p in per_dim)):
        combo = [per_dim[d][j] for d, j in enumerate(which)]
        revisit = any(j > 0 and not RELEVANT[OUT][d] for d, j in enumerate(which))
        factors = [[1] * 7 for _ in arch.levels]
        rows, cols = list(mapping.spatial_rows), list(mapping.spatial_cols)
        for d, bounds in enumerate(combo):
            for (lv, sp), b in zip(slots, bounds, strict=True):
                if not sp:
                    factors[lv][d] = b
                elif b != spatial[d]:  # a remainder uses part of the array: keep it on one axis
                    rows[d], cols[d] = (b, 1) if mapping.spatial_rows[d] > 1 else (1, b)
        pm = Mapping(tuple(map(tuple, factors)), mapping.orders, tuple(rows), tuple(cols))  # type: ignore[arg-type]
        pb = tuple(math.prod(b) for b in combo)
        out.append((Problem(problem.name, pb, problem.stride, problem.dilation), pm, revisit))  # type: ignore[arg-type]
    return out


def simulate(problem: Problem, arch: NestArch, mapping: Mapping, lanes: int = 1) -> tuple[np.ndarray, float]:
    """Per level (index 0: datapath registers) and operand, words of one copy counted by
    enumeration (reads, writes, fills, drains as in ``counts.access_counts``); and the distinct
    output words written to the top level. An imperfect mapping runs as its passes (a main nest
    of the full iterations, then the remainder), each enumerated on its own. ``lanes`` > 1:
    ``mapping`` maps ``packed(problem, lanes)`` and the values are enumerated through the PE's
    lanes (module docstring)."""
    acc = np.zeros((len(arch.levels) + 1, 3, 4))
    final = 0.0
    for prob, m, revisit in _passes(_packed(problem, lanes), arch, mapping):
        a, f = _simulate_perfect(prob, arch, m, revisit, lanes)
        acc += a
        final += 0.0 if revisit else f
    return acc, final


def _packed(problem: Problem, lanes: int) -> Problem:
    """``problem`` with ``C`` in words of ``lanes`` values (the oracle's own ceiling)."""
    b = list(problem.bounds)
    b[C] = -(-b[C] // lanes)
    return Problem(problem.name, tuple(b), problem.stride, problem.dilation, problem.copies)  # type: ignore[arg-type]


def beats_and_macs(problem: Problem, arch: NestArch, mapping: Mapping, lanes: int = 1) -> tuple[int, int, int]:
    """``(beats, slots, macs)`` of one copy by enumeration: the temporal iterations of ``mapping``
    (on ``packed(problem, lanes)``) that run (their first spatial point inside the bounds; each
    PE does one beat per cycle), the lanes' MAC slots of the points inside the bounds (``lanes``
    per point), and the MACs among them (the slots whose value of ``C`` exists)."""
    pb = _packed(problem, lanes)
    loops = _loops(mapping, arch)
    temporal = [i for i, lp in enumerate(loops) if not lp[3]]
    spatial = [i for i, lp in enumerate(loops) if lp[3]]
    beats = slots = macs = 0
    for t in itertools.product(*(range(loops[i][2]) for i in temporal)):
        ran = False
        for sp in itertools.product(*(range(loops[i][2]) for i in spatial)):
            val = dict(zip(temporal, t, strict=True))
            val.update(zip(spatial, sp, strict=True))
            idx = [0] * 7
            for i, (_, d, bound, _) in enumerate(loops):
                idx[d] = idx[d] * bound + val[i]
            if any(idx[d] >= pb.bounds[d] for d in range(7)):
                continue
            ran = True
            slots += lanes
            macs += sum(1 for j in range(lanes) if idx[C] * lanes + j < problem.bounds[C])
        beats += ran
    return beats, slots, macs


def _simulate_perfect(
    problem: Problem, arch: NestArch, mapping: Mapping, revisit: bool = False, lanes: int = 1
) -> tuple[np.ndarray, float]:
    """One perfect nest; ``revisit``: its outputs hold partial sums of an earlier pass (a
    remainder of a reduction dimension), so every output tile it loads is read back; ``lanes``:
    the PE's lanes, a loop of ``C`` values inside the registers."""
    loops = _loops(mapping, arch)
    if lanes > 1:
        loops.append((-1, C, lanes, True))  # the lanes: inside every level, the registers included
    nlev = len(arch.levels)
    temporal = [i for i, lp in enumerate(loops) if not lp[3]]
    acc = np.zeros((nlev + 1, 3, 4))
    final: set[tuple[int, ...]] = set()

    def inside(c: int) -> list[int]:
        return [i for i, lp in enumerate(loops) if lp[0] <= c]

    for o in range(3):
        chain = [-1] + [lv for lv in range(nlev) if arch.levels[lv].holds[o]]
        for child, parent in itertools.pairwise(chain):
            inner = inside(child)
            above_t = [i for i in temporal if i not in inner]
            sp_above_c = [i for i, lp in enumerate(loops) if lp[3] and i not in inner]
            sp_above_p = [i for i in sp_above_c if loops[i][0] > parent]
            rel = [i for i in above_t if RELEVANT[o][loops[i][1]]]
            innermost_rel = rel[-1] if rel else -1
            held: dict[tuple[int, ...], frozenset[tuple[int, ...]]] = {}
            written: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
            prev: tuple[int, ...] | None = None
            for t in itertools.product(*(range(loops[i][2]) for i in above_t)):
                moved = -1
                if prev is not None:
                    moved = next(above_t[j] for j in range(len(t)) if t[j] != prev[j])
                # the address generator reloads when an index the operand depends on moves
                changed = prev is None or any(
                    t[j] != prev[j] and RELEVANT[o][loops[above_t[j]][1]] for j in range(len(t))
                )
                prev = t
                fixed_t = dict(zip(above_t, t, strict=True))
                changes: dict[tuple[int, ...], list[Change]] = {}
                for s in _instances(sp_above_c, loops):
                    fixed = dict(fixed_t)
                    fixed.update(zip(sp_above_c, s, strict=True))
                    old = held.get(s)
                    if old is not None and not changed:
                        continue
                    new = _tile(o, fixed, inner, loops, problem, lanes)
                    held[s] = new
                    kept = old & new if (old is not None and moved == innermost_rel) else frozenset()
                    g = tuple(fixed[i] for i in sp_above_p)
                    changes.setdefault(g, []).append((old or frozenset(), new, new - kept))
                for g, members in changes.items():
                    if o != OUT:
                        acc[child + 1, o, 1] += sum(len(x) for _, _, x in members)
                        acc[child + 1, o, 2] += sum(len(x) for _, _, x in members)
                        acc[parent + 1, o, 0] += len(frozenset().union(*(x for _, _, x in members)))
                        continue
                    seen = written.setdefault(g, set())
                    new_all = frozenset().union(*(new for _, new, _ in members))
                    top = final if parent == nlev - 1 else None
                    _drain(acc, child, parent, [old for old, _, _ in members if old], seen, top)
                    back = len(
                        frozenset().union(*(new for _, new, _ in members)) & (seen | (new_all if revisit else set()))
                    )
                    acc[parent + 1, o, 0] += back
                    acc[child + 1, o, 1] += back
                    acc[child + 1, o, 2] += back
            if o == OUT:
                last: dict[tuple[int, ...], list[frozenset[tuple[int, ...]]]] = {}
                for s, tile in held.items():
                    fixed = dict(zip(sp_above_c, s, strict=True))
                    last.setdefault(tuple(fixed[i] for i in sp_above_p), []).append(tile)
                for g, tiles in last.items():
                    _drain(
                        acc, child, parent, tiles, written.setdefault(g, set()), final if parent == nlev - 1 else None
                    )
    return acc, float(len(final))


def _drain(
    acc: np.ndarray,
    child: int,
    parent: int,
    tiles: list[frozenset[tuple[int, ...]]],
    seen: set[tuple[int, ...]],
    final: set[tuple[int, ...]] | None,
) -> None:
    if not tiles:
        return
    acc[child + 1, OUT, 0] += sum(len(x) for x in tiles)
    acc[child + 1, OUT, 3] += sum(len(x) for x in tiles)
    union = frozenset().union(*tiles)
    acc[parent + 1, OUT, 1] += len(union)
    seen |= union
    if final is not None:
        final |= union
