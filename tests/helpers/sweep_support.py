"""Shared pieces of the sweep tests (a tiny workload, a sweep file writer, fault evaluators),
used by the sweep and executor tests."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from simulator.sweep.worker import Outcome, Task, WorkerState, evaluate_task

ROOT = Path(__file__).resolve().parents[2]
EDGE_ARCH = ROOT / "scenarios" / "arch" / "edge-os-int8.yaml"

TINY_LAYERS = """name: tiny
steps: 2
layers:
  - {name: conv, type: conv, C: 16, H: 16, W: 16, K: 32, R: 3, S: 3, padding: 1}
  - {name: fc, type: gemm, M: 64, N: 64, K: 128}
  - {name: attn, type: attention, batch: 2, Lq: 64, Lk: 64, d: 32}
"""

#: 3 x 2 x 2 = 12 design points; every one evaluates.
SMALL_AXES = """axes:
  compute.rows: [8, 16, 32]
  compute.cols: {range: {start: 8, stop: 16, step: 8}}
  memory.levels.glb.size_bytes: {log_range: {start: 65536, stop: 131072, factor: 2}}
"""

OBJECTIVES = """objectives:
  energy_per_image: min
  latency_per_image: min
  area: min
"""


def write_sweep(folder: Path, axes: str = SMALL_AXES, extra: str = "", name: str = "sweep.yaml") -> Path:
    """A sweep over the edge arch on the tiny layer list, written into ``folder``."""
    (folder / "tiny.layers.yaml").write_text(TINY_LAYERS)
    path = folder / name
    head = f"name: test-sweep\nbase: {EDGE_ARCH}\nworkloads: [tiny.layers.yaml]\n"
    path.write_text(head + axes + OBJECTIVES + extra)
    return path


def crash_on_rows_32(state: WorkerState, task: Task) -> Outcome:
    """Kills its own worker process on every design with 32 PE rows; evaluates the others."""
    if task.arch["compute"]["rows"] == 32:
        os.kill(os.getpid(), signal.SIGKILL)
    return evaluate_task(state, task)
