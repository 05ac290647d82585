"""The digits DDPM: data, committed weights, the sampler and its ``unet_fn`` hook, training."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the digits DDPM needs torch (trace extra)")
pytest.importorskip("diffusers", reason="the digits DDPM needs diffusers (trace extra)")
pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn (trace extra)")

from accelerator.errors import PicojouleError, TraceError  # noqa: E402
from models.zoo.cli import register  # noqa: E402
from models.zoo.digits import (  # noqa: E402
    image_grid,
    initial_noise,
    load_digits_images,
    load_digits_unet,
    sample_digits,
    write_png_gray,
)
from models.zoo.digits_train import DDPMTrainConfig, train_digits_ddpm  # noqa: E402

pytestmark = pytest.mark.trace

WEIGHTS = Path(__file__).resolve().parents[4] / "models" / "zoo" / "weights"


def _bilinear_x2_rows(a: np.ndarray) -> np.ndarray:
    """Reference 2× bilinear upscale along axis -2 (align_corners=False, edges clamped)."""
    n = a.shape[-2]
    prev = np.concatenate([a[..., :1, :], a[..., :-1, :]], axis=-2)
    nxt = np.concatenate([a[..., 1:, :], a[..., -1:, :]], axis=-2)
    out = np.empty(a.shape[:-2] + (2 * n, a.shape[-1]), dtype=np.float64)
    out[..., 0::2, :] = 0.25 * prev + 0.75 * a
    out[..., 1::2, :] = 0.75 * a + 0.25 * nxt
    return out


def test_digits_images_are_bilinear_upscales_in_minus_one_one() -> None:
    from sklearn.datasets import load_digits

    raw = load_digits().images / 16.0
    want = _bilinear_x2_rows(_bilinear_x2_rows(raw).swapaxes(-1, -2)).swapaxes(-1, -2) * 2 - 1
    got = load_digits_images()
    assert got.shape == (1797, 1, 16, 16) and got.dtype == torch.float32
    np.testing.assert_allclose(got[:, 0].numpy(), want, atol=1e-6)
    assert float(got.min()) == -1.0 and float(got.max()) == 1.0


def test_committed_weights_match_their_provenance() -> None:
    meta = json.loads((WEIGHTS / "digits_ddpm.json").read_text())
    wfile = WEIGHTS / meta["weights_file"]
    assert wfile.stat().st_size <= 4_000_000
    assert hashlib.sha256(wfile.read_bytes()).hexdigest() == meta["weights_sha256"]
    model, sched_cfg = load_digits_unet()
    assert sum(p.numel() for p in model.parameters()) == meta["n_params"]
    assert sched_cfg["num_train_timesteps"] == 1000 and sched_cfg["beta_schedule"] == "linear"
    assert meta["training"]["seed"] == 0 and len(meta["training"]["epoch_losses"]) == (meta["training"]["epochs"])
    assert meta["training"]["epoch_losses"][-1] < 0.5 * meta["training"]["epoch_losses"][0]


def test_missing_weights_raise_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="picojoule train digits"):
        load_digits_unet(tmp_path)


def test_unet_fn_sees_every_step_and_identity_wrapping_changes_nothing() -> None:
    model, cfg = load_digits_unet()
    seen: list[tuple[int, int]] = []

    def wrapped(x: torch.Tensor, t: torch.Tensor, i: int) -> torch.Tensor:
        seen.append((i, int(t)))
        out: torch.Tensor = model(x, t).sample
        return out

    plain = sample_digits(model, 4, steps=5, seed=3, scheduler="ddim", scheduler_config=cfg)
    hooked = sample_digits(model, 4, steps=5, seed=3, scheduler="ddim", unet_fn=wrapped)
    assert torch.equal(plain, hooked)
    # "trailing" spacing: 1000 train steps in 5 strides of 200, starting at t = 999.
    assert seen == [(0, 999), (1, 799), (2, 599), (3, 399), (4, 199)]


def test_one_ddim_step_matches_the_closed_form() -> None:
    # With predicted noise ε = x_T, one DDIM step to t = -1 (ᾱ = 1) returns
    # x0 = (x_T − √(1−ᾱ₉₉₉)·x_T) / √ᾱ₉₉₉, which is small enough to escape the [-1, 1] clip.
    # 1 − √(1−ᾱ₉₉₉) ≈ 2e-5 cancels in float32 (ε/2e-5 ≈ 3e-3 relative), hence rtol 1e-2.
    model, _ = load_digits_unet()
    got = sample_digits(model, 3, steps=1, seed=7, unet_fn=lambda x, t, i: x.clone())
    abar = np.prod(1.0 - np.linspace(1e-4, 0.02, 1000, dtype=np.float64))
    want = initial_noise(3, 7).double() * (1.0 - np.sqrt(1.0 - abar)) / np.sqrt(abar)
    assert float(want.abs().max()) < 1.0
    np.testing.assert_allclose(got.double().numpy(), want.numpy(), rtol=1e-2, atol=1e-5)


def test_ddpm_sampler_is_seeded() -> None:
    model, _ = load_digits_unet()
    a = sample_digits(model, 2, steps=10, seed=1, scheduler="ddpm")
    b = sample_digits(model, 2, steps=10, seed=1, scheduler="ddpm")
    c = sample_digits(model, 2, steps=10, seed=2, scheduler="ddpm")
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (2, 1, 16, 16) and float(a.abs().max()) <= 1.0
    with pytest.raises(TraceError, match="scheduler"):
        sample_digits(model, 2, steps=10, scheduler="euler")  # type: ignore[arg-type]


def test_low_precision_model_runs_through_the_float32_scheduler() -> None:
    model, _ = load_digits_unet()
    ref = sample_digits(model, 2, steps=3, seed=4)
    low = sample_digits(model.to(torch.bfloat16), 2, steps=3, seed=4)
    assert low.dtype == torch.float32 and not torch.equal(low, ref)
    assert float((low - ref).abs().max()) < 0.1  # measured 0.049 (bf16 on CPU, torch 2.13)


def test_training_is_bitwise_reproducible() -> None:
    images = load_digits_images()[:128]
    cfg = DDPMTrainConfig(epochs=1, seed=11, warmup_steps=1, threads=1)
    a, b = train_digits_ddpm(images, cfg), train_digits_ddpm(images, cfg)
    assert a.optimizer_steps == 2 and a.epoch_losses == b.epoch_losses
    for (k, v), w in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(v, w), k


def test_png_grid_round_trips_through_pil(tmp_path: Path) -> None:
    image_mod = pytest.importorskip("PIL.Image", reason="PIL reads the PNG back independently")
    imgs = torch.linspace(-1.0, 1.0, 5 * 16 * 16).reshape(5, 1, 16, 16)
    grid = image_grid(imgs, ncols=3, scale=2)
    assert grid.shape == (2 * (2 * 17 + 1), 2 * (3 * 17 + 1))
    write_png_gray(tmp_path / "g.png", grid)
    with image_mod.open(tmp_path / "g.png") as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), grid)


def test_cli_registers_train_subcommands() -> None:
    parser = argparse.ArgumentParser(prog="picojoule")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", "digits", "--epochs", "3", "--seed", "4", "--out", "x"])
    assert (args.epochs, args.seed, args.out, args.threads) == (3, 4, Path("x"), 1)
    bad = parser.parse_args(["train", "digits-classifier", "--epochs", "0"])
    with pytest.raises(PicojouleError, match="--epochs"):
        bad.func(bad)
