"""Executor throughput for ``picojoule bench``: the local pool against serial, Dask against local.

Targets (issue 7; ratios, not timed tests): on 2 cores the local pool evaluates at least
1.8x as many points per second as the serial executor, and a 2-worker Dask LocalCluster is
within 20% of the local pool on a 1,000-point sweep. Throughput is steady-state: points after
the first one, divided by the time from the first outcome to the last, so worker start-up
and workload preparation (paid once per worker) are left out of every executor alike.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError
from simulator.sweep.dask_executor import local_cluster
from simulator.sweep.driver import run_sweep

LOCAL_VS_SERIAL_TARGET = 1.8
DASK_VS_LOCAL_TARGET = 0.8

PointProgress = Callable[[int, int], None]
"""``on_point(done, total)``: called after each evaluated point of the four runs together."""

_SWEEP = """name: bench-executors
base: {base}
workloads: [{workload}]
axes:
  compute.rows: {{range: {{start: 8, stop: 128, step: 8}}}}
  compute.cols: {{range: {{start: 8, stop: 128, step: 8}}}}
  memory.levels.glb.size_bytes: {{log_range: {{start: 1048576, stop: 8388608, factor: 2}}}}
  clock_ghz: [0.5, 1.0, 1.5, 2.0]
  # the executors' overhead, not the mapper, is measured: the one-level model (milliseconds a point)
  mapping.memory_model: [one_level]
objectives: {{energy_per_image: min, latency_per_image: min, area: min}}
strategy: {{kind: random, samples: {samples}, seed: 0}}
"""


@dataclass(frozen=True)
class ExecutorBench:
    """Points per second of each executor on the same random sweep, and their ratios."""

    workload: str
    workers: int
    points: int  # in the serial / local comparison
    dask_points: int  # in the Dask / local comparison
    serial_points_per_s: float
    local_points_per_s: float  # on ``points``
    local_points_per_s_dask_run: float  # on ``dask_points``
    dask_points_per_s: float | None  # None without dask.distributed
    local_vs_serial: float
    dask_vs_local: float | None

    @property
    def local_target_met(self) -> bool:
        return self.local_vs_serial >= LOCAL_VS_SERIAL_TARGET

    @property
    def dask_target_met(self) -> bool | None:
        return None if self.dask_vs_local is None else self.dask_vs_local >= DASK_VS_LOCAL_TARGET

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "local_target_met": self.local_target_met,
            "dask_target_met": self.dask_target_met,
        }


def _points_per_s(sweep: Path, out: Path, executor: str, workers: int, on_point: Callable[[], None]) -> float:
    stamps: list[float] = []

    def seen(_outcome: object) -> None:
        stamps.append(time.perf_counter())
        on_point()

    summary = run_sweep(sweep, out, executor=executor, workers=workers, report=False, on_outcome=seen)
    if summary.failed or len(stamps) < 2:
        raise SpecError(f"bench sweep with {executor}: {summary.failed} points failed, {len(stamps)} done")
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def executor_throughput(
    workload: Path,
    base_arch: Path,
    *,
    points: int = 200,
    dask_points: int = 1000,
    workers: int = 2,
    on_point: PointProgress | None = None,
) -> ExecutorBench:
    """Measure serial, local and Dask throughput on a random sweep of ``base_arch`` over ``workload``
    (``picojoule bench``: the DDPM CIFAR-10 trace and ``edge-os-int8``, :mod:`simulator.bench.inputs`)."""
    for path in (workload, base_arch):
        if not Path(path).is_file():
            raise SpecError(f"the sweep bench's input {path} is missing")
    has_dask = importlib.util.find_spec("distributed") is not None
    total = 2 * points + (2 if has_dask else 1) * dask_points
    done = [0]

    def tick() -> None:
        done[0] += 1
        if on_point is not None:
            on_point(done[0], total)

    with tempfile.TemporaryDirectory(prefix="picojoule-sweep-bench-") as tmp:
        root = Path(tmp)

        def sweep_file(n: int) -> Path:
            path = root / f"sweep-{n}.yaml"
            path.write_text(_SWEEP.format(base=Path(base_arch).resolve(), workload=Path(workload).resolve(), samples=n))
            return path

        small, large = sweep_file(points), sweep_file(dask_points)
        serial = _points_per_s(small, root / "serial", "serial", 1, tick)
        local = _points_per_s(small, root / "local", "local", workers, tick)
        local_large = _points_per_s(large, root / "local-large", "local", workers, tick)
        dask_rate = None
        if has_dask:
            cluster = local_cluster(workers, processes=True)
            try:
                address = "dask://" + cluster.scheduler_address.split("://", 1)[1]
                dask_rate = _points_per_s(large, root / "dask", address, workers, tick)
            finally:
                cluster.close()
    return ExecutorBench(
        workload=str(workload),
        workers=workers,
        points=points,
        dask_points=dask_points,
        serial_points_per_s=serial,
        local_points_per_s=local,
        local_points_per_s_dask_run=local_large,
        dask_points_per_s=dask_rate,
        local_vs_serial=local / serial,
        dask_vs_local=None if dask_rate is None else dask_rate / local_large,
    )
