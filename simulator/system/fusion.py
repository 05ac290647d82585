"""Layer fusion: consecutive ops run as one group, tile by tile, activations kept off DRAM.

A fused group is a run of ``depth`` consecutive ops (the last may be shorter). Inside it:

- **DRAM saved**: every edge inside the group saves its consumer's DRAM read of the tensor
  (unless the single-core model already kept that very edge on chip: ``OpCost.kept_from``; where
  its size rule kept an input with no edge from that op, the group's first edge into the op), and
  a producer whose every consumer is in the group saves its DRAM write, once per tensor (unless
  the single-core model already dropped it: output kept for its only reader, not
  ``OpCost.output_shared``); a row split's halo rows read twice go with its fused input. Bytes
  are at the arch's activation width; an op's savings are capped at its own DRAM bytes. So with
  nothing kept by the single-core model (``inter_op_reuse`` off) the fused DRAM bytes are the
  layer-by-layer ones less, per fused edge, its tensor's read and, per tensor whose readers are
  all in the group, its write. A tensor from outside the group that several of its ops read is
  read from DRAM once, by the first (swiglu's input, read by both Gemms).
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
from models.workload.graph import Edge
from simulator.system.costs import OpCost, elem_bytes

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
        shared = _shared_reads(workload, costs, in_edges, ops)
        if not inside and not shared:
            continue
        buffer = min(costs[j].buffer_bytes for j in ops)
        kept = [edge_bytes(e, workload, costs) / costs[e.consumer].replicas for e in inside]
        biggest = max(kept + [b / costs[j].replicas for j, b in shared.items()])
        t = min(MAX_TILES, max(1, math.ceil(biggest / (buffer / 2)))) if buffer > 0 else MAX_TILES
        net = {
            j: min(
                costs[j].dram_bytes, _saved(j, start, ops.stop, in_edges, out_edges, workload, costs) + shared.get(j, 0)
            )
            for j in ops
        }
        for j in ops:
            c = costs[j]
            if t > 1 and not c.weights_resident and c.weight_bytes > c.buffer_bytes / 2:
                net[j] -= (t - 1) * c.weight_bytes * c.replicas
        if sum(net.values()) <= 0:
            continue
        for j in ops:
            group_of[j], tiles[j], saved[j] = g, t, net[j]
    return Fusion(depth, tuple(group_of), tuple(tiles), tuple(saved))


def _shared_reads(
    workload: Workload, costs: tuple[OpCost, ...], in_edges: dict[int, list[Edge]], ops: range
) -> dict[int, float]:
    """Per op of the group: DRAM bytes of tensors from outside the group that an earlier op of the
    group already read (they stay in the buffer). A step input's bytes are known only as a reader's
    sole activation input (``act_bytes``); otherwise it saves nothing."""
    out: dict[int, float] = {}
    seen: set[int] = set()
    for j in ops:
        op = workload.ops[j]
        by_tensor = {e.tensor: e for e in in_edges.get(j, [])}
        for t in dict.fromkeys(op.reads):
            e = by_tensor.get(t)
            if t in seen and e is not None and e.producer < ops.start:
                out[j] = out.get(j, 0.0) + edge_bytes(e, workload, costs)
            elif t in seen and e is None and len(set(op.reads)) == 1:
                out[j] = out.get(j, 0.0) + op.act_bytes / elem_bytes(op) * costs[j].act_bytes_per_elem
            seen.add(t)
    return out


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
    inside = [e for e in in_edges.get(j, []) if e.producer >= lo]
    if c.kept_from >= 0 and inside:  # that read is already saved: the kept edge's, else (sizes matched) the first
        kept = next((e for e in inside if e.producer == c.kept_from), inside[0])
        inside.remove(kept)
    read = sum(edge_bytes(e, workload, costs) for e in inside)
    if inside and c.split is not None:  # a row split's halo re-read goes with its fused input
        read += c.split.extra_dram_bytes
    outs = out_edges.get(j, [])
    write = 0.0
    dropped = c.output_kept and not c.output_shared  # the single-core model wrote nothing
    if outs and not dropped and all(lo <= e.consumer < hi for e in outs):
        write = workload.ops[j].out_bytes / elem_bytes(workload.ops[j]) * c.act_bytes_per_elem
    return min(read + write, c.dram_bytes)
