"""Mappings already searched, shared by every :class:`~simulator.cost.nest.search.Mapper` of a
process: a sweep maps each (shape, design) once.

:func:`simulator.cost.nest_costs.evaluate_table` makes a new mapper per evaluation, so a
mapper's own cache lives for one design. A search is a pure function of its key: the problem's
shape, the parts of the design the mapper sees (:meth:`NestArch.key`: levels, array, word
widths, MAC energy, pipeline), the spatial preset, the objective and every search setting (seed,
samples, spatial candidates kept, imperfect factors, local-search rounds). Designs of a sweep
that differ only in what the mapper does not see (sparsity, numerics, leakage, DRAM latency)
therefore share their mappings, and a design evaluated again finds all of them: the same
mapping the search would return, so results do not depend on what ran before.

It also keeps each problem's evaluated result (:class:`NestResult`, keyed by the search's key
and the problem itself, whose name and copies the result carries), so a design evaluated again
costs no evaluation of its nests either. Results are shared between callers: they are frozen
dataclasses whose arrays are made read-only, and nobody may change their dicts in place.

The memo holds at most ``capacity`` mappings and as many results (the oldest go first);
``clear`` empties it (the bench does, to time the search of a design never seen). ``hits`` and
``misses`` count the mapping lookups, so ``misses`` is the number of searches run.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.mapping import Mapping

#: Mappings (and results) kept; each is at most a few KiB, so this is tens of MiB at most.
CAPACITY = 20_000


@dataclass
class SearchMemo:
    """A bounded map from a search's key to the mapping it found, with hit and miss counts."""

    capacity: int = CAPACITY
    hits: int = 0
    misses: int = 0
    _found: dict[Hashable, Mapping] = field(default_factory=dict)
    _results: dict[Hashable, NestResult] = field(default_factory=dict)

    def get(self, key: Hashable) -> Mapping | None:
        found = self._found.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: Hashable, mapping: Mapping) -> None:
        if len(self._found) >= self.capacity:
            del self._found[next(iter(self._found))]  # the oldest (dicts keep insertion order)
        self._found[key] = mapping

    def result(self, key: Hashable) -> NestResult | None:
        """The evaluated result kept under ``key``, if any (not counted)."""
        return self._results.get(key)

    def keep_result(self, key: Hashable, res: NestResult) -> None:
        if len(self._results) >= self.capacity:
            del self._results[next(iter(self._results))]
        self._results[key] = res

    def clear(self) -> None:
        """Forget every mapping and result and reset the counts."""
        self._found.clear()
        self._results.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._found)


SHARED = SearchMemo()
"""The process's memo, which mappers use unless given another (or None: search every time)."""
