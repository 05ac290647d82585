"""Event mode (simpy) against the analytic model: agreement, overlap, contention, timeline."""

from __future__ import annotations

import pytest
from simcase import arch, conv, gemm, one

from models.workload import Workload
from simulator.evaluation import evaluate


@pytest.mark.parametrize(
    "dataflow,precision", [("output_stationary", "int8"), ("weight_stationary", "fp16"), ("input_stationary", "fp16")]
)
@pytest.mark.parametrize("m,n,k", [(512, 512, 1024), (4096, 256, 2304)])
def test_compute_bound_op_agrees_with_analytic(dataflow: str, precision: str, m: int, n: int, k: int) -> None:
    a = arch(16, 16, dataflow, precision, dram_gbps=50.0, glb_bytes=1 << 18)
    an = evaluate(one(gemm(m, n, k)), a).per_op[0]
    ev = evaluate(one(gemm(m, n, k)), a, fidelity="event").per_op[0]
    assert an.bound == "compute"
    assert ev.cycles == pytest.approx(an.cycles, rel=0.02)
    assert ev.energy_breakdown_j["compute"] == an.energy_breakdown_j["compute"]


def test_compute_bound_ops_of_a_network_agree() -> None:
    layers = (
        conv(64, 32, 32, 64),
        conv(64, 32, 32, 128),
        conv(128, 32, 32, 128, stride=2),
        conv(128, 16, 16, 256),
        gemm(256, 1024, 1024),
    )
    w = Workload(ops=layers, steps=1)
    a = arch(16, 16, "output_stationary", "int8", dram_gbps=100.0, glb_bytes=1 << 19)
    an = evaluate(w, a)
    ev = evaluate(w, a, fidelity="event")
    checked = 0
    for x, y in zip(an.per_op, ev.per_op, strict=True):
        if x.bound == "compute" and x.compute_cycles > 20 * x.stall_cycles["fill_drain"]:
            assert y.cycles == pytest.approx(x.cycles, rel=0.02)
            checked += 1
    assert checked >= 3
    assert ev.latency_s_per_image == pytest.approx(an.latency_s_per_image, rel=0.02)


def test_event_overlaps_independent_ops() -> None:
    # Unchained ops: the next op's first load (with a long DRAM latency) hides under the
    # current op's compute, which the analytic model charges to every op.
    ops = tuple(gemm(256, 256, 512) for _ in range(4))
    w = Workload(ops=ops, steps=1)
    a = arch(16, 16, dram_gbps=50.0, glb_bytes=1 << 18)
    slow = a.model_copy(
        update={"memory": a.memory.model_copy(update={"dram": a.memory.dram.model_copy(update={"latency_ns": 5000.0})})}
    )
    an = evaluate(w, slow)
    ev = evaluate(w, slow, fidelity="event")
    assert ev.latency_s_per_image < an.latency_s_per_image
    # The first op waits for its first tile; the others found theirs loaded.
    first = ev.per_op[0].stall_cycles["fill_drain"]
    assert all(o.stall_cycles["fill_drain"] < 0.5 * first for o in ev.per_op[1:])


def test_one_dma_engine_contends() -> None:
    w = one(gemm(64, 4096, 4096))  # weight streaming: memory-bound
    two = arch(16, 16, dram_gbps=20.0, glb_bytes=1 << 18)
    one_engine = two.model_copy(update={"memory": two.memory.model_copy(update={"dma_engines": 1})})
    e2 = evaluate(w, two, fidelity="event").per_op[0]
    e1 = evaluate(w, one_engine, fidelity="event").per_op[0]
    assert e1.cycles >= e2.cycles
    assert e1.timeline["contention_s"] >= e2.timeline["contention_s"] > 0


def test_timeline_adds_up() -> None:
    layers = (conv(16, 16, 16, 32), conv(32, 16, 16, 32), gemm(256, 64, 32))
    d = evaluate(Workload(ops=layers, steps=1), arch(8, 8, dram_gbps=10.0), fidelity="event")
    t = 0.0
    for o in d.per_op:
        assert o.timeline["start_s"] == pytest.approx(t, abs=1e-15)
        assert o.timeline["end_s"] - o.timeline["start_s"] == pytest.approx(o.latency_s, rel=1e-9)
        assert o.compute_cycles + sum(o.stall_cycles.values()) == pytest.approx(o.cycles, rel=1e-9)
        t = o.timeline["end_s"]
    assert t == pytest.approx(d.latency_s_per_step, rel=1e-9)


@pytest.mark.parametrize("dram_gbps", [4.0, 50.0])
@pytest.mark.parametrize("dataflow", ["weight_stationary", "output_stationary", "input_stationary"])
def test_one_tile_op_streams_its_fold_runs_like_the_analytic_model(dataflow: str, dram_gbps: float) -> None:
    # One buffer tile (big buffer, latency objective): double-buffered, both fidelities expose
    # one fold run's load and write-back, not the whole tile's.
    a = arch(16, 16, dataflow, "int8", dram_gbps=dram_gbps)
    w = one(gemm(32, 64, 128))
    an = evaluate(w, a, objective="latency").per_op[0]
    ev = evaluate(w, a, objective="latency", fidelity="event").per_op[0]
    if an.bound == "compute":
        assert ev.cycles == pytest.approx(an.cycles, rel=0.02)
    else:  # DRAM-bound: the event model also waits for the last run's compute before its write
        assert an.cycles <= ev.cycles <= an.cycles * 1.05
    serial = evaluate(w, arch(16, 16, dataflow, "int8", dram_gbps=dram_gbps, double_buffered=False)).per_op[0]
    assert an.cycles < serial.cycles
