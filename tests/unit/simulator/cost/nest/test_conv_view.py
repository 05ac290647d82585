"""A convolution as an im2col array runs it (``mapping.conv_view: im2col``) against SCALE-Sim's
closed form: on a weight-stationary ``R×C`` array the flattened window ``C·R·S`` folds as one
dimension, ``ceil(C·R·S / R) × ceil(K / C)`` folds of ``2R + C + T − 2`` cycles each with
``T = N·P·Q`` streamed rows (Samajdar et al., ISPASS 2020; :mod:`simulator.cost.nest.systolic`);
the window view folds each of ``C, R, S`` by its own factor."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from accelerator.spec import ArchSpec, load_arch
from models.layers import load_scalesim_csv
from models.workload import Op
from simulator import evaluate
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.ops import problems
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.search import Mapper
from simulator.cost.nest.systolic import pipeline
from simulator.result import DesignResult

ROOT = Path(__file__).resolve().parents[5]

ONE = (1.0, 1.0, 1.0)
ROWS, COLS = 4, 4
# 3x3 filters over 3 channels, 8 filters, a 4x4 output: C·R·S = 27, T = 16
N_, K_, C_, P_, Q_, R_, S_ = 1, 8, 3, 4, 4, 3, 3
CONV = Op(
    name="conv",
    kind="conv",
    input_shapes=((N_, C_, P_ + R_ - 1, Q_ + S_ - 1), (K_, C_, R_, S_)),
    output_shape=(N_, K_, P_, Q_),
    gemm=(1, N_ * P_ * Q_, K_, C_ * R_ * S_),
    macs=N_ * K_ * C_ * P_ * Q_ * R_ * S_,
    params={"kernel": [R_, S_], "stride": [1, 1], "groups": 1},
)


def _ws_array() -> NestArch:
    """A 4×4 weight-stationary array under a buffer and a DRAM that never limit it."""
    levels = (
        NestLevel("glb", (True, True, True), 1e9, ONE, ONE, 1e6),
        NestLevel("dram", (True, True, True), math.inf, ONE, ONE, 1e6),
    )
    arch = NestArch("t", levels, ROWS, COLS, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)
    return replace(arch, pipeline=pipeline("weight_stationary", ROWS, COLS))


def _compute_cycles(view: str) -> float:
    (prob,) = problems(CONV, view)  # type: ignore[arg-type]
    res = Mapper(samples=200, seed=0).best(prob, _ws_array(), PRESETS["weight_stationary"], "latency")
    return res.compute_cycles


def test_im2col_problem_is_the_gemm_view() -> None:
    (prob,) = problems(CONV, "im2col")
    assert prob.bounds == (1, K_, C_ * R_ * S_, N_ * P_ * Q_, 1, 1, 1)
    assert prob.macs == CONV.macs
    # the input is the expanded matrix: every output pixel reads its whole window
    assert prob.footprint(1) == N_ * P_ * Q_ * C_ * R_ * S_
    (window,) = problems(CONV, "window")
    assert window.bounds == (N_, K_, C_, P_, Q_, R_, S_)
    assert window.footprint(1) == N_ * C_ * (P_ + R_ - 1) * (Q_ + S_ - 1)


def test_im2col_folds_as_scalesim() -> None:
    folds = math.ceil(C_ * R_ * S_ / ROWS) * math.ceil(K_ / COLS)  # 7 x 2
    t = N_ * P_ * Q_
    assert _compute_cycles("im2col") == folds * (2 * ROWS + COLS + t - 2)


def test_window_folds_each_dimension() -> None:
    # C, R, S are 3 each: one of them fits the 4 rows, the other two fold: 9 row folds, not 7
    folds = C_ * R_ * S_ // 3 * math.ceil(K_ / COLS)
    t = N_ * P_ * Q_
    assert _compute_cycles("window") == folds * (2 * ROWS + COLS + t - 2)


def _evaluate(tmp_path: Path, memory_model: str, view: str) -> DesignResult:
    spec = load_arch(ROOT / "scenarios" / "validation" / "scalesim-32x32.yaml").model_dump()
    spec["mapping"].update(memory_model=memory_model, conv_view=view, samples=50)
    topo = tmp_path / "topology.csv"
    topo.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
        f"tiny, {P_ + R_ - 1}, {Q_ + S_ - 1}, {R_}, {S_}, {C_}, {K_}, 1,\n",
        encoding="utf-8",
    )
    return evaluate(load_scalesim_csv(topo), ArchSpec.model_validate(spec))


def test_one_level_ignores_the_view(tmp_path: Path) -> None:
    window, im2col = _evaluate(tmp_path, "one_level", "window"), _evaluate(tmp_path, "one_level", "im2col")
    a, b = window.per_op[0], im2col.per_op[0]
    assert (a.cycles, a.compute_cycles, a.energy_j) == (b.cycles, b.compute_cycles, b.energy_j)
    assert a.traffic_bytes == b.traffic_bytes
    assert window.notes == im2col.notes


def test_nest_notes_the_im2col_view(tmp_path: Path) -> None:
    assert not any("im2col" in n for n in _evaluate(tmp_path, "nest", "window").notes)
    assert any("conv_view: im2col" in n for n in _evaluate(tmp_path, "nest", "im2col").notes)
