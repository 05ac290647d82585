"""What a sweep worker does, whichever executor runs it: evaluate design points.

A worker gets a :class:`WorkerSetup` once, loads and prepares every workload once
(:class:`WorkerState`), then turns :class:`Task` s into :class:`Outcome` s. The executors
(serial, local pool, Dask) only move these records around; they do not know what a design is.

A point is an arch (:func:`simulator.evaluation.evaluate_prepared`) or, in a sweep over systems,
a multi-core system (:func:`simulator.system.evaluate_system`, layer fusion searched up to the
system's ``schedule.max_fusion_depth``: 1 runs layer by layer).

Metrics are the numbers a point is judged by: the columns of :data:`METRIC_COLUMNS`, which
every evaluation has (a system adds :data:`SYSTEM_COLUMNS`), and, when a sweep asks for them,
the image-quality columns of :data:`QUALITY_COLUMNS` from
:func:`models.numerics.session.quality_objective` (it runs the real model with the design's
numerics, so it needs torch: the ``trace`` extra). Quality depends on the numerics alone, so a
worker computes it once per distinct numerics and reuses it.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from accelerator.errors import PicojouleError
from accelerator.numerics import arch_numerics
from accelerator.spec import ArchSpec
from accelerator.system import SystemSpec
from models.numerics import session as numerics  # torch only when it runs a model
from models.workload import WorkloadError
from simulator.evaluation import evaluate_prepared
from simulator.optable import OpTable, prepare
from simulator.result import DesignResult
from simulator.scenario import load_workload
from simulator.system import SystemResult, evaluate_system

#: Metric columns every evaluated point has (unit in the name).
METRIC_COLUMNS = (
    "energy_j_per_image",
    "latency_s_per_image",
    "edp_j_s",
    "area_mm2",
    "energy_j_per_step",
    "latency_s_per_step",
    "mean_utilization",
)

#: Metric columns of a system's evaluation besides :data:`METRIC_COLUMNS` (per image).
SYSTEM_COLUMNS = ("dram_bytes_per_image", "noc_byte_hops_per_image", "d2d_bytes_per_image", "fusion_depth")

#: Image-quality metric columns and the field of quality_objective's record each one holds.
QUALITY_COLUMNS = {"quality_psnr_db": "psnr_db", "quality_ssim": "ssim", "quality_fd": "fd"}

#: Objective names of sweep files and the metric column each one reads.
BUILTIN_OBJECTIVES = {
    "energy_per_image": "energy_j_per_image",
    "latency_per_image": "latency_s_per_image",
    "area": "area_mm2",
    "edp": "edp_j_s",
    "quality": "quality_psnr_db",
}


@dataclass(frozen=True)
class QualitySetup:
    """Arguments of models.numerics.session.make_session: the model and images quality is judged on."""

    model: str = "digits-ddpm"
    images: int = 16
    steps: int = 20
    seed: int = 0
    calibration_images: int = 4


@dataclass(frozen=True)
class Task:
    """One design point on one workload."""

    key: str  # store key: hash of (design point, workload, simulator version)
    workload: int  # index into WorkerSetup.workloads
    arch: Mapping[str, Any]  # arch (or system: WorkerSetup.system) data, validated again by the worker


@dataclass(frozen=True)
class Outcome:
    key: str
    ok: bool
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1
    eval_s: float = 0.0
    worker: str = ""


def evaluate_task(state: WorkerState, task: Task) -> Outcome:
    """Evaluate one task; user errors and bugs alike become a failed :class:`Outcome`."""
    t0 = time.perf_counter()
    try:
        if state.setup.system:
            system = SystemSpec.model_validate(task.arch)
            res = evaluate_system(state.workloads[task.workload], system, steps=state.setup.steps, fused=True)
            metrics = system_metrics(res)
        else:
            arch = ArchSpec.model_validate(task.arch)
            result = evaluate_prepared(
                state.tables[task.workload],
                arch,
                steps=state.setup.steps,
                fidelity=state.setup.fidelity,
            )
            metrics = design_metrics(result)
            if state.setup.quality is not None:
                metrics.update(state.quality(arch))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        return Outcome(
            task.key,
            False,
            error=f"invalid design: {where}: {err['msg']}",
            eval_s=time.perf_counter() - t0,
            worker=state.name,
        )
    except (PicojouleError, WorkloadError) as exc:
        return Outcome(
            task.key,
            False,
            error=f"{type(exc).__name__}: {exc}",
            eval_s=time.perf_counter() - t0,
            worker=state.name,
        )
    except Exception as exc:  # a bug: keep the sweep going, keep the evidence
        tb = "".join(traceback.format_exception(exc, limit=-3)).strip()
        return Outcome(
            task.key,
            False,
            error=f"{type(exc).__name__}: {exc}\n{tb}",
            eval_s=time.perf_counter() - t0,
            worker=state.name,
        )
    return Outcome(task.key, True, metrics=metrics, eval_s=time.perf_counter() - t0, worker=state.name)


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs besides the tasks; sent once per worker."""

    workloads: tuple[str, ...]  # absolute paths
    steps: int | None = None
    fidelity: str = "analytic"
    quality: QualitySetup | None = None  # when the sweep reads quality metrics
    system: bool = False  # tasks are multi-core systems, not archs
    #: The function that evaluates a task (picklable by reference). Tests swap it to inject faults.
    evaluator: Callable[[WorkerState, Task], Outcome] = evaluate_task


class WorkerState:
    """A worker's prepared workloads: built once per worker process, used for every point."""

    def __init__(self, setup: WorkerSetup, name: str = "") -> None:
        self.setup = setup
        self.name = name
        self.workloads = tuple(load_workload(Path(p)) for p in setup.workloads)
        self.tables: tuple[OpTable, ...] = tuple(prepare(w) for w in self.workloads)
        self._quality_session: Any = None  # made on first use: it loads a model
        self._quality: dict[str, dict[str, float]] = {}  # by resolved numerics

    def run(self, task: Task) -> Outcome:
        return self.setup.evaluator(self, task)

    def quality(self, arch: ArchSpec) -> dict[str, float]:
        """Image-quality metrics of ``arch``'s numerics (computed once per distinct numerics)."""
        q = self.setup.quality
        assert q is not None  # only called when the sweep asks for quality
        key = json.dumps(arch_numerics(arch).model_dump(mode="json"), sort_keys=True)
        if key not in self._quality:
            if self._quality_session is None:
                self._quality_session = numerics.make_session(
                    q.model,
                    images=q.images,
                    steps=q.steps,
                    seed=q.seed,
                    calibration_images=q.calibration_images,
                )
            record = numerics.quality_objective(arch, session=self._quality_session)
            self._quality[key] = {
                col: float("nan") if record.get(f) is None else float(record[f]) for col, f in QUALITY_COLUMNS.items()
            }
        return self._quality[key]


def design_metrics(r: DesignResult) -> dict[str, float]:
    """The metric columns of one evaluation (per image unless the name says per step)."""
    return {
        "energy_j_per_image": r.energy_j_per_image,
        "latency_s_per_image": r.latency_s_per_image,
        "edp_j_s": r.edp_j_s,
        "area_mm2": float("nan") if r.area_mm2 is None else r.area_mm2,
        "energy_j_per_step": r.energy_j_per_step,
        "latency_s_per_step": r.latency_s_per_step,
        "mean_utilization": float(r.extras.get("mean_utilization", float("nan"))),
        **{f"energy_{k}_j": v for k, v in sorted(r.energy_breakdown_j.items())},
    }


def system_metrics(r: SystemResult) -> dict[str, float]:
    """The metric columns of one system's evaluation: :func:`design_metrics` of its row (the
    energy breakdown has ``noc`` and ``d2d``), the mean utilisation over its instances, its
    traffic and the fusion depth the search chose for the denoising step."""
    metrics = design_metrics(r.as_design())
    busy = [c.utilization for c in r.cores]
    traffic = r.traffic_bytes_per_image
    return {
        **metrics,
        "mean_utilization": sum(busy) / len(busy),
        "dram_bytes_per_image": float(traffic["dram"]),
        "noc_byte_hops_per_image": float(traffic["noc"]),
        "d2d_bytes_per_image": float(traffic["d2d"]),
        "fusion_depth": float(r.fusion_plan["step"]["depth"]),
    }
