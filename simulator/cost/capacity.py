"""What a shared level holds: a partition per operand that has one, and the pool the others share.

A shared level's ``partitions`` (``accelerator.spec_memory.MemoryLevel``) give some operands a
capacity of their own (Eyeriss's 8 kB of filters in its 108 kB GLB, JSSC 2017 Sec. V-A); the
operands the level holds without one share the rest, ``size_bytes`` minus the partitions
(``Level.partition_bytes``: ``math.inf`` for a pooled operand). A partitioned operand's tiles and
kept tensors must fit its partition and take nothing from the pool; the pooled operands' bytes
together must fit the pool. A level without partitions is one pool of ``size_bytes``, as before.
The one-level model's legality (:func:`simulator.cost.gemm.fits`, :func:`simulator.cost.vector.vector_cost`)
and its resident weights (:mod:`simulator.cost.residency`) check through here; the nest engine
applies the same rule to ``NestLevel.operand_bytes`` (:mod:`simulator.cost.nest.arch`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from simulator.cost.hardware import Level


def pool_bytes(lv: Level) -> float:
    """Bytes the operands without a partition share: ``size_bytes`` minus the partitions."""
    return lv.size_bytes - sum(p for p in lv.partition_bytes if math.isfinite(p))


def capacity(lv: Level, operand: int) -> float:
    """Bytes ``operand`` (ACT, WGT, OUT) may fill alone: its partition, else the whole pool."""
    part = lv.partition_bytes[operand]
    return part if math.isfinite(part) else pool_bytes(lv)


def fits(lv: Level, need: Mapping[int, np.ndarray | float]) -> np.ndarray:
    """Whether ``need`` bytes per operand (ACT, WGT, OUT; arrays broadcast together) fit ``lv``: a
    partitioned operand's in its partition, the others' sum in the pool."""
    parts = lv.partition_bytes
    own = [np.asarray(n <= parts[x]) for x, n in need.items() if math.isfinite(parts[x])]
    pooled = sum((n for x, n in need.items() if not math.isfinite(parts[x])), 0.0)
    return functools.reduce(np.logical_and, own, np.asarray(pooled <= pool_bytes(lv)))


def reserve(lv: Level, operand: int, nbytes: float) -> Level:
    """``lv`` with ``nbytes`` of ``operand``'s capacity taken for a whole run (resident weights):
    out of its partition when it has one (the level's ``size_bytes`` shrinks with it, the pool
    stays), else out of the pool."""
    parts = list(lv.partition_bytes)
    if math.isfinite(parts[operand]):
        parts[operand] -= nbytes
    return replace(lv, size_bytes=lv.size_bytes - nbytes, partition_bytes=(parts[0], parts[1], parts[2]))
