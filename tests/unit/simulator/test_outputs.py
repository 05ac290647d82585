"""What `picojoule run` leaves on disk: a bad --out or a full disk is one line and exit 2, the old
results stay valid; results.json carries no float noise; report.html stands alone with SI axes."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

import simulator.run
from simulator.cli import main
from simulator.plots import axis, si, tick_values
from simulator.report import _per_op_figure
from simulator.result import NEGLIGIBLE, DesignResult, OpResult, design_to_json

ROOT = Path(__file__).resolve().parents[3]
ARCH = ROOT / "scenarios" / "arch"


def _scenario(tmp_path: Path, steps: int = 10) -> Path:
    p = tmp_path / f"sc{steps}.yaml"
    p.write_text(
        f"name: t\nworkload: {ROOT / 'scenarios/workloads/dit-block.layers.yaml'}\nsteps: {steps}\n"
        f"designs: [{ARCH / 'edge-os-int8.yaml'}]\ngpus: [h100-sxm]\n"
    )
    return p


def _floats(x: Any) -> list[float]:
    if isinstance(x, float):
        return [x]
    if isinstance(x, dict):
        return [f for v in x.values() for f in _floats(v)]
    if isinstance(x, list):
        return [f for v in x for f in _floats(v)]
    return []


def test_out_that_is_a_file_fails_before_evaluating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = _scenario(tmp_path)
    target = tmp_path / "taken"
    target.write_text("not a folder")

    def no_evaluation(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("evaluated before checking --out")

    monkeypatch.setattr(simulator.run, "evaluate_prepared", no_evaluation)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["run", str(sc), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0 and str(target) in err and "folder" in err
    assert target.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_full_disk_keeps_the_previous_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_scenario(tmp_path, steps=10)), "--out", str(out)]) == 0
    old = (out / "results.json").read_bytes()
    capsys.readouterr()

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, full)
    assert main(["run", str(_scenario(tmp_path, steps=20)), "--out", str(out)]) == 2  # would change results
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0 and "results.json" in err and "no space left" in err
    assert (out / "results.json").read_bytes() == old
    assert json.loads(old)["workload"]["steps"] == 10
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json"]  # no temp files left


def test_results_json_has_no_float_noise_and_no_empty_gpu_steps(tmp_path: Path) -> None:
    out = simulator.run.run_scenario(ROOT / "scenarios/quickstart.yaml", tmp_path / "q")
    # dc-os-int8-sparse's skip probabilities multiply out to ~1e-35 cycles on one op
    sparse = next(d for d in out.designs if d.name == "dc-os-int8-sparse")
    assert 0 < sparse.extras["sparsity"]["skipped_cycles_per_image"] < NEGLIGIBLE
    doc = json.loads(out.results_path.read_text())
    assert not [x for x in _floats(doc) if 0 < abs(x) < NEGLIGIBLE]
    by_name = {d["name"]: d for d in doc["designs"]}
    assert by_name["dc-os-int8-sparse"]["extras"]["sparsity"]["skipped_cycles_per_image"] == 0.0
    assert "per_step" not in by_name["h100-sxm"]
    assert len(by_name["edge-os-int8"]["per_step"]) == 50


def test_negligible_is_zero_but_small_values_stay() -> None:
    op = OpResult(0, "aten.mm", "gemm", "m", 8, 1.0, 1e-12, 3e-15, skipped_cycles=2.7e-37)
    d = DesignResult("d", "accelerator", 1e-12, 1e-11, 3e-15, 3e-14, {"rf": 3e-14}, 0.1, (op,))
    j = design_to_json(d)
    assert j["per_op"][0]["skipped_cycles"] == 0.0
    assert j["per_op"][0]["energy_j"] == 3e-15 and j["energy_j_per_image"] == 3e-14
    assert "per_step" not in j


def test_report_is_self_contained(tmp_path: Path) -> None:
    out = simulator.run.run_scenario(ROOT / "scenarios/quickstart.yaml", tmp_path / "q")
    from plotly.offline import get_plotlyjs

    page = out.report_path.read_text(encoding="utf-8")
    assert page.count(get_plotlyjs()) == 1
    rest = page.replace(get_plotlyjs(), "")
    assert "plotly.min.js" not in rest and "src=" not in rest  # nothing loaded from elsewhere
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["report.html", "results.json"]
    assert 'id="pj-no-plotly" hidden' in page


def test_si_labels() -> None:
    assert si(1.466397e-5, "s") == "14.7 µs"
    assert si(6.165973e-7, "s") == "617 ns"
    assert si(999.96, "J") == "1 kJ"
    assert si(0.0, "J") == "0 J"
    assert si(65536, "B") == "64 KiB"
    assert si(0.024, "mm²") == "0.024 mm²"
    assert si(0.43) == "0.43"


def test_log_ticks_are_decades_or_1_2_5_never_bare_digits() -> None:
    assert tick_values([0.102, 141.0], log=True) == [0.1, 1.0, 10.0, 100.0, 1000.0]
    assert tick_values([37.5e-3, 1.01], log=True) == [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    # less than a factor of 2.5: no 1-2-5 step inside, so plain steps
    assert tick_values([20.1e-3, 22.1e-3], log=True) == [0.02, 0.0205, 0.021, 0.0215, 0.022, 0.0225]


def test_h100_per_op_axes_read_with_units() -> None:
    """The H100's latency axis read `1, 6, 3, 1, 6, 3`, the accelerators' `14.66397µ`."""
    ops = tuple(
        OpResult(i, "aten.convolution.default", "conv", "m", 1, 1.0, lat, 1e-3 * (1 + i % 7))
        for i, lat in enumerate([9e-6, 11e-6, 30e-6, 113e-6, 60e-6, 14e-6, 20e-6])
    )
    d = DesignResult("h100-sxm", "gpu", 1e-3, 1e-2, 1e-2, 1e-1, {"idle": 1e-1}, None, ops)
    layout = _per_op_figure(d).layout
    for ax, unit in ((layout.yaxis, "J"), (layout.yaxis2, "s")):
        labels = list(ax.ticktext)
        assert len(labels) >= 3 and len(set(labels)) == len(labels)
        assert all(t.endswith(" " + unit) or t.endswith("m" + unit) or t.endswith("µ" + unit) for t in labels)
        assert all(len(t) <= 7 for t in labels), labels
    assert list(layout.yaxis2.ticktext)[:3] == ["5 µs", "10 µs", "20 µs"]
    assert axis("x", [], "J")["type"] == "linear"
