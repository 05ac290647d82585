"""A scenario with a ``quality:`` section puts quality beside energy in results.json and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="quality emulation needs torch (trace extra)")
pytest.importorskip("diffusers", reason="the digits sampler needs diffusers (trace extra)")

from simulator.run import run_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def test_scenario_quality_in_results_and_report(tmp_path: Path) -> None:
    import torch

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
