"""fp8 layers for the GPU baseline (models.gpu.fp8) and the fp8 ops' costs (models.trace.ops).

``torch._scaled_mm`` runs on the CPU (torch's reference kernel), so numerics and bookkeeping
are tested here; the CUDA kernels are tested in test_gpu_cuda_modes.py (marked ``gpu``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="fp8 layers need torch (trace extra)")
if not hasattr(torch, "float8_e4m3fn"):
    pytest.skip("this torch has no float8_e4m3fn", allow_module_level=True)

from models.gpu.fp8 import (  # noqa: E402
    E4M3_MAX,
    Fp8Conv1x1,
    Fp8Linear,
    Fp8Recipe,
    check_fp8_device,
    convert_to_fp8,
    quantize,
)
from models.gpu.measurement import MeasurementError  # noqa: E402
from models.trace.ops import classify, cost  # noqa: E402

#: Relative Frobenius error bound of an fp8 GEMM against float32, for independent Gaussian
#: operands. E4M3 keeps 3 mantissa bits: round-to-nearest errs by at most 2⁻⁴ relative, so
#: the rms relative error per operand is at most 2⁻⁴/√3 = 3.6% (uniform error); each product
#: x·w carries the errors of both operands, independent, so the dot product's rms relative
#: error is at most √2 · 3.6% = 5.1%; the bf16 output adds 2⁻⁹. Measured: 3.7%.
FP8_REL_BOUND = 0.06
#: Below this the layer cannot have quantised to fp8 (a bf16 GEMM errs by ~0.3%).
FP8_REL_FLOOR = 0.01


def _rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a.float() - ref).norm() / ref.norm())


def _bf16_linear(k: int, n: int, seed: int = 0) -> tuple[torch.nn.Linear, torch.nn.Linear]:
    torch.manual_seed(seed)
    ref = torch.nn.Linear(k, n)
    low = torch.nn.Linear(k, n).to(torch.bfloat16)
    low.load_state_dict({name: v.to(torch.bfloat16) for name, v in ref.state_dict().items()})
    return ref, low


@pytest.mark.parametrize("scaling", ["tensorwise", "rowwise"])
def test_fp8_linear_error_is_that_of_fp8(scaling: str) -> None:
    ref_lin, lin = _bf16_linear(256, 128)
    x = torch.randn(3, 41, 256)
    ref = ref_lin(x).detach()
    fp8 = Fp8Linear.from_linear(lin, Fp8Recipe(scaling=scaling))
    with torch.no_grad():
        y = fp8(x.to(torch.bfloat16))
    assert y.shape == (3, 41, 128) and y.dtype == torch.bfloat16
    assert FP8_REL_FLOOR < _rel(y, ref) < FP8_REL_BOUND
    assert _rel(lin(x.to(torch.bfloat16)).detach(), ref) < FP8_REL_FLOOR


@pytest.mark.parametrize("scaling", ["tensorwise", "rowwise"])
def test_fp8_linear_is_the_dequantised_product(scaling: str) -> None:
    """Scales are bookkept exactly: y = (x_q·s_x)(w_q·s_w)ᵀ + b up to float32 sums and bf16 output."""
    _, lin = _bf16_linear(64, 32, seed=1)
    x = torch.randn(10, 64).to(torch.bfloat16) * 7
    fp8 = Fp8Linear.from_linear(lin, Fp8Recipe(scaling=scaling))
    rowwise = scaling == "rowwise"
    xq, sx = quantize(x, rowwise)
    expect = (xq.double() * sx.double()) @ (fp8.weight_fp8.double() * fp8.weight_scale.double().reshape(-1, 1)).T
    expect = expect + lin.bias.detach().double()
    with torch.no_grad():
        y = fp8(x)
    assert torch.allclose(y.double(), expect, rtol=2**-7, atol=1e-3 * float(expect.abs().max()))
    if rowwise:
        assert fp8.weight_scale.shape == (1, 32)  # one scale per output channel
        w_amax = lin.weight.detach().float().abs().amax(dim=1)
        assert torch.allclose(fp8.weight_scale.reshape(-1), w_amax / E4M3_MAX)
    else:
        assert fp8.weight_scale.shape == ()
        assert float(fp8.weight_scale) == pytest.approx(float(lin.weight.detach().float().abs().max()) / E4M3_MAX)


def test_quantize_fills_the_range_without_nan() -> None:
    x = torch.randn(64, 32).to(torch.bfloat16)
    for rowwise in (False, True):
        q, s = quantize(x, rowwise)
        qf = q.float()
        assert not torch.isnan(qf).any()
        peak = qf.abs().amax(dim=-1) if rowwise else qf.abs().max()
        assert torch.all(peak == E4M3_MAX)  # the amax element lands on 448 exactly
        assert q.is_contiguous() and s.dtype == torch.float32
    q, s = quantize(torch.zeros(4, 16, dtype=torch.bfloat16), False)
    assert float(q.float().abs().max()) == 0.0 and torch.isfinite(s).all()


@pytest.mark.parametrize("scaling", ["tensorwise", "rowwise"])
def test_fp8_conv1x1_is_a_1x1_convolution(scaling: str) -> None:
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(64, 32, 1).to(torch.bfloat16)
    x = torch.randn(2, 64, 5, 7).to(torch.bfloat16)
    ref = torch.nn.functional.conv2d(x.float(), conv.weight.float(), conv.bias.float()).detach()
    with torch.no_grad():
        y = Fp8Conv1x1(conv, Fp8Recipe(scaling=scaling))(x)
    assert y.shape == ref.shape and y.is_contiguous()
    assert FP8_REL_FLOOR < _rel(y, ref) < FP8_REL_BOUND


class _Mixed(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(32, 48)  # fp8
        self.odd = torch.nn.Linear(48, 24)  # N = 24: kept bf16
        self.block = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 1), torch.nn.Conv2d(32, 32, 3, padding=1))
        self.shortcut = torch.nn.Conv2d(16, 8, 1)  # N = 8: kept bf16


def test_convert_counts_and_keeps_unaligned_layers() -> None:
    m = _Mixed().to(torch.bfloat16)
    rep = convert_to_fp8(m)
    assert (rep.linear_fp8, rep.linear_bf16, rep.conv1x1_fp8, rep.conv1x1_bf16, rep.conv_bf16) == (1, 1, 1, 1, 1)
    assert isinstance(m.a, Fp8Linear) and isinstance(m.block[0], Fp8Conv1x1)
    assert type(m.odd) is torch.nn.Linear and type(m.shortcut) is torch.nn.Conv2d
    assert rep.kept == ("odd (Linear 48->24)", "shortcut (Conv1x1 16->8)")
    assert rep.to_json()["recipe"]["scaling"] == "tensorwise"
    with pytest.raises(MeasurementError, match="already converted"):
        convert_to_fp8(m)
    with pytest.raises(MeasurementError, match="needs a bf16 model"):
        convert_to_fp8(_Mixed())
    no_conv = _Mixed().to(torch.bfloat16)
    assert convert_to_fp8(no_conv, Fp8Recipe(conv1x1=False)).conv1x1_bf16 == 2


@pytest.mark.trace
def test_convert_tiny_sd15_unet() -> None:
    """The tiny SD UNet: every Linear and 1×1 conv is 16-aligned, its 3×3 convs stay bf16."""
    pytest.importorskip("diffusers", reason="the built-in models need diffusers")
    from models.gpu.targets import build_target

    target = build_target("sd15-unet", "cpu", torch.bfloat16, batch=1, steps=2, tiny=True, source="builtin")
    mods = list(target.module.modules())
    linears = sum(type(m) is torch.nn.Linear for m in mods)
    ones = sum(type(m) is torch.nn.Conv2d and m.kernel_size == (1, 1) for m in mods)
    convs = sum(type(m) is torch.nn.Conv2d for m in mods)
    with torch.no_grad():
        before = target.step().float()
        rep = convert_to_fp8(target.module)
        after = target.step().float()
    # golden counts of this config (attention q/k/v/out, GEGLU, time embedding, resnet time
    # projections; 1x1 = transformer proj_in/out and resnet shortcuts)
    assert (linears, ones, convs) == (50, 13, 33)
    assert (rep.linear_fp8, rep.conv1x1_fp8, rep.conv_bf16, rep.linear_bf16, rep.conv1x1_bf16) == (50, 13, 20, 0, 0)
    assert not any(type(m) is torch.nn.Linear for m in target.module.modules())
    assert 0.0 < _rel(after, before) < 0.2  # a whole UNet of fp8 layers: same output, fp8-noisy


def test_fp8_on_an_old_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "NVIDIA A100-SXM4-80GB")
    with pytest.raises(MeasurementError, match=r"capability >= 8\.9.*A100.*8\.0"):
        check_fp8_device("cuda")
    check_fp8_device("cpu")  # the CPU reference kernels: allowed


def test_scaled_mm_is_a_gemm_and_fp8_casts_are_elementwise() -> None:
    m, k, n = 24, 64, 48
    a = torch.randn(m, k).to(torch.float8_e4m3fn)
    b = torch.randn(n, k).to(torch.float8_e4m3fn).t()
    one = torch.tensor(1.0)
    f = torch.ops.aten._scaled_mm.default
    assert classify(f) == "gemm"
    c = cost(f, (a, b, one, one), {"out_dtype": torch.bfloat16}, [a.numel(), b.numel(), 1, 1], (m, n))
    assert (c.kind, c.gemm, c.macs, c.flops, c.act_operand) == ("gemm", (1, m, n, k), m * n * k, 2 * m * n * k, 0)
    cast = torch.ops.aten._to_copy.default
    x = torch.randn(6, 5)
    q = cost(cast, (x,), {"dtype": torch.float8_e4m3fn}, [30], (6, 5))
    assert (q.kind, q.flops) == ("elementwise", 30)
    plain = cost(cast, (x,), {"dtype": torch.bfloat16}, [30], (6, 5))
    assert (plain.kind, plain.flops) == ("data", 0)  # an ordinary cast stays data movement
