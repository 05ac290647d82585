"""Reports: results.json, report.html (plotly, offline) and the terminal summary.

Both files are written together and atomically by the caller (:mod:`accelerator.files`). The HTML is self-contained: it
inlines plotly.js (:mod:`simulator.plots`), so it works without a network and when copied
alone; figure ids are fixed so the same results give the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.plots import axis, figure_div, html_table, page, si
from simulator.result import DesignResult, design_to_json
from simulator.system.report import system_html
from simulator.version import picojoule_version

COMPONENT_ORDER = ("compute", "vector", "rf", "glb", "dram", "noc", "d2d", "leakage", "clock", "static", "gpu")


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


def results_json(doc: Mapping[str, Any]) -> str:
    """``doc`` as the text of results.json: sorted, indented JSON."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


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
    """The GPU row ratios are against: the first GPU row (the scenario's mode and precision at batch 1)."""
    return next((d for d in designs if d.kind == "gpu"), None)


def best_gpu(designs: Sequence[DesignResult]) -> DesignResult | None:
    """The GPU's best point (``gpu_baseline: best``), if the run searched for one."""
    return next((d for d in designs if d.kind == "gpu" and d.extras.get("gpu_point", {}).get("role") == "best"), None)


def gpu_point_text(d: DesignResult) -> str:
    """``eager bf16 batch 1``: the operating point of a GPU row."""
    x = d.extras
    fp8 = " (torch fp8 path)" if "fp8" in x.get("gpu_point", {}) else ""
    return f"{x.get('mode', 'eager')} {x.get('precision', '?')}{fp8} batch {d.batch}"


def _basis(d: DesignResult) -> str:
    return f"{d.label}, " + ("calibrated" if d.extras.get("mape") else "uncalibrated roofline")


def gpu_headline(ref: DesignResult, steps: int, *, designs: Sequence[DesignResult] = ()) -> str:
    """The GPU's energy per image at its operating point, labelled measured or modelled (with the
    model's error); with ``designs``, the lowest-energy accelerator's ratio to it and, where the run
    searched for it, to the GPU's best point. Every ratio names the GPU point it is against."""
    text = f"{ref.extras.get('gpu', ref.name)} energy per image: {_fmt_j(ref.energy_j_per_image)} at "
    text += f"{gpu_point_text(ref)} (modelled"
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
        spread = (
            f", mean of {runs} runs, energy ±{measured['energy_image_spread_pct']:.0f}% run to run" if runs > 1 else ""
        )
        text += (
            f"; measured {_fmt_j(per_step * steps)} for {steps} steps "
            f"(batch {measured.get('batch', '?')}, {_fmt_j(per_step)} per step on a real GPU{spread}"
            + (", denoiser only: the decoder is modelled" if "decoder" in ref.extras else "")
            + ")"
        )
    accel = [d for d in designs if d.kind != "gpu" and d.energy_j_per_image > 0]
    if not accel:
        return text
    top = min(accel, key=lambda d: d.energy_j_per_image)
    gpu_name = ref.extras.get("gpu", ref.name)
    text += (
        f"\n{top.name}: {_fmt_j(top.energy_j_per_image)} per image, "
        f"{_ratio(ref.energy_j_per_image / top.energy_j_per_image)} less than the {gpu_name} at "
        f"{gpu_point_text(ref)} ({_basis(ref)})"
    )
    best = best_gpu(designs)
    if best is not None:
        per_s = best.extras.get("batch", {}).get("images_per_s")
        rate = f", {per_s:.3g} images/s" if per_s else ""
        text += (
            f"\n{top.name}: {_ratio(best.energy_j_per_image / top.energy_j_per_image)} less than the "
            f"{gpu_name}'s best {best.label} point: {gpu_point_text(best)} ({_basis(best)}; "
            f"{_fmt_j(best.energy_j_per_image)} per image, {_fmt_s(best.latency_s_per_image)} per batch{rate})"
        )
    return text


def summary_table(designs: Sequence[DesignResult], steps: int) -> str:
    """A fixed-width table: latency and energy per step and per image, ratio to the reference GPU
    point (and to the GPU's best point, where searched)."""
    ref, best = reference_gpu(designs), best_gpu(designs)
    batched = any(d.batch != 1 for d in designs)
    head = ["design", "kind", "lat/step", "lat/image", "E/step", "E/image", "E vs GPU", "area mm²", "top energy"]
    if best is not None:
        head.insert(7, "E vs best")
    if batched:
        head.insert(4, "img/s")
    rows = []
    for d in designs:
        parts = sorted(d.energy_breakdown_j.items(), key=lambda kv: -kv[1])
        total = sum(v for _, v in parts) or 1.0
        top = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in parts[:3])
        kind = d.kind if d.label == "modelled" else f"{d.kind} ({d.label})"
        row = [
            d.name,
            kind,
            _fmt_s(d.latency_s_per_step),
            _fmt_s(d.latency_s_per_image),
            _fmt_j(d.energy_j_per_step),
            _fmt_j(d.energy_j_per_image),
            _vs(d, ref),
            "-" if d.area_mm2 is None else f"{d.area_mm2:.2f}",
            top,
        ]
        if best is not None:
            row.insert(7, _vs(d, best))
        if batched:
            row.insert(4, f"{d.batch / d.latency_s_per_image:.3g}" if d.latency_s_per_image > 0 else "-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    out = [f"per image = {steps} sampling steps"]
    if batched:
        out.append(
            "name @bB: B images at once; energies per image (the batch's / B), lat/step and lat/image "
            "the batch's (time to finish it), img/s = B / lat/image"
        )
    if ref is not None:
        out.append(f"E vs GPU: against {ref.extras.get('gpu', ref.name)} at {gpu_point_text(ref)} ({_basis(ref)})")
    if best is not None:
        out.append(f"E vs best: against the GPU's best {best.label} point, {gpu_point_text(best)} ({_basis(best)})")
    out += [line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _vs(d: DesignResult, ref: DesignResult | None) -> str:
    if ref is None or d.energy_j_per_image <= 0:
        return "-"
    if d is ref:
        return "1x"
    return f"{_ratio(ref.energy_j_per_image / d.energy_j_per_image)} less"


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
    energies = [d.energy_j_per_image for d in designs]
    fig.add_bar(
        x=names,
        y=energies,
        text=labels,
        textposition="outside",
        cliponaxis=False,
        hoverinfo="x+text",
        marker_color=["#c44" if d.kind == "gpu" else "#46a" for d in designs],
    )
    fig.update_layout(
        title="Energy per image (log scale)",
        yaxis=axis("energy per image", energies, "J", log=True),
        height=420,
        margin={"t": 70},
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
            customdata=[_fmt_j(d.energy_breakdown_j.get(comp, 0.0)) for d in designs],
            hovertemplate="%{x} " + comp + ": %{y:.1f}% (%{customdata})<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        title="Where the energy goes (share of each design's energy per image)",
        yaxis={"title": {"text": "share of energy per image"}, "ticksuffix": "%", "range": [0, 100]},
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
            cliponaxis=False,
            name=d.name,
            hovertext=[f"{d.name}: {_fmt_s(d.latency_s_per_image)}, {_fmt_j(d.energy_j_per_image)} per image"],
            hoverinfo="text",
            marker={"size": 12, "symbol": "diamond" if d.kind == "gpu" else "circle"},
        )
    fig.update_layout(
        title="Energy vs latency per image",
        xaxis=axis("latency per image", [d.latency_s_per_image for d in designs], "s", log=True),
        yaxis=axis("energy per image", energies, "J", log=True),
        height=450,
        showlegend=False,
    )
    figs.append(("energy-latency", fig))

    for i, d in enumerate(designs):
        if d.per_op:
            figs.append((f"per-op-{i}", _per_op_figure(d)))
    return figs


def _per_op_figure(d: DesignResult) -> Any:
    """Energy (bars, left axis) and latency (line, right axis) of every op of one step."""
    import plotly.graph_objects as go

    ops = d.per_op
    fig = go.Figure()
    fig.add_bar(
        name="energy",
        x=[o.index for o in ops],
        y=[o.energy_j for o in ops],
        hovertext=[f"{o.name} {o.module} [{o.kind}] {o.bound}: {_fmt_j(o.energy_j)}" for o in ops],
        hoverinfo="x+text",
    )
    fig.add_scatter(
        name="latency",
        x=[o.index for o in ops],
        y=[o.latency_s for o in ops],
        yaxis="y2",
        mode="lines",
        line={"width": 1},
        hovertext=[f"{_short(o.name)}: {_fmt_s(o.latency_s)}" for o in ops],
        hoverinfo="x+text",
    )
    latency = axis("latency per op", [o.latency_s for o in ops], "s", log=True)
    fig.update_layout(
        title=f"{d.name}: energy and latency per op (one step)",
        height=380,
        xaxis={"title": {"text": "op index"}},
        yaxis=axis("energy per op", [o.energy_j for o in ops], "J", log=True),
        yaxis2={**latency, "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def _top_ops_table(d: DesignResult) -> str:
    top = sorted(d.per_op, key=lambda o: -o.energy_j)[:40]
    head = ["#", "op", "module", "kind", "MACs", "cycles", "latency", "energy", "bound", "util"]
    rows = [
        [
            o.index,
            _short(o.name),
            o.module,
            o.kind,
            si(o.macs),
            si(o.cycles),
            _fmt_s(o.latency_s),
            _fmt_j(o.energy_j),
            o.bound,
            f"{o.utilization:.2f}",
        ]
        for o in top
    ]
    title = f"{d.name}: the {len(top)} most energy-hungry ops (per step)"
    return f"<h3>{html.escape(title)}</h3>\n" + html_table(head, rows, numeric=(0, 4, 5, 6, 7, 9))


def report_html(doc: Mapping[str, Any], designs: Sequence[DesignResult], steps: int, extra: str = "") -> str:
    """The self-contained text of ``report.html`` (``extra``: more HTML at the end)."""
    figs = dict(_figures(designs))
    blocks = [figure_div(figs[k], k) for k in ("energy-total", "energy-breakdown", "energy-latency")]
    for i, d in enumerate(designs):
        if d.per_op:
            blocks += [figure_div(figs[f"per-op-{i}"], f"per-op-{i}"), _top_ops_table(d)]
    wl = doc["workload"]
    ref = reference_gpu(designs)
    head = ""
    if ref is not None:
        lines = html.escape(gpu_headline(ref, steps, designs=designs)).replace("\n", "<br>")
        head = f"<p class='headline'>{lines}</p>"
    weights = str(wl.get("weights", "unknown"))
    warn = ""
    if "random" in weights:
        warn = (
            "<p class='warn'>Weights are random-init: shapes, FLOPs and op mix are real, "
            "sparsity statistics are NOT those of a trained model.</p>"
        )
    body = f"""<p>Workload: <b>{html.escape(str(wl.get("model", "?")))}</b>, weights: {html.escape(weights)},
{steps} sampling steps per image. picojoule {html.escape(doc["picojoule_version"])}.</p>
{head}{warn}
<pre>{html.escape(summary_table(designs, steps))}</pre>
{"".join(blocks)}
{system_html(designs)}
{extra}"""
    title = f"picojoule report: {doc['scenario'].get('name', '')}"
    return page(title, body)
