"""NVML readings for the GPU harness: environment, idle power, energy of repeated runs.

Energy is NVML's total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ since the
driver loaded; it updates every 20–100 ms), read around runs that span seconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def open_nvml() -> Any:
    """The ``pynvml`` module, initialised, or ``None`` without NVML or a driver."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError subclasses; no driver → no energy counter
        return None
    return pynvml


def gpu_env(nvml: Any) -> dict[str, Any]:
    """GPU 0's name, SMs, memory, CUDA, capability, and (with NVML) driver, clocks, power limit."""
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
