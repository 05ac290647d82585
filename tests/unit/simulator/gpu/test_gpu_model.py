"""The GPU cost model: closed-form roofline answers and the calibrated terms."""

from __future__ import annotations

import pytest

from accelerator.gpu import load_gpu
from models.workload import Op, Workload
from simulator.gpu.model import evaluate_gpu, gpu_summary
from simulator.gpu.params import GpuCalibration, GpuModelParams

H100 = load_gpu("h100-sxm")


def gemm(m: int, n: int, k: int, dtype: str = "bfloat16", b: int = 2) -> Op:
    return Op(
        name="aten.mm.default", kind="gemm", dtype=dtype, gemm=(1, m, n, k), macs=m * n * k,
        flops=2 * m * n * k, act_bytes=b * m * k, weight_bytes=b * k * n, out_bytes=b * m * n,
        weight_is_param=True,
    )  # fmt: skip


def add(elements: int) -> Op:
    return Op(name="aten.add.Tensor", kind="elementwise", dtype="bfloat16", flops=elements,
              act_bytes=4 * elements, out_bytes=2 * elements)  # fmt: skip


def test_compute_bound_gemm_is_flops_over_peak() -> None:
    r = evaluate_gpu(Workload(ops=(gemm(8192, 8192, 8192),), steps=50), H100)
    t = 2 * 8192**3 / 989.4e12  # 1.1113 ms
    assert r.latency_s_per_step == pytest.approx(t, rel=1e-12)
    assert r.latency_s_per_image == pytest.approx(50 * t, rel=1e-12)
    assert r.per_op[0].bound == "compute" and r.per_op[0].utilization == pytest.approx(1.0)
    assert r.kind == "gpu" and r.area_mm2 is None and r.label == "modelled"
    # uncalibrated power: idle + (TDP - idle) at peak = TDP while compute bound
    # (compute alone already draws TDP; the byte energies are capped away)
    assert r.energy_j_per_step / r.latency_s_per_step == pytest.approx(700.0, rel=1e-12)


def test_memory_bound_op_is_bytes_over_bandwidth_and_precision_rescales() -> None:
    r = evaluate_gpu(Workload(ops=(add(1 << 26),)), H100)
    assert r.latency_s_per_step == pytest.approx(6 * (1 << 26) / 3.35e12, rel=1e-12)
    assert r.per_op[0].bound == "memory"
    # a GEMM traced in fp32 runs at bf16: half the bytes; fp8 doubles the peak
    skinny = gemm(16, 8192, 8192, dtype="float32", b=4)
    bf16 = evaluate_gpu(Workload(ops=(skinny,)), H100, precision="bf16")
    assert bf16.latency_s_per_step == pytest.approx(2 * (16 * 8192 * 2 + 8192**2) / 3.35e12, rel=1e-12)
    big = gemm(8192, 8192, 8192)
    fp8 = evaluate_gpu(Workload(ops=(big,)), H100, precision="fp8")
    assert fp8.latency_s_per_step == pytest.approx(2 * 8192**3 / 1978.9e12, rel=1e-12)


def test_steps_override_and_summary_without_calibration() -> None:
    r = evaluate_gpu(Workload(ops=(add(1 << 20),), steps=10), H100, steps=4)
    assert r.latency_s_per_image == pytest.approx(4 * r.latency_s_per_step)
    assert "uncalibrated" in gpu_summary(r)


def test_calibrated_terms_closed_form() -> None:
    p = GpuModelParams(
        eff_max={"gemm": 0.5}, flops_half={"gemm": 1e9}, mem_eff={"*": 0.5},
        kernel_fixed_s={"*": 2e-6}, host_issue_s=10e-6, idle_w=100.0, active_w=50.0,
        pj_per_tensor_flop=0.5, pj_per_vector_flop=0.0, pj_per_hbm_byte=0.0, pj_per_l2_byte=0.0,
    )  # fmt: skip
    cal = GpuCalibration(gpu="h100-sxm", params=p, mape={"latency_step": 7.0, "energy_image": 9.0})
    op = gemm(4096, 4096, 4096)
    f = 2 * 4096**3
    gpu_s = (f + 1e9) / (989.4e12 * 0.5) + 2e-6  # n½ curve + fixed
    small = add(1024)  # host-bound: the GPU waits for the host
    r = evaluate_gpu(Workload(ops=(small, op)), H100, calibration=cal)
    # op 1 issued at 10 us, done at 12.x us; op 2 issued at 20 us (host), runs gpu_s
    assert r.per_op[0].bound == "launch"
    assert r.latency_s_per_step == pytest.approx(20e-6 + gpu_s, rel=1e-9)
    e_big = 100.0 * r.per_op[1].latency_s + 50.0 * gpu_s + 0.5e-12 * f
    assert r.per_op[1].energy_j == pytest.approx(e_big, rel=1e-9)
    assert "MAPE latency/step 7.0%" in gpu_summary(r)


def test_graph_mode_drops_the_host_queue() -> None:
    ops = tuple(
        Op(name="aten.add.Tensor", kind="elementwise", dtype="bfloat16", flops=1 << 20,
           act_bytes=4 << 20, out_bytes=2 << 20)
        for _ in range(10)
    )  # fmt: skip
    wl = Workload(ops=ops, provenance={"model": "m"})
    cal = GpuCalibration(gpu="h100-sxm", params=GpuModelParams(host_issue_s=1e-3), points={"m[graph]": {"runs": 1}})
    eager = evaluate_gpu(wl, H100, calibration=cal)
    graph = evaluate_gpu(wl, H100, calibration=cal, mode="graph")
    kernel_s = (6 << 20) / H100.hbm_bytes_per_s  # each add streams 6 MiB at the datasheet bandwidth
    assert eager.latency_s_per_step == pytest.approx(10e-3 + kernel_s)  # host-bound: 10 issues of 1 ms
    assert graph.latency_s_per_step == pytest.approx(10 * kernel_s)
    assert graph.extras["mode"] == "graph" and graph.extras["measured"] == {"runs": 1}
    assert "measured" not in eager.extras
    with pytest.raises(ValueError, match="mode"):
        evaluate_gpu(wl, H100, calibration=cal, mode="turbo")


def test_measured_fp8_workload_runs_only_scaled_mm_in_fp8() -> None:
    """A workload measured with --dtype fp8: _scaled_mm GEMMs at the fp8 peak, the rest at bf16,
    bytes as traced; a bf16 trace evaluated at fp8 is a hypothetical all-fp8 run instead."""
    n = 8192
    fp8_mm = Op(
        name="aten._scaled_mm.default",
        kind="gemm",
        dtype="bfloat16",
        gemm=(1, n, n, n),
        macs=n**3,
        flops=2 * n**3,
        act_bytes=n * n,
        weight_bytes=n * n,
        out_bytes=2 * n * n,
        weight_is_param=True,
    )
    conv = Op(
        name="aten.convolution.default",
        kind="conv",
        dtype="bfloat16",
        gemm=(1, n, n, n),
        macs=n**3,
        flops=2 * n**3,
        act_bytes=2 * n * n,
        weight_bytes=2 * n * n,
        out_bytes=2 * n * n,
        weight_is_param=True,
    )
    mixed = evaluate_gpu(Workload(ops=(fp8_mm, conv)), H100, precision="fp8")
    t_mm, t_conv = (o.latency_s for o in mixed.per_op)
    assert t_mm == pytest.approx(2 * n**3 / H100.peak_flops_per_s("fp8"))  # compute-bound, roofline
    assert t_conv == pytest.approx(2 * n**3 / H100.peak_flops_per_s("bf16"))
    assert mixed.per_op[1].mapping["l2_bytes"] == 6 * n * n  # bf16 bytes kept, not halved
    all_fp8 = evaluate_gpu(Workload(ops=(conv,)), H100, precision="fp8")
    assert all_fp8.latency_s_per_step == pytest.approx(2 * n**3 / H100.peak_flops_per_s("fp8"))
    assert all_fp8.per_op[0].mapping["l2_bytes"] == 3 * n * n


def test_summary_labels_both_spreads_and_the_calibrations_own_prediction() -> None:
    """`run` and `calibrate` print different predictions for "the same" point (different op
    lists) and two spreads (latency, energy): the line names which is which."""
    point = {
        "runs": 2, "batch": 1, "steps": 50, "mode": "eager",
        "latency_s_per_step": 0.022067, "predicted_latency_s_per_step": 0.020873,
        "latency_step_spread_pct": 20.9, "energy_j_per_image": 159.5,
        "predicted_energy_j_per_image": 146.3, "energy_image_spread_pct": 23.0,
    }  # fmt: skip
    cal = GpuCalibration(gpu="h100-sxm", params=GpuModelParams(), mape={"latency_step": 16.1}, points={"m": point})
    r = evaluate_gpu(Workload(ops=(add(1 << 20),), provenance={"model": "m"}), H100, calibration=cal, steps=50)
    line = gpu_summary(r)
    assert "measured 22.067 ms/step, 160 J/image (50 steps, batch 1, mean of 2 runs; " in line
    assert "run-to-run spread ±21% latency, ±23% energy)" in line
    assert line.endswith("; on the measured run's own op list the model gives 20.873 ms/step, 146 J/image")
