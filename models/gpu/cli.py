"""CLI: ``picojoule gpu measure --model NAME --device cuda|cpu --out FILE [...]``.

``register(subparsers)`` adds the ``gpu`` command (sub-command ``measure``). torch is imported
only when the command runs, so the rest of the CLI works without the trace extra. While it
measures, a progress bar on stderr (when it is a terminal; ``--quiet``: none) names the phase
(idle power, build, warm-up, latencies, energy, per-op profiles). The
``calibrate`` command lives beside the fit, in :mod:`simulator.gpu.cli`: ``models`` must not
import ``simulator``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tqdm import tqdm


def progress_bar(bar: tqdm[None]) -> Callable[[str, int, int], None]:
    """A :data:`models.gpu.harness.Progress` that moves ``bar`` to each phase."""

    def report(phase: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_description_str(f"gpu measure: {phase}", refresh=False)
        bar.refresh()

    return report


def _measure(args: argparse.Namespace) -> int:
    from models.gpu.harness import measure  # lazy: torch (the trace extra)

    # disable=None: tqdm turns itself off when stderr is not a terminal.
    with tqdm(unit="phase", file=sys.stderr, disable=True if args.quiet else None, leave=False) as bar:
        doc = measure(
            args.model, args.device, args.out, mode=args.mode, batch=args.batch, steps=args.steps,
            dtype=args.dtype, repeat_seconds=args.repeat_seconds, per_op=not args.no_per_op, tiny=args.tiny,
            progress=progress_bar(bar),
        )  # fmt: skip
    lat, e = doc["latency"], doc["energy"]
    if "graph" in doc:
        g = doc["graph"]
        print(f"graph: captured {g['captured']}, {g['replays_per_sample']} replays and "
              f"{g['eager_calls_per_sample']} eager calls per sampling loop")  # fmt: skip
    if "fp8" in doc:
        f = doc["fp8"]
        print(f"fp8: {f['linear_fp8']} linear + {f['conv1x1_fp8']} 1x1-conv layers fp8, "
              f"{f['linear_bf16'] + f['conv1x1_bf16']} left bf16")  # fmt: skip
    line = (
        f"{doc['model']} on {doc['device'].get('name', doc['device']['kind'])} ({args.dtype}, {args.mode}, batch "
        f"{doc['settings']['batch']}): {lat['s_per_step'] * 1e3:.3f} ms/step, "
        f"{lat['s_per_image'] * 1e3:.2f} ms/image ({doc['settings']['steps']} steps)"
    )
    if e.get("available"):
        line += f", {e['j_per_image']:.3f} J/image (idle {e['idle_w']:.1f} W, avg {e['avg_power_w']:.1f} W)"
    else:
        line += f", energy unavailable ({e.get('reason', 'no counter')})"
    print(line)
    print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gpu measure`` to the picojoule CLI."""
    gpu = subparsers.add_parser("gpu", help="real-GPU baselines")
    sub = gpu.add_subparsers(dest="gpu_command", required=True)
    m = sub.add_parser("measure", help="measure a zoo model's latency, per-op times and energy")
    m.add_argument("--model", required=True, help="zoo model name (or microbench)")
    m.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    m.add_argument("--out", required=True, help="measurement JSON to write (.json or .json.gz)")
    m.add_argument("--batch", type=int, default=1, help="images per sampling call")
    m.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    m.add_argument(
        "--dtype",
        default="bf16",
        choices=("bf16", "fp16", "fp32", "fp8"),
        help="fp8: bf16 model, linear and 1x1-conv layers on fp8 tensor cores (CUDA capability >= 8.9)",
    )
    m.add_argument(
        "--mode",
        default="eager",
        choices=("eager", "graph"),
        help="graph: replay the model call as one CUDA graph (CUDA only)",
    )
    m.add_argument("--repeat-seconds", type=float, default=3.0, help="span of the energy run, s")
    m.add_argument("--no-per-op", action="store_true", help="skip the per-op profile")
    m.add_argument("--tiny", action="store_true", help="shrunken built-in model (for tests)")
    m.add_argument(
        "-q", "--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bar on stderr"
    )
    m.set_defaults(func=_measure)
