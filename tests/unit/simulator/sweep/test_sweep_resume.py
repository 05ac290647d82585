"""Resuming: a rerun evaluates nothing twice, and a driver killed with SIGKILL mid-sweep loses
nothing but the points in flight: after a rerun every point is in the store exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sweep_support import ROOT, write_sweep

from simulator.sweep.driver import run_sweep

# 8 x 8 x 4 = 256 points: long enough to be killed in the middle on any machine
BIG_AXES = """axes:
  compute.rows: {range: {start: 8, stop: 64, step: 8}}
  compute.cols: {range: {start: 8, stop: 64, step: 8}}
  clock_ghz: [0.5, 1.0, 1.5, 2.0]
"""


def _rows(store: Path) -> dict[str, tuple[str, int, float]]:
    con = sqlite3.connect(store, timeout=30)
    query = "SELECT key, status, attempts, finished_at FROM results"
    try:
        return {k: (s, a, t) for k, s, a, t in con.execute(query)}
    except sqlite3.OperationalError:  # the driver has not created the table yet
        return {}
    finally:
        con.close()


def test_a_rerun_evaluates_nothing_again(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    first = run_sweep(sweep, tmp_path / "out", executor="serial")
    before = _rows(tmp_path / "out" / "results.sqlite")
    again = run_sweep(sweep, tmp_path / "out", executor="local")
    assert first.to_json()["done"] == 12 and first.evaluated == 12
    assert again.to_json() == {**first.to_json(), "skipped_already_done": 12, "evaluated": 0}
    assert _rows(tmp_path / "out" / "results.sqlite") == before


def test_sigkill_of_the_driver_then_rerun_gives_every_point_once(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, BIG_AXES)
    out = tmp_path / "out"
    store = out / "results.sqlite"
    code = (
        "import sys\nfrom simulator.sweep.driver import run_sweep\nif __name__ == '__main__':\n"
        "    run_sweep(sys.argv[1], sys.argv[2], executor='local', workers=2)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(sweep), str(out)],
        env=env,
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and len(_rows(store)) >= 20:  # mid-sweep: kill it
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        try:  # the workers exit on their own when the driver's pipes close; make sure of it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    survived = _rows(store)
    assert 20 <= len(survived) < 256

    summary = run_sweep(sweep, out, executor="serial")
    rows = _rows(store)
    assert len(rows) == 256 == summary.points == summary.done
    assert summary.skipped_already_done == len(survived)
    assert summary.evaluated == 256 - len(survived)
    assert all(status == "done" and attempts == 1 for status, attempts, _ in rows.values())
    assert {k: rows[k] for k in survived} == survived  # not one of them evaluated again
