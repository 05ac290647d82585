"""The public API (``simulator/__init__.py``): what it exports, and that it gives the numbers
the defining modules give."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import simulator
from accelerator.errors import SpecError
from accelerator.spec import load_arch as spec_load_arch
from models.workload import load as load_trace
from simulator import (
    DesignResult,
    evaluate,
    evaluation,
    load_arch,
    load_scenario,
    load_workload,
    optable,
    prepare,
    result,
    scenario,
)

ROOT = Path(__file__).resolve().parents[3]
WORKLOADS = ROOT / "scenarios" / "workloads"
TRACE = WORKLOADS / "tiny-unet.workload.json.gz"
#: The committed trace's golden record (tiny-unet at 16 px, tests/golden/test_traces.py).
TRACE_GOLDEN = ROOT / "tests" / "golden" / "traces" / "tiny-unet-16.json"
ARCHS = sorted((ROOT / "scenarios" / "arch").glob("*.yaml"))


def test_all_is_the_curated_list_and_names_the_defining_objects() -> None:
    assert sorted(simulator.__all__) == sorted(
        ["DesignResult", "evaluate", "evaluate_prepared", "load_arch", "load_scenario", "load_workload", "prepare"]
    )
    assert simulator.evaluate is evaluation.evaluate
    assert simulator.evaluate_prepared is evaluation.evaluate_prepared
    assert simulator.prepare is optable.prepare
    assert simulator.DesignResult is result.DesignResult
    assert simulator.load_arch is spec_load_arch
    assert simulator.load_workload is scenario.load_workload
    assert simulator.load_scenario is scenario.load_scenario
    assert "from simulator import evaluate, load_arch, load_workload" in (simulator.__doc__ or "")


def test_importing_the_api_pulls_in_no_torch() -> None:
    code = "import sys, simulator; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_load_workload_reads_the_committed_trace() -> None:
    w = load_workload(TRACE)
    golden = json.loads(TRACE_GOLDEN.read_text(encoding="utf-8"))
    assert len(w.ops) == golden["ops_per_step"] == 166
    assert w.macs_per_step == golden["macs_per_step"]
    assert w.flops_per_step == golden["flops_per_step"]
    assert w == load_trace(TRACE)


@pytest.mark.parametrize("arch_path", ARCHS, ids=lambda p: p.stem)
def test_evaluate_matches_the_evaluation_module(arch_path: Path) -> None:
    r = evaluate(load_workload(TRACE), load_arch(arch_path))
    direct = evaluation.evaluate_prepared(optable.prepare(load_trace(TRACE)), spec_load_arch(arch_path))
    assert isinstance(r, DesignResult) and r.name == arch_path.stem
    assert r.energy_j_per_image == direct.energy_j_per_image > 0
    assert r.latency_s_per_image == direct.latency_s_per_image > 0
    assert r.per_op == direct.per_op
    # the prepared path gives the same numbers as the one-call path
    again = simulator.evaluate_prepared(prepare(load_workload(TRACE)), load_arch(arch_path))
    assert again.energy_j_per_image == r.energy_j_per_image


def test_load_workload_reads_every_format() -> None:
    layers = load_workload(WORKLOADS / "dit-block.layers.yaml")
    csv = load_workload(str(WORKLOADS / "resnet18-head.scalesim.csv"))
    assert layers.ops and layers.macs_per_step > 0
    assert csv.ops and csv.macs_per_step > 0


def test_load_workload_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.workload.json"
    bad.write_text("{}")
    with pytest.raises(SpecError, match="bad.workload.json"):
        load_workload(bad)


def test_load_scenario_resolves_the_quickstart() -> None:
    sc = load_scenario(ROOT / "scenarios" / "quickstart.yaml")
    assert sc.spec.name and sc.spec.designs
    assert all(sc.resolve(d).is_file() for d in sc.spec.designs)
    assert load_workload(sc.resolve(sc.spec.workload)).ops
