"""``picojoule explain LADDER.yaml [--out DIR] [--json]``: the thousandfold ladder, rung by rung."""

from __future__ import annotations

import argparse

from simulator.explain.api import run_explain


def _cmd_explain(args: argparse.Namespace) -> int:
    out = run_explain(args.ladder, args.out, gpu_baseline=args.gpu_baseline, sensitivity=not args.no_sensitivity)
    print(out.json_text if args.json else out.summary, end="" if args.json else "\n")
    if args.out is not None and not args.json:
        print(f"\nwrote {out.json_path} and {out.report_path}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "explain",
        help="evaluate a ladder of designs (scenarios/thousandfold.yaml): factor per technique, floor, sensitivity",
    )
    p.add_argument("ladder", metavar="LADDER.yaml")
    p.add_argument("--out", metavar="DIR", default=None, help="write explain.json and report.html here")
    p.add_argument("--json", action="store_true", help="print explain.json to stdout instead of the tables")
    p.add_argument(
        "--gpu-baseline",
        choices=("eager", "graph", "best"),
        default=None,
        help="the GPU point (default: the ladder's gpu_baseline): eager or graph at batch 1, or best "
        "(batch-1 eager and the best of gpu_modes x gpu_precisions x gpu_batches, both reported)",
    )
    p.add_argument("--no-sensitivity", action="store_true", help="skip the sensitivity tables")
    p.set_defaults(func=_cmd_explain)
