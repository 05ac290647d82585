"""Tracer overhead benchmark (issue 3): shape-only within 1.5x, full statistics within 4x.

    python -m models.trace.bench [--model ddpm-cifar10] [--calls 3]

Times the same model calls three ways, interleaved so that machine load hits each alike:
untraced, traced shape-only (the recorder without statistics), and traced with statistics
(every call after the first computes deltas). Prints seconds per call and the ratios. This is
a benchmark, not a timed test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from models.trace.stats import StatsConfig
from models.trace.tracer import trace_calls
from models.zoo import SampleOptions, get


@dataclass(frozen=True)
class Overhead:
    model: str
    calls: int
    untraced_s_per_call: float
    shape_only_s_per_call: float
    stats_s_per_call: float

    @property
    def shape_only_ratio(self) -> float:
        return self.shape_only_s_per_call / self.untraced_s_per_call

    @property
    def stats_ratio(self) -> float:
        return self.stats_s_per_call / self.untraced_s_per_call


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def benchmark(model: str = "ddpm-cifar10", calls: int = 3, seed: int = 0) -> Overhead:
    """Seconds per model call untraced, traced shape-only and traced with statistics."""
    entry = get(model)
    if entry.frontend != "torch":
        raise ValueError(f"the overhead benchmark runs torch models; {model!r} is {entry.frontend}")
    module = entry.build(seed=seed)
    options = SampleOptions(steps=calls, scheduler="ddim" if "ddim" in entry.schedulers else "native")

    def untraced() -> None:
        with torch.no_grad():
            entry.sample(module, options)

    def shape_only() -> None:
        trace_calls(module, lambda hook: entry.sample(module, options, hook), max_calls=calls)

    def with_stats() -> None:
        trace_calls(module, lambda hook: entry.sample(module, options, hook), stats=StatsConfig())

    untraced()  # warm-up: first-call allocations and lazy imports
    times = {"untraced": 0.0, "shape": 0.0, "stats": 0.0}
    for _ in range(2):
        times["untraced"] += _timed(untraced)
        times["shape"] += _timed(shape_only)
        times["stats"] += _timed(with_stats)
    per_call = {k: v / (2 * calls) for k, v in times.items()}
    return Overhead(model, calls, per_call["untraced"], per_call["shape"], per_call["stats"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ddpm-cifar10")
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args(argv)
    r = benchmark(args.model, args.calls)
    print(f"{r.model}: {r.calls} calls, torch threads {torch.get_num_threads()}")
    print(f"  untraced    {r.untraced_s_per_call:8.3f} s/call")
    print(f"  shape-only  {r.shape_only_s_per_call:8.3f} s/call  {r.shape_only_ratio:5.2f}x (<= 1.5x)")
    print(f"  statistics  {r.stats_s_per_call:8.3f} s/call  {r.stats_ratio:5.2f}x (<= 4x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
