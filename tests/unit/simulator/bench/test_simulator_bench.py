"""picojoule bench: the document's shape, and the SD-1.5 op list it falls back to."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accelerator.spec import load_arch
from simulator.bench import cli, speed
from simulator.bench.workloads import sd15_unet_step, standard_workloads

ROOT = Path(__file__).resolve().parents[4]


def test_sd15_op_list_matches_the_published_model() -> None:
    w = sd15_unet_step()
    # docs/tracing.md: SD-1.5 UNet at a 64x64 latent, batch 1: 803 GFLOPs, i.e. ~401.6 GMACs.
    assert abs(w.macs_per_step / 401.6e9 - 1) < 0.01
    kinds = [op.kind for op in w.ops]
    assert kinds.count("attention") == 32  # 16 transformer blocks x (self + cross)
    assert kinds.count("conv") == 98
    assert "sd15-unet" in standard_workloads() or any(k.startswith("sd") for k in standard_workloads())


def test_bench_document() -> None:
    arch = load_arch(ROOT / "scenarios" / "arch" / "edge-os-int8.yaml")
    doc = speed.run_bench(["tiny-unet"], repeat=1, event=True, sweep=False, archs=[arch])
    for key in ("analytic_ms_per_design", "event_ms_per_design", "designs_per_s_per_core"):
        assert set(doc[key]) == {"tiny-unet"}
        assert doc[key]["tiny-unet"] > 0
    assert doc["designs_per_s_per_core"]["tiny-unet"] == round(1e3 / doc["analytic_ms_per_design"]["tiny-unet"], 2)
    assert doc["designs"] == ["edge-os-int8"]
    json.dumps(doc)  # serialisable

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["bench", "--json", "--workload", "tiny-unet", "--repeat", "1", "--no-event", "--skip-sweep"]
    )
    assert args.func is cli._cmd and args.json and args.workload == ["tiny-unet"]
