"""``picojoule validation [--json]``: our numbers beside SCALE-Sim's, ZigZag's, Eyeriss's and (for
multi-core systems) Stream's on the same work, and how much faster our evaluation is
(``docs/validation.md``)."""

from __future__ import annotations

import argparse
import json
import sys

from simulator.validation import compare, stream


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def _cmd(args: argparse.Namespace) -> int:
    _say(args, "validation: evaluating our side of SCALE-Sim, ZigZag and Eyeriss (one_level and nest; ~20-60 s) ...")
    report = compare.build_report()
    _say(args, "validation: evaluating our side of Stream's ten multi-core runs ...")
    streams = stream.build_report()
    if args.json:
        doc = {**compare.report_to_json(report), "stream": stream.report_to_json(streams)}
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(compare.format_tables(report) + "\n\n" + stream.format_table(streams))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validation``."""
    p = subparsers.add_parser(
        "validation",
        help="compare with SCALE-Sim, ZigZag, Eyeriss and (multi-core) Stream on the same work (docs/validation.md)",
    )
    p.add_argument("--json", action="store_true", help="print the rows, timings and sources as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd)
