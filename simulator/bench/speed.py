"""The simulator's speed on the standard workloads: the document ``picojoule bench`` prints.

For every standard workload (:func:`simulator.bench.workloads.standard_workloads`: the committed
traces, and SD-1.5) and every design in ``scenarios/arch/`` (both packaged with the wheel,
:mod:`simulator.bench.inputs`, or another folder given as ``inputs``), :func:`run_bench` times
:func:`simulator.evaluation.evaluate_prepared` (mapping included; the workload is prepared once,
as sweeps do) on the one-level memory model (each design with ``mapping.memory_model: one_level``,
whatever it names) in the analytic and the event mode, and reports the mean over designs of the
fastest of ``repeat`` runs (the event mode: one run of the first traced step, times the
trace's steps, since every step is simulated alike). Times are CPU time of this process
(``time.process_time``), one core: on a shared machine that is steadier than wall time. The
document::

    {"analytic_ms_per_design": {workload: ms}, "event_ms_per_design": {workload: ms},
     "designs_per_s_per_core": {workload: n}, ...}

plus the targets of issue 4 (SD-1.5 step < 50 ms analytic and < 2 s event, ≥ 20 designs/s on
the DDPM CIFAR-10 step), the same workloads and designs with ``mapping.memory_model: nest`` and
each design's own search strategy (the committed designs: ``fast``) under ``"nest"`` (cold:
every mapping searched; warm: every mapping in the process's memo; :mod:`simulator.bench.nest`,
``nest=False`` leaves them out) with the same targets, and the
executor throughput ratios of the sweep engine (:mod:`simulator.sweep.bench`; ``sweep=False``
leaves them out: they take minutes).
``progress`` is told of every finished measurement (:class:`BenchProgress`); it runs outside
the timed calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from accelerator.errors import SpecError
from accelerator.spec import ArchSpec, load_arch
from models.workload import Workload
from simulator.bench.inputs import SWEEP_BASE_ARCH, SWEEP_WORKLOAD, BenchInputs, bench_inputs
from simulator.bench.nest import model_designs, nest_rows, nest_targets
from simulator.bench.workloads import standard_workloads
from simulator.evaluation import evaluate_prepared
from simulator.optable import prepare
from simulator.sweep import bench as sweep_bench

#: Issue 4's speed targets (ratios to watch, not timed tests).
TARGETS = {"sd15_analytic_ms": 50.0, "sd15_event_ms": 2000.0, "ddpm_designs_per_s_per_core": 20.0}

STAGE_DESIGNS = "designs"
"""Stage of the per-design timings: one unit per (workload, design, fidelity)."""
STAGE_NEST = "nest designs"
"""Stage of the nest engine's timings: one unit per (workload, design)."""
STAGE_SWEEP = "sweep points"
"""Stage of the sweep executors' throughput runs: one unit per evaluated point."""


@dataclass(frozen=True)
class BenchProgress:
    """One finished unit of the bench: ``done`` of ``total`` in ``stage``; ``item`` names it."""

    stage: str  # STAGE_DESIGNS, STAGE_NEST or STAGE_SWEEP
    done: int
    total: int
    item: str  # e.g. "tiny-unet edge-os-int8 event"


ProgressFn = Callable[[BenchProgress], None]


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
    nest: bool = True,
    archs: Sequence[ArchSpec] | None = None,
    inputs: BenchInputs | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Measure and return the bench document (see the module docstring).

    ``inputs`` defaults to the packaged designs and traces; ``archs`` replaces its designs.
    """
    if inputs is None:
        inputs = bench_inputs()
    given = list(archs) if archs is not None else [load_arch(p) for p in inputs.arch_files()]
    if not given:
        raise SpecError(f"the bench has no designs: {inputs.arch_dir} holds no *.yaml")
    # The analytic and event rows time the one-level model whatever the designs name (the committed
    # ones name the nest engine); the "nest" rows time the nest engine with each design's search.
    designs, skipped = model_designs(given, "one_level")
    if not designs:
        raise SpecError(f"the bench has no design the one-level model runs: {skipped}")
    available = standard_workloads(inputs)
    names = list(workloads) if workloads else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SpecError(f"unknown bench workload(s) {unknown}; available: {', '.join(available)}")
    report = progress or (lambda _p: None)
    total = len(names) * len(designs) * (2 if event else 1)
    done = 0

    def timed(fn: Callable[[], object], runs: int, item: str) -> float:
        nonlocal done
        ms = _cpu_ms(fn, runs)
        done += 1
        report(BenchProgress(STAGE_DESIGNS, done, total, item))
        return ms

    doc: dict[str, Any] = {
        "analytic_ms_per_design": {},
        "event_ms_per_design": {},
        "designs_per_s_per_core": {},
        "event_ms_per_step": {},
        "ops": {},
        "steps": {},
    }
    tables = {}
    for name in names:
        w = available[name]
        table = tables[name] = prepare(w)
        analytic = [timed(partial(evaluate_prepared, table, a), repeat, f"{name} {a.name} analytic") for a in designs]
        # The rate is derived from the reported (rounded) time, so the document agrees with itself.
        ms = max(round(sum(analytic) / len(analytic), 3), 0.001)
        doc["analytic_ms_per_design"][name] = ms
        doc["designs_per_s_per_core"][name] = round(1e3 / ms, 2)
        doc["ops"][name] = len(w.ops)
        doc["steps"][name] = w.steps
        if event:
            # The event model simulates each traced step alike: time the first one and scale.
            first = prepare(first_step(w))
            ev = [
                timed(partial(evaluate_prepared, first, a, fidelity="event"), 1, f"{name} {a.name} event")
                for a in designs
            ]
            per_step = sum(ev) / len(ev)
            doc["event_ms_per_step"][name] = round(per_step, 3)
            doc["event_ms_per_design"][name] = round(per_step * w.steps, 3)
    doc["designs"] = [a.name for a in designs]
    doc["skipped"] = skipped  # designs the one-level model refuses (the nest rows may still time them)
    doc["clock"] = "time.process_time: CPU ms of this process, one core; fastest of repeats"
    doc["targets"] = _targets(doc)
    if nest:
        n_nest, total_nest = 0, len(tables) * len(designs)

        def on_nest(item: str) -> None:
            nonlocal n_nest
            n_nest += 1
            report(BenchProgress(STAGE_NEST, n_nest, total_nest, item))

        doc["nest"] = nest_rows(tables, given, repeat, on_nest)
        doc["targets"].update(nest_targets(doc["nest"]))
    if sweep:
        doc["sweep_executors"] = _sweep_ratios(inputs, report)
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


def _sweep_ratios(inputs: BenchInputs, report: ProgressFn) -> dict[str, Any]:
    """The sweep engine's executor ratios, or the error that stopped them."""

    def on_point(done: int, total: int) -> None:
        report(BenchProgress(STAGE_SWEEP, done, total, "executor throughput"))

    try:
        bench = sweep_bench.executor_throughput(
            inputs.workloads_dir / SWEEP_WORKLOAD, inputs.arch_dir / SWEEP_BASE_ARCH, on_point=on_point
        )
    except Exception as exc:  # noqa: BLE001 - report, do not lose the simulator's numbers
        return {"error": f"{type(exc).__name__}: {exc}"}
    result: dict[str, Any] = bench.as_dict()
    return result
