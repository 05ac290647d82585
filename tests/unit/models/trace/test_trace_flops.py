"""Tracer FLOP/MAC counting against torch.utils.flop_counter and closed forms."""

from __future__ import annotations

from collections import defaultdict

import pytest

pytest.importorskip("torch", reason="the tracer needs torch (the trace extra)")
import torch  # noqa: E402

pytest.importorskip("diffusers", reason="the zoo models need diffusers (the trace extra)")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from models.trace.tracer import trace_calls  # noqa: E402
from models.zoo import get  # noqa: E402

pytestmark = pytest.mark.trace


def _one_call(model, *inputs):
    def run(hook):
        with hook(0, 1):
            model(*inputs)

    return trace_calls(model, run)


def _flop_counter(model, *inputs) -> dict[str, int]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*inputs)
    return {str(k): int(v) for k, v in counter.get_flop_counts()["Global"].items()}


def test_mac_flops_match_flop_counter_on_a_small_diffusers_unet() -> None:
    model = get("tiny-unet").build(seed=0)
    x = torch.randn(2, 3, 16, 16)
    t = torch.tensor([10, 500])
    rec = _one_call(model, x, t)
    ours: dict[str, int] = defaultdict(int)
    for op in rec.ops:
        if op.kind in ("conv", "gemm"):
            ours["aten." + op.name.split(".")[1]] += 2 * op.macs
            assert op.flops == 2 * op.macs  # fused bias adds are not counted, as in flop_counter
    reference = _flop_counter(model, x, t)
    assert reference, "flop_counter saw nothing"
    assert dict(ours) == reference


def test_attention_is_counted_explicitly() -> None:
    """flop_counter has no rule for the CPU flash-attention op; the tracer counts QKᵀ and A·V."""
    model = get("tiny-unet").build(seed=0)
    x = torch.randn(1, 3, 16, 16)
    rec = _one_call(model, x, torch.tensor([3]))
    attention = [op for op in rec.ops if op.kind == "attention"]
    assert len(attention) == 4
    for op in attention:
        (bq, hq, lq, d), (_, _, lk, _), (_, _, _, dv) = op.input_shapes[:3]
        assert op.macs == bq * hq * lq * lk * (d + dv)
        assert op.gemm == (bq * hq, lq, lk, d)
        assert op.params["gemm2"] == [bq * hq, lq, dv, lk]
        assert op.flops == 2 * op.macs + 5 * bq * hq * lq * lk
    # 8x8 tokens at 64 channels (one head) in the attention level of tiny-unet
    assert attention[0].input_shapes[0] == (1, 1, 64, 64)
    assert "aten._scaled_dot_product_flash_attention_for_cpu" not in _flop_counter(model, x, torch.tensor([3]))


def test_conv_gemm_views_closed_form() -> None:
    conv = torch.nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1, groups=4)
    x = torch.randn(2, 16, 9, 9)
    (op,) = _one_call(conv, x).ops
    # output 5x5; per group: m = 2*5*5 pixels, n = 32/4, k = 16/4*3*3
    assert op.output_shape == (2, 32, 5, 5)
    assert op.gemm == (4, 50, 8, 36)
    assert op.macs == 4 * 50 * 8 * 36
    assert op.weight_is_param
    assert op.weight_bytes == (32 * 4 * 3 * 3 + 32) * 4
    assert op.act_bytes == x.numel() * 4
    assert op.params["groups"] == 4 and op.params["stride"] == [2, 2]

    deconv = torch.nn.ConvTranspose2d(8, 4, kernel_size=2, stride=2)
    (op,) = _one_call(deconv, torch.randn(1, 8, 5, 5)).ops
    assert op.output_shape == (1, 4, 10, 10)
    assert op.macs == 1 * 8 * 25 * 4 * 4  # every input pixel x C_in scatters a 2x2xK_out window
    b, m, n, k = op.gemm
    assert b * m * n * k == op.macs


def test_linear_and_activation_matmul() -> None:
    class Mix(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(24, 40)

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.proj(a) @ b

    rec = _one_call(Mix(), torch.randn(7, 24), torch.randn(40, 5))
    linear, matmul = [op for op in rec.ops if op.kind == "gemm"]
    assert linear.name == "aten.addmm.default" and linear.module == "proj"
    assert linear.gemm == (1, 7, 40, 24) and linear.weight_is_param
    assert matmul.gemm == (1, 7, 5, 40) and not matmul.weight_is_param
    assert matmul.module == ""


def test_ddpm_cifar10_step_matches_published_counts() -> None:
    """docs/tracing.md: DDPM CIFAR-10 UNet2DModel, 32², 594 aten ops and about 12.4 GFLOPs."""
    model = get("ddpm-cifar10").build(seed=0)
    assert sum(p.numel() for p in model.parameters()) == 35_746_307
    rec = _one_call(model, torch.randn(1, 3, 32, 32), torch.tensor([500]))
    assert rec.aten_ops_per_call == 594
    assert len(rec.ops) == 368  # views skipped
    flops = sum(op.flops for op in rec.ops)
    assert flops == pytest.approx(12.4e9, rel=0.02)
    conv_macs = sum(op.macs for op in rec.ops if op.kind == "conv")
    assert 2 * conv_macs == 11_422_662_656  # flop_counter's aten.convolution total
    assert sum(op.kind == "attention" for op in rec.ops) == 6
    assert rec.unsupported == ()
