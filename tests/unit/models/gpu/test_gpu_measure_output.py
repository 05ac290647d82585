"""What ``gpu measure`` shows while it runs: a bar over its phases, and none of the libraries' noise
(torch profiler markers, diffusers' empty float32 warning) while their errors still show."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tqdm import tqdm

from models.gpu.cli import progress_bar
from models.gpu.quiet import keep_line, without_empty_fp32_warning, without_profiler_markers

MARKER = b"USDT:2026-12-05 18:18:52 28802:28802 SyncActivityProfilerHandler.cpp:52] profiler_start\n"


def test_only_the_profiler_markers_are_dropped(capfd: pytest.CaptureFixture[str]) -> None:
    assert not keep_line(MARKER) and not keep_line(MARKER.replace(b"start", b"stop"))
    assert keep_line(b"ERROR:2026-12-05 ... CuptiActivityProfiler.cpp:1] profiler_start failed\n")
    assert keep_line(b"USDT: something else\n")
    with without_profiler_markers():
        os.write(2, b"before\n" + MARKER + b"kineto error: no CUPTI\n")
    assert capfd.readouterr().err == "before\nkineto error: no CUPTI\n"
    with pytest.raises(RuntimeError), without_profiler_markers():
        os.write(2, MARKER + b"why it failed\n")
        raise RuntimeError("the block failed")
    assert capfd.readouterr().err == "why it failed\n"  # held output comes back when the block raises


def test_only_the_empty_fp32_warning_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("diffusers.models.modeling_utils")
    empty = "There are modules in UNet2DModel that should be kept in float32: []. Casting directly with `to()` ..."
    named = empty.replace("[]", "['norm']")
    with caplog.at_level(logging.WARNING), without_empty_fp32_warning():
        logger.warning(empty)
        logger.warning(named)
    logger.warning(empty)  # outside the block, as before
    assert [r.getMessage() for r in caplog.records] == [named, empty]


def test_the_bar_follows_the_phases() -> None:
    out = io.StringIO()
    with tqdm(file=out, disable=False, leave=False) as bar:
        report = progress_bar(bar)
        report("warm-up", 2, 7)
        assert (bar.n, bar.total, bar.desc) == (2, 7, "gpu measure: warm-up")
        report("done", 7, 7)
        assert bar.n == bar.total == 7
    assert "gpu measure: warm-up" in out.getvalue() and "2/7" in out.getvalue()


@pytest.mark.trace
def test_measure_reports_each_phase_in_order() -> None:
    pytest.importorskip("diffusers", reason="the built-in models need diffusers (trace extra)")
    from models.gpu.harness import measure  # lazy: torch (the trace extra)

    seen: list[tuple[str, int, int]] = []
    measure("ddpm-cifar10", "cpu", None, tiny=True, steps=2, dtype="fp32", min_time_s=0.01, op_repeats=2,
            progress=lambda *a: seen.append(a))  # fmt: skip
    phases = ["idle power", "build the model", "warm-up", "eager: step latency", "eager: sampling-loop latency",
              "per-op profile 1/2", "per-op profile 2/2", "done"]  # fmt: skip
    assert seen == [(p, i, 7) for i, p in enumerate(phases)]


@pytest.mark.trace
def test_cpu_measure_prints_no_library_noise(tmp_path: Path) -> None:
    pytest.importorskip("diffusers", reason="the built-in models need diffusers (trace extra)")
    out = tmp_path / "m.json.gz"
    cmd = [sys.executable, "-m", "simulator", "gpu", "measure", "--model", "ddpm-cifar10", "--device", "cpu",
           "--tiny", "--steps", "2", "--repeat-seconds", "0.1", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no profiler markers, no empty float32 warning (bf16 casts the model)
    assert proc.stdout.endswith(f"wrote {out}\n")
