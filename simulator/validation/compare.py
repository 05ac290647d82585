"""Our numbers beside the peers' on the same layers: the tables of ``docs/validation.md``.

Peer outputs are committed under ``scenarios/validation/peers/<peer>/`` with the version, date
and machine that made them (``meta.json``; the scripts are ``tests/validation/peers/regen_*.py``);
our side evaluates the specs under ``scenarios/validation/`` with :func:`simulator.evaluate`
(analytic). Both are read through :func:`accelerator.files.packaged_scenario`, so
``picojoule validation`` runs from an installed wheel as from a checkout. Nothing here tunes
anything: a row only says how far apart the two numbers are and what the issue's goal was.

- **SCALE-Sim v3** (``scalesim``): per-layer compute cycles of 7 layers on a 32×32 and a
  128×128 array, all three dataflows. SCALE-Sim's "Total Cycles" in CALC bandwidth mode have
  no DRAM stall, so they compare with our ``compute_cycles`` (array time, no memory). Two of
  ours: ``compute_cycles`` (the design as specified; the mapper's buffer tiles restart the
  array's fill and drain per tile) and ``compute_cycles_ideal`` (unbounded buffer and DRAM,
  mapper minimising latency: one tile per layer, the SCALE-Sim situation); both again with the
  loop-nest engine (:func:`with_nest`, the array's fill and drain per change of the stationary
  tile: ``simulator.cost.nest.systolic``), design names ending in `` nest``; the specs'
  ``mapping.conv_view: im2col`` has it map a convolution as SCALE-Sim's im2col GEMM.
- **ZigZag** (``zigzag``): its bundled ``tpu_like`` hardware; per-layer latency (cycles) and
  energy (pJ, ZigZag has no leakage, so ours without leakage), mapped with the objective
  ZigZag's LOMA search ran (``meta.json``'s ``opt``).
- **Eyeriss** (``eyeriss``): Table V of the JSSC 2017 paper, AlexNet CONV1–5 at batch 4, per
  layer and metric (:mod:`simulator.validation.eyeriss`).

All three are compared twice: with the spec as committed (``mapping.memory_model``
one_level, design names as in the spec) and with the loop-nest engine (:func:`with_nest`, design
names ending in ``-nest``, SCALE-Sim's in `` nest``; Eyeriss with its row-stationary dataflow,
which only that model has), so the two memory models stand side by side on the same specs;
Eyeriss a third time with the chip's run-length coded fmaps in DRAM (``-nest-rlc``). The row
records, goals and spec variants are :mod:`simulator.validation.common`'s.
"""

from __future__ import annotations

import time
from typing import Any

from accelerator.spec import load_arch
from models.layers import load_scalesim_csv
from models.workload import Workload
from simulator.evaluation import evaluate
from simulator.validation.common import (
    DATAFLOWS,
    GOALS,
    NEST_DATAFLOW,
    Report,
    Row,
    Timing,
    by_name,
    ideal_memory,
    peer_path,
    read_csv,
    read_json,
    spec_path,
    standalone,
    with_dataflow,
    with_nest,
)
from simulator.validation.eyeriss import eyeriss_rows

__all__ = [
    "GOALS",
    "Report",
    "Row",
    "Timing",
    "build_report",
    "eyeriss_rows",
    "format_tables",
    "ours_golden",
    "report_to_json",
    "scalesim_rows",
    "with_dataflow",
    "with_nest",
    "zigzag_rows",
]


def scalesim_rows() -> tuple[list[Row], Timing]:
    """SCALE-Sim compute cycles beside ours, per array, dataflow and layer, with each memory
    model (as specified and with ideal memory)."""
    meta = read_json(peer_path("scalesim/meta.json"))
    peer = read_csv(peer_path("scalesim/results.csv"))
    workload = standalone(load_scalesim_csv(peer_path("scalesim/topology.csv")))
    rows: list[Row] = []
    spent = 0.0
    for array in meta["arrays"]:
        size = f"{array['rows']}x{array['cols']}"
        base = load_arch(spec_path(f"scalesim-{size}.yaml"))
        for df in meta["dataflows"]:
            for model in ("one_level", "nest"):
                arch = with_dataflow(base, DATAFLOWS[df])
                arch = arch if model == "one_level" else with_nest(arch)
                t0 = time.perf_counter()
                spec = by_name(evaluate(workload, arch))
                if model == "one_level":
                    spent += time.perf_counter() - t0
                ideal = by_name(evaluate(workload, ideal_memory(arch), objective="latency"))
                design = f"{size} {df}" + ("" if model == "one_level" else " nest")
                for rec in peer:
                    if rec["array"] != size or rec["dataflow"] != df:
                        continue
                    layer, theirs = rec["layer"], float(rec["compute_cycles"])
                    for metric, ours in (("compute_cycles", spec), ("compute_cycles_ideal", ideal)):
                        rows.append(Row("scalesim", design, layer, metric, ours[layer].compute_cycles, theirs, model))
    timing = Timing(
        "scalesim",
        spent,
        float(meta["wall_s_total"]),
        f"different runs: ours now (one_level), SCALE-Sim {meta['version']} on {meta['date']} "
        f"({meta['machine']['cpus']} CPUs); {len(meta['arrays']) * len(meta['dataflows'])} designs",
    )
    return rows, timing


def zigzag_rows() -> tuple[list[Row], Timing]:
    """ZigZag's latency and energy on its tpu_like example beside ours on the same spec, with
    each memory model."""
    meta = read_json(peer_path("zigzag/meta.json"))
    peer = read_csv(peer_path("zigzag/results.csv"))
    workload = load_scalesim_csv(peer_path("scalesim/topology.csv"))
    wanted = {rec["layer"] for rec in peer}
    workload = standalone(Workload(ops=tuple(op for op in workload.ops if op.name in wanted), steps=1))
    base = load_arch(spec_path("zigzag-tpu-like.yaml"))
    rows: list[Row] = []
    spent = 0.0
    for model, arch in (("one_level", base), ("nest", with_nest(base, NEST_DATAFLOW.get(base.name)))):
        t0 = time.perf_counter()
        ours = by_name(evaluate(workload, arch, objective=meta["opt"]))  # LOMA's objective, as run
        if model == "one_level":
            spent = time.perf_counter() - t0
        for rec in peer:
            op = ours[rec["layer"]]
            energy_pj = (op.energy_j - op.energy_breakdown_j.get("leakage", 0.0)) * 1e12
            theirs_cyc, theirs_e = float(rec["latency_cycles"]), float(rec["energy_total_pj"])
            rows.append(Row("zigzag", arch.name, rec["layer"], "cycles", op.cycles, theirs_cyc, model))
            rows.append(Row("zigzag", arch.name, rec["layer"], "energy_pj", energy_pj, theirs_e, model))
    timing = Timing(
        "zigzag",
        spent,
        float(meta["wall_s_total"]),
        f"different runs: ours now, ZigZag {meta['version']} (LOMA, opt={meta['opt']}) on {meta['date']}",
    )
    return rows, timing


def build_report() -> Report:
    """Every comparison: SCALE-Sim, ZigZag, Eyeriss (a missing committed input raises
    :class:`accelerator.files.PackagedInputError` naming it)."""
    s_rows, s_time = scalesim_rows()
    z_rows, z_time = zigzag_rows()
    e_rows = eyeriss_rows()
    sources = {
        "scalesim": read_json(peer_path("scalesim/meta.json")),
        "zigzag": read_json(peer_path("zigzag/meta.json")),
        "eyeriss": read_json(peer_path("eyeriss/published.json")),
    }
    return Report(tuple(s_rows + z_rows + e_rows), (s_time, z_time), sources)


def ours_golden(rows: tuple[Row, ...] | list[Row]) -> dict[str, float]:
    """Our numbers keyed ``peer/design/layer/metric`` (the regression file of tests/validation)."""
    return {f"{r.peer}/{r.design}/{r.layer}/{r.metric}": float(f"{r.ours:.9g}") for r in rows}


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "rows": [
            {
                "peer": r.peer,
                "design": r.design,
                "layer": r.layer,
                "metric": r.metric,
                "model": r.model,
                "ours": r.ours,
                "theirs": r.theirs,
                "ratio": r.ratio,
                "goal_rel": r.goal,  # null: reported without a goal
                "within_goal": r.within_goal,
            }
            for r in report.rows
        ],
        "timings": [
            {"peer": t.peer, "ours_s": t.ours_s, "peer_s": t.peer_s, "speedup": t.speedup, "note": t.note}
            for t in report.timings
        ],
        "sources": report.sources,
    }


def format_tables(report: Report) -> str:
    """Plain-text tables, one per peer, then the speed ratios."""
    out: list[str] = []
    for peer in ("scalesim", "zigzag", "eyeriss"):
        rows = [r for r in report.rows if r.peer == peer]
        if not rows:
            continue
        out.append(f"== {peer} ==")
        out.append(
            f"{'design':<22} {'model':<9} {'layer':<16} {'metric':<22} {'ours':>14} {'peer':>14} {'ratio':>7}  goal"
        )
        for r in sorted(rows, key=lambda r: (r.layer, r.metric, r.model)) if peer != "scalesim" else rows:
            goal = "-" if r.goal is None else f"±{r.goal:.0%} " + ("ok" if r.within_goal else "MISS")
            out.append(
                f"{r.design:<22} {r.model:<9} {r.layer:<16} {r.metric:<22} {r.ours:>14.6g} {r.theirs:>14.6g} "
                f"{r.ratio:>7.3f}  {goal}"
            )
        out.append("")
    out.append("== speed (wall time on the same layers) ==")
    for t in report.timings:
        out.append(f"{t.peer:<9} ours {t.ours_s:.3f} s, peer {t.peer_s:.1f} s: {t.speedup:.0f}x faster ({t.note})")
    return "\n".join(out)
