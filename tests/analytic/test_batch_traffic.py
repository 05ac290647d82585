"""Batch B as a workload transform (simulator.optable.with_batch): closed forms on one GEMM.

A linear layer ``y[M×N] = x[M×K]·W[K×N]`` whose tiles all fit the buffer moves, per step and per
image, ``(M·K + M·N)·b`` activation bytes and ``K·N·b / B`` weight bytes from DRAM at batch B
(``b`` the operand width): the weights are read once per batch, the activations once per image.
MACs per image do not change with B, and the time to finish a batch never falls as B grows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.gpu import load_gpu
from accelerator.spec import load_arch, parse_arch
from models.workload import Op, Workload
from simulator.evaluation import evaluate
from simulator.gpu.model import evaluate_gpu

ROOT = Path(__file__).resolve().parents[2]
M, N, K = 64, 256, 512
BATCHES = (1, 2, 4, 16)
DESIGNS = {"dc-os-int8-sparse": 1, "edge-os-int8": 1, "dc-ws-fp16": 2}  # bytes per operand element


def linear(m: int = M, n: int = N, k: int = K) -> Workload:
    op = Op(name="aten.mm.default", kind="gemm", dtype="float32", gemm=(1, m, n, k), macs=m * n * k,
            flops=2 * m * n * k, act_bytes=4 * m * k, weight_bytes=4 * k * n, out_bytes=4 * m * n,
            weight_is_param=True, input_shapes=((m, k), (k, n)), output_shape=(m, n))  # fmt: skip
    return Workload(ops=(op,), steps=1)


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_weights_are_read_once_per_batch(name: str) -> None:
    arch, b = load_arch(ROOT / "scenarios" / "arch" / f"{name}.yaml"), DESIGNS[name]
    latency = 0.0
    for batch in BATCHES:
        r = evaluate(linear(), arch, batch=batch)
        dram = r.extras["traffic_bytes_per_image"]["dram"]
        assert dram == pytest.approx((M * K + M * N) * b + K * N * b / batch, rel=1e-12)
        assert sum(o.macs for o in r.per_op) / batch == M * N * K  # per_op is the batched step
        assert r.batch == batch and r.extras.get("batch", {"images": 1})["images"] == batch
        assert r.latency_s_per_image >= latency  # the batch's latency
        latency = r.latency_s_per_image


def test_batch_one_is_the_unbatched_result() -> None:
    arch = load_arch(ROOT / "scenarios" / "arch" / "dc-os-int8-sparse.yaml")
    assert evaluate(linear(), arch, batch=1) == evaluate(linear(), arch)
    h100 = load_gpu("h100-sxm")
    assert evaluate_gpu(linear(), h100, batch=1) == evaluate_gpu(linear(), h100)


def test_gpu_roofline_batch_is_b_times_the_work_at_the_same_energy_per_image() -> None:
    """A compute-bound GEMM on the uncalibrated roofline: the batch takes B·t, each image t·TDP."""
    h100 = load_gpu("h100-sxm")
    t = 2 * 8192**3 / 989.4e12
    for batch in (1, 4):
        r = evaluate_gpu(linear(8192, 8192, 8192), h100, batch=batch)
        assert r.latency_s_per_image == pytest.approx(batch * t, rel=1e-12)
        assert r.energy_j_per_image == pytest.approx(700.0 * t, rel=1e-12)
        if batch > 1:
            assert r.extras["batch"]["images_per_s"] == pytest.approx(batch / r.latency_s_per_image)


NEST = """name: nest-os
clock_ghz: 1.0
technology_nm: 45
mapping: {memory_model: nest}
compute: {rows: 8, cols: 8, dataflow: weight_stationary, macs_per_pe_per_cycle: {int8: 1}, precision: int8}
memory:
  levels:
    - {name: glb, size_bytes: 4194304, banks: 16, width_bits: 64, bandwidth_bytes_per_cycle: 128,
       double_buffered: true}
  dram: {kind: lpddr5, bandwidth_gb_per_s: 51.2}
"""


def test_nest_designs_share_weights_too() -> None:
    arch = parse_arch(NEST)
    one = evaluate(linear(), arch)
    for batch in (4, 16):
        r = evaluate(linear(), arch, batch=batch)
        dram = r.extras["traffic_bytes_per_image"]["dram"]
        assert dram <= one.extras["traffic_bytes_per_image"]["dram"]
        assert dram >= M * K + M * N  # the activations still come in and go out once per image
        assert sum(o.macs for o in r.per_op) == batch * M * N * K
