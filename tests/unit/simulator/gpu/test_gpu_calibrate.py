"""Calibration recovers known parameters from synthetic measurements (files round-trip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelerator.gpu import load_gpu
from models.gpu.measurement import FORMAT_NAME, FORMAT_VERSION, MeasurementError, write_measurement
from models.workload import Op, Workload, to_json
from simulator.gpu.calibrate import calibrate, load_calibration, load_samples, save_calibration
from simulator.gpu.model import op_energy, step_costs
from simulator.gpu.params import GpuModelParams

H100 = load_gpu("h100-sxm")
TRUE = GpuModelParams(
    eff_max={"gemm": 0.6}, flops_half={"gemm": 2e9}, mem_eff={"elementwise": 0.5, "gemm": 0.5},
    kernel_fixed_s={"gemm": 5e-6, "elementwise": 3e-6}, host_issue_s=20e-6, idle_w=120.0,
    active_w=80.0, pj_per_tensor_flop=0.4, pj_per_vector_flop=0.0, pj_per_hbm_byte=20.0,
    pj_per_l2_byte=0.0, l2_resident_fraction=0.5,
)  # fmt: skip


def _workload(scale: int) -> Workload:
    ops = []
    for n in (128, 512, 2048, 4096):
        n *= scale
        ops.append(Op(name="aten.mm.default", kind="gemm", dtype="bfloat16", gemm=(1, n, 1024, 1024),
                      macs=n * 1024 * 1024, flops=2 * n * 1024 * 1024, act_bytes=2 * n * 1024,
                      weight_bytes=2 * 1024 * 1024, out_bytes=2 * n * 1024, weight_is_param=True))  # fmt: skip
        for e in (1 << 12, 1 << 18, 1 << 25):
            ops.append(Op(name="aten.add.Tensor", kind="elementwise", dtype="bfloat16", flops=e * scale,
                          act_bytes=4 * e * scale, out_bytes=2 * e * scale))  # fmt: skip
    return Workload(ops=tuple(ops), provenance={"model": f"synthetic{scale}"})


def _doc(scale: int, model: str) -> dict:
    wl = _workload(scale)
    step = step_costs(wl, H100, TRUE, "bf16")
    costs, lat = step.ops, step.latency_s
    steps, batch = 10, 1
    step_s = sum(lat)
    energy = sum(sum(op_energy(c, t, H100, TRUE).values()) for c, t in zip(costs, lat, strict=True)) * steps
    return {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model, "created_utc": "2026-01-01T00:00:00+00:00",
        "device": {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "driver": "x", "torch": "x", "cuda": "x"},
        "settings": {"batch": batch, "steps": steps, "dtype": "bf16"},
        "latency": {"s_per_step": step_s, "s_per_image": step_s * steps},
        "energy": {"available": True, "idle_w": TRUE.idle_w, "span_s": step_s * steps * 20, "images": 20,
                   "j_per_image": energy},
        "per_op": [{"i": i, "time_s": c.gpu_s} for i, c in enumerate(costs)],
        "workload": to_json(wl), "notes": [],
    }  # fmt: skip


def test_fit_recovers_known_parameters(tmp_path: Path) -> None:
    paths = [write_measurement(_doc(s, f"m{s}"), tmp_path / f"m{s}.json.gz") for s in (1, 2, 4)]
    c = calibrate(load_samples(paths), H100, "bf16")
    p = c.params
    assert p.host_issue_s == pytest.approx(20e-6, rel=0.05)
    assert p.get("mem_eff", "elementwise:add", 0) == pytest.approx(0.5, rel=0.1)
    assert p.get("kernel_fixed_s", "elementwise:add", 0) == pytest.approx(3e-6, rel=0.25)
    assert p.get("eff_max", "gemm:mm", 0) == pytest.approx(0.6, rel=0.15)
    assert p.idle_w == pytest.approx(120.0)
    assert c.mape["latency_step"] < 3.0 and c.mape["energy_image"] < 3.0
    assert c.measured["m1"]["latency_error_pct"] < 3.0
    # round trip through the calibration file
    out = save_calibration(c, tmp_path / "cal.json")
    back = load_calibration(out)
    assert back.params == c.params and back.mape == c.mape
    assert back.provenance["measurements"][0]["sha256"]


def test_cpu_measurements_are_refused(tmp_path: Path) -> None:
    doc = _doc(1, "m")
    doc["device"]["kind"] = "cpu"
    path = write_measurement(doc, tmp_path / "cpu.json")
    with pytest.raises(MeasurementError, match="CPU measurement"):
        load_samples([path])
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(MeasurementError, match="format"):
        load_samples([bad])


def test_committed_h100_calibration_loads() -> None:
    path = Path(__file__).parents[4] / "scenarios" / "gpu" / "h100-sxm-calibration.json"
    c = load_calibration(path)
    assert c.gpu == "h100-sxm" and "latency_step" in c.mape and np.isfinite(c.params.idle_w)


def _sample(tmp_path: Path, name: str, *, step_s: float, profiled_s: float, host_s: float | None,
            mode: str = "eager", torch_version: str = "x") -> Path:  # fmt: skip
    doc = _doc(1, name)
    n = len(doc["per_op"])
    doc["per_op"] = [{"i": i, "time_s": profiled_s / n} for i in range(n)]
    doc["latency"]["s_per_step"] = step_s
    if host_s is not None:
        doc["latency"]["host_s_per_step"] = host_s
    doc["settings"]["mode"] = mode
    doc["device"]["torch"] = torch_version
    return write_measurement(doc, tmp_path / f"{name}.json.gz")


def test_profiler_inflation_is_divided_out(tmp_path: Path) -> None:
    gpu_bound = _sample(tmp_path, "vae", step_s=0.010, profiled_s=0.018, host_s=0.004)  # 1.8x, own
    graph = _sample(tmp_path, "g", step_s=0.010, profiled_s=0.014, host_s=None, mode="graph")  # 1.4x, own
    host_bound = _sample(tmp_path, "ddpm", step_s=0.020, profiled_s=0.008, host_s=0.019)  # borrows
    other = _sample(tmp_path, "o", step_s=0.020, profiled_s=0.008, host_s=0.019, torch_version="y")
    accurate = _sample(tmp_path, "a", step_s=0.010, profiled_s=0.009, host_s=0.002, torch_version="z")
    s = {x.model: x for x in load_samples([gpu_bound, graph, host_bound, other, accurate])}
    assert s["vae"].inflation == pytest.approx(1.8) and s["vae"].inflation_source == "own"
    assert s["vae"].op_times_s.sum() == pytest.approx(0.010)
    assert s["g"].inflation == pytest.approx(1.4) and s["g"].point == "g[graph]"
    assert s["ddpm"].inflation == pytest.approx(1.6) and s["ddpm"].inflation_source == "session median"
    assert s["ddpm"].op_times_s.sum() == pytest.approx(0.008 / 1.6)
    assert s["o"].inflation == 1.0 and s["o"].inflation_source == "none"  # another torch: no borrowing
    assert s["a"].inflation == 1.0 and s["a"].op_times_s.sum() == pytest.approx(0.009)  # sums below the step


def test_bad_mode_and_index_are_refused(tmp_path: Path) -> None:
    doc = _doc(1, "m")
    doc["settings"]["mode"] = "turbo"
    with pytest.raises(MeasurementError, match='settings.mode: expected one of eager, graph, got "turbo"'):
        load_samples([write_measurement(doc, tmp_path / "m.json")])
    doc = _doc(1, "m")
    doc["per_op"].append({"i": 999, "time_s": 1.0})
    with pytest.raises(
        MeasurementError, match=r"per_op\[16\]\.i: expected an index into the workload's 16 ops .*got 999"
    ):
        load_samples([write_measurement(doc, tmp_path / "m2.json")])


def test_repeated_runs_merge_into_points(tmp_path: Path) -> None:
    runs = []
    for k, factor in enumerate((0.8, 1.2)):  # the same point measured 20% fast and 20% slow
        doc = _doc(1, "m1")
        doc["latency"]["s_per_step"] *= factor
        doc["energy"]["j_per_image"] *= factor
        runs.append(write_measurement(doc, tmp_path / f"r{k}.json.gz"))
    runs.append(write_measurement(_doc(2, "m2"), tmp_path / "m2.json.gz"))
    c = calibrate(load_samples(runs), H100, "bf16")
    assert set(c.measured) == {"m1", "m1#2", "m2"}
    p = c.points["m1"]
    assert p["runs"] == 2 and p["latency_step_spread_pct"] == pytest.approx(20.0)
    assert p["latency_s_per_step"] == pytest.approx(c.measured["m1"]["latency_s_per_step"] / 0.8)
    # the mean of the runs is the true value, so the per-point error is far below the per-run one
    assert p["latency_step_error_pct"] < 5.0 < c.measured["m1"]["latency_error_pct"]
    assert c.mape["latency_step_run_to_run_spread"] == pytest.approx(20.0)
    back = load_calibration(save_calibration(c, tmp_path / "cal.json"))
    assert back.points == c.points


def test_calibration_report_shows_every_run_and_class(tmp_path: Path) -> None:
    from simulator.gpu.report import write_calibration_report

    paths = [write_measurement(_doc(s, f"m{s}"), tmp_path / f"m{s}.json.gz") for s in (1, 2)]
    c = calibrate(load_samples(paths), H100, "bf16")
    assert set(c.measured["m1"]["op_class_s_per_step"]) == {"gemm", "elementwise"}
    gemm = c.measured["m1"]["op_class_s_per_step"]["gemm"]
    assert gemm["ops"] == 4 and gemm["predicted_s"] == pytest.approx(gemm["measured_s"], rel=0.1)
    page = write_calibration_report(c, tmp_path / "a").read_text(encoding="utf-8")
    for needle in ("pj-cal-latency", "pj-cal-energy", "pj-cal-op-class", "latency_step", "m1", "m2"):
        assert needle in page
    again = write_calibration_report(c, tmp_path / "b").read_text(encoding="utf-8")
    assert page == again  # deterministic bytes
    assert not (tmp_path / "a" / "plotly.min.js").exists() and len(page) > 4_000_000  # plotly.js inlined


def test_report_lines_show_runs_points_and_mape(tmp_path: Path) -> None:
    from simulator.gpu.cli import report_lines

    runs = []
    for k, factor in enumerate((0.8, 1.2)):
        doc = _doc(1, "m1")
        doc["latency"]["s_per_step"] *= factor
        runs.append(write_measurement(doc, tmp_path / f"r{k}.json.gz"))
    c = calibrate(load_samples(runs), H100, "bf16")
    lines = report_lines(c)
    run = next(line for line in lines if line.startswith("  m1#2 "))
    assert f"{c.measured['m1#2']['latency_s_per_step'] * 1e3:8.3f} ms measured" in run and "±" not in run
    heading = next(i for i, line in enumerate(lines) if line.startswith("repeated points: mean of the runs ±"))
    point = lines[heading + 1]
    assert point.startswith("  m1 ") and "ms ±20.0% measured" in point
    assert f"  MAPE latency_step: {c.mape['latency_step']:.1f}%" in lines
