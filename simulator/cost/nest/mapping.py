"""A mapping of a loop nest onto a :class:`NestArch`: temporal tile factors and a loop order per
level, and the spatial unrolling over the array's rows and columns.

The loop nest a mapping describes, outermost first::

    for the DRAM level's temporal loops (in its order)
      for level L−2's temporal loops
        ...
          for level f's temporal loops          f = arch.fanout_level
            spatial-for rows dims, cols dims    (the array: one PE each)
              for level f−1's temporal loops    (per PE)
                ...
                  MAC

A level's tile is what the loops at and below it touch (its own temporal loops, the array if it
sits above it, and everything further in). Factorization may be imperfect: per dimension, the
outermost loop (bound > 1) has ``ceil(D / t)`` iterations, ``t`` the product of the dimension's
loops inside it, and the last is partial. The analysis runs such a loop as a main nest of the full
iterations followed by a remainder nest (loop peeling, ``counts.peeled_counts``); with perfect
factors there is one pass and nothing changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.problem import DIMS, Problem

Dims7 = tuple[int, int, int, int, int, int, int]


class NoMappingFits(SimulationError):
    """No candidate mapping of a nest fits the levels' capacities (the mappers raise it; the adapter
    names the op and says to enlarge the buffer, and passes any other mapping error through)."""


@dataclass(frozen=True)
class Mapping:
    """Per level (innermost first, DRAM last) temporal factors per dimension and a loop order
    (a permutation of the 7 dimension indices, outermost first); spatial factors across rows and
    columns of the array."""

    factors: tuple[Dims7, ...]
    orders: tuple[Dims7, ...]
    spatial_rows: Dims7
    spatial_cols: Dims7

    def spatial(self) -> tuple[int, ...]:
        """Spatial factor per dimension (rows × columns)."""
        return tuple(a * b for a, b in zip(self.spatial_rows, self.spatial_cols, strict=True))

    def pes(self) -> int:
        """PEs the spatial unrolling covers (rows used × columns used)."""
        return math.prod(self.spatial())

    def arrays(self, arch: NestArch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(factors, orders, spatial)`` as int64 arrays of shape ``(levels, 7)``."""
        f = np.asarray(self.factors, dtype=np.int64)
        o = np.asarray(self.orders, dtype=np.int64)
        sp = np.ones_like(f)
        sp[arch.fanout_level] = self.spatial()
        return f, o, sp

    def describe(self, arch: NestArch) -> str:
        """One line per level, outermost first: ``dram: P4 K2 | glb: ... | array rows C12 cols K14``."""
        parts = []
        for i in range(len(arch.levels) - 1, -1, -1):
            loops = " ".join(f"{DIMS[d]}{self.factors[i][d]}" for d in self.orders[i] if self.factors[i][d] > 1)
            parts.append(f"{arch.levels[i].name}: {loops or '-'}")
            if i == arch.fanout_level:
                rows = " ".join(f"{DIMS[d]}{v}" for d, v in enumerate(self.spatial_rows) if v > 1)
                cols = " ".join(f"{DIMS[d]}{v}" for d, v in enumerate(self.spatial_cols) if v > 1)
                parts.append(f"array rows {rows or '-'} cols {cols or '-'}")
        return " | ".join(parts)


def outer_to_inner(mapping: Mapping, arch: NestArch, d: int) -> list[int]:
    """The bounds of dimension ``d``'s loops, outermost first: each level's temporal factor (DRAM
    first), the spatial factor right after the fan-out level's."""
    out = []
    for lv in range(len(arch.levels) - 1, -1, -1):
        out.append(mapping.factors[lv][d])
        if lv == arch.fanout_level:
            out.append(mapping.spatial()[d])
    return out


def check(mapping: Mapping, problem: Problem, arch: NestArch) -> list[str]:
    """What makes ``mapping`` invalid for ``problem`` on ``arch`` apart from capacity (empty when
    valid): shapes, permutations, factors that cover each bound, array extents."""
    errors = []
    n = len(arch.levels)
    if len(mapping.factors) != n or len(mapping.orders) != n:
        return [f"mapping has {len(mapping.factors)} factor rows and {len(mapping.orders)} orders for {n} levels"]
    for i, order in enumerate(mapping.orders):
        if sorted(order) != list(range(7)):
            errors.append(f"level {arch.levels[i].name}: order {order} is not a permutation of 0..6")
    for d in range(7):
        loops = [b for b in outer_to_inner(mapping, arch, d) if b > 1]
        bound = problem.bounds[d]
        inner = math.prod(loops[1:])
        if (not loops and bound != 1) or (loops and loops[0] != -(-bound // inner)):
            errors.append(
                f"{DIMS[d]}: loops {loops or [1]} (outermost first) do not cover {bound}: the outermost must be "
                f"ceil({bound}/{inner}) = {-(-bound // inner)}"
            )
    rows = int(np.prod(mapping.spatial_rows))
    cols = int(np.prod(mapping.spatial_cols))
    if rows > arch.rows or cols > arch.cols:
        errors.append(f"spatial {rows}x{cols} exceeds the {arch.rows}x{arch.cols} array")
    return errors


def validate(mapping: Mapping, problem: Problem, arch: NestArch) -> None:
    """Raise :class:`SimulationError` listing every reason ``mapping`` is invalid, apart from
    capacity (``simulator.cost.nest.analysis.evaluate`` checks that)."""
    errors = check(mapping, problem, arch)
    if errors:
        raise SimulationError(f"mapping of {problem.name!r} on {arch.name}: " + "; ".join(errors))


def single_level(problem: Problem, arch: NestArch) -> Mapping:
    """Everything at DRAM, nothing spatial: the trivially valid mapping (a reference point)."""
    n = len(arch.levels)
    ones: Dims7 = (1, 1, 1, 1, 1, 1, 1)
    ident: Dims7 = (0, 1, 2, 3, 4, 5, 6)
    return Mapping(
        factors=tuple(ones for _ in range(n - 1)) + (problem.bounds,),
        orders=tuple(ident for _ in range(n)),
        spatial_rows=ones,
        spatial_cols=ones,
    )
