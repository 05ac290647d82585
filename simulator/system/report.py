"""A system's rows of the run summary and its part of report.html: per-core utilisation, the
energy of the network and the die-to-die links beside compute and memory, a Gantt timeline of one
denoising step's schedule. Everything is read from a design row's ``extras["system"]``
(:meth:`simulator.system.result.SystemResult.as_design`), so a results.json alone can be drawn.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.plots import axis, figure_div, html_table, si
from simulator.result import DesignResult


def _groups(breakdown: Mapping[str, float]) -> dict[str, float]:
    """Energy per image by what spends it: compute, memory (DRAM and every buffer level), NoC, links, leakage."""
    out = {"compute": 0.0, "memory": 0.0, "noc": 0.0, "d2d": 0.0, "leakage": 0.0}
    for k, v in breakdown.items():
        if k in ("compute", "vector"):
            out["compute"] += v
        elif k in ("leakage", "static"):
            out["leakage"] += v
        elif k in ("noc", "d2d"):
            out[k] += v
        else:
            out["memory"] += v
    return out


def system_summary(d: DesignResult) -> str:
    """Two lines for the terminal: energy by spender, and per-core utilisation."""
    sysx = d.extras["system"]
    g = _groups(d.energy_breakdown_j)
    energy = ", ".join(f"{k} {si(v, 'J')}" for k, v in g.items())
    cores: dict[str, list[float]] = {}
    for c in sysx["cores"]:
        cores.setdefault(c["core"], []).append(c["utilization"])
    util = "; ".join(f"{name} " + " ".join(f"{100 * u:.0f}%" for u in us) for name, us in cores.items())
    plan = sysx["fusion_plan"].get("step", {})
    fused = (
        f", fusion depth {plan.get('depth', 1)} ({plan.get('fused_ops', 0)} ops fused)"
        if sysx["fusion"] == "fused"
        else ""
    )
    modes = plan.get("parallelism", {})
    data = f" x{plan.get('replicas', 1)}" if "data" in modes.values() else ""
    axes = plan.get("split_axis", {})
    chosen = "; ".join(f"{g} {m}" + (f" ({axes[g]})" if g in axes else "") for g, m in modes.items()) + data
    return f"{d.name}: {energy} per image{fused}\n  utilisation per core instance: {util} (step: {chosen})"


def _gantt(d: DesignResult, div_id: str) -> str:
    import plotly.graph_objects as go  # lazy: plotly, only when a report is drawn

    rows = [t for t in d.extras["system"]["timeline"] if t["phase"] == "step"]
    fig = go.Figure()
    for core in dict.fromkeys(t["core"] for t in rows):
        mine = [t for t in rows if t["core"] == core]
        fig.add_bar(
            name=core,
            orientation="h",
            y=[core] * len(mine),
            base=[t["start_s"] for t in mine],
            x=[t["end_s"] - t["start_s"] for t in mine],
            hovertext=[
                f"#{t['op']} {t['name']} [{t['kind']}]"
                + (f" fused group {t['fused_group']}" if t["fused_group"] >= 0 else "")
                for t in mine
            ],  # fmt: skip
            hoverinfo="text",
        )
    ends = [t["end_s"] for t in rows] or [0.0]
    fig.update_layout(
        title=f"{d.name}: schedule of one denoising step (Gantt)",
        barmode="overlay",
        height=160 + 40 * len({t["core"] for t in rows}),
        xaxis=axis("time within the step", [0.0, max(ends)], "s"),
        yaxis={"autorange": "reversed"},
        showlegend=False,
    )
    return figure_div(fig, div_id)


def _cores_table(d: DesignResult) -> str:
    sysx = d.extras["system"]
    head = ["instance", "core", "chiplet", "busy per image", "utilisation"]
    rows = [
        [c["instance"], c["core"], c["chiplet"], si(c["busy_s"], "s"), f"{100 * c['utilization']:.1f}%"]
        for c in sysx["cores"]
    ]
    g = _groups(d.energy_breakdown_j)
    energy = html_table(list(g), [[si(v, "J") for v in g.values()]], numeric=range(len(g)))
    traffic = sysx["traffic_bytes_per_image"]
    moved = ", ".join(f"{k} {si(v, 'B')}" for k, v in sorted(traffic.items()))
    return (
        f"<h3>{html.escape(d.name)}: per core and per spender (per image)</h3>\n"
        + html_table(head, rows, numeric=(0, 2, 3, 4))
        + energy
        + f"<p>Bytes per image: {html.escape(moved)} (noc: bytes x hops).</p>"
    )


def system_html(designs: Sequence[DesignResult]) -> str:
    """The systems' section of report.html (empty without systems)."""
    blocks: list[str] = []
    for i, d in enumerate(designs):
        if "system" in d.extras:
            blocks += [_gantt(d, f"system-gantt-{i}"), _cores_table(d)]
    return "<h2>Multi-core systems</h2>\n" + "".join(blocks) if blocks else ""


def system_rows(designs: Sequence[DesignResult]) -> list[dict[str, Any]]:
    """Per system: name, energy by spender and mean utilisation (for tables and tests)."""
    out = []
    for d in designs:
        if "system" in d.extras:
            cores = d.extras["system"]["cores"]
            mean = sum(c["utilization"] for c in cores) / len(cores) if cores else 0.0
            out.append({"name": d.name, **_groups(d.energy_breakdown_j), "mean_utilization": mean})
    return out
