"""Per-op statistics against independent numpy computations on a small two-step case."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the tracer needs torch (the trace extra)")
import torch  # noqa: E402

from models.trace.stats import BLOCKS, StatsConfig, zero_block_fracs  # noqa: E402
from models.trace.tracer import trace_calls  # noqa: E402

pytestmark = pytest.mark.trace

REL, ABS = 1.0 / 256.0, 1e-6


class ConvThenLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.fc = torch.nn.Linear(32, 12)
        with torch.no_grad():
            self.conv.weight[:2] = 0.0  # 2 of 8 output filters are exactly zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).reshape(-1, 32))


def _np_zero(a: np.ndarray) -> tuple[float, float, float]:
    absmax = float(np.abs(a).max())
    tol = max(ABS, REL * absmax)
    return float(np.mean(a == 0)), float(np.mean(np.abs(a) <= tol)), absmax


def _np_blocks(mat: np.ndarray, r: int, c: int) -> float:
    rows, k = (mat.shape[0] // r) * r, (mat.shape[1] // c) * c
    z = (mat[:rows, :k] == 0).reshape(rows // r, r, k // c, c)
    return float(z.all(axis=(1, 3)).mean())


def _np_delta(prev: np.ndarray, cur: np.ndarray, absmax: float | None = None) -> dict[str, float]:
    if absmax is None:
        absmax = max(np.abs(prev).max(), np.abs(cur).max())
    out = {}
    for bits, qmax in ((8, 127), (4, 7)):
        s = absmax / qmax
        d = np.clip(np.round(cur / s), -qmax, qmax) - np.clip(np.round(prev / s), -qmax, qmax)
        out[f"delta_int{bits}_zero_frac"] = float(np.mean(d == 0))
        if bits == 8:
            mag = np.abs(d)
            need = np.array([0 if m == 0 else int(np.floor(np.log2(m))) + 2 for m in mag.ravel()])
            out["delta_bits_mean"] = float(need.mean())
            out["delta_bits_le4_frac"] = float(np.mean(need <= 4))
    return out


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    x0 = torch.randn(2, 16, 4, 4, generator=g)
    x0[:, :8] = 0.0  # channels 0..7 zero: every 1x8 block along C at a pixel is zero
    x0[0, 8:, :2, :] = 0.0  # sample 0, top two rows: whole pixels zero
    x0[1, 9, 1, 1] = 1e-3 * float(x0.abs().max())  # a near zero, not an exact one
    x1 = x0 + 0.05 * torch.randn(2, 16, 4, 4, generator=g)
    x1[:, :8] = 0.0
    return x0, x1


def _trace(cfg: StatsConfig):
    model = ConvThenLinear()
    x0, x1 = _inputs()

    def run(hook):
        for step, x in enumerate((x0, x1)):
            with hook(step, 2):
                model(x)

    rec = trace_calls(model, run, stats=cfg)
    return model, rec, (x0, x1)


def test_conv_statistics_match_numpy() -> None:
    model, rec, xs = _trace(StatsConfig())
    assert rec.calls == 2
    conv = next(i for i, op in enumerate(rec.ops) if op.kind == "conv")
    for step, x in enumerate(xs):
        a = x.numpy()
        zero, near, absmax = _np_zero(a)
        assert rec.stats["act_zero_frac"][step][conv] == pytest.approx(zero)
        assert rec.stats["act_near_zero_frac"][step][conv] == pytest.approx(near)
        assert rec.stats["act_absmax"][step][conv] == pytest.approx(absmax)
        mat = a.transpose(0, 2, 3, 1).reshape(-1, 16)  # pixels x channels (reduction dim)
        for r, c in BLOCKS:  # 32 pixels x 16 channels: larger shapes are not recorded
            name = f"act_block_zero_frac_{r}x{c}"
            if r > 32 or c > 16:
                assert name not in rec.stats or rec.stats[name][step][conv] is None, (step, r, c)
                continue
            assert rec.stats[name][step][conv] == pytest.approx(_np_blocks(mat, r, c)), (step, r, c)
        per_channel = np.abs(mat).max(axis=0)
        assert rec.stats["act_channel_absmax_ratio"][step][conv] == pytest.approx(
            per_channel.max() / np.median(per_channel), rel=1e-6
        )
    # weight statistics: 2 of 8 filters zero, biases non-zero
    w = np.concatenate([model.conv.weight.detach().numpy().ravel(), model.conv.bias.detach().numpy()])
    assert rec.stats["weight_zero_frac"][1][conv] == pytest.approx(np.mean(w == 0))
    # temporal deltas: none at step 0, numpy's at step 1
    assert rec.stats["delta_int8_zero_frac"][0][conv] is None
    expected = _np_delta(xs[0].numpy().ravel(), xs[1].numpy().ravel())
    for name, value in expected.items():
        assert rec.stats[name][1][conv] == pytest.approx(value), name


def test_block_zero_values_are_the_constructed_ones() -> None:
    _, rec, _ = _trace(StatsConfig())
    conv = next(i for i, op in enumerate(rec.ops) if op.kind == "conv")
    # step 0: 32 pixels; channels 0..7 zero everywhere, 8..15 zero on 8 pixels of sample 0
    assert rec.stats["act_block_zero_frac_1x8"][0][conv] == pytest.approx((32 + 8) / 64)
    assert rec.stats["act_block_zero_frac_1x16"][0][conv] == pytest.approx(8 / 32)
    # 8x8 blocks: rows are pixels in (n, h, w) order; first 8 rows = sample 0, top two rows
    assert rec.stats["act_block_zero_frac_8x8"][0][conv] == pytest.approx((4 + 1) / 8)


def test_zero_blocks_at_array_unit_shapes_match_numpy() -> None:
    # Zeros in runs of rows and channel groups, sizes that leave remainders in both dims; the
    # chained reductions (16x1 from 8x1, 128x16 from 32x16, 1x128 from 1x32) must count whole
    # blocks only, like the direct definition.
    rng = np.random.default_rng(3)
    for rows, k in ((300, 130), (1000, 48), (129, 16), (7, 200), (40, 3)):
        zero = rng.random((rows, k)) < 0.2
        for start in range(0, rows, 37):
            zero[start : start + 20] = True  # runs of zero rows
        zero[:, 16:32] |= rng.random((rows, 1)) < 0.5  # zero channel groups in half the rows
        got = zero_block_fracs(torch.from_numpy(zero), BLOCKS)
        assert list(got) == list(BLOCKS)
        for (r, c), value in got.items():
            if rows < r or k < c:
                assert value is None, (rows, k, r, c)
            else:
                assert value == pytest.approx(_np_blocks((~zero).astype(float), r, c)), (rows, k, r, c)
    # a strided (non-contiguous) view counts the same
    zero = torch.from_numpy(rng.random((256, 64)) < 0.5)
    assert zero_block_fracs(zero.t().contiguous().t(), BLOCKS) == zero_block_fracs(zero, BLOCKS)


def test_row_runs_of_zeros_are_seen_whole_at_the_beat_shapes() -> None:
    zero = torch.zeros(256, 64, dtype=torch.bool)
    zero[32:64] = zero[128:160] = zero[160:192] = True  # 3 of 8 runs of 32 rows
    got = zero_block_fracs(zero, BLOCKS)
    assert got[(32, 1)] == got[(32, 16)] == got[(32, 2)] == 3 / 8
    assert got[(64, 1)] == 1 / 4  # rows 128..191
    assert got[(128, 1)] == got[(128, 16)] == 0.0
    assert got[(8, 1)] == got[(1, 16)] == got[(1, 32)] == got[(1, 8)] == 3 / 8
    assert got[(1, 128)] is None  # 64 columns: no whole 1x128 block


def test_linear_statistics_use_the_live_activation() -> None:
    model, rec, xs = _trace(StatsConfig())
    fc = next(i for i, op in enumerate(rec.ops) if op.name == "aten.addmm.default")
    with torch.no_grad():
        acts = [model.conv(x).reshape(-1, 32).numpy() for x in xs]
    zero, near, _ = _np_zero(acts[1])
    assert rec.stats["act_zero_frac"][1][fc] == pytest.approx(zero)
    assert rec.stats["act_near_zero_frac"][1][fc] == pytest.approx(near)
    assert rec.stats["act_block_zero_frac_1x8"][1][fc] == pytest.approx(_np_blocks(acts[1], 1, 8))
    expected = _np_delta(acts[0].ravel(), acts[1].ravel())
    assert rec.stats["delta_int8_zero_frac"][1][fc] == pytest.approx(expected["delta_int8_zero_frac"])
    assert rec.stats["delta_int4_zero_frac"][1][fc] == pytest.approx(expected["delta_int4_zero_frac"])


def test_delta_subsample_is_strided_and_consistent() -> None:
    _, rec, xs = _trace(StatsConfig(delta_max_elements=100))
    conv = next(i for i, op in enumerate(rec.ops) if op.kind == "conv")
    stride = 7  # 2*16*4*4 = 512 elements, at most 100 kept: ceil(5.12) = 6 -> odd prime 7
    # the delta scale uses the absmax of the full tensors, the values only the subsample
    full_absmax = max(float(xs[0].abs().max()), float(xs[1].abs().max()))
    a0, a1 = xs[0].numpy().ravel()[::stride], xs[1].numpy().ravel()[::stride]
    assert a0.size == 74
    expected = _np_delta(a0, a1, full_absmax)
    for name, value in expected.items():
        assert rec.stats[name][1][conv] == pytest.approx(value), name


def test_elementwise_ops_get_zero_stats_but_no_deltas() -> None:
    _, rec, _ = _trace(StatsConfig())
    for i, op in enumerate(rec.ops):
        if op.kind not in ("conv", "gemm", "attention"):
            assert rec.stats["delta_int8_zero_frac"][1][i] is None
            assert rec.stats["act_block_zero_frac_1x8"][1][i] is None


def test_sampled_zero_fractions_do_not_alias_with_image_structure() -> None:
    from models.trace.stats import sample_stride, zero_counts

    assert [sample_stride(n, 100) for n in (100, 101, 512, 2500)] == [1, 3, 7, 29]
    x = torch.ones(4, 32, 32, 32)
    x[..., 0] = 0.0  # a zero border column: 1/32 of the elements, period 32
    x[..., 1::2, :] *= -1.0
    counts = zero_counts(x, StatsConfig(zero_sample_elements=4096))
    assert counts.elements == x.numel()
    assert counts.zero_frac == pytest.approx(1 / 32, rel=0.05)
    exact = zero_counts(x, StatsConfig(zero_sample_elements=4096), exact=True)
    assert exact.zero_frac == 1 / 32
