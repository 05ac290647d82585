"""Pareto fronts and the report's sensitivity measure, on hand-checked examples."""

from __future__ import annotations

import math
from itertools import product
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sweep_support import write_sweep

from simulator.sweep.pareto import pareto_mask
from simulator.sweep.report import sensitivity
from simulator.sweep.spec import load_sweep
from simulator.sweep.store import Record


def test_two_objectives_by_hand() -> None:
    v = np.array([[1, 5], [2, 3], [3, 4], [4, 1], [2, 3], [5, 5], [math.nan, 0]])
    # (3,4) is dominated by (2,3); (5,5) by everything; the NaN row never counts; ties stay
    assert pareto_mask(v, ["min", "min"]).tolist() == [True, True, False, True, True, False, False]
    # maximising the second objective turns the front around
    assert pareto_mask(v, ["min", "max"]).tolist() == [
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]


def test_three_objectives_and_edge_cases() -> None:
    v = np.array([[1, 1, 9], [9, 9, 1], [5, 5, 5], [6, 6, 6], [1, 1, 9]])
    assert pareto_mask(v, ["min"] * 3).tolist() == [True, True, True, False, True]
    assert pareto_mask(np.empty((0, 2)), ["min", "min"]).tolist() == []
    assert pareto_mask(np.array([[3.0]]), ["max"]).tolist() == [True]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=40))
def test_matches_the_definition(rows: list[tuple[int, int, int]]) -> None:
    v = np.array(rows, dtype=float)

    def dominated(i: int) -> bool:
        return any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(len(v)))

    assert pareto_mask(v, ["min"] * 3).tolist() == [not dominated(i) for i in range(len(v))]


def test_sensitivity_is_the_spread_of_medians_in_decades(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    rows = []
    for r, c, g in product((8, 16, 32), (8, 16), (65536, 131072)):
        energy = 10.0 ** {8: 0, 16: 1, 32: 3}[r] * (1.0 if g == 65536 else 1.5)  # cols: no effect
        rows.append(
            Record(
                key=f"{r}{c}{g}",
                point_id="",
                workload="tiny",
                status="done",
                attempts=1,
                params={"compute.rows": r, "compute.cols": c, "memory.levels.glb.size_bytes": g},
                metrics={"energy_j_per_image": energy, "latency_s_per_image": 1.0, "area_mm2": 2.0},
                feasible=True,
                error=None,
                eval_s=0.0,
                worker="",
                arch={},
            )
        )
    s = sensitivity(sweep, rows)
    assert math.isclose(s["energy_per_image"]["compute.rows"], 3.0)
    assert s["energy_per_image"]["compute.cols"] == 0.0
    assert math.isclose(s["energy_per_image"]["memory.levels.glb.size_bytes"], math.log10(1.5))
    assert s["latency_per_image"]["compute.rows"] == 0.0
