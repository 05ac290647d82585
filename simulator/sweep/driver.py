"""``picojoule sweep``: evaluate a sweep file's design points with an executor, resumably.

The driver builds the design points, skips every (point, workload) already in the store,
hands the rest to the executor and records each outcome as it arrives (the driver is the only
writer of the store). At the end it exports ``results.csv`` (every point), ``pareto.csv``
(the non-dominated feasible points, per workload) and ``report.html``, and returns a
:class:`SweepSummary` that says, besides the counts, why points failed or were left out:
:class:`Reason` s grouped by the first line of their error, each with an example design point.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from accelerator.files import ensure_out_dir
from simulator.sweep.executors import Executor, open_executor
from simulator.sweep.export import export
from simulator.sweep.points import (
    DesignPoint,
    Nsga2Search,
    build_point,
    combine_workloads,
    grid_values,
    meets_post_constraints,
    task_key,
    workload_ids,
)
from simulator.sweep.spec import Nsga2Strategy, Sweep, load_sweep
from simulator.sweep.store import Record, ResultStore, exclusive_store
from simulator.sweep.worker import Outcome, Task, WorkerSetup
from simulator.version import simulator_version

#: Why a (design point, workload) did not count: its evaluation ``failed``; the design point was
#: ``rejected`` before evaluation (a constraint on axis values, an invalid spec); it was evaluated
#: but missed a constraint on its metrics (``unmet``).
ReasonKind = Literal["failed", "rejected", "unmet"]


@dataclass(frozen=True)
class Reason:
    """Points left out for one reason: the first line of their error text."""

    kind: ReasonKind
    reason: str
    count: int  # evaluations (failed, unmet) or design points (rejected)
    example: Mapping[str, Any]  # the axis and derived values of the first such design point
    example_point: str  # its point id (first 10 hex digits; "" when rejected: it has none)
    example_workload: str  # the workload label ("" when rejected: no workload was tried)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "count": self.count,
            "example": {"params": dict(self.example), "point": self.example_point, "workload": self.example_workload},
        }


def first_line(error: str | None) -> str:
    """The reason a failure is grouped by: the first non-empty line of its error text."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[0] if lines else "no reason recorded"


def group_reasons(records: Iterable[Record], rejected: Iterable[DesignPoint]) -> tuple[Reason, ...]:
    """Failed and unmet evaluations and rejected design points, grouped by kind and first
    line of the reason; most frequent first within each kind (failed, rejected, unmet)."""
    groups: dict[tuple[ReasonKind, str], list[tuple[Mapping[str, Any], str, str]]] = {}
    for r in records:
        if r.status == "failed":
            groups.setdefault(("failed", first_line(r.error)), []).append((r.params, r.point_id[:10], r.workload))
        elif not r.feasible:
            groups.setdefault(("unmet", first_line(r.error)), []).append((r.params, r.point_id[:10], r.workload))
    for p in rejected:
        groups.setdefault(("rejected", first_line(p.infeasible)), []).append((p.params, "", ""))
    order = {"failed": 0, "rejected": 1, "unmet": 2}
    ranked = sorted(groups.items(), key=lambda kv: (order[kv[0][0]], -len(kv[1]), kv[0][1]))
    return tuple(
        Reason(kind=kind, reason=reason, count=len(items), example=items[0][0],
               example_point=items[0][1], example_workload=items[0][2])
        for (kind, reason), items in ranked
    )  # fmt: skip


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep run did; ``to_json`` is the ``--json`` line."""

    points: int  # (design point, workload) evaluations the sweep comprises
    done: int  # of them, evaluated successfully (in this run or before)
    failed: int  # of them, recorded as failed
    skipped_already_done: int  # found in the store at the start, not evaluated again
    evaluated: int  # evaluated in this run
    infeasible: int  # design points rejected before evaluation (constraints, invalid specs)
    pareto_points: int  # rows of pareto.csv
    out_dir: Path
    table: str  # best designs per objective
    warnings: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()  # why points failed, were rejected or missed a constraint

    def to_json(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "done": self.done,
            "failed": self.failed,
            "skipped_already_done": self.skipped_already_done,
            "pareto_points": self.pareto_points,
            "evaluated": self.evaluated,
            "infeasible": self.infeasible,
            "reasons": [r.to_json() for r in self.reasons],
        }


def workload_labels(sweep: Sweep) -> tuple[str, ...]:
    """Short, distinct workload names for tables (file names, indexed when two are equal)."""
    names = [p.name.split(".")[0] for p in sweep.workloads]
    return tuple(n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names))


class _Driver:
    """Turns design points into tasks, records outcomes, keeps the counts."""

    def __init__(
        self,
        sweep: Sweep,
        store: ResultStore,
        retry_failed: bool,
        progress: bool,
        on_outcome: Callable[[Outcome], None] | None,
    ) -> None:
        self.sweep = sweep
        self.store = store
        self.retry_failed = retry_failed
        self.on_outcome = on_outcome
        self.wl_ids = workload_ids(sweep, simulator_version())
        self.labels = workload_labels(sweep)
        self.keys: dict[str, tuple[DesignPoint, int]] = {}  # every task of the sweep, in order
        # metrics of feasible done points (None: failed or infeasible), which NSGA-II is told
        self.keep_metrics = isinstance(sweep.spec.strategy, Nsga2Strategy)
        self.metrics: dict[str, dict[str, float] | None] = {}
        self.rejected: dict[tuple[Any, ...], DesignPoint] = {}  # by axis values, with the reason
        self.skipped = self.evaluated = self.failed_now = 0
        self.bar = _progress_bar(sweep.spec.name, progress)

    def tasks(self, points: Iterable[DesignPoint]) -> list[Task]:
        """Tasks of ``points`` not yet in the store (each key once)."""
        new: list[str] = []
        for p in points:
            if p.infeasible is not None:
                self.rejected.setdefault(tuple(sorted((k, repr(v)) for k, v in p.params.items())), p)
                continue
            for w, wl_id in enumerate(self.wl_ids):
                key = task_key(p.point_id, wl_id)
                if key not in self.keys:
                    self.keys[key] = (p, w)
                    new.append(key)
        found = self.store.recorded(new)
        if found and self.keep_metrics:
            for r in self.store.records(found):
                self.metrics[r.key] = dict(r.metrics) if r.status == "done" and r.feasible else None
        todo = [k for k in new if k not in found or (self.retry_failed and found[k] == "failed")]
        self.skipped += len(new) - len(todo)
        self.bar.total = (self.bar.total or 0) + len(todo)
        self.bar.refresh()
        return [Task(key=k, workload=self.keys[k][1], arch=self.keys[k][0].arch) for k in todo]

    def record(self, o: Outcome) -> None:
        point, w = self.keys[o.key]
        unmet = meets_post_constraints(self.sweep, point, dict(o.metrics)) if o.ok else None
        self.store.write(
            [
                Record(
                    key=o.key,
                    point_id=point.point_id,
                    workload=self.labels[w],
                    status="done" if o.ok else "failed",
                    attempts=o.attempts,
                    params=point.params,
                    metrics=o.metrics,
                    feasible=o.ok and unmet is None,
                    error=o.error or unmet,
                    eval_s=o.eval_s,
                    worker=o.worker,
                    arch=point.arch,
                )
            ]
        )
        if self.keep_metrics:
            self.metrics[o.key] = dict(o.metrics) if o.ok and unmet is None else None
        self.evaluated += 1
        self.failed_now += not o.ok
        self.bar.set_postfix_str(
            f"done {self.evaluated - self.failed_now}, failed {self.failed_now}, already done {self.skipped}",
            refresh=False,
        )
        self.bar.update(1)
        if self.on_outcome is not None:
            self.on_outcome(o)

    def evaluate(self, executor: Executor, tasks: Sequence[Task]) -> None:
        for outcome in executor.run(tasks):
            self.record(outcome)

    def grid(self, executor: Executor) -> None:
        self.evaluate(executor, self.tasks(build_point(self.sweep, v) for v in grid_values(self.sweep)))

    def search(self, executor: Executor) -> None:
        search = Nsga2Search(self.sweep)
        while generation := search.ask():
            points = [build_point(self.sweep, values) for _, values in generation]
            self.evaluate(executor, self.tasks(points))
            for (trial, _), p in zip(generation, points, strict=True):
                search.tell(trial, self._objective_values(p))

    def _objective_values(self, p: DesignPoint) -> list[float] | None:
        if p.infeasible is not None:
            return None
        per_wl = [self.metrics.get(task_key(p.point_id, wl_id)) for wl_id in self.wl_ids]
        if any(m is None for m in per_wl):
            return None
        return [combine_workloads([m[o.column] for m in per_wl if m is not None]) for o in self.sweep.objectives]


def _progress_bar(name: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=0,
        desc=name,
        unit="pt",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def run_sweep(
    path: str | Path,
    out_dir: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    progress: bool = False,
    report: bool = True,
    retry_failed: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_executor: Callable[[Executor], None] | None = None,
) -> SweepSummary:
    """Run (or resume) the sweep at ``path``, writing into ``out_dir`` (report.html unless
    ``report`` is False).

    ``on_outcome`` sees every outcome after it is stored; ``on_executor`` sees the executor once
    it is started (tests use both to inject faults).
    """
    sweep = load_sweep(path)
    out = ensure_out_dir(out_dir)  # a bad --out fails here, before the store or any worker
    setup = WorkerSetup(
        workloads=tuple(str(p.resolve()) for p in sweep.workloads),
        steps=sweep.spec.steps,
        fidelity=sweep.spec.fidelity,
        quality=sweep.quality,
        system=sweep.kind == "system",
    )
    ex = sweep.spec.execution
    # one driver per --out: a second one is refused before it opens the store
    with exclusive_store(out):
        with ResultStore(out / "results.sqlite") as store:
            driver = _Driver(sweep, store, retry_failed, progress, on_outcome)
            runner = open_executor(
                executor,
                setup,
                workers=workers,
                max_attempts=ex.max_attempts,
                batch_size=ex.batch_size,
                point_timeout_s=ex.point_timeout_s,
                jobqueue=ex.jobqueue,
            )
            try:
                if on_executor is not None:
                    on_executor(runner)
                if isinstance(sweep.spec.strategy, Nsga2Strategy):
                    driver.search(runner)
                else:
                    driver.grid(runner)
            finally:
                runner.close()
                driver.bar.close()
            records = list(store.records(driver.keys))
        pareto_n, table = export(sweep, records, driver.labels, out, report)
    failed = sum(1 for r in records if r.status == "failed")
    return SweepSummary(
        points=len(driver.keys),
        done=len(records) - failed,
        failed=failed,
        skipped_already_done=driver.skipped,
        evaluated=driver.evaluated,
        infeasible=len(driver.rejected),
        pareto_points=pareto_n,
        out_dir=out,
        table=table,
        warnings=tuple(getattr(runner, "warnings", ())),
        reasons=group_reasons(records, driver.rejected.values()),
    )
