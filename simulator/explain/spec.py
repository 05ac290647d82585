"""The ladder file (``scenarios/thousandfold.yaml``): workloads, a GPU point and rungs of designs.

A ladder is a sequence of rungs, each adding ONE technique to the rung before it::

    name: thousandfold
    gpu: h100-sxm                      # the GPU whose point the ladder is measured against
    gpu_precision: bf16
    gpu_calibration: gpu/h100-sxm-calibration.json
    gpu_baseline: eager                # eager | graph (best: pending, issue 15)
    workloads:
      - {name: ddpm-cifar10, workload: workloads/ddpm-cifar10.workload.json.gz, steps: 50}
    rungs:
      - {name: dense-fp16, technique: dense fp16 baseline, arch: thousandfold/00-dense-fp16.yaml}
      - {name: fewer-steps, technique: ..., steps: {ddpm-cifar10: 20}, source: "..."}
      - {name: batch, technique: ..., pending: "needs `batch:` in scenarios (issue 15)"}

A rung has exactly one of ``arch`` (a new design), ``steps`` (the previous design with fewer
sampling steps per image for the named workloads; a what-if until quality is bound to steps)
or ``pending`` (a technique the simulator cannot express yet: listed, never evaluated).
Paths are relative to the ladder file; errors name ``file:line field``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from accelerator.errors import SpecError
from accelerator.files import input_file_message, input_problem
from accelerator.spec import ArchSpec, load_arch, model_from_data
from accelerator.yamlpos import Positions, load_yaml
from models.workload import MAX_STEPS, Workload
from simulator.scenario import load_workload

#: GPU points a ladder can be measured against. ``best`` (the GPU's best batch and mode) waits
#: for ``gpu_baseline: best`` in scenarios (issue 15); until then it is refused with that reason.
GPU_BASELINES = ("eager", "graph")
PENDING_BASELINES = {"best": "the GPU's best point needs `batch:` and `gpu_baseline: best` in scenarios (issue 15)"}


class WorkloadEntry(BaseModel):
    """One workload of the ladder; every rung is evaluated on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1, description="short name used in tables and in rungs' steps")
    workload: str = Field(..., min_length=1, description="trace path, relative to the ladder file")
    decoder: str | None = Field(None, description="workload run once per image (a VAE decoder trace)")
    steps: StrictInt = Field(..., ge=1, le=MAX_STEPS, description="sampling steps per image at the first rung")
    quality: str | None = Field(
        None,
        description="`picojoule quality` JSON measured on this workload's model; a rung's quality is the "
        "entry of a rung design with the same numerics, at the same steps",
    )
    note: str = Field("", description="what the trace is (random-init, shape-only, trained) and what that means")


class RungSpec(BaseModel):
    """One rung: a design, a step count, or a pending technique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1)
    technique: str = Field(..., min_length=1, description="the one technique this rung adds")
    arch: str | None = Field(None, description="arch YAML of this rung's design")
    steps: dict[str, StrictInt] | None = Field(None, description="workload name -> sampling steps from this rung on")
    pending: str | None = Field(None, description="why the rung cannot be built yet (what it waits for)")
    source: str = Field("", description="where the rung's numbers or claims come from")


class LadderSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1)
    description: str = ""
    gpu: str = Field("h100-sxm", min_length=1, description="GPU spec name or YAML path")
    gpu_precision: Literal["fp32", "fp16", "bf16", "fp8", "int8"] = "bf16"
    gpu_calibration: str | None = None
    gpu_baseline: Literal["eager", "graph", "best"] = Field(
        "eager", description="the GPU point: eager (batch-1 PyTorch), graph (CUDA-graph replay); best: pending"
    )
    fidelity: Literal["analytic", "event"] = "analytic"
    workloads: tuple[WorkloadEntry, ...] = Field(..., min_length=1)
    rungs: tuple[RungSpec, ...] = Field(..., min_length=1)


@dataclass(frozen=True)
class Rung:
    """A rung resolved: ``arch`` is the design in force (the previous one for a steps rung),
    ``steps`` the sampling steps per workload in force; ``pending`` rungs carry neither."""

    spec: RungSpec
    index: int
    arch: ArchSpec | None
    steps: dict[str, int]

    @property
    def built(self) -> bool:
        return self.spec.pending is None


@dataclass(frozen=True)
class LadderWorkload:
    entry: WorkloadEntry
    workload: Workload
    decoder: Workload | None
    quality_path: Path | None


@dataclass(frozen=True)
class Ladder:
    spec: LadderSpec
    path: Path
    positions: Positions
    workloads: tuple[LadderWorkload, ...]
    rungs: tuple[Rung, ...]

    def resolve(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.path.parent / p

    @property
    def built(self) -> tuple[Rung, ...]:
        return tuple(r for r in self.rungs if r.built)


def _check_rungs(spec: LadderSpec, positions: Positions) -> None:
    names = [w.name for w in spec.workloads]
    if len(set(names)) != len(names):
        raise positions.error("workloads", f"workload names must be unique, got {names}")
    seen: set[str] = set()
    for i, r in enumerate(spec.rungs):
        given = [k for k in ("arch", "steps", "pending") if getattr(r, k) is not None]
        if len(given) != 1:
            raise positions.error(
                f"rungs.{i}", f"a rung has exactly one of arch, steps, pending; got {', '.join(given) or 'none'}"
            )
        if r.name in seen:
            raise positions.error(f"rungs.{i}.name", f"rung names must be unique, got {r.name!r} twice")
        seen.add(r.name)
        for w, n in (r.steps or {}).items():
            if w not in names:
                raise positions.error(f"rungs.{i}.steps.{w}", f"unknown workload {w!r}; workloads: {', '.join(names)}")
            if not 1 <= n <= MAX_STEPS:
                raise positions.error(f"rungs.{i}.steps.{w}", f"expected 1..{MAX_STEPS} steps, got {n}")
    if spec.rungs[0].arch is None:
        raise positions.error("rungs.0", "the first rung must name an arch (the baseline design)")


def load_ladder(path: str | Path) -> Ladder:
    """Read and check a ladder file: every path exists, every arch loads, rungs are well formed."""
    path = Path(path)
    data, positions = load_yaml(path)
    spec = model_from_data(LadderSpec, data, positions, "ladder")
    _check_rungs(spec, positions)
    base = path.parent

    def existing(field: str, what: str, rel: str) -> Path:
        p = Path(rel) if Path(rel).is_absolute() else base / rel
        problem = input_problem(p)
        if problem is not None:
            raise positions.error(field, input_file_message(what, rel, base, problem))
        return p

    if spec.gpu_calibration is not None:
        existing("gpu_calibration", "calibration", spec.gpu_calibration)
    workloads = []
    for i, w in enumerate(spec.workloads):
        wl = load_workload(existing(f"workloads.{i}.workload", "workload", w.workload))
        dec = load_workload(existing(f"workloads.{i}.decoder", "workload", w.decoder)) if w.decoder else None
        q = existing(f"workloads.{i}.quality", "quality file", w.quality) if w.quality else None
        workloads.append(LadderWorkload(w, wl, dec, q))
    rungs: list[Rung] = []
    arch: ArchSpec | None = None
    steps = {w.name: w.steps for w in spec.workloads}
    for i, r in enumerate(spec.rungs):
        if r.pending is not None:
            rungs.append(Rung(r, i, None, {}))
            continue
        if r.arch is not None:
            try:
                arch = load_arch(existing(f"rungs.{i}.arch", "arch", r.arch))
            except SpecError as exc:
                raise positions.error(f"rungs.{i}.arch", f"{r.arch}: {exc}") from None
        steps = {**steps, **(r.steps or {})}
        rungs.append(Rung(r, i, arch, dict(steps)))
    return Ladder(spec, path, positions, tuple(workloads), tuple(rungs))
