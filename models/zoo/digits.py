"""The digits DDPM: a small diffusers UNet2DModel that picojoule trains on scikit-learn's digits.

Random-init models give true shapes but not true sparsity (docs/architecture.md, "Real weights"), so
picojoule trains its own small image generator on data that ships with scikit-learn
(``sklearn.datasets.load_digits``: 1,797 grey 8×8 digits, values 0–16; no download). The
digits are upscaled bilinearly to 16×16 and mapped to [-1, 1]. Weights (fp32 safetensors) and
their provenance JSON live beside this file under ``weights/``; loading never touches a hub.

The sampler exposes the UNet call of every step through ``unet_fn`` so that tracers,
numerics emulation and GPU measurement can wrap or replace it while the scheduler arithmetic
stays the reference one. ``picojoule train digits`` (``models.zoo.cli``) retrains it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from safetensors.torch import load_file

from accelerator.errors import TraceError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
"""Directory of the committed weights and their provenance JSON."""

DDPM_WEIGHTS_FILE = "digits_ddpm.safetensors"
DDPM_META_FILE = "digits_ddpm.json"

RESOLUTION_PX = 16
"""Side of the square images the model generates, in pixels (sklearn digits are 8×8)."""

DIGITS_MAX_VALUE = 16.0
"""Largest pixel value in ``sklearn.datasets.load_digits`` (4-bit grey levels 0..16)."""

UNET_CONFIG: dict[str, Any] = {
    "sample_size": RESOLUTION_PX,
    "in_channels": 1,
    "out_channels": 1,
    "block_out_channels": [16, 32, 64],
    "down_block_types": ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "attention_head_dim": 32,
}
"""Architecture of the digits UNet: 16×16 → 8×8 → 4×4, self-attention at 4×4 (down, mid, up).

Sized so that training fits ten minutes on two CPU cores (about 0.69 M parameters, 2.7 MB as
fp32 safetensors)."""

SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "linear",
    "beta_start": 1e-4,
    "beta_end": 0.02,
    "prediction_type": "epsilon",
    "clip_sample": True,
    "clip_sample_range": 1.0,
    "timestep_spacing": "trailing",
}
"""The DDPM noise schedule (Ho et al., NeurIPS 2020, §4: T = 1000, linear β from 1e-4 to 0.02).

``trailing`` spacing makes a short sampler start at t = 999 (Lin et al., WACV 2024, §3.3);
with 1000 steps every spacing gives the same timesteps."""

SchedulerName = Literal["ddim", "ddpm"]

UNetFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
"""``unet_fn(sample, timestep, step_index) -> predicted noise``, shapes (N, 1, 16, 16).

``timestep`` is the scheduler's 0-d int64 tensor; ``step_index`` counts from 0 to steps-1."""

StepCallback = Callable[[int, torch.Tensor, torch.Tensor], None]
"""``callback(step_index, timestep, sample_after_step)``, called after every scheduler step."""


def load_digits_images(resolution_px: int = RESOLUTION_PX) -> torch.Tensor:
    """All 1,797 sklearn digits as float32 (N, 1, R, R) in [-1, 1], in the data set's order.

    Upscaling is bilinear with ``align_corners=False`` (deterministic), then clamped.
    """
    from sklearn.datasets import load_digits

    raw = load_digits().images.astype(np.float32) / DIGITS_MAX_VALUE
    x = torch.from_numpy(raw).unsqueeze(1)
    if resolution_px != x.shape[-1]:
        x = torch.nn.functional.interpolate(
            x, size=(resolution_px, resolution_px), mode="bilinear", align_corners=False
        )
    return (x.clamp(0.0, 1.0) * 2.0 - 1.0).contiguous()


def load_digits_labels() -> np.ndarray:
    """The digit class (0..9) of each image of :func:`load_digits_images`, int64 (N,)."""
    from sklearn.datasets import load_digits

    return load_digits().target.astype(np.int64)


def build_digits_unet(config: dict[str, Any] | None = None) -> torch.nn.Module:
    """A randomly initialised digits UNet (seed it with ``torch.manual_seed`` first)."""
    # cast: diffusers' lazy imports hide from mypy that ModelMixin is an nn.Module.
    return cast(torch.nn.Module, UNet2DModel(**(config if config is not None else UNET_CONFIG)))


def read_digits_meta(weights_dir: Path | None = None) -> dict[str, Any]:
    """The provenance JSON of the committed DDPM (configs, seed, losses, versions, command)."""
    path = (weights_dir if weights_dir is not None else WEIGHTS_DIR) / DDPM_META_FILE
    if not path.is_file():
        raise TraceError(f"digits DDPM metadata not found at {path}; run `picojoule train digits` to create it")
    meta: dict[str, Any] = json.loads(path.read_text())
    return meta


def load_digits_unet(
    weights_dir: Path | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained digits UNet (fp32, eval mode, CPU) and its DDPM scheduler config.

    Reads ``digits_ddpm.safetensors`` + ``digits_ddpm.json`` from ``weights_dir`` (default:
    the committed ``models/zoo/weights``). Raises :class:`TraceError` if either is missing.
    """
    wdir = weights_dir if weights_dir is not None else WEIGHTS_DIR
    meta = read_digits_meta(wdir)
    wpath = wdir / DDPM_WEIGHTS_FILE
    if not wpath.is_file():
        raise TraceError(f"digits DDPM weights not found at {wpath}; run `picojoule train digits` to create them")
    model = build_digits_unet(meta["unet_config"])
    state = load_file(str(wpath))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise TraceError(
            f"{wpath} does not match the digits UNet config: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    model.eval()
    return model, dict(meta["scheduler_config"])


def make_scheduler(scheduler: SchedulerName, scheduler_config: dict[str, Any] | None = None) -> Any:
    """A fresh DDIM (η = 0, deterministic) or DDPM (ancestral) scheduler, training schedule."""
    cfg = dict(scheduler_config if scheduler_config is not None else SCHEDULER_CONFIG)
    if scheduler == "ddpm":
        return DDPMScheduler(**cfg, variance_type="fixed_small")
    if scheduler == "ddim":
        return DDIMScheduler(**cfg, set_alpha_to_one=True)
    raise TraceError(f"unknown scheduler {scheduler!r}; allowed: 'ddim', 'ddpm'")


def initial_noise(n: int, seed: int, resolution_px: int = RESOLUTION_PX) -> torch.Tensor:
    """The x_T that :func:`sample_digits` starts from for ``seed``: N(0, 1), (n, 1, R, R)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn((n, 1, resolution_px, resolution_px), generator=gen)


def sample_digits(
    model: torch.nn.Module,
    n: int,
    steps: int = 50,
    seed: int = 0,
    scheduler: SchedulerName = "ddim",
    *,
    scheduler_config: dict[str, Any] | None = None,
    unet_fn: UNetFn | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Run the whole sampling loop and return ``n`` images, float32 (n, 1, 16, 16) in [-1, 1].

    ``scheduler="ddim"`` is DDIM with η = 0 (Song et al., ICLR 2021); ``"ddpm"`` is the
    model's own ancestral sampler (use ``steps=1000`` for the exact training chain). The
    initial noise is :func:`initial_noise` (``n``, ``seed``) and the DDPM step noise comes from
    a CPU generator seeded with ``seed + 1``, so two runs with the same arguments see the same
    noise whatever ``unet_fn`` does. ``unet_fn`` replaces ``model(x, t).sample`` at every step
    (wrap it to trace, quantise or time the UNet); ``callback`` observes each step's output.
    The scheduler runs in float32 on the model's device; the default UNet call casts its input
    to the model's dtype (e.g. a ``model.half()`` on a GPU) and its output back to float32.
    """
    if n < 1 or steps < 1:
        raise TraceError(f"sample_digits needs n >= 1 and steps >= 1, got n={n}, steps={steps}")
    cfg = scheduler_config if scheduler_config is not None else SCHEDULER_CONFIG
    if steps > int(cfg["num_train_timesteps"]):
        raise TraceError(f"steps={steps} exceeds the {cfg['num_train_timesteps']} train steps")
    sched = make_scheduler(scheduler, cfg)
    sched.set_timesteps(steps)
    resolution_px = int(getattr(model, "config", {}).get("sample_size", RESOLUTION_PX))
    param = next(model.parameters())
    # Noise is drawn on the CPU and moved, so a GPU run starts from the CPU run's x_T.
    x = initial_noise(n, seed, resolution_px).to(param.device)
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)

    def plain_unet(sample: torch.Tensor, timestep: torch.Tensor, step_index: int) -> torch.Tensor:
        out: torch.Tensor = model(sample.to(param.dtype), timestep).sample
        return out.to(sample.dtype)

    call = unet_fn if unet_fn is not None else plain_unet
    with torch.no_grad():  # not inference_mode: callers may reuse the tensors with autograd
        for i, t in enumerate(sched.timesteps):
            eps = call(x, t, i)
            if scheduler == "ddim":
                x = sched.step(eps, t, x, eta=0.0).prev_sample
            else:
                x = sched.step(eps, t, x, generator=gen).prev_sample
            if callback is not None:
                callback(i, t, x)
    return x.clamp(-1.0, 1.0)


def images_to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Map images in [-1, 1] of shape (N, 1, H, W) or (N, H, W) to uint8 (N, H, W), 0 = black."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else images
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 4:
        arr = arr[:, 0]
    return np.round((np.clip(arr, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def image_grid(images: torch.Tensor | np.ndarray, ncols: int, scale: int = 1) -> np.ndarray:
    """Tile images into one uint8 (H', W') grid with 1-pixel grey borders, upscaled ``scale``×."""
    tiles = images_to_uint8(images)
    n, h, w = tiles.shape
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + 1) + 1, ncols * (w + 1) + 1), 96, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, ncols)
        top, left = 1 + r * (h + 1), 1 + c * (w + 1)
        grid[top : top + h, left : left + w] = tiles[k]
    return np.kron(grid, np.ones((scale, scale), dtype=np.uint8)) if scale > 1 else grid


def write_png_gray(path: Path, pixels: np.ndarray) -> None:
    """Write a uint8 (H, W) array as an 8-bit greyscale PNG with numpy + zlib only."""
    import struct
    import zlib

    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 array, got {pixels.dtype} {pixels.shape}")
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)
