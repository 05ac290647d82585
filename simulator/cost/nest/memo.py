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
``clear`` empties it (the bench does, to time the search of a design never seen).

For :func:`simulator.cost.nest_costs.evaluate_table` it also keeps, per op and keep state, the
nests' results and the designs they were mapped on (:meth:`op_run`), keyed by the op's nests,
the keep state, the homes, the search settings and the ``id`` of the op's base design made
canonical (:meth:`canonical`: one object per equal design, so the key needs no hash of the
design's levels): a design evaluated again skips building the keep states' designs and the
searches' lookups. ``hits`` and
``misses`` count the mapping lookups, so ``misses`` is the number of searches run.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.mapping import Mapping

#: An op's nests mapped in one keep state: their results and the designs they were mapped on
#: (both None when the op cannot keep that state).
OpRun = tuple[list[NestResult] | None, list[NestArch] | None]

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
    _archs: dict[Hashable, Hashable] = field(default_factory=dict)
    _ops: dict[Hashable, OpRun] = field(default_factory=dict)

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

    def canonical(self, arch: Hashable) -> Hashable:
        """The one object kept equal to ``arch`` (``arch`` itself the first time): callers key
        :meth:`op_run` by its ``id``, which stays valid while the memo holds it."""
        got = self._archs.get(arch)
        if got is None:
            if len(self._archs) >= self.capacity:  # the ids in the op keys go with them
                self._archs.clear()
                self._ops.clear()
            got = self._archs[arch] = arch
        return got

    def op_run(self, key: Hashable) -> OpRun | None:
        """The nests' results and designs of one op in one keep state kept under ``key``
        (:func:`simulator.cost.nest_costs.evaluate_table`), if any."""
        return self._ops.get(key)

    def keep_op_run(self, key: Hashable, run: OpRun) -> None:
        if len(self._ops) >= self.capacity:
            self._ops.clear()
        self._ops[key] = run

    def clear(self) -> None:
        """Forget every mapping and result and reset the counts."""
        self._found.clear()
        self._results.clear()
        self._archs.clear()
        self._ops.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._found)


SHARED = SearchMemo()
"""The process's memo, which mappers use unless given another (or None: search every time)."""
