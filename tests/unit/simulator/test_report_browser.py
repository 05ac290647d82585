"""report.html renders offline in a real browser (headless Chromium): plotly draws every figure."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.run import run_scenario

ROOT = Path(__file__).resolve().parents[3]
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium on this machine (apt-get install chromium)")
def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    out = run_scenario(ROOT / "scenarios/quickstart.yaml", tmp_path / "q")
    proc = subprocess.run(
        [
            str(BROWSER),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            out.report_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    # plotly replaces each figure's empty div with an SVG; one per figure when it loaded offline.
    figures = dom.count('class="plot-container plotly"')
    expected = out.report_path.read_text().count("Plotly.newPlot(")
    assert expected >= 4
    assert figures == expected
    assert "ddpm-cifar10" in dom
