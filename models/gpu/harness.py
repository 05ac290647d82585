"""Measure a zoo model on a real GPU (or the CPU): latency, per-op times, energy.

``measure(...)`` runs one model in one mode and writes a versioned JSON measurement file
(format ``picojoule.gpu_measurement``, version :data:`FORMAT_VERSION`); ``measure_modes``
builds the model once and measures it in several modes (one file each):

- latency: one model invocation (one denoising step) and one full sampling loop, timed with
  CUDA events (``time.perf_counter`` on the CPU) over warmed-up, repeated runs, and the
  host's time to issue one step;
- modes: ``eager`` (PyTorch as the zoo runs it) or ``graph`` (the model call captured once
  as a CUDA graph and replayed, :mod:`models.gpu.graph`; CUDA only);
- dtypes: bf16, fp16, fp32, or ``fp8`` (the bf16 model with its linear layers and 1×1
  convolutions on fp8 tensor cores, :mod:`models.gpu.fp8`; CUDA capability ≥ 8.9, or the
  CPU's reference kernels for tests);
- per op: one step under ``torch.profiler`` with every aten op in its own range, so kernel
  times map back to trace ops by order and module path (:mod:`models.gpu.ops`); the op
  structure with FLOPs and bytes is stored as an embedded workload. Always an eager step:
  a graph replays the same kernels without the host gaps between them;
- energy (CUDA only): NVML's energy counter around sampling loops repeated until they span
  ``repeat_seconds``; idle power over ``idle_seconds`` before the model loads
  (:mod:`models.gpu.nvml`); on the CPU energy is marked unavailable;
- the environment: GPU name, driver, clocks, power limit, torch/CUDA versions.

There is no ``torch.compile`` mode: max-autotune benchmarks kernel variants for minutes per
model on the device (the whole plan has ~7 minutes), and inductor's fused kernels no longer
map one-to-one to the tracer's aten ops, which the per-op calibration needs.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from models.gpu.fp8 import check_fp8_device, convert_to_fp8
from models.gpu.graph import CudaGraphBackend, GraphBackend, graphed
from models.gpu.measurement import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MeasurementError,
    load_measurement,
    write_measurement,
)
from models.gpu.nvml import gpu_env, measure_energy, measure_idle_w, open_nvml
from models.gpu.ops import profile_step
from models.gpu.quiet import without_empty_fp32_warning
from models.gpu.targets import Target, build_target
from models.workload import to_json

__all__ = ["MeasurementError", "load_measurement", "measure", "measure_modes", "write_measurement"]

Progress = Callable[[str, int, int], None]
"""Told ``(phase, phases done, phases in all)`` as each phase of a measurement starts, and
``("done", n, n)`` at the end: the CLI's progress bar (a phase runs for seconds, its
iterations until a time span is covered, so phases are what can be counted ahead)."""


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


#: torch dtype the model is built in; fp8 builds bf16 and swaps layers (models.gpu.fp8).
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "fp8": torch.bfloat16}
MODES = ("eager", "graph")


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


def _check(device: str, modes: list[str], dtype: str, graph_backend: Any) -> None:
    """User errors before anything is built (each a :class:`MeasurementError`)."""
    if device not in ("cuda", "cpu"):
        raise MeasurementError(f"device must be 'cuda' or 'cpu', got {device!r}")
    if dtype not in DTYPES:
        raise MeasurementError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise MeasurementError(f"mode must be one of {', '.join(MODES)}, got {', '.join(bad) or 'none'}")
    if device == "cuda" and not torch.cuda.is_available():
        raise MeasurementError("--device cuda: torch sees no CUDA device here; use --device cpu")
    if "graph" in modes and device != "cuda" and graph_backend is None:
        raise MeasurementError(
            "--mode graph needs --device cuda: a CUDA graph captures GPU kernels, the CPU has none "
            "(use --mode eager on the CPU)"
        )
    if dtype == "fp8":
        check_fp8_device(device)


def _latency_energy(
    step: Callable[[], Any], sample: Callable[[], Any], device: str, nvml: Any, *, min_time_s: float,
    repeat_seconds: float, idle_w: float | None, batch: int, steps: int, phase: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    phase("step latency")
    step_t = time_calls(step, device, min_s=min_time_s, min_n=5, max_n=2000)
    host_t = host_issue_times(step, device, n=10)
    phase("sampling-loop latency")
    image_t = time_calls(sample, device, min_s=min_time_s, min_n=2, max_n=200)
    latency = {"step": _summary(step_t), "sample": _summary(image_t),
               "s_per_image": statistics.median(image_t) / batch, "s_per_step": statistics.median(step_t),
               "host_s_per_step": statistics.median(host_t)}  # fmt: skip
    energy: dict[str, Any] = {"available": False}
    if nvml is not None and idle_w is not None:
        phase("energy")
        run = measure_energy(nvml, sample, repeat_seconds)
        images = run["loops"] * batch
        energy = {
            "available": True, "method": "NVML nvmlDeviceGetTotalEnergyConsumption delta",
            "idle_w": idle_w, **run, "images": images,
            "j_per_image": run["energy_j"] / images,
            "j_per_step_per_image": run["energy_j"] / images / steps,
            "j_per_image_above_idle": (run["energy_j"] - idle_w * run["span_s"]) / images,
        }  # fmt: skip
    else:
        energy["reason"] = "no NVML on this device" if device == "cuda" else "CPU run: no energy counter"
    return latency, energy


def _per_op(
    target: Target, device: str, dtype: str, op_repeats: int, phase: Callable[[str], None]
) -> tuple[dict[str, Any], list[Any], list[str]]:
    prov = {**target.provenance, "batch": target.batch, "dtype": dtype, "device": device}
    phase(f"per-op profile 1/{op_repeats}")
    first = profile_step(target.step, target.module, device, provenance=prov)
    wl, ops_t = first.workload, first.timings
    runs = [ops_t]
    for i in range(op_repeats - 1):
        phase(f"per-op profile {i + 2}/{op_repeats}")
        runs.append(profile_step(target.step, target.module, device, provenance=prov).timings)
    runs = [r for r in runs if len(r) == len(ops_t)]
    timings = [
        {"i": t.index, "time_s": statistics.median(r[t.index].time_s for r in runs),
         "kernels": t.kernels, "gpu_span_s": t.gpu_span_s}
        for t in ops_t
    ]  # fmt: skip
    notes = [f"per-op times: median of {len(runs)} profiled steps"] if len(runs) > 1 else []
    if device == "cpu":
        notes.append("per-op times on the CPU are CPU time of each op's range")
    return to_json(wl), timings, notes


def _graph_run(
    target: Target, backend: GraphBackend, device: str, nvml: Any, **kw: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    with graphed(target, backend) as g:
        for _ in range(3):
            g.step()
        per_loop = g.per_sample()  # also warms the graphed loop up
        _sync(device)
        latency, energy = _latency_energy(g.step, g.sample, device, nvml, **kw)
        st = g.stats
    info = {"captured": st.captured, "warmup_calls": st.warmup_calls, "capture_s": st.capture_s,
            "replays_per_sample": per_loop["replays"], "eager_calls_per_sample": per_loop["eager_calls"]}  # fmt: skip
    what = "the model's forward with one step's inputs" if st.captured == "forward" else "the whole step"
    notes = [
        f"graph mode: one CUDA graph of {what}, captured after {st.warmup_calls} side-stream warm-up calls; "
        "step latency and host time are graph replays with the step's inputs",
        f"graph mode: the sampling loop is the target's own loop with each model call replayed "
        f"(inputs copied in, outputs copied out): {per_loop['replays']} replays and "
        f"{per_loop['eager_calls']} eager model calls per loop",
    ]
    if "CPU" in str(target.provenance.get("runner", "")):
        notes.append("graph mode: the zoo's scheduler runs on the CPU, so each loop step still moves "
                     "the model output to the host and waits for it")  # fmt: skip
    return latency, energy, info, notes


def measure(
    model: str, device: str, out: str | Path | None = None, *, mode: str = "eager", batch: int = 1,
    steps: int | None = None, dtype: str = "bf16", repeat_seconds: float = 3.0, per_op: bool = True,
    tiny: bool = False, min_time_s: float = 1.0, idle_seconds: float = 2.0, op_repeats: int = 3,
    source: str = "auto", graph_backend: Callable[[], GraphBackend] | None = None,
    progress: Progress = _no_progress,
) -> dict[str, Any]:  # fmt: skip
    """Measure ``model`` on ``device`` in ``mode``; write the JSON to ``out`` (if given) and return it.

    ``graph_backend`` makes the graph for ``mode="graph"`` (default: a CUDA graph); tests pass
    a fake to run the graph bookkeeping on the CPU. ``progress`` is told each phase (:data:`Progress`).
    """
    return measure_modes(
        model, device, {mode: out}, batch=batch, steps=steps, dtype=dtype, repeat_seconds=repeat_seconds,
        per_op=per_op, tiny=tiny, min_time_s=min_time_s, idle_seconds=idle_seconds, op_repeats=op_repeats,
        source=source, graph_backend=graph_backend, progress=progress,
    )[mode]  # fmt: skip


def measure_modes(
    model: str, device: str, outs: Mapping[str, str | Path | None], *, batch: int = 1,
    steps: int | None = None, dtype: str = "bf16", repeat_seconds: float = 3.0, per_op: bool = True,
    tiny: bool = False, min_time_s: float = 1.0, idle_seconds: float = 2.0, op_repeats: int = 3,
    source: str = "auto", graph_backend: Callable[[], GraphBackend] | None = None,
    progress: Progress = _no_progress,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Build ``model`` once and measure it in every mode of ``outs`` (mode → file or ``None``).

    Idle power and the (eager) per-op profile are taken once and shared by the modes' files.
    """
    _check(device, list(outs), dtype, graph_backend)
    nvml = open_nvml() if device == "cuda" else None
    # idle, build, warm-up; per mode: step and loop latency (+ energy); the per-op profiles
    total = 3 + len(outs) * (3 if nvml is not None else 2) + (op_repeats if per_op else 0)
    done = 0

    def phase(name: str) -> None:
        nonlocal done
        progress(name, min(done, total), total)
        done += 1

    env: dict[str, Any] = {
        "kind": device, "torch": torch.__version__, "python": platform.python_version(),
        "host": platform.node(), "cpu": platform.processor() or platform.machine(),
    }  # fmt: skip
    if device == "cuda":
        env.update(gpu_env(nvml))
        torch.backends.cudnn.benchmark = True  # what an inference deployment would set
    phase("idle power")
    idle_w = measure_idle_w(nvml, idle_seconds) if nvml is not None else None  # before the model loads

    phase("build the model")
    t_build = time.perf_counter()
    with without_empty_fp32_warning():
        target = build_target(model, device, DTYPES[dtype], batch=batch, steps=steps, tiny=tiny, source=source)
    fp8 = convert_to_fp8(target.module).to_json() if dtype == "fp8" else None
    build_s = time.perf_counter() - t_build
    common: list[str] = []
    if fp8 is not None:
        common.append(f"fp8: {fp8['linear_fp8']} linear and {fp8['conv1x1_fp8']} 1x1-conv layers in fp8; "
                      f"{fp8['linear_bf16'] + fp8['conv1x1_bf16']} left bf16 (K or N not a multiple of 16), "
                      f"{fp8['conv_bf16']} other convolutions bf16")  # fmt: skip
        if device == "cpu":
            common.append("fp8 on the CPU: torch's reference _scaled_mm; the timings say nothing about fp8 hardware")
    results: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, list[str]]] = {}
    with torch.no_grad():  # as the zoo's samplers and the tracer run (ops decompose alike)
        phase("warm-up")
        for _ in range(3):
            target.step()
        target.sample()
        _sync(device)
        for mode in outs:
            kw: dict[str, Any] = dict(
                min_time_s=min_time_s, repeat_seconds=repeat_seconds, idle_w=idle_w, batch=target.batch,
                steps=target.steps, phase=lambda name, m=mode: phase(f"{m}: {name}"),
            )  # fmt: skip
            if mode == "eager":
                lat, energy = _latency_energy(target.step, target.sample, device, nvml, **kw)
                results[mode] = (lat, energy, None, [])
            else:
                backend = graph_backend() if graph_backend is not None else CudaGraphBackend()
                try:
                    results[mode] = _graph_run(target, backend, device, nvml, **kw)
                except Exception as exc:  # capture fails on a forward with a host sync: keep the others
                    if len(outs) == 1:
                        raise
                    common.append(f"{mode} mode FAILED, no {mode} file: {type(exc).__name__}: {exc}")
        ops_doc: dict[str, Any] | None = None
        timings: list[dict[str, Any]] = []
        if per_op:
            ops_doc, timings, op_notes = _per_op(target, device, dtype, op_repeats, phase)
            common += op_notes
    progress("done", total, total)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    docs: dict[str, dict[str, Any]] = {}
    for mode, (latency, energy, graph, notes) in results.items():
        if graph is not None and ops_doc is not None:
            notes = [*notes, "graph mode: per-op times come from an eager profiled step (same kernels as the graph)"]
        doc: dict[str, Any] = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model, "created_utc": created,
            "device": env,
            "settings": {"batch": target.batch, "steps": target.steps, "dtype": dtype,
                         "repeat_seconds": repeat_seconds, "tiny": tiny, "mode": mode},
            "provenance": target.provenance, "build_s": build_s, "latency": latency, "energy": energy,
            "per_op": timings, "workload": ops_doc, "notes": notes + common,
        }  # fmt: skip
        if graph is not None:
            doc["graph"] = graph
        if fp8 is not None:
            doc["fp8"] = fp8
        out = outs[mode]
        if out is not None:
            write_measurement(doc, out)
        docs[mode] = doc
    return docs
