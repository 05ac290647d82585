"""Restarts: the mapper's search run more than once, the best mapping by the objective kept.

One search from one seed can end in a local optimum that another seed's samples avoid: on the
Eyeriss validation layers (AlexNet CONV1–5, coded) single sampled searches of 600 samples per
spatial candidate end up to 1.19× above the best objective that 512 seeds find
(docs/validation.md, "Search restarts"; :mod:`simulator.validation.restarts`).
``Mapper(restarts=n)`` (the spec's ``mapping.restarts``) runs its own strategy's search, then
``n − 1`` sampled searches seeded ``seed + 1``, …, ``seed + n − 1`` (the same samples per
candidate), scores each one's mapping on the design's objective, and keeps the lowest (ties: the
earliest). Deterministic, ``n`` times the search's time; ``n = 1`` is the search alone. The extra
searches keep nothing in the process's sample pool (:mod:`.pool`), so they reuse no counts across
an op's keep states either.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from simulator.cost.nest import pool
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.counts import axis_coefs
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.presets import SpatialPreset
from simulator.cost.nest.problem import Problem
from simulator.cost.nest.score import arch_arrays

if TYPE_CHECKING:
    from simulator.cost.nest.search import Mapper, Objective


def objective_of(mapper: Mapper, problem: Problem, arch: NestArch, mapping: Mapping, objective: Objective) -> float:
    """What the search minimises for ``mapping`` (:meth:`Mapper._cost` on a batch of one)."""
    f, o, sp = mapping.arrays(arch)
    batch = pool.Batch.of(f[None], o[None], sp[None])
    bounds = np.asarray(problem.bounds, np.int64)
    cost = mapper._cost(arch_arrays(arch), bounds, axis_coefs(problem.stride, problem.dilation), batch, objective)
    return float(cost[0])


#: When a list, :func:`best_of` appends ``(problem name, design name, [objective of each search])``
#: to it (the convergence study, :mod:`simulator.validation.restarts`); None: nothing kept.
LOG: list[tuple[str, str, list[float]]] | None = None


def best_of(mapper: Mapper, problem: Problem, arch: NestArch, preset: SpatialPreset, objective: Objective) -> Mapping:
    """The best of ``mapper.restarts`` searches (module docstring; :class:`Mapper` checks the count)."""
    best = mapper._search(problem, arch, preset, objective)
    if mapper.restarts == 1 and LOG is None:
        return best
    cost = objective_of(mapper, problem, arch, best, objective)
    costs = [cost]
    for i in range(1, mapper.restarts):
        # shared=None: a restart keeps no samples in the process's pool (128 restarts of one op would
        # fill it and push out every other design's)
        other = replace(mapper, seed=mapper.seed + i, strategy="sampled", restarts=1, cache={}, shared=None)
        found = other._search(problem, arch, preset, objective)
        c = objective_of(mapper, problem, arch, found, objective)
        costs.append(c)
        if c < cost:
            best, cost = found, c
    if LOG is not None:
        LOG.append((problem.name, arch.name, costs))
    return best
