"""How an op's demands overlap in time: double buffering, exposed fill and drain, stall causes.

The cost model (:mod:`simulator.cost.gemm`, :mod:`simulator.cost.vector`) gives each op its
compute cycles and the cycles its memory levels and DRAM need; this module turns them into the
op's cycles and a breakdown of the stalls (``dram``, ``sram``, ``fill_drain``, ``serial``).
"""

from __future__ import annotations

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost.hardware import ACT, OPERANDS, Hardware


def double_buffered(hw: Hardware) -> bool:
    """Loads overlap compute when the activations' tile level is double-buffered (or there
    is no level and operands stream from DRAM)."""
    home = hw.home[ACT]
    return home < 0 or hw.levels[home].double_buffered


def overlap_cycles(
    hw: Hardware,
    compute: np.ndarray,
    rd_cyc: np.ndarray,
    wr_cyc: np.ndarray,
    lv_cyc: np.ndarray,
    n_tiles: np.ndarray,
    has_dram: np.ndarray,
    n_runs: np.ndarray,
    *,
    prefetch_cyc: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Cycles of an op and its stall breakdown from its compute and memory demands.

    Double-buffered: the first unit's load (after the DRAM latency) and the last unit's
    write-back are exposed; in between compute, buffer traffic and DRAM transfers overlap::

        cycles = lat + rd/n + max(compute, level, (rd + wr)·(1 − 1/n)) + wr/n

    The units are what the array consumes in sequence: ``n = max(tiles, runs)`` with ``runs``
    the array's fold runs (:attr:`simulator.cost.array.ArrayCycles.folds`). A double-buffered
    level fills the next fold's operands while the array works on the current one even when
    the op is a single buffer tile, so a one-tile op exposes one fold's load, not the whole
    tile's. Never finer than a fold (rows inside a fold are not modelled as units), never
    coarser than a buffer tile.

    Single-buffered: every tile loads, computes and writes in turn (latency per tile), except the
    operands whose tile level prefetches them (``Level.prefetched``: it holds two of their tiles
    and loads the next while computing on this one), whose DRAM time ``prefetch_cyc`` (part of
    ``rd + wr``: :attr:`simulator.cost.gemm.RowCost.dram_prefetch_cycles`) overlaps compute::

        cycles = n_tiles·lat + (rd + wr − pf) + max(compute, level, pf)

    (``pf`` = 0 without prefetch: ``n_tiles·lat + rd + wr + max(compute, level)``). The serial
    stall is ``rd + wr − pf``; prefetched loads beyond compute and the levels are the ``dram``
    stall. Double-buffered designs overlap every operand already; ``prefetch_cyc`` changes
    nothing there. ``prefetch_cyc`` may be left out only for a design without prefetch (a caller
    that leaves it out on one with prefetch would charge its loads in series: refused).
    """
    if prefetch_cyc is None:
        named = [
            f"{lv.name}: {', '.join(x for x, p in zip(OPERANDS, lv.prefetched, strict=True) if p)}"
            for lv in hw.levels
            if any(lv.prefetched)
        ]
        if named:
            raise SimulationError(
                f"{hw.name}: the one-level model was asked for cycles without the prefetched operands' DRAM "
                f"time, but levels prefetch ({'; '.join(named)}; memory.levels[].prefetch): pass "
                "overlap_cycles(..., prefetch_cyc=RowCost.dram_prefetch_cycles)"
            )
        prefetch_cyc = np.zeros(())
    lat = np.where(has_dram, hw.dram_latency_cycles, 0.0)
    busy = np.maximum(compute, lv_cyc)
    if double_buffered(hw):
        n = np.maximum(np.maximum(n_tiles, n_runs), 1.0)
        mid = (rd_cyc + wr_cyc) * (1.0 - 1.0 / n)
        steady = np.maximum(busy, mid)
        cycles = lat + rd_cyc / n + steady + wr_cyc / n
        stalls = {
            "dram": steady - busy,
            "sram": busy - compute,
            "fill_drain": lat + (rd_cyc + wr_cyc) / n,
            "serial": np.zeros_like(cycles),
        }
    else:
        n = np.maximum(n_tiles, 1.0)
        serial = rd_cyc + wr_cyc - prefetch_cyc
        steady = np.maximum(busy, prefetch_cyc)
        cycles = n * lat + rd_cyc + wr_cyc - prefetch_cyc + steady  # without prefetch: as before, bit for bit
        stalls = {
            "dram": steady - busy + np.zeros_like(cycles),
            "sram": busy - compute,
            "fill_drain": n * lat,
            "serial": serial + np.zeros_like(cycles),
        }
    return cycles, stalls


def total(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Sum of a dict of arrays (energy components, stall causes) as one array."""
    out = np.zeros(())
    for v in parts.values():
        out = out + v
    return out
