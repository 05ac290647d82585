"""Scenario files: which workload, which designs, which GPUs, which options.

A scenario is YAML (see ``scenarios/quickstart.yaml``)::

    name: quickstart
    workload: workloads/ddpm-cifar10.workload.json.gz   # a trace, a layer-list YAML, or a SCALE-Sim CSV
    steps: 50                 # sampling steps per image (default: the trace's)
    designs: [arch/edge-os-int8.yaml, arch/dc-os-int8-sparse.yaml]
    gpus: [h100-sxm]          # GPU spec names or YAML paths
    gpu_precision: bf16
    gpu_mode: eager           # eager PyTorch (host-bound at batch 1) or graph (CUDA-graph replay)
    fidelity: analytic

Paths are relative to the scenario file. Errors name file:line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from accelerator.errors import SpecError
from accelerator.files import input_file_message, input_problem
from accelerator.gpu import builtin_gpus
from accelerator.spec import ArchSpec, load_arch, model_from_data
from accelerator.yamlpos import Positions, load_yaml
from models.layers import load_layers_yaml, load_scalesim_csv
from models.workload import MAX_STEPS, Workload, WorkloadError
from models.workload import load as load_trace


class QualitySpec(BaseModel):
    """Optional ``quality:`` section: emulate each design's numerics on a real model.

    Runs the model's sampling loop with each design's numerics (and each GPU at
    ``gpu_precision``) from the same noise as the fp32 reference (``models.numerics.session``; needs the
    trace extra) and adds ``quality`` (PSNR, SSIM, Fréchet distance) to each design's entry.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    model: Literal["digits-ddpm", "digits-random", "terrain"] = Field(
        "digits-ddpm", description="model whose images are judged"
    )
    images: int = Field(16, ge=1, le=4096, description="images judged per design")
    steps: int = Field(20, ge=1, le=1000, description="sampling steps of the emulated runs")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="noise seed shared by the reference and every design")
    calibration_images: int = Field(4, ge=1, le=4096, description="calibration-run images (seed + 1000)")


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Types are strict where a coercion would change a number silently (``steps: true`` is not 1,
    # ``steps: 2.5`` is not 2); strings and tuples keep pydantic's lax parsing of YAML lists.

    name: str = Field(..., min_length=1)
    description: str = ""
    workload: str = Field(..., min_length=1, description="path to a workload file, relative to the scenario")
    steps: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_STEPS,
        description=f"sampling steps per image, at most {MAX_STEPS:,} (MAX_STEPS); default: the trace's steps",
    )
    decoder: str | None = Field(
        None, description="workload run once per image after the sampling steps (e.g. a VAE decoder trace)"
    )
    objective: Literal["energy", "latency", "edp"] | None = Field(
        None, description="what the mapper minimises; default: each arch's mapping_objective"
    )
    designs: tuple[str, ...] = Field(..., min_length=1, description="arch YAML paths")
    gpus: tuple[str, ...] = Field((), description="GPU spec names (e.g. h100-sxm) or YAML paths")
    gpu_precision: Literal["fp32", "fp16", "bf16", "fp8", "int8"] = "bf16"
    gpu_mode: Literal["eager", "graph"] = Field(
        "eager",
        description="how the GPU baseline runs: eager PyTorch (the host issues every op; "
        "host-bound at batch 1) or graph (CUDA-graph replay: no host time per op)",
    )
    gpu_calibration: str | None = Field(
        None,
        description="calibration JSON from `picojoule calibrate` (relative to the scenario); "
        "without it GPUs are evaluated by the uncalibrated roofline",
    )
    fidelity: Literal["analytic", "event"] = "analytic"
    quality: QualitySpec | None = Field(None, description="image quality of each design's numerics")


@dataclass(frozen=True)
class Scenario:
    spec: ScenarioSpec
    path: Path
    positions: Positions

    def resolve(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else (self.path.parent / p)


def load_scenario(path: str | Path) -> Scenario:
    data, positions = load_yaml(path)
    spec = model_from_data(ScenarioSpec, data, positions, "scenario")
    sc = Scenario(spec=spec, path=Path(path), positions=positions)
    files: list[tuple[str, str, str | None]] = [(f"designs.{i}", "arch", rel) for i, rel in enumerate(spec.designs)]
    files += [("gpu_calibration", "calibration", spec.gpu_calibration), ("decoder", "workload", spec.decoder)]
    files += [("workload", "workload", spec.workload)]
    for i, gpu in enumerate(spec.gpus):
        if gpu.endswith((".yaml", ".yml")) or "/" in gpu:
            files.append((f"gpus.{i}", "GPU spec", gpu))
        elif gpu not in builtin_gpus():
            allowed = ", ".join(builtin_gpus())
            raise positions.error(f"gpus.{i}", f"unknown GPU {gpu!r}; built-in: {allowed} (or give a YAML path)")
    for field, what, rel in files:
        if rel is None:
            continue
        problem = input_problem(sc.resolve(rel))
        if problem is not None:
            raise positions.error(field, input_file_message(what, rel, sc.path.parent, problem))
    return sc


def load_designs(sc: Scenario) -> list[ArchSpec]:
    return [load_arch(sc.resolve(rel)) for rel in sc.spec.designs]


def load_workload(path: str | Path) -> Workload:
    """Read a workload file: a trace (``*.workload.json.gz``/``*.json``, ``picojoule trace``),
    a layer list (``*.yaml``) or a SCALE-Sim topology CSV. Raises SpecError on a bad file."""
    path = Path(path)
    suffix = path.name.lower()
    try:
        if suffix.endswith((".yaml", ".yml")):
            return load_layers_yaml(path)
        if suffix.endswith(".csv"):
            return load_scalesim_csv(path)
        return load_trace(path)
    except WorkloadError as exc:
        raise SpecError(str(exc)) from None
