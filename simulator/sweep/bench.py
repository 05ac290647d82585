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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError
from simulator.sweep.dask_executor import local_cluster
from simulator.sweep.driver import run_sweep

LOCAL_VS_SERIAL_TARGET = 1.8
DASK_VS_LOCAL_TARGET = 0.8

_ROOT = Path(__file__).resolve().parents[2]
DDPM_TRACE = _ROOT / "scenarios" / "workloads" / "ddpm-cifar10.workload.json.gz"
FALLBACK_WORKLOAD = _ROOT / "scenarios" / "workloads" / "dit-block.layers.yaml"
BASE_ARCH = _ROOT / "scenarios" / "arch" / "edge-os-int8.yaml"

_SWEEP = """name: bench-executors
base: {base}
workloads: [{workload}]
axes:
  compute.rows: {{range: {{start: 8, stop: 128, step: 8}}}}
  compute.cols: {{range: {{start: 8, stop: 128, step: 8}}}}
  memory.levels.glb.size_bytes: {{log_range: {{start: 1048576, stop: 8388608, factor: 2}}}}
  clock_ghz: [0.5, 1.0, 1.5, 2.0]
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


def _points_per_s(sweep: Path, out: Path, executor: str, workers: int) -> float:
    stamps: list[float] = []
    summary = run_sweep(
        sweep,
        out,
        executor=executor,
        workers=workers,
        report=False,
        on_outcome=lambda _o: stamps.append(time.perf_counter()),
    )
    if summary.failed or len(stamps) < 2:
        raise SpecError(f"bench sweep with {executor}: {summary.failed} points failed, {len(stamps)} done")
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def executor_throughput(
    workload: Path | None = None, *, points: int = 200, dask_points: int = 1000, workers: int = 2
) -> ExecutorBench:
    """Measure serial, local and Dask throughput on a random sweep over ``workload``
    (default: the DDPM CIFAR-10 trace, or a DiT block layer list until that trace exists)."""
    workload = workload or (DDPM_TRACE if DDPM_TRACE.is_file() else FALLBACK_WORKLOAD)
    if not BASE_ARCH.is_file():
        raise SpecError(f"the sweep bench needs the repository's scenarios folder ({BASE_ARCH} is missing)")
    with tempfile.TemporaryDirectory(prefix="picojoule-sweep-bench-") as tmp:
        root = Path(tmp)

        def sweep_file(n: int) -> Path:
            path = root / f"sweep-{n}.yaml"
            path.write_text(_SWEEP.format(base=BASE_ARCH, workload=Path(workload).resolve(), samples=n))
            return path

        small, large = sweep_file(points), sweep_file(dask_points)
        serial = _points_per_s(small, root / "serial", "serial", 1)
        local = _points_per_s(small, root / "local", "local", workers)
        local_large = _points_per_s(large, root / "local-large", "local", workers)
        dask_rate = None
        if importlib.util.find_spec("distributed") is not None:
            cluster = local_cluster(workers, processes=True)
            try:
                address = "dask://" + cluster.scheduler_address.split("://", 1)[1]
                dask_rate = _points_per_s(large, root / "dask", address, workers)
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
