"""A scenario with a ``quality:`` section puts quality beside energy in results.json and the report;
``quality.steps_from`` binds the scenario's step count to a committed steps sweep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accelerator.errors import SpecError
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[3]
HANDMADE = ROOT / "tests" / "unit" / "models" / "numerics" / "data" / "handmade-steps.json"
"""The hand-made sweep of the binding's closed-form tests (fp32 PSNR 6, 18, 31, 40, inf dB at 1, 2, 5,
20, 50 steps; FD to data 900, 400, 150, 90, 130)."""


def sweep_doc(model: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(HANDMADE.read_text())
    return {**doc, "model": model}


def _needs_torch() -> Any:
    pytest.importorskip("diffusers", reason="the digits sampler needs diffusers (trace extra)")
    return pytest.importorskip("torch", reason="quality emulation needs torch (trace extra)")


def test_scenario_quality_in_results_and_report(tmp_path: Path) -> None:
    torch = _needs_torch()
    from simulator.run import run_scenario

    arch = ROOT / "scenarios" / "arch"
    scenario = tmp_path / "q.yaml"
    scenario.write_text(
        "name: q\n"
        f"workload: {ROOT / 'scenarios' / 'workloads' / 'dit-block.layers.yaml'}\n"
        f"designs: [{arch / 'quality-fp16.yaml'}, {arch / 'quality-int4.yaml'}]\n"
        "gpus: [h100-sxm]\n"
        "quality: {model: digits-random, images: 2, steps: 2, calibration_images: 1}\n"
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = run_scenario(scenario, tmp_path / "out")
    finally:
        torch.set_num_threads(threads)
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    q = {d["name"]: d["quality"] for d in doc["designs"]}
    assert set(q) == {"quality-fp16", "quality-int4", "h100-sxm"}
    assert q["quality-fp16"]["psnr_db"] > q["quality-int4"]["psnr_db"]
    assert q["h100-sxm"]["numerics"].startswith("w bf16")
    assert q["quality-int4"]["model"] == "digits-random" and q["quality-int4"]["images"] == 2
    assert "image quality vs the fp32 reference" in out.summary
    assert "quality-energy" in (tmp_path / "out" / "report.html").read_text()


def _bound_scenario(tmp_path: Path, quality: str, top: str = "", model: str = "digits-ddpm") -> Path:
    (tmp_path / "s.json").write_text(json.dumps(sweep_doc(model)))
    scenario = tmp_path / "b.yaml"
    scenario.write_text(
        "name: b\n"
        f"workload: {ROOT / 'scenarios' / 'workloads' / 'dit-block.layers.yaml'}\n"
        f"designs: [{ROOT / 'scenarios' / 'arch' / 'quality-int8.yaml'}]\n"
        f"{top}"
        "quality:\n"
        f"{quality}"
    )
    return scenario


def test_steps_from_binds_the_scenario_steps_to_the_fewest_meeting_the_bound(tmp_path: Path) -> None:
    sc = load_scenario(_bound_scenario(tmp_path, "  steps_from: s.json\n  min_psnr_db: 30\n"))
    assert sc.spec.steps == 5 and sc.spec.quality is not None and sc.spec.quality.steps == 5
    choice = sc.spec.quality.steps_choice
    assert choice is not None and choice.entry["psnr_db"] == 31.0 and choice.reference_steps == 50
    sc = load_scenario(_bound_scenario(tmp_path, "  steps_from: s.json\n  max_fd_data: 100\n  min_ssim: 0.5\n"))
    assert sc.spec.steps == 20
    sc = load_scenario(_bound_scenario(tmp_path, "  steps_from: s.json\n  steps_series: int8\n  min_psnr_db: 20\n"))
    assert sc.spec.steps == 5
    plain = load_scenario(_bound_scenario(tmp_path, "  images: 2\n"))
    assert plain.spec.steps is None and plain.spec.quality is not None and plain.spec.quality.steps_choice is None


S = "  steps_from: s.json\n"


@pytest.mark.parametrize(
    ("quality", "top", "model", "where", "message"),
    [
        (
            S + "  steps_series: int8\n  min_psnr_db: 45\n",
            "",
            "digits-ddpm",
            ":7 quality.min_psnr_db",
            "best psnr_db: 50",
        ),
        ("  steps_from: none.json\n  min_psnr_db: 20\n", "", "digits-ddpm", ":5 quality.steps_from", "no such"),
        (S + "  min_psnr_db: 20\n", "", "terrain", ":5 quality.steps_from", "of model 'terrain'"),
        (S + "  min_psnr_db: 20\n", "steps: 8\n", "digits-ddpm", ":4 steps", "leave steps out"),
        (S + "  steps: 8\n  min_psnr_db: 20\n", "", "digits-ddpm", ":4 quality", "leave it out"),
        ("  min_psnr_db: 20\n", "", "digits-ddpm", ":4 quality", "give steps_from too"),
        (S + "  images: 2\n", "", "digits-ddpm", ":4 quality", "needs a bound"),
        (S + "  min_psnr_db: -1\n", "", "digits-ddpm", ":6 quality.min_psnr_db", "at least 0"),
        (S + "  steps_series: x\n  min_psnr_db: 1\n", "", "digits-ddpm", ":6 quality.steps_series", "no series 'x'"),
    ],
)
def test_steps_binding_errors_are_located(
    tmp_path: Path, quality: str, top: str, model: str, where: str, message: str
) -> None:
    path = _bound_scenario(tmp_path, quality, top, model)
    with pytest.raises(SpecError, match=message) as err:
        load_scenario(path)
    assert f"{path}{where}" in str(err.value)


def test_run_reports_the_chosen_steps_and_their_quality_beside_energy(tmp_path: Path) -> None:
    torch = _needs_torch()
    from simulator.run import run_scenario

    path = _bound_scenario(tmp_path, "  model: digits-random\n  images: 1\n  calibration_images: 1\n", "")
    text = path.read_text().replace("quality:\n", "quality:\n  steps_from: s.json\n  min_psnr_db: 17\n")
    path.write_text(text)
    (tmp_path / "s.json").write_text(json.dumps(sweep_doc("digits-random")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = run_scenario(path, tmp_path / "out")
    finally:
        torch.set_num_threads(threads)
    doc = json.loads(out.results_path.read_text())
    assert doc["workload"]["steps"] == 2 and doc["quality_steps"]["steps"] == 2
    assert doc["quality_steps"]["measured"]["psnr_db"] == 18.0 and doc["designs"][0]["quality"]["steps"] == 2
    assert "steps: 2, the fewest in s.json (series fp32) with PSNR >= 17 dB" in out.summary
    assert "PSNR 18.00 dB, SSIM 0.5000, FD to data 400" in out.summary
