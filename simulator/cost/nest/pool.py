"""The mapper's sampled candidates and their loop-nest counts, kept across searches of a process.

A search's samples (:meth:`simulator.cost.nest.search.Mapper._search`) depend only on the
problem's shape, the array, the level count and fan-out level, the spatial preset and the search
settings (seed, samples, spatial candidates kept, imperfect factors), not on the levels'
capacities or DRAM's compression. The loop-nest counts of a candidate (its tiles, accesses, MAC
cycles and folds: :class:`~simulator.cost.nest.score.Counts`) depend in addition only on
:func:`~simulator.cost.nest.score.counts_key` (which levels hold which operand, which are double
buffered, the pipeline). So the keep states of one op (:mod:`simulator.cost.nest_homes`: the same
design with some room taken and some DRAM traffic dropped), and designs of a sweep that differ
only in sizes and energies, draw the same samples and share their counts: each is scored on its
own capacities and energies from the shared counts, the same numbers a fresh search computes, so
every search still returns the mapping it always returned.

The sampled search's neighbour batches are kept with their pool, keyed by the candidate they
move from: two searches that walk the same path share the counts along it. The fast strategy
keeps its seeds and kicks so, and every candidate its searches count in the pool's table
(:mod:`.rows`), which its compiled local search looks up instead.

The cache holds at most :data:`MAX_BYTES` of counts (the oldest pool goes first); :func:`clear`
empties it (:func:`simulator.cost.nest.search.clear_caches`, so the bench's cold runs start from
nothing).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from simulator.cost.nest.moves import cover, neighbours
from simulator.cost.nest.rows import OFF, RowTable
from simulator.cost.nest.score import Counts

#: Bytes of candidates and counts kept (this model's choice: a pool of 3,600 candidates on five
#: levels is about 3 MiB with its neighbour batches, so this keeps the last few dozen shapes).
MAX_BYTES = 192 * 2**20


@dataclass
class Batch:
    """Candidates ``(n, levels, 7)`` each of factors, orders and spatial factors, and their counts."""

    factors: np.ndarray
    orders: np.ndarray
    spatial: np.ndarray
    counts: Counts

    @staticmethod
    def of(factors: np.ndarray, orders: np.ndarray, spatial: np.ndarray) -> Batch:
        """A batch of candidates with nothing counted yet (nobody may change the arrays: they are
        shared)."""
        return Batch(factors, orders, spatial, Counts.empty(factors.shape[0], factors.shape[1]))

    @functools.cached_property
    def nbytes(self) -> int:
        """Memory held (the arrays never change size: computed once)."""
        return int(self.factors.nbytes + self.orders.nbytes + self.spatial.nbytes) + self.counts.nbytes


def neighbour_batch(f: np.ndarray, o: np.ndarray, s: np.ndarray, bounds: np.ndarray, fanout: int) -> Batch | None:
    """The local search's neighbours of the candidate ``(f, o)`` with spatial factors ``s``
    (:func:`.moves.neighbours`, their bounds covered again), as a batch; None when it has none."""
    nf, no = neighbours(f, o)
    if len(nf) == 0:
        return None
    cover(nf, bounds, s[fanout], fanout)
    return Batch.of(nf, no, np.broadcast_to(s, nf.shape).copy())


@dataclass
class Pool:
    """One search's samples (``unrollings``: the spatial candidate of each block of ``samples``)
    and the neighbour batches of its local searches, by the candidate they start from."""

    samples: Batch
    unrollings: list[tuple[tuple[int, ...], tuple[int, ...]]]
    local: dict[bytes, Batch] = field(default_factory=dict)
    nbytes: int = 0
    #: The candidates counted so far, by candidate (:mod:`.rows`; the fast strategy's pools; OFF: none).
    rows: RowTable = field(default_factory=lambda: OFF)


_POOLS: OrderedDict[Hashable, Pool] = OrderedDict()
_held = [0]


def get(key: Hashable) -> Pool | None:
    """The pool kept under ``key`` (made the newest), if any."""
    pool = _POOLS.get(key)
    if pool is not None:
        _POOLS.move_to_end(key)
    return pool


def put(key: Hashable, pool: Pool) -> None:
    """Keep ``pool`` under ``key``."""
    pool.nbytes = pool.samples.nbytes + pool.rows.nbytes
    _POOLS[key] = pool
    _held[0] += pool.nbytes
    _trim()


def add_local(key: Hashable, pool: Pool, start: bytes, batch: Batch) -> None:
    """Keep the neighbour batch of ``start`` in ``pool`` (kept under ``key``, unless it went
    since: then the batch lives as long as the caller holds the pool)."""
    pool.local[start] = batch
    grew(key, pool, batch.nbytes)


def grew(key: Hashable, pool: Pool, nbytes: int) -> None:
    """Count ``nbytes`` more held by ``pool`` (kept under ``key``, unless it went since)."""
    pool.nbytes += nbytes
    if _POOLS.get(key) is pool:
        _held[0] += nbytes
        _trim()


def _trim() -> None:
    while _held[0] > MAX_BYTES and len(_POOLS) > 1:
        _, old = _POOLS.popitem(last=False)
        _held[0] -= old.nbytes


def clear() -> None:
    """Forget every pool."""
    _POOLS.clear()
    _held[0] = 0
