"""Measurement files as calibration samples, with profiler-inflated per-op times corrected.

A per-op time in a measurement comes from a *profiled* model call; the step latency from
unprofiled calls timed with CUDA events. Profiling slows the host, so on the GPU timeline
the kernels of one op drift apart and an op's span grows: on the 2026-11-27 H100 runs the
per-op times of the GPU-bound measurements add up to 1.6–1.8× their measured step (VAE
decoder 44.3 vs 24.6 ms, micro-benchmark 7.36 vs 4.04 ms). The GPU cannot be busy longer
than the step, so:

* a **GPU-bound** sample (its host issue time is under :data:`GPU_BOUND_HOST_FRACTION` of
  the step, or a CUDA-graph measurement, or its per-op times add up to more than the step)
  has inflation ``max(1, Σ per-op / step)``, and its per-op times are divided by it;
* a **host-bound** sample (eager at small batch: the GPU waits for the host) cannot tell
  its GPU-busy time from the step, so it borrows the median inflation of the GPU-bound
  samples of the same session (GPU, driver, torch, harness format), or 1 if there is none.

Per-op times attributed kernel by kernel (harness v2: each kernel's own duration) add up to
at most the step, so the correction leaves them alone (inflation 1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.gpu.measurement import MeasurementError, load_measurement
from models.workload import Workload, WorkloadError, from_json

#: A sample whose host issue time per step is below this fraction of the step is GPU-bound.
GPU_BOUND_HOST_FRACTION = 0.7


@dataclass(frozen=True)
class Sample:
    """One CUDA measurement, ready for fitting."""

    file: str
    model: str
    batch: int  # images per sampling call
    steps: int
    workload: Workload  # one model call at the measured batch
    op_times_s: np.ndarray  # kernel time per op, corrected for profiler inflation (0 = no kernel)
    step_s: float  # measured latency of one model call
    image_s: float | None  # wall time per image during the energy run
    energy_j_per_image: float | None
    idle_w: float | None
    meta: dict[str, Any]
    mode: str = "eager"  # "eager" or "graph"
    host_s: float | None = None  # measured host issue time per step (eager), if recorded
    profiled_s: float = 0.0  # Σ per-op times as recorded, before the correction
    inflation: float = 1.0  # profiled / corrected
    inflation_source: str = "none"  # "own" (GPU-bound), "session median", "none"

    @property
    def point(self) -> str:
        """The measured configuration, the same for repeated runs of it."""
        key = self.model if self.batch == 1 else f"{self.model}@b{self.batch}"
        return key if self.mode == "eager" else f"{key}[{self.mode}]"

    @property
    def gpu_bound(self) -> bool:
        if self.mode == "graph":
            return True
        if self.host_s is not None:
            return self.host_s < GPU_BOUND_HOST_FRACTION * self.step_s
        return self.profiled_s > self.step_s


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _read(path: str | Path) -> Sample:
    doc = load_measurement(path)  # checks every field read here (models/gpu/measurement.py)
    if doc["device"].get("kind") != "cuda":
        raise MeasurementError(f"{path}: a CPU measurement cannot calibrate a GPU model")
    if doc.get("workload") is None:
        raise MeasurementError(f"{path}: no per-op data (measured with per_op off)")
    mode = str(doc["settings"].get("mode", "eager"))
    try:
        wl = from_json(doc["workload"], f"{path}: workload")
    except WorkloadError as exc:
        raise MeasurementError(f"{exc} (the workload embedded in the measurement)") from None
    times = np.zeros(len(wl.ops))
    for t in doc["per_op"]:  # indices checked against the workload's ops on load
        times[t["i"]] = float(t["time_s"])
    e = doc["energy"]
    images = e.get("images") or 0
    lat = doc["latency"]
    host = lat.get("host_s_per_step")
    dev = doc["device"]
    return Sample(
        file=str(path), model=doc["model"], batch=int(doc["settings"]["batch"]),
        steps=int(doc["settings"]["steps"]), workload=wl, op_times_s=times,
        step_s=float(lat["s_per_step"]),
        image_s=e["span_s"] / images if e.get("available") and images else None,
        energy_j_per_image=e.get("j_per_image") if e.get("available") else None,
        idle_w=e.get("idle_w"), mode=mode, host_s=float(host) if host is not None else None,
        profiled_s=float(times.sum()),
        meta={"file": Path(path).name, "sha256": _sha256(path),
              "created_utc": doc.get("created_utc"), "gpu": dev.get("name"),
              "driver": dev.get("driver"), "torch": dev.get("torch"), "cuda": dev.get("cuda"),
              "dtype": doc["settings"].get("dtype"), "mode": mode, "format_version": doc.get("version")},
    )  # fmt: skip


def _session(s: Sample) -> tuple[Any, ...]:
    m = s.meta
    return (m["gpu"], m["driver"], m["torch"], m["format_version"])


def correct_inflation(samples: Sequence[Sample]) -> list[Sample]:
    """Divide each sample's per-op times by its profiler inflation (module docstring)."""
    own: dict[tuple[Any, ...], list[float]] = {}
    for s in samples:
        if s.profiled_s > 0 and s.gpu_bound:
            own.setdefault(_session(s), []).append(max(1.0, s.profiled_s / s.step_s))
    out = []
    for s in samples:
        if s.profiled_s <= 0:
            out.append(s)
            continue
        if s.gpu_bound:
            factor, source = max(1.0, s.profiled_s / s.step_s), "own"
        elif _session(s) in own:
            factor, source = float(np.median(own[_session(s)])), "session median"
        else:
            factor, source = 1.0, "none"
        out.append(replace(s, op_times_s=s.op_times_s / factor, inflation=factor, inflation_source=source))
    return out


def load_samples(paths: Sequence[str | Path]) -> list[Sample]:
    """CUDA measurement files as corrected :class:`Sample`; CPU files are refused with a message."""
    if not paths:
        raise MeasurementError("no measurement files given")
    return correct_inflation([_read(p) for p in paths])


def gpu_for(samples: Sequence[Sample]) -> str:
    """Built-in spec name for the GPU the samples ran on."""
    names = {s.meta["gpu"] or "" for s in samples}
    if len(names) != 1:
        raise MeasurementError(f"measurements come from different GPUs: {sorted(names)}; use --gpu")
    name = names.pop()
    table = (("H200", "h200"), ("H100", "h100-sxm"), ("A100-SXM4-40GB", "a100-sxm-40gb"),
             ("A100-SXM4-80GB", "a100-sxm-80gb"), ("A100 80GB", "a100-sxm-80gb"))  # fmt: skip
    for key, spec in table:
        if key in name:
            return spec
    raise MeasurementError(f"no built-in spec for GPU {name!r}; pass --gpu NAME_OR_YAML")
