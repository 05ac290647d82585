"""Why points failed, were rejected or missed a constraint: grouped by reason, with an example,
in the summary, on the terminal and in --json; also after a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweep_support import write_sweep

from simulator.cli import main
from simulator.sweep.cli import MAX_REASONS, reason_lines
from simulator.sweep.driver import Reason, first_line, group_reasons, run_sweep
from simulator.sweep.points import DesignPoint
from simulator.sweep.store import Record

#: rows 8 and 16 evaluate; a 64-byte buffer fails every evaluation; rows 32 is rejected by a
#: constraint on axes; rows 16 (0.061 mm², rows 8: 0.041 mm²) misses the constraint on area.
AXES = "axes:\n  compute.rows: [8, 16, 32]\n  memory.levels.glb.size_bytes: [64, 65536]\n"
CONSTRAINTS = "constraints:\n  - compute.rows <= 16\n  - area_mm2 < 0.05\n"
NO_TILE = "SimulationError: op 0 (conv conv): no tile fits the buffers of edge-os-int8"


def test_summary_groups_every_reason_with_an_example(tmp_path: Path) -> None:
    s = run_sweep(write_sweep(tmp_path, axes=AXES, extra=CONSTRAINTS), tmp_path / "o", executor="serial", report=False)
    assert (s.points, s.done, s.failed, s.infeasible) == (4, 2, 2, 2)
    failed, rejected, unmet = s.reasons
    assert failed.kind == "failed" and failed.count == 2 and failed.reason.startswith(NO_TILE)
    assert failed.example == {"compute.rows": 8, "memory.levels.glb.size_bytes": 64}
    assert failed.example_workload == "tiny" and len(failed.example_point) == 10
    assert (rejected.kind, rejected.reason, rejected.count) == ("rejected", "constraint not met: compute.rows <= 16", 2)
    assert rejected.example["compute.rows"] == 32 and rejected.example_point == ""
    assert (unmet.kind, unmet.reason, unmet.count) == ("unmet", "constraint not met: area_mm2 < 0.05", 1)
    assert unmet.example == {"compute.rows": 16, "memory.levels.glb.size_bytes": 65536}
    # a resumed run evaluates nothing and still says why the failed points failed
    again = run_sweep(
        write_sweep(tmp_path, axes=AXES, extra=CONSTRAINTS), tmp_path / "o", executor="serial", report=False
    )
    assert again.evaluated == 0 and again.reasons == s.reasons


def test_the_cli_prints_the_reasons_and_json_carries_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = str(write_sweep(tmp_path, axes=AXES, extra=CONSTRAINTS))
    assert main(["sweep", sweep, "--out", str(tmp_path / "o"), "--executor", "serial", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 evaluations: 2 done, 2 failed" in out and "2 design points rejected before evaluation" in out
    lines = out.splitlines()
    at = lines.index("failed evaluations, by reason:")
    assert lines[at + 1].startswith(f"       2 × {NO_TILE}")
    assert lines[at + 2].startswith("         e.g. compute.rows=8, memory.levels.glb.size_bytes=64 (point ")
    assert lines[at + 2].endswith(" on tiny)")
    assert "design points rejected before evaluation, by reason:" in lines
    assert "       2 × constraint not met: compute.rows <= 16" in lines
    assert "evaluated but missed a constraint on metrics, by reason:" in lines
    assert "       1 × constraint not met: area_mm2 < 0.05" in lines

    assert main(["sweep", sweep, "--out", str(tmp_path / "o"), "--executor", "serial", "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["count"]) for r in doc["reasons"]] == [("failed", 2), ("rejected", 2), ("unmet", 1)]
    assert doc["reasons"][0]["example"]["params"] == {"compute.rows": 8, "memory.levels.glb.size_bytes": 64}


def test_a_sweep_whose_every_design_is_rejected_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = str(write_sweep(tmp_path, extra="constraints:\n  - pes <= 1\n"))
    assert main(["sweep", sweep, "--out", str(tmp_path / "o"), "--executor", "serial", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "0 evaluations" in out and "12 design points rejected before evaluation" in out
    assert "      12 × constraint not met: pes <= 1" in out.splitlines()


def _failed(key: str, error: str | None, rows: int = 8) -> Record:
    return Record(key=key, point_id=f"{key:0>16}", workload="w", status="failed", attempts=1,
                  params={"compute.rows": rows}, metrics={}, feasible=False, error=error, eval_s=0.0,
                  worker="", arch={})  # fmt: skip


def test_reasons_group_by_first_line_most_frequent_first() -> None:
    bug = "ZeroDivisionError: division by zero\nTraceback (most recent call last):\n  File x, line {}"
    records = [
        _failed("a", "worker process killed by SIGKILL, 3 times, while evaluating this point", 32),
        _failed("b", bug.format(1), 8),
        _failed("c", bug.format(2), 16),  # another traceback, the same first line
        _failed("d", None),
    ]
    rejected = [DesignPoint({"compute.rows": 64}, infeasible="invalid design: compute.rows: too large")]
    groups = group_reasons(records, rejected)
    assert [(g.kind, g.reason, g.count) for g in groups] == [
        ("failed", "ZeroDivisionError: division by zero", 2),
        ("failed", "no reason recorded", 1),
        ("failed", "worker process killed by SIGKILL, 3 times, while evaluating this point", 1),
        ("rejected", "invalid design: compute.rows: too large", 1),
    ]
    assert groups[0].example == {"compute.rows": 8}  # the first point with that reason
    assert first_line("\n  \n  second\nthird") == "second"


def test_many_reasons_are_cut_to_a_count_on_the_terminal() -> None:
    reasons = [Reason("failed", f"reason {i}", 10 - i, {"x": i}, "p", "w") for i in range(MAX_REASONS + 2)]
    lines = reason_lines(reasons)
    assert lines[0] == "failed evaluations, by reason:"
    assert len(lines) == 1 + 2 * MAX_REASONS + 1
    assert lines[-1] == f"  {(10 - MAX_REASONS) + (10 - MAX_REASONS - 1):6d} × 2 other reasons (all of them: --json)"
