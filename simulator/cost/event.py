"""The event model (``fidelity="event"``): simpy processes, one event per tile.

A tile holds an input slot; inside it loads, compute and write-back stream in the units of
the analytic model (:func:`simulator.cost.overlap.overlap_cycles`, ``OpCosts.units``): a
double-buffered level hands the array its first fold run before the rest of the tile has
arrived, so a one-tile op exposes one run's load and write-back, not the whole tile's.

The analytic model (:mod:`simulator.cost.analytic`) fixes the mapping and every op's demands: tiles,
compute cycles (array + buffer time), DRAM read and write cycles. This module plays them out
in time, one traced step at a time, with four processes sharing resources:

- **load DMA** walks the ops' tiles in order: it takes a free input slot (two when the
  activations' buffer level is double-buffered, else one), a DMA engine (``dma_engines``),
  waits the DRAM latency (once per op when double-buffered, per tile otherwise), then holds the
  DRAM channel for the tile's read time;
- **compute array** takes loaded tiles in order, needs a free output slot, computes, frees the
  input slot;
- **write-back DMA** takes an engine and the DRAM channel for the tile's write time, then frees
  the output slot;
- a data dependency: the first tile of an op that reads the previous op's output is loaded only
  after that op's compute is done.

Loads of the next op start while the current one computes (overlap across ops), reads and
write-backs contend for the one DRAM channel and the engines (contention), and the timeline of
every op is recorded. Concurrent transfers share the channel's bandwidth
(:class:`SharedChannel`). Time is in cycles; there is one event per tile (never per cycle): an op
with more than ``max_tiles`` tiles is simulated as its first tile, ``max_tiles − 2`` equal
groups, and its last tile, so the pipeline's fill and drain stay exact. Vector ops stream in
``vector_chunks`` chunks.

An op's latency is the time from the previous op's end to its own end (its last write-back),
so the ops of a step add up to the step. Stalls: ``fill_drain`` (waiting for the first tile,
draining the last write-back), ``dram`` (waiting for tiles between), ``sram`` (buffer time
beyond compute, from the analytic model), ``overlap`` (≤ 0: the op started computing before the
previous one finished writing); compute + stalls = cycles. On a compute-bound op without
contention this gives the analytic formula exactly (``tests/unit/test_simulator_event.py``).

Prefetch (a level's ``memory.levels[].prefetch``, :attr:`simulator.cost.hardware.Level.prefetched`)
is not played out: a tile's load carries every operand's DRAM read, prefetched ones included, in
series with compute on a single-buffered design (as without prefetch), where the analytic cycles
overlap the prefetched loads with compute; :func:`prefetch_note` says so in the result's notes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import simpy

from simulator.cost.analytic import OpCosts
from simulator.cost.clock import clock_coverage, clock_energy, idle_gating
from simulator.cost.hardware import OPERANDS, Hardware
from simulator.cost.overlap import double_buffered
from simulator.optable import OpTable

MAX_TILES = 16
VECTOR_CHUNKS = 4


def prefetch_note(hw: Hardware) -> str | None:
    """The result's note on prefetch at the event fidelity (module docstring), None without it."""
    named = [
        f"{lv.name} ({', '.join(x for x, p in zip(OPERANDS, lv.prefetched, strict=True) if p)})"
        for lv in hw.levels
        if any(lv.prefetched)
    ]
    if not named:
        return None
    return (
        f"event fidelity: the prefetched operands of {', '.join(named)} load with each tile's other "
        "operands, in series with compute, as without prefetch; the analytic cycles overlap them with "
        "compute (memory.levels[].prefetch)"
    )


class SharedChannel:
    """The DRAM channel: concurrent transfers share its bandwidth equally (processor sharing).

    ``transfer(cycles)`` returns an event that fires when ``cycles`` of exclusive-use work are
    done; with ``k`` transfers active each progresses at ``1/k``. One manager process, a few
    events per transfer.
    """

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.active: list[list[Any]] = []  # [remaining cycles, done event]
        self.arriving: list[list[Any]] = []  # joined since the manager last looked
        self.kick = env.event()
        self.busy_cycles = 0.0
        env.process(self._run())

    def transfer(self, cycles: float) -> simpy.Event:
        done = self.env.event()
        if cycles <= 0:
            done.succeed()
            return done
        self.arriving.append([cycles, done])
        if not self.kick.triggered:
            self.kick.succeed()
        return done

    def _run(self) -> Any:
        env = self.env
        while True:
            self.active += self.arriving
            self.arriving = []
            if not self.active:
                self.kick = env.event()
                yield self.kick
                continue
            k = len(self.active)
            least = min(a[0] for a in self.active)
            self.kick = env.event()
            t0 = env.now
            timer = env.timeout(least * k)
            yield env.any_of([timer, self.kick])
            elapsed = env.now - t0
            self.busy_cycles += elapsed
            # When the timer fired, every transfer did exactly ``least`` cycles of work, however
            # ``now + step`` rounded (at a large ``now`` a tiny step may not move the clock).
            work = least if timer.processed else elapsed / k
            tol = 1e-9 * max(least, 1.0)
            still = []
            for a in self.active:
                a[0] -= work
                if a[0] <= tol:
                    a[1].succeed()
                else:
                    still.append(a)
            self.active = still


def _tiles(n: float, cap: int, units: float = 0.0) -> list[float]:
    """Weights of the simulated entries of an op of ``n`` (equal) tiles: how many of its units
    each entry stands for.

    A tile is ``max(units, n)/n`` units (``units``: what loads overlap in, ``OpCosts.units``;
    one per tile unless the level is double-buffered and the array works through more fold
    runs than tiles). An entry holds an input slot like a tile and streams its units: its
    compute starts once its first unit is loaded, its write-back once its first unit is
    computed. Up to ``cap`` tiles are simulated one by one; beyond, the first and last tile
    stay single (the pipeline's fill and drain) and the rest form ``cap − 2`` equal groups,
    exactly as their tiles would stream one by one when they are equal.
    """
    count = max(int(round(n)), 1)
    whole = max(units, n)
    per = whole / count
    if count <= cap:
        return [per] * count
    group = (whole - 2.0 * per) / (cap - 2)
    return [per] + [group] * (cap - 2) + [per]


def _run_step(table: OpTable, costs: OpCosts, s: int, max_tiles: int, vector_chunks: int) -> dict[str, np.ndarray]:
    hw = costs.hw
    n_ops = table.n_ops
    db = double_buffered(hw)
    slots = 2 if db else 1
    gemm = np.zeros(n_ops, dtype=bool)
    gemm[table.g_op] = True
    busy = np.maximum(costs.compute_cycles[s], costs.level_cycles[s]).tolist()
    rd = costs.dram_rd_cycles[s].tolist()
    wr = costs.dram_wr_cycles[s].tolist()
    lat = hw.dram_latency_cycles
    plan: list[list[float]] = []
    for i in range(n_ops):
        if gemm[i]:
            plan.append(_tiles(float(costs.tiles[s, i]), max_tiles, float(costs.units[s, i])))
        else:
            plan.append(_tiles(float(vector_chunks) if rd[i] + wr[i] > 0 else 1.0, vector_chunks))
    chained = table.chain_in.tolist()

    env = simpy.Environment()
    dram = SharedChannel(env)
    engines = simpy.Resource(env, capacity=hw.dma_engines)
    in_slots = simpy.Resource(env, capacity=slots)
    out_slots = simpy.Resource(env, capacity=slots)
    loaded = simpy.Store(env)
    computed = simpy.Store(env)
    compute_done = [env.event() for _ in range(n_ops)]
    first_start = np.zeros(n_ops)
    last_end = np.zeros(n_ops)
    waits = np.zeros(n_ops)
    end = np.zeros(n_ops)
    load_start = np.zeros(n_ops)
    contention = np.zeros(n_ops)
    dma_busy = np.zeros(n_ops)

    def loader() -> Any:
        for i in range(n_ops):
            tiles = plan[i]
            one = rd[i] / sum(tiles)  # cycles to load one unit
            for t, weight in enumerate(tiles):
                if t == 0 and i > 0 and chained[i]:
                    yield compute_done[i - 1]
                slot = in_slots.request()
                yield slot
                if t == 0:
                    load_start[i] = env.now
                loaded_all = env.event()
                if one > 0:
                    with engines.request() as eng:
                        t0 = env.now
                        yield eng
                        contention[i] += env.now - t0
                        if t == 0 or not db:
                            yield env.timeout(lat)
                        t1 = env.now
                        yield dram.transfer(one)
                        yield loaded.put((weight, slot, loaded_all))
                        yield dram.transfer(one * (weight - 1.0))
                        contention[i] += env.now - t1 - one * weight
                        dma_busy[i] += one * weight
                else:
                    yield loaded.put((weight, slot, loaded_all))
                loaded_all.succeed()

    def array() -> Any:
        for i in range(n_ops):
            tiles = plan[i]
            one = busy[i] / sum(tiles)  # cycles to compute one unit
            for t in range(len(tiles)):
                t0 = env.now
                weight, slot, loaded_all = yield loaded.get()
                out = out_slots.request()
                yield out
                if t == 0:
                    first_start[i] = env.now
                else:
                    waits[i] += env.now - t0
                computed_all = env.event()
                yield env.timeout(one)
                yield computed.put((weight, out, computed_all))
                yield env.timeout(one * (weight - 2.0)) if weight > 2.0 else env.timeout(0)
                if weight > 1.0:
                    t1 = env.now
                    yield loaded_all
                    waits[i] += env.now - t1
                    yield env.timeout(one * min(weight - 1.0, 1.0))
                in_slots.release(slot)
                computed_all.succeed()
                if t == len(tiles) - 1:
                    last_end[i] = env.now
                    compute_done[i].succeed()

    def writer() -> Any:
        for i in range(n_ops):
            tiles = plan[i]
            one = wr[i] / sum(tiles)  # cycles to write one unit back
            for t in range(len(tiles)):
                weight, out, computed_all = yield computed.get()
                for part, last in ((weight - 1.0, False), (1.0, True)):
                    if last and not computed_all.triggered:
                        yield computed_all
                    if one > 0 and part > 0:
                        with engines.request() as eng:
                            t0 = env.now
                            yield eng
                            yield dram.transfer(one * part)
                            contention[i] += env.now - t0 - one * part
                            dma_busy[i] += one * part
                if not computed_all.triggered:
                    yield computed_all
                out_slots.release(out)
                if t == len(tiles) - 1:
                    end[i] = env.now

    env.process(loader())
    env.process(array())
    env.process(writer())
    env.run()
    prev_end = np.concatenate([[0.0], end[:-1]])
    cycles = end - prev_end
    gap = first_start - prev_end
    stalls = {
        "fill_drain": np.maximum(gap, 0.0) + (end - last_end),
        "dram": waits,
        "sram": np.asarray(busy) - costs.compute_cycles[s],
        "overlap": np.minimum(gap, 0.0),
        "serial": np.zeros(n_ops),
    }
    return {
        "cycles": cycles,
        "start": prev_end,
        "end": end,
        "load_start": load_start,
        "compute_start": first_start,
        "compute_end": last_end,
        "dma_busy": dma_busy,
        "contention": contention,
        **{f"stall_{k}": v for k, v in stalls.items()},
    }


def simulate(
    table: OpTable, costs: OpCosts, *, max_tiles: int = MAX_TILES, vector_chunks: int = VECTOR_CHUNKS
) -> OpCosts:
    """Replay ``costs`` (analytic) in time: event-mode cycles, latency, stalls and leakage,
    and a per-op ``timeline`` of traced step 0 (seconds)."""
    hw = costs.hw
    runs = [_run_step(table, costs, s, max(max_tiles, 3), vector_chunks) for s in range(table.steps)]
    cycles = np.stack([r["cycles"] for r in runs]) if runs else costs.cycles
    latency_s = cycles / hw.clock_hz
    energy = dict(costs.energy_pj)
    energy["leakage"] = latency_s * hw.leakage_mw * 1e-3 * 1e12
    coverage = None
    if idle_gating(hw):  # each op's PE coverage, as the analytic columns charged it
        coverage = clock_coverage(hw, costs.energy_pj["clock"], costs.cycles)
    energy.update(clock_energy(hw, cycles, coverage))  # the clock network over the event cycles; {} when off
    stalls = (
        {k: np.stack([r[f"stall_{k}"] for r in runs]) for k in ("fill_drain", "dram", "sram", "overlap", "serial")}
        if runs
        else costs.stalls
    )
    timeline: list[dict[str, float]] = []
    if runs:
        r0, f = runs[0], 1.0 / hw.clock_hz
        for i in range(table.n_ops):
            timeline.append(
                {
                    "start_s": float(r0["start"][i] * f),
                    "end_s": float(r0["end"][i] * f),
                    "load_start_s": float(r0["load_start"][i] * f),
                    "compute_start_s": float(r0["compute_start"][i] * f),
                    "compute_end_s": float(r0["compute_end"][i] * f),
                    "dma_busy_s": float(r0["dma_busy"][i] * f),
                    "contention_s": float(r0["contention"][i] * f),
                }
            )
    return replace(costs, cycles=cycles, latency_s=latency_s, energy_pj=energy, stalls=stalls, timeline=tuple(timeline))
