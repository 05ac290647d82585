"""The GPU cost model's parameters: what :mod:`simulator.gpu.model` computes with, what a
calibration fits (:mod:`simulator.gpu.calibrate`) and what a calibration file holds
(:mod:`simulator.gpu.calibration_file`).

Without a calibration every efficiency is 1 and every overhead 0: the plain roofline, with
the power model's defaults from the spec (:func:`default_params`). A :class:`GpuCalibration`
fitted by ``picojoule calibrate`` from real measurements replaces them and carries its fit
error (MAPE), which every prediction reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accelerator.gpu import GpuSpec

#: HBM3 access energy including I/O, pJ per byte: ~3.9 pJ/bit × 8 (O'Connor et al.,
#: "Fine-Grained DRAM", MICRO 2017, HBM2 figure; ⚠ HBM3 unverified, REFERENCES.md).
HBM_PJ_PER_BYTE_DEFAULT = 31.2

#: L2 access energy, pJ per byte: 50 pJ per 64-bit LLC word / 8 bytes (Dally, MICRO-52
#: keynote 2019, ⚠ REFERENCES.md).
L2_PJ_PER_BYTE_DEFAULT = 6.25


_MAPS = ("eff_max", "flops_half", "mem_eff", "kernel_fixed_s")


@dataclass(frozen=True)
class GpuModelParams:
    """Parameters of the GPU cost model (see :mod:`simulator.gpu.model` for the equations).

    Per-kind maps fall back to their ``"*"`` entry, then to the roofline value.
    """

    eff_max: Mapping[str, float] = field(default_factory=dict)  # tensor kinds; default 1
    flops_half: Mapping[str, float] = field(default_factory=dict)  # FLOPs; default 0
    mem_eff: Mapping[str, float] = field(default_factory=dict)  # sustained/peak HBM; default 1
    kernel_fixed_s: Mapping[str, float] = field(default_factory=dict)  # s per kernel; default 0
    vector_efficiency: float = 1.0  # achieved / peak FP32 CUDA-core rate on non-GEMM FLOPs
    l2_resident_fraction: float = 0.0  # activations up to this fraction of L2 bypass HBM
    host_issue_s: float = 0.0  # host time to issue one op in eager PyTorch, s
    idle_w: float = 0.0  # board power while idle (context open), W
    active_w: float = 0.0  # extra power while a kernel runs (clocks, static SM power), W
    pj_per_tensor_flop: float = 0.0  # dynamic energy per tensor-core FLOP, pJ
    pj_per_vector_flop: float = 0.0  # dynamic energy per CUDA-core FLOP, pJ
    pj_per_hbm_byte: float = HBM_PJ_PER_BYTE_DEFAULT
    pj_per_l2_byte: float = L2_PJ_PER_BYTE_DEFAULT

    def get(self, name: str, key: str, default: float) -> float:
        """``name``[key], where ``key`` is ``kind:op`` (e.g. ``norm:native_group_norm``),
        falling back to ``kind``, then ``"*"``, then ``default``."""
        table: Mapping[str, float] = getattr(self, name)
        if key in table:
            return float(table[key])
        kind = key.partition(":")[0]
        return float(table.get(kind, table.get("*", default)))

    def to_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in _MAPS:
            d[key] = dict(sorted(d[key].items()))
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GpuModelParams:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown GPU model parameters {sorted(unknown)}")
        kw = dict(d)
        for key in _MAPS:
            if key in kw:
                kw[key] = {k: float(v) for k, v in kw[key].items()}
        return cls(**kw)


@dataclass(frozen=True)
class GpuCalibration:
    """Fitted parameters for one GPU, with where they came from and how well they fit."""

    gpu: str  # GpuSpec.name it was fitted on
    params: GpuModelParams
    precision: str = "bf16"  # precision of the measurements it was fitted to
    mape: Mapping[str, float] = field(default_factory=dict)  # "latency_step", "energy_image", ...
    provenance: Mapping[str, Any] = field(default_factory=dict)  # files, date, method
    measured: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # one run → numbers
    points: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # mean of a point's runs


def default_params(gpu: GpuSpec, precision: str = "bf16") -> GpuModelParams:
    """The uncalibrated model: a roofline, with a power model derived from the spec.

    Dynamic energy per FLOP assumes the board reaches TDP at the datasheet peak:
    ``(tdp_w - idle_w) / peak`` (REFERENCES.md: 0.71 pJ/FLOP at BF16 on the H100 counting
    the whole TDP). Byte energies are the cited HBM and L2 defaults above.
    """
    dynamic_w = gpu.tdp_w.value - gpu.idle_w.value
    return GpuModelParams(
        idle_w=gpu.idle_w.value,
        pj_per_tensor_flop=dynamic_w / gpu.peak_flops_per_s(precision) * 1e12,
        pj_per_vector_flop=dynamic_w / gpu.vector_flops_per_s * 1e12,
    )
