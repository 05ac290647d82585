"""Sampling loops shared by the zoo's epsilon-prediction models (diffusers schedulers).

Scheduler configs are written out in code from the models' published ``scheduler_config.json``
files (no hub). ``native`` means the model's own published sampler.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
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
    # inspect.signature follows the @register_to_config wrapper to the real parameters
    accepted = set(inspect.signature(cls.__init__).parameters)
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
        if "generator" in inspect.signature(scheduler.step).parameters:
            kwargs["generator"] = generator
        x = scheduler.step(eps, t, x, **kwargs).prev_sample
    return x


@contextlib.contextmanager
def _numpy_stream_init(seed: int) -> Iterator[None]:
    """PyTorch's default init distributions, drawn from numpy's PCG64 stream.

    ``Tensor.uniform_`` on the CPU generator draws about 50M values/s: 20 s or more for
    SD-1.5's 860M parameters. While this context is open, ``torch.nn.init``'s
    ``kaiming_uniform_``, ``uniform_`` and ``normal_`` (what ``nn.Linear``, ``nn.Conv*`` and
    ``nn.Embedding`` call in ``reset_parameters``) draw the same distributions from
    ``numpy.random.default_rng(seed)`` instead, an order of magnitude faster. The patch is
    undone on exit; do not build models from two threads at once.
    """
    rng = np.random.default_rng(seed)
    init = torch.nn.init
    saved = (init.kaiming_uniform_, init.uniform_, init.normal_)

    def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None):
        values = torch.from_numpy(rng.random(tensor.numel(), dtype=np.float32))
        with torch.no_grad():
            tensor.copy_(values.reshape(tensor.shape).mul_(b - a).add_(a))
        return tensor

    def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None):
        values = torch.from_numpy(rng.standard_normal(tensor.numel(), dtype=np.float32))
        with torch.no_grad():
            tensor.copy_(values.reshape(tensor.shape).mul_(std).add_(mean))
        return tensor

    def kaiming_uniform_(
        tensor: torch.Tensor,
        a: float = 0.0,
        mode: str = "fan_in",
        nonlinearity: str = "leaky_relu",
        generator: Any = None,
    ):
        fan = init._calculate_correct_fan(tensor, mode)  # type: ignore[arg-type]
        bound = math.sqrt(3.0) * init.calculate_gain(nonlinearity, a) / math.sqrt(fan)  # type: ignore[arg-type]
        return uniform_(tensor, -bound, bound)

    init.kaiming_uniform_, init.uniform_, init.normal_ = kaiming_uniform_, uniform_, normal_
    try:
        yield
    finally:
        init.kaiming_uniform_, init.uniform_, init.normal_ = saved


def seeded_build(seed: int, factory: Callable[[], Any], fast_init: bool = False) -> Any:
    """Build a module with random init from ``seed``, in eval mode.

    ``fast_init`` draws the default init distributions from numpy (see
    :func:`_numpy_stream_init`); the zoo uses it for the models of 500M+ parameters (not
    under a ``FakeTensorMode``, where init costs nothing).
    Parameters keep ``requires_grad=True`` (callers run under ``torch.no_grad()``): with
    gradients off, ``matmul`` stops folding a 3-D activation into one 2-D ``mm`` and runs a
    ``bmm`` over an expanded weight instead, which changes the op mix (594 → 648 aten ops on
    ddpm-cifar10).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if fast_init and torch._guards.detect_fake_mode() is None:
            with _numpy_stream_init(seed):
                module = factory()
        else:
            module = factory()
    module.eval()
    return module
