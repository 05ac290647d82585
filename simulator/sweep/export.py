"""A sweep's outputs from its store rows: results.csv, pareto.csv, timings.csv, report.html.

results.csv and pareto.csv hold what a design point *is* (axes, metrics, status, error), so the
same sweep gives byte-identical files whichever executor ran it, and before and after a
resume. How a point *ran* — evaluations started (``attempts``, more than one after a worker
died), seconds in its worker (``eval_s``), the worker's name — differs between runs and goes
to timings.csv (and the store, results.sqlite). Every file is written atomically
(:mod:`accelerator.files`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from accelerator.files import write_text_atomic
from simulator.report import _fmt_j, _fmt_s
from simulator.sweep.pareto import pareto_mask
from simulator.sweep.report import write_sweep_report
from simulator.sweep.spec import Sweep
from simulator.sweep.store import Record
from simulator.sweep.worker import METRIC_COLUMNS


def param_columns(sweep: Sweep) -> list[str]:
    return [a.name for a in sweep.axes] + [d.name for d in sweep.derived if d.name not in sweep.spec.axes]


def metric_columns(records: Sequence[Record]) -> list[str]:
    seen = {k for r in records for k in r.metrics}
    return [c for c in METRIC_COLUMNS if c in seen] + sorted(seen - set(METRIC_COLUMNS))


def _cell(x: Any) -> Any:
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(x)
    if isinstance(x, (list, tuple, dict)):
        return json.dumps(x)
    return "" if x is None else x


def _csv_text(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(head)
    out.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, sweep: Sweep, records: Sequence[Record]) -> None:
    """Design points and their metrics: the same sweep gives the same bytes on any executor."""
    params, metrics = param_columns(sweep), metric_columns(records)
    head = ["point_id", "workload", "status", "feasible", *params, *metrics, "error", "key"]
    rows = (
        [
            r.point_id[:16],
            r.workload,
            r.status,
            int(r.feasible),
            *(_cell(r.params.get(p)) for p in params),
            *(_cell(r.metrics.get(m)) for m in metrics),
            r.error or "",
            r.key,
        ]
        for r in records
    )
    write_text_atomic(path, _csv_text(head, rows))


def write_timings(path: Path, records: Sequence[Record]) -> None:
    """How each point ran (differs between runs): evaluations started, seconds, worker."""
    head = ["point_id", "workload", "status", "attempts", "eval_s", "worker", "key"]
    rows = ([r.point_id[:16], r.workload, r.status, r.attempts, f"{r.eval_s:.4g}", r.worker, r.key] for r in records)
    write_text_atomic(path, _csv_text(head, rows))


def pareto_records(sweep: Sweep, records: Sequence[Record], labels: Sequence[str]) -> list[Record]:
    """The non-dominated feasible points for the sweep's objectives, per workload."""
    out: list[Record] = []
    directions = [o.direction for o in sweep.objectives]
    for label in labels:
        rows = [r for r in records if r.workload == label and r.status == "done" and r.feasible]
        if not rows:
            continue
        values = np.array([[r.metrics.get(o.column, math.nan) for o in sweep.objectives] for r in rows])
        out += [r for r, on in zip(rows, pareto_mask(values, directions), strict=True) if on]
    return out


def _fmt(column: str, x: float) -> str:
    if "_j_per" in column:
        return _fmt_j(x)
    if "_s_per" in column:
        return _fmt_s(x)
    if column.endswith("_mm2"):
        return f"{x:.4g} mm²"
    return f"{x:.4g}"


def best_table(sweep: Sweep, records: Sequence[Record], labels: Sequence[str]) -> str:
    """Per workload and objective: the best feasible design, its value and its axis values."""
    axes = [a.name for a in sweep.axes]
    head = ["workload", "objective", "best", "point", *axes]
    rows = []
    for label in labels:
        ok = [r for r in records if r.workload == label and r.status == "done" and r.feasible]
        for o in sweep.objectives:
            vals = [(r.metrics.get(o.column, math.nan), r) for r in ok]
            vals = [(v, r) for v, r in vals if not math.isnan(v)]
            if not vals:
                rows.append([label, f"{o.name} ({o.direction})", "-", "-", *("" for _ in axes)])
                continue
            v, r = (min if o.direction == "min" else max)(vals, key=lambda t: t[0])
            rows.append(
                [
                    label,
                    f"{o.name} ({o.direction})",
                    _fmt(o.column, v),
                    r.point_id[:10],
                    *(str(r.params.get(a)) for a in axes),
                ]
            )
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]

    def line(r: Sequence[Any]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def export(
    sweep: Sweep, records: Sequence[Record], labels: Sequence[str], out: Path, report: bool = True
) -> tuple[int, str]:
    """Write results.csv, pareto.csv, timings.csv and (``report``) report.html; returns (Pareto rows,
    best designs)."""
    front = pareto_records(sweep, records, labels)
    write_csv(out / "results.csv", sweep, records)
    write_csv(out / "pareto.csv", sweep, front)
    write_timings(out / "timings.csv", records)
    table = best_table(sweep, records, labels)
    if report:
        write_sweep_report(sweep, records, {r.key for r in front}, labels, table, out)
    return len(front), table
