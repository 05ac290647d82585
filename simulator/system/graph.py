"""Producer -> consumer edges of a workload's ops (one denoising step).

Ops that record tensor ids (``Op.reads`` / ``Op.writes``, trace format version 2) give the real
edges, skip connections included (:func:`models.workload.graph.edges`: one per producer,
consumer and tensor, carrying the tensor's bytes as its producer wrote it). Without tensor ids
the ops are taken as a chain (op i feeds op i+1 with its ``out_bytes``) and :func:`op_edges`
says so (``inferred``).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.workload import Workload
from models.workload import graph as workload_graph
from models.workload.graph import Edge

INFERRED_NOTE = "edges inferred (no tensor ids in the trace): op i feeds op i+1 with its out_bytes"


@dataclass(frozen=True)
class Graph:
    edges: tuple[Edge, ...]  # models.workload.graph.Edge; tensor -1 on an inferred chain
    inferred: bool  # True: a sequential chain, no tensor ids in the trace


def op_edges(workload: Workload) -> Graph:
    """The workload's producer -> consumer edges, by consumer (then its read order)."""
    ops = workload.ops
    if not workload.has_tensor_ids:
        chain = tuple(Edge(i, i + 1, -1, ops[i].out_bytes) for i in range(len(ops) - 1))
        return Graph(chain, True)
    return Graph(tuple(workload_graph.edges(workload)), False)
