"""``digits-ddpm``: the small DDPM that picojoule trains on scikit-learn's digits (trained).

The model, its committed weights and its sampler live in ``models/zoo/digits.py`` (another
module, trained by ``picojoule train digits``); this adapter only maps the zoo interface onto
``load_digits_unet()`` and ``sample_digits(..., unet_fn=...)``, so the hook wraps exactly the
UNet call of every step. Until the weights exist, building raises a clear TraceError.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from accelerator.errors import TraceError
from models.zoo import SampleOptions, StepHook, ZooEntry


def _digits() -> Any:
    try:
        module = importlib.import_module("models.zoo.digits")
    except ModuleNotFoundError as exc:
        if exc.name != "models.zoo.digits":
            raise
        module = None
    if module is None or not all(hasattr(module, f) for f in ("load_digits_unet", "sample_digits")):
        raise TraceError(
            "model 'digits-ddpm' is not available yet: models/zoo/digits.py with "
            "load_digits_unet() and sample_digits() is missing; train it with "
            "`picojoule train digits`"
        )
    return module


def build(entry: ZooEntry, resolution: int, seed: int) -> torch.nn.Module:
    digits = _digits()
    model, _scheduler_config = digits.load_digits_unet()
    native = int(model.config.sample_size)
    if resolution != native:
        raise TraceError(f"model 'digits-ddpm' was trained at {native}²; got resolution {resolution}")
    return model


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> torch.Tensor:
    digits = _digits()
    kind = entry.native_scheduler if options.scheduler == "native" else options.scheduler
    scheduler_config = digits.read_digits_meta().get("scheduler_config")
    total = int(options.steps or 1)

    def unet_fn(x: torch.Tensor, t: torch.Tensor, step_index: int) -> torch.Tensor:
        with hook(step_index, total):
            out: torch.Tensor = model(x, t).sample
        return out

    return digits.sample_digits(
        model,
        options.batch,
        steps=total,
        seed=options.seed,
        scheduler=kind,
        scheduler_config=scheduler_config,
        unet_fn=unet_fn,
    )
