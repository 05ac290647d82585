"""Result records of an evaluation, and their JSON form (the results.json contract).

The contract (tests and scripts rely on it; extend, never rename)::

    {"picojoule_version", "workload": {...provenance, "steps"},
     "designs": [{"name", "kind": "accelerator"|"gpu", "batch", "latency_s_per_step",
                  "latency_s_per_image", "energy_j_per_step", "energy_j_per_image",
                  "energy_breakdown_j": {component: J per image}, "area_mm2" (null for GPUs),
                  "per_step": [{"step", "traced_step", "latency_s", "energy_j"}]
                              (accelerators only: the GPU model costs every step alike),
                  "per_op": [{"index", "name", "kind", "macs", "cycles", "latency_s",
                              "energy_j", ...}]}]}

Per-op numbers are per denoising step, averaged over the workload's steps. At ``batch`` B > 1
(images evaluated at once, :func:`per_image`) energies, bytes and the ``*_per_image`` extras are
per image (the batch's / B); latencies are the batch's (an image is done when its batch is), and
``per_op`` describes one step of the whole batch. Floats are written
to 9 significant digits; magnitudes below :data:`NEGLIGIBLE` (1e-30) as 0; NaN and infinities
as null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class OpResult:
    """One op's cost on one design, per step (mean over steps)."""

    index: int
    name: str
    kind: str
    module: str
    macs: int
    cycles: float  # total cycles of the op (max of compute and memory for the analytic mode)
    latency_s: float
    energy_j: float
    compute_cycles: float = 0.0
    memory_cycles: float = 0.0
    utilization: float = 0.0  # useful MACs / (PEs x cycles)
    energy_breakdown_j: Mapping[str, float] = field(default_factory=dict)
    gating_saved_j: float = 0.0  # energy saved by zero-gating (element level)
    skipped_cycles: float = 0.0  # compute cycles saved by skipping structure
    bound: str = ""  # "compute" | "memory" | "vector" | "none"
    mapping: Mapping[str, Any] = field(default_factory=dict)
    # bytes moved per memory level ("dram" and the spec's level names), per step
    traffic_bytes: Mapping[str, float] = field(default_factory=dict)
    # cycles beyond compute, by cause: "dram" (bandwidth), "sram" (buffer bandwidth and bank
    # conflicts), "fill_drain" (DRAM latency, first load, last write-back), "serial" (no
    # double buffering: loads and compute in turn); event mode adds "contention"
    stall_cycles: Mapping[str, float] = field(default_factory=dict)
    # savings and costs of sparsity, kept apart: "gating_saved_j", "skipping_saved_j",
    # "skipped_cycles", "delta_step_fraction", "delta_extra_bytes", "metadata_bytes"
    sparsity: Mapping[str, float] = field(default_factory=dict)
    # event mode: "start_s", "end_s" of the op within its step, busy seconds per engine
    timeline: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DesignResult:
    """One design's cost on one workload.

    ``extras`` (written to results.json as is) of an accelerator
    (:func:`simulator.evaluation.evaluate_prepared`): ``fidelity``, ``objective``, ``clock_ghz``,
    ``pes``, ``precision``; ``sparsity`` (per image: ``gating_saved_j_per_image``,
    ``skipping_saved_j_per_image``, ``skipped_cycles_per_image``, ``skipped_s_per_image``,
    ``delta_extra_bytes_per_image``, ``metadata_bytes_per_image``);
    ``sparsity_gating_saved_j_per_image``, ``sparsity_skipped_cycles_per_image`` and
    ``sparsity_skipped_s_per_image``: the same numbers as ``sparsity``'s
    ``gating_saved_j_per_image``, ``skipped_cycles_per_image`` and ``skipped_s_per_image``,
    kept flat because results.json has carried them since before ``sparsity`` (read
    ``sparsity`` in new code); ``stall_cycles_per_image`` and ``traffic_bytes_per_image`` (by
    cause, by level); ``mean_utilization``; ``weight_residency`` (designs with
    ``across_steps`` only); ``decoder`` (scenarios with a decoder). Of a GPU
    (:func:`simulator.gpu.model.evaluate_gpu`): ``precision``, ``gpu``, ``mode``,
    ``calibration`` and, when calibrated, ``mape`` and ``measured``.
    """

    name: str
    kind: str  # "accelerator" | "gpu"
    latency_s_per_step: float
    latency_s_per_image: float
    energy_j_per_step: float
    energy_j_per_image: float
    energy_breakdown_j: Mapping[str, float]  # per image
    area_mm2: float | None
    per_op: tuple[OpResult, ...]
    per_step: tuple[Mapping[str, float], ...] = ()
    label: str = "modelled"  # "modelled" | "measured"
    notes: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)
    batch: int = 1  # images evaluated at once; see the module docstring

    @property
    def edp_j_s(self) -> float:
        """Energy-delay product per image (J·s)."""
        return self.energy_j_per_image * self.latency_s_per_image


#: ``extras`` entries that count per image (divided by the batch in :func:`per_image`); times are
#: the batch's and stay.
_PER_IMAGE_EXTRAS = (
    "sparsity_gating_saved_j_per_image",
    "sparsity_skipped_cycles_per_image",
    "sparsity_skipped_s_per_image",
    "stall_cycles_per_image",
    "traffic_bytes_per_image",
    "sparsity",
)


def _div(x: Any, b: int) -> Any:
    if isinstance(x, Mapping):
        return {k: _div(v, b) for k, v in x.items()}
    return x / b if isinstance(x, (int, float)) and not isinstance(x, bool) else x


def per_image(d: DesignResult, batch: int) -> DesignResult:
    """``d``, the cost of one batch of ``batch`` images, as per-image numbers.

    Energies (totals, breakdown, per step, decoder, weight fill) and the per-image counts of
    ``extras`` are divided by ``batch``; latencies stay the batch's. ``per_op`` stays the batched
    step's. ``extras["batch"]`` gives the batch's own numbers: ``images``,
    ``latency_s_per_batch`` (time to finish the batch), ``energy_j_per_batch`` and throughput
    ``images_per_s``. ``batch == 1`` returns ``d`` unchanged."""
    if batch == 1:
        return d
    extras = dict(d.extras)
    for key in _PER_IMAGE_EXTRAS:
        if key in extras:
            extras[key] = _div(extras[key], batch)
    if "decoder" in extras:
        dec = dict(extras["decoder"])
        for key in ("energy_j", "energy_breakdown_j"):
            if key in dec:
                dec[key] = _div(dec[key], batch)
        extras["decoder"] = dec
    if "fill_energy_j" in extras.get("weight_residency", {}):
        extras["weight_residency"] = {
            **extras["weight_residency"],
            "fill_energy_j": extras["weight_residency"]["fill_energy_j"] / batch,
        }
    lat = d.latency_s_per_image
    extras["batch"] = {
        "images": batch,
        "latency_s_per_batch": lat,
        "energy_j_per_batch": d.energy_j_per_image,
        "images_per_s": batch / lat if lat > 0 else math.inf,
    }
    return replace(
        d,
        energy_j_per_step=d.energy_j_per_step / batch,
        energy_j_per_image=d.energy_j_per_image / batch,
        energy_breakdown_j=_div(d.energy_breakdown_j, batch),
        per_step=tuple({**s, "energy_j": s["energy_j"] / batch} for s in d.per_step),
        extras=extras,
        batch=batch,
    )


#: Magnitudes below this are written as 0. Every quantity in results.json is in J, s, cycles,
#: bytes, mm² or a fraction, where the smallest meaningful value is ~1e-15 (a femtojoule); what
#: lies below 1e-30 is an expected value of an event too unlikely to matter (e.g. a skip
#: probability ``z**copies`` of 1e-40 times a step's cycles), not a result. The golden tests
#: compare with the same absolute tolerance (tests/golden/test_results_golden.py).
NEGLIGIBLE = 1e-30


def _clean(x: Any) -> Any:
    """Floats to 9 significant digits (stable text across platforms), negligible ones to 0."""
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return None
        if abs(x) < NEGLIGIBLE:
            return 0.0
        return float(f"{x:.9g}")
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def op_to_json(op: OpResult) -> dict[str, Any]:
    return _clean(
        {
            "index": op.index,
            "name": op.name,
            "kind": op.kind,
            "module": op.module,
            "macs": op.macs,
            "cycles": op.cycles,
            "latency_s": op.latency_s,
            "energy_j": op.energy_j,
            "compute_cycles": op.compute_cycles,
            "memory_cycles": op.memory_cycles,
            "utilization": op.utilization,
            "bound": op.bound,
            "gating_saved_j": op.gating_saved_j,
            "skipped_cycles": op.skipped_cycles,
            "energy_breakdown_j": dict(op.energy_breakdown_j),
            "mapping": dict(op.mapping),
            "traffic_bytes": dict(op.traffic_bytes),
            "stall_cycles": dict(op.stall_cycles),
            "sparsity": dict(op.sparsity),
            "timeline": dict(op.timeline),
        }
    )


def design_to_json(d: DesignResult) -> dict[str, Any]:
    """One design's entry of results.json; ``per_step`` only where the model costs steps apart."""
    doc = _clean(
        {
            "name": d.name,
            "kind": d.kind,
            "batch": d.batch,
            "label": d.label,
            "latency_s_per_step": d.latency_s_per_step,
            "latency_s_per_image": d.latency_s_per_image,
            "energy_j_per_step": d.energy_j_per_step,
            "energy_j_per_image": d.energy_j_per_image,
            "energy_breakdown_j": dict(d.energy_breakdown_j),
            "area_mm2": d.area_mm2,
            "edp_j_s": d.edp_j_s,
            "notes": list(d.notes),
            "extras": dict(d.extras),
            "per_step": [dict(s) for s in d.per_step],
            "per_op": [op_to_json(o) for o in d.per_op],
        }
    )
    if not d.per_step:  # GPUs: every step costs the same, latency_s_per_step and energy_j_per_step
        del doc["per_step"]
    return doc
