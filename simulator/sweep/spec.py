"""Sweep files: a base architecture (or a base multi-core system), axes over its fields, derived
values, constraints, workloads, objectives and a search strategy (the format is in docs/sweeps.md).

``load_sweep(path)`` validates everything a sweep can get wrong before any design is
evaluated, and every error names ``file:line dotted.field``, the bad value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from accelerator.files import input_file_message, input_problem
from accelerator.spec import arch_from_data, model_from_data
from accelerator.system import SystemSpec, system_from_data
from accelerator.yamlpos import Positions, load_yaml
from models.workload import MAX_STEPS
from simulator.evaluation import FIDELITIES
from simulator.sweep.axes import AxisSpec, Finite, axis_values, check_axis, check_suspects
from simulator.sweep.design import Axis, Constraint, Derived, DesignPoint, DesignSpec, design_point
from simulator.sweep.expressions import Expr, ExprError, parse_expr
from simulator.sweep.paths import resolve_path
from simulator.sweep.worker import (
    BUILTIN_OBJECTIVES,
    METRIC_COLUMNS,
    QUALITY_COLUMNS,
    SYSTEM_COLUMNS,
    QualitySetup,
)

#: Values an expression can use besides spec fields, computed from each design point (of a
#: system: summed over every core instance).
BUILTIN_NAMES = {
    "pes": "PEs in the array (compute.rows x compute.cols)",
    "sram_bytes": "on-chip SRAM in bytes, all levels (per-PE levels times the PEs)",
    "area_mm2": "area of the PE array and buffers in mm² (the cost model's area_mm2)",
}


#: Metric columns constraints and objectives may read (those of systems in sweeps over systems).
METRICS = {*METRIC_COLUMNS, *QUALITY_COLUMNS, *SYSTEM_COLUMNS}

MAX_GRID_POINTS = 1_000_000
"""Most design points a grid sweep may visit, and most samples or trials of a random or NSGA-II
search; a larger space needs ``strategy: {kind: random, samples: ...}`` or ``nsga2``."""
MAX_SEARCH_SPACE = 2**62
"""Most points (the product of the axis sizes) a random or NSGA-II search draws from."""
MAX_SEED = 2**32 - 1
"""Largest seed: optuna's NSGA-II sampler seeds numpy's ``RandomState``, which takes 32-bit seeds
(the bound of the scenario's and the nest mapper's seeds too); seeds are never negative."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GridStrategy(_Strict):
    kind: Literal["grid"]


class RandomStrategy(_Strict):
    kind: Literal["random"]
    samples: StrictInt = Field(
        ..., ge=1, le=MAX_GRID_POINTS, description="design points drawn from the grid, without replacement"
    )
    seed: StrictInt = Field(default=0, ge=0, le=MAX_SEED, description="seed of the sample")


class Nsga2Strategy(_Strict):
    kind: Literal["nsga2"]
    trials: StrictInt = Field(
        ..., ge=1, le=MAX_GRID_POINTS, description="design points asked of optuna's NSGA-II sampler in all"
    )
    population: StrictInt = Field(
        default=24, ge=2, le=10_000, description="points per generation (evaluated in parallel)"
    )
    seed: StrictInt = Field(default=0, ge=0, le=MAX_SEED, description="seed of optuna's sampler")


Strategy = Annotated[GridStrategy | RandomStrategy | Nsga2Strategy, Field(discriminator="kind")]


class JobqueueSpec(_Strict):
    """A dask-jobqueue cluster started for ``--executor dask`` (options go to its constructor)."""

    kind: Literal["slurm", "pbs", "lsf", "sge", "htcondor", "moab", "oar"]
    jobs: StrictInt = Field(..., ge=1, le=10_000, description="batch jobs to start")
    options: dict[str, Any] = Field(default_factory=dict, description="e.g. cores, memory, queue, walltime")


class ExecutionSpec(_Strict):
    max_attempts: StrictInt = Field(
        default=3, ge=1, le=100, description="a point whose worker dies this often is recorded as failed"
    )
    batch_size: StrictInt | None = Field(
        default=None, ge=1, le=MAX_GRID_POINTS, description="points per task; default: chosen per executor"
    )
    point_timeout_s: Finite = Field(
        default=600.0, gt=0, description="longest a point may take before its worker is killed"
    )
    jobqueue: JobqueueSpec | None = None


class QualitySpec(_Strict):
    """How image quality is measured when an objective or constraint reads quality_* metrics."""

    model: str = Field(default="digits-ddpm", description="a models.numerics.session quality model")
    images: StrictInt = Field(default=16, ge=1, le=4096, description="images generated per design")
    steps: StrictInt = Field(default=20, ge=1, le=1000, description="sampling steps per image")
    seed: StrictInt = Field(default=0, ge=0, le=MAX_SEED, description="noise seed of the images")
    calibration_images: StrictInt = Field(default=4, ge=1, le=4096)


class SweepFile(_Strict):
    name: str = Field(..., min_length=1)
    description: str = ""
    base: str | dict[str, Any] | None = Field(
        default=None, description="arch YAML path (relative to the sweep) or an inline arch"
    )
    system: str | dict[str, Any] | None = Field(
        default=None, description="instead of base: a system YAML path (relative to the sweep) or an inline system"
    )
    workloads: tuple[str, ...] = Field(..., min_length=1, description="workload files, relative to the sweep")
    steps: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_STEPS,
        description=f"sampling steps per image, at most {MAX_STEPS:,} (MAX_STEPS); default: each trace's",
    )
    fidelity: str = "analytic"
    axes: dict[str, tuple[Any, ...] | AxisSpec] = Field(..., min_length=1)
    derived: dict[str, str | int | float] = Field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    objectives: dict[str, Literal["min", "max", "minimize", "maximize"]] = Field(..., min_length=1)
    strategy: Strategy = Field(default_factory=lambda: GridStrategy(kind="grid"))
    quality: QualitySpec = QualitySpec()  # frozen, so one shared default is safe
    execution: ExecutionSpec = ExecutionSpec()

    @model_validator(mode="before")
    @classmethod
    def _one_workload(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("workloads"), str):
            return {**data, "workloads": [data["workloads"]]}
        return data

    @model_validator(mode="after")
    def _one_base(self) -> SweepFile:
        if (self.base is None) == (self.system is None):
            raise ValueError(
                "give exactly one of base (an arch: a YAML path or an inline mapping) or system "
                "(a multi-core system, docs/multicore.md)"
            )
        return self


@dataclass(frozen=True)
class Objective:
    name: str  # as written in the sweep file
    column: str  # metric column in the results
    direction: Literal["min", "max"]


@dataclass(frozen=True)
class Sweep:
    spec: SweepFile
    path: Path
    positions: Positions
    base_data: dict[str, Any]  # the base as written (defaults left out; a system's core archs loaded)
    base_full: dict[str, Any]  # the validated base with every default filled in
    model: type[DesignSpec]  # ArchSpec, or SystemSpec for a sweep over systems
    axes: tuple[Axis, ...]
    derived: tuple[Derived, ...]
    constraints: tuple[Constraint, ...]
    objectives: tuple[Objective, ...]
    workloads: tuple[Path, ...]

    @property
    def quality(self) -> QualitySetup | None:
        """Quality settings for the workers, when an objective or constraint reads quality."""
        used = {o.column for o in self.objectives}.union(*(c.expr.names for c in self.constraints))
        return QualitySetup(**self.spec.quality.model_dump()) if used & set(QUALITY_COLUMNS) else None

    @property
    def kind(self) -> str:
        """What a design point is: ``arch`` or ``system``."""
        return "system" if self.model is SystemSpec else "arch"

    @property
    def grid_size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)


def _load_base(spec: SweepFile, path: Path, positions: Positions) -> tuple[dict[str, Any], DesignSpec]:
    """The base as written and validated: an arch, or a system whose core archs are loaded."""
    root, value = ("base", spec.base) if spec.base is not None else ("system", spec.system)
    if isinstance(value, dict):
        data, where, folder = value, positions, path.parent
    else:
        assert value is not None  # SweepFile checks that one of them is given
        base_path = path.parent / value
        problem = input_problem(base_path)
        if problem is not None:
            what = "arch" if root == "base" else "system"
            raise positions.error(root, input_file_message(what, value, path.parent, problem))
        (data, where), folder, root = load_yaml(base_path), base_path.parent, ""
    if spec.base is not None:
        return data, arch_from_data(data, where, root)
    system = system_from_data(data, where, folder, root)
    # axes set fields of the cores' archs, so a core's `arch: file.yaml` becomes that file's data
    cores = [
        {**c, "arch": core.arch.model_dump(mode="json")} for c, core in zip(data["cores"], system.cores, strict=True)
    ]
    return {**data, "cores": cores}, system


def _known(names: frozenset[str], defined: set[str], full: dict[str, Any], extra: set[str]) -> str | None:
    """The first name an expression uses that is not defined, builtin, a field or in ``extra``."""
    for n in sorted(names):
        if n in defined or n in BUILTIN_NAMES or n in extra:
            continue
        try:
            resolve_path(full, n)
        except KeyError:
            return n
    return None


def _parse(text: str | int | float, where: str, positions: Positions) -> Expr:
    try:
        return parse_expr(str(text))
    except ExprError as exc:
        raise positions.error(where, str(exc)) from None


def load_sweep(path: str | Path) -> Sweep:
    """Load and fully validate the sweep file at ``path``."""
    path = Path(path)
    data, positions = load_yaml(path)
    spec = model_from_data(SweepFile, data, positions, "sweep")
    if spec.fidelity not in FIDELITIES:
        raise positions.error("fidelity", f"unknown fidelity {spec.fidelity!r}; allowed: {', '.join(FIDELITIES)}")
    base_data, base_spec = _load_base(spec, path, positions)
    full = base_spec.model_dump(mode="json")
    model = type(base_spec)
    what = "system" if model is SystemSpec else "arch"
    if what == "system" and spec.fidelity != "analytic":
        raise positions.error(
            "fidelity", f"a sweep over systems is analytic (fidelity {spec.fidelity!r}): systems cost each op "
            "with the analytic single-core model (docs/multicore.md)"
        )  # fmt: skip

    axes, suspects = [], []
    for name, axis_spec in spec.axes.items():
        try:
            apath = resolve_path(full, name)
        except KeyError as exc:
            raise positions.error(f"axes.{name}", f"not a field of the base {what}: {exc.args[0]}") from None
        try:
            values = axis_values(axis_spec)
        except ValueError as exc:
            raise positions.error(f"axes.{name}", str(exc)) from None
        suspects.append(check_axis(name, values, apath, base_data, model, positions))
        axes.append(Axis(name=name, path=apath, values=values))

    derived: list[Derived] = []
    defined: set[str] = set()
    for name, text in spec.derived.items():
        where = f"derived.{name}"
        expr = _parse(text, where, positions)
        try:
            dpath: tuple[str | int, ...] | None = resolve_path(full, name)
        except KeyError:
            dpath = None
            if not name.isidentifier() or name in BUILTIN_NAMES or name in METRICS:
                raise positions.error(
                    where,
                    f"a derived name is either a field of the base {what} (to set "
                    "it) or a new plain name (letters, digits, _) that is not a builtin "
                    f"({', '.join(BUILTIN_NAMES)}) or a metric",
                ) from None
        unknown = _known(expr.names, defined, full, set())
        if unknown is not None:
            raise positions.error(
                where,
                f"unknown name {unknown!r}: use fields of the base {what}, derived "
                f"names defined above, or {', '.join(BUILTIN_NAMES)}",
            )
        derived.append(Derived(name=name, expr=expr, path=dpath))
        if dpath is None:
            defined.add(name)

    check_suspects(axes, suspects, base_data, full, derived, model, positions)
    constraints = []
    for i, text in enumerate(spec.constraints):
        expr = _parse(text, f"constraints.{i}", positions)
        unknown = _known(expr.names, defined, full, METRICS)
        if unknown is not None:
            raise positions.error(
                f"constraints.{i}",
                f"unknown name {unknown!r}: use fields of the base "
                f"{what}, derived names, {', '.join(BUILTIN_NAMES)}, or metrics "
                f"({', '.join(sorted(METRICS))})",
            )
        constraints.append(Constraint(expr=expr, after_evaluation=bool(expr.names & METRICS)))

    objectives = []
    for name, direction in spec.objectives.items():
        column = BUILTIN_OBJECTIVES.get(name) or (name if name in METRICS else None)
        if column is None:
            allowed = [*BUILTIN_OBJECTIVES, *METRIC_COLUMNS, *SYSTEM_COLUMNS, *QUALITY_COLUMNS]
            raise positions.error(f"objectives.{name}", f"unknown objective {name!r}; allowed: {', '.join(allowed)}")
        objectives.append(
            Objective(name=name, column=column, direction="min" if direction.startswith("min") else "max")
        )

    workloads = []
    for i, rel in enumerate(spec.workloads):
        wpath = path.parent / rel
        problem = input_problem(wpath)
        if problem is not None:
            raise positions.error(f"workloads.{i}", input_file_message("workload", rel, path.parent, problem))
        workloads.append(wpath)
    sweep = Sweep(
        spec=spec,
        path=path,
        positions=positions,
        base_data=base_data,
        base_full=full,
        model=model,
        axes=tuple(axes),
        derived=tuple(derived),
        constraints=tuple(constraints),
        objectives=tuple(objectives),
        workloads=tuple(workloads),
    )
    used = {o.column for o in sweep.objectives}.union(*(c.expr.names for c in sweep.constraints))
    if sweep.kind == "arch" and used & set(SYSTEM_COLUMNS):
        names = ", ".join(sorted(used & set(SYSTEM_COLUMNS)))
        raise positions.error("objectives", f"{names}: metrics of systems (use system: as the base)")
    if sweep.kind == "system" and sweep.quality is not None:
        raise positions.error(
            "objectives", "quality metrics are not measured for systems (each core has its own numerics)"
        )
    _check_size(sweep)
    _check_designs(sweep)
    return sweep


def _check_size(sweep: Sweep) -> None:
    """Refuse a space too large for its strategy, before a single point is enumerated."""
    size = sweep.grid_size
    strategy = sweep.spec.strategy
    where = "strategy" if "strategy" in sweep.positions.lines else "axes"
    if isinstance(strategy, GridStrategy) and size > MAX_GRID_POINTS:
        raise sweep.positions.error(
            where,
            f"the grid has {size:,} design points, more than the limit of {MAX_GRID_POINTS:,} (MAX_GRID_POINTS); "
            "use fewer axis values, or strategy {kind: random, samples: N} or {kind: nsga2, trials: N}",
        )
    if size > MAX_SEARCH_SPACE:
        raise sweep.positions.error(
            "axes", f"the axes span {size:.3g} design points, more than {MAX_SEARCH_SPACE:,} (MAX_SEARCH_SPACE)"
        )


def _check_designs(sweep: Sweep) -> None:
    """Build the base design and the two axis corners (every axis at its first, then its last
    value): a derived value or constraint that fails on all of them fails on every design in all
    likelihood, and is reported at its line instead of rejecting each design at run time."""
    corners = [()] + [tuple((a, a.values[i]) for a in sweep.axes) for i in (0, -1)]
    points: list[DesignPoint] = [
        design_point(sweep.base_data, sweep.base_full, c, sweep.derived, sweep.constraints, sweep.model)
        for c in corners
    ]
    failed = [p for p in points if p.failed is not None]
    if len(failed) < len(points):
        return
    first = failed[0]
    where = first.failed or ("derived" if sweep.derived else "axes")
    raise sweep.positions.error(
        where,
        f"fails on the base design and on the axis corners, so in all likelihood on every design: {first.infeasible}",
    )
