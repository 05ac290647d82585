"""``picojoule explain [LADDER.yaml] [--out DIR] [--json]``: the thousandfold ladder, rung by rung.

Without ``LADDER.yaml`` the committed ladder ``scenarios/thousandfold.yaml`` is explained, read
from the installed package (:func:`accelerator.files.packaged_scenario`), so the command works
from a wheel outside a checkout; its relative paths resolve beside it, inside the package.
"""

from __future__ import annotations

import argparse
import sys

from accelerator.files import packaged_scenario
from simulator.explain.api import run_explain

#: The committed ladder, relative to ``scenarios/``.
DEFAULT_LADDER = "thousandfold.yaml"


def _cmd_explain(args: argparse.Namespace) -> int:
    ladder = args.ladder if args.ladder is not None else packaged_scenario(DEFAULT_LADDER)

    # what it is doing, on stderr (stdout holds only the tables or the JSON): the whole ladder
    # takes about half a minute
    def say(text: str) -> None:
        if not args.quiet:
            print(f"explain: {text} ...", file=sys.stderr, flush=True)

    say(f"reading {ladder}")
    out = run_explain(
        ladder, args.out, gpu_baseline=args.gpu_baseline, sensitivity=not args.no_sensitivity, progress=say
    )
    print(out.json_text if args.json else out.summary, end="" if args.json else "\n")
    if args.out is not None and not args.json:
        print(f"\nwrote {out.json_path} and {out.report_path}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "explain",
        help="evaluate a ladder of designs (default: the committed thousandfold ladder): factor per technique, "
        "floor, sensitivity",
    )
    p.add_argument(
        "ladder",
        metavar="LADDER.yaml",
        nargs="?",
        default=None,
        help=f"the ladder (default: scenarios/{DEFAULT_LADDER} as installed with picojoule)",
    )
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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_explain)
