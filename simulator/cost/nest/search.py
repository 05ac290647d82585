"""The mapper: tile factorizations × loop orders × spatial unrollings, scored in batches.

For a problem, a design and a spatial preset:

1. spatial candidates: every choice of factors of the preset's row dimensions (product at most
   the rows; the preset's ``whole_rows`` unrolled whole where they fit) and column dimensions
   (at most the columns), a factor being a divisor of the bound
   or a balanced imperfect tile ``ceil(D / n)`` (``n`` iterations, the last partial); the
   ``spatial_keep`` perfect ones and the ``spatial_keep`` imperfect ones that keep the most PEs
   busy on average go on (ties: the preset's order of preference);
2. random-pruned sampling (Timeloop style): per candidate, ``samples`` random temporal
   factorizations (every prime factor of ``ceil(D / spatial)`` goes to a random level, then
   the outermost loop of each dimension is set to ``ceil(D / the loops inside it)``),
   each level's loop order one of the three stationary orders (the loops an operand ignores
   innermost, so it stays put) or a random permutation; candidates whose tiles overflow a level
   are pruned by the scorer;
3. local search from the best sample of every spatial candidate (the best result wins, ties to
   the earlier candidate, perfect ones first, so adding imperfect candidates never loses what a
   perfect-only search finds): move one prime factor of one dimension between two levels,
   exchange two primes of two dimensions between two levels, or move one loop of a level to
   another place in its order (:func:`.moves.neighbours`); take the best move while it improves.

``Mapper(strategy="fast")`` replaces steps 2 and 3 by a few constructive seeds per candidate,
the same moves scored kind by kind, and a kick (:mod:`.fast`): about a tenth of the scores.

Scores: ``energy`` (pJ, with ``static_pj_per_cycle`` × cycles: leakage and clock, as reported),
``latency`` (cycles) or ``edp`` (their product), ties to the first candidate. Everything is
seeded: the same inputs give the same mapping. A :class:`Mapper` keeps the results per (problem
shape, design, preset, objective), and so does the process's
:data:`~simulator.cost.nest.memo.SHARED` memo across mappers with the same search settings, so a
sweep maps each (shape, design) once (:mod:`simulator.cost.nest.memo`).

Speed: covering, the neighbours and scoring are compiled by numba (:mod:`.moves`, :mod:`.score`;
the sampling's random draws stay numpy's, so the seeds give the mappings they always gave); the
spatial candidates of a (shape, array, preset) are computed once per process, by a compiled
loop (:mod:`.spatial`). A search's samples, its local search's neighbour batches and their
loop-nest counts are kept per process (:mod:`.pool`): the keep states of an op, which differ
only in capacities and DRAM's compression, draw the same samples and reuse the counts, each
scored on its own design, so every search returns what it always returned (docs/memory-model.md,
"Speed of the nest path"). ``restarts`` > 1 adds independent sampled searches (:mod:`.restarts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost.nest import fast, pool, restarts, spatial
from simulator.cost.nest.analysis import NestResult, evaluate
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.counts import axis_coefs
from simulator.cost.nest.mapping import Mapping, NoMappingFits
from simulator.cost.nest.memo import SHARED, SearchMemo
from simulator.cost.nest.moves import cover
from simulator.cost.nest.presets import SpatialPreset
from simulator.cost.nest.problem import RELEVANT, Problem
from simulator.cost.nest.rows import OFF, RowTable
from simulator.cost.nest.score import OBJECTIVES, ArchArrays, arch_arrays, counts_key, score
from simulator.cost.nest.score import objective as objective_of

Objective = Literal["energy", "latency", "edp"]
#: The search strategies (:class:`Mapper`'s ``strategy``): random-pruned sampling and local
#: search (this module), or constructive seeds and local search (:mod:`.fast`).
STRATEGIES = ("sampled", "fast")


def _primes(n: int) -> list[int]:
    out, d = [], 2
    while n > 1:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out


def spatial_candidates(
    problem: Problem, arch: NestArch, preset: SpatialPreset, keep: int
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(rows, cols) spatial factor 7-tuples: the ``keep`` perfect ones (divisors) keeping the most
    PEs busy, then the ``keep`` imperfect ones keeping the most busy on average (a factor ``s`` of
    a bound ``D`` keeps ``D / ceil(D / s)`` busy: the last iteration is partial). The perfect ones
    come first so that the sampling draws for them are those of a perfect-only search."""
    return list(spatial.candidates(problem.bounds, arch.rows, arch.cols, preset, keep))


def clear_caches() -> None:
    """Forget every search result and spatial candidate this process has kept (the shared memo
    and the per-shape candidates), as a process that never mapped anything: the bench does this
    to time the search of a design never seen."""
    SHARED.clear()
    pool.clear()
    spatial.clear()


def _stationary_orders() -> np.ndarray:
    """Per operand, an order with the dimensions it ignores innermost."""
    rows = []
    for rel in RELEVANT:
        rows.append([d for d in range(7) if rel[d]] + [d for d in range(7) if not rel[d]])
    return np.array(rows, dtype=np.int64)


@dataclass
class Mapper:
    """Seeded mapping search with a cache of its own and the process's ``shared`` memo (None:
    only its own), both keyed by everything the search depends on."""

    samples: int = 600
    spatial_keep: int = 3
    imperfect: bool = True  # also propose imperfect spatial factors (False: divisors only)
    local_rounds: int = 30
    seed: int = 0
    #: ``sampled``: ``samples`` random samples per spatial candidate (module docstring);
    #: ``fast``: a few constructive seeds per candidate (:mod:`.fast`; ``samples`` and ``seed``
    #: unused: nothing is random).
    strategy: Literal["sampled", "fast"] = "sampled"
    restarts: int = 1  # searches: this strategy's, then sampled ones seeded seed+1, ... (:mod:`.restarts`)
    cache: dict[tuple[object, ...], Mapping] = field(default_factory=dict)
    shared: SearchMemo | None = field(default_factory=lambda: SHARED, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SimulationError(f"Mapper.strategy: {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if type(self.restarts) is not int or self.restarts < 1:
            raise SimulationError(f"Mapper.restarts: {self.restarts!r} is not an integer >= 1")

    def settings(self) -> tuple[object, ...]:
        """Every search setting a result depends on (the memo's key: :mod:`.memo`)."""
        base: tuple[object, ...] = (self.samples, self.spatial_keep, self.imperfect, self.local_rounds, self.seed)
        base = base if self.strategy == "sampled" else (*base, self.strategy)
        return base if self.restarts == 1 else (*base, ("restarts", self.restarts))

    def best(self, problem: Problem, arch: NestArch, preset: SpatialPreset, objective: Objective = "edp") -> NestResult:
        """The best mapping found for ``problem`` on ``arch``, evaluated. With a ``shared``
        memo, the result of a problem evaluated before is that same result (its arrays read-only:
        results are shared, never to be changed in place)."""
        key = (problem.bounds, problem.stride, problem.dilation, arch.key(), preset, objective)
        settings = self.settings()
        if self.shared is not None:
            done = self.shared.result((key, settings, problem))
            if done is not None:
                self.cache.setdefault(key, done.mapping)
                return done
        if key not in self.cache:
            found = self.shared.get((key, settings)) if self.shared is not None else None
            if found is None:
                found = restarts.best_of(self, problem, arch, preset, objective)
                if self.shared is not None:
                    self.shared.put((key, settings), found)
            self.cache[key] = found
        res = evaluate(problem, arch, self.cache[key])
        if self.shared is not None:
            res.reads_words.setflags(write=False)
            res.writes_words.setflags(write=False)
            self.shared.keep_result((key, settings, problem), res)
        return res

    def _search(self, problem: Problem, arch: NestArch, preset: SpatialPreset, objective: Objective) -> Mapping:
        if self.strategy == "fast":
            return self._search_fast(problem, arch, preset, objective)
        aa = arch_arrays(arch)
        bounds = np.asarray(problem.bounds, np.int64)
        coef = axis_coefs(problem.stride, problem.dilation)
        key: tuple[object, ...] | None = None
        found = None
        if self.shared is not None:  # the samples and their counts, shared (:mod:`.pool`)
            key = (
                problem.bounds,
                problem.stride,
                problem.dilation,
                arch.rows,
                arch.cols,
                arch.fanout_level,
                preset,
                self.samples,
                self.spatial_keep,
                self.imperfect,
                self.seed,
                counts_key(aa),
            )
            found = pool.get(key)
        if found is None:
            found = self._sample(problem, arch, preset, bounds)
            if key is not None:
                pool.put(key, found)
        unrollings, samples = found.unrollings, found.samples
        cost = self._cost(aa, bounds, coef, samples, objective)
        # local search from the best sample of every spatial unrolling; the best result wins
        # (ties: the earlier unrolling, perfect ones first, so a perfect-only search finds the same)
        c = np.inf
        for u in range(len(unrollings)):
            block = cost[u * self.samples : (u + 1) * self.samples]
            if not np.isfinite(block).any():
                continue
            start = u * self.samples + int(np.argmin(block))
            got = self._local(
                aa,
                bounds,
                coef,
                samples.factors[start],
                samples.orders[start],
                samples.spatial[start],
                cost[start],
                objective,
                found,
                key,
            )
            if got[3] < c:
                (f, o, _, c), (rows, cols) = got, unrollings[start // self.samples]
        if not np.isfinite(c):
            raise NoMappingFits(f"{problem.name!r}: no mapping fits {arch.name}")
        return Mapping(
            factors=tuple(tuple(int(x) for x in row) for row in f),  # type: ignore[misc]
            orders=tuple(tuple(int(x) for x in row) for row in o),  # type: ignore[misc]
            spatial_rows=rows,  # type: ignore[arg-type]
            spatial_cols=cols,  # type: ignore[arg-type]
        )

    def _search_fast(self, problem: Problem, arch: NestArch, preset: SpatialPreset, objective: Objective) -> Mapping:
        """The fast strategy (:mod:`.fast`), its batches kept in a pool keyed as the sampled
        search's with the strategy's name instead of the sampling settings."""
        aa = arch_arrays(arch)
        bounds = np.asarray(problem.bounds, np.int64)
        coef = axis_coefs(problem.stride, problem.dilation)
        unrollings = self._unrollings(problem, arch, preset, bounds)
        sh = (problem.bounds, problem.stride, problem.dilation, arch.rows, arch.cols, arch.fanout_level, preset)
        key = (*sh, "fast", self.spatial_keep, self.imperfect, counts_key(aa)) if self.shared is not None else None
        return fast.best_mapping(
            problem.name,
            arch,
            aa,
            bounds,
            coef,
            unrollings,
            _stationary_orders(),
            self.local_rounds,
            lambda batch, rows: self._cost(aa, bounds, coef, batch, objective, rows),
            fast.descender(aa, bounds, coef, OBJECTIVES[objective]),
            key,
        )

    def _unrollings(
        self, problem: Problem, arch: NestArch, preset: SpatialPreset, bounds: np.ndarray
    ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """The spatial candidates searched (perfect ones only unless ``imperfect``); raises if
        none fits."""
        unrollings = spatial_candidates(problem, arch, preset, self.spatial_keep)
        if not self.imperfect:
            unrollings = [(r, k) for r, k in unrollings if all(b % (r[d] * k[d]) == 0 for d, b in enumerate(bounds))]
        if not unrollings:
            raise SimulationError(f"{problem.name!r}: no spatial unrolling of {preset.name} fits {arch.name}")
        return unrollings

    def _sample(self, problem: Problem, arch: NestArch, preset: SpatialPreset, bounds: np.ndarray) -> pool.Pool:
        """The search's random-pruned samples (module docstring, step 2), ``samples`` per spatial
        unrolling, from a generator seeded with ``seed``."""
        rng = np.random.default_rng(self.seed)
        nlev = len(arch.levels)
        stationary = _stationary_orders()
        pool_f, pool_o, pool_s = [], [], []
        unrollings = self._unrollings(problem, arch, preset, bounds)
        rows_n = np.arange(self.samples)
        for rows, cols in unrollings:
            sp = np.ones((nlev, 7), np.int64)
            sp[arch.fanout_level] = np.multiply(rows, cols)
            left = [-(-int(b) // int(s)) for b, s in zip(bounds, sp[arch.fanout_level], strict=True)]
            f = np.ones((self.samples, nlev, 7), np.int64)
            for d in range(7):
                for p in _primes(left[d]):
                    lv = rng.integers(0, nlev, self.samples)
                    f[rows_n, lv, d] *= p
            f[0, :, :] = 1  # everything at DRAM: always fits
            f[0, nlev - 1, :] = left
            cover(f, bounds, sp[arch.fanout_level], arch.fanout_level)
            o = np.empty((self.samples, nlev, 7), np.int64)
            pick = rng.integers(0, 4, (self.samples, nlev))
            perms = rng.permuted(np.tile(np.arange(7), (self.samples, nlev, 1)), axis=2)
            for k in range(3):
                o[pick == k] = stationary[k]
            o[pick == 3] = perms[pick == 3]
            pool_f.append(f)
            pool_o.append(o)
            pool_s.append(np.broadcast_to(sp, f.shape).copy())
        batch = pool.Batch.of(np.concatenate(pool_f), np.concatenate(pool_o), np.concatenate(pool_s))
        return pool.Pool(batch, unrollings)

    def _local(
        self,
        aa: ArchArrays,
        bounds: np.ndarray,
        coef: np.ndarray,
        f: np.ndarray,
        o: np.ndarray,
        s: np.ndarray,
        c: float,
        objective: Objective,
        found: pool.Pool,
        key: tuple[object, ...] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Local search from ``(f, o, s)`` of cost ``c``: the best neighbour while it improves
        (:func:`.moves.neighbours`; ties to the first). The neighbour batches are kept in
        ``found`` (under ``key``; None: not kept)."""
        for _ in range(self.local_rounds):
            start = f.tobytes() + o.tobytes() + s.tobytes()
            batch = found.local.get(start)
            if batch is None:
                batch = pool.neighbour_batch(f, o, s, bounds, aa.fanout)
                if batch is None:
                    break
                if key is not None:
                    pool.add_local(key, found, start, batch)
            nc = self._cost(aa, bounds, coef, batch, objective)
            j = int(np.argmin(nc))
            if not nc[j] < c:
                break
            f, o, c = batch.factors[j], batch.orders[j], float(nc[j])
        return f, o, s, c

    @staticmethod
    def _cost(
        aa: ArchArrays,
        bounds: np.ndarray,
        coef: np.ndarray,
        batch: pool.Batch,
        objective: Objective,
        rows: RowTable = OFF,
    ) -> np.ndarray:
        e, c = score(aa, bounds, coef, batch.factors, batch.orders, batch.spatial, batch.counts, rows)
        return objective_of(  # type: ignore[no-any-return]
            e, c, batch.spatial, aa.static_pj_per_cycle, aa.idle_pe_pj_per_cycle, aa.pes, OBJECTIVES[objective]
        )
