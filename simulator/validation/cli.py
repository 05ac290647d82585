"""``picojoule validation [--json]``: our numbers beside SCALE-Sim's, ZigZag's and Eyeriss's
on the same layers, and how much faster our evaluation is (``docs/validation.md``)."""

from __future__ import annotations

import argparse
import json

from simulator.validation import compare


def _cmd(args: argparse.Namespace) -> int:
    report = compare.build_report()
    if args.json:
        print(json.dumps(compare.report_to_json(report), indent=2, sort_keys=True))
    else:
        print(compare.format_tables(report))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validation``."""
    p = subparsers.add_parser(
        "validation", help="compare with SCALE-Sim, ZigZag and Eyeriss on the same layers (docs/validation.md)"
    )
    p.add_argument("--json", action="store_true", help="print the rows, timings and sources as JSON")
    p.set_defaults(func=_cmd)
