"""The measurement harness on the CPU (what CI can run): latency and per-op times, no energy."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the measurement harness needs torch (trace extra)")
pytest.importorskip("diffusers", reason="the built-in models need diffusers (trace extra)")

from models.gpu.cli import register  # noqa: E402
from models.gpu.harness import measure  # noqa: E402
from models.gpu.measurement import load_measurement  # noqa: E402
from models.gpu.ops import _op_times  # noqa: E402


@pytest.mark.trace
def test_cpu_measure_tiny_ddpm(tmp_path: Path) -> None:
    out = tmp_path / "m.json.gz"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["gpu", "measure", "--model", "ddpm-cifar10", "--device", "cpu", "--out", str(out),
                              "--tiny", "--steps", "2", "--dtype", "fp32", "--repeat-seconds", "0.1"])  # fmt: skip
    assert args.func(args) == 0
    doc = load_measurement(out)
    assert doc["energy"]["available"] is False and "CPU" in doc["energy"]["reason"]
    assert doc["device"]["kind"] == "cpu" and doc["settings"]["steps"] == 2
    ops = doc["workload"]["ops"]
    assert len(ops) == len(doc["per_op"]) > 20
    assert {o["kind"] for o in ops} >= {"conv", "gemm", "norm", "attention"}
    assert sum(t["time_s"] for t in doc["per_op"]) > 0
    # the MACs of every convolution match its shapes: N·P·Q · O · C·R·S
    for o in ops:
        if o["kind"] == "conv":
            (n, _, *_), (k, cg, r, s) = o["input_shapes"][0], o["input_shapes"][1]
            _, _, p, q = o["output_shape"]
            assert o["macs"] == n * p * q * k * cg * r * s
    assert doc["latency"]["s_per_step"] > 0 and doc["latency"]["sample"]["n"] >= 2


def test_cuda_unavailable_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    from models.gpu.measurement import MeasurementError

    with pytest.raises(MeasurementError, match="no CUDA device"):
        measure("ddpm-cifar10", "cuda", None, tiny=True)


class _Range:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end


class _Evt:
    def __init__(self, name: str, device: str, start: float, end: float) -> None:
        self.name, self.device_type, self.time_range = name, f"DeviceType.{device}", _Range(start, end)
        self.cpu_time_total = end - start


def test_gpu_kernels_are_assigned_to_op_annotations_once() -> None:
    events = [
        _Evt("pj#0", "CUDA", 0, 100), _Evt("k1", "CUDA", 0, 30), _Evt("k2", "CUDA", 70, 100),  # gap not counted
        _Evt("pj#1", "CUDA", 120, 150), _Evt("k3", "CUDA", 120, 150),
        _Evt("pj#0", "CPU", 0, 500), _Evt("k4", "CUDA", 200, 210),  # outside every op
    ]  # fmt: skip
    times, counts, spans = _op_times(events, "cuda")  # type: ignore[arg-type]
    assert times == pytest.approx({0: 60e-6, 1: 30e-6})
    assert counts == {0: 2, 1: 1} and spans == pytest.approx({0: 100e-6, 1: 30e-6})
