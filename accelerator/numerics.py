"""Numerics of a design: number formats per tensor class, zero-skip thresholds, temporal deltas.

One :class:`NumericsSpec` under ``numerics:`` in an arch YAML declares what the hardware does
to the numbers. The same record drives the cost model (which operand widths it charges, what
counts as skippable) and :mod:`models.numerics.session`, which runs the real model's sampling loop with
these numerics to measure what they do to the images. See ``docs/numerics.md``.

Every field may be left out. A left-out format follows the array (``compute.precision``,
``compute.accumulator_bits``, ``compute.sparsity.delta_precision``,
``compute.sparsity.temporal_delta``); :func:`resolve_numerics` fills them in, so an arch file
without a ``numerics:`` section is emulated at the precision its cost is counted at.

Conventions (all symmetric, round half to even, saturating):

- ``intN``: ``q = clamp(round(x / s), -(2^(N-1) - 1), 2^(N-1) - 1)``, value ``q * s``;
  ``s = amax / (2^(N-1) - 1)`` over the scale group (per tensor, per output channel or per block
  of ``block_size`` along the reduction dimension). With ``shared_exponent`` the scale is the
  power of two ``2^(floor(log2 amax) - (N - 2))`` of the OCP Microscaling spec (MX v1.0, 2023,
  §5.3: MXINT8 elements are 1.6 fixed point under an E8M0 shared scale).
- ``fp8_e4m3`` / ``fp8_e5m2``: OCP 8-bit floating point (OFP8, 2023): max 448 / 57344,
  subnormals, round to nearest even, saturating. Scaled by ``amax / max`` per group, or by the
  MX shared exponent ``2^(floor(log2 amax) - emax)`` with emax 8 / 15 (MX v1.0 §5.3).
- ``fp16`` / ``bf16``: IEEE binary16 / bfloat16 casts, no scale. ``fp32``: unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from accelerator.spec import ArchSpec

Format = Literal["fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "int8", "int4"]
AccumulatorFormat = Literal["fp32", "fp16", "bf16", "int32", "int16"]
Granularity = Literal["per_tensor", "per_channel", "per_block"]
Calibration = Literal["absmax", "percentile", "dynamic"]

#: Bits per element of each format.
FORMAT_BITS: dict[str, int] = {
    "fp32": 32,
    "fp16": 16,
    "bf16": 16,
    "fp8_e4m3": 8,
    "fp8_e5m2": 8,
    "int8": 8,
    "int4": 4,
    "int32": 32,
    "int16": 16,
}

#: Formats whose values are integers times a scale.
INT_FORMATS = ("int8", "int4")

#: Formats that need a scale (integers and fp8; fp16/bf16/fp32 are plain casts).
SCALED_FORMATS = ("int8", "int4", "fp8_e4m3", "fp8_e5m2")

#: The format an array precision (``compute.precision``) stands for; the spec's ``fp8`` is E4M3,
#: the OCP format used for forward passes (Micikevicius et al., "FP8 Formats for Deep Learning",
#: arXiv:2209.05433, 2022, §3).
FORMAT_OF_PRECISION: dict[str, str] = {
    "fp32": "fp32",
    "fp16": "fp16",
    "bf16": "bf16",
    "fp8": "fp8_e4m3",
    "int8": "int8",
    "int4": "int4",
}

MX_BLOCK_SIZE = 32
"""Elements sharing one scale in the OCP MX formats (MX v1.0, 2023, §5.2: k = 32)."""

INT_QMAX: dict[str, int] = {"int8": 127, "int4": 7, "int16": 32767, "int32": 2**31 - 1}
"""Largest code of the symmetric (narrow-range) integer formats: 2^(N-1) - 1."""

FP8_MAX: dict[str, float] = {"fp8_e4m3": 448.0, "fp8_e5m2": 57344.0}
"""Largest finite value of the OCP 8-bit floats (OCP OFP8 spec v1.0, 2023, table 1)."""

FP8_EMAX: dict[str, int] = {"fp8_e4m3": 8, "fp8_e5m2": 15}
"""Exponent of the largest normal of each element type (OCP MX spec v1.0, 2023, table 1)."""


#: Largest absolute zero-skip or delta threshold, in tensor units: 65504, the largest finite fp16
#: value. A threshold above it sets every fp16 tensor, and every activation of the traced models
#: (|x| stays below ~10^4), to zero: a typo or a unit slip, not a design (docs/numerics.md).
MAX_ABS_THRESHOLD = 65504.0


class _Strict(BaseModel):
    # strict as accelerator.spec: a bool is not a number (``block_size: true``), a string is not
    # a number; allow_inf_nan=False: a NaN passes every bound check, an infinite threshold zeroes
    # every tensor
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class TensorFormat(_Strict):
    """How one tensor class is stored and multiplied."""

    format: Format | None = Field(None, description="number format; default: the array's precision")
    granularity: Granularity | None = Field(
        None,
        description="scale group of int/fp8 formats: per_tensor, per_channel (one scale per output "
        "channel; weights only) or per_block (block_size elements along the reduction dimension); "
        "default per_channel for weights, per_tensor otherwise",
    )
    block_size: int = Field(MX_BLOCK_SIZE, ge=2, le=4096, description="elements per block (per_block)")
    shared_exponent: bool = Field(
        False,
        description="scales are powers of two as in the OCP MX formats (E8M0 shared exponent)",
    )
    calibration: Calibration = Field(
        "absmax",
        description="activations and deltas with per_tensor scales: 'absmax' or 'percentile' "
        "fix the "
        "scale from calibration runs (static, as hardware does); 'dynamic' takes the live max|x|. "
        "Weights and per_channel/per_block scales always use the live values",
    )
    step_scales: bool = Field(
        True,
        description="static scales: one per denoising step (activation ranges move with the noise "
        "level; timestep-dependent quantisation, So et al., NeurIPS 2023) rather than one per run",
    )
    percentile: float = Field(
        99.99,
        gt=50,
        le=100,
        description="percentile of |x| used as the clip range by 'percentile' calibration",
    )

    @property
    def bits(self) -> int:
        return FORMAT_BITS[self.format or "fp32"]


class AccumulatorSpec(_Strict):
    """The format partial sums are kept in (applied to each finished dot product)."""

    format: AccumulatorFormat | None = Field(
        None,
        description="fp32, fp16, bf16, int32 or int16; default: int<accumulator_bits> on integer "
        "arrays, fp32 on floating-point ones",
    )


class ZeroSkipSpec(_Strict):
    """What counts as a zero the hardware may skip: ``|x| <= max(thr, thr_rel * max|x|)``.

    Values under the threshold are set to zero before quantisation (the tracer's
    ``act_near_zero_frac`` uses the same rule). A threshold of 0 only skips exact zeros, which
    changes nothing numerically.
    """

    act_threshold: float = Field(
        0.0, ge=0, le=MAX_ABS_THRESHOLD, description="absolute activation threshold, tensor units"
    )
    act_threshold_rel: float = Field(0.0, ge=0, lt=1, description="activation threshold / max|x| of the tensor")
    weight_threshold: float = Field(
        0.0, ge=0, le=MAX_ABS_THRESHOLD, description="absolute weight threshold, tensor units"
    )
    weight_threshold_rel: float = Field(0.0, ge=0, lt=1, description="weight threshold / max|w| of the tensor")

    @property
    def active(self) -> bool:
        return any(
            v > 0
            for v in (
                self.act_threshold,
                self.act_threshold_rel,
                self.weight_threshold,
                self.weight_threshold_rel,
            )
        )


class TemporalDeltaSpec(_Strict):
    """Compute each weighted op on the change of its input since the previous denoising step.

    The array keeps each op's previous output and adds ``W · Δq``, where ``Δ`` is the input minus
    the input it reconstructed at the previous step and ``Δq`` is ``Δ`` in the ``deltas`` format
    with ``|Δ| <= max(threshold, threshold_rel * max|x|)`` set to zero (and skipped)
    (Cambricon-D, ISCA 2024; Ditto, HPCA 2025). The first step is computed in full.
    """

    enabled: bool | None = Field(None, description="default: compute.sparsity.temporal_delta")
    threshold: float = Field(0.0, ge=0, le=MAX_ABS_THRESHOLD, description="absolute delta threshold, tensor units")
    threshold_rel: float = Field(0.0, ge=0, lt=1, description="delta threshold / max|x| of the step's input")


class NumericsSpec(_Strict):
    """Formats per tensor class, zero-skip thresholds and temporal-delta mode of a design."""

    weights: TensorFormat = Field(default_factory=TensorFormat, description="trained parameters of GEMMs/convs")
    activations: TensorFormat = Field(
        default_factory=TensorFormat,
        description="inputs of GEMMs/convs, both operands of attention matmuls",
    )
    accumulators: AccumulatorSpec = Field(default_factory=AccumulatorSpec)
    deltas: TensorFormat = Field(
        default_factory=TensorFormat,
        description="temporal deltas; default format: compute.sparsity.delta_precision",
    )
    zero_skip: ZeroSkipSpec = Field(default_factory=ZeroSkipSpec)
    temporal_delta: TemporalDeltaSpec = Field(default_factory=TemporalDeltaSpec)
    quantise_attention: bool = Field(
        True,
        description="also quantise the activation x activation matmuls of attention (QK^T, PV)",
    )

    @model_validator(mode="after")
    def _granularities(self) -> NumericsSpec:
        for name in ("activations", "deltas"):
            if getattr(self, name).granularity == "per_channel":
                raise ValueError(
                    f"{name}.granularity per_channel is not allowed: a scale per reduction "
                    "channel cannot be "
                    "factored out of an integer dot product; use per_tensor or per_block"
                )
        return self

    def is_identity(self) -> bool:
        """True when emulation changes nothing: all fp32, no thresholds, deltas off or exact."""
        delta_exact = not self.temporal_delta.enabled or (
            self.deltas.format == "fp32"
            and self.temporal_delta.threshold == 0
            and self.temporal_delta.threshold_rel == 0
        )
        return (
            self.weights.format == "fp32"
            and self.activations.format == "fp32"
            and self.accumulators.format == "fp32"
            and not self.zero_skip.active
            and delta_exact
        )

    def label(self) -> str:
        """A short human description, e.g. ``w int8/per_channel a int8/per_tensor acc int32``."""

        def fmt(t: TensorFormat) -> str:
            if t.format not in SCALED_FORMATS:
                return str(t.format)
            g = f"{t.granularity}{t.block_size}" if t.granularity == "per_block" else str(t.granularity)
            return f"{t.format}/{g}{'/mx' if t.shared_exponent else ''}"

        parts = [
            f"w {fmt(self.weights)}",
            f"a {fmt(self.activations)}",
            f"acc {self.accumulators.format}",
        ]
        if self.zero_skip.active:
            z = self.zero_skip
            parts.append(
                f"skip a<={z.act_threshold:g}|{z.act_threshold_rel:g}rel "
                f"w<={z.weight_threshold:g}|{z.weight_threshold_rel:g}rel"
            )
        if self.temporal_delta.enabled:
            d = self.temporal_delta
            parts.append(f"delta {fmt(self.deltas)} thr {d.threshold:g}|{d.threshold_rel:g}rel")
        return " ".join(parts)


def _is_int(fmt: str) -> bool:
    return fmt.startswith("int")


def resolve_numerics(
    numerics: NumericsSpec,
    precision: str,
    accumulator_bits: int = 32,
    delta_precision: str = "int8",
    temporal_delta: bool = False,
) -> NumericsSpec:
    """``numerics`` with every left-out field filled in from the array's settings.

    ``precision`` is ``compute.precision`` (``fp8`` means E4M3); integer arrays accumulate in
    ``int<accumulator_bits>`` (rounded to 16 or 32), floating-point arrays in fp32.
    """
    base = FORMAT_OF_PRECISION[precision]

    def fill(t: TensorFormat, default_fmt: str, default_gran: str) -> TensorFormat:
        return t.model_copy(update={"format": t.format or default_fmt, "granularity": t.granularity or default_gran})

    acc = numerics.accumulators.format
    if acc is None:
        acc = ("int16" if accumulator_bits <= 16 else "int32") if _is_int(base) else "fp32"
    enabled = numerics.temporal_delta.enabled
    return numerics.model_copy(
        update={
            "weights": fill(numerics.weights, base, "per_channel"),
            "activations": fill(numerics.activations, base, "per_tensor"),
            "deltas": fill(numerics.deltas, delta_precision, "per_tensor"),
            "accumulators": AccumulatorSpec(format=acc),
            "temporal_delta": numerics.temporal_delta.model_copy(
                update={"enabled": temporal_delta if enabled is None else enabled}
            ),
        }
    )


def arch_numerics(arch: ArchSpec) -> NumericsSpec:
    """The resolved numerics of a design (every field concrete)."""
    c = arch.compute
    return resolve_numerics(
        arch.numerics,
        c.precision,
        c.accumulator_bits,
        c.sparsity.delta_precision,
        c.sparsity.temporal_delta,
    )


def numerics_fit_error(numerics: NumericsSpec, precision: str, accumulator_bits: int) -> str | None:
    """Why ``numerics`` cannot run on an array of ``precision``, or ``None`` if it can.

    An integer array multiplies integer operands no wider than its precision; a floating-point
    array takes any operand format no wider than its precision (integers are exact in it).
    Accumulators may not be wider than ``accumulator_bits``.
    """
    base = FORMAT_OF_PRECISION[precision]
    for name in ("weights", "activations"):
        fmt = getattr(numerics, name).format
        if fmt is None:
            continue
        if _is_int(base) and not _is_int(fmt):
            return f"numerics.{name}.format {fmt} cannot run on an {precision} array (integer multipliers)"
        if FORMAT_BITS[fmt] > FORMAT_BITS[base]:
            return f"numerics.{name}.format {fmt} is wider than the array's precision {precision}"
    acc = numerics.accumulators.format
    if acc is not None and FORMAT_BITS[acc] > accumulator_bits:
        return f"numerics.accumulators.format {acc} is wider than compute.accumulator_bits {accumulator_bits}"
    if acc is not None and _is_int(acc) and not _is_int(base):
        return f"numerics.accumulators.format {acc} needs an integer array, the array is {precision}"
    return None
