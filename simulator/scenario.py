"""Scenario files: which workload, which designs, which GPUs, which options.

A scenario is YAML (see ``scenarios/quickstart.yaml``)::

    name: quickstart
    workload: workloads/ddpm-cifar10.workload.json.gz   # a trace, a layer-list YAML, or a SCALE-Sim CSV
    steps: 50                 # sampling steps per image (default: the trace's)
    designs: [arch/edge-os-int8.yaml, arch/dc-os-int8-sparse.yaml]
    systems: [multicore/one-die.yaml]   # multi-core designs (docs/multicore.md)
    system_fusion: [layer_by_layer, fused]  # each system both ways
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

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, field_validator, model_validator

from accelerator.errors import SpecError
from accelerator.files import input_file_message, input_problem
from accelerator.gpu import GpuSpec, builtin_gpus, load_gpu
from accelerator.spec import ArchSpec, load_arch, model_from_data
from accelerator.spec_base import LocatedError
from accelerator.system import SystemSpec, load_system
from accelerator.yamlpos import Positions, load_yaml
from models.layers import load_layers_yaml, load_scalesim_csv
from models.numerics.steps import StepsBound, StepsChoice, choose_steps, load_sweep
from models.workload import MAX_STEPS, Workload, WorkloadError
from models.workload import load as load_trace
from simulator.optable import MAX_BATCH

#: Most batch sizes one scenario evaluates (each design and GPU runs once per batch size).
MAX_BATCHES = 8


class QualitySpec(BaseModel):
    """Optional ``quality:`` section: emulate each design's numerics on a real model.

    Runs the model's sampling loop with each design's numerics (and each GPU at
    ``gpu_precision``) from the same noise as the fp32 reference (``models.numerics.session``; needs the
    trace extra) and adds ``quality`` (PSNR, SSIM, Fréchet distance) to each design's entry.

    ``steps_from`` binds the scenario's step count (energy and the emulated runs) to a committed
    steps sweep (``picojoule quality --steps-sweep``): the fewest steps whose entry meets every
    bound given (``min_psnr_db``, ``min_ssim``, ``max_fd_data``); :func:`bind_quality_steps`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    model: Literal["digits-ddpm", "digits-random", "terrain"] = Field(
        "digits-ddpm", description="model whose images are judged"
    )
    images: int = Field(16, ge=1, le=4096, description="images judged per design")
    steps: int = Field(20, ge=1, le=1000, description="sampling steps of the emulated runs")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="noise seed shared by the reference and every design")
    calibration_images: int = Field(4, ge=1, le=4096, description="calibration-run images (seed + 1000)")
    steps_from: str | None = Field(
        None,
        min_length=1,
        description="steps-sweep JSON (relative to the scenario): the scenario runs the fewest steps meeting "
        "the bounds below; leave `steps` (here and at the top) out",
    )
    steps_series: str = Field("fp32", min_length=1, description="series of the sweep the bounds apply to")
    min_psnr_db: float | None = Field(
        None, ge=0.0, le=200.0, description="bound: PSNR against the sweep's many-step fp32 reference, dB"
    )
    min_ssim: float | None = Field(None, ge=-1.0, le=1.0, description="bound: SSIM against the same reference")
    max_fd_data: float | None = Field(
        None, gt=0.0, le=1e9, description="bound: Fréchet distance to real data (digits classifier features)"
    )
    _steps_choice: StepsChoice | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _binding_complete(self) -> QualitySpec:
        bounds = [b for b in ("min_psnr_db", "min_ssim", "max_fd_data") if getattr(self, b) is not None]
        if self.steps_from is None and (bounds or "steps_series" in self.model_fields_set):
            raise ValueError(f"{(bounds or ['steps_series'])[0]} bounds the steps of a sweep: give steps_from too")
        if self.steps_from is not None and not bounds:
            raise ValueError("steps_from needs a bound: min_psnr_db, min_ssim or max_fd_data")
        if self.steps_from is not None and "steps" in self.model_fields_set:
            raise ValueError("steps is chosen by steps_from: leave it out")
        return self

    @property
    def steps_choice(self) -> StepsChoice | None:
        """The step count ``steps_from`` chose (set by :func:`load_scenario`), with what was measured there."""
        return self._steps_choice


def bind_quality_steps(spec: ScenarioSpec, positions: Positions, folder: Path) -> ScenarioSpec:
    """``spec`` with ``steps`` (top level and ``quality``) set to what ``quality.steps_from`` picks.

    Errors are located: a missing or malformed sweep file, a sweep of another model, a bound no
    entry meets (naming the best entry), a top-level ``steps`` that the binding would override.
    """
    q = spec.quality
    assert q is not None and q.steps_from is not None
    if spec.steps is not None:
        raise positions.error("steps", "the step count is chosen by quality.steps_from: leave steps out")
    path = Path(q.steps_from) if Path(q.steps_from).is_absolute() else folder / q.steps_from
    problem = input_problem(path)
    if problem is not None:
        raise positions.error("quality.steps_from", input_file_message("steps-sweep", q.steps_from, folder, problem))
    try:
        doc = load_sweep(path)
    except SpecError as exc:
        raise positions.error("quality.steps_from", exc.detail) from None
    if doc["model"] != q.model:
        msg = f"{q.steps_from} is a steps sweep of model {doc['model']!r}, but quality.model is {q.model!r}"
        raise positions.error("quality.steps_from", msg)
    names = [s["name"] for s in doc["series"]]
    if q.steps_series not in names:
        msg = f"{q.steps_from} has no series {q.steps_series!r}; it has: {', '.join(names)}"
        raise positions.error("quality.steps_series", msg)
    bound = StepsBound(q.min_psnr_db, q.min_ssim, q.max_fd_data)
    try:
        choice = choose_steps(doc, bound, series=q.steps_series, file=q.steps_from)
    except SpecError as exc:
        given = [b for b in ("min_psnr_db", "min_ssim", "max_fd_data") if getattr(q, b) is not None]
        raise positions.error(f"quality.{given[0]}", exc.detail) from None
    bound_q = q.model_copy(update={"steps": choice.steps})
    bound_q._steps_choice = choice
    return spec.model_copy(update={"steps": choice.steps, "quality": bound_q})


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
    systems: tuple[str, ...] = Field(
        (), max_length=32, description="multi-core system YAML paths (accelerator.system, docs/multicore.md)"
    )
    system_fusion: tuple[Literal["layer_by_layer", "fused"], ...] = Field(
        ("layer_by_layer", "fused"),
        min_length=1,
        max_length=2,
        description="each system is evaluated layer by layer and/or with layer fusion (the depth searched)",
    )
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
    batch: tuple[int, ...] = Field(
        (1,),
        description=f"images run at once: an integer in [1, {MAX_BATCH}] (MAX_BATCH) or a list of up to "
        f"{MAX_BATCHES} of them; every design and GPU is evaluated at each (weights shared across the batch); "
        "energies are per image, latency is the batch's",
    )
    gpu_baseline: Literal["eager_b1", "best"] = Field(
        "eager_b1",
        description="what ratios are against: eager_b1 (the GPU at gpu_mode and gpu_precision, batch 1) or best "
        "(also the lowest J/image point over gpu_modes x gpu_precisions x batch, beside the batch-1 row)",
    )
    gpu_modes: tuple[Literal["eager", "graph"], ...] = Field(
        ("eager", "graph"), min_length=1, max_length=2, description="run modes the best GPU point is searched over"
    )
    gpu_precisions: tuple[Literal["fp32", "fp16", "bf16", "fp8"], ...] = Field(
        ("bf16", "fp8"),
        min_length=1,
        max_length=4,
        description="precisions the best GPU point is searched over; fp8 is the torch fp8 path "
        "(linear and 1x1 conv GEMMs via _scaled_mm, the rest bf16); ones a GPU lacks are skipped",
    )
    fidelity: Literal["analytic", "event"] = "analytic"
    quality: QualitySpec | None = Field(None, description="image quality of each design's numerics")

    @field_validator("batch", mode="before")
    @classmethod
    def _batch_sizes(cls, value: object) -> tuple[int, ...]:
        """One batch size or a list of distinct ones, strict integers in [1, MAX_BATCH]."""
        if not isinstance(value, (list, tuple)):
            return (_batch_size(value, (), ""),)
        if not value:
            raise LocatedError((), "expected at least one batch size")
        if len(value) > MAX_BATCHES:
            raise LocatedError((), f"at most {MAX_BATCHES} batch sizes allowed (MAX_BATCHES), got {len(value)}")
        sizes = tuple(_batch_size(v, (i,), f", got {v!r}") for i, v in enumerate(value))
        for i, b in enumerate(sizes):
            if b in sizes[:i]:
                raise LocatedError((i,), f"batch size {b} is listed twice")
        return sizes


def _batch_size(value: object, loc: tuple[int, ...], got: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LocatedError(loc, f"expected an integer number of images per batch{got}")
    if not 1 <= value <= MAX_BATCH:
        raise LocatedError(loc, f"must be in [1, {MAX_BATCH}] images (MAX_BATCH){got}")
    return value


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
    files += [(f"systems.{i}", "system", rel) for i, rel in enumerate(spec.systems)]
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
    if spec.quality is not None and spec.quality.steps_from is not None:
        sc = Scenario(spec=bind_quality_steps(spec, positions, sc.path.parent), path=sc.path, positions=positions)
    return sc


def load_designs(sc: Scenario) -> list[ArchSpec]:
    return [load_arch(sc.resolve(rel)) for rel in sc.spec.designs]


def load_systems(sc: Scenario) -> list[SystemSpec]:
    return [load_system(sc.resolve(rel)) for rel in sc.spec.systems]


def load_gpus(sc: Scenario) -> list[GpuSpec]:
    """The scenario's GPUs: built-in names, or spec YAML paths relative to the scenario."""
    return [load_gpu(sc.resolve(g) if g.endswith((".yaml", ".yml")) or "/" in g else g) for g in sc.spec.gpus]


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
