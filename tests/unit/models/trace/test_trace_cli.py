"""``picojoule trace`` through its register() sub-parser (models.trace.cli)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from tqdm import tqdm

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


def test_summary_says_what_steps_and_per_image_count(capsys: pytest.CaptureFixture[str]) -> None:
    """The quickstart trace holds 4 of the 50 steps a run uses: the summary says so, and what per image is."""
    w = load(QUICKSTART)
    assert main(["trace", "--summary", str(QUICKSTART)]) == 0
    out = capsys.readouterr().out
    assert "sampling loop: 4 ddim steps, 4 model calls; all 4 recorded with value statistics" in out
    assert f"per step (one model call): {len(w.ops)} ops" in out
    per_image = f"per image: {w.flops_per_step * 4 / 1e9:.2f} GFLOPs = 4 calls of the traced loop"
    assert f"{per_image} (ddpm-cifar10 samples 50 steps by default)" in out
    assert "scenario's `steps:`" in out


def test_summary_explains_pndm_calls_and_the_sparsity_columns(capsys: pytest.CaptureFixture[str]) -> None:
    sd15 = ROOT / "scenarios" / "workloads" / "sd15-unet-64.workload.json.gz"
    assert main(["trace", "--summary", str(sd15)]) == 0
    out = capsys.readouterr().out
    assert "25 pndm steps, 26 model calls (this sampler calls the model 26 times for 25 steps)" in out
    assert "1 of 26 recorded" in out
    assert main(["trace", "--summary", str(QUICKSTART)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["step"])
    legend = {line.split()[0]: line for line in lines[header - 4 : header]}
    assert set(legend) == {"act=0", "act~0", "d8=0", "d4=0"}
    assert "exactly zero" in legend["act=0"] and "int4" in legend["d4=0"]


@pytest.mark.trace
def test_trace_progress_counts_the_recorded_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --stats every call is recorded and counted; the bar goes to its own stream, never stdout."""
    pytest.importorskip("diffusers", reason="the zoo models need diffusers (the trace extra)")
    from models.trace import cli as trace_cli

    drawn = io.StringIO()
    bars: list[tqdm[Any]] = []

    def bar(model: str, quiet: bool) -> tqdm[Any]:
        assert not quiet
        bars.append(tqdm(desc=f"trace {model}", unit="call", file=drawn, mininterval=0))
        return bars[-1]

    monkeypatch.setattr(trace_cli, "_progress_bar", bar)
    argv = ["trace", "--model", "tiny-unet", "--steps", "3", "--resolution", "8", "--stats"]
    assert main([*argv, "--out", str(tmp_path / "t.workload.json.gz")]) == 0
    assert (bars[0].n, bars[0].total) == (3, 3)
    assert "building the model" in drawn.getvalue() and "recording model calls" in drawn.getvalue()
    assert capsys.readouterr().out.startswith("wrote ")
    assert main([*argv[:-1], "--out", str(tmp_path / "u.workload.json.gz")]) == 0  # no --stats: one call
    assert (bars[1].n, bars[1].total) == (1, 1)
