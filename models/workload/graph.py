"""The dataflow graph of one step: which op hands which tensor to which op.

A version-2 workload names the tensors each op reads and writes (``Op.reads``, ``Op.writes``:
ids unique within one step, checked by :func:`models.workload.checks.validate`). From them:

- :func:`edges`: one :class:`Edge` per (producer op, consumer op, tensor) — a UNet's skip
  connection is an edge from a down-block op to an up-block op many ops later;
- :func:`step_inputs`: the tensors that no op of the step writes (the latent, the timestep,
  the text embedding);
- :func:`consumers`: for each op, the ops that read what it writes.

A workload without tensor ids (a version-1 file, a hand-written layer list) has no edges and
no step inputs here; ``Workload.has_tensor_ids`` says which case holds. See
``docs/workload-format.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.workload.core import Workload


@dataclass(frozen=True)
class Edge:
    """Op ``producer`` writes tensor ``tensor`` and op ``consumer`` reads it.

    ``producer`` and ``consumer`` are op indices of the step (``producer < consumer``);
    ``bytes`` is the size of the tensor as the producer wrote it: the producer's ``out_bytes``
    for its first output. The format records no size for a later output (a norm's mean and
    rstd, attention's logsumexp: no traced model reads one), so an edge carrying one has
    ``bytes`` 0.
    """

    producer: int
    consumer: int
    tensor: int
    bytes: int


def producers(workload: Workload) -> dict[int, int]:
    """``{tensor id: index of the op that writes it}`` over the step's ops."""
    return {t: i for i, op in enumerate(workload.ops) for t in op.writes}


def tensor_bytes(workload: Workload, producer: int, tensor: int) -> int:
    """Bytes of ``tensor`` as op ``producer`` wrote it (:class:`Edge`: 0 for a later output)."""
    op = workload.ops[producer]
    return op.out_bytes if op.writes and op.writes[0] == tensor else 0


def edges(workload: Workload) -> list[Edge]:
    """Every producer→consumer edge, ordered by consumer, then by the consumer's read order.

    An op that reads one tensor twice (``x * x``) has one edge for it: the data is sent once.
    Reads of step inputs are not edges (no producer)."""
    writer = producers(workload)
    out: list[Edge] = []
    for consumer, op in enumerate(workload.ops):
        for t in dict.fromkeys(op.reads):
            producer = writer.get(t)
            if producer is not None:
                out.append(Edge(producer, consumer, t, tensor_bytes(workload, producer, t)))
    return out


def step_inputs(workload: Workload) -> list[int]:
    """Tensor ids read in the step that no op of the step writes, in order of first read."""
    writer = producers(workload)
    seen = dict.fromkeys(t for op in workload.ops for t in op.reads if t not in writer)
    return list(seen)


def consumers(workload: Workload) -> dict[int, list[int]]:
    """``{op index: indices of the ops that read a tensor it writes}``, every op a key,
    consumers ascending and each listed once (an op with no consumer maps to ``[]``: the
    step's output, or an op whose output nothing reads)."""
    out: dict[int, list[int]] = {i: [] for i in range(len(workload.ops))}
    for e in edges(workload):
        if not out[e.producer] or out[e.producer][-1] != e.consumer:
            out[e.producer].append(e.consumer)
    return out
