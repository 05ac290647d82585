"""``dit-xl-2`` and ``dit-s-2``: DiT (Peebles & Xie, ICCV 2023) as DiTTransformer2DModel.

DiT-XL/2's config is written out from ``facebook/DiT-XL-2-256`` (``transformer/config.json``);
DiT-S/2 is the paper's S size (Table 1: 12 layers, hidden 384, 6 heads) with the same
layout; both live in :mod:`models.zoo.catalog` (each entry's ``options["config"]``). Random
init. The model is class-conditional (ImageNet, 1000 classes; class 1000 is the null class of
classifier-free guidance), predicts noise and a learned variance (8 output channels: the first
4 are the noise), and samples 32² latents (256² images).
"""

from __future__ import annotations

from typing import Any

import torch

from models.zoo import SampleOptions, StepHook, ZooEntry
from models.zoo._loops import denoise, make_scheduler, seeded_build

#: The DiT training schedule (linear betas, 1000 steps; the paper samples with DDPM).
SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "variance_type": "fixed_small",
}

NULL_CLASS = 1000


def build(entry: ZooEntry, resolution: int, seed: int) -> torch.nn.Module:
    from diffusers import DiTTransformer2DModel

    config = {**entry.options["config"], "sample_size": resolution}
    return seeded_build(
        seed,
        lambda: DiTTransformer2DModel(**config),
        fast_init=bool(entry.options.get("fast_init")),
    )


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> torch.Tensor:
    kind = entry.native_scheduler if options.scheduler == "native" else options.scheduler
    scheduler = make_scheduler(kind, SCHEDULER_CONFIG)
    generator = torch.Generator().manual_seed(options.seed)
    res, b = options.resolution, options.batch
    assert res is not None
    channels = int(model.config.in_channels)
    labels = torch.randint(0, NULL_CLASS, (b,), generator=generator)
    latents = torch.randn(b, channels, res, res, generator=generator)

    def predict(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if options.cfg:
            x = torch.cat([x, x])
            classes = torch.cat([labels, torch.full_like(labels, NULL_CLASS)])
        else:
            classes = labels
        timestep = t.reshape(1).expand(x.shape[0])
        out = model(x, timestep=timestep, class_labels=classes).sample
        eps = out[:, :channels]  # the rest is the learned variance
        if not options.cfg:
            return eps
        eps_cond, eps_uncond = eps.chunk(2)
        return eps_uncond + options.guidance_scale * (eps_cond - eps_uncond)

    with torch.no_grad():
        return denoise(predict, scheduler, latents, options, hook, generator)
