"""Reproducible CPU training of the digits DDPM (see :mod:`models.zoo.digits`).

Same seed, same thread count and same torch build give the same weights bit for bit: one CPU
generator drives the batch order, the timesteps and the noise, and torch runs with
deterministic algorithms. The saved weights are the exponential moving average (EMA) of the
training weights, as in Ho et al. (NeurIPS 2020, Appendix B: EMA decay 0.9999 over 800 k
steps; here 0.999 over a few thousand steps).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import DDPMScheduler

from models.zoo.digits import SCHEDULER_CONFIG, UNET_CONFIG, build_digits_unet


@dataclass(frozen=True)
class DDPMTrainConfig:
    """Hyper-parameters of one digits-DDPM training run."""

    epochs: int = 50
    """Passes over the training images (1,797 digits, last partial batch dropped)."""
    seed: int = 0
    """Seeds the initial weights and the generator of batch order, timesteps and noise."""
    batch_size: int = 64
    """Images per optimizer step."""
    lr: float = 2e-3
    """Peak AdamW learning rate, reached after ``warmup_steps`` and cosine-decayed to 0."""
    warmup_steps: int = 100
    """Optimizer steps of linear learning-rate warm-up."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay."""
    ema_decay: float = 0.995
    """Largest EMA decay; the decay ramps as min(ema_decay, (1 + k) / (10 + k)) at step k."""
    threads: int = 1
    """``torch.set_num_threads`` during training; part of what makes the result reproducible."""


@dataclass(frozen=True)
class DDPMTrainResult:
    """The EMA model and what training measured."""

    model: torch.nn.Module
    epoch_losses: tuple[float, ...]
    """Mean ε-prediction MSE of the training weights per epoch (dimensionless)."""
    optimizer_steps: int
    wall_s: float
    """Wall-clock training time in seconds."""
    unet_config: dict[str, Any] = field(default_factory=lambda: dict(UNET_CONFIG))
    scheduler_config: dict[str, Any] = field(default_factory=lambda: dict(SCHEDULER_CONFIG))


@contextlib.contextmanager
def deterministic_cpu(threads: int) -> Iterator[None]:
    """Run the block with deterministic torch algorithms and ``threads`` intra-op threads."""
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev_det)
        torch.set_num_threads(prev_threads)


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train_digits_ddpm(
    images: torch.Tensor,
    config: DDPMTrainConfig,
    log: Callable[[str], None] | None = None,
    unet_config: dict[str, Any] | None = None,
) -> DDPMTrainResult:
    """Train the digits UNet on ``images`` (N, 1, 16, 16) in [-1, 1] with ε-prediction MSE.

    ``unet_config`` overrides :data:`models.zoo.digits.UNET_CONFIG` (architecture studies).
    """
    arch = dict(unet_config if unet_config is not None else UNET_CONFIG)
    if images.ndim != 4 or images.shape[0] < config.batch_size:
        raise ValueError(
            f"need (N, 1, H, W) images with N >= batch_size={config.batch_size}, got {tuple(images.shape)}"
        )
    steps_per_epoch = images.shape[0] // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    with deterministic_cpu(config.threads):
        t0 = time.perf_counter()
        torch.manual_seed(config.seed)
        model = build_digits_unet(arch)
        ema = build_digits_unet(arch)
        ema.load_state_dict(model.state_dict())
        ema.requires_grad_(False)
        noise_sched: Any = DDPMScheduler(**SCHEDULER_CONFIG)
        gen = torch.Generator(device="cpu").manual_seed(config.seed)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: _lr_factor(k, config.warmup_steps, total_steps))
        n_train = int(SCHEDULER_CONFIG["num_train_timesteps"])
        losses: list[float] = []
        step = 0
        model.train()
        for epoch in range(config.epochs):
            order = torch.randperm(images.shape[0], generator=gen)
            total = 0.0
            for b in range(steps_per_epoch):
                x0 = images[order[b * config.batch_size : (b + 1) * config.batch_size]]
                t = torch.randint(0, n_train, (x0.shape[0],), generator=gen)
                eps = torch.randn(x0.shape, generator=gen)
                xt = noise_sched.add_noise(x0, eps, t)
                loss = torch.nn.functional.mse_loss(model(xt, t).sample, eps)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                decay = min(config.ema_decay, (1.0 + step) / (10.0 + step))
                with torch.no_grad():
                    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                        pe.lerp_(pm, 1.0 - decay)
                total += float(loss.detach())
                step += 1
            losses.append(total / steps_per_epoch)
            if log is not None:
                log(f"epoch {epoch + 1}/{config.epochs} loss {losses[-1]:.4f} ({time.perf_counter() - t0:.0f} s)")
        ema.eval()
        wall_s = time.perf_counter() - t0
    return DDPMTrainResult(
        model=ema,
        epoch_losses=tuple(losses),
        optimizer_steps=step,
        wall_s=wall_s,
        unet_config=arch,
    )
