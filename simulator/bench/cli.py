"""``picojoule bench [--json]``: the simulator's speed on the standard workloads.

Measures with :func:`simulator.bench.speed.run_bench` (what is timed and how: its module
docstring) and prints a table, or with ``--json`` the document::

    {"analytic_ms_per_design": {workload: ms}, "event_ms_per_design": {workload: ms},
     "designs_per_s_per_core": {workload: n}, ...}

``--skip-sweep`` leaves out the sweep executors' throughput ratios (they take minutes), ``--no-nest``
the loop-nest engine's (:mod:`simulator.bench.nest`: cold and warm, per workload). The
designs and traces are the committed ``scenarios/``, a package of the wheel
(:mod:`simulator.bench.inputs`), so the command works from a wheel; ``--scenarios DIR`` benches
another folder of that layout.
A progress bar with an ETA goes to stderr when it is a terminal (``--quiet``: none); stdout
holds only the table or the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from simulator.bench.inputs import bench_inputs
from simulator.bench.speed import BenchProgress, run_bench


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
    for design, why in doc.get("skipped", {}).items():
        lines.append(f"(one_level: {design} left out: {why})")
    nest = doc.get("nest")
    if nest and nest["cold_ms_per_design"]:
        lines.append(
            f"{'memory_model nest':<22} {'cold ms':>10} {'designs/s':>10} {'warm ms':>10} "
            f"{'designs/s':>10} {'searches':>9}"
        )
        for name, cold in nest["cold_ms_per_design"].items():
            lines.append(
                f"{name:<22} {cold:>10.1f} {nest['cold_designs_per_s_per_core'][name]:>10.1f} "
                f"{nest['warm_ms_per_design'][name]:>10.1f} {nest['warm_designs_per_s_per_core'][name]:>10.1f} "
                f"{nest['searches_per_design'][name]:>9.1f}"
            )
        lines.append(f"(mean over {len(nest['designs'])} nest designs; {nest['clock']})")
        for design, why in nest["skipped"].items():
            lines.append(f"(nest: {design} left out: {why})")
    t = doc["targets"]
    checks = [f"{k}={v}" for k, v in t.items() if k.endswith("_met")]
    if checks:
        lines.append("targets: " + ", ".join(checks))
    sw = doc.get("sweep_executors")
    if sw:
        lines.append("sweep executors: " + json.dumps(sw, sort_keys=True))
    return "\n".join(lines)


class _Bars:
    """One tqdm bar per bench stage on stderr; off with ``--quiet`` or when stderr is no terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.stage = ""
        self.bar: tqdm[Any] | None = None

    def __call__(self, p: BenchProgress) -> None:
        if self.bar is None or p.stage != self.stage:
            self.close()
            self.stage = p.stage
            # disable=None: tqdm turns itself off when stderr is not a terminal.
            self.bar = tqdm(
                total=p.total,
                desc=f"bench {p.stage}",
                file=sys.stderr,
                disable=True if self.quiet else None,
                leave=False,
            )
        self.bar.set_postfix_str(p.item, refresh=False)
        self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cmd(args: argparse.Namespace) -> int:
    inputs = bench_inputs(args.scenarios)
    bars = _Bars(args.quiet)
    try:
        doc = run_bench(
            args.workload or None,
            repeat=args.repeat,
            event=not args.no_event,
            sweep=not args.skip_sweep,
            nest=not args.no_nest,
            inputs=inputs,
            progress=bars,
        )
    finally:
        bars.close()
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
        "--no-nest", action="store_true", help="skip the loop-nest engine's numbers (mapping.memory_model: nest)"
    )
    p.add_argument(
        "--skip-sweep", action="store_true", help="leave out the sweep executors' throughput ratios (they take minutes)"
    )
    p.add_argument(
        "--scenarios",
        metavar="DIR",
        help="bench the designs DIR/arch/*.yaml and traces DIR/workloads/*.workload.json.gz, e.g. a checkout's "
        "scenarios/ (default: the committed ones shipped with picojoule)",
    )
    p.add_argument(
        "-q", "--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bar on stderr"
    )
    p.set_defaults(func=_cmd)
