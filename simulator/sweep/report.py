"""``report.html`` of a sweep: Pareto fronts, parallel coordinates, sensitivity to each axis.

Plotly figures in one self-contained HTML page (plotly.js inlined, :mod:`simulator.plots`), with
fixed div ids and SI-labelled axes, like :mod:`simulator.report`. Sensitivity of an objective to an axis is the
spread, in decades, of the objective's median over the points at each value of the axis
(a main effect: how far moving that one knob moves the typical design).
"""

from __future__ import annotations

import html
import itertools
import math
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from accelerator.files import write_text_atomic
from simulator.plots import axis, column_unit, figure_div, page, si, tick_labels, tick_values
from simulator.sweep.spec import Objective, Sweep
from simulator.sweep.store import Record
from simulator.version import picojoule_version

_MAX_PAIRS = 3  # objective pairs drawn as Pareto scatter plots per workload


def _log_axis(values: Sequence[float]) -> bool:
    v = [x for x in values if not math.isnan(x)]
    return bool(v) and min(v) > 0 and max(v) / min(v) > 20


def _label(o: Objective) -> str:
    return f"{o.name} [{o.column}] ({o.direction})"


def _pareto_figures(sweep: Sweep, rows: Sequence[Record], front: Collection[str], wl: str) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    objs = sweep.objectives
    pairs = list(itertools.combinations(range(len(objs)), 2))[:_MAX_PAIRS] or [(0, 0)]
    figs = []
    on = [r for r in rows if r.key in front]
    for n, (i, j) in enumerate(pairs):
        a, b = objs[i], objs[j]
        fig = go.Figure()
        scatter = go.Scattergl if len(rows) > 5000 else go.Scatter
        for name, subset, style in (
            ("all feasible", rows, {"color": "#bbb", "size": 5}),
            ("Pareto front", on, {"color": "#d62728", "size": 8}),
        ):
            subset = sorted(subset, key=lambda r: r.metrics.get(a.column, math.nan))
            # one objective: its values against the design's rank
            x = list(range(len(subset))) if b is a else [r.metrics.get(a.column) for r in subset]
            fig.add_trace(
                scatter(
                    x=x,
                    y=[r.metrics.get(b.column) for r in subset],
                    name=name,
                    # with two objectives the front is a staircase; with more, a projection
                    mode="markers+lines" if name == "Pareto front" and len(objs) == 2 else "markers",
                    marker=style,
                    line={"width": 1, "shape": "hv"},
                    hovertext=[", ".join(f"{k}={v}" for k, v in r.params.items()) for r in subset],
                )
            )
        xs = [r.metrics.get(a.column, math.nan) for r in rows]
        ys = [r.metrics.get(b.column, math.nan) for r in rows]
        fig.update_layout(
            title=f"{wl}: {a.name} vs {b.name}" if b is not a else f"{wl}: {a.name} by rank",
            height=450,
            xaxis=axis(_label(a), xs, column_unit(a.column), _log_axis(xs))
            if b is not a
            else {"title": {"text": "design rank"}},
            yaxis=axis(_label(b), ys, column_unit(b.column), _log_axis(ys)),
        )
        figs.append((f"pareto-{wl}-{n}", fig))
    return figs


def _numeric(values: Sequence[Any]) -> tuple[list[float], dict[str, Any]]:
    """Axis values as numbers for plotting; categories become indices with tick labels."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], {}
    cats = sorted({repr(v) for v in values})
    return [float(cats.index(repr(v))) for v in values], {
        "tickvals": list(range(len(cats))),
        "ticktext": cats,
    }


def _objective_dim(o: Objective, rows: Sequence[Record]) -> dict[str, Any]:
    """A parallel-coordinates axis of an objective: log10 values if they span decades, SI ticks."""
    vals = [r.metrics.get(o.column, math.nan) for r in rows]
    unit = column_unit(o.column)
    use_log = _log_axis(vals)
    finite = [v for v in vals if not math.isnan(v)]
    ticks = [t for t in tick_values(vals, use_log) if finite and min(finite) <= t <= max(finite)]
    dim: dict[str, Any] = {
        "label": f"{o.column} (log)" if use_log else o.column,
        "values": [math.log10(v) if use_log else v for v in vals],
    }
    if len(ticks) >= 2:  # given ticks, plotly prints no unformatted extremes
        dim.update(tickvals=[math.log10(t) if use_log else t for t in ticks], ticktext=tick_labels(ticks, unit))
    return dim


def _parcoords(sweep: Sweep, rows: Sequence[Record], wl: str) -> tuple[str, Any]:
    import plotly.graph_objects as go

    dims = []
    for a in sweep.axes:
        vals, ticks = _numeric([r.params.get(a.name) for r in rows])
        if not ticks and 2 <= len(set(vals)) <= 12:  # few values: label each, with its unit
            distinct = sorted(set(vals))
            ticks = {"tickvals": distinct, "ticktext": [si(v, column_unit(a.name), 4) for v in distinct]}
        dims.append({"label": a.name, "values": vals, **ticks})
    dims += [_objective_dim(o, rows) for o in sweep.objectives]
    first = dims[len(sweep.axes)]
    color = first["values"] if rows else []
    bar = {"title": {"text": sweep.objectives[0].name}}
    if "tickvals" in first:
        bar.update(tickvals=first["tickvals"], ticktext=first["ticktext"])
    line = {"color": color, "colorscale": "Viridis", "showscale": True, "colorbar": bar}
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(title=f"{wl}: every feasible design (colour: {sweep.objectives[0].name})", height=500)
    return f"parcoords-{wl}", fig


def sensitivity(sweep: Sweep, rows: Sequence[Record]) -> dict[str, dict[str, float]]:
    """Decades the median of each objective moves across each axis's values (NaN: one value)."""
    out: dict[str, dict[str, float]] = {}
    for o in sweep.objectives:
        out[o.name] = {}
        for a in sweep.axes:
            groups: dict[str, list[float]] = {}
            for r in rows:
                v = r.metrics.get(o.column, math.nan)
                if v > 0:
                    groups.setdefault(repr(r.params.get(a.name)), []).append(math.log10(v))
            medians = [float(np.median(g)) for g in groups.values()]
            out[o.name][a.name] = max(medians) - min(medians) if len(medians) > 1 else math.nan
    return out


def _sensitivity_figure(sweep: Sweep, rows: Sequence[Record], wl: str) -> tuple[str, Any]:
    import plotly.graph_objects as go

    sens = sensitivity(sweep, rows)
    fig = go.Figure()
    for o in sweep.objectives:
        fig.add_bar(
            name=o.name,
            x=[a.name for a in sweep.axes],
            y=[sens[o.name][a.name] for a in sweep.axes],
        )
    fig.update_layout(
        barmode="group",
        height=420,
        yaxis_title="decades (spread of the median over the axis values)",
        title=f"{wl}: sensitivity of each objective to each axis",
    )
    return f"sensitivity-{wl}", fig


def _failures(records: Sequence[Record]) -> str:
    errors = Counter((r.error or "").splitlines()[0][:200] for r in records if r.status == "failed")
    if not errors:
        return ""
    lines = "\n".join(f"{n:6d}  {e}" for e, n in errors.most_common(20))
    return f"<h2>Failed points</h2><pre>{html.escape(lines)}</pre>"


def write_sweep_report(
    sweep: Sweep,
    records: Sequence[Record],
    front: Collection[str],
    labels: Sequence[str],
    table: str,
    out_dir: Path,
) -> Path:
    """Write the self-contained ``report.html`` into ``out_dir`` (atomically)."""
    blocks = []
    for wl in labels:
        rows = [r for r in records if r.workload == wl and r.status == "done" and r.feasible]
        if not rows:
            continue
        blocks.append(f"<h2>{html.escape(wl)}</h2>")
        figs = [*_pareto_figures(sweep, rows, front, wl), _parcoords(sweep, rows, wl)]
        if len(sweep.axes) and len(rows) > 1:
            figs.append(_sensitivity_figure(sweep, rows, wl))
        blocks += [figure_div(fig, div) for div, fig in figs]
    counts = Counter(r.status for r in records)
    infeasible = sum(1 for r in records if r.status == "done" and not r.feasible)
    body = f"""<p>{html.escape(sweep.spec.description)}</p>
<p>{counts.get("done", 0)} evaluations done, {counts.get("failed", 0)} failed, {infeasible} done
but outside a constraint on metrics; {len(front)} on the Pareto front.
Strategy: {sweep.spec.strategy.kind}; axes: {html.escape(", ".join(a.name for a in sweep.axes))}.
picojoule {html.escape(picojoule_version())}.</p>
<h2>Best design per objective</h2>
<pre>{html.escape(table)}</pre>
{"".join(blocks)}
{_failures(records)}"""
    return write_text_atomic(out_dir / "report.html", page(f"picojoule sweep: {sweep.spec.name}", body))
