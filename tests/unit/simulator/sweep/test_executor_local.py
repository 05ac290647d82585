"""The self-healing local pool: a killed worker is replaced, a point that keeps killing its
worker is recorded as failed, a point the simulator rejects is recorded with its error."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from sweep_support import crash_on_rows_32, write_sweep

from simulator.sweep.driver import run_sweep
from simulator.sweep.executors import LocalPoolExecutor
from simulator.sweep.points import build_point, grid_values, task_key
from simulator.sweep.spec import load_sweep
from simulator.sweep.store import ResultStore
from simulator.sweep.worker import Outcome, Task, WorkerSetup


def test_a_worker_killed_mid_sweep_is_survived(tmp_path: Path) -> None:
    pools: list[LocalPoolExecutor] = []
    seen: list[Outcome] = []

    def kill_one_worker(o: Outcome) -> None:
        seen.append(o)
        if len(seen) == 3:
            os.kill(pools[0].worker_pids()[0], signal.SIGKILL)

    summary = run_sweep(
        write_sweep(tmp_path),
        tmp_path / "out",
        executor="local",
        workers=2,
        on_executor=pools.append,
        on_outcome=kill_one_worker,
    )
    assert pools[0].restarts == 1
    assert (summary.points, summary.done, summary.failed) == (12, 12, 0)
    assert sorted(o.key for o in seen) == sorted(set(o.key for o in seen))  # each point once
    with ResultStore(tmp_path / "out" / "results.sqlite") as store:
        rows = list(store.records())
    assert len(rows) == 12 and all(r.status == "done" for r in rows)
    # the point the dead worker was evaluating (if any) was tried again: 2 attempts, no more
    assert sum(r.attempts for r in rows) in (12, 13)


def test_a_point_that_kills_its_worker_fails_after_max_attempts(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    tasks = []
    for values in grid_values(sweep):
        p = build_point(sweep, values)
        tasks.append(Task(key=task_key(p.point_id, "wl"), workload=0, arch=p.arch))
    setup = WorkerSetup(workloads=(str(tmp_path / "tiny.layers.yaml"),), evaluator=crash_on_rows_32)
    pool = LocalPoolExecutor(setup, workers=2, max_attempts=2, batch_size=2)
    try:
        outcomes = {o.key: o for o in pool.run(tasks)}
    finally:
        pool.close()
    assert len(outcomes) == 12
    crashed = [t for t in tasks if t.arch["compute"]["rows"] == 32]
    assert len(crashed) == 4
    for t in tasks:
        o = outcomes[t.key]
        if t in crashed:
            assert not o.ok and o.attempts == 2
            assert o.error == ("worker process killed by SIGKILL, 2 times, while evaluating this point")
        else:
            assert o.ok and o.metrics["energy_j_per_image"] > 0
    assert pool.restarts == 2 * len(crashed)


def test_a_failing_design_point_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    axes = "axes:\n  compute.rows: [8, 16]\n  memory.levels.glb.size_bytes: [64, 65536]\n"
    summary = run_sweep(write_sweep(tmp_path, axes), tmp_path / "out", executor="local", workers=2)
    assert (summary.points, summary.done, summary.failed) == (4, 2, 2)
    with ResultStore(tmp_path / "out" / "results.sqlite") as store:
        rows = list(store.records())
    failed = [r for r in rows if r.status == "failed"]
    assert {r.params["memory.levels.glb.size_bytes"] for r in failed} == {64}
    for r in failed:
        assert r.error is not None
        assert r.error.startswith("SimulationError: op 0 (conv") and "no tile fits" in r.error
        assert r.attempts == 1  # a simulator error is not retried: it would fail again
    csv_rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 5 and sum("no tile fits" in line for line in csv_rows) == 2
