"""A zoo entry and how its sampling loop is run: :class:`ZooEntry`, :class:`SampleOptions`, hooks.

The records the zoo's catalog, its model modules and its callers share (re-exported by
:mod:`models.zoo`). Imports no torch: an entry imports its model code when built or sampled.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

from accelerator.errors import TraceError

#: ``hook(step, total)`` -> a context manager entered around one model call.
StepHook = Callable[[int, int], AbstractContextManager[Any]]

SCHEDULERS = ("native", "ddim", "ddpm")


def no_hook(_step: int, _total: int) -> AbstractContextManager[Any]:
    """The default hook: does nothing."""
    return contextlib.nullcontext()


@dataclass(frozen=True)
class SampleOptions:
    """How to run a sampling loop. ``None`` fields take the entry's defaults."""

    steps: int | None = None  # denoising steps (model calls, CFG batched into one call)
    resolution: int | None = None  # in the entry's ``resolution_unit``
    batch: int = 1  # images per call (CFG doubles the model batch)
    scheduler: str = "native"  # "native" (the model's own sampler), "ddim" or "ddpm"
    seed: int = 0  # noise and label seed
    cfg: bool | None = None  # classifier-free guidance (batch 2 per image) where supported
    guidance_scale: float = 7.5


@dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo; ``module`` names the ``models.zoo`` module implementing it.

    The implementing module defines ``build(entry, resolution, seed)`` and
    ``sample(entry, model, options, hook)``.
    """

    name: str
    summary: str
    module: str  # e.g. "models.zoo.ddpm_cifar10"
    frontend: str = "torch"  # "torch" or "onnx"
    weights: str = "random-init"  # "random-init" or "trained:<source>"
    weights_source: str = ""  # where the weights or the config come from
    default_resolution: int = 32
    resolution_unit: str = "pixels"  # "pixels" or "latent" (latent side, 64 = 512² image)
    default_steps: int = 50
    native_scheduler: str = "ddpm"
    schedulers: tuple[str, ...] = SCHEDULERS
    supports_cfg: bool = False
    default_cfg: bool = False
    fixed_steps: int | None = None  # models that are one call per image (a VAE decoder)
    options: dict[str, Any] = field(default_factory=dict)  # entry-specific (paths, arch)

    @property
    def is_random_init(self) -> bool:
        return self.weights == "random-init"

    def _impl(self) -> Any:
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise TraceError(
                f"model {self.name!r} needs the trace extra (torch, diffusers, onnxruntime): "
                f"{exc}; install with: pip install 'picojoule[trace]'"
            ) from None

    def resolve(self, options: SampleOptions) -> SampleOptions:
        """``options`` with defaults filled in and checked; raises TraceError on bad values."""
        if options.scheduler not in self.schedulers:
            raise TraceError(
                f"model {self.name!r} does not support scheduler {options.scheduler!r}; "
                f"allowed: {', '.join(self.schedulers)}"
            )
        steps = self.default_steps if options.steps is None else options.steps
        if self.fixed_steps is not None and steps != self.fixed_steps:
            raise TraceError(
                f"model {self.name!r} runs exactly {self.fixed_steps} call(s) per image; got steps={steps}"
            )
        resolution = self.default_resolution if options.resolution is None else options.resolution
        if not isinstance(steps, int) or steps < 1:
            raise TraceError(f"steps must be a positive integer, got {steps!r}")
        if not isinstance(resolution, int) or resolution < 1:
            raise TraceError(f"resolution must be a positive integer, got {resolution!r}")
        if options.batch < 1:
            raise TraceError(f"batch must be a positive integer, got {options.batch!r}")
        cfg = self.default_cfg if options.cfg is None else options.cfg
        if cfg and not self.supports_cfg:
            raise TraceError(f"model {self.name!r} has no classifier-free guidance")
        return replace(options, steps=steps, resolution=resolution, cfg=cfg)

    def build(self, resolution: int | None = None, seed: int = 0) -> Any:
        """The model (a ``torch.nn.Module`` in eval mode; an ONNX entry returns its session)."""
        res = self.default_resolution if resolution is None else resolution
        return self._impl().build(self, res, seed)

    def sample(self, model: Any, options: SampleOptions | None = None, hook: StepHook | None = None) -> Any:
        """Run the sampling loop; returns the final sample (images or latents).

        The resolution defaults to the built model's (``resolution_of(model)`` of the
        implementing module, else ``model.config.sample_size``), then to the entry's.
        """
        opts = options or SampleOptions()
        impl = self._impl()
        if opts.resolution is None:
            of = getattr(impl, "resolution_of", None)
            size = of(model) if of is not None else None
            if size is None:
                size = getattr(getattr(model, "config", None), "sample_size", None)
            if isinstance(size, int):
                opts = replace(opts, resolution=size)
        return impl.sample(self, model, self.resolve(opts), hook or no_hook)
