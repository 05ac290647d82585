"""The calibration report: how well the GPU model predicts the measurements it was fitted to.

``picojoule calibrate ... --report DIR`` writes ``DIR/calibration.html``, atomically (plotly.js
inlined, so it works offline and alone; fixed figure ids, so the same calibration gives the
same bytes):

* measured vs predicted latency per step and energy per image, one marker per run, on log
  axes with the y = x line and the issue's target bands (±10% latency, ±15% energy);
* per op class and run, the signed error of the predicted kernel time against the profiled
  one (after the profiler-inflation correction), as a heatmap: where the model is bad;
* the MAPE table and the repeated points with their run-to-run spread.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerator.files import ensure_out_dir, write_text_atomic
from simulator.gpu.params import GpuCalibration
from simulator.plots import axis, figure_div, page
from simulator.version import picojoule_version

#: The issue's targets: latency per step within 10%, energy per image within 15%.
TARGET_PCT = {"latency": 10.0, "energy": 15.0}


def _scatter(c: GpuCalibration, what: str) -> Any:
    import plotly.graph_objects as go

    meas_key, pred_key, unit, per = (
        ("latency_s_per_step", "predicted_latency_s_per_step", "s", "per step")
        if what == "latency"
        else ("energy_j_per_image", "predicted_energy_j_per_image", "J", "per image")
    )
    runs = {k: m for k, m in sorted(c.measured.items()) if m.get(meas_key) is not None}
    x = [m[meas_key] for m in runs.values()]
    y = [m[pred_key] for m in runs.values()]
    fig = go.Figure()
    span = x + y  # the axes show the y = x line over the points' span, 1.5x wider each way
    if x:
        lo, hi = min(x + y) / 1.5, max(x + y) * 1.5
        span = [lo, hi]
        band = TARGET_PCT[what] / 100.0
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"color": "#444"}))
        for f, name in ((1 + band, f"+{band:.0%}"), (1 - band, f"-{band:.0%}")):
            fig.add_trace(go.Scatter(x=[lo, hi], y=[lo * f, hi * f], mode="lines", name=f"target {name}",
                                     line={"color": "#999", "dash": "dash"}))  # fmt: skip
    fig.add_trace(go.Scatter(
        x=x, y=y, mode="markers", text=list(runs),
        hovertemplate=f"%{{text}}: %{{x:.3s}}{unit} measured, %{{y:.3s}}{unit} predicted<extra></extra>",
        name="runs (blue eager, red CUDA graph)",
        marker={"size": 9, "color": ["#c33" if "[graph]" in k else "#36c" for k in runs]},
    ))  # fmt: skip
    mape = c.mape.get("latency_step" if what == "latency" else "energy_image", math.nan)
    fig.update_layout(
        title=f"{what} {per}: predicted vs measured; MAPE {mape:.1f}% (target {TARGET_PCT[what]:.0f}%)",
        xaxis=axis(f"measured {what} {per}", span, unit, log=True),
        yaxis=axis(f"predicted {what} {per}", span, unit, log=True),
        height=520,
    )
    return fig


def _class_heatmap(c: GpuCalibration) -> Any | None:
    import plotly.graph_objects as go

    rows = {k: m["op_class_s_per_step"] for k, m in sorted(c.measured.items()) if m.get("op_class_s_per_step")}
    if not rows:
        return None
    kinds = sorted({k for r in rows.values() for k in r})
    z, text = [], []
    for r in rows.values():
        z.append([(r[k]["predicted_s"] / r[k]["measured_s"] - 1) * 100 if k in r else None for k in kinds])
        text.append([f"{r[k]['measured_s'] * 1e3:.2f} ms measured" if k in r else "" for k in kinds])
    fig = go.Figure(go.Heatmap(
        z=z, x=kinds, y=list(rows), text=text, colorscale="RdBu_r", zmid=0, zmin=-60, zmax=60,
        colorbar={"title": "pred/meas − 1 (%)"}, hovertemplate="%{y} %{x}: %{z:.0f}%<br>%{text}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(title="kernel time per op class: signed error of the prediction (per step)", height=560)
    return fig


def _tables(c: GpuCalibration) -> str:
    mape = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.1f}%</td></tr>" for k, v in sorted(c.mape.items()))
    points = []
    for key, p in sorted(c.points.items()):
        cells = [html.escape(key), str(p.get("runs", 1))]
        for what, meas, scale, unit in (("latency_step", "latency_s_per_step", 1e3, "ms"),
                                        ("energy_image", "energy_j_per_image", 1.0, "J")):  # fmt: skip
            if f"{what}_error_pct" in p:
                cells.append(f"{p[meas] * scale:.3g} {unit} ±{p[f'{what}_spread_pct']:.0f}%")
                cells.append(f"{p[f'{what}_error_pct']:.1f}%")
            else:
                cells += ["-", "-"]
        points.append("<tr>" + "".join(f"<td>{c_}</td>" for c_ in cells) + "</tr>")
    head = "<tr><th>point</th><th>runs</th><th>latency/step (mean ± spread)</th><th>error</th>"
    head += "<th>energy/image (mean ± spread)</th><th>error</th></tr>"
    return (f"<h2>Fit error (MAPE)</h2><table>{mape}</table>"
            f"<h2>Points (repeated runs merged)</h2><table>{head}{''.join(points)}</table>")  # fmt: skip


def write_calibration_report(c: GpuCalibration, out_dir: str | Path) -> Path:
    """Write the self-contained ``calibration.html`` into ``out_dir``; returns its path."""
    out = ensure_out_dir(out_dir)
    figs: list[tuple[str, Any]] = [("latency", _scatter(c, "latency")), ("energy", _scatter(c, "energy"))]
    heat = _class_heatmap(c)
    if heat is not None:
        figs.append(("op-class", heat))
    blocks = [figure_div(fig, f"pj-cal-{name}") for name, fig in figs]
    prov: Mapping[str, Any] = c.provenance
    files = ", ".join(html.escape(str(m.get("file"))) for m in prov.get("measurements", []))
    body = f"""<p>{len(c.measured)} measurements ({files}). Method: {html.escape(str(prov.get("method", "")))}.
picojoule {html.escape(picojoule_version())}.</p>
{_tables(c)}
{"".join(blocks)}"""
    title = f"GPU model calibration: {c.gpu} ({c.precision})"
    return write_text_atomic(out / "calibration.html", page(title, body))
