"""``picojoule sweep SWEEP.yaml --out DIR [--executor serial|local|dask://HOST:PORT] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from simulator.sweep.driver import Reason, run_sweep

#: Reasons printed per kind; the rest are counted on one line (all of them are in --json).
MAX_REASONS = 8

_HEADINGS = {
    "failed": "failed evaluations, by reason",
    "rejected": "design points rejected before evaluation, by reason",
    "unmet": "evaluated but missed a constraint on metrics, by reason",
}


def reason_lines(reasons: Sequence[Reason]) -> list[str]:
    """Per kind of failure: count, reason and one example design point, most frequent first."""
    lines: list[str] = []
    for kind, heading in _HEADINGS.items():
        group = [r for r in reasons if r.kind == kind]
        if not group:
            continue
        lines.append(f"{heading}:")
        for r in group[:MAX_REASONS]:
            where = ", ".join(f"{k}={v}" for k, v in r.example.items()) or "no axis values"
            if r.example_point:
                where += f" (point {r.example_point} on {r.example_workload})"
            lines += [f"  {r.count:6d} × {r.reason}", f"         e.g. {where}"]
        rest = group[MAX_REASONS:]
        if rest:
            lines.append(f"  {sum(r.count for r in rest):6d} × {len(rest)} other reasons (all of them: --json)")
    return lines


def _cmd_sweep(args: argparse.Namespace) -> int:
    summary = run_sweep(
        args.sweep,
        args.out,
        executor=args.executor,
        workers=args.workers,
        progress=not args.no_progress,
        retry_failed=args.retry_failed,
    )
    for w in summary.warnings:
        print(f"warning: {w}", file=sys.stderr)
    # with --json, stdout holds only the JSON line; the human summary goes to stderr
    text = sys.stderr if args.json else sys.stdout
    print(summary.table, file=text)
    s = summary
    print(
        f"\n{s.points} evaluations: {s.done} done, {s.failed} failed ({s.skipped_already_done} "
        f"already in the store, {s.evaluated} evaluated now); {s.infeasible} design points "
        f"rejected before evaluation; {s.pareto_points} on the Pareto front.\n"
        f"wrote {s.out_dir}/results.sqlite, results.csv, pareto.csv, report.html",
        file=text,
    )
    reasons = reason_lines(s.reasons)
    if reasons:
        print("\n" + "\n".join(reasons), file=text)
    if args.json:
        print(json.dumps(summary.to_json()))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sweep`` sub-command."""
    p = subparsers.add_parser(
        "sweep",
        help="evaluate a design-space sweep (resumable) → results.sqlite, pareto.csv, report.html",
        description="Evaluate every design point of SWEEP.yaml on its workloads. Rerunning the "
        "same command resumes: points already in DIR/results.sqlite are not evaluated again.",
    )
    p.add_argument("sweep", metavar="SWEEP.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (the store lives there)")
    p.add_argument(
        "--executor",
        default="local",
        metavar="EXECUTOR",
        help="serial, local (default: a process pool sized to the cores), dask://HOST:PORT, "
        "or dask (a dask-jobqueue cluster from the sweep file's execution.jobqueue)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local pool size (default: the cores)",
    )
    p.add_argument("--json", action="store_true", help="print the final counts as one JSON line on stdout")
    p.add_argument("--retry-failed", action="store_true", help="evaluate points recorded as failed again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)
