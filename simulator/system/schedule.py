"""A deterministic list scheduler for one step: ops in trace order, contention on links and DRAM.

Each op starts when its instances are free and its inputs have arrived, and holds its instances
until it ends. Resources are queues with a next-free time (no preemption; first come, first
served in op order), so the same inputs give the same schedule, bit for bit:

- **instances**: an op holds every instance of its group (a split core's ops hold them all);
- **links**: a transfer holds every link of its route for its whole duration
  (:meth:`simulator.system.noc.Network.send`); later transfers on a link wait;
- **shared DRAM** (``shared_dram``): one server per die; an op's DRAM bytes hold it for
  ``bytes / (bandwidth x efficiency)`` from the op's start, and the op ends no earlier.

Edges: layer by layer, a consumer waits for its producer's end (the tensor goes through DRAM,
costed by the single-core model; crossing dies it also crosses the die-to-die links). Fused, the
tensor goes core to core: the consumer starts once the first of ``T`` tiles has arrived and ends
no earlier than its last tile, ``1/T`` of its time after the producer's end (a pipeline over
tiles); on one instance it stays in the buffer (on a data core's replicas, each keeps its share),
over a split core's instances it is all-gathered, or, from one row split to the next on the same
instances, only its halo rows move between neighbours (one transfer per boundary). A split op's
operand that every instance needs whole and that does not arrive fused (the input of a channel
split, the weights of a row split: ``SplitOp.multicast_bytes``, 0 when a shared DRAM broadcasts
it) is multicast from the first instance (:mod:`simulator.system.split`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accelerator.system import SystemSpec
from models.workload import Workload
from models.workload.graph import Edge
from simulator.system.costs import OpCost, Plan
from simulator.system.fusion import Fusion, edge_bytes
from simulator.system.noc import Ledger, Network


@dataclass(frozen=True)
class Slot:
    op: int
    group: int
    start_s: float
    end_s: float
    energy_j: float  # the op's energy after fusion (no network energy)
    dram_bytes: float  # after fusion


@dataclass
class Schedule:
    slots: list[Slot]
    ledger: Ledger
    busy_s: dict[int, float] = field(default_factory=dict)  # instance -> seconds busy

    @property
    def makespan_s(self) -> float:
        return max((s.end_s for s in self.slots), default=0.0)


def fused_latency(c: OpCost, saved_bytes: float) -> float:
    """The op's latency with ``saved_bytes`` fewer DRAM bytes: its memory time shrinks by their
    transfer time; the latency scales as max(compute, memory) does (never below compute)."""
    comp, mem = c.op.compute_cycles, c.op.memory_cycles
    base = max(comp, mem)
    if base <= 0 or saved_bytes == 0:
        return c.latency_s
    mem_after = max(0.0, mem - saved_bytes / c.replicas / c.dram_bytes_per_s * c.clock_hz)  # per replica
    return c.latency_s * max(comp, mem_after) / base


def _deliver(
    net: Network, ledger: Ledger, src: tuple[int, ...], dst: tuple[int, ...], nbytes: float, t: float
) -> float:
    """``nbytes`` spread over ``src`` sent to ``dst`` (pairwise, round robin); the last arrival."""
    if src == dst and len(src) > 1:  # all-gather: every instance needs every other's slice
        share = nbytes / len(src)
        return max(net.send(ledger, s, d, share, t) for s in src for d in dst if s != d)
    k = max(len(src), len(dst))
    return max(net.send(ledger, src[j % len(src)], dst[j % len(dst)], nbytes / k, t) for j in range(k))


def _rows(c: OpCost) -> bool:
    return c.split is not None and c.split.axis == "rows"


def _halo(net: Network, ledger: Ledger, insts: tuple[int, ...], nbytes: float, t: float) -> float:
    """A row split's halo: ``nbytes`` from each instance to the next (one transfer per boundary)."""
    return max([t, *(net.send(ledger, a, b, nbytes, t) for a, b in zip(insts, insts[1:], strict=False))])


def schedule(
    system: SystemSpec,
    net: Network,
    workload: Workload,
    plan: Plan,
    edges: tuple[Edge, ...],
    fusion: Fusion,
) -> Schedule:
    costs, groups = plan.costs, plan.groups
    n = len(costs)
    in_edges: dict[int, list[Edge]] = {}
    for e in edges:
        in_edges.setdefault(e.consumer, []).append(e)
    ledger = Ledger()
    free: dict[int, float] = {}
    dram_free: dict[int, float] = {}
    busy: dict[int, float] = {}
    start, end = [0.0] * n, [0.0] * n
    slots: list[Slot] = []
    for i in range(n):
        c = costs[i]
        insts = groups[c.group].instances
        lat = fused_latency(c, fusion.dram_saved[i])
        ready = max(free.get(x, 0.0) for x in insts)
        min_end = 0.0
        fused_in = 0.0
        for e in in_edges.get(i, []):
            p, b = e.producer, edge_bytes(e, workload, costs)
            src = groups[costs[p].group].instances
            if fusion.fused(e):
                fused_in += b
                t = fusion.tiles[i]
                first = start[p] + (end[p] - start[p]) / t
                stays = src == insts and (len(src) == 1 or c.replicas > 1)  # data: each replica has its share
                if stays:
                    arrive = first
                elif src == insts and _rows(c) and _rows(costs[p]):
                    arrive = _halo(net, ledger, insts, c.split.halo_bytes if c.split else 0.0, first)
                else:
                    arrive = _deliver(net, ledger, src, insts, b, first)
                ready = max(ready, first + (arrive - first) / t)
                min_end = max(min_end, max(end[p], arrive) + lat / t)
            else:
                arrive = end[p]
                s, d = net.instances[src[0]], net.instances[insts[0]]
                if s.chiplet != d.chiplet:  # read back from the producer's die's memory
                    arrive = net.send(ledger, s.index, d.index, b, end[p])
                ready = max(ready, arrive)
        if c.split is not None and c.split.multicast_bytes > 0:
            whole = c.split.multicast_bytes
            rest = max(0.0, whole - fused_in) if c.split.axis == "channels" else whole
            if rest > 0:
                ready = max(net.send(ledger, insts[0], x, rest, ready) for x in insts[1:])
        dram = c.dram_bytes - fusion.dram_saved[i]
        finish = max(ready + lat, min_end)
        if system.shared_dram is not None and dram > 0:
            die = net.instances[insts[0]].chiplet
            shared = system.shared_dram
            begin = max(ready, dram_free.get(die, 0.0))
            dram_free[die] = begin + dram / (shared.bandwidth_gb_per_s * shared.efficiency * 1e9)
            finish = max(finish, dram_free[die])
        start[i], end[i] = ready, finish
        for x in insts:
            free[x] = finish
            busy[x] = busy.get(x, 0.0) + lat
        energy = c.energy_j - fusion.dram_saved[i] * c.dram_j_per_byte
        slots.append(Slot(i, c.group, ready, finish, energy, dram))
    return Schedule(slots, ledger, busy)
