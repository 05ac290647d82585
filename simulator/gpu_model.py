"""The GPU cost model: a workload's latency and energy on a real GPU, from its spec.

Per op (one aten op ≈ one kernel launch in eager PyTorch)::

    t_compute = tensor_flops / (peak(precision) · eff(kind, F))
                + other_flops / (fp32_peak · vec_eff)
    eff(kind, F) = eff_max[kind] · F / (F + flops_half[kind])        (Hockney's n½ curve)
    t_memory  = max(hbm_bytes / (hbm_bw · hbm_eff), all_bytes / l2_bw)
    t_op      = max(max(t_compute, t_memory) + kernel_fixed_s, host_issue_s)
    E_op      = idle_w · t_op + pj_tensor · tensor_flops + pj_vector · other_flops
                + pj_hbm · hbm_bytes + pj_l2 · l2_bytes                (capped at tdp_w · t_op)

``hbm_bytes`` counts weights always and an activation input or output only when the tensor
is larger than ``l2_resident_fraction`` of the L2 (a smaller one stays in L2 between the
producing and the consuming kernel). Bytes are rescaled from the traced dtype to the run
precision. ``host_issue_s`` is the CPU time eager PyTorch needs to issue one op: a step of
many small ops is launch-bound, and the model says so (``bound="launch"``).

Without a calibration every efficiency is 1 and every overhead 0: the plain roofline
(compute at the datasheet peak, memory at the datasheet bandwidth), and the power model's
defaults come from the spec (:func:`default_params`). A :class:`GpuCalibration` fitted by
``picojoule calibrate`` from real measurements (``simulator/calibrate.py``) replaces them
and carries its fit error (MAPE), which every prediction reports next to its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from accelerator.gpu import PRECISION_BYTES, GpuSpec
from models.workload import Op, Workload
from simulator.result import DesignResult, OpResult

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

#: HBM3 access energy including I/O, pJ per byte: ~3.9 pJ/bit × 8 (O'Connor et al.,
#: "Fine-Grained DRAM", MICRO 2017, HBM2 figure; ⚠ HBM3 unverified, REFERENCES.md).
HBM_PJ_PER_BYTE_DEFAULT = 31.2

#: L2 access energy, pJ per byte: 50 pJ per 64-bit LLC word / 8 bytes (Dally, MICRO-52
#: keynote 2019, ⚠ REFERENCES.md).
L2_PJ_PER_BYTE_DEFAULT = 6.25


@dataclass(frozen=True)
class GpuModelParams:
    """Parameters of the GPU cost model (see the module docstring for the equations)."""

    eff_max: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(TENSOR_KINDS, 1.0))
    flops_half: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(TENSOR_KINDS, 0.0)
    )
    vector_efficiency: float = 1.0  # achieved / peak FP32 CUDA-core rate on non-GEMM FLOPs
    hbm_efficiency: float = 1.0  # sustained / peak HBM bandwidth
    l2_resident_fraction: float = 0.0  # activations up to this fraction of L2 bypass HBM
    kernel_fixed_s: float = 0.0  # GPU-side fixed cost per kernel (ramp-up, tail), s
    host_issue_s: float = 0.0  # host time to issue one op in eager PyTorch, s
    idle_w: float = 0.0  # board power while idle, W
    pj_per_tensor_flop: float = 0.0  # dynamic energy per tensor-core FLOP, pJ
    pj_per_vector_flop: float = 0.0  # dynamic energy per CUDA-core FLOP, pJ
    pj_per_hbm_byte: float = HBM_PJ_PER_BYTE_DEFAULT
    pj_per_l2_byte: float = L2_PJ_PER_BYTE_DEFAULT

    def to_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["eff_max"] = dict(self.eff_max)
        d["flops_half"] = dict(self.flops_half)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GpuModelParams:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown GPU model parameters {sorted(unknown)}")
        kw = dict(d)
        for key in ("eff_max", "flops_half"):
            if key in kw:
                kw[key] = {k: float(v) for k, v in kw[key].items()}
        return cls(**kw)


@dataclass(frozen=True)
class GpuCalibration:
    """Fitted parameters for one GPU, with where they came from and how well they fit."""

    gpu: str  # GpuSpec.name it was fitted on
    params: GpuModelParams
    precision: str = "bf16"  # precision of the measurements it was fitted to
    mape: Mapping[str, float] = field(
        default_factory=dict
    )  # "latency_step", "energy_image", per class
    provenance: Mapping[str, Any] = field(default_factory=dict)  # measurement files, date, method
    measured: Mapping[str, Mapping[str, float]] = field(
        default_factory=dict
    )  # model → measured values


def default_params(gpu: GpuSpec, precision: str = "bf16") -> GpuModelParams:
    """The uncalibrated model: a roofline, with a power model derived from the spec.

    Dynamic energy per FLOP assumes the board reaches TDP at the datasheet peak:
    ``(tdp_w - idle_w) / peak`` (REFERENCES.md: 0.71 pJ/FLOP at BF16 on the H100 counting
    the whole TDP). Byte energies are the cited HBM and L2 defaults above.
    """
    dynamic_w = gpu.tdp_w.value - gpu.idle_w.value
    tensor_peak = gpu.peak_flops_per_s(_tensor_precision(gpu, precision))
    return GpuModelParams(
        idle_w=gpu.idle_w.value,
        pj_per_tensor_flop=dynamic_w / tensor_peak * 1e12,
        pj_per_vector_flop=dynamic_w / gpu.vector_flops_per_s * 1e12,
    )


def _tensor_precision(gpu: GpuSpec, precision: str) -> str:
    if precision not in PRECISION_BYTES:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISION_BYTES)}")
    return precision


def _scale(op: Op, precision: str) -> float:
    """Factor from the traced dtype's bytes to the run precision's bytes."""
    traced = DTYPE_BYTES.get(op.dtype.removeprefix("torch."))
    if traced is None:
        return 1.0  # integer/bool tensors keep their size
    return PRECISION_BYTES[precision] / traced


@dataclass(frozen=True)
class OpCost:
    """Intermediate per-op numbers (SI units), before they become an :class:`OpResult`."""

    tensor_flops: float
    vector_flops: float
    hbm_bytes: float
    l2_bytes: float
    compute_s: float
    memory_s: float
    latency_s: float
    bound: str
    energy_j: Mapping[str, float]


def op_cost(
    op: Op, gpu: GpuSpec, p: GpuModelParams, precision: str, resident_weights: bool
) -> OpCost:
    """Latency and energy of one op (one invocation) on ``gpu``."""
    tensor = op.kind in TENSOR_KINDS and op.macs > 0
    tensor_flops = 2.0 * op.macs if tensor else 0.0
    vector_flops = max(0.0, float(op.flops) - tensor_flops)
    scale = _scale(op, precision)
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
        eff = (
            p.eff_max.get(op.kind, 1.0)
            * tensor_flops
            / (tensor_flops + p.flops_half.get(op.kind, 0.0))
        )
        compute_s += tensor_flops / (gpu.peak_flops_per_s(precision) * eff)
    if vector_flops:
        compute_s += vector_flops / (gpu.vector_flops_per_s * p.vector_efficiency)
    memory_s = max(hbm / (gpu.hbm_bytes_per_s * p.hbm_efficiency), all_bytes / gpu.l2_bytes_per_s)
    device_s = max(compute_s, memory_s) + p.kernel_fixed_s
    latency_s = max(device_s, p.host_issue_s)
    if latency_s <= 0.0:
        bound = "none"
    elif p.host_issue_s > device_s:
        bound = "launch"
    else:
        bound = "compute" if compute_s >= memory_s else "memory"

    energy = {
        "idle": p.idle_w * latency_s,
        "compute": (p.pj_per_tensor_flop * tensor_flops + p.pj_per_vector_flop * vector_flops)
        * 1e-12,
        "hbm": p.pj_per_hbm_byte * hbm * 1e-12,
        "l2": p.pj_per_l2_byte * all_bytes * 1e-12,
    }
    total = sum(energy.values())
    cap = gpu.tdp_w.value * latency_s
    if total > cap > 0.0:  # the board cannot draw more than TDP: scale dynamic parts down
        dyn = total - energy["idle"]
        keep = (cap - energy["idle"]) / dyn if dyn > 0 else 0.0
        energy = {k: (v if k == "idle" else v * keep) for k, v in energy.items()}
    return OpCost(
        tensor_flops, vector_flops, hbm, all_bytes, compute_s, memory_s, latency_s, bound, energy
    )


def evaluate_gpu(
    workload: Workload,
    gpu_spec: GpuSpec,
    *,
    precision: str = "bf16",
    calibration: GpuCalibration | None = None,
    steps: int | None = None,
) -> DesignResult:
    """Predict ``workload`` on ``gpu_spec``: per-op latency/energy per step, totals per image.

    ``steps`` overrides ``workload.steps`` for per-image totals (per image = per step × steps).
    With ``calibration`` the fitted parameters are used and its MAPE goes into ``extras``
    (and, where the calibration holds a measurement of the same model, that too).
    """
    gpu_spec.peak_flops_per_s(precision)  # unknown precision on this GPU → SpecError
    params = calibration.params if calibration is not None else default_params(gpu_spec, precision)
    n_steps = workload.steps if steps is None else steps
    if n_steps < 1:
        raise ValueError(f"steps must be a positive integer, got {n_steps!r}")
    scale_total = sum(
        o.weight_bytes * _scale(o, precision) for o in workload.ops if o.weight_is_param
    )
    resident = scale_total <= params.l2_resident_fraction * gpu_spec.l2_bytes.value
    clock_hz = gpu_spec.boost_clock_ghz.value * 1e9
    peak = gpu_spec.peak_flops_per_s(precision)

    per_op: list[OpResult] = []
    breakdown: dict[str, float] = {"idle": 0.0, "compute": 0.0, "hbm": 0.0, "l2": 0.0}
    for i, op in enumerate(workload.ops):
        c = op_cost(op, gpu_spec, params, precision, resident)
        for k, v in c.energy_j.items():
            breakdown[k] += v
        per_op.append(
            OpResult(
                index=i,
                name=op.name,
                kind=op.kind,
                module=op.module,
                macs=op.macs,
                cycles=c.latency_s * clock_hz,
                latency_s=c.latency_s,
                energy_j=sum(c.energy_j.values()),
                compute_cycles=c.compute_s * clock_hz,
                memory_cycles=c.memory_s * clock_hz,
                utilization=(c.tensor_flops / (c.latency_s * peak)) if c.latency_s > 0 else 0.0,
                energy_breakdown_j=c.energy_j,
                bound=c.bound,
                mapping={"hbm_bytes": c.hbm_bytes, "l2_bytes": c.l2_bytes},
            )
        )
    latency_step = sum(o.latency_s for o in per_op)
    energy_step = sum(o.energy_j for o in per_op)
    notes: list[str] = []
    extras: dict[str, Any] = {"precision": precision, "gpu": gpu_spec.name}
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
        if model and model in calibration.measured:
            extras["measured"] = dict(calibration.measured[model])
    return DesignResult(
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


def with_params(calibration: GpuCalibration, **changes: Any) -> GpuCalibration:
    """A copy of ``calibration`` with some model parameters changed (for sweeps and tests)."""
    return replace(calibration, params=replace(calibration.params, **changes))
