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

from accelerator.errors import SpecError
from accelerator.spec import load_arch
from simulator.bench import cli, speed
from simulator.bench.nest import nest_targets, with_memory_model
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
    doc = speed.run_bench(["tiny-unet"], repeat=1, event=True, sweep=False, nest=False, archs=[arch])
    assert "nest" not in doc
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


@pytest.fixture(scope="module")
def with_nest() -> tuple[dict[str, Any], list[speed.BenchProgress]]:
    """The bench on tiny-unet with edge-os-int8 and quality-int4 (packed int4: two MACs per PE per
    cycle, on the nest engine too), nest rows included, and the progress it reported."""
    archs = [load_arch(ROOT / "scenarios" / "arch" / f"{n}.yaml") for n in ("edge-os-int8", "quality-int4")]
    seen: list[speed.BenchProgress] = []
    doc = speed.run_bench(["tiny-unet"], repeat=1, event=True, sweep=False, archs=archs, progress=seen.append)
    return doc, seen


def test_progress_counts_every_timed_design_outside_the_document(
    with_nest: tuple[dict[str, Any], list[speed.BenchProgress]],
) -> None:
    doc, seen = with_nest
    assert [(p.stage, p.done, p.total) for p in seen] == [
        *((speed.STAGE_DESIGNS, i, 4) for i in range(1, 5)),
        (speed.STAGE_NEST, 1, 2),
        (speed.STAGE_NEST, 2, 2),
    ]
    assert [p.item for p in seen] == [
        "tiny-unet edge-os-int8 analytic",
        "tiny-unet quality-int4 analytic",
        "tiny-unet edge-os-int8 event",
        "tiny-unet quality-int4 event",
        "tiny-unet edge-os-int8 nest",
        "tiny-unet quality-int4 nest",
    ]
    assert "progress" not in json.dumps(doc)


def test_nest_rows_are_well_formed(with_nest: tuple[dict[str, Any], list[speed.BenchProgress]]) -> None:
    """Cold and warm times per workload, rates that agree with them, every design timed (none
    refused), and the searches a cold design ran."""
    doc, _ = with_nest
    nest = doc["nest"]
    assert nest["designs"] == ["edge-os-int8", "quality-int4"]
    assert nest["skipped"] == {}
    for kind in ("cold", "warm"):
        ms = nest[f"{kind}_ms_per_design"]["tiny-unet"]
        assert ms > 0
        assert nest[f"{kind}_designs_per_s_per_core"]["tiny-unet"] == round(1e3 / ms, 2)
    # tiny-unet's distinct GEMM-like shapes, each searched once by a cold design (fewer than its ops)
    searches = nest["searches_per_design"]["tiny-unet"]
    assert 1 <= searches < doc["ops"]["tiny-unet"] * 4 and searches == int(searches)
    assert doc["targets"]["sd15_nest_ms"] == 50.0 and doc["targets"]["ddpm_nest_designs_per_s_per_core"] == 20.0
    assert not any(k.startswith(("sd15_nest_c", "sd15_nest_w", "ddpm_nest_c", "ddpm_nest_w")) for k in doc["targets"])
    json.dumps(doc)  # serialisable


def test_nest_targets_compare_cold_and_warm_against_the_issue_targets() -> None:
    doc = {
        "cold_ms_per_design": {"sd15-unet-64": 60.0, "ddpm-cifar10": 40.0},
        "warm_ms_per_design": {"sd15-unet-64": 50.0, "ddpm-cifar10": 10.0},
        "cold_designs_per_s_per_core": {"sd15-unet-64": 16.67, "ddpm-cifar10": 19.99},
        "warm_designs_per_s_per_core": {"sd15-unet-64": 20.0, "ddpm-cifar10": 100.0},
    }
    got = nest_targets(doc)
    assert got["sd15_nest_cold_met"] is False and got["sd15_nest_warm_met"] is True  # <= 50 ms
    assert got["ddpm_nest_cold_met"] is False and got["ddpm_nest_warm_met"] is True  # >= 20 designs/s


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
    assert main([*argv, "--no-event", "--no-nest", "--skip-sweep", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["designs"] == [p.stem for p in sorted((ROOT / "scenarios" / "arch").glob("*.yaml"))]
    assert captured.err == ""  # stderr is no terminal here: no bar
    assert main(["bench", "--scenarios", str(ROOT / "no-such-folder"), "--skip-sweep"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_the_one_level_rows_time_the_one_level_model_and_the_nest_rows_the_nest(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The committed designs name the nest engine with the fast search; the bench's analytic and
    event rows set ``one_level`` on each, its nest rows keep the design's ``nest`` and ``fast``."""
    arch = load_arch(ROOT / "scenarios" / "arch" / "edge-os-int8.yaml")
    assert (arch.mapping.memory_model, arch.mapping.search) == ("nest", "fast")
    seen: list[tuple[str, str, str]] = []
    real = speed.evaluate_prepared

    def spy(table, a, **kw):  # type: ignore[no-untyped-def]
        seen.append((kw.get("fidelity", "analytic"), a.mapping.memory_model, a.mapping.search))
        return real(table, a, **kw)

    monkeypatch.setattr(speed, "evaluate_prepared", spy)
    speed.run_bench(["tiny-unet"], repeat=1, event=True, sweep=False, nest=False, archs=[arch])
    assert set(seen) == {("analytic", "one_level", "fast"), ("event", "one_level", "fast")}
    assert with_memory_model(arch, "nest") == arch  # the nest rows' copy is the design itself


def test_a_design_only_the_nest_runs_is_left_out_of_the_one_level_rows_with_its_reason() -> None:
    edge = load_arch(ROOT / "scenarios" / "arch" / "edge-os-int8.yaml")
    rs = load_arch(ROOT / "scenarios" / "validation" / "eyeriss-rlc.yaml")  # row-stationary: nest only
    doc = speed.run_bench(["tiny-unet"], repeat=1, event=False, sweep=False, nest=False, archs=[edge, rs])
    assert doc["designs"] == ["edge-os-int8"]
    assert (
        list(doc["skipped"]) == [rs.name]
        and "row_stationary needs mapping.memory_model: nest" in doc["skipped"][rs.name]
    )
    assert f"(one_level: {rs.name} left out: " in cli._table(doc)
    with pytest.raises(SpecError, match="no design the one-level model runs"):
        speed.run_bench(["tiny-unet"], repeat=1, event=False, sweep=False, nest=False, archs=[rs])


def test_the_executor_bench_sweeps_the_one_level_model(tmp_path: Path) -> None:
    from simulator.sweep.spec import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text(
        sweep_bench._SWEEP.format(
            base=ROOT / "scenarios" / "arch" / "edge-os-int8.yaml",
            workload=ROOT / "scenarios" / "workloads" / "tiny-unet.workload.json.gz",
            samples=3,
        ),
        encoding="utf-8",
    )
    axes = {a.name: a.values for a in load_sweep(path).axes}
    assert axes["mapping.memory_model"] == ("one_level",)  # its executors' overhead, not the mapper
