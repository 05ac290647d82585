"""Counted candidates of one search pool, found again by the candidate itself (a numba hash table).

The loop-nest counts of a candidate (:class:`~simulator.cost.nest.score.Counts`) depend only on
the candidate (factors, orders, spatial factors), the problem and
:func:`~simulator.cost.nest.score.counts_key`: everything a pool of the fast strategy
(:mod:`simulator.cost.nest.pool`) is keyed by. Within a pool the same candidate comes back many
times: the local search's neighbour batches overlap (a step's neighbours hold the moves back and
most moves of the step before), covering the bounds (:func:`.moves.cover`) makes some moves alike,
and the keep states of an op walk near each other. Measured on every search of a cold evaluation
of DDPM CIFAR-10 on edge-os-int8: 44,155 candidates counted, 19,789 of them distinct; of SD-1.5 on
dc-ws-fp16 36,379 and 19,441. A :class:`RowTable` keeps each candidate's counts once; the scorer
(``score._count``) looks a candidate up before counting it and copies the counts it finds: the
very numbers counting gives, so every search returns what it returned without the table.

The table is open addressing with linear probing over a power-of-two array of slots (half empty
at most), keyed by an FNV-1a hash of the candidate's integers and checked against the candidate
itself. Its arrays grow in Python between kernel calls (:meth:`RowTable.reserve`), never inside
one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@numba.njit(cache=True)
def row_hash(f, o, s):  # type: ignore[no-untyped-def]
    """FNV-1a over the candidate's factors, orders and spatial factors ``(levels, 7)`` each."""
    h = _FNV_OFFSET
    for lv in range(f.shape[0]):
        for d in range(7):
            h = (h ^ np.uint64(f[lv, d])) * _FNV_PRIME
            h = (h ^ np.uint64(o[lv, d])) * _FNV_PRIME
            h = (h ^ np.uint64(s[lv, d])) * _FNV_PRIME
    return h


@numba.njit(cache=True)
def find(slots, hashes, keys, f, o, s, h):  # type: ignore[no-untyped-def]
    """``(entry, slot)``: the entry holding the candidate ``(f, o, s)`` of hash ``h`` and its
    slot, or ``(-1, the empty slot where it goes)``."""
    mask = slots.shape[0] - 1
    i = np.int64(h & np.uint64(mask))
    while slots[i] != 0:
        e = slots[i] - 1
        if hashes[e] == h:
            same = True
            for lv in range(f.shape[0]):
                for d in range(7):
                    if keys[e, 0, lv, d] != f[lv, d] or keys[e, 1, lv, d] != o[lv, d] or keys[e, 2, lv, d] != s[lv, d]:
                        same = False
            if same:
                return e, i
        i = (i + 1) & mask
    return -1, i


@numba.njit(cache=True)
def add(slots, hashes, keys, used, f, o, s, h, slot):  # type: ignore[no-untyped-def]
    """Enter the candidate ``(f, o, s)`` of hash ``h`` at the empty ``slot`` (:func:`find`'s);
    returns its entry (the caller writes the counts there)."""
    e = used[0]
    used[0] = e + 1
    keys[e, 0] = f
    keys[e, 1] = o
    keys[e, 2] = s
    hashes[e] = h
    slots[slot] = e + 1
    return e


@numba.njit(cache=True)
def _rehash(slots, hashes, n):  # type: ignore[no-untyped-def]
    """Enter entries ``0 .. n - 1`` (distinct candidates, hashes ``hashes``) into the empty ``slots``."""
    mask = slots.shape[0] - 1
    for e in range(n):
        i = np.int64(hashes[e] & np.uint64(mask))
        while slots[i] != 0:
            i = (i + 1) & mask
        slots[i] = e + 1


@dataclass
class RowTable:
    """Counted candidates (:mod:`module docstring <simulator.cost.nest.rows>`): per entry the
    candidate, its hash, whether its outermost loops cover the bounds (``valid``) and its counts
    in :class:`~simulator.cost.nest.score.Counts`'s layout. An empty table (no slots) is off."""

    slots: np.ndarray  # (cap,) int64: entry + 1, 0 empty; cap a power of two, or 0: off
    hashes: np.ndarray  # (m,) uint64
    keys: np.ndarray  # (m, 3, levels, 7) int64: factors, orders, spatial factors
    valid: np.ndarray  # (m,) bool
    subtile_words: np.ndarray  # (m, levels, 3), double-buffered levels only
    acc: np.ndarray  # (m, levels + 1, 3, 4)
    final: np.ndarray  # (m,)
    compute: np.ndarray  # (m,)
    folds: np.ndarray  # (m, 2)
    used: np.ndarray  # (1,) int64: entries held

    @staticmethod
    def empty(nlev: int, entries: int = 0) -> RowTable:
        """A table for candidates of ``nlev`` levels with room for ``entries`` (0: off)."""
        cap = 0 if entries == 0 else 1 << max(2 * entries - 1, 1).bit_length()
        return RowTable(
            slots=np.zeros(cap, np.int64),
            hashes=np.zeros(entries, np.uint64),
            keys=np.zeros((entries, 3, nlev, 7), np.int64),
            valid=np.zeros(entries, np.bool_),
            subtile_words=np.zeros((entries, nlev, 3)),
            acc=np.zeros((entries, nlev + 1, 3, 4)),
            final=np.zeros(entries),
            compute=np.zeros(entries),
            folds=np.zeros((entries, 2)),
            used=np.zeros(1, np.int64),
        )

    def reserve(self, n: int) -> None:
        """Make room for ``n`` more entries (a table that is off stays off)."""
        used, room = int(self.used[0]), len(self.hashes)
        if len(self.slots) == 0 or used + n <= room:
            return
        big = RowTable.empty(self.keys.shape[2], max(2 * room, used + n))
        for name in ("hashes", "keys", "valid", "subtile_words", "acc", "final", "compute", "folds"):
            getattr(big, name)[:used] = getattr(self, name)[:used]
        _rehash(big.slots, big.hashes, used)
        big.used[0] = used
        self.__dict__.update(big.__dict__)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the scorer's order (``score._score``'s ``rows``)."""
        return (
            self.slots,
            self.hashes,
            self.keys,
            self.used,
            self.valid,
            self.subtile_words,
            self.acc,
            self.final,
            self.compute,
            self.folds,
        )

    @property
    def nbytes(self) -> int:
        """Memory held (for the pool's bound)."""
        return sum(int(a.nbytes) for a in self.arrays())


#: The table of a scoring that keeps none.
OFF = RowTable.empty(1)
