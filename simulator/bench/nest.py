"""The loop-nest engine's speed on the bench's workloads: the ``nest`` part of ``picojoule bench``.

Every bench design is copied with ``mapping.memory_model: nest``, its search strategy as it names
it (the committed designs: ``fast``; a design without a mapping: ``sampled``) (a design the spec or the nest
engine refuses is listed under ``skipped`` with the reason). Per workload and design, :func:`nest_rows` times
:func:`simulator.evaluation.evaluate_prepared` (the workload prepared once, as sweeps do) twice:

- ``cold``: every mapping searched (:func:`simulator.cost.nest.search.clear_caches` first: the
  process has mapped nothing), one run: a design a sweep has not seen before;
- ``warm``: the same design again, fastest of ``repeat`` runs: every (shape, design) found in
  the process's memo (:mod:`simulator.cost.nest.memo`), as when a sweep revisits a design or
  varies only what the mapper does not see (sparsity, numerics, leakage).

One evaluation of the first design runs untimed before, so that loading numba's compiled
kernels is not counted. Times are CPU time of this process (``time.process_time``), one core.
The document::

    {"cold_ms_per_design": {workload: ms}, "warm_ms_per_design": {workload: ms},
     "cold_designs_per_s_per_core": {workload: n}, "warm_designs_per_s_per_core": {workload: n},
     "searches_per_design": {workload: n}, "designs": [...], "skipped": {design: reason}}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from accelerator.errors import SimulationError, SpecError
from accelerator.spec import ArchSpec
from simulator.cost import nest_sparsity_batch
from simulator.cost.nest.memo import SHARED
from simulator.cost.nest.search import clear_caches
from simulator.evaluation import evaluate_prepared
from simulator.optable import OpTable

#: Issue 4's targets applied to the nest engine (ratios to watch, not timed tests).
NEST_TARGETS = {"sd15_nest_ms": 50.0, "ddpm_nest_designs_per_s_per_core": 20.0}


def with_memory_model(arch: ArchSpec, model: str) -> ArchSpec:
    """``arch`` with ``mapping.memory_model: model`` (validated again: the spec checks depend on it);
    the rest of its mapping (the nest's search strategy, seed, samples) as the design gives it."""
    doc = arch.model_dump()
    doc["mapping"] = {**doc["mapping"], "memory_model": model}
    return type(arch).model_validate(doc)


def nest_copy(arch: ArchSpec) -> ArchSpec:
    """``arch`` with ``mapping.memory_model: nest``."""
    return with_memory_model(arch, "nest")


def model_designs(archs: Sequence[ArchSpec], model: str) -> tuple[list[ArchSpec], dict[str, str]]:
    """The copies of ``archs`` with ``mapping.memory_model: model`` the spec accepts, and the reason
    for each it refuses (a row-stationary design runs on the nest engine only)."""
    kept: list[ArchSpec] = []
    skipped: dict[str, str] = {}
    for arch in archs:
        try:
            kept.append(with_memory_model(arch, model))
        except (SpecError, ValidationError) as exc:
            skipped[arch.name] = _reason(exc)
    return kept, skipped


def nest_designs(archs: Sequence[ArchSpec]) -> tuple[list[ArchSpec], dict[str, str]]:
    """The nest copies of ``archs`` the spec accepts, and the reason for each it refuses."""
    return model_designs(archs, "nest")


def _reason(exc: Exception) -> str:
    """One line: the first problem of a spec error (a ValidationError's field and message)."""
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return f"{where + ': ' if where else ''}{first['msg']}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def _cpu_s(fn: Callable[[], object]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _clear_all() -> None:
    """Every process-wide cache of the nest path: the mapper's and the sparsity's register counts."""
    clear_caches()
    nest_sparsity_batch.SHARED.clear()


def time_design(table: OpTable, nest: ArchSpec, repeat: int) -> tuple[float, float, int]:
    """(cold ms, warm ms, searches) of one nest design on ``table`` (see the module docstring)."""
    _clear_all()
    cold = _cpu_s(lambda: evaluate_prepared(table, nest))
    searches = SHARED.misses
    warm = min(_cpu_s(lambda: evaluate_prepared(table, nest)) for _ in range(max(repeat, 1)))
    return cold * 1e3, warm * 1e3, searches


def nest_rows(
    tables: dict[str, OpTable],
    archs: Sequence[ArchSpec],
    repeat: int,
    on_design: Callable[[str], None] = lambda _item: None,
) -> dict[str, Any]:
    """The nest document for the prepared workloads ``tables`` (see the module docstring);
    ``on_design`` is told of every (workload, design) after it ran (or was refused: a design the
    nest engine refuses on one workload is left out of the later ones, and still reported)."""
    doc: dict[str, Any] = {
        "cold_ms_per_design": {},
        "warm_ms_per_design": {},
        "cold_designs_per_s_per_core": {},
        "warm_designs_per_s_per_core": {},
        "searches_per_design": {},
        "skipped": {},
    }
    designs, doc["skipped"] = nest_designs(archs)
    loaded = False
    for name, table in tables.items():
        cold, warm, searches = [], [], []
        for nest in designs:
            if nest.name in doc["skipped"]:
                continue
            try:
                if not loaded:  # untimed: loads (or compiles) numba's kernels
                    evaluate_prepared(table, nest)
                    loaded = True
                c, w, s = time_design(table, nest, repeat)
            except SimulationError as exc:  # the nest engine refuses this design
                doc["skipped"][nest.name] = _reason(exc)
            else:
                cold.append(c)
                warm.append(w)
                searches.append(s)
            on_design(f"{name} {nest.name} nest")
        if not cold:
            continue
        for kind, values in (("cold", cold), ("warm", warm)):
            # rates from the reported (rounded) times, so the document agrees with itself
            ms = max(round(sum(values) / len(values), 3), 0.001)
            doc[f"{kind}_ms_per_design"][name] = ms
            doc[f"{kind}_designs_per_s_per_core"][name] = round(1e3 / ms, 2)
        doc["searches_per_design"][name] = round(sum(searches) / len(searches), 1)
    _clear_all()
    doc["designs"] = [d.name for d in designs if d.name not in doc["skipped"]]
    doc["clock"] = (
        "time.process_time: CPU ms of this process, one core; cold: one run with no mapping known, "
        "warm: fastest of repeats with every mapping in the process's memo"
    )
    return doc


def nest_targets(doc: dict[str, Any]) -> dict[str, Any]:
    """The targets and whether the cold and the warm numbers meet them."""
    out: dict[str, Any] = dict(NEST_TARGETS)
    sd = next((k for k in doc["cold_ms_per_design"] if k.startswith(("sd15", "sd-1.5"))), None)
    for kind in ("cold", "warm"):
        if sd is not None:
            out[f"sd15_nest_{kind}_met"] = doc[f"{kind}_ms_per_design"][sd] <= NEST_TARGETS["sd15_nest_ms"]
        rate = doc[f"{kind}_designs_per_s_per_core"].get("ddpm-cifar10")
        if rate is not None:
            out[f"ddpm_nest_{kind}_met"] = rate >= NEST_TARGETS["ddpm_nest_designs_per_s_per_core"]
    return out
