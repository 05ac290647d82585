"""``sd15-unet``: Stable Diffusion 1.5's UNet2DConditionModel (860M params), random init.

Config written out from ``runwayml/stable-diffusion-v1-5`` (``unet/config.json`` and
``scheduler/scheduler_config.json``). The text encoder is not part of the workload: the
conditioning is a seeded 77×768 embedding (CLIP ViT-L/14's sequence length and width).
Classifier-free guidance runs the unconditional and conditional halves as one batch of 2.
"""

from __future__ import annotations

from typing import Any

import torch

from models.zoo import SampleOptions, StepHook, ZooEntry
from models.zoo._loops import denoise, make_scheduler, seeded_build

#: runwayml/stable-diffusion-v1-5 unet/config.json (sample_size = latent side, a parameter).
UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}

#: runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json (PNDMScheduler).
SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
}

TEXT_TOKENS = 77  # CLIP tokenizer max length
TEXT_WIDTH = 768  # CLIP ViT-L/14 hidden size = cross_attention_dim


def build(entry: ZooEntry, resolution: int, seed: int) -> torch.nn.Module:
    from diffusers import UNet2DConditionModel

    config = {**UNET_CONFIG, **entry.options.get("unet_config", {}), "sample_size": resolution}
    return seeded_build(seed, lambda: UNet2DConditionModel(**config), fast_init=bool(entry.options.get("fast_init")))


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> torch.Tensor:
    kind = entry.native_scheduler if options.scheduler == "native" else options.scheduler
    scheduler = make_scheduler(kind, SCHEDULER_CONFIG)
    generator = torch.Generator().manual_seed(options.seed)
    res, b = options.resolution, options.batch
    assert res is not None
    width = int(model.config.cross_attention_dim)
    cond = torch.randn(b, TEXT_TOKENS, width, generator=generator)
    uncond = torch.randn(b, TEXT_TOKENS, width, generator=generator)
    latents = torch.randn(b, int(model.config.in_channels), res, res, generator=generator)

    def predict(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not options.cfg:
            return model(x, t, encoder_hidden_states=cond).sample
        both = model(torch.cat([x, x]), t, encoder_hidden_states=torch.cat([uncond, cond])).sample
        eps_uncond, eps_cond = both.chunk(2)
        return eps_uncond + options.guidance_scale * (eps_cond - eps_uncond)

    with torch.no_grad():
        return denoise(predict, scheduler, latents, options, hook, generator)
