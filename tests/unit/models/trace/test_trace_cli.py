"""``picojoule trace`` through its register() sub-parser (models.trace.cli)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.workload import load
from simulator.cli import main

ROOT = Path(__file__).resolve().parents[4]
QUICKSTART = ROOT / "scenarios" / "workloads" / "ddpm-cifar10.workload.json.gz"


def test_summary_json_has_exactly_the_issue_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--summary", str(QUICKSTART), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == [
        "model",
        "weights",
        "steps",
        "ops_per_step",
        "flops_per_step",
        "flops_by_kind",
        "per_step",
    ]
    w = load(QUICKSTART)
    assert doc["model"] == "ddpm-cifar10" and doc["weights"] == "random-init"
    assert doc["steps"] == w.steps == len(doc["per_step"])
    assert doc["ops_per_step"] == len(w.ops)
    assert doc["flops_per_step"] == w.flops_per_step == sum(doc["flops_by_kind"].values())
    for s, row in enumerate(doc["per_step"]):
        assert list(row) == [
            "step",
            "act_zero_frac",
            "act_near_zero_frac",
            "delta_int8_zero_frac",
            "delta_int4_zero_frac",
        ]
        assert row["step"] == s
        assert (row["delta_int8_zero_frac"] is None) == (s == 0)
    # MAC-weighted mean over MAC ops, recomputed here
    table = w.stats["act_zero_frac"][2]
    macs = [op.macs for op in w.ops]
    expected = sum(v * m for v, m in zip(table, macs, strict=True) if m and v is not None) / sum(
        m for v, m in zip(table, macs, strict=True) if m and v is not None
    )
    assert doc["per_step"][2]["act_zero_frac"] == pytest.approx(expected)


def test_summary_text_labels_random_init(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--summary", str(QUICKSTART)]) == 0
    out = capsys.readouterr().out
    assert "random-init" in out and "NOT the sparsity of a trained model" in out
    assert "conv" in out and "GFLOPs" in out


def test_errors_exit_2_with_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--summary", str(tmp_path / "missing.workload.json.gz")]) == 2
    assert "no such workload file" in capsys.readouterr().err
    assert main(["trace", "--model", "ddpm-cifar10"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.trace
def test_unknown_model_lists_the_allowed_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="tracing needs torch (the trace extra)")
    assert main(["trace", "--model", "no-such-model", "--out", str(tmp_path / "x.gz")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'no-such-model'" in err and "ddpm-cifar10" in err


@pytest.mark.trace
def test_trace_writes_a_loadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("diffusers", reason="the zoo models need diffusers (the trace extra)")
    out = tmp_path / "tiny.workload.json.gz"
    code = main(["trace", "--model", "tiny-unet", "--steps", "3", "--resolution", "8", "--out", str(out)])
    assert code == 0
    w = load(out)
    assert w.steps == 3 and w.provenance["resolution"] == 8
    assert "wrote" in capsys.readouterr().out
