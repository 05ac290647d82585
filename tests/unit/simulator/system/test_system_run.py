"""Systems in a scenario: `picojoule run` evaluates them beside the designs, prints per-core
utilisation and the network's energy, writes them to results.json and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelerator.errors import SpecError
from simulator.run import run_scenario
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[4]


def _scenario(tmp_path: Path, systems: str, extra: str = "") -> Path:
    path = tmp_path / "mc.yaml"
    path.write_text(
        f"name: mc\nworkload: {ROOT}/scenarios/workloads/tiny-unet.workload.json.gz\nsteps: 2\n"
        f"designs: [{ROOT}/scenarios/arch/edge-os-int8.yaml]\nsystems: {systems}\n{extra}"
    )
    return path


def test_run_evaluates_systems_both_ways(tmp_path: Path) -> None:
    path = _scenario(tmp_path, f"[{ROOT}/scenarios/multicore/one-die.yaml]")
    out = run_scenario(path, tmp_path / "o")
    names = [d.name for d in out.designs]
    assert names == ["edge-os-int8", "one-die (layer by layer)", "one-die (fused)"]
    assert "utilisation per core instance: array" in out.summary and "noc " in out.summary
    doc = json.loads(out.results_path.read_text())
    sysx = doc["designs"][1]["extras"]["system"]
    assert sysx["fusion"] == "layer_by_layer" and len(sysx["cores"]) == 4
    assert {"noc", "d2d"} <= set(doc["designs"][2]["energy_breakdown_j"])
    assert "Multi-core systems" in out.report_path.read_text()
    again = run_scenario(path, tmp_path / "p")
    assert again.results_path.read_bytes() == out.results_path.read_bytes()
    fused, flat = out.designs[2], out.designs[1]
    assert fused.energy_j_per_image <= flat.energy_j_per_image  # the search may pick depth 1


def test_only_fused(tmp_path: Path) -> None:
    path = _scenario(tmp_path, f"[{ROOT}/scenarios/multicore/hetero.yaml]", "system_fusion: fused\n")
    with pytest.raises(SpecError):  # a list is expected
        load_scenario(path)
    path = _scenario(tmp_path, f"[{ROOT}/scenarios/multicore/hetero.yaml]", "system_fusion: [fused]\n")
    assert load_scenario(path).spec.system_fusion == ("fused",)


def test_missing_system_file_is_located(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "[nowhere.yaml]")
    with pytest.raises(SpecError) as info:
        load_scenario(path)
    assert info.value.field == "systems.0" and info.value.line == 5
