"""fp8 inference for the GPU baseline (``picojoule gpu measure --dtype fp8``).

:func:`convert_to_fp8` swaps, in place, every ``nn.Linear`` of a bf16 model (and every 1×1,
stride-1, unpadded, ungrouped ``nn.Conv2d``) for a module whose matmul runs on fp8 tensor
cores through ``torch._scaled_mm``; all other ops (3×3 convolutions, attention, norms,
elementwise) stay bf16. The recipe (:class:`Fp8Recipe`) is the usual inference one:

- weights quantised once to ``float8_e4m3fn`` with a static scale ``amax / 448``, per tensor
  (``tensorwise``, default) or per output channel (``rowwise``);
- activations quantised at every call with a dynamic scale from their amax, per tensor
  (``tensorwise``) or per row (``rowwise``: the shape cuBLASLt/CUTLASS row-wise scaling takes);
  the amax, scale and cast are tensor ops on the device (no host sync: CUDA-graph safe);
- ``torch._scaled_mm(x_fp8 [M,K] row-major, w_fp8.t() [K,N] column-major, scale_a, scale_b,
  bias=bf16, out_dtype=bfloat16, use_fast_accum=...)``: the layout cuBLASLt's fp8 GEMM
  requires (``aten/src/ATen/native/cuda/Blas.cpp``: "Only multiplication of row-major and
  column-major matrices", K and N divisible by 16). Layers whose K or N is not a multiple of
  16 stay bf16 and are counted in the :class:`Fp8Report`.

A 1×1 convolution on NCHW is a GEMM over N·H·W rows only after a layout change: the fp8
activation is permuted to NHWC (a copy of 1 byte per element) and the bf16 result back to
NCHW (a copy of 2 bytes per element), so downstream ops see the layout the bf16 model has.
E4M3's largest finite value 448: OCP OFP8 spec v1.0 (2023), table 1
(:data:`accelerator.numerics.FP8_MAX`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from accelerator.numerics import FP8_MAX
from models.gpu.measurement import MeasurementError

E4M3_MAX = FP8_MAX["fp8_e4m3"]
#: cuBLASLt fp8 GEMMs need K and N divisible by 16 (torch ``_scaled_mm`` checks this on CUDA).
FP8_ALIGN = 16
#: The lowest CUDA capability with fp8 tensor cores: Ada (8.9) and Hopper (9.0).
FP8_MIN_CAPABILITY = (8, 9)
#: amax floor so that an all-zero tensor gets a finite scale.
_AMAX_FLOOR = 1e-12


@dataclass(frozen=True)
class Fp8Recipe:
    """How weights and activations are scaled; see the module docstring."""

    scaling: str = "tensorwise"  # "tensorwise" or "rowwise" (per output channel / per row)
    fast_accum: bool = True  # cuBLASLt fast accumulation, as torchao's fp8 inference forward
    conv1x1: bool = True  # also swap 1×1 convolutions

    def __post_init__(self) -> None:
        if self.scaling not in ("tensorwise", "rowwise"):
            raise MeasurementError(f"fp8 scaling must be tensorwise or rowwise, got {self.scaling!r}")

    def describe(self) -> str:
        per = "per tensor" if self.scaling == "tensorwise" else "per output channel / per row"
        return (
            f"float8_e4m3fn weights (static scale {per}) and activations (dynamic amax scale {per}), "
            f"torch._scaled_mm with bf16 output, fast_accum={self.fast_accum}; 1x1 convs "
            f"{'swapped' if self.conv1x1 else 'kept bf16'}; other ops bf16"
        )


@dataclass(frozen=True)
class Fp8Report:
    """How many layers run in fp8 and how many stay bf16 (and why)."""

    recipe: Fp8Recipe
    linear_fp8: int = 0
    linear_bf16: int = 0  # nn.Linear with K or N not a multiple of 16
    conv1x1_fp8: int = 0
    conv1x1_bf16: int = 0  # 1×1 convolutions left bf16 (alignment, or conv1x1=False)
    conv_bf16: int = 0  # every other convolution (3×3, strided, grouped): bf16 by design
    kept: tuple[str, ...] = field(default_factory=tuple)  # module paths of eligible kinds left bf16

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["recipe"] = {**asdict(self.recipe), "text": self.recipe.describe()}
        d["kept"] = list(self.kept)
        return d


def quantize(x: torch.Tensor, rowwise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_fp8, scale)`` of a 2-D tensor, ``x ≈ x_fp8 · scale``; scale float32, [] or [M, 1].

    Five kernels, three of them over the tensor: amax (``vector_norm`` ord ∞, float32), the
    scale ``amax / 448`` (floored for an all-zero tensor), ``x / scale`` in ``x``'s dtype, and
    the cast. No clamp: ``|x / scale| ≤ 448·(1 + 2⁻⁸)²`` (the bf16 rounding of the quotient and,
    per row, of the scale) stays below 464, the smallest magnitude the float8_e4m3fn cast
    turns into NaN (``c10/util/Float8_e4m3fn.h``), and rounds to at most 448. Per row the scale
    is rounded to ``x``'s dtype first (a float32 ``[M, 1]`` divisor would promote the quotient
    to float32) and returned exactly as used.
    """
    amax = torch.linalg.vector_norm(x, float("inf"), dim=-1 if rowwise else None, keepdim=rowwise, dtype=torch.float32)
    scale = amax.clamp(min=_AMAX_FLOOR) / E4M3_MAX
    if rowwise:
        scale = scale.to(x.dtype)
    q = (x / scale).to(torch.float8_e4m3fn, memory_format=torch.contiguous_format)
    return q, scale.float()


def _aligned(k: int, n: int) -> bool:
    return k % FP8_ALIGN == 0 and n % FP8_ALIGN == 0


class Fp8Linear(torch.nn.Module):
    """``y = x Wᵀ + b`` with fp8 operands, bf16 output (see the module docstring)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, recipe: Fp8Recipe) -> None:
        super().__init__()
        w = weight.detach()
        self.in_features, self.out_features = int(w.shape[1]), int(w.shape[0])
        self.rowwise = recipe.scaling == "rowwise"
        self.fast_accum = recipe.fast_accum
        wq, w_scale = quantize(w.float(), self.rowwise)  # [N, K] fp8, scale [N, 1] or []
        # a frozen Parameter, so that the profiler and the tracer count it as a weight
        self.weight_fp8 = torch.nn.Parameter(wq, requires_grad=False)
        self.weight_scale: torch.Tensor
        self.register_buffer("weight_scale", w_scale.reshape(1, -1) if self.rowwise else w_scale.reshape(()))
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach(), requires_grad=False)

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear, recipe: Fp8Recipe) -> Fp8Linear:
        return cls(linear.weight, linear.bias, recipe)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        xq, x_scale = quantize(x2, self.rowwise)
        if not self.rowwise:
            x_scale = x_scale.reshape(())
        y = torch._scaled_mm(
            xq, self.weight_fp8.t(), x_scale, self.weight_scale, bias=self.bias,
            out_dtype=torch.bfloat16, use_fast_accum=self.fast_accum,
        )  # fmt: skip
        return y.reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        scaling = "rowwise" if self.rowwise else "tensorwise"
        return f"in_features={self.in_features}, out_features={self.out_features}, {scaling}"


class Fp8Conv1x1(torch.nn.Module):
    """A 1×1 convolution on NCHW as an fp8 GEMM over N·H·W rows (layout copies included)."""

    def __init__(self, conv: torch.nn.Conv2d, recipe: Fp8Recipe) -> None:
        super().__init__()
        w = conv.weight.detach()
        self.linear = Fp8Linear(w.reshape(w.shape[0], w.shape[1]), conv.bias, recipe)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        lin = self.linear
        if lin.rowwise:  # one scale per GEMM row (pixel): quantise the NHWC rows
            xq, x_scale = quantize(x.permute(0, 2, 3, 1).reshape(-1, c), True)
        else:  # one amax over NCHW, then the fp8 NHWC copy (1 byte per element)
            xq, x_scale = quantize(x.reshape(n * c, h * w), False)
            xq, x_scale = xq.reshape(n, c, h, w).permute(0, 2, 3, 1).reshape(-1, c), x_scale.reshape(())
        y = torch._scaled_mm(
            xq, lin.weight_fp8.t(), x_scale, lin.weight_scale, bias=lin.bias,
            out_dtype=torch.bfloat16, use_fast_accum=lin.fast_accum,
        )  # fmt: skip
        return y.reshape(n, h, w, lin.out_features).permute(0, 3, 1, 2).contiguous()


def _is_conv1x1(m: torch.nn.Conv2d) -> bool:
    """1×1, stride 1, no dilation, one group, zero padding ("same"/"valid" are 0 for 1×1)."""
    pad_ok = isinstance(m.padding, str) or all(int(p) == 0 for p in m.padding)
    return (
        tuple(m.kernel_size) == (1, 1) and tuple(m.stride) == (1, 1) and tuple(m.dilation) == (1, 1)
        and m.groups == 1 and m.padding_mode == "zeros" and pad_ok
    )  # fmt: skip


def convert_to_fp8(model: torch.nn.Module, recipe: Fp8Recipe | None = None) -> Fp8Report:
    """Swap eligible layers of the bf16 ``model`` for fp8 ones, in place; count what was done."""
    recipe = recipe or Fp8Recipe()
    counts = {"linear_fp8": 0, "linear_bf16": 0, "conv1x1_fp8": 0, "conv1x1_bf16": 0, "conv_bf16": 0}
    kept: list[str] = []
    swaps: list[tuple[str, torch.nn.Module]] = []
    for path, m in model.named_modules():
        if isinstance(m, (Fp8Linear, Fp8Conv1x1)):
            raise MeasurementError(f"{path or 'model'}: already converted to fp8")
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.weight.dtype != torch.bfloat16:
            raise MeasurementError(f"{path}: fp8 conversion needs a bf16 model, got {m.weight.dtype}")
        if isinstance(m, torch.nn.Linear):
            if _aligned(m.in_features, m.out_features):
                swaps.append((path, Fp8Linear.from_linear(m, recipe)))
                counts["linear_fp8"] += 1
            else:
                counts["linear_bf16"] += 1
                kept.append(f"{path} (Linear {m.in_features}->{m.out_features})")
        elif isinstance(m, torch.nn.Conv2d) and _is_conv1x1(m):
            if recipe.conv1x1 and _aligned(m.in_channels, m.out_channels):
                swaps.append((path, Fp8Conv1x1(m, recipe)))
                counts["conv1x1_fp8"] += 1
            else:
                counts["conv1x1_bf16"] += 1
                kept.append(f"{path} (Conv1x1 {m.in_channels}->{m.out_channels})")
        elif isinstance(m, torch.nn.modules.conv._ConvNd):
            counts["conv_bf16"] += 1
    for path, new in swaps:
        if not path:
            raise MeasurementError("fp8: the model itself is a single layer; wrap it in a module")
        parent_path, _, name = path.rpartition(".")
        setattr(model.get_submodule(parent_path) if parent_path else model, name, new)
    # diffusers' ModelMixin.dtype is its first floating-point parameter's, and forward casts
    # embeddings to it: an fp8 weight registered first would cast activations to fp8
    dtype = getattr(model, "dtype", torch.bfloat16)
    if swaps and dtype != torch.bfloat16:
        raise MeasurementError(f"fp8: after conversion the model reports dtype {dtype}, not bfloat16")
    return Fp8Report(recipe=recipe, kept=tuple(kept), **counts)


def check_fp8_device(device: str) -> None:
    """Raise :class:`MeasurementError` unless ``device`` can run fp8 GEMMs.

    CUDA needs capability ≥ 8.9 (fp8 tensor cores: Ada, Hopper). The CPU runs torch's
    reference ``_scaled_mm`` (numerics only; its timings say nothing about fp8 hardware).
    """
    if not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
        raise MeasurementError(f"--dtype fp8: torch {torch.__version__} has no float8_e4m3fn/_scaled_mm")
    if device == "cuda":
        cap = tuple(torch.cuda.get_device_capability(0))
        if cap < FP8_MIN_CAPABILITY:
            name = torch.cuda.get_device_name(0)
            raise MeasurementError(
                f"--dtype fp8 needs fp8 tensor cores (CUDA capability >= 8.9: Ada, Hopper or newer); "
                f"{name} has capability {cap[0]}.{cap[1]}: use --dtype bf16"
            )
