"""The simulator's speed on the standard workloads: the document ``picojoule bench`` prints.

For every standard workload (:func:`simulator.bench.workloads.standard_workloads`: the committed
traces, and SD-1.5) and every design in ``scenarios/arch/``, :func:`run_bench` times
:func:`simulator.evaluation.evaluate_prepared` (mapping included; the workload is prepared once,
as sweeps do) in the analytic and the event mode, and reports the mean over designs of the
fastest of ``repeat`` runs (the event mode: one run of the first traced step, times the
trace's steps, since every step is simulated alike). Times are CPU time of this process
(``time.process_time``), one core: on a shared machine that is steadier than wall time. The
document::

    {"analytic_ms_per_design": {workload: ms}, "event_ms_per_design": {workload: ms},
     "designs_per_s_per_core": {workload: n}, ...}

plus the targets of issue 4 (SD-1.5 step < 50 ms analytic and < 2 s event, ≥ 20 designs/s on
the DDPM CIFAR-10 step) and the executor throughput ratios of the sweep engine
(:mod:`simulator.sweep.bench`; ``sweep=False`` leaves them out: they take minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError
from accelerator.spec import ArchSpec, load_arch
from models.workload import Workload
from simulator.bench.workloads import standard_workloads
from simulator.evaluation import evaluate_prepared
from simulator.optable import prepare
from simulator.sweep import bench as sweep_bench

ARCH_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "arch"
#: Issue 4's speed targets (ratios to watch, not timed tests).
TARGETS = {"sd15_analytic_ms": 50.0, "sd15_event_ms": 2000.0, "ddpm_designs_per_s_per_core": 20.0}


def _cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs of ``fn`` in CPU milliseconds (after one warm-up run)."""
    fn()
    best = float("inf")
    for _ in range(max(repeat, 1)):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best * 1e3


def first_step(w: Workload) -> Workload:
    """``w`` cut to its first traced step (statistics included)."""
    stats = {k: table[:1] for k, table in w.stats.items()}
    return Workload(ops=w.ops, steps=1, provenance=w.provenance, stats=stats)


def run_bench(
    workloads: Sequence[str] | None = None,
    *,
    repeat: int = 3,
    event: bool = True,
    sweep: bool = True,
    archs: Sequence[ArchSpec] | None = None,
) -> dict[str, Any]:
    """Measure and return the bench document (see the module docstring)."""
    designs = list(archs) if archs is not None else [load_arch(p) for p in sorted(ARCH_DIR.glob("*.yaml"))]
    available = standard_workloads()
    names = list(workloads) if workloads else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SpecError(f"unknown bench workload(s) {unknown}; available: {', '.join(available)}")
    doc: dict[str, Any] = {
        "analytic_ms_per_design": {},
        "event_ms_per_design": {},
        "designs_per_s_per_core": {},
        "event_ms_per_step": {},
        "ops": {},
        "steps": {},
    }
    for name in names:
        w = available[name]
        table = prepare(w)
        analytic = [_cpu_ms(partial(evaluate_prepared, table, a), repeat) for a in designs]
        # The rate is derived from the reported (rounded) time, so the document agrees with itself.
        ms = max(round(sum(analytic) / len(analytic), 3), 0.001)
        doc["analytic_ms_per_design"][name] = ms
        doc["designs_per_s_per_core"][name] = round(1e3 / ms, 2)
        doc["ops"][name] = len(w.ops)
        doc["steps"][name] = w.steps
        if event:
            # The event model simulates each traced step alike: time the first one and scale.
            first = prepare(first_step(w))
            ev = [_cpu_ms(partial(evaluate_prepared, first, a, fidelity="event"), 1) for a in designs]
            per_step = sum(ev) / len(ev)
            doc["event_ms_per_step"][name] = round(per_step, 3)
            doc["event_ms_per_design"][name] = round(per_step * w.steps, 3)
    doc["designs"] = [a.name for a in designs]
    doc["clock"] = "time.process_time: CPU ms of this process, one core; fastest of repeats"
    doc["targets"] = _targets(doc)
    if sweep:
        doc["sweep_executors"] = _sweep_ratios()
    return doc


def _targets(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(TARGETS)
    sd = next((k for k in doc["analytic_ms_per_design"] if k.startswith(("sd15", "sd-1.5"))), None)
    if sd is not None:
        out["sd15_analytic_met"] = doc["analytic_ms_per_design"][sd] < TARGETS["sd15_analytic_ms"]
        if sd in doc["event_ms_per_step"]:
            out["sd15_event_met"] = doc["event_ms_per_step"][sd] < TARGETS["sd15_event_ms"]
    if "ddpm-cifar10" in doc["designs_per_s_per_core"]:
        out["ddpm_met"] = doc["designs_per_s_per_core"]["ddpm-cifar10"] >= TARGETS["ddpm_designs_per_s_per_core"]
    return out


def _sweep_ratios() -> dict[str, Any]:
    """The sweep engine's executor ratios, or the error that stopped them."""
    try:
        result: dict[str, Any] = sweep_bench.executor_throughput().as_dict()
    except Exception as exc:  # noqa: BLE001 - report, do not lose the simulator's numbers
        return {"error": f"{type(exc).__name__}: {exc}"}
    return result
