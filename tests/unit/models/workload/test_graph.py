"""Producer→consumer edges of a hand-built step with a skip connection (closed forms)."""

from __future__ import annotations

from models.workload import Edge, Op, Workload, consumers, edges, step_inputs
from models.workload.graph import producers


def _op(name: str, reads: tuple[int, ...], writes: tuple[int, ...], out_bytes: int) -> Op:
    return Op(name=name, kind="elementwise", act_bytes=0, out_bytes=out_bytes, reads=reads, writes=writes)


def skip_step() -> Workload:
    """A tiny UNet: ``x`` (id 0, a step input) → down → mid → up, and the up-block also reads the
    down-block's output (the skip); ``t`` (id 1) is read twice by one op; the norm writes a
    second output (its statistics, id 7) that nothing reads."""
    ops = (
        _op("down", (0,), (2,), 4096),  # 0
        _op("mid", (2, 1, 1), (3,), 1024),  # 1: reads t twice
        _op("norm", (3,), (4, 7), 1024),  # 2: a second output
        _op("up", (4,), (5,), 4096),  # 3
        _op("cat", (5, 2), (6,), 8192),  # 4: the skip connection reads op 0's tensor
    )
    return Workload(ops=ops)


def test_edges_are_the_producer_consumer_pairs_including_the_skip() -> None:
    w = skip_step()
    assert w.has_tensor_ids
    assert edges(w) == [
        Edge(producer=0, consumer=1, tensor=2, bytes=4096),
        Edge(producer=1, consumer=2, tensor=3, bytes=1024),
        Edge(producer=2, consumer=3, tensor=4, bytes=1024),
        Edge(producer=3, consumer=4, tensor=5, bytes=4096),
        Edge(producer=0, consumer=4, tensor=2, bytes=4096),  # the skip: 4 ops apart
    ]


def test_step_inputs_and_consumers() -> None:
    w = skip_step()
    assert step_inputs(w) == [0, 1]
    assert producers(w) == {2: 0, 3: 1, 4: 2, 7: 2, 5: 3, 6: 4}
    assert consumers(w) == {0: [1, 4], 1: [2], 2: [3], 3: [4], 4: []}


def test_a_workload_without_ids_has_no_edges() -> None:
    w = Workload(ops=(Op(name="a", kind="elementwise"), Op(name="b", kind="elementwise")))
    assert not w.has_tensor_ids
    assert edges(w) == [] and step_inputs(w) == []
    assert consumers(w) == {0: [], 1: []}


def test_edge_bytes_follow_the_producer_not_the_consumer() -> None:
    # Every edge carries the whole tensor its producer wrote: bytes sent on the edges out of
    # an op = out_bytes × the number of ops that read its first output.
    w = skip_step()
    sent: dict[int, int] = {}
    for e in edges(w):
        sent[e.producer] = sent.get(e.producer, 0) + e.bytes
    assert sent == {i: w.ops[i].out_bytes * len(c) for i, c in consumers(w).items() if c}
