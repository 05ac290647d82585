"""The explainer's outputs: the terminal ladder, ``explain.json`` and a self-contained ``report.html``.

The waterfall draws, per workload on a log energy axis, the GPU point and then each built rung as
a bar from the previous rung's energy to its own: bar heights in log space add up, because the
factors multiply to the total. Pending rungs are named under the figure, not drawn. The page is
built with :mod:`simulator.plots` (plotly.js inlined, fixed figure ids, SI axes), so the same
results give the same bytes.
"""

from __future__ import annotations

import html
import json
from typing import Any

from simulator.explain.ladder import LadderResult, RungRow, WorkloadLadder, gpu_point_text
from simulator.explain.sensitivity import Sensitivity
from simulator.plots import axis, figure_div, html_table, page, si
from simulator.version import picojoule_version

LADDER_HEAD = (
    "rung", "technique", "J/image", "latency", "area", "factor", "vs GPU b1", "vs GPU best", "vs floor", "quality"
)  # fmt: skip


def _x(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}x" if v >= 100 else f"{v:.3g}x"


def ladder_rows(wl: WorkloadLadder) -> list[list[str]]:
    rows = []
    for r in wl.rows:
        res = r.result
        if res is None:
            rows.append([r.rung.spec.name, r.rung.spec.technique, "pending", "", "", "", "", "", "", ""])
            continue
        rows.append(
            [
                r.rung.spec.name,
                r.rung.spec.technique,
                si(res.energy_j_per_image, "J"),
                si(res.latency_s_per_image, "s"),
                "-" if res.area_mm2 is None else f"{res.area_mm2:.1f} mm²",
                _x(r.factor),
                _x(r.vs_gpu),
                _x(r.vs_best),
                _x(r.floor_ratio),
                r.quality,
            ]
        )
    return rows


def _table(head: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x[i])) for x in [list(head), *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def _best_point(s: Sensitivity) -> str:
    if s.best_point_half is None:
        return "-"
    if not s.best_redone:
        return "fixed (design assumption)"
    return (
        s.best_point_half
        if s.best_point_half == s.best_point_double
        else f"{s.best_point_half} / {s.best_point_double}"
    )


def sensitivity_rows(rows: tuple[Sensitivity, ...]) -> list[list[str]]:
    """Per assumption: the final ratio at x0.5 / x1 / x2 against the reference and the best point,
    the swing of each, and the best point chosen at x0.5 / x2."""
    out = []
    for s in rows:
        best = [_x(s.best_half), _x(s.best), _x(s.best_double), "-" if s.swing_best is None else f"{s.swing_best:.3g}"]
        out.append([s.what, _x(s.ratio_half), _x(s.ratio), _x(s.ratio_double), f"{s.swing:.3g}", *best, _best_point(s)])
    return out


SENS_NOTE = (
    "each assumption x0.5 and x2, the rest as cited; a GPU assumption redoes the best point's search "
    "(it may move: named), a design assumption keeps the ladder's best point"
)
SENS_HEAD = (
    "assumption (x0.5 / x2)", "vs b1 x0.5", "vs b1", "vs b1 x2", "swing",
    "vs best x0.5", "vs best", "vs best x2", "swing best", "best point at x0.5 / x2",
)  # fmt: skip


def _sens_doc(s: Sensitivity) -> dict[str, Any]:
    return {
        "key": s.key,
        "what": s.what,
        "ratio_half": s.ratio_half,
        "ratio": s.ratio,
        "ratio_double": s.ratio_double,
        "swing": s.swing,
        "ratio_best_half": s.best_half,
        "ratio_best": s.best,
        "ratio_best_double": s.best_double,
        "swing_best": s.swing_best,
        "best_point_half": s.best_point_half,
        "best_point_double": s.best_point_double,
        "best_point_redone": s.best_redone,
    }


def floor_line(wl: WorkloadLadder) -> str:
    f = wl.built[-1].floor
    assert f is not None
    return (
        f"floor of {wl.built[-1].rung.spec.name}: {si(f.energy_j, 'J')} = {si(f.macs_per_image)} MACs x "
        f"{f.mac_pj:.3g} pJ ({f.precision}, {f.node_nm:g} nm) + {si(f.weight_bytes, 'B')} of weights x "
        f"{f.weight_pj_per_bit:.3g} pJ/bit from {f.weight_memory}; GPU point / floor = "
        f"{_x(wl.gpu.energy_j_per_image / f.energy_j)}"
    )


def best_text(wl: WorkloadLadder) -> str:
    """The best GPU point in words: ``graph bf16 batch 16, 4.62 J per image``."""
    b = wl.gpu_best
    return "-" if b is None else f"{gpu_point_text(b)}, {si(b.energy_j_per_image, 'J')} per image"


def point_lines(result: LadderResult) -> list[str]:
    out = [f"GPU reference point: {result.gpu_point.label}"]
    if result.gpu_point.best:
        out.append(f"GPU best point: the lowest J/image of {result.gpu_point.search_label}")
    return out


def text_summary(result: LadderResult, sens: dict[str, tuple[Sensitivity, ...]]) -> str:
    out = [f"ladder {result.ladder.spec.name}", *point_lines(result)]
    for wl in result.workloads:
        steps = wl.workload.entry.steps
        head = f"== {wl.name} (GPU b1 {si(wl.gpu.energy_j_per_image, 'J')} per image at {steps} steps"
        out += ["", head + (f"; GPU best: {best_text(wl)})" if wl.gpu_best is not None else ")")]
        if wl.workload.entry.note:
            out.append(f"   {wl.workload.entry.note}")
        out.append(_table(LADDER_HEAD, ladder_rows(wl)))
        prod = wl.total_factor
        line = f"factors multiply to {_x(prod)}; final vs GPU b1 {_x(wl.final_vs_gpu)}"
        if wl.final_vs_best is not None:
            line += f", vs GPU best ({best_text(wl)}) {_x(wl.final_vs_best)}"
        out.append(line)
        out.append(floor_line(wl))
        for r in wl.built[1:]:
            out.append(f"  {r.rung.spec.name} ({_x(r.factor)}): " + "; ".join(r.changes + r.evidence))
        if wl.name in sens:
            out += [f"sensitivity of the final ratio ({wl.name}; {SENS_NOTE}):"]
            out.append(_table(SENS_HEAD, sensitivity_rows(sens[wl.name])))
    if result.pending:
        out += ["", "pending rungs (not evaluated):"]
        out += [f"  {r.spec.name}: {r.spec.technique} - {r.spec.pending}" for r in result.pending]
    findings = result.findings()
    if findings:
        out += ["", "findings (the model contradicts the ladder's premise):", *(f"  {f}" for f in findings)]
    return "\n".join(out)


def _row_doc(r: RungRow) -> dict[str, Any]:
    d: dict[str, Any] = {"rung": r.rung.spec.name, "technique": r.rung.spec.technique, "pending": r.rung.spec.pending}
    if r.result is not None and r.floor is not None:
        d.update(
            energy_j_per_image=r.result.energy_j_per_image,
            latency_s_per_image=r.result.latency_s_per_image,
            area_mm2=r.result.area_mm2,
            factor=r.factor,
            vs_gpu=r.vs_gpu,
            vs_gpu_best=r.vs_best,
            batch=r.rung.batch,
            steps_chosen=None if not r.rung.steps_choice else {w: c.to_json() for w, c in r.rung.steps_choice.items()},
            vs_gpu_same_steps=r.vs_gpu_same_steps,
            floor_j=r.floor.energy_j,
            floor_ratio=r.floor_ratio,
            quality=r.quality,
            changes=list(r.changes),
            evidence=list(r.evidence),
            energy_breakdown_j=dict(r.result.energy_breakdown_j),
        )
    return d


def result_doc(result: LadderResult, sens: dict[str, tuple[Sensitivity, ...]]) -> dict[str, Any]:
    """``explain.json``: the ladder per workload, the GPU point, floors, sensitivity, findings."""
    wls = []
    for wl in result.workloads:
        rows = [_row_doc(r) for r in wl.rows]
        for row, r in zip(rows, wl.rows, strict=True):
            if r.result is not None:
                row["steps"] = r.rung.steps[wl.name]
        f = wl.built[-1].floor
        assert f is not None
        wls.append(
            {
                "name": wl.name,
                "note": wl.workload.entry.note,
                "gpu_energy_j_per_image": wl.gpu.energy_j_per_image,
                "gpu_latency_s_per_image": wl.gpu.latency_s_per_image,
                "total_factor": wl.total_factor,
                "final_vs_gpu": wl.final_vs_gpu,
                "gpu_best": None
                if wl.gpu_best is None
                else {
                    "name": wl.gpu_best.name,
                    "energy_j_per_image": wl.gpu_best.energy_j_per_image,
                    "latency_s_per_image": wl.gpu_best.latency_s_per_image,
                    "point": wl.gpu_best.extras["gpu_point"],
                },
                "final_vs_gpu_best": wl.final_vs_best,
                "floor": {
                    "energy_j": f.energy_j,
                    "macs_per_image": f.macs_per_image,
                    "mac_pj": f.mac_pj,
                    "precision": f.precision,
                    "node_nm": f.node_nm,
                    "weight_bytes": f.weight_bytes,
                    "weight_pj_per_bit": f.weight_pj_per_bit,
                    "weight_memory": f.weight_memory,
                    "weight_source": f.weight_source,
                },
                "rungs": rows,
                "sensitivity": [_sens_doc(s) for s in sens.get(wl.name, ())],
            }
        )
    return {
        "picojoule_version": picojoule_version(),
        "ladder": result.ladder.spec.name,
        "gpu_point": result.gpu_point.label,
        "gpu_best_search": result.gpu_point.search_label if result.gpu_point.best else None,
        "workloads": wls,
        "pending": [
            {"rung": r.spec.name, "technique": r.spec.technique, "why": r.spec.pending} for r in result.pending
        ],
        "findings": list(result.findings()),
    }


def doc_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False, default=str) + "\n"


def waterfall(wl: WorkloadLadder) -> Any:
    """Bars from each rung's predecessor (the GPU point first) to its energy, log axis."""
    import plotly.graph_objects as go

    names = [f"GPU ({wl.gpu.name})"]
    bases, tops, texts, colours = [0.0], [wl.gpu.energy_j_per_image], [si(wl.gpu.energy_j_per_image, "J")], ["#c44"]
    prev = wl.gpu.energy_j_per_image
    for r in wl.built:
        e = r.energy_j
        assert e is not None
        names.append(r.rung.spec.name)
        bases.append(min(prev, e))
        tops.append(max(prev, e))
        step = "" if r.factor is None else f" ({_x(r.factor)})"
        texts.append(f"{si(e, 'J')}{step}<br>{_x(r.vs_gpu)} below GPU")
        colours.append("#46a" if r.factor is None or r.factor >= 1 else "#d80")
        prev = e
    floor = wl.built[-1].floor
    values = [v for v in tops if v > 0] + ([floor.energy_j] if floor is not None else [])
    values += [wl.gpu_best.energy_j_per_image] if wl.gpu_best is not None else []
    bases[0] = min(values) / 3  # the GPU bar rises from below the lowest value (a log axis has no 0)
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=[t - b for t, b in zip(tops, bases, strict=True)],
        base=bases,
        text=texts,
        textposition="outside",
        cliponaxis=False,
        hoverinfo="x+text",
        marker_color=colours,
    )
    if floor is not None:
        fig.add_hline(y=floor.energy_j, line_dash="dot", annotation_text=f"floor {si(floor.energy_j, 'J')}")
    if wl.gpu_best is not None:
        fig.add_hline(y=wl.gpu_best.energy_j_per_image, line_dash="dash", annotation_text=f"GPU best: {best_text(wl)}")
    fig.update_layout(
        title=f"{wl.name}: energy per image, rung by rung (orange: a rung that raises energy)",
        yaxis=axis("energy per image", [*values, bases[0]], "J", log=True),
        height=480,
        margin={"t": 70},
        showlegend=False,
    )
    return fig


def report_html(result: LadderResult, sens: dict[str, tuple[Sensitivity, ...]]) -> str:
    """The self-contained text of ``report.html``."""
    points = ". ".join(html.escape(t) for t in point_lines(result))
    blocks = [f"<p>{points}. picojoule {html.escape(picojoule_version())}.</p>"]
    for i, wl in enumerate(result.workloads):
        blocks.append(f"<h2>{html.escape(wl.name)}</h2>")
        if wl.workload.entry.note:
            blocks.append(f"<p class=warn>{html.escape(wl.workload.entry.note)}</p>")
        if wl.gpu_best is not None:
            blocks.append(f"<p>GPU best point: {html.escape(best_text(wl))}.</p>")
        blocks.append(html_table(list(LADDER_HEAD), ladder_rows(wl), numeric=(2, 3, 4, 5, 6, 7, 8)))
        blocks.append(figure_div(waterfall(wl), f"waterfall-{i}"))
        blocks.append(f"<p>{html.escape(floor_line(wl))}</p>")
        trace = [[r.rung.spec.name, _x(r.factor), "; ".join(r.changes), "; ".join(r.evidence)] for r in wl.built[1:]]
        blocks.append(html_table(["rung", "factor", "spec fields changed", "trace statistics and energy"], trace))
        if wl.name in sens:
            blocks.append(f"<h3>Sensitivity of the final ratio ({html.escape(wl.name)})</h3>")
            blocks.append(f"<p>{html.escape(SENS_NOTE[0].upper() + SENS_NOTE[1:])}.</p>")
            blocks.append(
                html_table(list(SENS_HEAD), sensitivity_rows(sens[wl.name]), numeric=(1, 2, 3, 4, 5, 6, 7, 8))
            )
    if result.pending:
        items = "".join(
            f"<li><b>{html.escape(r.spec.name)}</b>: {html.escape(r.spec.technique)} - "
            f"{html.escape(r.spec.pending or '')}</li>"
            for r in result.pending
        )
        blocks.append(f"<h2>Pending rungs (not evaluated)</h2><ul>{items}</ul>")
    findings = result.findings()
    if findings:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in findings)
        blocks.append(f"<h2>Findings</h2><ul>{items}</ul>")
    return page(f"picojoule explain: {result.ladder.spec.name}", "\n".join(blocks))
