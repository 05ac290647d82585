"""The provenance record of a trace: which model, weights, options and library versions made it.

Shared by the torch tracer (:mod:`models.trace.tracer`) and the ONNX frontend
(:mod:`models.onnx.frontend`); keys in ``docs/workload-format.md``.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import torch

from models.trace.stats import StatsConfig
from models.zoo import SampleOptions, ZooEntry


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _param_count(model: Any) -> int | None:
    if isinstance(model, torch.nn.Module):
        return sum(p.numel() for p in model.parameters())
    return None


def provenance_for(
    entry: ZooEntry,
    options: SampleOptions,
    model: Any,
    aten_ops_per_step: int | None,
    stats: StatsConfig | None,
) -> dict[str, Any]:
    """The provenance record of a trace (keys in ``docs/workload-format.md``)."""
    scheduler = entry.native_scheduler if options.scheduler == "native" else options.scheduler
    dtype = "float32"
    if isinstance(model, torch.nn.Module):
        first = next(iter(model.parameters()), None)
        if first is not None:
            dtype = str(first.dtype).removeprefix("torch.")
    return {
        "model": entry.name,
        "weights": entry.weights,
        "weights_source": entry.weights_source,
        "frontend": entry.frontend,
        "resolution": options.resolution,
        "resolution_unit": entry.resolution_unit,
        "batch": options.batch,
        "steps": options.steps,
        "scheduler": scheduler,
        "scheduler_option": options.scheduler,
        "dtype": dtype,
        "seed": options.seed,
        "cfg": bool(options.cfg),
        "guidance_scale": options.guidance_scale if options.cfg else None,
        "params": _param_count(model),
        "aten_ops_per_step": aten_ops_per_step,
        "stats": stats is not None,
        "stats_config": stats.as_dict() if stats is not None else None,
        "torch_version": torch.__version__,
        "diffusers_version": package_version("diffusers"),
        "onnxruntime_version": package_version("onnxruntime") if entry.frontend == "onnx" else None,
        "picojoule_version": package_version("picojoule"),
    }
