"""Batch as a scenario field: the workload transform, batch 1 as today, the GPU's best point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import load_arch
from models.workload import load
from simulator.evaluation import evaluate_prepared
from simulator.optable import prepare, with_batch
from simulator.run import run_scenario
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[3]
TRACE = ROOT / "scenarios" / "workloads" / "ddpm-cifar10.workload.json.gz"
QUICKSTART = ("edge-os-int8", "dc-os-int8-sparse", "dc-ws-fp16")
GOLDEN = ROOT / "tests" / "golden" / "results" / "ddpm-cifar10.json"


@pytest.fixture(scope="module")
def ddpm():  # type: ignore[no-untyped-def]
    return load(TRACE)


def test_transform_scales_activations_and_keeps_weights(ddpm) -> None:  # type: ignore[no-untyped-def]
    b4 = with_batch(ddpm, 4)
    assert with_batch(ddpm, 1) is ddpm
    assert b4.macs_per_step == 4 * ddpm.macs_per_step and b4.flops_per_step == 4 * ddpm.flops_per_step
    assert b4.stats == ddpm.stats and b4.provenance["images_per_batch"] == 4
    for one, four in zip(ddpm.ops, b4.ops, strict=True):
        assert (four.act_bytes, four.out_bytes, four.weight_bytes) == (4 * one.act_bytes, 4 * one.out_bytes,
                                                                         one.weight_bytes)  # fmt: skip
        if one.kind == "conv" and one.gemm is not None:
            assert four.gemm == (one.gemm[0], 4 * one.gemm[1], *one.gemm[2:])  # M x 4, weights unchanged
            assert four.input_shapes[0][0] == 4 * one.input_shapes[0][0] and four.output_shape[0] == 4
            assert four.input_shapes[1] == one.input_shapes[1]  # the weight's shape
        if one.kind == "attention" and one.gemm is not None:
            assert four.gemm == (4 * one.gemm[0], *one.gemm[1:])


def test_cfg_traces_run_two_calls_per_image() -> None:
    sd = load(ROOT / "scenarios" / "workloads" / "sd15-unet-64.workload.json.gz")
    assert sd.provenance["cfg"] is True
    conv = next(op for op in with_batch(sd, 3).ops if op.kind == "conv")
    assert conv.output_shape[0] == 2 * 3  # guidance: the unconditional and conditional image


def test_batch_one_reproduces_the_golden_numbers(ddpm) -> None:  # type: ignore[no-untyped-def]
    golden = json.loads(GOLDEN.read_text())["designs"]
    table = prepare(ddpm, batch=1)
    for name in QUICKSTART:
        r = evaluate_prepared(table, load_arch(ROOT / "scenarios" / "arch" / f"{name}.yaml"))
        g = golden[name]["analytic"]
        assert r.batch == 1 and "batch" not in r.extras
        for key in ("energy_j_per_image", "latency_s_per_image", "energy_j_per_step", "latency_s_per_step"):
            assert getattr(r, key) == pytest.approx(g[key], rel=1e-7), (name, key)


def test_batches_on_the_ddpm_trace(ddpm) -> None:  # type: ignore[no-untyped-def]
    """Per image: MACs equal, DRAM no more on the datacenter designs; the batch never finishes sooner."""
    for name in QUICKSTART:
        arch = load_arch(ROOT / "scenarios" / "arch" / f"{name}.yaml")
        prev = None
        for batch in (1, 2, 16):
            r = evaluate_prepared(prepare(ddpm, batch=batch), arch, steps=10)
            assert sum(o.macs for o in r.per_op) == batch * ddpm.macs_per_step
            if prev is not None:
                assert r.latency_s_per_image >= prev.latency_s_per_image
                if name != "edge-os-int8":  # its small buffer keeps no batched activation on chip
                    dram = r.extras["traffic_bytes_per_image"]["dram"]
                    assert dram <= prev.extras["traffic_bytes_per_image"]["dram"]
            prev = r


def _scenario(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "sc.yaml"
    p.write_text(
        f"name: t\nworkload: {TRACE}\nsteps: 10\ndesigns: [{ROOT / 'scenarios/arch/dc-os-int8-sparse.yaml'}]\n"
        f"gpus: [h100-sxm]\ngpu_calibration: {ROOT / 'scenarios/gpu/h100-sxm-calibration.json'}\n{extra}"
    )
    return p


def test_gpu_best_point_is_the_minimum_of_what_it_considered(tmp_path: Path) -> None:
    out = run_scenario(_scenario(tmp_path, "batch: [1, 4]\ngpu_baseline: best\n"), tmp_path / "o")
    names = [d.name for d in out.designs]
    assert names[:4] == ["dc-os-int8-sparse @b1", "dc-os-int8-sparse @b4", "h100-sxm @b1", "h100-sxm @b4"]
    ref, best = out.designs[2], out.designs[-1]
    point = best.extras["gpu_point"]
    assert point["role"] == "best" and ref.extras["gpu_point"]["role"] == "baseline"
    considered = point["considered"]
    assert len(considered) == 2 * 2 * 2  # modes x precisions x batches (the eager bf16 b1 row among them)
    assert {(c["mode"], c["precision"], c["batch"]) for c in considered} == {
        (m, p, b) for m in ("eager", "graph") for p in ("bf16", "fp8") for b in (1, 4)
    }
    assert best.energy_j_per_image == min(c["energy_j_per_image"] for c in considered)
    assert best.energy_j_per_image <= ref.energy_j_per_image
    assert (point["mode"], point["precision"], point["batch"]) == (
        best.extras["mode"], best.extras["precision"], best.batch)  # fmt: skip
    assert best.name == f"h100-sxm best ({point['mode']} {point['precision']} @b{point['batch']})"
    assert "less than the h100-sxm at eager bf16 batch 1 (modelled, calibrated)" in out.summary
    assert f"less than the h100-sxm's best modelled point: {point['mode']} {point['precision']}" in out.summary
    doc = out.doc["designs"]
    assert [d["batch"] for d in doc] == [1, 4, 1, 4, point["batch"]]
    b4 = doc[1]["extras"]["batch"]
    assert b4["images"] == 4 and b4["images_per_s"] == pytest.approx(4 / doc[1]["latency_s_per_image"], rel=1e-6)
    assert doc[2]["extras"]["measured"]["batch"] == 1  # measured at batch 1 and 16 only
    assert "measured" not in doc[3]["extras"]


def test_decoder_runs_once_per_image_at_any_batch(tmp_path: Path) -> None:
    dec = ROOT / "scenarios" / "workloads" / "tiny-unet.workload.json.gz"
    out = run_scenario(_scenario(tmp_path, f"batch: 2\ndecoder: {dec}\n"), tmp_path / "o")
    for d in out.designs:
        if d.batch != 2:
            continue
        x = d.extras
        assert d.energy_j_per_image == pytest.approx(10 * d.energy_j_per_step + x["decoder"]["energy_j"], rel=1e-9)
        assert d.latency_s_per_image == pytest.approx(10 * d.latency_s_per_step + x["decoder"]["latency_s"], rel=1e-9)
        assert x["batch"]["energy_j_per_batch"] == pytest.approx(2 * d.energy_j_per_image, rel=1e-9)
        assert x["batch"]["latency_s_per_batch"] == pytest.approx(d.latency_s_per_image, rel=1e-12)


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("batch: 0\n", "batch", "must be in [1, 256]"),
        ("batch: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n", "batch", "at most 8 batch sizes"),
        ("batch: [1, 4.0]\n", "batch.1", "expected an integer"),
        ("batch: [4, 4]\n", "batch.1", "listed twice"),
        ("gpu_modes: [eager, turbo]\n", "gpu_modes.1", "'turbo'"),
        ("gpu_baseline: fastest\n", "gpu_baseline", "'fastest'"),
    ],
)
def test_scenario_errors_are_located(tmp_path: Path, extra: str, field: str, message: str) -> None:
    p = _scenario(tmp_path, extra)
    line = len(p.read_text().splitlines())
    with pytest.raises(SpecError) as info:
        load_scenario(p)
    assert info.value.field == field and info.value.line == line
    assert message in str(info.value) and f"sc.yaml:{line} {field}:" in str(info.value)


def test_a_batch_too_large_for_the_format_is_the_batch_fields_error(tmp_path: Path) -> None:
    sd = ROOT / "scenarios" / "workloads" / "sd15-unet-64.workload.json.gz"
    p = _scenario(tmp_path, "batch: 256\n").read_text().replace(str(TRACE), str(sd))
    (tmp_path / "sd.yaml").write_text(p)
    with pytest.raises(SpecError) as info:
        run_scenario(tmp_path / "sd.yaml", tmp_path / "o")
    assert info.value.field == "batch" and "MAX_MACS_PER_STEP" in str(info.value)
    assert math.isfinite(info.value.line or math.nan)
