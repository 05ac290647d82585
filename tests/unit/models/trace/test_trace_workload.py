"""Traces as workload files: round trip, determinism, provenance, the committed quickstart."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.workload import STAT_FIELDS, dumps, from_json, load, save, to_json

ROOT = Path(__file__).resolve().parents[4]
WORKLOADS = ROOT / "scenarios" / "workloads"

PROVENANCE_KEYS = {
    "model",
    "weights",
    "weights_source",
    "resolution",
    "batch",
    "steps",
    "scheduler",
    "dtype",
    "torch_version",
    "diffusers_version",
    "picojoule_version",
    "seed",
    "cfg",
}


@pytest.fixture(scope="module")
def tiny_trace():
    pytest.importorskip("torch", reason="tracing needs torch (the trace extra)")
    pytest.importorskip("diffusers", reason="the zoo models need diffusers (the trace extra)")
    from models.trace.tracer import trace

    return trace("tiny-unet", steps=2, scheduler="ddim", stats=True, seed=3)


@pytest.mark.trace
def test_round_trip_preserves_everything(tiny_trace, tmp_path: Path) -> None:
    w = tiny_trace
    path = save(w, tmp_path / "t.workload.json.gz")
    back = load(path)
    assert back.ops == w.ops
    assert back.steps == w.steps == 2
    assert dict(back.provenance) == dict(w.provenance)
    assert to_json(back) == to_json(w)
    assert dumps(back) == dumps(w)
    assert set(back.stats) <= set(STAT_FIELDS)
    for name, table in w.stats.items():
        for s, row in enumerate(table):
            for a, b in zip(row, back.stats[name][s], strict=True):
                assert (a is None) == (b is None)
                if a is not None:
                    assert b == pytest.approx(a, rel=1e-5, abs=1e-12)


@pytest.mark.trace
def test_tracing_is_deterministic(tiny_trace) -> None:
    from models.trace.tracer import trace

    again = trace("tiny-unet", steps=2, scheduler="ddim", stats=True, seed=3)
    assert dumps(again) == dumps(tiny_trace)


@pytest.mark.trace
def test_provenance_and_stats_shape(tiny_trace) -> None:
    w = tiny_trace
    assert PROVENANCE_KEYS <= set(w.provenance)
    assert w.provenance["weights"] == "random-init"
    assert w.provenance["seed"] == 3 and w.provenance["scheduler"] == "ddim"
    assert w.provenance["steps"] == 2 and w.provenance["stats"] is True
    for name in ("act_zero_frac", "delta_int8_zero_frac", "act_block_zero_frac_8x8"):
        assert len(w.stats[name]) == 2 and len(w.stats[name][0]) == len(w.ops)
    # deltas exist from the second step on, only for MAC ops
    mac = [i for i, op in enumerate(w.ops) if op.macs > 0]
    assert all(w.stats["delta_int8_zero_frac"][0][i] is None for i in mac)
    assert all(w.stats["delta_int8_zero_frac"][1][i] is not None for i in mac)


@pytest.mark.trace
def test_without_stats_only_the_structure_is_recorded() -> None:
    pytest.importorskip("torch", reason="tracing needs torch (the trace extra)")
    from models.trace.tracer import trace

    w = trace("tiny-unet", steps=7, scheduler="ddim")
    assert w.steps == 7 and w.stats == {}
    assert w.provenance["stats"] is False


@pytest.mark.parametrize("name", ["ddpm-cifar10", "tiny-unet"])
def test_committed_workloads_load(name: str) -> None:
    w = load(WORKLOADS / f"{name}.workload.json.gz")
    assert w.provenance["model"] == name
    assert w.provenance["weights"] == "random-init"
    assert PROVENANCE_KEYS <= set(w.provenance)
    assert w.stats, "the committed quickstart traces carry statistics"
    if name == "ddpm-cifar10":
        assert w.flops_per_step == pytest.approx(12.4e9, rel=0.02)
        assert len(w.ops) == 368 and w.steps == 4


def test_corrupt_file_is_rejected(tmp_path: Path) -> None:
    from models.workload import WorkloadError

    good = (WORKLOADS / "tiny-unet.workload.json.gz").read_bytes()
    bad = tmp_path / "bad.workload.json.gz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(WorkloadError, match="corrupt or truncated"):
        load(bad)
    doc = to_json(load(WORKLOADS / "tiny-unet.workload.json.gz"))
    doc["stats"]["act_zero_frac"] = doc["stats"]["act_zero_frac"][:1]
    with pytest.raises(WorkloadError, match="stats.act_zero_frac"):
        from_json(doc)


def test_a_50_step_ddpm_trace_with_statistics_stays_in_the_low_megabytes() -> None:
    """Worst case: the quickstart's 368 ops, 50 steps, every field, incompressible values."""
    import random

    from models.workload import Workload

    ops = load(WORKLOADS / "ddpm-cifar10.workload.json.gz").ops
    rng = random.Random(0)
    stats = {name: tuple(tuple(rng.random() for _ in ops) for _ in range(50)) for name in STAT_FIELDS}
    size = len(dumps(Workload(ops=ops, steps=50, stats=stats)))
    assert 100_000 < size < 3_000_000
