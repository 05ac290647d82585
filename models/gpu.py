"""Measure a zoo model on a real GPU (or the CPU): latency, per-op times, energy.

``measure(...)`` runs one model and writes a versioned JSON measurement file
(format ``picojoule.gpu_measurement``, version :data:`FORMAT_VERSION`):

- latency: one model invocation (one denoising step) and one full sampling loop, timed with
  CUDA events (``time.perf_counter`` on the CPU) over warmed-up, repeated runs;
- per op: one step under ``torch.profiler`` with every aten op in its own range, so kernel
  times map back to trace ops by order and module path (:mod:`models.gpu_ops`); the op
  structure with FLOPs and bytes is stored as an embedded workload;
- energy (CUDA only): NVML's total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``,
  mJ, updates every 20–100 ms) around sampling loops repeated until they span
  ``repeat_seconds``; idle power measured separately over an idle interval of the same
  length's order; on the CPU energy is marked unavailable;
- the environment: GPU name, driver, clocks, power limit, torch/CUDA versions.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from models.gpu_measurement import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MeasurementError,
    load_measurement,
    write_measurement,
)
from models.gpu_ops import profile_step
from models.gpu_targets import build_target
from models.workload import to_json

__all__ = ["MeasurementError", "load_measurement", "measure", "write_measurement"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_calls(fn: Callable[[], Any], device: str, *, min_s: float, min_n: int, max_n: int) -> list[float]:
    """Seconds per call of ``fn`` over at least ``min_n`` calls and ``min_s`` seconds."""
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < max_n and (len(out) < min_n or time.perf_counter() - start < min_s):
        if device == "cuda":
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            out.append(a.elapsed_time(b) * 1e-3)
        else:
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return out


def host_issue_times(fn: Callable[[], Any], device: str, n: int) -> list[float]:
    """CPU seconds to issue one call of ``fn`` (no sync inside; the GPU queue starts empty)."""
    out = []
    for _ in range(n):
        _sync(device)
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    _sync(device)
    return out


def _summary(xs: list[float]) -> dict[str, float]:
    return {"mean_s": statistics.fmean(xs), "median_s": statistics.median(xs),
            "std_s": statistics.pstdev(xs), "min_s": min(xs), "n": len(xs)}  # fmt: skip


def _nvml() -> Any:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError subclasses; no driver → no energy counter
        return None
    return pynvml


def _gpu_env(nvml: Any) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(0)
    env: dict[str, Any] = {
        "name": props.name, "sm_count": props.multi_processor_count,
        "memory_bytes": props.total_memory, "cuda": torch.version.cuda,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "capability": list(torch.cuda.get_device_capability(0)),
    }  # fmt: skip
    if nvml is not None:
        h = nvml.nvmlDeviceGetHandleByIndex(0)
        readers = {
            "driver": lambda: nvml.nvmlSystemGetDriverVersion(),
            "sm_clock_max_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(h, nvml.NVML_CLOCK_SM),
            "mem_clock_max_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(h, nvml.NVML_CLOCK_MEM),
            "sm_clock_app_mhz": lambda: nvml.nvmlDeviceGetApplicationsClock(h, nvml.NVML_CLOCK_SM),
            "power_limit_w": lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0,
            "persistence_mode": lambda: nvml.nvmlDeviceGetPersistenceMode(h),
        }
        for key, read in readers.items():
            try:
                value = read()
                env[key] = value.decode() if isinstance(value, bytes) else value
            except Exception:  # a counter this driver or GPU does not expose
                env[key] = None
    return env


def _energy_mj(nvml: Any) -> int:
    return int(nvml.nvmlDeviceGetTotalEnergyConsumption(nvml.nvmlDeviceGetHandleByIndex(0)))


def measure_idle_w(nvml: Any, seconds: float) -> float:
    """Average board power over ``seconds`` with nothing queued on the GPU, W."""
    torch.cuda.synchronize()
    e0, t0 = _energy_mj(nvml), time.perf_counter()
    time.sleep(seconds)
    e1, t1 = _energy_mj(nvml), time.perf_counter()
    return (e1 - e0) * 1e-3 / (t1 - t0)


def measure_energy(nvml: Any, sample: Callable[[], Any], repeat_seconds: float) -> dict[str, Any]:
    """Energy of repeated sampling loops spanning at least ``repeat_seconds``."""
    h = nvml.nvmlDeviceGetHandleByIndex(0)
    torch.cuda.synchronize()
    e0, t0 = _energy_mj(nvml), time.perf_counter()
    loops, clocks = 0, []
    while loops < 1 or time.perf_counter() - t0 < repeat_seconds:
        sample()
        loops += 1
        if loops % 4 == 1:
            try:
                clocks.append(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))
            except Exception:  # clock reading unsupported: energy still valid
                pass
    torch.cuda.synchronize()
    e1, t1 = _energy_mj(nvml), time.perf_counter()
    span = t1 - t0
    return {"loops": loops, "span_s": span, "energy_j": (e1 - e0) * 1e-3,
            "avg_power_w": (e1 - e0) * 1e-3 / span,
            "sm_clock_mhz_during": statistics.fmean(clocks) if clocks else None}  # fmt: skip


def measure(
    model: str, device: str, out: str | Path | None = None, *, batch: int = 1,
    steps: int | None = None, dtype: str = "bf16", repeat_seconds: float = 3.0,
    per_op: bool = True, tiny: bool = False, min_time_s: float = 1.0, idle_seconds: float = 2.0,
    op_repeats: int = 3, source: str = "auto",
) -> dict[str, Any]:  # fmt: skip
    """Measure ``model`` on ``device``; write the JSON to ``out`` (if given) and return it."""
    if device not in ("cuda", "cpu"):
        raise MeasurementError(f"device must be 'cuda' or 'cpu', got {device!r}")
    if dtype not in DTYPES:
        raise MeasurementError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise MeasurementError("--device cuda: torch sees no CUDA device here; use --device cpu")
    notes: list[str] = []
    nvml = _nvml() if device == "cuda" else None
    env: dict[str, Any] = {
        "kind": device, "torch": torch.__version__, "python": platform.python_version(),
        "host": platform.node(), "cpu": platform.processor() or platform.machine(),
    }  # fmt: skip
    if device == "cuda":
        env.update(_gpu_env(nvml))
        torch.backends.cudnn.benchmark = True  # what an inference deployment would set
    idle_w = None
    if nvml is not None:  # before the model touches the GPU's clocks
        idle_w = measure_idle_w(nvml, idle_seconds)

    t_build = time.perf_counter()
    target = build_target(model, device, DTYPES[dtype], batch=batch, steps=steps, tiny=tiny, source=source)
    build_s = time.perf_counter() - t_build
    with torch.no_grad():  # as the zoo's samplers and the tracer run (ops decompose alike)
        for _ in range(3):
            target.step()
        target.sample()
        _sync(device)
        step_t = time_calls(target.step, device, min_s=min_time_s, min_n=5, max_n=2000)
        host_t = host_issue_times(target.step, device, n=10)
        image_t = time_calls(target.sample, device, min_s=min_time_s, min_n=2, max_n=200)
        energy: dict[str, Any] = {"available": False}
        if nvml is not None:
            run = measure_energy(nvml, target.sample, repeat_seconds)
            images = run["loops"] * target.batch
            energy = {
                "available": True, "method": "NVML nvmlDeviceGetTotalEnergyConsumption delta",
                "idle_w": idle_w, **run, "images": images,
                "j_per_image": run["energy_j"] / images,
                "j_per_step_per_image": run["energy_j"] / images / target.steps,
                "j_per_image_above_idle": (run["energy_j"] - idle_w * run["span_s"]) / images,
            }  # fmt: skip
        else:
            energy["reason"] = "no NVML on this device" if device == "cuda" else "CPU run: no energy counter"
        ops_doc: dict[str, Any] | None = None
        timings: list[dict[str, Any]] = []
        if per_op:
            prov = {**target.provenance, "batch": target.batch, "dtype": dtype, "device": device}
            wl, ops_t = profile_step(target.step, target.module, device, provenance=prov)
            runs = [ops_t]
            for _ in range(op_repeats - 1):
                runs.append(profile_step(target.step, target.module, device, provenance=prov)[1])
            runs = [r for r in runs if len(r) == len(ops_t)]
            ops_doc = to_json(wl)
            timings = [
                {"i": t.index, "time_s": statistics.median(r[t.index].time_s for r in runs),
                 "kernels": t.kernels, "gpu_span_s": t.gpu_span_s}
                for t in ops_t
            ]  # fmt: skip
            if len(runs) > 1:
                notes.append(f"per-op times: median of {len(runs)} profiled steps")
            if device == "cpu":
                notes.append("per-op times on the CPU are CPU time of each op's range")
    doc = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": env,
        "settings": {"batch": target.batch, "steps": target.steps, "dtype": dtype,
                     "repeat_seconds": repeat_seconds, "tiny": tiny, "mode": "eager"},
        "provenance": target.provenance, "build_s": build_s,
        "latency": {"step": _summary(step_t), "sample": _summary(image_t),
                    "s_per_image": statistics.median(image_t) / target.batch,
                    "s_per_step": statistics.median(step_t),
                    "host_s_per_step": statistics.median(host_t)},
        "energy": energy, "per_op": timings, "workload": ops_doc, "notes": notes,
    }  # fmt: skip
    if out is not None:
        write_measurement(doc, out)
    return doc
