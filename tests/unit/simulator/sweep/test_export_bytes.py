"""The same sweep gives byte-identical results.csv, pareto.csv and report.html: run twice, on
another executor, after a resume. How points ran (attempts, seconds, worker) is in timings.csv."""

from __future__ import annotations

import csv
from pathlib import Path

from sweep_support import write_sweep

from simulator.sweep.driver import run_sweep
from simulator.sweep.store import ResultStore

DETERMINISTIC = ("results.csv", "pareto.csv", "report.html")


def _bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in DETERMINISTIC}


def test_two_serial_runs_give_the_same_bytes(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    run_sweep(sweep, tmp_path / "a", executor="serial")
    run_sweep(sweep, tmp_path / "b", executor="serial")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    with (tmp_path / "a" / "results.csv").open() as f:
        head = next(csv.reader(f))
    assert "eval_s" not in head and "attempts" not in head and "worker" not in head
    with (tmp_path / "a" / "timings.csv").open() as f:
        timings = list(csv.DictReader(f))
    assert len(timings) == 12
    assert {r["attempts"] for r in timings} == {"1"} and all(float(r["eval_s"]) > 0 for r in timings)
    assert not (tmp_path / "a" / "plotly.min.js").exists()  # the report inlines it


def test_serial_local_and_resumed_runs_give_the_same_bytes(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    run_sweep(sweep, tmp_path / "serial", executor="serial")
    reference = _bytes(tmp_path / "serial")
    run_sweep(sweep, tmp_path / "local", executor="local", workers=2)
    assert _bytes(tmp_path / "local") == reference
    # a sweep stopped half-way: drop half of its rows from the store, then resume
    with ResultStore(tmp_path / "local" / "results.sqlite") as store:
        keys = [r.key for r in store.records()]
        store.delete(keys[::2])
    summary = run_sweep(sweep, tmp_path / "local", executor="local", workers=2)
    assert summary.evaluated == 6 and summary.skipped_already_done == 6
    assert _bytes(tmp_path / "local") == reference
