"""Where the core instances sit, how bytes travel between them, and the ledger of every link.

Instances are numbered in the order of ``cores:`` (each core's ``count`` in turn) and spread over
the chiplets in equal contiguous blocks (instance i on die ``i * chiplets // instances``). On a
die the instances sit on a near-square grid (mesh: XY routing, x first), in a ring (the shorter
way round; clockwise on a tie) or on one shared bus. Between dies a transfer goes from its
instance to the die's slot 0 (the die's gateway), over the die-to-die links (XY on the grid of
dies) and from the far die's slot 0 to its destination.

A transfer's time is ``bytes / slowest link bandwidth + hops x router latency + d2d crossings x
link latency``; its energy ``bytes x 8 x (noc hops x pJ/bit/hop + d2d crossings x pJ/bit)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from accelerator.system import SystemSpec


@dataclass(frozen=True)
class Instance:
    index: int  # in the whole system
    core: str  # the cores: entry's name
    local: int  # instance number within its core
    chiplet: int
    slot: int  # position on its die


@dataclass(frozen=True)
class Link:
    name: str  # "die0:1->2", "die0:bus", "d2d:0->1"
    kind: str  # "noc" | "d2d"


@dataclass(frozen=True)
class Route:
    links: tuple[Link, ...]
    noc_hops: int
    d2d_hops: int


@dataclass
class LinkUse:
    kind: str
    bytes_sent: float = 0.0  # counted where bytes enter the link
    bytes_received: float = 0.0  # counted where they leave it
    free_s: float = 0.0  # scheduler: when the link is next free


@dataclass
class Ledger:
    """Bytes per link and per instance port (per step of the schedule that filled it)."""

    links: dict[str, LinkUse] = field(default_factory=dict)
    sent_by: dict[int, float] = field(default_factory=dict)  # instance -> bytes it injected
    received_by: dict[int, float] = field(default_factory=dict)  # instance -> bytes delivered to it
    noc_bit_hops: float = 0.0
    d2d_bits: float = 0.0


def place(system: SystemSpec) -> tuple[Instance, ...]:
    total, dies = system.instances, system.chiplets.count
    die_of = [i * dies // total for i in range(total)]
    first = {d: die_of.index(d) for d in range(dies)}
    out: list[Instance] = []
    i = 0
    for core in system.cores:
        for local in range(core.count):
            out.append(Instance(i, core.name, local, die_of[i], i - first[die_of[i]]))
            i += 1
    return tuple(out)


def _grid(n: int) -> int:
    """Columns of the near-square grid of ``n`` nodes."""
    return max(1, math.ceil(math.sqrt(n)))


def _xy_path(a: int, b: int, cols: int) -> list[tuple[int, int]]:
    """Node pairs along the XY route from node a to node b on a grid of ``cols`` columns."""
    (ax, ay), (bx, by) = (a % cols, a // cols), (b % cols, b // cols)
    steps: list[tuple[int, int]] = []
    x, y = ax, ay
    while x != bx:
        nx = x + (1 if bx > x else -1)
        steps.append((y * cols + x, y * cols + nx))
        x = nx
    while y != by:
        ny = y + (1 if by > y else -1)
        steps.append((y * cols + x, ny * cols + x))
        y = ny
    return steps


class Network:
    """Routes between instances of one system."""

    def __init__(self, system: SystemSpec) -> None:
        self.system = system
        self.instances = place(system)
        self.per_die = [sum(1 for x in self.instances if x.chiplet == d) for d in range(system.chiplets.count)]

    def _on_die(self, die: int, a: int, b: int) -> list[Link]:
        if a == b:
            return []
        topo, n = self.system.noc.topology, self.per_die[die]
        if topo == "bus":
            return [Link(f"die{die}:bus", "noc")]
        if topo == "ring":
            fwd = (b - a) % n
            step = 1 if fwd <= n - fwd else -1
            pairs, x = [], a
            while x != b:
                nx = (x + step) % n
                pairs.append((x, nx))
                x = nx
        else:
            pairs = _xy_path(a, b, _grid(n))
        return [Link(f"die{die}:{p}->{q}", "noc") for p, q in pairs]

    def route(self, src: int, dst: int) -> Route:
        s, d = self.instances[src], self.instances[dst]
        if s.chiplet == d.chiplet:
            links = self._on_die(s.chiplet, s.slot, d.slot)
            return Route(tuple(links), len(links), 0)
        cross = [Link(f"d2d:{p}->{q}", "d2d") for p, q in _xy_path(s.chiplet, d.chiplet, _grid(len(self.per_die)))]
        links = self._on_die(s.chiplet, s.slot, 0) + cross + self._on_die(d.chiplet, 0, d.slot)
        noc = sum(1 for x in links if x.kind == "noc")
        return Route(tuple(links), noc, len(cross))

    def transfer_s(self, route: Route, nbytes: float) -> float:
        """Seconds one transfer of ``nbytes`` takes on an idle ``route``."""
        if not route.links:
            return 0.0
        noc, d2d = self.system.noc, self.system.chiplets.d2d
        noc_bps = noc.link_bandwidth_bytes_per_cycle * noc.clock_ghz * 1e9
        bw = min(noc_bps if x.kind == "noc" else d2d.bandwidth_gbytes_per_s * 1e9 for x in route.links)
        hops = route.noc_hops * noc.router_latency_cycles / (noc.clock_ghz * 1e9)
        return nbytes / bw + hops + route.d2d_hops * d2d.latency_ns * 1e-9

    def send(self, ledger: Ledger, src: int, dst: int, nbytes: float, ready_s: float) -> float:
        """Book ``nbytes`` from ``src`` to ``dst`` no earlier than ``ready_s``, each link of the
        route held for the whole transfer; returns when the bytes have arrived."""
        route = self.route(src, dst)
        if not route.links or nbytes <= 0:
            return ready_s
        uses = [ledger.links.setdefault(x.name, LinkUse(x.kind)) for x in route.links]
        start = max([ready_s, *(u.free_s for u in uses)])
        end = start + self.transfer_s(route, nbytes)
        ledger.sent_by[src] = ledger.sent_by.get(src, 0.0) + nbytes
        for u in uses:
            u.bytes_sent += nbytes
            u.free_s = end
        for u in reversed(uses):
            u.bytes_received += nbytes
        ledger.received_by[dst] = ledger.received_by.get(dst, 0.0) + nbytes
        ledger.noc_bit_hops += 8.0 * nbytes * route.noc_hops
        ledger.d2d_bits += 8.0 * nbytes * route.d2d_hops
        return end

    def energy_j(self, ledger: Ledger) -> tuple[float, float]:
        """(NoC, die-to-die) energy of the ledger's traffic, J."""
        noc = ledger.noc_bit_hops * self.system.noc.energy_pj_per_bit_per_hop * 1e-12
        return noc, ledger.d2d_bits * self.system.chiplets.d2d.energy_pj_per_bit * 1e-12
