"""Two ``picojoule sweep`` drivers started at once on one --out (child processes, the tiny sweep
of ``sweep_support``): one runs, the other either is refused at once (exit 2, "another sweep is
running on this store") or, started after the first ended, resumes it. Afterwards every point is
in the store exactly once, evaluated once, and ``results.csv`` lists each point once."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz_support import COUNTS
from sweep_support import write_sweep

POINTS = 12  # sweep_support.SMALL_AXES on its one workload
SECONDS = 60.0
"""Wall time both drivers together may take, interpreter starts included."""
FMT = "two drivers on one store"
REFUSED = "another sweep is running on this store"


def _drivers(sweep: Path, out: Path, n: int = 2) -> list[tuple[int, str]]:
    """Start ``n`` drivers on ``out`` at once; (exit code, stderr) of each."""
    argv = [sys.executable, "-m", "simulator", "sweep", str(sweep), "--out", str(out), "--executor", "serial",
            "--no-progress"]  # fmt: skip
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    done = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=SECONDS)
            done.append((p.returncode, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    return done


def _check_store(out: Path) -> None:
    with sqlite3.connect(out / "results.sqlite") as db:
        rows = db.execute("SELECT key, status, attempts FROM results").fetchall()
    db.close()
    assert len(rows) == POINTS, f"{len(rows)} rows in the store, expected {POINTS}"
    assert all(status == "done" and attempts == 1 for _, status, attempts in rows), f"evaluated twice: {rows}"
    with (out / "results.csv").open() as f:
        listed = list(csv.DictReader(f))
    assert len(listed) == POINTS, f"results.csv has {len(listed)} rows, expected {POINTS}"
    assert len({(r["point_id"], r["workload"]) for r in listed}) == POINTS, "a point listed twice in results.csv"


@pytest.mark.parametrize("round_", range(3))
def test_two_drivers_on_one_store(round_: int, tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    out = tmp_path / "out"
    if round_ == 2:  # the second pair resumes a finished store: both skip every point, neither writes a row
        assert _drivers(sweep, out, 1)[0][0] == 0
    outcomes = _drivers(sweep, out)
    for code, err in outcomes:
        problem = "Traceback" in err or code not in (0, 2) or (code == 2 and not err.startswith("error:"))
        problem = problem or (code == 2 and REFUSED not in err)
        COUNTS[FMT]["failure" if problem else f"exit {code}"] += 1
        assert not problem, f"exit {code}:\n{err}"
    assert any(code == 0 for code, _ in outcomes), outcomes
    _check_store(out)
