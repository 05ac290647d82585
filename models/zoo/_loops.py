"""Sampling loops shared by the zoo's epsilon-prediction models (diffusers schedulers).

Scheduler configs are written out in code from the models' published ``scheduler_config.json``
files (no hub). ``native`` means the model's own published sampler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from accelerator.errors import TraceError
from models.zoo import SampleOptions, StepHook


def make_scheduler(kind: str, config: Mapping[str, Any]) -> Any:
    """A diffusers scheduler of ``kind`` (ddpm, ddim, pndm, dpm) from a published config."""
    from diffusers import (
        DDIMScheduler,
        DDPMScheduler,
        DPMSolverMultistepScheduler,
        PNDMScheduler,
    )

    classes = {
        "ddpm": DDPMScheduler,
        "ddim": DDIMScheduler,
        "pndm": PNDMScheduler,
        "dpm": DPMSolverMultistepScheduler,
    }
    if kind not in classes:
        raise TraceError(f"unknown scheduler {kind!r}; allowed: {', '.join(classes)}")
    cls = classes[kind]
    accepted = set(cls.__init__.__code__.co_varnames)
    return cls(**{k: v for k, v in config.items() if k in accepted})


def denoise(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    scheduler: Any,
    latents: torch.Tensor,
    options: SampleOptions,
    hook: StepHook,
    generator: torch.Generator,
) -> torch.Tensor:
    """The standard loop: one ``predict(x, t)`` per timestep, wrapped in ``hook``."""
    assert options.steps is not None
    scheduler.set_timesteps(options.steps)
    x = latents * scheduler.init_noise_sigma
    timesteps = list(scheduler.timesteps)
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        model_in = scheduler.scale_model_input(x, t)
        with hook(i, total):
            eps = predict(model_in, t)
        kwargs: dict[str, Any] = {}
        if "generator" in scheduler.step.__code__.co_varnames:
            kwargs["generator"] = generator
        x = scheduler.step(eps, t, x, **kwargs).prev_sample
    return x


def seeded_build(seed: int, factory: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build a module with random init from ``seed``, in eval mode.

    Parameters keep ``requires_grad=True`` (callers run under ``torch.no_grad()``): with
    gradients off, ``matmul`` stops folding a 3-D activation into one 2-D ``mm`` and runs a
    ``bmm`` over an expanded weight instead, which changes the op mix (594 → 648 aten ops on
    ddpm-cifar10).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = factory()
    module.eval()
    return module
