"""The explorer's sensitivity to its assumptions (simulator/explain/sensitivity) and how the report shows it."""

from __future__ import annotations

import pytest

from simulator.explain import sensitivity
from simulator.explain.ladder import LadderResult, gpu_point_text
from simulator.explain.report import report_html, result_doc
from simulator.explain.sensitivity import ASSUMPTIONS


def test_sensitivity_scales_each_assumption(digits: LadderResult) -> None:
    rows = {s.key: s for s in sensitivity(digits, "digits-ddpm")}
    assert set(rows) == set(ASSUMPTIONS)
    final = digits.workloads[0].final_vs_gpu
    for s in rows.values():
        assert s.ratio == final and s.swing >= 1.0
    assert rows["dram"].ratio_double < final < rows["dram"].ratio_half
    assert rows["mac"].ratio_double < final < rows["mac"].ratio_half
    assert rows["gpu_idle"].ratio_double > final > rows["gpu_idle"].ratio_half


def test_sensitivity_against_the_best_point_redoes_its_search_for_gpu_assumptions(digits: LadderResult) -> None:
    rows = {s.key: s for s in sensitivity(digits, "digits-ddpm")}
    wl = digits.workloads[0]
    best = wl.final_vs_best
    assert best is not None and wl.gpu_best is not None
    point = gpu_point_text(wl.gpu_best)
    for s in rows.values():
        assert s.best == best and s.swing_best is not None and s.swing_best >= 1.0
        assert s.best_redone == s.key.startswith("gpu_")
        assert s.best_half is not None and s.best_double is not None
        if not s.best_redone:  # a design assumption moves the design only: both ratios by the same factor
            assert s.best_point_half == s.best_point_double == point
            assert s.best_half / best == pytest.approx(s.ratio_half / s.ratio, rel=1e-12)
            assert s.best_double / best == pytest.approx(s.ratio_double / s.ratio, rel=1e-12)
    # the search is redone: idle power moves the best point's energy too, never above the reference's
    idle = rows["gpu_idle"]
    assert idle.best_double is not None and idle.best_half is not None
    assert idle.best_half < best < idle.best_double
    assert idle.best_double <= idle.ratio_double and idle.best_half <= idle.ratio_half
    # host issue time is an eager-mode cost: the best point (CUDA graphs) does not move
    host = rows["gpu_host"]
    assert host.best_point_half is not None and host.best_point_half.startswith("graph")
    assert host.best_half == host.best_double == best and host.swing > 2


def test_sensitivity_of_sparsity_is_nil_without_statistics(full: LadderResult) -> None:
    rows = {s.key: s for s in sensitivity(full, "sd15-512")}
    assert rows["sparsity"].swing == 1.0


def test_report_renders_the_same_bytes_twice(digits: LadderResult) -> None:
    sens = {"digits-ddpm": sensitivity(digits, "digits-ddpm")}
    a, b = report_html(digits, sens), report_html(digits, sens)
    assert a == b
    assert 'id="waterfall-0"' in a and "GPU best point" in a and "Sensitivity" in a
    assert "vs best x0.5" in a and "fixed (design assumption)" in a
    doc = result_doc(digits, sens)["workloads"][0]["sensitivity"]
    idle = next(d for d in doc if d["key"] == "gpu_idle")
    assert idle["best_point_redone"] is True and idle["ratio_best_double"] > idle["ratio_best"]
