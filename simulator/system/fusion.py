"""Layer fusion: consecutive ops run as one group, tile by tile, activations kept off DRAM.

A fused group is a run of ``depth`` consecutive ops (the last may be shorter). Inside it:

- **DRAM saved**: an edge's consumer does not read the tensor from DRAM (unless the single-core
  model already kept its input on chip), and a producer whose every consumer is in the group
  does not write it (unless its output was already kept). Bytes are at the arch's activation
  width; an op's savings are capped at its own DRAM bytes.
- **Tiles**: the group runs in ``T`` tiles, enough that half the smallest activation buffer of the
  group's cores holds a tile of its largest internal tensor (a data-parallel replica's share of
  it). Consecutive ops on different instances overlap as a pipeline over the tiles
  (:mod:`simulator.system.schedule`).
- **Weights re-fetched**: with ``T > 1`` an op whose weights are neither resident across steps nor
  fit half its buffer reads them once per tile: ``(T - 1) x weight bytes`` more DRAM (per replica).
- **Admission**: a group is fused only when it saves DRAM bytes in all (saved > re-fetched);
  otherwise its ops run layer by layer. So fusion never adds DRAM traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.workload import Workload
from simulator.system.costs import OpCost, elem_bytes
from simulator.system.graph import Edge

MAX_TILES = 4096  # a fused group's tiles; more would make per-tile overheads dominate


@dataclass(frozen=True)
class Fusion:
    """Which ops are fused, and what that changes per op (per step)."""

    depth: int
    group_of: tuple[int, ...]  # per op: fused group id, -1 = not fused
    tiles: tuple[int, ...]  # per op: its group's tiles (1 = not fused)
    dram_saved: tuple[float, ...]  # per op: DRAM bytes saved net of re-fetched weights

    def fused(self, e: Edge) -> bool:
        g = self.group_of[e.producer]
        return g >= 0 and g == self.group_of[e.consumer]


def edge_bytes(e: Edge, workload: Workload, costs: tuple[OpCost, ...]) -> float:
    """An edge's bytes at the producer's arch activation width."""
    return e.bytes / elem_bytes(workload.ops[e.producer]) * costs[e.producer].act_bytes_per_elem


def layer_by_layer(n_ops: int) -> Fusion:
    return Fusion(1, (-1,) * n_ops, (1,) * n_ops, (0.0,) * n_ops)


def fuse(workload: Workload, costs: tuple[OpCost, ...], edges: tuple[Edge, ...], depth: int) -> Fusion:
    """Fusion of runs of ``depth`` consecutive ops (see the module doc); depth 1 fuses nothing."""
    n = len(costs)
    if depth <= 1:
        return layer_by_layer(n)
    out_edges: dict[int, list[Edge]] = {}
    in_edges: dict[int, list[Edge]] = {}
    for e in edges:
        out_edges.setdefault(e.producer, []).append(e)
        in_edges.setdefault(e.consumer, []).append(e)
    group_of, tiles, saved = [-1] * n, [1] * n, [0.0] * n
    for g, start in enumerate(range(0, n, depth)):
        ops = range(start, min(n, start + depth))
        inside = [e for j in ops for e in in_edges.get(j, []) if e.producer >= start]
        if not inside:
            continue
        buffer = min(costs[j].buffer_bytes for j in ops)
        biggest = max(edge_bytes(e, workload, costs) / costs[e.consumer].replicas for e in inside)
        t = min(MAX_TILES, max(1, math.ceil(biggest / (buffer / 2)))) if buffer > 0 else MAX_TILES
        net = {j: _saved(j, start, ops.stop, in_edges, out_edges, workload, costs) for j in ops}
        for j in ops:
            c = costs[j]
            if t > 1 and not c.weights_resident and c.weight_bytes > c.buffer_bytes / 2:
                net[j] -= (t - 1) * c.weight_bytes * c.replicas
        if sum(net.values()) <= 0:
            continue
        for j in ops:
            group_of[j], tiles[j], saved[j] = g, t, net[j]
    return Fusion(depth, tuple(group_of), tuple(tiles), tuple(saved))


def _saved(
    j: int,
    lo: int,
    hi: int,
    in_edges: dict[int, list[Edge]],
    out_edges: dict[int, list[Edge]],
    workload: Workload,
    costs: tuple[OpCost, ...],
) -> float:
    """DRAM bytes op ``j`` no longer moves when ops ``lo..hi-1`` are fused (capped at its DRAM bytes)."""
    c = costs[j]
    read = 0.0
    if not c.input_resident:
        read = sum(edge_bytes(e, workload, costs) for e in in_edges.get(j, []) if e.producer >= lo)
    outs = out_edges.get(j, [])
    write = 0.0
    if outs and not c.output_kept and all(lo <= e.consumer < hi for e in outs):
        write = workload.ops[j].out_bytes / elem_bytes(workload.ops[j]) * c.act_bytes_per_elem
    return min(read + write, c.dram_bytes)
