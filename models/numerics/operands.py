"""Operands of the numerics emulation: quantised weights, activations and temporal deltas.

:class:`EmulationState` holds one run's numerics, calibration table, cached weights and the
previous step's reconstructed activations; the functions here turn a tensor into an
:class:`Operand` (values, and integer codes where the format has them) under that state. The
dispatch mode that calls them per GEMM-like op is :mod:`models.numerics.emulate`, whose
docstring gives the rules (scales, calibration keys, deltas).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from accelerator.numerics import INT_FORMATS, INT_QMAX, NumericsSpec, TensorFormat
from models.numerics.quant import IntCodes, fake_quantise, int_codes, threshold_zero


@dataclass
class Operand:
    """A quantised operand: its values, and integer codes + scale when it has them."""

    values: torch.Tensor
    codes: IntCodes | None = None


@dataclass
class EmulationState:
    """Mutable state of one emulated (or calibration) run."""

    numerics: NumericsSpec
    weight_ptrs: frozenset[int]
    amax: dict[str, float] = field(default_factory=dict)  # static ranges: key -> max|x|
    calibrating: bool = False
    op_index: int = 0
    calls: int = 0
    weights: dict[tuple[Any, ...], Operand] = field(default_factory=dict)
    prev: dict[str, torch.Tensor] = field(default_factory=dict)  # key -> x̂ (values or codes)
    prev_raw: dict[str, torch.Tensor] = field(default_factory=dict)  # calibration: previous x
    recorded: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)

    def begin_call(self) -> None:
        self.op_index = 0
        self.calls += 1

    def count(self, name: str, value: float) -> None:
        self.counts[name] = self.counts.get(name, 0.0) + value

    def record(self, key: str, value: float) -> None:
        self.recorded[key] = max(self.recorded.get(key, 0.0), value)


def absmax(x: torch.Tensor) -> float:
    return float(x.abs().max()) if x.numel() else 0.0


def percentile(x: torch.Tensor, pct: float) -> float:
    flat = x.detach().abs().flatten().float()
    if flat.numel() > 1 << 22:  # torch.quantile's input limit; a fixed stride keeps it deterministic
        flat = flat[:: math.ceil(flat.numel() / (1 << 22))]
    return float(torch.quantile(flat, pct / 100.0)) if flat.numel() else 0.0


def is_param(state: EmulationState, t: torch.Tensor) -> bool:
    return t.untyped_storage().data_ptr() in state.weight_ptrs


def weight_operand(state: EmulationState, w: torch.Tensor, channel_axis: int, reduce_axis: int) -> Operand:
    key = (
        w.untyped_storage().data_ptr(),
        w.storage_offset(),
        tuple(w.shape),
        tuple(w.stride()),
        channel_axis,
    )
    hit = state.weights.get(key)
    if hit is not None:
        return hit
    n = state.numerics
    fmt = n.weights
    w = threshold_zero(w, n.zero_skip.weight_threshold, n.zero_skip.weight_threshold_rel)
    if fmt.format in INT_FORMATS and fmt.granularity != "per_block":
        codes = int_codes(w, fmt, channel_axis=channel_axis)
        op = Operand(codes.values, codes)
    else:
        op = Operand(fake_quantise(w, fmt, channel_axis=channel_axis, reduce_axis=reduce_axis))
    state.weights[key] = op
    return op


def static_amax(state: EmulationState, key: str, fmt: TensorFormat) -> float | None:
    """The calibrated range of ``key`` (per step if ``fmt.step_scales``); None if live."""
    if fmt.calibration == "dynamic" or fmt.granularity != "per_tensor":
        return None
    full = f"{key}@{state.calls - 1}" if fmt.step_scales else key
    if full not in state.amax:
        raise KeyError(f"no calibrated range for {full}; calibrate with the same model and steps")
    return state.amax[full]


def quant_act(state: EmulationState, key: str, x: torch.Tensor, reduce_axis: int) -> Operand:
    fmt = state.numerics.activations
    amax = static_amax(state, key, fmt)
    if fmt.format in INT_FORMATS and fmt.granularity == "per_tensor":
        codes = int_codes(x, fmt, amax=amax)
        return Operand(codes.values, codes)
    return Operand(fake_quantise(x, fmt, reduce_axis=reduce_axis, amax=amax))


def activation_operand(state: EmulationState, key: str, x: torch.Tensor, reduce_axis: int, delta_ok: bool) -> Operand:
    """The operand the array multiplies for activation ``x`` (thresholded, quantised, delta)."""
    n = state.numerics
    if state.calibrating:
        record_calibration(state, key, x, delta_ok)
        return Operand(x)
    x = threshold_zero(x, n.zero_skip.act_threshold, n.zero_skip.act_threshold_rel)
    if delta_ok and n.temporal_delta.enabled:
        op = delta_operand(state, key, x, reduce_axis)
    else:
        op = quant_act(state, key, x, reduce_axis)
    state.count("act_elements", x.numel())
    state.count("act_zeros", float((op.values == 0).sum()))
    return op


def record_calibration(state: EmulationState, key: str, x: torch.Tensor, delta_ok: bool) -> None:
    """Record the range of ``x`` under ``key`` and ``key@step`` (and of its step-to-step delta)."""
    step = state.calls - 1

    def record(k: str, v: torch.Tensor, fmt: TensorFormat) -> None:
        r = percentile(v, fmt.percentile) if fmt.calibration == "percentile" else absmax(v)
        state.record(k, r)
        state.record(f"{k}@{step}", r)

    record(key, x, state.numerics.activations)
    if delta_ok:
        prev = state.prev_raw.get(key)
        if prev is not None and prev.shape == x.shape:
            record(key + ".delta", x - prev, state.numerics.deltas)
        state.prev_raw[key] = x.clone()


def delta_operand(state: EmulationState, key: str, x: torch.Tensor, reduce_axis: int) -> Operand:
    """``x̂ = x̂_prev + Δq`` (see the module docstring); the first step is computed in full."""
    n = state.numerics
    afmt, dfmt, td = n.activations, n.deltas, n.temporal_delta
    prev = state.prev.get(key)
    if prev is None or prev.shape != x.shape:
        op = quant_act(state, key, x, reduce_axis)
        state.prev[key] = op.values
        return op
    limit = max(td.threshold, td.threshold_rel * absmax(x))
    diff = x - prev
    if afmt.format in INT_FORMATS and afmt.granularity == "per_tensor":
        # Δ in units of this step's activation step size (Ditto's integer deltas when the scale
        # is the same every step), clipped to the delta format.
        s = int_codes(x, afmt, amax=static_amax(state, key, afmt)).scale
        d = torch.round(diff / s)
        d = torch.where(d.abs() * s <= limit, torch.zeros_like(d), d)
        if dfmt.format in INT_QMAX:
            q = INT_QMAX[str(dfmt.format)]
            state.count("delta_clipped", float((d.abs() > q).sum()))
            d = torch.clamp(d, -q, q)
        zeros = float((d == 0).sum())
        xhat = prev + d * s
    elif dfmt.format == "fp32":
        skip = diff.abs() <= limit
        xhat = torch.where(skip, prev, x)
        zeros = float(skip.sum())
    else:
        amax = static_amax(state, key + ".delta", dfmt)
        dz = torch.where(diff.abs() <= limit, torch.zeros_like(diff), diff)
        dq = fake_quantise(dz, dfmt, reduce_axis=reduce_axis, amax=amax)
        xhat = prev + dq
        zeros = float((dq == 0).sum())
    state.prev[key] = xhat
    state.count("delta_elements", x.numel())
    state.count("delta_zeros", zeros)
    return Operand(xhat)
