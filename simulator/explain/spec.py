"""The ladder file (``scenarios/thousandfold.yaml``): workloads, a GPU point and rungs of designs.

A ladder is a sequence of rungs, each adding ONE technique to the rung before it::

    name: thousandfold
    gpu: h100-sxm                      # the GPU whose point the ladder is measured against
    gpu_precision: bf16
    gpu_calibration: gpu/h100-sxm-calibration.json
    gpu_baseline: best                 # eager | graph: batch 1 at that mode; best: also the GPU's best point
    gpu_batches: [1, 4, 16]            # the best point's search: gpu_modes x gpu_precisions x batches
    workloads:
      - {name: ddpm-cifar10, workload: workloads/ddpm-cifar10.workload.json.gz, steps: 50}
    rungs:
      - {name: dense-fp16, technique: dense fp16 baseline, arch: thousandfold/00-dense-fp16.yaml}
      - {name: batch, technique: ..., batch: 16}
      - name: fewer-steps
        technique: ...
        steps: {ddpm-cifar10: 20}      # a what-if: quality not measured
        steps_from: {digits-ddpm: {sweep: quality/digits-ddim-steps.json, max_fd_data: reference}}
      - {name: stacked-dram, technique: ..., pending: "needs ..."}

A rung has exactly one kind: ``arch`` (a new design), ``steps``/``steps_from`` (the previous
design with fewer sampling steps per image for the named workloads: ``steps`` a what-if,
``steps_from`` the fewest steps of a ``picojoule quality --steps-sweep`` file meeting a bound,
:func:`models.numerics.steps.choose_steps`), ``batch`` (the previous design and steps on B images
per pass; energies per image) or ``pending`` (a technique the simulator cannot express yet:
listed, never evaluated). Paths are relative to the ladder file; errors name ``file:line field``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from accelerator.errors import SpecError
from accelerator.files import input_file_message, input_problem
from accelerator.spec import ArchSpec, load_arch, model_from_data
from accelerator.yamlpos import Positions, load_yaml
from models.numerics.steps import StepsBound, StepsChoice, choose_steps, load_sweep
from models.workload import MAX_STEPS, Workload
from simulator.optable import MAX_BATCH
from simulator.scenario import load_workload

#: GPU points a ladder can be measured against: batch 1 eager or graph, or ``best`` (batch 1 eager
#: as the reference *and* the lowest J/image over gpu_modes x gpu_precisions x gpu_batches, the
#: search of ``picojoule run``'s ``gpu_baseline: best``, :func:`simulator.run.best_gpu_point`).
GPU_BASELINES = ("eager", "graph", "best")
#: Baselines named but not yet expressible (with the reason); none since issue 15 landed.
PENDING_BASELINES: dict[str, str] = {}


class StepsFrom(BaseModel):
    """Bind a workload's steps to a steps sweep: the fewest steps of ``series`` meeting every bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sweep: str = Field(..., min_length=1, description="steps-sweep JSON (`picojoule quality --steps-sweep`)")
    series: str = Field("fp32", min_length=1, description="the sweep's series: fp32 or a design's")
    max_fd_data: float | Literal["reference"] | None = Field(
        None, description="bound on the FD to real data; `reference` = the sweep's many-step reference's own FD"
    )
    min_psnr_db: float | None = Field(None, description="bound on PSNR against the reference, dB")
    min_ssim: float | None = None


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
    quality_sweeps: tuple[str, ...] = Field(
        (),
        description="steps-sweep JSONs (`picojoule quality --steps-sweep --arch ...`) of this workload's model: a "
        "rung at a step count the quality file lacks shows the series with its numerics at its steps",
    )
    note: str = Field("", description="what the trace is (random-init, shape-only, trained) and what that means")


class RungSpec(BaseModel):
    """One rung: a design, a step count, or a pending technique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1)
    technique: str = Field(..., min_length=1, description="the one technique this rung adds")
    arch: str | None = Field(None, description="arch YAML of this rung's design")
    steps: dict[str, StrictInt] | None = Field(
        None, description="workload name -> sampling steps from this rung on (a what-if: quality not measured)"
    )
    steps_from: dict[str, StepsFrom] | None = Field(
        None, description="workload name -> a steps sweep and a bound that choose its steps from this rung on"
    )
    batch: StrictInt | None = Field(None, ge=1, le=MAX_BATCH, description="images per pass from this rung on")
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
        "eager",
        description="the GPU point: eager (batch-1 PyTorch), graph (CUDA-graph replay), best (batch-1 eager as "
        "the reference and the lowest J/image over gpu_modes x gpu_precisions x gpu_batches beside it)",
    )
    gpu_modes: tuple[Literal["eager", "graph"], ...] = Field(("eager", "graph"), min_length=1, max_length=2)
    gpu_precisions: tuple[Literal["fp32", "fp16", "bf16", "fp8"], ...] = Field(
        ("bf16", "fp8"), min_length=1, max_length=4, description="searched for the best point; fp8 = torch fp8 path"
    )
    gpu_batches: tuple[StrictInt, ...] = Field(
        (1,), min_length=1, max_length=8, description="batches searched for the best point (plus every rung's batch)"
    )
    fidelity: Literal["analytic", "event"] = "analytic"
    workloads: tuple[WorkloadEntry, ...] = Field(..., min_length=1)
    rungs: tuple[RungSpec, ...] = Field(..., min_length=1)


@dataclass(frozen=True)
class Rung:
    """A rung resolved: ``arch`` is the design in force (the previous one for a steps or batch
    rung), ``steps`` the sampling steps per workload in force, ``steps_choice`` the sweep choices
    behind them (workloads whose steps a sweep chose), ``batch`` the images per pass in force;
    ``pending`` rungs carry none of them."""

    spec: RungSpec
    index: int
    arch: ArchSpec | None
    steps: dict[str, int]
    batch: int = 1
    steps_choice: dict[str, StepsChoice] = field(default_factory=dict)

    @property
    def built(self) -> bool:
        return self.spec.pending is None


@dataclass(frozen=True)
class QualitySweep:
    """A steps sweep named by a workload's ``quality_sweeps``: its path as written and its checked content."""

    file: str
    doc: dict[str, Any]


@dataclass(frozen=True)
class LadderWorkload:
    entry: WorkloadEntry
    workload: Workload
    decoder: Workload | None
    quality_path: Path | None
    sweeps: tuple[QualitySweep, ...] = ()


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
        kinds = {"arch": r.arch, "steps": r.steps or r.steps_from, "batch": r.batch, "pending": r.pending}
        given = [k for k, v in kinds.items() if v is not None]
        if len(given) != 1:
            raise positions.error(
                f"rungs.{i}",
                "a rung has exactly one of arch, steps (or steps_from), batch, pending; "
                f"got {', '.join(given) or 'none'}",
            )
        for w in set(r.steps or {}) & set(r.steps_from or {}):
            raise positions.error(f"rungs.{i}.steps_from.{w}", f"{w!r} has both steps and steps_from")
        for w in r.steps_from or {}:
            if w not in names:
                raise positions.error(
                    f"rungs.{i}.steps_from.{w}", f"unknown workload {w!r}; workloads: {', '.join(names)}"
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
        sweeps = []
        for j, rel in enumerate(w.quality_sweeps):
            where = f"workloads.{i}.quality_sweeps.{j}"
            sweep = existing(where, "steps sweep", rel)
            try:
                sweeps.append(QualitySweep(rel, load_sweep(sweep)))
            except SpecError as exc:
                raise positions.error(where, str(exc)) from None
        workloads.append(LadderWorkload(w, wl, dec, q, tuple(sweeps)))
    rungs: list[Rung] = []
    arch: ArchSpec | None = None
    steps = {w.name: w.steps for w in spec.workloads}
    chosen: dict[str, StepsChoice] = {}
    batch = 1
    for i, r in enumerate(spec.rungs):
        if r.pending is not None:
            rungs.append(Rung(r, i, None, {}))
            continue
        if r.arch is not None:
            try:
                arch = load_arch(existing(f"rungs.{i}.arch", "arch", r.arch))
            except SpecError as exc:
                raise positions.error(f"rungs.{i}.arch", f"{r.arch}: {exc}") from None
        for name, sf in (r.steps_from or {}).items():
            where = f"rungs.{i}.steps_from.{name}"
            chosen[name] = _choose(existing(f"{where}.sweep", "steps sweep", sf.sweep), sf, positions, where)
            steps[name] = chosen[name].steps
        for name, n in (r.steps or {}).items():
            steps[name] = n
            chosen.pop(name, None)
        batch = r.batch or batch
        rungs.append(Rung(r, i, arch, dict(steps), batch, dict(chosen)))
    return Ladder(spec, path, positions, tuple(workloads), tuple(rungs))


def _choose(path: Path, sf: StepsFrom, positions: Positions, where: str) -> StepsChoice:
    """The sweep's fewest steps meeting ``sf``'s bounds (``max_fd_data: reference`` = the reference's FD)."""
    try:
        doc = load_sweep(path)
        fd: float | None = None
        if sf.max_fd_data == "reference":
            ref_fd = doc["reference"].get("fd_data")
            if not isinstance(ref_fd, (int, float)):
                raise SpecError(f"{path}: the reference has no fd_data to bound by")
            fd = float(ref_fd)
        elif isinstance(sf.max_fd_data, float):
            fd = sf.max_fd_data
        bound = StepsBound(min_psnr_db=sf.min_psnr_db, min_ssim=sf.min_ssim, max_fd_data=fd)
        return choose_steps(doc, bound, series=sf.series, file=sf.sweep)
    except SpecError as exc:
        raise positions.error(where, str(exc)) from None
