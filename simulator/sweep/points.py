"""Design points of a sweep: axis values → arch (or system) data → derived values → constraints → key.

A point's identity is the SHA-256 of its validated arch or system (canonical JSON, every default
filled in: a system's every core arch, network, links and schedule), so two axis settings that
build the same design are one point. The store key of an
evaluation adds the workload's content hash, the evaluation options and the simulator version.
Strategies: the full grid, a seeded random sample of it, and optuna's NSGA-II (ask/tell).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError
from simulator.sweep.design import DesignPoint, canonical_json, design_point, digest
from simulator.sweep.expressions import ExprError
from simulator.sweep.paths import get_path, resolve_path
from simulator.sweep.spec import Nsga2Strategy, RandomStrategy, Sweep

__all__ = [
    "DesignPoint",
    "Nsga2Search",
    "build_point",
    "canonical_json",
    "combine_workloads",
    "digest",
    "grid_values",
    "meets_post_constraints",
    "task_key",
    "workload_ids",
]


def build_point(sweep: Sweep, values: Sequence[Any]) -> DesignPoint:
    """The design point of one choice of axis values (in the order of ``sweep.axes``)."""
    settings = tuple(zip(sweep.axes, values, strict=True))
    return design_point(sweep.base_data, sweep.base_full, settings, sweep.derived, sweep.constraints, sweep.model)


def meets_post_constraints(sweep: Sweep, point: DesignPoint, metrics: dict[str, float]) -> str | None:
    """``None`` when the evaluated point meets every constraint on metrics, else the unmet one."""
    for c in sweep.constraints:
        if not c.after_evaluation:
            continue

        def look(name: str) -> Any:
            if name in metrics:
                return metrics[name]
            if name in point.params:
                return point.params[name]
            return get_path(point.arch, resolve_path(point.arch, name))

        try:
            if not c.expr.evaluate(look):
                return f"constraint not met: {c.expr.text}"
        except (ExprError, KeyError) as exc:
            return str(exc)
    return None


def workload_ids(sweep: Sweep, version: str) -> tuple[str, ...]:
    """Per workload: hash of its bytes, the evaluation options and the simulator version."""
    opts = canonical_json({"steps": sweep.spec.steps, "fidelity": sweep.spec.fidelity, "version": version})
    return tuple(digest(digest(Path(p).read_bytes()) + opts) for p in sweep.workloads)


def task_key(point_id: str, workload_id: str) -> str:
    return digest(f"{point_id}|{workload_id}")


def _decode(index: int, sizes: Sequence[int]) -> list[int]:
    """Mixed-radix digits of ``index``, the last axis fastest (itertools.product's order)."""
    out = []
    for n in reversed(sizes):
        index, d = divmod(index, n)
        out.append(d)
    return out[::-1]


def grid_values(sweep: Sweep) -> Iterator[tuple[Any, ...]]:
    """Axis values of the points a grid or random strategy visits, in a fixed order."""
    strategy = sweep.spec.strategy
    if isinstance(strategy, Nsga2Strategy):
        raise ValueError("NSGA-II asks for its points one generation at a time")
    if not isinstance(strategy, RandomStrategy):
        yield from itertools.product(*(a.values for a in sweep.axes))
        return
    sizes = [len(a.values) for a in sweep.axes]
    total = math.prod(sizes)
    for index in random.Random(strategy.seed).sample(range(total), min(strategy.samples, total)):
        yield tuple(a.values[d] for a, d in zip(sweep.axes, _decode(index, sizes), strict=True))


class Nsga2Search:
    """optuna's NSGA-II through ask/tell; the values it proposes are indices into each axis."""

    def __init__(self, sweep: Sweep) -> None:
        try:
            import optuna
        except ModuleNotFoundError:
            raise SpecError(
                "strategy nsga2 needs optuna: pip install 'picojoule[search]'",
                file=str(sweep.path),
                line=sweep.positions.line_of("strategy"),
                field="strategy.kind",
            ) from None
        strategy = sweep.spec.strategy
        assert isinstance(strategy, Nsga2Strategy)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.sweep = sweep
        self.strategy = strategy
        self._failed = optuna.trial.TrialState.FAIL
        sampler = optuna.samplers.NSGAIISampler(population_size=strategy.population, seed=strategy.seed)
        self.study = optuna.create_study(
            sampler=sampler,
            directions=["minimize" if o.direction == "min" else "maximize" for o in sweep.objectives],
        )
        self.asked = 0

    def ask(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """The next generation: (trial, axis values) pairs; empty when the budget is spent."""
        n = min(self.strategy.population, self.strategy.trials - self.asked)
        out = []
        for _ in range(n):
            trial = self.study.ask()
            idx = [trial.suggest_categorical(a.name, list(range(len(a.values)))) for a in self.sweep.axes]
            out.append((trial, tuple(a.values[i] for a, i in zip(self.sweep.axes, idx, strict=True))))
        self.asked += n
        return out

    def tell(self, trial: Any, values: Sequence[float] | None) -> None:
        """Report a trial's objective values (``None``: infeasible or failed)."""
        if values is None or any(not math.isfinite(v) for v in values):
            self.study.tell(trial, state=self._failed)
        else:
            self.study.tell(trial, list(values))


def combine_workloads(values: Sequence[float]) -> float:
    """One objective value over several workloads: the geometric mean (arithmetic if any ≤ 0)."""
    if all(v > 0 for v in values):
        return math.exp(sum(math.log(v) for v in values) / len(values))
    return sum(values) / len(values)
