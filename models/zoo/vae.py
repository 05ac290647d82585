"""``sd-vae-decoder``: Stable Diffusion's AutoencoderKL, decoding latents to an image.

Config written out from ``runwayml/stable-diffusion-v1-5`` (``vae/config.json``); random init.
The resolution is the latent side (64 → a 512² image); decoding is one model call.
"""

from __future__ import annotations

from typing import Any

import torch

from models.zoo import SampleOptions, StepHook, ZooEntry
from models.zoo._loops import seeded_build

#: runwayml/stable-diffusion-v1-5 vae/config.json
VAE_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "scaling_factor": 0.18215,
}


def build(entry: ZooEntry, resolution: int, seed: int) -> torch.nn.Module:
    from diffusers import AutoencoderKL

    config = {**VAE_CONFIG, "sample_size": resolution * 8}
    return seeded_build(seed, lambda: AutoencoderKL(**config))


def resolution_of(model: Any) -> int:
    """The latent side a built decoder was configured for."""
    return int(model.config.sample_size) // 8


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> torch.Tensor:
    generator = torch.Generator().manual_seed(options.seed)
    res = options.resolution
    assert res is not None
    channels = int(model.config.latent_channels)
    latents = torch.randn(options.batch, channels, res, res, generator=generator)
    z = latents / float(model.config.scaling_factor)
    with torch.no_grad(), hook(0, 1):
        return model.decode(z).sample
