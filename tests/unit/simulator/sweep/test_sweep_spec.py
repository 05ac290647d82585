"""Sweep files: axis values, derived values, constraints, objectives, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_support import EDGE_ARCH, ROOT, SMALL_AXES, write_sweep

from accelerator.errors import SpecError
from simulator.sweep.points import build_point, grid_values
from simulator.sweep.spec import load_sweep
from simulator.validate import validate_file


def test_axes_lists_ranges_and_log_ranges(tmp_path: Path) -> None:
    axes = """axes:
  compute.rows: [8, 16]
  compute.cols: {range: {start: 8, stop: 32, step: 8}}
  memory.levels.glb.size_bytes: {log_range: {start: 65536, stop: 1048576, factor: 4}}
  clock_ghz: {log_range: {start: 0.5, stop: 2.0, num: 3}}
  static_power_mw: {range: {start: 0.1, stop: 0.3, step: 0.1}}
"""
    sweep = load_sweep(write_sweep(tmp_path, axes))
    values = {a.name: a.values for a in sweep.axes}
    assert values["compute.rows"] == (8, 16)
    assert values["compute.cols"] == (8, 16, 24, 32)
    assert all(isinstance(v, int) for v in values["compute.cols"])
    assert values["memory.levels.glb.size_bytes"] == (65536, 262144, 1048576)
    assert values["clock_ghz"] == (0.5, 1.0, 2.0)
    assert values["static_power_mw"] == (0.1, 0.2, 0.3)  # no 0.30000000000000004
    assert sweep.grid_size == 2 * 4 * 3 * 3 * 3
    # memory levels by name resolve to their index in the arch data
    assert sweep.axes[2].path == ("memory", "levels", 1, "size_bytes")


def test_derived_fields_named_values_and_constraints(tmp_path: Path) -> None:
    extra = """derived:
  memory.levels.glb.bandwidth_bytes_per_cycle: compute.cols * 8
  budget_bytes: 200000
constraints:
  - sram_bytes <= budget_bytes
  - latency_s_per_image < 1
"""
    sweep = load_sweep(write_sweep(tmp_path, extra=extra))
    assert [c.after_evaluation for c in sweep.constraints] == [False, True]
    # rf is 64 B per PE; the glb is one instance: sram = glb + 64 * rows * cols
    p = build_point(sweep, (16, 8, 131072))
    assert p.infeasible is None
    assert p.arch["memory"]["levels"][1]["bandwidth_bytes_per_cycle"] == 64
    assert p.params == {
        "compute.rows": 16,
        "compute.cols": 8,
        "memory.levels.glb.size_bytes": 131072,
        "memory.levels.glb.bandwidth_bytes_per_cycle": 64,
        "budget_bytes": 200000,
    }
    big = build_point(sweep, (32, 16, 131072))  # 131072 + 64 * 512 = 163840 fits; 32x16 ok
    assert big.infeasible is None
    over = load_sweep(write_sweep(tmp_path, extra=extra.replace("200000", "140000")))
    # 131072 + 64*16*8 = 139264 fits 140000; 131072 + 64*32*8 = 147456 does not
    assert build_point(over, (16, 8, 131072)).infeasible is None
    assert build_point(over, (32, 8, 131072)).infeasible == "constraint not met: sram_bytes <= budget_bytes"


def test_point_identity_is_the_design(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    a, b = build_point(sweep, (8, 8, 65536)), build_point(sweep, (8, 8, 65536))
    assert a.point_id == b.point_id and len(a.point_id) == 64
    assert build_point(sweep, (8, 16, 65536)).point_id != a.point_id
    assert len({build_point(sweep, v).point_id for v in grid_values(sweep)}) == sweep.grid_size == 12


def test_random_strategy_is_a_seeded_sample_of_the_grid(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path, extra="strategy: {kind: random, samples: 5, seed: 3}\n"))
    drawn = list(grid_values(sweep))
    assert len(drawn) == len(set(drawn)) == 5
    full = load_sweep(write_sweep(tmp_path, name="grid.yaml"))
    assert set(drawn) <= set(grid_values(full))
    assert drawn == list(grid_values(load_sweep(sweep.path)))
    many = load_sweep(write_sweep(tmp_path, extra="strategy: {kind: random, samples: 99}\n", name="m.yaml"))
    assert len(list(grid_values(many))) == 12  # never more than the grid


def _error(tmp_path: Path, axes: str = SMALL_AXES, extra: str = "") -> SpecError:
    with pytest.raises(SpecError) as info:
        load_sweep(write_sweep(tmp_path, axes, extra))
    return info.value


def test_unknown_axis_field_names_the_line(tmp_path: Path) -> None:
    err = _error(tmp_path, "axes:\n  compute.rowz: [8]\n")
    assert err.line == 5 and err.field == "axes.compute.rowz"
    assert "compute has no field 'rowz'" in str(err)
    err = _error(tmp_path, "axes:\n  memory.levels.l3.size_bytes: [8]\n")
    assert "no entry 'l3' (entries: rf, glb or 0..1)" in str(err)


def test_bad_axis_value_names_the_value(tmp_path: Path) -> None:
    err = _error(tmp_path, "axes:\n  compute.rows:\n    - 8\n    - -4\n")
    assert err.line == 7 and err.field == "axes.compute.rows.1"
    assert "value -4 is not allowed for compute.rows" in str(err)
    err = _error(tmp_path, "axes:\n  compute.cols: {range: {start: 8, stop: 4, step: 8}}\n")
    assert "the axis has no values" in str(err)


def test_bad_expressions_and_objectives_are_located(tmp_path: Path) -> None:
    err = _error(tmp_path, extra="constraints:\n  - sram_bytez < 4\n")
    assert err.field == "constraints.0" and "unknown name 'sram_bytez'" in str(err)
    err = _error(tmp_path, extra="derived:\n  x: open('f')\n")
    assert err.field == "derived.x" and "unknown function 'open'" in str(err)
    err = _error(tmp_path, extra="derived:\n  area_mm2: 3\n")
    assert "not a builtin" in str(err)
    text = write_sweep(tmp_path).read_text().replace("area: min", "beauty: max")
    (tmp_path / "o.yaml").write_text(text)
    with pytest.raises(SpecError, match="unknown objective 'beauty'; allowed: energy_per_image"):
        load_sweep(tmp_path / "o.yaml")


def test_schema_errors_use_the_spec_machinery(tmp_path: Path) -> None:
    err = _error(tmp_path, extra="strategy: {kind: random, samples: 0}\n")
    assert err.field == "strategy.random.samples"
    err = _error(tmp_path, extra="executor: local\n")
    assert err.field == "executor" and "unknown field" in str(err)
    text = write_sweep(tmp_path).read_text().replace("tiny.layers.yaml", "missing.yaml")
    (tmp_path / "w.yaml").write_text(text)
    with pytest.raises(SpecError, match="no such workload file 'missing.yaml'") as info:
        load_sweep(tmp_path / "w.yaml")
    assert info.value.line == 3


def test_validate_recognises_sweeps_and_the_committed_ones_load(tmp_path: Path) -> None:
    assert validate_file(write_sweep(tmp_path)) == "sweep"
    committed = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert committed, "scenarios/sweeps holds example sweeps"
    for path in committed:
        sweep = load_sweep(path)
        assert sweep.grid_size >= 1 and sweep.workloads
    assert EDGE_ARCH.is_file()
