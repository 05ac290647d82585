"""``picojoule calibrate`` on bad inputs and outputs: exit 2 with the file and field named; the
calibration file is strict JSON (never NaN), written atomically, and regenerates the committed
H100 calibration byte for byte."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from accelerator.gpu import load_gpu
from models.gpu.measurement import FORMAT_NAME, FORMAT_VERSION, write_measurement
from models.workload import Op, Workload, to_json
from simulator.cli import main
from simulator.gpu.calibrate import CalibrationError, calibrate, load_samples, save_calibration
from simulator.gpu.model import op_energy, step_costs
from simulator.gpu.params import GpuModelParams

H100 = load_gpu("h100-sxm")
ROOT = Path(__file__).resolve().parents[4]
COMMITTED = ROOT / "scenarios" / "gpu" / "h100-sxm-calibration.json"
RUNS = sorted((ROOT / "scenarios" / "gpu" / "h100-sxm-2026-11-27").glob("run*/*.json.gz"))


def _doc(scale: int, model: str) -> dict[str, Any]:
    """A measurement of GEMMs and adds that a known model would give (as in test_gpu_calibrate)."""
    true = GpuModelParams(eff_max={"gemm": 0.6}, mem_eff={"elementwise": 0.5, "gemm": 0.5}, host_issue_s=20e-6,
                          idle_w=120.0, active_w=80.0, pj_per_hbm_byte=20.0, l2_resident_fraction=0.5)  # fmt: skip
    ops = []
    for n in (128 * scale, 2048 * scale):
        ops.append(Op(name="aten.mm.default", kind="gemm", dtype="bfloat16", gemm=(1, n, 1024, 1024),
                      macs=n * 1024 * 1024, flops=2 * n * 1024 * 1024, act_bytes=2 * n * 1024,
                      weight_bytes=2 * 1024 * 1024, out_bytes=2 * n * 1024, weight_is_param=True))  # fmt: skip
        ops.append(Op(name="aten.add.Tensor", kind="elementwise", dtype="bfloat16", flops=n * 1024,
                      act_bytes=4 * n * 1024, out_bytes=2 * n * 1024))  # fmt: skip
    wl = Workload(ops=tuple(ops), provenance={"model": model})
    step = step_costs(wl, H100, true, "bf16")
    step_s = sum(step.latency_s)
    energy = sum(sum(op_energy(c, t, H100, true).values()) for c, t in zip(step.ops, step.latency_s, strict=True))
    return {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model, "created_utc": "2026-01-01T00:00:00+00:00",
        "device": {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "driver": "x", "torch": "x", "cuda": "x"},
        "settings": {"batch": 1, "steps": 10, "dtype": "bf16"},
        "latency": {"s_per_step": step_s, "s_per_image": step_s * 10},
        "energy": {"available": True, "idle_w": 120.0, "span_s": step_s * 200, "images": 20,
                   "j_per_image": energy * 10},
        "per_op": [{"i": i, "time_s": c.gpu_s} for i, c in enumerate(step.ops)],
        "workload": to_json(wl), "notes": [],
    }  # fmt: skip


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _calibrate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["calibrate", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(energy=None), "energy: expected an object, got null"),
        (
            lambda d: d["latency"].update(s_per_step=float("nan")),
            "latency.s_per_step: expected a finite number > 0, got NaN",
        ),
        (
            lambda d: d["per_op"].__setitem__(3, [3, 1e-6]),
            'per_op[3]: expected {"i": op index, "time_s": seconds}, got [3, 1e-06]',
        ),
        (lambda d: d["per_op"][2].update(time_s=-1.0), "per_op[2].time_s: expected a finite number >= 0, got -1.0"),
        (
            lambda d: d["workload"]["ops"][0].update(kind="warp"),
            "workload: ops.0 (aten.mm.default).kind: unknown op kind 'warp'",
        ),
        (lambda d: d["settings"].pop("batch"), "settings.batch: expected an integer >= 1, got null"),
    ],
)
def test_malformed_measurements_exit_2_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, message: str
) -> None:
    good = write_measurement(_doc(1, "m1"), tmp_path / "good.json.gz")
    doc = _doc(2, "m2")
    edit(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "cal.json"
    code, err = _calibrate([str(good), str(bad), "--out", str(out)], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"error: {bad}: {message}")
    assert not out.exists()


def test_a_fit_without_end_to_end_runs_writes_no_nan(tmp_path: Path) -> None:
    """Micro-benchmarks alone have no end-to-end latency error: the MAPE is left out, not NaN."""
    paths = [write_measurement(_doc(s, "microbench"), tmp_path / f"mb{s}.json.gz") for s in (1, 2)]
    c = calibrate(load_samples(paths), H100, "bf16")
    doc = _strict(save_calibration(c, tmp_path / "cal.json").read_text(encoding="utf-8"))
    assert "latency_step" not in doc["mape"] and "profiled_op_time:gemm" in doc["mape"]


def test_a_degenerate_fit_is_an_error_and_keeps_the_old_file(tmp_path: Path) -> None:
    c = calibrate(load_samples([write_measurement(_doc(1, "m1"), tmp_path / "m1.json.gz")]), H100, "bf16")
    out = save_calibration(c, tmp_path / "cal.json")
    before = out.read_bytes()
    broken = replace(c, params=replace(c.params, active_w=float("nan")))
    with pytest.raises(CalibrationError, match=r"the fit degenerated: params\.active_w is not a finite number"):
        save_calibration(broken, out)
    infinite = replace(c, measured={"m1": {**c.measured["m1"], "latency_error_pct": float("inf")}})
    with pytest.raises(CalibrationError, match=r"measured\.m1\.latency_error_pct is not a finite number"):
        save_calibration(infinite, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_bad_outputs_fail_before_the_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = str(write_measurement(_doc(1, "m1"), tmp_path / "m1.json.gz"))
    code, err = _calibrate([m, "--out", str(tmp_path)], capsys)
    assert code == 2 and err.startswith(f"error: {tmp_path}: --out is a folder; give the calibration file's path")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, err = _calibrate([m, "--out", str(blocker / "cal.json")], capsys)
    assert code == 2 and err.startswith(f"error: {blocker}: ") and "Traceback" not in err
    code, err = _calibrate([m, "--out", str(tmp_path / "cal.json"), "--report", str(blocker)], capsys)
    assert code == 2 and err.startswith(f"error: {blocker}: --out must be a folder")
    assert not (tmp_path / "cal.json").exists()  # refused before anything was fitted or written


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the committed fit was made on x86-64")
def test_the_committed_calibration_regenerates_byte_for_byte(tmp_path: Path) -> None:
    """The command of docs/gpu.md ("Calibrating") on the committed runs gives the committed file.

    The committed file was fitted with numpy's AVX2 kernels and OpenBLAS's Haswell kernels; AVX-512
    kernels round a few last digits differently, so the regeneration pins those two choices."""
    out = tmp_path / "calibration.json"
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell"}
    run = subprocess.run(
        [sys.executable, "-m", "simulator", "calibrate", *map(str, RUNS), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(RUNS) == 16
    assert out.read_bytes() == COMMITTED.read_bytes()
    _strict(out.read_text(encoding="utf-8"))
