"""Reports: results.json, report.html (plotly, offline) and the terminal summary.

The HTML loads ``plotly.min.js`` from beside itself (copied from the installed plotly), so it
works without a network; figure ids are fixed so the same results give the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.result import DesignResult, design_to_json

COMPONENT_ORDER = ("compute", "vector", "rf", "glb", "dram", "leakage", "static", "gpu")


def picojoule_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("picojoule")
    except PackageNotFoundError:
        return "0+unknown"


def results_doc(
    workload_info: Mapping[str, Any], designs: Sequence[DesignResult], scenario: Mapping[str, Any]
) -> dict[str, Any]:
    """The results.json document (contract in :mod:`simulator.result`)."""
    return {
        "picojoule_version": picojoule_version(),
        "scenario": dict(scenario),
        "workload": dict(workload_info),
        "designs": [design_to_json(d) for d in designs],
    }


def write_json(doc: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _fmt_s(x: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} s"


def _fmt_j(x: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} J"


def reference_gpu(designs: Sequence[DesignResult]) -> DesignResult | None:
    return next((d for d in designs if d.kind == "gpu"), None)


def gpu_headline(ref: DesignResult, steps: int) -> str:
    """The GPU's energy per image, labelled measured or modelled (with the model's error)."""
    text = f"{ref.name} energy per image: {_fmt_j(ref.energy_j_per_image)} (modelled"
    mape = ref.extras.get("mape")
    if mape:
        text += f", calibrated, MAPE {mape.get('energy_image', float('nan')):.0f}%"
    else:
        text += ", uncalibrated roofline"
    text += ")"
    measured = ref.extras.get("measured")
    if measured and measured.get("energy_j_per_image") is not None:
        per_step = measured["energy_j_per_image"] / max(int(measured.get("steps", steps)), 1)
        runs = int(measured.get("runs", 1))
        spread = f", mean of {runs} runs ±{measured['energy_image_spread_pct']:.0f}%" if runs > 1 else ""
        text += (
            f"; measured {_fmt_j(per_step * steps)} for {steps} steps "
            f"(batch {measured.get('batch', '?')}, {_fmt_j(per_step)} per step on a real GPU{spread}"
            + (", denoiser only: the decoder is modelled" if "decoder" in ref.extras else "")
            + ")"
        )
    return text


def summary_table(designs: Sequence[DesignResult], steps: int) -> str:
    """A fixed-width table: latency and energy per step and per image, ratio to the first GPU."""
    ref = reference_gpu(designs)
    head = ["design", "kind", "lat/step", "lat/image", "E/step", "E/image", "E vs GPU", "area mm²", "top energy"]
    rows = []
    for d in designs:
        parts = sorted(d.energy_breakdown_j.items(), key=lambda kv: -kv[1])
        total = sum(v for _, v in parts) or 1.0
        top = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in parts[:3])
        if ref is None or d.energy_j_per_image <= 0:
            ratio = "-"
        elif d is ref:
            ratio = "1x"
        else:
            ratio = f"{_ratio(ref.energy_j_per_image / d.energy_j_per_image)} less"
        kind = d.kind if d.label == "modelled" else f"{d.kind} ({d.label})"
        rows.append(
            [
                d.name,
                kind,
                _fmt_s(d.latency_s_per_step),
                _fmt_s(d.latency_s_per_image),
                _fmt_j(d.energy_j_per_step),
                _fmt_j(d.energy_j_per_image),
                ratio,
                "-" if d.area_mm2 is None else f"{d.area_mm2:.2f}",
                top,
            ]
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    out = [f"per image = {steps} sampling steps", line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def _short(op_name: str) -> str:
    """``aten.convolution.default`` -> ``convolution``."""
    parts = op_name.split(".")
    if parts[0] == "aten" and len(parts) >= 2:
        return parts[1]
    return op_name


def _figures(designs: Sequence[DesignResult]) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    figs: list[tuple[str, Any]] = []
    names = [d.name for d in designs]
    comps = sorted(
        {k for d in designs for k in d.energy_breakdown_j},
        key=lambda c: (COMPONENT_ORDER.index(c) if c in COMPONENT_ORDER else 99, c),
    )
    ref = reference_gpu(designs)
    fig = go.Figure()
    labels = [
        f"{_fmt_j(d.energy_j_per_image)}"
        + (
            f"<br>{_ratio(ref.energy_j_per_image / d.energy_j_per_image)} less"
            if ref is not None and d is not ref and d.energy_j_per_image > 0
            else ""
        )
        for d in designs
    ]
    fig.add_bar(
        x=names,
        y=[d.energy_j_per_image for d in designs],
        text=labels,
        textposition="outside",
        marker_color=["#c44" if d.kind == "gpu" else "#46a" for d in designs],
    )
    fig.update_layout(
        title="Energy per image (J, log scale)",
        yaxis_type="log",
        yaxis_title="J per image",
        height=420,
        showlegend=False,
    )
    figs.append(("energy-total", fig))
    # Shares, not stacked absolute values: stacking on a log axis misleads the eye.
    fig = go.Figure()
    for comp in comps:
        shares = [
            100.0 * d.energy_breakdown_j.get(comp, 0.0) / (sum(d.energy_breakdown_j.values()) or 1.0) for d in designs
        ]
        fig.add_bar(
            name=comp,
            x=names,
            y=shares,
            customdata=[d.energy_breakdown_j.get(comp, 0.0) for d in designs],
            hovertemplate="%{x} " + comp + ": %{y:.1f}% (%{customdata:.3g} J)<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        title="Where the energy goes (% of each design's energy per image)",
        yaxis_title="% of energy per image",
        height=420,
    )
    figs.append(("energy-breakdown", fig))

    fig = go.Figure()
    for d in designs:
        fig.add_scatter(
            x=[d.latency_s_per_image],
            y=[d.energy_j_per_image],
            mode="markers+text",
            text=[d.name],
            textposition="top center",
            name=d.name,
            marker={"size": 12, "symbol": "diamond" if d.kind == "gpu" else "circle"},
        )
    fig.update_layout(
        title="Energy vs latency per image",
        xaxis_type="log",
        yaxis_type="log",
        xaxis_title="s per image",
        yaxis_title="J per image",
        height=450,
        showlegend=False,
    )
    figs.append(("energy-latency", fig))

    for i, d in enumerate(designs):
        ops = d.per_op
        if not ops:
            continue
        fig = go.Figure()
        fig.add_bar(
            name="energy (J)",
            x=[o.index for o in ops],
            y=[o.energy_j for o in ops],
            hovertext=[f"{o.name} {o.module} [{o.kind}] {o.bound}" for o in ops],
        )
        fig.add_scatter(
            name="latency (s)",
            x=[o.index for o in ops],
            y=[o.latency_s for o in ops],
            yaxis="y2",
            mode="lines",
            line={"width": 1},
        )
        fig.update_layout(
            title=f"{d.name}: energy and latency per op (one step)",
            height=380,
            xaxis_title="op index",
            yaxis={"title": "J", "type": "log"},
            yaxis2={"title": "s", "overlaying": "y", "side": "right", "type": "log"},
        )
        figs.append((f"per-op-{i}", fig))
        top = sorted(ops, key=lambda o: -o.energy_j)[:40]
        table = go.Figure(
            go.Table(
                header={
                    "values": ["#", "op", "module", "kind", "MACs", "cycles", "latency", "energy", "bound", "util"]
                },
                cells={
                    "values": [
                        [o.index for o in top],
                        [_short(o.name) for o in top],
                        [o.module for o in top],
                        [o.kind for o in top],
                        [f"{o.macs:.3g}" for o in top],
                        [f"{o.cycles:.4g}" for o in top],
                        [_fmt_s(o.latency_s) for o in top],
                        [_fmt_j(o.energy_j) for o in top],
                        [o.bound for o in top],
                        [f"{o.utilization:.2f}" for o in top],
                    ]
                },
                columnwidth=[30, 90, 260, 60, 60, 60, 60, 60, 55, 40],
            )
        )
        table.update_layout(title=f"{d.name}: the 40 most energy-hungry ops (per step)", height=700)
        figs.append((f"per-op-table-{i}", table))
    return figs


def write_plotlyjs(out_dir: Path) -> None:
    """Copy the installed plotly.js beside a report so the HTML works offline."""
    from plotly.offline import get_plotlyjs

    (out_dir / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")


def write_html(doc: Mapping[str, Any], designs: Sequence[DesignResult], out_dir: Path, steps: int) -> Path:
    """Write ``report.html`` and ``plotly.min.js`` into ``out_dir``."""
    write_plotlyjs(out_dir)
    blocks = []
    for div_id, fig in _figures(designs):
        blocks.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id))
    wl = doc["workload"]
    ref = reference_gpu(designs)
    head = "" if ref is None else f"<p class='headline'>{html.escape(gpu_headline(ref, steps))}</p>"
    weights = str(wl.get("weights", "unknown"))
    warn = ""
    if "random" in weights:
        warn = (
            "<p class='warn'>Weights are random-init: shapes, FLOPs and op mix are real, "
            "sparsity statistics are NOT those of a trained model.</p>"
        )
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>picojoule report: {html.escape(str(doc["scenario"].get("name", "")))}</title>
<script src="plotly.min.js"></script>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}} .warn{{color:#a40}}
pre{{background:#f6f6f6;padding:1em}}</style>
</head><body>
<h1>picojoule report: {html.escape(str(doc["scenario"].get("name", "")))}</h1>
<p>Workload: <b>{html.escape(str(wl.get("model", "?")))}</b>, weights: {html.escape(weights)},
{steps} sampling steps per image. picojoule {html.escape(doc["picojoule_version"])}.</p>
{head}{warn}
<pre>{html.escape(summary_table(designs, steps))}</pre>
{"".join(blocks)}
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
