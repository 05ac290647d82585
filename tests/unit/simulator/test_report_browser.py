"""Reports render offline in a real browser (headless Chromium): plotly draws every figure, also
from a report copied alone to another folder; without plotly the page says so."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sweep_support import write_sweep

from simulator.run import run_scenario
from simulator.sweep.driver import run_sweep

ROOT = Path(__file__).resolve().parents[3]
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no headless Chromium on this machine (apt-get install chromium)"
)


def _dom(page: Path) -> str:
    proc = subprocess.run(
        [
            str(BROWSER),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _assert_every_figure_drawn(page: Path) -> str:
    dom = _dom(page)
    # plotly replaces each figure's empty div with an SVG; one per figure when it loaded offline.
    expected = page.read_text(encoding="utf-8").count("Plotly.newPlot(")
    assert expected >= 4
    assert dom.count('class="plot-container plotly"') == expected
    assert re.search(r'id="pj-no-plotly"[^>]* hidden', dom)  # the "could not draw" note stays hidden
    return dom


@needs_browser
def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    out = run_scenario(ROOT / "scenarios/quickstart.yaml", tmp_path / "q")
    assert "ddpm-cifar10" in _assert_every_figure_drawn(out.report_path)


@needs_browser
def test_report_copied_alone_still_renders(tmp_path: Path) -> None:
    out = run_scenario(ROOT / "scenarios/quickstart.yaml", tmp_path / "q")
    alone = tmp_path / "elsewhere" / "copy.html"
    alone.parent.mkdir()
    shutil.copy(out.report_path, alone)
    assert [p.name for p in alone.parent.iterdir()] == ["copy.html"]
    _assert_every_figure_drawn(alone)


@needs_browser
def test_sweep_report_copied_alone_renders(tmp_path: Path) -> None:
    run_sweep(write_sweep(tmp_path), tmp_path / "o", executor="serial")
    alone = tmp_path / "elsewhere" / "report.html"
    alone.parent.mkdir()
    shutil.copy(tmp_path / "o" / "report.html", alone)
    _assert_every_figure_drawn(alone)


@needs_browser
def test_a_report_without_plotly_says_so(tmp_path: Path) -> None:
    """If the inlined plotly.js does not run, a visible note replaces the silent empty boxes."""
    out = run_scenario(ROOT / "scenarios/quickstart.yaml", tmp_path / "q")
    page = out.report_path.read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r'<script type="text/javascript">.*?</script>', "", page, count=1, flags=re.S))
    dom = _dom(broken)
    assert 'class="plot-container plotly"' not in dom
    note = re.search(r'<p class="error" id="pj-no-plotly"([^>]*)>', dom)
    assert note is not None and "hidden" not in note.group(1)


@needs_browser
def test_explain_report_renders_its_waterfalls(tmp_path: Path) -> None:
    """picojoule explain's report: the ladder's waterfall and floor figures draw offline."""
    from simulator.explain.api import run_explain

    run_explain(ROOT / "scenarios/thousandfold.yaml", tmp_path / "e", sensitivity=False)
    dom = _assert_every_figure_drawn(tmp_path / "e" / "report.html")
    assert 'id="waterfall-0"' in dom


@needs_browser
def test_system_report_draws_its_gantt(tmp_path: Path) -> None:
    scenario = tmp_path / "mc.yaml"
    scenario.write_text(
        f"name: mc\nworkload: {ROOT}/scenarios/workloads/tiny-unet.workload.json.gz\nsteps: 2\n"
        f"designs: [{ROOT}/scenarios/arch/edge-os-int8.yaml]\nsystems: [{ROOT}/scenarios/multicore/hetero.yaml]\n"
    )
    out = run_scenario(scenario, tmp_path / "o")
    dom = _assert_every_figure_drawn(out.report_path)
    assert "schedule of one denoising step" in dom
