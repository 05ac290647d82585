"""CUDA-graph replay of a measurement target (``picojoule gpu measure --mode graph``).

Eager PyTorch at batch 1 is host-bound on an H100 (the host takes as long to issue a step's
kernels as the GPU takes to run them; ``docs/gpu.md``), so eager timings measure the host.
A CUDA graph issues a whole model call with one launch, which leaves the GPU's own time.

What is captured, and why. One graph of the model's ``forward`` called with the inputs of one
step (``Target.step``): after warm-up calls on a side stream, the call is captured once. Then

- **step** = one replay of that graph (the step's inputs are fixed: they are the static
  inputs), timed like an eager step;
- **sample** = the target's *own* sampling loop, unchanged, with the model's ``forward``
  swapped for: copy this call's input tensors into the graph's static inputs, replay, return
  a copy of the static outputs — what a CUDA-graph deployment of a diffusers pipeline does.
  The loop's time is then measured, not modelled: replays, the copies and the scheduler.

Capturing the whole sampling loop instead is not feasible in general: the zoo's samplers keep
the latents and the diffusers scheduler on the CPU (the target's hooks move each call's
inputs to the device and its output back, a host sync the capture forbids), and even the
built-in DDIM loop copies a host timestep to the device each step. Timing the loop as
steps × (replay + a separately timed scheduler update) would be a model of the loop.

A call whose inputs do not match the captured ones (other shapes, dtypes, devices, or
different non-tensor arguments) runs eagerly and is counted (:class:`GraphStats`). A target
whose step calls no ``forward`` of its module (the VAE decoder runs ``decode``) but whose
sampling loop *is* its step is captured as the step closure itself.

The graph backend is injected (:class:`GraphBackend`): :class:`CudaGraphBackend` on CUDA, a
fake that re-runs the captured function in the tests (the bookkeeping runs on the CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from models.gpu.measurement import MeasurementError

#: Eager calls on the side stream before capture (allocator, cuDNN/cuBLAS autotuning, lazy init),
#: as the PyTorch CUDA-graph docs prescribe (torch.cuda.graph, "whole-network capture").
WARMUP_CALLS = 3


class GraphBackend(Protocol):
    """Captures ``fn`` once and replays it; ``capture`` returns the (static) outputs."""

    def capture(self, fn: Callable[[], Any]) -> Any: ...

    def replay(self) -> None: ...


class CudaGraphBackend:
    """``torch.cuda.CUDAGraph``: warm-up on a side stream, capture, replay."""

    def __init__(self, warmup_calls: int = WARMUP_CALLS) -> None:
        self.warmup_calls = warmup_calls
        self._graph: Any = None

    def capture(self, fn: Callable[[], Any]) -> Any:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup_calls):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                out = fn()
        except Exception as exc:  # a host sync, a pageable copy, a CPU scalar read inside forward
            raise MeasurementError(
                f"CUDA graph capture failed ({type(exc).__name__}: {exc}); the model's forward "
                "probably synchronises with the host: use --mode eager"
            ) from exc
        torch.cuda.synchronize()
        self._graph = graph
        return out

    def replay(self) -> None:
        self._graph.replay()


class _Released:
    def capture(self, fn: Callable[[], Any]) -> Any:
        raise MeasurementError("this graphed target has been released")

    def replay(self) -> None:
        raise MeasurementError("this graphed target has been released")


@dataclass
class GraphStats:
    """Counts of what the graphed target did (for the measurement's ``graph`` record)."""

    captured: str = ""  # "forward" (the module's forward) or "step" (the step closure)
    replays: int = 0  # graph replays, step and sampling loop together
    eager_calls: int = 0  # forward calls whose inputs did not match the captured ones
    warmup_calls: int = 0  # side-stream calls before capture (backend's)
    capture_s: float = 0.0


def _same_input(static: Any, new: Any) -> bool:
    if isinstance(static, torch.Tensor):
        return (
            isinstance(new, torch.Tensor) and new.shape == static.shape and new.dtype == static.dtype
            and new.device == static.device
        )  # fmt: skip
    if isinstance(new, torch.Tensor) or type(new) is not type(static):
        return False
    try:
        return bool(new == static)
    except Exception:  # an argument without a usable ==: not provably the captured one
        return False


def _clone_out(leaves: list[Any], spec: Any) -> Any:
    return tree_unflatten([x.clone() if isinstance(x, torch.Tensor) else x for x in leaves], spec)


class GraphedTarget:
    """A target's step and sampling loop, replaying one captured graph (see module docstring).

    Use :func:`graphed`; ``step()`` replays with the step's own inputs, ``sample()`` runs the
    target's loop with every matching model call replayed.
    """

    def __init__(self, target: Any, backend: GraphBackend) -> None:
        self.target, self.backend, self.stats = target, backend, GraphStats()
        self.stats.warmup_calls = int(getattr(backend, "warmup_calls", 0))
        self._module: torch.nn.Module = target.module
        self._static: list[Any] = []
        self._step_inputs: list[Any] = []  # the step's own inputs, to restore after a loop
        self._dirty = False  # static inputs hold a sampling loop's values, not the step's
        self._spec: Any = None
        self._out: tuple[list[Any], Any] = ([], None)
        self._orig: Callable[..., Any] = self._module.forward

    def capture(self) -> None:
        import time

        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        orig = self._orig

        def recording(*args: Any, **kwargs: Any) -> Any:
            calls.append((args, kwargs))
            return orig(*args, **kwargs)

        with self._forward(recording):
            self.target.step()
        t0 = time.perf_counter()
        if len(calls) == 1:
            leaves, self._spec = tree_flatten(calls[0])
            self._static = [x.clone() if isinstance(x, torch.Tensor) else x for x in leaves]
            self._step_inputs = [x.clone() if isinstance(x, torch.Tensor) else x for x in leaves]
            s_args, s_kwargs = tree_unflatten(self._static, self._spec)
            out = self.backend.capture(lambda: orig(*s_args, **s_kwargs))
            self.stats.captured = "forward"
        elif not calls and self.target.sample is self.target.step:
            out = self.backend.capture(self.target.step)
            self.stats.captured = "step"
        else:
            raise MeasurementError(
                f"--mode graph: one step of {self.target.name!r} makes {len(calls)} forward calls of "
                "its model (expected 1, or 0 for a one-call target): cannot graph it; use --mode eager"
            )
        self._out = tree_flatten(out)
        self.stats.capture_s = time.perf_counter() - t0

    @contextmanager
    def _forward(self, fn: Callable[..., Any]) -> Iterator[None]:
        saved = self._module.__dict__.get("forward")  # an instance-level forward, if any
        self._module.forward = fn  # type: ignore[method-assign]
        try:
            yield
        finally:
            if saved is not None:
                self._module.forward = saved  # type: ignore[method-assign]
            else:
                del self._module.forward

    def _replaying(self, *args: Any, **kwargs: Any) -> Any:
        leaves, spec = tree_flatten((args, kwargs))
        if spec != self._spec or not all(_same_input(s, x) for s, x in zip(self._static, leaves, strict=True)):
            self.stats.eager_calls += 1
            return self._orig(*args, **kwargs)
        self._copy_in(leaves)
        self._dirty = True
        self.backend.replay()
        self.stats.replays += 1
        return _clone_out(*self._out)

    def _copy_in(self, leaves: list[Any]) -> None:
        for s, x in zip(self._static, leaves, strict=True):
            if isinstance(s, torch.Tensor) and x is not s:
                s.copy_(x)

    def step(self) -> Any:
        """One replay with the step's own inputs; returns the static outputs.

        After a sampling loop the static inputs hold its last call's values: the first step
        copies the step's inputs back (same shapes, so timing-wise only a first-call copy).
        """
        if self._dirty:
            self._copy_in(self._step_inputs)
            self._dirty = False
        self.backend.replay()
        self.stats.replays += 1
        return tree_unflatten(*self._out)

    def sample(self) -> Any:
        """The target's sampling loop with its model calls replayed."""
        if self.stats.captured == "step":
            return self.step()
        with self._forward(self._replaying):
            return self.target.sample()

    def release(self) -> None:
        self._static, self._step_inputs, self._out, self.backend = [], [], ([], None), _Released()

    def per_sample(self) -> dict[str, int]:
        """Replays and eager model calls of one sampling loop (runs one loop)."""
        r0, e0 = self.stats.replays, self.stats.eager_calls
        self.sample()
        return {"replays": self.stats.replays - r0, "eager_calls": self.stats.eager_calls - e0}


@contextmanager
def graphed(target: Any, backend: GraphBackend) -> Iterator[GraphedTarget]:
    """Capture ``target``'s model call and yield a :class:`GraphedTarget`; nothing stays patched."""
    g = GraphedTarget(target, backend)
    g.capture()
    try:
        yield g
    finally:  # drop the graph and its static buffers (the graph's memory pool goes with them)
        g.release()
