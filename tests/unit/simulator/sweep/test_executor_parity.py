"""The same sweep gives identical results with the serial, local and Dask executors."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import pytest
from sweep_support import write_sweep

from simulator.sweep.driver import run_sweep


def _metrics(out: Path) -> dict[str, str]:
    con = sqlite3.connect(out / "results.sqlite")
    try:
        return dict(con.execute("SELECT key, metrics FROM results WHERE status = 'done'").fetchall())
    finally:
        con.close()


def test_serial_local_and_dask_agree_bit_for_bit(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from simulator.sweep.dask_executor import local_cluster

    sweep = write_sweep(tmp_path)
    serial = run_sweep(sweep, tmp_path / "serial", executor="serial")
    local = run_sweep(sweep, tmp_path / "local", executor="local", workers=2)
    cluster = local_cluster(2, processes=False)
    try:
        address = "dask://" + cluster.scheduler_address.split("://", 1)[1]
        assert address.startswith("dask://127.0.0.1:")
        dask = run_sweep(sweep, tmp_path / "dask", executor=address)
    finally:
        cluster.close()
    assert serial.to_json() == local.to_json() == dask.to_json()
    assert serial.done == 12 and serial.failed == 0
    reference = _metrics(tmp_path / "serial")
    assert len(reference) == 12
    assert _metrics(tmp_path / "local") == reference
    assert _metrics(tmp_path / "dask") == reference
    # the exported front is the same too (timings aside)
    fronts = []
    for d in ("serial", "local", "dask"):
        with (tmp_path / d / "pareto.csv").open() as f:
            fronts.append(
                [{k: v for k, v in row.items() if k not in ("eval_s", "worker")} for row in csv.DictReader(f)]
            )
    assert fronts[0] == fronts[1] == fronts[2] and len(fronts[0]) == serial.pareto_points > 0


def test_dask_workers_started_here_run_without_malloc_trim(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from distributed import Client

    from simulator.sweep.dask_executor import MALLOC_VAR, DaskExecutor, local_cluster
    from simulator.sweep.worker import WorkerSetup

    write_sweep(tmp_path)
    cluster = local_cluster(1, processes=True)  # a real nanny, which sets it by default
    try:
        client = Client(cluster)
        assert list(client.run(os.environ.get, MALLOC_VAR).values()) == [None]
        executor = DaskExecutor(client, WorkerSetup(workloads=(str(tmp_path / "tiny.layers.yaml"),)))
        assert executor.warnings == () and executor.workers == 1
        executor.close()
    finally:
        cluster.close()
