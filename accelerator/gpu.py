"""GPU specifications: datasheet numbers, each with its source, loaded from YAML.

A :class:`GpuSpec` describes a real GPU the way its datasheet does: dense peak throughput
per precision, the 2:4-sparsity factor, HBM bandwidth and capacity, L2 size and bandwidth,
SM count, clocks, board power (TDP) and idle power. Every number is a :class:`Cited` value —
``{value: 989.4, source: "NVIDIA H100 datasheet ..."}`` — so the source sits next to the
value in the YAML file and travels with the spec into reports.

Built-in specs live in ``accelerator/gpus/<name>.yaml``; :func:`load_gpu` takes such a name
(``h100-sxm``) or a path to a YAML file. Errors name ``file:line dotted.field``. Types are
strict as in :mod:`accelerator.spec`: ``sm_count: {value: 132.5}`` or ``tdp_w: {value: "700 W"}``
is an error, ``tdp_w: {value: 700}`` is fine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accelerator.errors import SpecError
from accelerator.spec_base import BOUND_REASONS, MAX_CLOCK_GHZ, MIN_CLOCK_GHZ, LocatedError
from accelerator.spec_errors import model_from_data
from accelerator.yamlpos import Positions, load_yaml, parse_yaml

#: Precisions a GPU spec can quote a dense tensor-core peak for. ``fp32`` is the non-tensor
#: (CUDA-core) FP32 rate, ``tf32`` the tensor-core rate on FP32 inputs.
GpuPrecision = Literal["fp32", "tf32", "fp16", "bf16", "fp8", "int8"]

#: Bytes per element of each precision (tf32 operands are stored as fp32).
PRECISION_BYTES: dict[str, int] = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}

#: Folder of the built-in GPU spec files.
GPU_DIR = Path(__file__).parent / "gpus"

T = TypeVar("T", int, float)

#: Physical-plausibility bounds of a GPU spec's values, in one place: field -> (lowest, highest,
#: why). Generous, so that no real GPU is refused; there so that a typo or a unit slip (W for mW,
#: GB/s for MB/s) is a located error, not an absurd comparison. ``peak_tflops_dense`` applies to
#: every precision.
GPU_BOUNDS: dict[str, tuple[float, float, str]] = {
    "peak_tflops_dense": (
        0.01,
        20_000.0,
        "the largest dense peak published is ~4,500 TFLOP/s (B200 fp8/int8, NVIDIA Blackwell datasheet 2024)",
    ),
    "sparse_factor": (1.0, 4.0, "2:4 structured sparsity doubles the tensor rate (NVIDIA A100 whitepaper, 2020)"),
    "hbm_bandwidth_gb_per_s": (1.0, 1e5, "the fastest HBM3e package is ~8,000 GB/s (B200)"),
    "hbm_capacity_gb": (0.1, 1e4, "the largest GPU memory published is 288 GB (B300)"),
    "l2_bytes": (1, 2**34, "L2 caches are tens of MB (H100: 50 MB, NVIDIA H100 whitepaper)"),
    "l2_bandwidth_gb_per_s": (1.0, 1e6, "sustained L2 bandwidth is ~5-10 TB/s on an H100 (microbenchmarks)"),
    "sm_count": (1, 4096, "an H100 SXM has 132 SMs, a B200 148"),
    "boost_clock_ghz": (MIN_CLOCK_GHZ, MAX_CLOCK_GHZ, BOUND_REASONS["MAX_CLOCK_GHZ"]),
    "base_clock_ghz": (MIN_CLOCK_GHZ, MAX_CLOCK_GHZ, BOUND_REASONS["MAX_CLOCK_GHZ"]),
    "tdp_w": (1.0, 2000.0, "the largest accelerator module TDP published is ~1.2-1.4 kW (B200/B300 class)"),
    "idle_w": (0.0, 2000.0, "below the board power (tdp_w)"),
}


class _Strict(BaseModel):
    # strict: a bool or a string is not a number, a float is not an integer (``sm_count``);
    # an integer where a float is expected is fine (see accelerator.spec)
    # allow_inf_nan=False: a NaN passes every `<= 0` check, an infinite peak makes time 0
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Cited(_Strict, Generic[T]):
    """A number and where it comes from (datasheet, whitepaper, measurement, estimate)."""

    value: T = Field(..., description="the number, in the unit its field name says")
    source: str = Field(
        ...,
        min_length=3,
        description="citation: document + table/page, or 'measured: ...', "
        "or 'estimate: <how>' (estimates are marked so reports can say so)",
    )


class GpuSpec(_Strict):
    """One GPU model (one SKU and form factor). Peaks are dense (no 2:4 sparsity)."""

    name: str = Field(..., min_length=1, description="identifier, e.g. 'h100-sxm'")
    description: str = Field("", description="marketing name and form factor")
    peak_tflops_dense: dict[GpuPrecision, Cited[float]] = Field(
        ..., description="dense peak per precision in TFLOP/s (TOP/s for int8); fp32 = CUDA cores"
    )
    sparse_factor: Cited[float] = Field(
        ..., description="speed-up of 2:4 structured sparsity over the dense tensor-core peak"
    )
    hbm_bandwidth_gb_per_s: Cited[float] = Field(..., description="peak DRAM bandwidth, GB/s (1e9 B/s)")
    hbm_capacity_gb: Cited[float] = Field(..., description="DRAM capacity, GB")
    l2_bytes: Cited[int] = Field(..., description="L2 cache capacity in bytes")
    l2_bandwidth_gb_per_s: Cited[float] = Field(
        ...,
        description="sustained L2 read bandwidth, GB/s (a microbenchmark figure, not datasheet)",
    )
    sm_count: Cited[int] = Field(..., description="streaming multiprocessors")
    boost_clock_ghz: Cited[float] = Field(..., description="SM boost clock the peaks are quoted at, GHz")
    base_clock_ghz: Cited[float] = Field(..., description="SM base clock, GHz")
    tdp_w: Cited[float] = Field(..., description="maximum board power (TDP/TGP), W")
    idle_w: Cited[float] = Field(..., description="board power when idle with a context open, W")

    @model_validator(mode="after")
    def _plausible(self) -> GpuSpec:
        """Every value within :data:`GPU_BOUNDS`; the error names the field, the value, the bound and why."""
        values: list[tuple[tuple[str, ...], str, float]] = [
            (("peak_tflops_dense", prec), "peak_tflops_dense", c.value) for prec, c in self.peak_tflops_dense.items()
        ]
        values += [((name,), name, getattr(self, name).value) for name in GPU_BOUNDS if name != "peak_tflops_dense"]
        for loc, name, value in values:
            low, high, why = GPU_BOUNDS[name]
            if not low <= value <= high:
                raise LocatedError((*loc, "value"), f"expected a value in [{low:g}, {high:g}] ({why}), got {value:g}")
        return self

    @model_validator(mode="after")
    def _check(self) -> GpuSpec:
        if self.idle_w.value >= self.tdp_w.value:
            raise LocatedError(
                ("idle_w", "value"), f"must be below tdp_w ({self.tdp_w.value:g} W), got {self.idle_w.value:g}"
            )
        if self.base_clock_ghz.value > self.boost_clock_ghz.value:
            raise LocatedError(
                ("base_clock_ghz", "value"),
                f"must be at most boost_clock_ghz ({self.boost_clock_ghz.value:g}), got {self.base_clock_ghz.value:g}",
            )
        if "fp32" not in self.peak_tflops_dense:
            raise ValueError("peak_tflops_dense needs 'fp32' (the CUDA-core rate used for non-GEMM ops)")
        return self

    # ----------------------------------------------------------------- derived, in SI units

    def peak_flops_per_s(self, precision: str, *, sparse: bool = False) -> float:
        """Dense (or 2:4-sparse) tensor peak of ``precision`` in FLOP/s.

        Raises :class:`SpecError` when the GPU has no such precision (e.g. fp8 on an A100).
        """
        cited = self.peak_tflops_dense.get(precision)  # type: ignore[call-overload]
        if cited is None:
            raise SpecError(
                f"GPU {self.name!r} has no {precision} peak; allowed: {', '.join(self.peak_tflops_dense)}",
                field="precision",
            )
        factor = self.sparse_factor.value if sparse and precision != "fp32" else 1.0
        return cited.value * 1e12 * factor

    @property
    def vector_flops_per_s(self) -> float:
        """Non-tensor FP32 peak (CUDA cores), FLOP/s: the rate of norms, softmax, elementwise."""
        return self.peak_tflops_dense["fp32"].value * 1e12

    @property
    def hbm_bytes_per_s(self) -> float:
        return self.hbm_bandwidth_gb_per_s.value * 1e9

    @property
    def l2_bytes_per_s(self) -> float:
        return self.l2_bandwidth_gb_per_s.value * 1e9

    def sources(self) -> dict[str, str]:
        """Every cited field (dotted) and its source, for reports."""
        out = {f"peak_tflops_dense.{p}": c.source for p, c in self.peak_tflops_dense.items()}
        for name, value in self:
            if isinstance(value, Cited):
                out[name] = value.source
        return out


def gpu_from_data(data: Any, positions: Positions, root: str = "") -> GpuSpec:
    """Validate already-parsed YAML data as a :class:`GpuSpec`."""
    return model_from_data(GpuSpec, data, positions, "GPU", root)


def builtin_gpus() -> tuple[str, ...]:
    """Names of the GPU specs shipped in ``accelerator/gpus``."""
    return tuple(sorted(p.stem for p in GPU_DIR.glob("*.yaml")))


def load_gpu(name_or_path: str | Path) -> GpuSpec:
    """Load a built-in GPU by name (``h100-sxm``) or a GPU spec YAML file by path."""
    text = str(name_or_path)
    builtin = GPU_DIR / f"{text}.yaml"
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        if text not in builtin_gpus():
            raise SpecError(
                f"unknown GPU {text!r}; built-in: {', '.join(builtin_gpus())} (or give a YAML path)",
                field="gpu",
            )
        path = builtin
    else:
        path = Path(name_or_path)
    data, positions = load_yaml(path)
    return gpu_from_data(data, positions)


def parse_gpu(text: str, file: str = "<string>") -> GpuSpec:
    """Validate a GPU spec given as YAML text (``file`` names it in errors)."""
    data, positions = parse_yaml(text, file)
    return gpu_from_data(data, positions)
