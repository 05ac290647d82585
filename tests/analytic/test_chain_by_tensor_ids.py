"""Closed forms for inter-op reuse chained by tensor ids (trace format 2).

A GEMM ``A`` (16 x 32 by 32 x 32) feeds elementwise ops on an int8 design whose buffer holds
everything, so every edge the model may keep is kept and each DRAM byte can be counted: one byte
per element, ``MK`` = 512 input, ``KN`` = 1024 weight and ``E = MN`` = 512 output elements.

With tensor ids an op takes its input on chip from the op before it when that op wrote a tensor it
reads; the producer's DRAM write is dropped only when no other op reads the tensor
(``OpTable.out_shared``). A version-1 copy (no ids) is chained by the size rule and drops every
kept write (docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from simcase import arch, gemm

from models.workload import Op, Workload
from simulator.evaluation import evaluate

M, N, K = 16, 32, 32
E = M * N  # elements of every activation after A


def _elementwise(name: str, reads: tuple[int, ...], writes: int) -> Op:
    return Op(
        name=name,
        kind="elementwise",
        input_shapes=tuple((1, M, N) for _ in reads),
        output_shape=(1, M, N),
        flops=E,
        act_bytes=len(reads) * E * 4,
        out_bytes=E * 4,
        reads=reads,
        writes=(writes,),
    )


def _workload(*rest: Op) -> Workload:
    """``A``: x (t0, a step input) -> t1, then ``rest``."""
    a = replace(gemm(M, N, K), name="A", reads=(0,), writes=(1,))
    return Workload(ops=(a, *rest), steps=1, format_version=2)


def _dram(w: Workload) -> list[float]:
    return [o.traffic_bytes["dram"] for o in evaluate(w, arch(8, 8)).per_op]


def _version1(w: Workload) -> Workload:
    return Workload(ops=tuple(replace(op, reads=(), writes=()) for op in w.ops), steps=w.steps)


def test_a_residual_keeps_the_edge_and_still_writes_the_shared_tensor() -> None:
    """A -> t1; B(t1) -> t2; C(t1, t2) -> t3. B takes t1 on chip, but C reads it too: A writes t1
    once (E), C reads it from DRAM (E); t2 only C reads, so B writes nothing."""
    w = _workload(_elementwise("B", (1,), 2), _elementwise("C", (1, 2), 3))
    d = evaluate(w, arch(8, 8))
    assert [o.mapping["input_resident"] for o in d.per_op] == [False, True, True]
    assert [o.mapping["output_kept"] for o in d.per_op] == [True, True, False]
    assert _dram(w) == [M * K + K * N + E, 0.0, E + E]
    assert d.extras["traffic_bytes_per_image"]["dram"] == M * K + K * N + 3 * E


def test_a_pure_chain_drops_every_kept_write() -> None:
    """A -> t1; B(t1) -> t2; C(t2) -> t3: only the step input, the weights and C's output move."""
    w = _workload(_elementwise("B", (1,), 2), _elementwise("C", (2,), 3))
    assert _dram(w) == [M * K + K * N, 0.0, E]


def test_a_vector_op_shared_output_is_written() -> None:
    """A -> t1; B(t1) -> t2; C(t2) -> t3; D(t2, t3) -> t4: B's t2 goes on chip to C and through
    DRAM to D; A's t1 and C's t3 have one reader each, the next op."""
    w = _workload(_elementwise("B", (1,), 2), _elementwise("C", (2,), 3), _elementwise("D", (2, 3), 4))
    assert _dram(w) == [M * K + K * N, E, 0.0, E + E]


def test_a_version1_copy_chains_by_sizes_and_drops_the_write() -> None:
    """Without ids the residual is chained by the size rule: every kept write is dropped, so C
    reads from DRAM its input the previous op did not hand it (E) and A writes nothing (the
    rule cannot see that C reads t1: today's numbers for version-1 traces and layer lists)."""
    w = _workload(_elementwise("B", (1,), 2), _elementwise("C", (1, 2), 3))
    assert _dram(_version1(w)) == [M * K + K * N, 0.0, E + E]
    assert sum(_dram(_version1(w))) == pytest.approx(sum(_dram(w)) - E)
