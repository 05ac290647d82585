"""The GPU cost model: a workload's latency and energy on a real GPU, from its spec.

Per op (one aten op ≈ one kernel launch in eager PyTorch), GPU time::

    t_compute = tensor_flops / (peak(precision) · eff(kind, F))
                + other_flops / (fp32_peak · vector_efficiency)
    eff(kind, F) = eff_max[kind] · F / (F + flops_half[kind])        (Hockney's n½ curve)
    t_memory  = max(hbm_bytes / (hbm_bw · mem_eff[kind]), all_bytes / l2_bw)
    t_gpu     = max(t_compute, t_memory) + kernel_fixed_s[kind]


and the step is a two-stage queue: the host issues op i ``host_issue_s`` after op i-1 (the
CPU cost of eager PyTorch + diffusers per op), the GPU runs ops in order, each starting when
it is issued and the previous one is done. An op's latency is how much it moves the step's
finish time, so per-op latencies add up to the step; an op the GPU had to wait for is
``bound="launch"``. Energy::

    E_op = idle_w · latency + active_w · t_gpu + pj_tensor · tensor_flops
           + pj_vector · other_flops + pj_hbm · hbm_bytes + pj_l2 · all_bytes
                                                          (dynamic part capped at TDP - idle)

Per-op parameters are looked up by ``kind:aten_op`` first (a group norm and a layer norm
run very different kernels), then by kind.

``hbm_bytes`` counts parameters always (unless all of them fit in the resident part of the
L2) and an activation only when larger than ``l2_resident_fraction`` of the L2 (a smaller
one stays in L2 from producer to consumer). Bytes are rescaled from the traced dtype to the
run precision.

The parameters (:class:`~simulator.gpu.params.GpuModelParams`) and their fitted record
(:class:`~simulator.gpu.params.GpuCalibration`) live in :mod:`simulator.gpu.params`. Without a
calibration every efficiency is 1 and every overhead 0: the plain roofline, with the power
model's defaults from the spec (:func:`~simulator.gpu.params.default_params`). A
:class:`~simulator.gpu.params.GpuCalibration` fitted by ``picojoule calibrate``
(``simulator/gpu/calibrate.py``) from real measurements replaces them and carries its fit error
(MAPE), which every prediction reports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from accelerator.gpu import PRECISION_BYTES, GpuSpec
from models.workload import Op, Workload
from simulator.gpu.params import GpuCalibration, GpuModelParams, default_params
from simulator.optable import with_batch
from simulator.result import DesignResult, OpResult, per_image

#: Op kinds run on tensor cores (their MACs), each with its own efficiency curve.
TENSOR_KINDS = ("conv", "gemm", "attention")

#: Bytes per element of the dtype strings traces record (torch and ONNX spellings).
DTYPE_BYTES: dict[str, int] = {
    "float64": 8,
    "double": 8,
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "int8": 1,
    "uint8": 1,
}


def is_mixed_fp8(workload: Workload) -> bool:
    """A workload measured in fp8 (``gpu measure --dtype fp8``): its fp8 GEMMs are explicit
    ``aten._scaled_mm`` ops and every other op ran as traced (bf16)."""
    return any(op.name.startswith("aten._scaled_mm") for op in workload.ops)


def op_precision(op: Op, precision: str, mixed: bool) -> str:
    """The precision ``op`` computes in: ``precision``, except in a mixed fp8 workload, where
    only the ``_scaled_mm`` GEMMs run in fp8 and the rest in bf16."""
    if not mixed:
        return precision
    return "fp8" if op.name.startswith("aten._scaled_mm") else "bf16"


def _scale(op: Op, precision: str, mixed: bool = False) -> float:
    """Factor from the traced dtype's bytes to the run precision's bytes (1 in a mixed fp8
    workload: it was traced as it ran)."""
    if mixed:
        return 1.0
    traced = DTYPE_BYTES.get(op.dtype.removeprefix("torch."))
    if traced is None:
        return 1.0  # integer/bool tensors keep their size
    return PRECISION_BYTES[precision] / traced


@dataclass(frozen=True)
class OpCost:
    """One op's GPU-side numbers (SI units), before the host queue and energy."""

    tensor_flops: float
    vector_flops: float
    hbm_bytes: float
    l2_bytes: float
    compute_s: float
    memory_s: float
    gpu_s: float  # kernel time: max(compute, memory) + fixed


def fit_key(op: Op) -> str:
    """The key per-op parameters are looked up by: ``kind:aten_op`` (``conv:convolution``)."""
    parts = op.name.split(".")
    base = parts[1] if parts[0] == "aten" and len(parts) > 1 else parts[0]
    return f"{op.kind}:{base}"


def op_cost(
    op: Op, gpu: GpuSpec, p: GpuModelParams, precision: str, resident_weights: bool, mixed: bool = False
) -> OpCost:
    """GPU-side time and traffic of one op (one invocation) on ``gpu`` (``mixed``: see
    :func:`is_mixed_fp8`)."""
    key = fit_key(op)
    tensor = op.kind in TENSOR_KINDS and op.macs > 0
    tensor_flops = 2.0 * op.macs if tensor else 0.0
    vector_flops = max(0.0, float(op.flops) - tensor_flops)
    scale = _scale(op, precision, mixed)
    act, weight, out = op.act_bytes * scale, op.weight_bytes * scale, op.out_bytes * scale
    all_bytes = act + weight + out
    limit = p.l2_resident_fraction * gpu.l2_bytes.value
    if op.weight_is_param:  # parameters come from HBM every step unless all of them fit in L2
        hbm = 0.0 if resident_weights else weight
    else:  # a second activation operand (attention K, V) behaves like an activation
        hbm = weight if weight > limit else 0.0
    hbm += (act if act > limit else 0.0) + (out if out > limit else 0.0)

    compute_s = 0.0
    if tensor_flops:
        half = p.get("flops_half", key, 0.0)
        eff = p.get("eff_max", key, 1.0) * tensor_flops / (tensor_flops + half)
        compute_s += tensor_flops / (gpu.peak_flops_per_s(op_precision(op, precision, mixed)) * eff)
    if vector_flops:
        compute_s += vector_flops / (gpu.vector_flops_per_s * p.vector_efficiency)
    memory_s = max(hbm / (gpu.hbm_bytes_per_s * p.get("mem_eff", key, 1.0)), all_bytes / gpu.l2_bytes_per_s)
    gpu_s = max(compute_s, memory_s) + p.get("kernel_fixed_s", key, 0.0)
    return OpCost(tensor_flops, vector_flops, hbm, all_bytes, compute_s, memory_s, gpu_s)


def op_energy(c: OpCost, latency_s: float, gpu: GpuSpec, p: GpuModelParams) -> dict[str, float]:
    """Energy of one op in J by component; the dynamic part is capped at (TDP - idle)."""
    energy = {
        "idle": p.idle_w * latency_s,
        "active": p.active_w * c.gpu_s,
        "compute": (p.pj_per_tensor_flop * c.tensor_flops + p.pj_per_vector_flop * c.vector_flops) * 1e-12,
        "hbm": p.pj_per_hbm_byte * c.hbm_bytes * 1e-12,
        "l2": p.pj_per_l2_byte * c.l2_bytes * 1e-12,
    }
    dynamic = energy["active"] + energy["compute"] + energy["hbm"] + energy["l2"]
    cap = (gpu.tdp_w.value - p.idle_w) * max(latency_s, c.gpu_s)
    if dynamic > cap > 0.0:  # the board cannot draw more than TDP: scale dynamic parts down
        keep = cap / dynamic
        energy = {k: (v if k == "idle" else v * keep) for k, v in energy.items()}
    return energy


def weights_resident(workload: Workload, gpu: GpuSpec, p: GpuModelParams, precision: str) -> bool:
    """Whether all parameters fit in the resident part of the L2 (then no HBM weight reads)."""
    mixed = is_mixed_fp8(workload)
    weights = sum(o.weight_bytes * _scale(o, precision, mixed) for o in workload.ops if o.weight_is_param)
    return weights <= p.l2_resident_fraction * gpu.l2_bytes.value


def for_mode(p: GpuModelParams, mode: str) -> GpuModelParams:
    """Parameters for a run mode: ``"eager"`` (host issues every op) or ``"graph"`` (CUDA-graph
    replay: the host issues one graph per step, so no per-op host time)."""
    if mode == "eager":
        return p
    if mode == "graph":
        return replace(p, host_issue_s=0.0)
    raise ValueError(f"mode must be 'eager' or 'graph', got {mode!r}")


@dataclass(frozen=True)
class StepCosts:
    """One denoising step on a GPU, per op in workload order."""

    ops: list[OpCost]  # the op's cost on the GPU alone
    latency_s: list[float]  # the op's share of the step on the host/GPU queue, s
    host_bound: list[bool]  # the GPU waited for the host to issue the op


def step_costs(workload: Workload, gpu: GpuSpec, p: GpuModelParams, precision: str) -> StepCosts:
    """Per-op GPU costs, per-op latencies (host/GPU queue) and whether each waited on the host."""
    resident = weights_resident(workload, gpu, p, precision)
    mixed = is_mixed_fp8(workload)
    costs = [op_cost(op, gpu, p, precision, resident, mixed) for op in workload.ops]
    host_t = gpu_t = 0.0
    latencies: list[float] = []
    waited: list[bool] = []
    for c in costs:
        host_t += p.host_issue_s
        start = max(host_t, gpu_t)
        end = start + c.gpu_s
        latencies.append(end - gpu_t)
        waited.append(host_t > gpu_t)
        gpu_t = end
    return StepCosts(ops=costs, latency_s=latencies, host_bound=waited)


def evaluate_gpu(
    workload: Workload,
    gpu_spec: GpuSpec,
    *,
    precision: str = "bf16",
    calibration: GpuCalibration | None = None,
    steps: int | None = None,
    mode: str = "eager",
    batch: int = 1,
) -> DesignResult:
    """Predict ``workload`` on ``gpu_spec``: per-op latency/energy per step, totals per image.

    ``steps`` overrides ``workload.steps`` for per-image totals (per image = per step × steps).
    ``mode`` is how the GPU runs it: ``"eager"`` PyTorch (the host/GPU queue) or ``"graph"``
    (CUDA-graph replay, no host time per op).
    ``batch`` images run at once (:func:`simulator.optable.with_batch`); the result is per image
    (energy / batch) with the batch's latency (:func:`simulator.result.per_image`).
    With ``calibration`` the fitted parameters are used and its MAPE goes into ``extras``
    (and, where the calibration holds a measurement of the same model, batch, mode and
    precision, that too).
    """
    gpu_spec.peak_flops_per_s(precision)  # unknown precision on this GPU → SpecError
    workload = with_batch(workload, batch)
    params = calibration.params if calibration is not None else default_params(gpu_spec, precision)
    params = for_mode(params, mode)
    n_steps = workload.steps if steps is None else steps
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"steps must be a positive integer, got {n_steps!r}")
    clock_hz = gpu_spec.boost_clock_ghz.value * 1e9
    peak = gpu_spec.peak_flops_per_s(precision)
    step = step_costs(workload, gpu_spec, params, precision)
    costs, latencies = step.ops, step.latency_s

    per_op: list[OpResult] = []
    breakdown: dict[str, float] = {"idle": 0.0, "active": 0.0, "compute": 0.0, "hbm": 0.0, "l2": 0.0}
    for i, (op, c, lat, wait) in enumerate(zip(workload.ops, costs, latencies, step.host_bound, strict=True)):
        energy = op_energy(c, lat, gpu_spec, params)
        for k, v in energy.items():
            breakdown[k] += v
        if lat <= 0.0:
            bound = "none"
        elif wait:
            bound = "launch"
        else:
            bound = "compute" if c.compute_s >= c.memory_s else "memory"
        per_op.append(
            OpResult(
                index=i, name=op.name, kind=op.kind, module=op.module, macs=op.macs,
                cycles=lat * clock_hz, latency_s=lat, energy_j=sum(energy.values()),
                compute_cycles=c.compute_s * clock_hz, memory_cycles=c.memory_s * clock_hz,
                utilization=(c.tensor_flops / (lat * peak)) if lat > 0 else 0.0,
                energy_breakdown_j=energy, bound=bound,
                mapping={"hbm_bytes": c.hbm_bytes, "l2_bytes": c.l2_bytes, "gpu_s": c.gpu_s},
            )
        )  # fmt: skip
    latency_step = sum(latencies)
    energy_step = sum(o.energy_j for o in per_op)
    notes: list[str] = []
    extras: dict[str, Any] = {"precision": precision, "gpu": gpu_spec.name, "mode": mode}
    if calibration is None:
        notes.append(
            "uncalibrated roofline: datasheet peaks and bandwidth, no launch overhead; "
            "power = idle + (TDP - idle) at peak (no fit error available)"
        )
        extras["calibration"] = None
    else:
        if calibration.gpu != gpu_spec.name:
            notes.append(f"calibration fitted on {calibration.gpu!r}, applied to {gpu_spec.name!r}")
        if calibration.precision != precision:
            notes.append(f"calibration fitted at {calibration.precision}, applied at {precision}")
        extras["calibration"] = dict(calibration.provenance)
        extras["mape"] = dict(calibration.mape)
        model = str(workload.provenance.get("model", ""))
        point = model if batch == 1 else f"{model}@b{batch}"  # keys of simulator.gpu.samples
        point = point if mode == "eager" else f"{point}[{mode}]"
        if not model or calibration.precision != precision:
            pass  # measured at another precision: nothing to set beside this prediction
        elif point in calibration.points:  # the mean of repeated runs
            extras["measured"] = dict(calibration.points[point])
        elif point in calibration.measured:
            extras["measured"] = dict(calibration.measured[point])
    result = DesignResult(
        name=gpu_spec.name,
        kind="gpu",
        latency_s_per_step=latency_step,
        latency_s_per_image=latency_step * n_steps,
        energy_j_per_step=energy_step,
        energy_j_per_image=energy_step * n_steps,
        energy_breakdown_j={k: v * n_steps for k, v in breakdown.items()},
        area_mm2=None,
        per_op=tuple(per_op),
        label="modelled",
        notes=tuple(notes),
        extras=extras,
    )
    return per_image(result, batch)


def gpu_summary(result: DesignResult) -> str:
    """One line for a report or the CLI: the prediction with its error next to it."""
    point = str(result.extras.get("precision", "?"))
    point += "" if result.extras.get("mode", "eager") == "eager" else f", {result.extras['mode']}"
    point += "" if result.batch == 1 else f", batch {result.batch}: latency of the batch"
    line = (
        f"{result.name} ({result.label}, {point}): "
        f"{result.latency_s_per_step * 1e3:.3f} ms/step, {result.energy_j_per_image:.3g} J/image"
    )
    mape = result.extras.get("mape")
    if mape:
        line += (
            f" [calibrated; MAPE latency/step {mape.get('latency_step', float('nan')):.1f}%, "
            f"energy/image {mape.get('energy_image', float('nan')):.1f}%]"
        )
    elif result.label == "modelled":
        line += " [uncalibrated roofline: no error estimate]"
    measured = result.extras.get("measured")
    if measured and "latency_s_per_step" in measured:
        line += f"; measured {measured['latency_s_per_step'] * 1e3:.3f} ms/step"
        if measured.get("energy_j_per_image") is not None:
            line += f", {measured['energy_j_per_image']:.3g} J/image"
        line += f" ({measured.get('steps', '?')} steps, batch {measured.get('batch', '?')}"
        if int(measured.get("runs", 1)) > 1:
            spreads = [f"±{measured['latency_step_spread_pct']:.0f}% latency"]
            if "energy_image_spread_pct" in measured:
                spreads.append(f"±{measured['energy_image_spread_pct']:.0f}% energy")
            line += f", mean of {measured['runs']} runs; run-to-run spread {', '.join(spreads)}"
        line += ")"
        if "predicted_latency_s_per_step" in measured:
            # the calibration's own prediction is on the op list traced on the GPU, this one on
            # the scenario's workload file: they differ where the two traces differ
            line += (
                f"; on the measured run's own op list the model gives "
                f"{measured['predicted_latency_s_per_step'] * 1e3:.3f} ms/step"
            )
            if measured.get("predicted_energy_j_per_image") is not None:
                line += f", {measured['predicted_energy_j_per_image']:.3g} J/image"
    return line
