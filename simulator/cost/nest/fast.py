"""The mapper's fast strategy (``Mapper(strategy="fast")``): a few constructive seeds per spatial
candidate instead of random samples, the sampled search's moves from the best of them, and a kick.

For every spatial candidate of :func:`~simulator.cost.nest.search.spatial_candidates`:

1. seeds (temporal mapping by capacity, as LOMA and ZigZag build theirs): ``ceil(D / spatial)``
   of every dimension at DRAM, then the levels below it filled innermost first
   (:func:`.fast_kernels.fill_level`): prime factors move down from DRAM in the innermost-first
   dimension sequence of a stationary order (:func:`~.search._stationary_orders`: the
   dimensions an operand ignores innermost), smallest prime first, each kept if every tile
   still fits (the scorer's capacity rule, :func:`.tiles.tiles_fit`). Fill variants
   (:func:`.fast_kernels.variants`): each of the three stationary orders (at every level below
   DRAM); one prime of each dimension in turn (balanced tiles) or all primes of a dimension
   before the next; with two or more levels below DRAM, also the innermost level left empty.
   Each fill gets each of the three stationary orders at DRAM; duplicates go: at most 12 fills
   × 3 = 36 seeds per candidate (6 × 3 with one level below DRAM);
2. all seeds of all candidates are scored in one batch; the :data:`KEEP` candidates with the
   best best seed, among those within :data:`PRUNE` times the best one, go on;
3. local search from the best seed of each (:func:`descender`): the sampled search's moves
   (:func:`.moves.neighbours`: prime moves, exchanges, loop moves, in that order), scored kind
   by kind: the best move of the first kind that holds an improving one is taken (a step that
   a prime move improves scores no exchange), until no move improves;
4. a kick (iterated local search) of each local optimum within :data:`KICK_WITHIN` of the best
   one (:func:`.fast_kernels.kicks`): for each level below DRAM and each dimension there, its
   factor sent to DRAM and the level refilled with the other dimensions, which trades a whole
   tile for another (what single primes and exchanges cannot do through a full buffer); local
   search from the best kick, kept if it ends lower, :data:`KICKS` times at most. The best
   result wins (ties: the earlier spatial candidate, perfect ones first).

Nothing is random: the same inputs give the same mapping. Seeds and kicks are kept with their
counts in a pool of their own (:mod:`.pool`), and every candidate the pool's searches count is
kept in its table (:mod:`.rows`), so keep states of an op whose seeds or paths coincide, and
neighbour batches that overlap, count each candidate once. The local search runs compiled, a
whole descent per call (:func:`.fast_kernels.descend`). Quality and speed against the sampled
search: docs/memory-model.md ("The fast strategy").
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np

from simulator.cost.nest import fast_kernels as kernels
from simulator.cost.nest import pool
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.mapping import Mapping as MappingT
from simulator.cost.nest.mapping import NoMappingFits
from simulator.cost.nest.rows import RowTable
from simulator.cost.nest.score import ArchArrays, arch_args

#: Candidates whose best seed costs more than this many times the best candidate's best seed
#: get no local search (this model's choice, measured on the searches of docs/memory-model.md,
#: "The fast strategy": 1.1 and 1.2 left the validation searches 0.8 % and 0.2 % worse).
PRUNE = 1.5
#: At most this many spatial candidates, best seeds first, get a local search (this model's
#: choice, measured there before the kick: 2 missed the best candidate where best seeds tie
#: across candidates; 4 gained under 0.1 % of objective for 13 % more scores).
KEEP = 3
#: A local optimum within this factor of the best one gets a kick (this model's choice: as good
#: there as kicking every one, with 3.5 % fewer scores; 1.05 missed kicks that won on the
#: validation searches, 0.8 % of objective).
KICK_WITHIN = 1.2
#: Kicks in a row while they improve (this model's choice: a second one never helped there).
KICKS = 1

#: The objective of every candidate of a batch (``inf`` where it does not fit).
CostFn = Callable[[pool.Batch], np.ndarray]
#: Keeps a batch (with the counts its scoring fills in) under the candidate it moves from.
KeepFn = Callable[[bytes, pool.Batch], None]
#: Local search from ``(f, o)`` with spatial factors ``s`` of cost ``c``, at most ``rounds``
#: steps (:func:`descender`): the ``(f, o, c)`` it ends at.
DescendFn = Callable[[np.ndarray, np.ndarray, np.ndarray, float, int], tuple[np.ndarray, np.ndarray, float]]
#: :data:`CostFn` and :data:`DescendFn` given the pool's counted candidates (:mod:`.rows`) too.
RowsCostFn = Callable[[pool.Batch, RowTable], np.ndarray]
RowsDescendFn = Callable[
    [np.ndarray, np.ndarray, np.ndarray, float, int, RowTable], tuple[np.ndarray, np.ndarray, float]
]


def capacity_args(aa: ArchArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fast kernels' capacity arguments on ``aa``, in their order: what each level holds, bytes
    per word, the tiles each holds (``ArchArrays.tile_copies``), which it prefetches, the pool and the
    partitions (:func:`.tiles.tiles_fit`)."""
    return aa.holds, aa.word_bytes, aa.tile_copies, aa.prefetched, aa.size_bytes, aa.operand_bytes


def spatial_factors(aa: ArchArrays, unrollings: Sequence[tuple[tuple[int, ...], tuple[int, ...]]]) -> np.ndarray:
    """Each unrolling's spatial factors at every level of ``aa``, ``(unrollings, levels, 7)``."""
    spatial = np.ones((len(unrollings), aa.holds.shape[0], 7), np.int64)
    for u, (rows, cols) in enumerate(unrollings):
        spatial[u, aa.fanout] = np.multiply(rows, cols)
    return spatial


def seeds(
    aa: ArchArrays,
    bounds: np.ndarray,
    coef: np.ndarray,
    spatial: np.ndarray,
    stationary: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`.fast_kernels.seeds` of every spatial unrolling (``spatial``: :func:`spatial_factors`)
    on the design ``aa``: ``(factors, orders, spatial, owner)``, ``owner`` the unrolling of each seed."""
    nlev = aa.holds.shape[0]
    return kernels.seeds(  # type: ignore[no-any-return]
        bounds, coef, spatial, aa.fanout, *capacity_args(aa), stationary, kernels.variants(nlev)
    )


def kicks(
    aa: ArchArrays,
    bounds: np.ndarray,
    coef: np.ndarray,
    stationary: np.ndarray,
    f: np.ndarray,
    o: np.ndarray,
    sp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`.fast_kernels.kicks` of the candidate ``(f, o)`` with spatial factors ``sp`` on ``aa``."""
    return kernels.kicks(  # type: ignore[no-any-return]
        f, o, sp, aa.fanout, bounds, coef, *capacity_args(aa), stationary
    )


def descender(aa: ArchArrays, bounds: np.ndarray, coef: np.ndarray, kind: int) -> RowsDescendFn:
    """The local search (module docstring, step 3) on the design ``aa`` for the objective ``kind``
    (:data:`.score.OBJECTIVES`): :func:`.fast_kernels.descend`, compiled, each step taking the
    best move of the first kind of :func:`.moves.neighbours` (prime moves, exchanges, loop moves)
    that improves (ties to the first); the table grows between its calls."""
    args, fanout = arch_args(aa), aa.fanout
    static, idle, pes = aa.static_pj_per_cycle, aa.idle_pe_pj_per_cycle, aa.pes

    def descend(
        f: np.ndarray, o: np.ndarray, s: np.ndarray, c: float, rounds: int, rows: RowTable
    ) -> tuple[np.ndarray, np.ndarray, float]:
        while True:
            f, o, c, steps, need = kernels.descend(
                f, o, s, c, rounds, bounds, coef, fanout, args, rows.arrays(), static, idle, pes, kind
            )
            if need == 0:
                return f, o, float(c)
            rows.reserve(int(need))
            rounds -= int(steps)

    return descend


def search(
    aa: ArchArrays,
    bounds: np.ndarray,
    coef: np.ndarray,
    unrollings: list[tuple[tuple[int, ...], tuple[int, ...]]],
    stationary: np.ndarray,
    rounds: int,
    cost: CostFn,
    descend: DescendFn,
    keep: KeepFn,
    kept: Mapping[bytes, pool.Batch],
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The fast strategy's best ``(factors, orders, cost, unrolling index)`` (module docstring);
    cost ``inf`` when no seed fits."""
    spatial = spatial_factors(aa, unrollings)
    f, o, s, owner = seeds(aa, bounds, coef, spatial, stationary)
    start = b"seeds" + f.tobytes() + o.tobytes() + s.tobytes()
    batch = kept.get(start)  # the same seeds (another keep state of the op): their counts
    if batch is None:
        batch = pool.Batch.of(f, o, s)
        keep(start, batch)
    sc = cost(batch)
    best_of = [int(i) for i in kernels.best_of(sc, owner, len(unrollings))]
    floor = min(float(sc[i]) for i in best_of)
    if not np.isfinite(floor):
        return np.empty(0), np.empty(0), np.inf, -1
    ranked = sorted(range(len(unrollings)), key=lambda u: (float(sc[best_of[u]]), u))
    chosen = sorted(u for u in ranked[:KEEP] if sc[best_of[u]] <= PRUNE * floor)
    ends = []
    for u in chosen:
        i = best_of[u]
        ends.append(descend(batch.factors[i], batch.orders[i], batch.spatial[i], float(sc[i]), rounds))
    low = min(c for _, _, c in ends)
    c_best, f_best, o_best, u_best = np.inf, batch.factors[0], batch.orders[0], -1
    for u, (f, o, c) in zip(chosen, ends, strict=True):
        if c <= KICK_WITHIN * low:
            f, o, c = kick(aa, bounds, coef, stationary, f, o, spatial[u], c, rounds, cost, descend, keep, kept)
        if c < c_best:
            c_best, f_best, o_best, u_best = c, f, o, u
    return f_best, o_best, c_best, u_best


def kick(
    aa: ArchArrays,
    bounds: np.ndarray,
    coef: np.ndarray,
    stationary: np.ndarray,
    f: np.ndarray,
    o: np.ndarray,
    sp: np.ndarray,
    c: float,
    rounds: int,
    cost: CostFn,
    descend: DescendFn,
    keep: KeepFn,
    kept: Mapping[bytes, pool.Batch],
) -> tuple[np.ndarray, np.ndarray, float]:
    """Iterated local search from the local optimum ``(f, o)`` of cost ``c`` (module docstring,
    step 4): local search from the best of its kicks (:func:`.fast_kernels.kicks`), kept if it
    ends lower, at most :data:`KICKS` times. Kick batches are kept in ``kept`` by the candidate
    they move from."""
    for _ in range(KICKS):
        start = b"kick" + f.tobytes() + o.tobytes() + sp.tobytes()
        kb = kept.get(start)
        if kb is None:
            kf, ko = kicks(aa, bounds, coef, stationary, f, o, sp)
            kb = pool.Batch.of(kf, ko, np.broadcast_to(sp, kf.shape).copy())
            keep(start, kb)
        kc = cost(kb)
        if len(kc) == 0 or not np.isfinite(kc.min()):
            break
        j = int(np.argmin(kc))
        f2, o2, c2 = descend(kb.factors[j], kb.orders[j], sp, float(kc[j]), rounds)
        if not c2 < c:
            break
        f, o, c = f2, o2, c2
    return f, o, c


def best_mapping(
    name: str,
    arch: NestArch,
    aa: ArchArrays,
    bounds: np.ndarray,
    coef: np.ndarray,
    unrollings: list[tuple[tuple[int, ...], tuple[int, ...]]],
    stationary: np.ndarray,
    rounds: int,
    cost: RowsCostFn,
    descend: RowsDescendFn,
    key: Hashable | None,
) -> MappingT:
    """The mapping :func:`search` finds for the problem ``name``, its batches kept in the
    process's pool under ``key`` (None: for this search only); raises if nothing fits."""
    kept = pool.get(key) if key is not None else None
    if kept is None:
        nothing = np.zeros((0, len(arch.levels), 7), np.int64)
        kept = pool.Pool(
            pool.Batch.of(nothing, nothing, nothing), unrollings, rows=RowTable.empty(len(arch.levels), 256)
        )
        if key is not None:
            pool.put(key, kept)
    into, rows, held = kept, kept.rows, kept.rows.nbytes
    f, o, c, u = search(
        aa,
        bounds,
        coef,
        unrollings,
        stationary,
        rounds,
        lambda batch: cost(batch, rows),
        lambda f, o, s, c, rounds: descend(f, o, s, c, rounds, rows),
        lambda start, batch: pool.add_local(key, into, start, batch),
        kept.local,
    )
    pool.grew(key, kept, kept.rows.nbytes - held)
    if not np.isfinite(c):
        raise NoMappingFits(f"{name!r}: no mapping fits {arch.name}")
    return MappingT(
        factors=tuple(tuple(int(x) for x in row) for row in f),  # type: ignore[misc]
        orders=tuple(tuple(int(x) for x in row) for row in o),  # type: ignore[misc]
        spatial_rows=unrollings[u][0],  # type: ignore[arg-type]
        spatial_cols=unrollings[u][1],  # type: ignore[arg-type]
    )
