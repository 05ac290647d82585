"""Trace a model's whole sampling loop into a :class:`~models.workload.Workload`.

Entry points:

- :func:`trace` — a zoo model (or local model) by name: builds it, runs its sampling loop
  with the recorder around each model call, fills in provenance;
- :func:`trace_calls` — any ``torch.nn.Module`` and any function that calls it through a
  step hook (the building block; tests use it on small modules).

Without statistics only the first model call is recorded (the op structure is the same every
step; the recorder checks that when it sees more calls) and the loop is stopped there. With
statistics every call is recorded and ``stats[field][step][op]`` filled in. See
``docs/tracing.md`` and ``docs/workload-format.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from accelerator.errors import TraceError
from models.trace.provenance import provenance_for
from models.trace.recorder import Recorder
from models.trace.stats import StatsConfig
from models.workload import STAT_FIELDS, Op, Workload, stats_table
from models.zoo import SampleOptions, StepHook, ZooEntry, get


class _StopSampling(Exception):
    """Raised by the hook to end a sampling loop once the needed calls are recorded."""


@dataclass(frozen=True)
class Recording:
    """What :func:`trace_calls` saw."""

    ops: tuple[Op, ...]
    calls: int  # model calls recorded
    total_calls: int  # model calls the loop would make
    aten_ops_per_call: int  # every dispatched aten op of call 0, views included
    stats: dict[str, tuple[tuple[float | None, ...], ...]]
    unsupported: tuple[dict[str, Any], ...]


def trace_calls(
    model: Any,
    run: Callable[[StepHook], Any],
    *,
    stats: StatsConfig | None = None,
    max_calls: int | None = None,
) -> Recording:
    """Run ``run(hook)`` and record every model call made inside ``hook``.

    ``max_calls`` stops the loop after that many calls (default: 1 without statistics, all
    with statistics).
    """
    limit = max_calls if max_calls is not None else (None if stats is not None else 1)
    recorder = Recorder(model, stats)
    seen_total = [0]

    @contextlib.contextmanager
    def hook(step: int, total: int) -> Iterator[None]:
        seen_total[0] = max(seen_total[0], total)
        recorder.begin_call()
        with torch.no_grad(), recorder:
            yield
        recorder.end_call()
        if limit is not None and recorder.calls >= limit:
            raise _StopSampling

    try:
        run(hook)
    except _StopSampling:
        pass
    finally:
        recorder.close()
    if recorder.calls == 0:
        raise TraceError("the sampling loop made no model call through the hook; nothing traced")
    table: dict[str, tuple[tuple[float | None, ...], ...]] = {}
    if stats is not None:
        per_call = [stats_table(rows) for rows in recorder.stat_rows]
        n_ops = len(recorder.ops)
        for name in STAT_FIELDS:
            if any(name in t for t in per_call):
                table[name] = tuple(tuple(t.get(name, [None] * n_ops)) for t in per_call)
    unsupported = tuple(
        {"name": f"aten.{n}", "count": c, "reason": "no cost rule: FLOPs and MACs recorded as 0"}
        for n, c in sorted(recorder.unsupported.items())
    )
    return Recording(
        ops=tuple(recorder.ops),
        calls=recorder.calls,
        total_calls=max(seen_total[0], recorder.calls),
        aten_ops_per_call=recorder.aten_ops[0],
        stats=table,
        unsupported=unsupported,
    )


def _trace_fake(entry: ZooEntry, options: SampleOptions) -> tuple[Any, Recording]:
    """Build and run one model call on fake tensors (shapes only)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    with torch.random.fork_rng(devices=[]), mode:
        module = entry.build(options.resolution, options.seed)
        rec = trace_calls(module, lambda hook: entry.sample(module, options, hook), stats=None)
    return module, rec


def trace(
    model: str | ZooEntry,
    *,
    steps: int | None = None,
    resolution: int | None = None,
    batch: int = 1,
    scheduler: str = "native",
    stats: bool = False,
    seed: int = 0,
    cfg: bool | None = None,
    arch: str | None = None,
    stats_config: StatsConfig | None = None,
    fake: bool = False,
) -> Workload:
    """Trace a zoo model's sampling loop; ``stats`` records value statistics every step.

    ``fake`` (shape-only traces; ignored with statistics) runs the model on fake tensors
    (``FakeTensorMode``: shapes, dtypes and FLOPs with no values and no memory), so SD-1.5 at
    64² latents traces in seconds. The op sequence can differ from a real run in a few
    data-movement ops (a real kernel's output strides can force a ``clone`` for contiguity
    that fake strides do not; 4 of 166 ops on the SD VAE decoder); a model that needs real
    values falls back to a real run. ``provenance["execution"]`` says which ran.
    """
    entry = model if isinstance(model, ZooEntry) else get(model, arch=arch)
    options = entry.resolve(
        SampleOptions(steps=steps, resolution=resolution, batch=batch, scheduler=scheduler, seed=seed, cfg=cfg)
    )
    cfg_stats = (stats_config or StatsConfig()) if stats else None
    if entry.frontend == "onnx":
        from models.onnx.frontend import trace_entry  # lazy: onnx (absent on the GPU machines), for ONNX entries only

        return trace_entry(entry, options, cfg_stats)
    execution = "real"
    rec = None
    if cfg_stats is None and fake:
        try:
            module, rec = _trace_fake(entry, options)
            execution = "fake"
        except TraceError:
            raise
        except Exception:  # noqa: BLE001 - data-dependent ops: fall back to real values
            rec = None
    if rec is None:
        module = entry.build(options.resolution, seed)
        with torch.random.fork_rng(devices=[]):
            rec = trace_calls(module, lambda hook: entry.sample(module, options, hook), stats=cfg_stats)
    if cfg_stats is not None and rec.calls != rec.total_calls:
        raise TraceError(f"recorded {rec.calls} of {rec.total_calls} model calls")
    provenance = provenance_for(entry, options, module, rec.aten_ops_per_call, cfg_stats)
    provenance["execution"] = execution
    return Workload(
        ops=rec.ops,
        steps=rec.total_calls,
        provenance=provenance,
        stats=rec.stats,
        unsupported=rec.unsupported,
    )
