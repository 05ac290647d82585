"""picojoule bench: the document's shape, and the SD-1.5 op list it falls back to."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from accelerator.spec import load_arch
from simulator.bench import cli, speed
from simulator.bench.workloads import sd15_unet_step, standard_workloads
from simulator.cli import main
from simulator.sweep import bench as sweep_bench

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


def test_progress_counts_every_timed_design_outside_the_document() -> None:
    arch = load_arch(ROOT / "scenarios" / "arch" / "edge-os-int8.yaml")
    seen: list[speed.BenchProgress] = []
    doc = speed.run_bench(["tiny-unet"], repeat=1, event=True, sweep=False, archs=[arch], progress=seen.append)
    assert [(p.stage, p.done, p.total) for p in seen] == [(speed.STAGE_DESIGNS, 1, 2), (speed.STAGE_DESIGNS, 2, 2)]
    assert [p.item for p in seen] == ["tiny-unet edge-os-int8 analytic", "tiny-unet edge-os-int8 event"]
    assert "progress" not in json.dumps(doc)


def test_sweep_progress_counts_the_points_of_all_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """executor_throughput reports each evaluated point of its serial, local (x2) runs (no Dask here)."""
    runs: list[str] = []

    def fake_sweep(path: Path, out: Path, *, executor: str, on_outcome: Callable[[object], None], **_: object) -> Any:
        runs.append(executor)
        for _point in range(int(yaml.safe_load(Path(path).read_text())["strategy"]["samples"])):
            on_outcome(None)
        return SimpleNamespace(failed=0)

    monkeypatch.setattr(sweep_bench, "run_sweep", fake_sweep)
    monkeypatch.setattr(sweep_bench.importlib.util, "find_spec", lambda _name: None)
    ticks: list[tuple[int, int]] = []
    data = ROOT / "scenarios"
    sweep_bench.executor_throughput(
        data / "workloads" / "ddpm-cifar10.workload.json.gz",
        data / "arch" / "edge-os-int8.yaml",
        points=3,
        dask_points=5,
        on_point=lambda done, total: ticks.append((done, total)),
    )
    assert runs == ["serial", "local", "local"]
    assert ticks == [(i, 11) for i in range(1, 12)]


def test_cli_prints_only_the_document_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """--scenarios benches a checkout's folder; the progress bar never reaches stdout."""
    argv = ["bench", "--scenarios", str(ROOT / "scenarios"), "--workload", "tiny-unet", "--repeat", "1"]
    assert main([*argv, "--no-event", "--skip-sweep", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["designs"] == [p.stem for p in sorted((ROOT / "scenarios" / "arch").glob("*.yaml"))]
    assert captured.err == ""  # stderr is no terminal here: no bar
    assert main(["bench", "--scenarios", str(ROOT / "no-such-folder"), "--skip-sweep"]) == 2
    assert "not a folder" in capsys.readouterr().err
