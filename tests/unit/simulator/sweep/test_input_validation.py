"""Sweeps, scenarios and `validate` refuse unbounded or meaningless inputs, located (issue 14)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sweep_support import EDGE_ARCH, ROOT, SMALL_AXES, write_sweep

from accelerator.errors import SpecError
from simulator.cli import main
from simulator.scenario import load_scenario
from simulator.sweep.expressions import ExprError, parse_expr
from simulator.sweep.spec import load_sweep
from simulator.validate import SpecErrors, validate_file


def _no_names(name: str) -> float:
    raise KeyError(name)


def _error(tmp_path: Path, axes: str = SMALL_AXES, extra: str = "") -> SpecError:
    start = time.monotonic()
    with pytest.raises(SpecError) as info:
        load_sweep(write_sweep(tmp_path, axes, extra))
    assert time.monotonic() - start < 5, "refused before enumerating"
    return info.value


@pytest.mark.parametrize(
    "axis, complaint",
    [
        ("{range: {start: 1, stop: 1.0e+300, step: 1}}", "MAX_AXIS_VALUES"),
        ("{range: {start: 1e-300, stop: 1.0e+300, step: 1e-300}}", "MAX_AXIS_VALUES"),
        ("{log_range: {start: 8, stop: 64, factor: 1.0000001}}", "log_range (factor 1.0000001)"),
        ("{range: {start: 8, stop: .inf, step: 8}}", "axes.compute.rows"),
    ],
)
def test_axis_ranges_are_counted_before_they_are_enumerated(tmp_path: Path, axis: str, complaint: str) -> None:
    err = _error(tmp_path, f"axes:\n  compute.rows: {axis}\n")
    assert err.line == 5
    assert complaint in str(err)


def test_a_grid_too_large_is_refused_unless_sampled(tmp_path: Path) -> None:
    axes = "axes:\n" + "".join(
        f"  {f}: {{range: {{start: 1, stop: 1024, step: 1}}}}\n" for f in ("compute.rows", "compute.cols")
    )
    err = _error(tmp_path, axes)
    assert "the grid has 1,048,576 design points" in str(err) and "MAX_GRID_POINTS" in str(err)
    sweep = load_sweep(write_sweep(tmp_path, axes, "strategy: {kind: random, samples: 10}\n", name="r.yaml"))
    assert sweep.grid_size == 1024**2


@pytest.mark.parametrize(
    "extra, field",
    [
        ("steps: 1000000\n", "steps"),
        ("steps: true\n", "steps"),
        ("strategy: {kind: random, samples: 100000000}\n", "strategy.random.samples"),
        ("strategy: {kind: random, samples: 2.5}\n", "strategy.random.samples"),
    ],
)
def test_sweep_counts_are_strict_and_bounded(tmp_path: Path, extra: str, field: str) -> None:
    assert _error(tmp_path, extra=extra).field == field


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("2 ** 10**9", "exponent 1000000000 is larger than 1024"),
        ("2 ** 1000", "has more than 256 bits"),
        ("'a' * 10**9", "* needs numbers, got 'a'"),
        ("-'a'", "a sign needs numbers"),
        ("int(1e300)", "more than 256 bits"),
        ("10.0 ** 400", "cannot evaluate"),
        ("float('1e999')", "float() needs numbers"),
    ],
)
def test_expressions_cannot_run_away(text: str, complaint: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExprError) as info:
        parse_expr(text).evaluate(_no_names)
    assert time.monotonic() - start < 1
    assert complaint in str(info.value)
    assert parse_expr("2 ** 64 * 3").evaluate(_no_names) == 3 * 2**64  # large but bounded is fine


def test_expressions_failing_on_every_design_are_reported_at_load(tmp_path: Path) -> None:
    err = _error(tmp_path, extra="derived:\n  per_pe: 1\n  bad: compute.rows // (per_pe - 1)\n")
    lines = (tmp_path / "sweep.yaml").read_text().splitlines()
    assert err.field == "derived.bad" and err.line is not None and "bad:" in lines[err.line - 1]
    assert "fails on the base design and on the axis corners" in str(err) and "modulo by zero" in str(err)
    err = _error(tmp_path, extra="constraints:\n  - sram_bytes < 'big'\n")
    assert err.field == "constraints.0" and "'<' not supported" in str(err)
    err = _error(tmp_path, extra="derived:\n  memory.levels.glb.bandwidth_bytes_per_cycle: compute.rows - 100\n")
    assert err.field == "derived" and "invalid design: memory.levels" in str(err)
    # failing on one corner only is a matter for the points: the sweep loads
    ok = "derived:\n  memory.levels.glb.bandwidth_bytes_per_cycle: compute.rows - 10\n"
    assert load_sweep(write_sweep(tmp_path, extra=ok, name="ok.yaml")).derived


def test_scenario_steps_are_bounded_and_strict(tmp_path: Path) -> None:
    head = f"name: t\nworkload: {ROOT / 'scenarios/workloads/tiny-unet.workload.json.gz'}\ndesigns: [{EDGE_ARCH}]\n"
    p = tmp_path / "sc.yaml"
    for steps in ("20000", "true", "2.5"):
        p.write_text(head + f"steps: {steps}\n")
        with pytest.raises(SpecError) as info:
            load_scenario(p)
        assert info.value.line == 4 and info.value.field == "steps", steps
    p.write_text(head + "steps: 10000\n")
    assert load_scenario(p).spec.steps == 10000


def test_validate_reports_every_schema_error_of_a_file(tmp_path: Path) -> None:
    text = EDGE_ARCH.read_text().replace("  rows: 32", "  rows: many").replace("clock_ghz: 1.0", "clock_ghz: brisk")
    assert text.count("many") == 1 and text.count("brisk") == 1, "the edge arch has these fields"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(SpecErrors) as info:
        validate_file(bad)
    fields = [e.field for e in info.value.errors]
    assert fields == ["clock_ghz", "compute.rows"] or fields == ["compute.rows", "clock_ghz"]
    lines = text.splitlines()
    for e in info.value.errors:
        assert e.line is not None and ("many" in lines[e.line - 1] or "brisk" in lines[e.line - 1])
    assert str(info.value).count(str(bad)) == 2


def test_validate_command_exits_2_with_located_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "w.json"
    doc = {
        "format": "picojoule.workload",
        "version": 1,
        "steps": 1,
        "ops": [{"name": "mm", "kind": "gemm", "gemm": [1, 2, 2, 2], "macs": 9, "flops": 18}],
    }
    trace.write_text(json.dumps(doc))
    csv = tmp_path / "t.csv"
    csv.write_text("Layer, M, N, K,\n")
    sweep = write_sweep(tmp_path, "axes:\n  compute.rows: {range: {start: 1, stop: 1.0e+12, step: 1}}\n")
    assert main(["validate", str(trace), str(csv), str(sweep)]) == 2
    err = capsys.readouterr().err
    assert f"{trace}: ops.0 (mm).macs: 9 does not match the shape" in err
    assert f"{csv}:1: the topology has a header but no layers" in err
    assert f"{sweep}:5 axes.compute.rows: the range has" in err
    assert "Traceback" not in err
