"""A damaged calibration file is one error naming the file and the field
(``simulator.gpu.calibration_file.load_calibration``), checked before any of it is used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accelerator.errors import PicojouleError
from simulator.cli import main
from simulator.gpu.calibration_file import load_calibration

ROOT = Path(__file__).resolve().parents[4]
GOOD = ROOT / "scenarios" / "gpu" / "h100-sxm-calibration.json"


def _edit(tmp_path: Path, path: tuple[str, ...], value: Any) -> Path:
    doc = json.loads(GOOD.read_text())
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    out = tmp_path / "cal.json"
    out.write_text(json.dumps(doc))
    return out


def test_the_committed_calibration_loads() -> None:
    c = load_calibration(GOOD)
    assert c.gpu == "h100-sxm" and c.precision == "bf16" and c.params.idle_w > 0


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("params", "eff_max", "gemm"), 0, "params.eff_max.gemm: expected a positive finite number"),
        (("params", "mem_eff", "conv"), "fast", "params.mem_eff.conv"),
        (("params", "idle_w"), -1, "params.idle_w: expected a non-negative"),
        (
            ("params", "l2_resident_fraction"),
            2.0,
            "params.l2_resident_fraction: expected a non-negative finite number at most 1",
        ),
        (
            ("params", "pj_per_l2_byte"),
            82022,
            "params.pj_per_l2_byte: expected a non-negative finite number at most 8000 (1,000 pJ/bit",
        ),
        (("params", "eff_max", "gemm"), 1.5, "params.eff_max.gemm: expected a positive finite number at most 1"),
        (("mape", "energy_image"), 962412.15, "mape.energy_image: expected a non-negative finite number at most 10000"),
        (
            ("measured", "ddpm-cifar10", "profiler_inflation"),
            2**63,
            "measured.ddpm-cifar10.profiler_inflation: expected",
        ),
        (
            ("measured", "ddpm-cifar10", "energy_error_pct"),
            -1.0,
            "measured.ddpm-cifar10.energy_error_pct: expected a non-negative",
        ),
        (
            ("measured", "ddpm-cifar10", "op_class_s_per_step", "conv", "ops"),
            -1,
            "measured.ddpm-cifar10.op_class_s_per_step.conv.ops: expected a non-negative integer",
        ),
        (
            ("measured", "ddpm-cifar10", "op_class_s_per_step", "conv", "predicted_s"),
            446009.3,
            "measured.ddpm-cifar10.op_class_s_per_step.conv.predicted_s: expected a non-negative finite number at most",
        ),
        (("measured", "ddpm-cifar10", "gpu_bound"), 1, "measured.ddpm-cifar10.gpu_bound: expected true or false"),
        (("measured", "ddpm-cifar10", "warp"), 1, "measured.ddpm-cifar10.warp: unknown field"),
        (("points", "dit-s-2", "steps"), 2**63, "points.dit-s-2.steps: expected an integer at most 1e+06"),
        (("provenance", "l2_resident_fraction"), -0.5, "provenance.l2_resident_fraction: expected a string"),
        (("provenance", "method"), "x" * 10_000, "provenance.method: expected a string of at most 1000 characters"),
        (
            ("provenance", "kernel_fixed_scale"),
            1e30,
            "provenance.kernel_fixed_scale: expected a non-negative finite number at most 1",
        ),
        (("provenance", "measurements"), {"a": 1}, "provenance.measurements: expected a list"),
        (("provenance", "note"), "hi", "provenance.note: unknown field"),
        (("params", "host_issue_s"), True, "params.host_issue_s"),
        (("params", "eff_max"), [1, 2], "params.eff_max: expected a JSON object"),
        (("params", "warp_speed"), 1.0, "params.warp_speed: unknown parameter"),
        (("precision",), [], "precision: expected one of"),
        (("gpu",), 4090, "gpu: expected a GPU name"),
        (("version",), True, "version: expected 1"),
        (("mape", "latency_step"), "16%", "mape.latency_step"),
        (("points", "dit-s-2", "runs"), 0, "points.dit-s-2.runs: expected a positive integer"),
        (("measured", "ddpm-cifar10", "energy_j_per_image"), -5, "measured.ddpm-cifar10.energy_j_per_image"),
        (("points",), 242, "points: expected a JSON object"),
    ],
)
def test_a_bad_field_is_named(tmp_path: Path, path: tuple[str, ...], value: Any, field: str) -> None:
    bad = _edit(tmp_path, path, value)
    with pytest.raises(PicojouleError) as exc:
        load_calibration(bad)
    assert str(exc.value).startswith(f"{bad}: {field}")


def test_nan_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "cal.json"
    bad.write_text(GOOD.read_text().replace('"active_w": 29.57959163701287', '"active_w": NaN'))
    with pytest.raises(PicojouleError, match="NaN is not JSON"):
        load_calibration(bad)


@pytest.mark.parametrize("what", ["folder", "missing"])
def test_not_a_file(tmp_path: Path, what: str) -> None:
    path = tmp_path / "cal.json"
    if what == "folder":
        path.mkdir()
    with pytest.raises(PicojouleError, match="cannot read the calibration file"):
        load_calibration(path)


def test_validate_of_a_scenario_reads_its_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``validate`` and ``run`` agree: a scenario whose calibration is damaged does not validate."""
    _edit(tmp_path, ("params", "mem_eff", "conv"), -1)
    arch = ROOT / "scenarios" / "arch" / "edge-os-int8.yaml"
    workload = ROOT / "scenarios" / "workloads" / "dit-block.layers.yaml"
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"name: s\nworkload: '{workload}'\ndesigns: ['{arch}']\ngpus: [h100-sxm]\ngpu_calibration: cal.json\n"
    )
    assert main(["validate", str(scenario)]) == 2
    assert "cal.json: params.mem_eff.conv: expected a positive finite number" in capsys.readouterr().err
