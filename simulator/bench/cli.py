"""``picojoule bench [--json]``: the simulator's speed on the standard workloads.

Measures with :func:`simulator.bench.speed.run_bench` (what is timed and how: its module
docstring) and prints a table, or with ``--json`` the document::

    {"analytic_ms_per_design": {workload: ms}, "event_ms_per_design": {workload: ms},
     "designs_per_s_per_core": {workload: n}, ...}

``--skip-sweep`` leaves out the sweep executors' throughput ratios (they take minutes).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from simulator.bench.speed import run_bench


def _table(doc: dict[str, Any]) -> str:
    lines = [f"{'workload':<22} {'ops':>5} {'steps':>5} {'analytic ms':>12} {'designs/s':>10} {'event ms':>10}"]
    for name, ms in doc["analytic_ms_per_design"].items():
        ev = doc["event_ms_per_design"].get(name)
        lines.append(
            f"{name:<22} {doc['ops'][name]:>5} {doc['steps'][name]:>5} {ms:>12.1f} "
            f"{doc['designs_per_s_per_core'][name]:>10.1f} "
            f"{'-' if ev is None else f'{ev:.0f}':>10}"
        )
    lines.append(f"(mean over {len(doc['designs'])} designs: {', '.join(doc['designs'])}; {doc['clock']})")
    t = doc["targets"]
    checks = [f"{k}={v}" for k, v in t.items() if k.endswith("_met")]
    if checks:
        lines.append("targets: " + ", ".join(checks))
    sw = doc.get("sweep_executors")
    if sw:
        lines.append("sweep executors: " + json.dumps(sw, sort_keys=True))
    return "\n".join(lines)


def _cmd(args: argparse.Namespace) -> int:
    doc = run_bench(args.workload or None, repeat=args.repeat, event=not args.no_event, sweep=not args.skip_sweep)
    print(json.dumps(doc, indent=1, sort_keys=True) if args.json else _table(doc))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``picojoule bench`` to the CLI."""
    p = subparsers.add_parser("bench", help="speed of the simulator on the standard workloads")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument("--workload", action="append", metavar="NAME", help="only this standard workload (repeatable)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per design (fastest kept)")
    p.add_argument("--no-event", action="store_true", help="skip the event mode")
    p.add_argument(
        "--skip-sweep", action="store_true", help="leave out the sweep executors' throughput ratios (they take minutes)"
    )
    p.set_defaults(func=_cmd)
