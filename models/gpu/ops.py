"""Per-op timing of one model invocation, on CUDA or the CPU, mapped to trace-style ops.

A :class:`OpTimer` is a ``TorchDispatchMode``: it sees every aten op the model executes (the
same level the tracer records, so op order and names match a trace of the same model),
wraps each in a ``torch.profiler.record_function`` range named ``pj#<seq>``, and notes the
module path (from forward hooks), shapes, dtype and operand sizes. After the profiled run,
:func:`profile_step` reads each range's device time (CUDA kernels, via CUPTI) or CPU time
and returns a :class:`models.workload.Workload` of the non-view ops plus their times.

Kinds, MACs and FLOPs come from the tracer's cost rules (:mod:`models.trace.ops`), bytes from
the operands, so a measurement file stands on its own and its ops match a trace of the same
model; a calibration can also align these ops with a separately traced workload.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from models.gpu.quiet import without_profiler_markers
from models.trace import ops as trace_ops
from models.workload import Op, Workload


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _dtype(t: torch.Tensor | None) -> str:
    return str(t.dtype).removeprefix("torch.") if t is not None else ""


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


@dataclass
class _Record:
    seq: int
    name: str
    kind: str
    module: str
    view: bool
    dtype: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    macs: int
    flops: int
    act_bytes: int
    weight_bytes: int
    out_bytes: int
    weight_is_param: bool
    gemm: tuple[int, int, int, int] | None


class OpTimer(TorchDispatchMode):
    """Record every aten op of a run, each inside a profiler range ``pj#<seq>``."""

    def __init__(self, param_ptrs: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.param_ptrs = param_ptrs  # storage addresses of the model's parameters
        self.records: list[_Record] = []
        self.module_stack: list[str] = []  # module paths, innermost last (forward hooks)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        seq = len(self.records)
        with torch.profiler.record_function(f"pj#{seq}"):
            out = func(*args, **kwargs)
        self.records.append(self._describe(seq, func, args, kwargs, out))
        return out

    def _describe(self, seq: int, func: Any, args: Any, kwargs: Any, out: Any) -> _Record:
        name = str(func)  # "aten.convolution.default"
        flat_in = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        flat_out = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        first_out = flat_out[0] if flat_out else None
        is_param = [t.untyped_storage().data_ptr() in self.param_ptrs for t in flat_in]
        act = sum(_nbytes(t) for t, p in zip(flat_in, is_param, strict=True) if not p)
        weight = sum(_nbytes(t) for t, p in zip(flat_in, is_param, strict=True) if p)
        out_shape = _shape(first_out) if first_out is not None else ()
        # the tracer's own op costing: ops match a trace of the same model exactly
        c = trace_ops.cost(func, args, kwargs, [t.numel() for t in flat_in], out_shape)
        return _Record(
            seq=seq, name=name, kind=c.kind,
            module=self.module_stack[-1] if self.module_stack else "",
            view=bool(trace_ops.is_view(func)), dtype=_dtype(first_out),
            input_shapes=tuple(_shape(t) for t in flat_in),
            output_shape=out_shape, macs=int(c.macs), flops=int(c.flops), act_bytes=act, weight_bytes=weight,
            out_bytes=_nbytes(first_out) if first_out is not None else 0,
            weight_is_param=c.gemm is not None and c.kind != "attention" and any(is_param), gemm=c.gemm,
        )  # fmt: skip


def _hook_modules(model: torch.nn.Module, stack: list[str]) -> list[Any]:
    handles = []
    for path, mod in model.named_modules():
        if not path:
            continue

        def pre(_m: Any, _a: Any, path: str = path) -> None:
            stack.append(path)

        def post(_m: Any, _a: Any, _o: Any) -> None:
            if stack:
                stack.pop()

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    return handles


@dataclass(frozen=True)
class OpTiming:
    """One non-view op and its measured time (device kernels on CUDA, CPU time on the CPU)."""

    index: int  # index in the returned workload's ops
    seq: int  # index among all dispatched ops (views included)
    time_s: float  # CUDA: summed duration of the op's kernels; CPU: CPU time of its range
    kernels: int = 0  # GPU activities (kernels, memcpy, memset) the op launched
    gpu_span_s: float = 0.0  # first kernel start to last kernel end of the op on the GPU


def _op_times(events: list[Any], device: str) -> tuple[dict[int, float], dict[int, int], dict[int, float]]:
    """Per op range ``pj#<seq>``: summed GPU activity seconds, activity count, GPU-side span.

    On CUDA the profiler mirrors each ``record_function`` range on the GPU timeline (a GPU
    user annotation named ``pj#<seq>`` spanning the kernels launched inside it). Every GPU
    activity (kernel, memcpy, memset) is assigned to the annotation whose interval holds its
    start, so each counts once and gaps between an op's kernels (host work under the
    profiler) do not. The span itself is returned too: it is what a first version of this
    harness recorded (``device_time_total``), an upper bound of the kernel time.
    On the CPU the time is the CPU time of the range.
    """
    times: dict[int, float] = {}
    counts: dict[int, int] = {}
    spans: dict[int, float] = {}
    if device != "cuda":
        for e in events:
            if e.name.startswith("pj#"):
                seq = int(e.name[3:])
                times[seq] = times.get(seq, 0.0) + float(e.cpu_time_total) * 1e-6
        return times, counts, spans
    on_gpu = [e for e in events if "CPU" not in str(e.device_type)]
    marks = sorted((e.time_range.start, e.time_range.end, int(e.name[3:])) for e in on_gpu if e.name.startswith("pj#"))
    starts = [m[0] for m in marks]
    for a, b, seq in marks:
        spans[seq] = spans.get(seq, 0.0) + (b - a) * 1e-6
    for e in on_gpu:
        if e.name.startswith("pj#"):
            continue
        k = bisect.bisect_right(starts, e.time_range.start) - 1
        if k >= 0 and e.time_range.start < marks[k][1]:
            seq = marks[k][2]
            times[seq] = times.get(seq, 0.0) + (e.time_range.end - e.time_range.start) * 1e-6
            counts[seq] = counts.get(seq, 0) + 1
    return times, counts, spans


@dataclass(frozen=True)
class ProfiledStep:
    """What :func:`profile_step` measured: the non-view ops, and the time of each."""

    workload: Workload
    timings: tuple[OpTiming, ...]  # one per op of ``workload``, in its order


def profile_step(
    run: Callable[[], Any], model: torch.nn.Module, device: str, *, provenance: dict[str, Any]
) -> ProfiledStep:
    """Run ``run()`` once under the profiler and the op recorder; return ops and times."""
    params = frozenset(p.untyped_storage().data_ptr() for p in model.parameters())
    timer = OpTimer(param_ptrs=params)
    handles = _hook_modules(model, timer.module_stack)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    try:
        with without_profiler_markers(), torch.profiler.profile(activities=activities) as prof:
            with timer:
                run()
            if device == "cuda":
                torch.cuda.synchronize()
    finally:
        for h in handles:
            h.remove()
    times, counts, dtt = _op_times(list(prof.events()), device)
    ops: list[Op] = []
    timings: list[OpTiming] = []
    for r in timer.records:
        if r.view:
            continue
        timings.append(OpTiming(len(ops), r.seq, times.get(r.seq, 0.0), counts.get(r.seq, 0), dtt.get(r.seq, 0.0)))
        ops.append(
            Op(name=r.name, kind=r.kind, module=r.module, dtype=r.dtype,
               input_shapes=r.input_shapes, output_shape=r.output_shape, gemm=r.gemm,
               macs=r.macs, flops=r.flops, act_bytes=r.act_bytes, weight_bytes=r.weight_bytes,
               out_bytes=r.out_bytes, weight_is_param=r.weight_is_param)
        )  # fmt: skip
    return ProfiledStep(Workload(ops=tuple(ops), steps=1, provenance=provenance), tuple(timings))
