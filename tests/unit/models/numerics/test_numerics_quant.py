"""Quantisers against hand-computed values, bit for bit; the NumericsSpec schema and its defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the numerics emulation needs torch (trace extra)")

from accelerator.errors import SpecError  # noqa: E402
from accelerator.numerics import NumericsSpec, TensorFormat, arch_numerics, resolve_numerics  # noqa: E402
from accelerator.spec import load_arch, parse_arch  # noqa: E402
from models.numerics.quant import (  # noqa: E402
    cast,
    fake_quantise,
    int_codes,
    scale_from_amax,
    threshold_zero,
)

ROOT = Path(__file__).resolve().parents[4]


def t(values: list[float] | list[list[float]]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def exact(a: torch.Tensor, b: list[float] | list[list[float]]) -> bool:
    return bool(torch.equal(a, t(b)))


def test_int8_per_tensor_rounds_half_to_even() -> None:
    fmt = TensorFormat(format="int8", granularity="per_tensor")
    # amax 127 -> scale exactly 1: 2.5 -> 2, -3.5 -> -4 (ties to even), 0.4 -> 0
    assert exact(fake_quantise(t([127, 2.5, -3.5, 0.4, -127]), fmt), [127, 2, -4, 0, -127])


def test_int8_static_range_saturates() -> None:
    fmt = TensorFormat(format="int8", granularity="per_tensor")
    codes = int_codes(t([100, 1.25, -0.75]), fmt, amax=63.5)  # scale 0.5
    assert float(codes.scale) == 0.5
    assert exact(codes.codes, [127, 2, -2])  # 200 saturates at 127; 2.5 -> 2; -1.5 -> -2
    assert exact(codes.values, [63.5, 1.0, -1.0])


def test_int4_per_channel() -> None:
    fmt = TensorFormat(format="int4", granularity="per_channel")
    w = t([[7, 3.5], [14, -7]])  # channel scales 1 and 2 (amax / 7)
    assert exact(fake_quantise(w, fmt, channel_axis=0), [[7, 4], [14, -8]])


def test_per_block_scales_along_the_reduction_axis() -> None:
    fmt = TensorFormat(format="int8", granularity="per_block", block_size=2)
    # blocks [127, 63.5] (scale 1) and [254, 1] (scale 2); a fifth element is its own padded block
    x = t([[127, 63.5, 254, 1, 0.25]])
    assert exact(fake_quantise(x, fmt, reduce_axis=1), [[127, 64, 254, 0, 0.25]])
    assert exact(fake_quantise(x.T, fmt, reduce_axis=0).T, [[127, 64, 254, 0, 0.25]])


def test_mx_shared_exponent_int8() -> None:
    # OCP MX v1.0: scale 2^(floor(log2 amax) - 6) for 1.6 fixed-point int8 elements
    assert float(scale_from_amax(torch.tensor(5.0), "int8", True)) == 2.0**-4
    fmt = TensorFormat(format="int8", granularity="per_tensor", shared_exponent=True)
    assert exact(fake_quantise(t([5.0, 0.03, 0.05, -4.99]), fmt), [5.0, 0.0, 0.0625, -5.0])
    # amax 7.99 -> scale 1/16; 7.99 * 16 = 127.84 saturates at code 127
    assert exact(fake_quantise(t([7.99, 1.0]), fmt), [7.9375, 1.0])


def test_fp8_formats() -> None:
    e4m3 = TensorFormat(format="fp8_e4m3", granularity="per_tensor")
    e5m2 = TensorFormat(format="fp8_e5m2", granularity="per_tensor")
    x = t([0.1, 300, 17, 448])
    # scale 1 (amax 448 = E4M3 max); 17 ties to 16 (even mantissa); 300 -> 288
    assert exact(fake_quantise(x, e4m3), [0.1015625, 288, 16, 448])
    assert exact(fake_quantise(x, e5m2, amax=57344.0), [0.09375, 320, 16, 448])


def test_fp16_bf16_casts_round_to_nearest_even() -> None:
    x = t([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-11, 65519.0, 1e-8])
    assert exact(cast(x, "bf16")[:2], [1.0, 1 + 2**-6])
    assert exact(cast(x, "fp16")[2:4], [1.0, 65504.0])
    assert cast(x, "fp32") is x


def test_threshold_zero() -> None:
    x = t([0.1, -0.2, 0.3])
    assert exact(threshold_zero(x, 0.2, 0.0), [0, 0, 0.3])
    assert exact(threshold_zero(x, 0.0, 0.5), [0, -0.2, 0.3])
    assert threshold_zero(x, 0.0, 0.0) is x


def test_defaults_follow_the_array() -> None:
    arch = load_arch(ROOT / "scenarios" / "arch" / "dc-os-int8-sparse.yaml")
    n = arch_numerics(arch)
    assert (n.weights.format, n.weights.granularity) == ("int8", "per_channel")
    assert (n.activations.format, n.activations.granularity) == ("int8", "per_tensor")
    assert n.accumulators.format == "int32"
    assert n.temporal_delta.enabled is True and n.deltas.format == "int8"
    assert resolve_numerics(NumericsSpec(), "fp32").is_identity()
    assert not resolve_numerics(NumericsSpec(), "fp16").is_identity()


def test_numerics_that_do_not_fit_the_array_are_rejected() -> None:
    text = (ROOT / "scenarios" / "arch" / "edge-os-int8.yaml").read_text()
    parse_arch(text + "numerics:\n  weights: {format: int4}\n")
    with pytest.raises(SpecError, match="cannot run on an int8 array"):
        parse_arch(text + "numerics:\n  activations: {format: fp16}\n")
    with pytest.raises(SpecError, match="per_channel is not allowed"):
        parse_arch(text + "numerics:\n  activations: {granularity: per_channel}\n")
    with pytest.raises(SpecError, match="numerics.zero_skip.act_threshld"):
        parse_arch(text + "numerics:\n  zero_skip: {act_threshld: 0.1}\n")
