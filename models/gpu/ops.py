"""Per-op timing of one model invocation, on CUDA or the CPU, mapped to trace-style ops.

A :class:`OpTimer` is a ``TorchDispatchMode``: it sees every aten op the model executes (the
same level the tracer records, so op order and names match a trace of the same model),
wraps each in a ``torch.profiler.record_function`` range named ``pj#<seq>``, and notes the
module path (from forward hooks), shapes, dtype and operand sizes. After the profiled run,
:func:`profile_step` reads each range's device time (CUDA kernels, via CUPTI) or CPU time
and returns a :class:`models.workload.Workload` of the non-view ops plus their times.

FLOPs and bytes are counted here from shapes for the ops that matter (convolution, matmuls,
fused attention; elementwise and norms by output size) so that a measurement file stands
on its own; a calibration can also align these ops with a separately traced workload.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from models.workload import Op, Workload

try:  # the tracer's op table; absent (or mid-edit) → the small fallback below
    from models.trace import ops as _trace_ops
except Exception:  # noqa: BLE001 - any import failure means "no tracer", not a crash
    _trace_ops = None  # type: ignore[assignment]

_KIND_BY_NAME: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attention", ("scaled_dot_product", "_flash_attention", "_efficient_attention")),
    ("conv", ("convolution", "conv2d", "conv1d", "conv_transpose")),
    ("gemm", ("addmm", "mm", "bmm", "baddbmm", "matmul", "linear")),
    ("norm", ("group_norm", "layer_norm", "batch_norm", "rms_norm", "native_norm")),
    ("softmax", ("softmax", "log_softmax")),
    ("pool", ("pool",)),
    ("resample", ("upsample", "interpolate", "grid_sampler", "pixel_shuffle")),
    ("reduction", ("sum", "mean", "amax", "amin", "max", "min", "var", "std", "norm", "argmax")),
    ("data", ("cat", "stack", "copy", "clone", "_to_copy", "index", "slice_scatter", "fill",
              "zeros", "ones", "empty", "full", "arange", "repeat", "constant_pad", "gather",
              "scatter", "contiguous", "lift_fresh", "scalar_tensor", "new_")),
)  # fmt: skip

#: FLOPs per output element of non-GEMM kinds (rough, documented counts: a norm computes
#: mean, variance, normalise and affine ≈ 5; softmax max, subtract, exp, sum, divide ≈ 5).
_FLOPS_PER_OUT: dict[str, int] = {"norm": 5, "softmax": 5, "elementwise": 1, "resample": 1,
                                  "pool": 1, "reduction": 1, "data": 0, "other": 1}  # fmt: skip


def op_kind(name: str) -> str:
    """Trace op kind of an aten op name (``aten.convolution.default`` → ``conv``)."""
    base = name.split(".")[1] if name.startswith("aten.") else name
    for kind, keys in _KIND_BY_NAME:
        if kind == "gemm":
            if base in keys:
                return kind
        elif any(k in base for k in keys):
            return kind
    return "elementwise"


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _dtype(t: torch.Tensor | None) -> str:
    return str(t.dtype).removeprefix("torch.") if t is not None else ""


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def gemm_view(base: str, tensors: list[torch.Tensor], out: torch.Tensor | None) -> tuple[int, int, int, int] | None:
    """``(batch, m, n, k)`` of a matmul / convolution / attention op, else ``None``."""
    shapes = [_shape(t) for t in tensors]
    if base in ("mm", "addmm") and len(shapes) >= 2:
        a, b = shapes[-2], shapes[-1]
        return (1, a[0], b[1], a[1])
    if base in ("bmm", "baddbmm") and len(shapes) >= 2:
        a, b = shapes[-2], shapes[-1]
        return (a[0], a[1], b[2], a[2])
    if base in ("convolution", "_convolution", "cudnn_convolution") and out is not None and len(shapes) >= 2:
        w = shapes[1]  # (O, C/g, R, S)
        o = _shape(out)
        groups = max(1, shapes[0][1] // max(1, w[1])) if len(shapes[0]) > 1 else 1
        m = o[0] * math.prod(o[2:])
        return (groups, m, w[0] // groups, math.prod(w[1:]))
    if "scaled_dot_product" in base or "attention" in base:
        q, k = shapes[0], shapes[1]
        heads = math.prod(q[:-2])
        return (heads, q[-2], k[-2], q[-1])
    return None


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
        if _trace_ops is not None:  # the tracer's own op costing: ops match a trace exactly
            c = _trace_ops.cost(func, args, kwargs, [t.numel() for t in flat_in], out_shape)
            kind, gemm, macs, flops = c.kind, c.gemm, int(c.macs), int(c.flops)
            view = bool(_trace_ops.is_view(func))
        else:
            kind, gemm, macs, flops, view = _own_cost(name, func, flat_in, flat_out)
        return _Record(
            seq=seq, name=name, kind=kind,
            module=self.module_stack[-1] if self.module_stack else "",
            view=view, dtype=_dtype(first_out), input_shapes=tuple(_shape(t) for t in flat_in),
            output_shape=out_shape, macs=macs, flops=flops, act_bytes=act, weight_bytes=weight,
            out_bytes=_nbytes(first_out) if first_out is not None else 0,
            weight_is_param=gemm is not None and kind != "attention" and any(is_param), gemm=gemm,
        )  # fmt: skip


def _own_cost(
    name: str, func: Any, flat_in: list[torch.Tensor], flat_out: list[torch.Tensor]
) -> tuple[str, tuple[int, int, int, int] | None, int, int, bool]:
    """Kind, GEMM view, MACs, FLOPs, is-view: the fallback when the tracer is absent."""
    base = name.split(".")[1] if name.startswith("aten.") else name
    first_out = flat_out[0] if flat_out else None
    kind = op_kind(name)
    gemm = gemm_view(base, flat_in, first_out) if kind in ("conv", "gemm", "attention") else None
    macs = 0
    if gemm is not None:
        b, m, n, k = gemm
        macs = b * m * n * k
        if kind == "attention" and len(flat_in) >= 3:  # QKᵀ and PV
            macs += b * m * n * _shape(flat_in[2])[-1]
    out_elems = sum(o.numel() for o in flat_out)
    flops = 2 * macs + (0 if macs else _FLOPS_PER_OUT.get(kind, 1) * out_elems)
    if kind == "attention" and gemm is not None:
        flops += 5 * gemm[0] * gemm[1] * gemm[2]  # the softmax inside
    view = bool(getattr(func, "is_view", False)) or base in ("view", "_unsafe_view", "t", "detach")
    return kind, gemm, macs, flops, view


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


def profile_step(
    run: Callable[[], Any], model: torch.nn.Module, device: str, *, provenance: dict[str, Any]
) -> tuple[Workload, tuple[OpTiming, ...]]:
    """Run ``run()`` once under the profiler and the op recorder; return ops and times."""
    params = frozenset(p.untyped_storage().data_ptr() for p in model.parameters())
    timer = OpTimer(param_ptrs=params)
    handles = _hook_modules(model, timer.module_stack)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    try:
        with torch.profiler.profile(activities=activities) as prof:
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
    return Workload(ops=tuple(ops), steps=1, provenance=provenance), tuple(timings)
