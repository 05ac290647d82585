"""The model zoo: image-generation models selectable by name, with their own sampling loops.

Stable API (the tracer, the GPU-measurement and the numerics code call it; see
``docs/tracing.md``)::

    from models.zoo import get, list_models, SampleOptions
    entry = get("ddpm-cifar10")                  # unknown name -> TraceError listing names
    model = entry.build(resolution=32, seed=0)   # torch.nn.Module (ONNX entries: a session)
    images = entry.sample(model, SampleOptions(steps=4, scheduler="ddim"), hook=my_hook)

``hook(step, total)`` returns a context manager entered around each model call of the
sampling loop (``step`` counts calls from 0, ``total`` is the number of calls of the loop).

This package imports no torch: entries import their model code when built or sampled. The
records are in ``entry``, the entries in ``catalog``, local models in ``local``.
"""

from __future__ import annotations

from pathlib import Path

from accelerator.errors import TraceError
from models.zoo.catalog import registry_by_name
from models.zoo.entry import SCHEDULERS, SampleOptions, StepHook, ZooEntry, no_hook
from models.zoo.local import local_entry

__all__ = ["SCHEDULERS", "SampleOptions", "StepHook", "ZooEntry", "get", "list_models", "no_hook"]


def list_models() -> list[str]:
    """Names of the zoo models, sorted."""
    return sorted(registry_by_name())


def get(name: str, arch: str | None = None) -> ZooEntry:
    """The zoo entry ``name``, or a local model when ``name`` is a path.

    A local model is a diffusers model folder (``config.json`` + weights) or a
    ``.safetensors`` file loaded into the architecture ``arch`` (a zoo name).
    """
    registry = registry_by_name()
    if name in registry and arch is None:
        return registry[name]
    path = Path(name)
    if path.exists() or name.endswith(".safetensors") or arch is not None:
        return local_entry(path, arch, registry)
    raise TraceError(
        f"unknown model {name!r}; allowed: {', '.join(sorted(registry))}, "
        "or a path to a diffusers model folder or a .safetensors file (with --arch NAME)"
    )
