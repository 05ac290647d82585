"""``ddpm-cifar10`` (and the test-sized ``tiny-unet``): the DDPM CIFAR-10 UNet.

The UNet of Ho et al. (2020) as diffusers' UNet2DModel.

Config written out from ``google/ddpm-cifar10-32`` (``unet/config.json`` and
``scheduler/scheduler_config.json``); weights are random (seeded) unless loaded locally.
35.7M parameters, 32² RGB images. ``tiny-unet``'s overrides of the config are its catalog entry's
``options["unet_config"]`` (:mod:`models.zoo.catalog`).
"""

from __future__ import annotations

from typing import Any

import torch

from models.zoo import SampleOptions, StepHook, ZooEntry
from models.zoo._loops import denoise, make_scheduler, seeded_build

#: google/ddpm-cifar10-32 unet/config.json (sample_size is overridden by the resolution).
UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": None,
    "block_out_channels": [128, 256, 256, 256],
    "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "downsample_padding": 0,
    "flip_sin_to_cos": False,
    "freq_shift": 1,
    "in_channels": 3,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 32,
    "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
}

#: google/ddpm-cifar10-32 scheduler_config.json (DDPMScheduler).
SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "clip_sample": True,
    "num_train_timesteps": 1000,
    "variance_type": "fixed_large",
}


def build(entry: ZooEntry, resolution: int, seed: int) -> torch.nn.Module:
    from diffusers import UNet2DModel

    config = {**UNET_CONFIG, **entry.options.get("unet_config", {}), "sample_size": resolution}
    return seeded_build(seed, lambda: UNet2DModel(**config))


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> torch.Tensor:
    kind = entry.native_scheduler if options.scheduler == "native" else options.scheduler
    scheduler = make_scheduler(kind, SCHEDULER_CONFIG)
    generator = torch.Generator().manual_seed(options.seed)
    res = options.resolution
    assert res is not None
    channels = int(model.config.in_channels)
    noise = torch.randn(options.batch, channels, res, res, generator=generator)
    with torch.no_grad():
        return denoise(lambda x, t: model(x, t).sample, scheduler, noise, options, hook, generator)
