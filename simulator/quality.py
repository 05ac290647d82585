"""Quality beside energy: the ``quality:`` section of a scenario, in results.json and the report.

``attach_quality`` adds ``"quality": {"psnr_db", "ssim", "fd", "model", "images", ...}`` to
each design's entry of the results document (``null`` for a design whose quality was not
measured). A scenario whose ``quality.steps_from`` chose its step count also gets
``"quality_steps"``: the steps chosen, the bound, and what the sweep measured there (PSNR/SSIM
against the many-step fp32 reference, Fréchet distance to data). The emulation lives in
:mod:`models.numerics.session`, which imports torch only when it runs a model, so this module
stays torch-free.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from accelerator.numerics import NumericsSpec, arch_numerics, resolve_numerics
from accelerator.spec import ArchSpec
from models.numerics.metrics import fmt_psnr, fmt_value
from models.numerics.session import make_session, quality_objective
from simulator.plots import axis, figure_div
from simulator.scenario import QualitySpec


def attach_quality(doc: dict[str, Any], spec: QualitySpec, archs: Sequence[ArchSpec], gpu_precision: str) -> None:
    """Measure every design's image quality and store it in ``doc["designs"][i]["quality"]``.

    Accelerators use their arch's numerics; GPUs run at ``gpu_precision`` with a 32-bit
    accumulator. Designs share one reference run and one calibration table.
    """
    session = make_session(
        spec.model,
        images=spec.images,
        steps=spec.steps,
        seed=spec.seed,
        calibration_images=spec.calibration_images,
    )
    if spec.steps_choice is not None:
        doc["quality_steps"] = spec.steps_choice.to_json()
    gpu_numerics = resolve_numerics(NumericsSpec(), gpu_precision, 32)
    for i, entry in enumerate(doc["designs"]):
        if i < len(archs):
            numerics = arch_numerics(archs[i])
        elif entry.get("kind") == "gpu":
            numerics = gpu_numerics
        else:
            entry["quality"] = None
            continue
        entry["quality"] = quality_objective(numerics, session=session)


def steps_line(doc: Mapping[str, Any]) -> str:
    """How ``quality.steps_from`` chose the step count, and what was measured there ("" if it did not)."""
    b = doc.get("quality_steps")
    if not b:
        return ""
    m = b["measured"]
    measured = [f"PSNR {fmt_psnr(m)} dB", f"SSIM {fmt_value(m.get('ssim'), '.4f')}"]
    if m.get("fd_data") is not None:
        measured.append(f"FD to data {m['fd_data']:.4g}")
    return (
        f"steps: {b['steps']}, the fewest in {b['from']} (series {b['series']}) with {b['bound']}; measured there "
        f"against fp32 at {b['reference_steps']} steps from the same noise: {', '.join(measured)} "
        f"({b['model']}, {b['images']} images, seed {b['seed']})"
    )


def quality_summary(doc: Mapping[str, Any]) -> str:
    """The steps binding (if any), then a fixed-width table: energy per image beside PSNR, SSIM and FD."""
    binding = steps_line(doc)
    table = _quality_table(doc)
    return "\n".join(t for t in (binding, table) if t)


def _quality_table(doc: Mapping[str, Any]) -> str:
    rows = [["design", "E/image J", "PSNR dB", "SSIM", "FD", "act zeros", "delta zeros", "numerics"]]
    for d in doc["designs"]:
        q = d.get("quality")
        if not q:
            continue
        m = q.get("measured") or {}
        rows.append(
            [
                d["name"],
                fmt_value(d.get("energy_j_per_image"), ".3g"),
                fmt_psnr(q),
                fmt_value(q.get("ssim"), ".4f"),
                fmt_value(q.get("fd"), ".3g"),
                fmt_value(m.get("act_zero_frac"), ".3f"),
                fmt_value(m.get("delta_zero_frac"), ".3f"),
                q.get("numerics", ""),
            ]
        )
    if len(rows) == 1:
        return ""
    first = next(d["quality"] for d in doc["designs"] if d.get("quality"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    head = (
        f"image quality vs the fp32 reference: {first['model']}, {first['images']} images, "
        f"{first['steps']} steps, seed {first['seed']}"
    )
    return "\n".join([head, *lines])


def quality_html(doc: Mapping[str, Any]) -> str:
    """An HTML section of report.html: the quality table and an energy-vs-PSNR scatter ("" if none)."""
    import plotly.graph_objects as go

    table = quality_summary(doc)
    if not table:
        return ""
    fig = go.Figure()
    energies = []
    for d in doc["designs"]:
        q = d.get("quality")
        if not q or q.get("psnr_db") is None or not d.get("energy_j_per_image"):
            continue
        energies.append(d["energy_j_per_image"])
        fig.add_scatter(
            x=[d["energy_j_per_image"]],
            y=[q["psnr_db"]],
            mode="markers+text",
            text=[d["name"]],
            textposition="top center",
            name=d["name"],
            marker={"size": 12, "symbol": "diamond" if d.get("kind") == "gpu" else "circle"},
        )
    fig.update_layout(
        title="Energy per image vs PSNR against the fp32 reference",
        xaxis=axis("energy per image", energies, "J", log=True),
        yaxis={"title": {"text": "PSNR against fp32"}, "ticksuffix": " dB"},
        height=450,
        showlegend=False,
    )
    plot = figure_div(fig, "quality-energy")
    return (
        f"<h2>Image quality</h2>\n<pre>{html.escape(table)}</pre>\n{plot}\n"
        "<p>PSNR/SSIM per image against the fp32 run from the same noise (inf: identical); "
        "FD: Fréchet distance of classifier features to the reference set.</p>\n"
    )
