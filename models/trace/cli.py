"""``picojoule trace``: trace a zoo model into a workload file, or summarise a workload file.

    picojoule trace --model NAME [--steps N] [--resolution R] [--batch B]
                    [--scheduler native|ddim|ddpm] [--stats] [--seed S] [--cfg|--no-cfg]
                    [--arch NAME] [--fake] --out FILE
    picojoule trace --summary FILE [--json]

``simulator/cli.py`` lists this module in ``PLUGINS``. Torch is imported only when tracing.
While tracing, a progress bar on stderr (when it is a terminal; ``--quiet``: none) says which
phase runs (building the model, recording calls) and counts the recorded model calls with an
ETA: every call of the loop with ``--stats``, else the first one only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from tqdm import tqdm

from accelerator.errors import TraceError
from models.trace.summary import summary_json, summary_text
from models.workload import WorkloadError, load, save
from models.zoo import SampleOptions, StepHook, ZooEntry, get, list_models, no_hook


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``trace`` sub-command (its handler is ``args.func``)."""
    p = subparsers.add_parser(
        "trace",
        help="trace a model's sampling loop into a workload file, or summarise one",
        description=(
            "Trace a model's whole sampling loop into a workload file "
            "(*.workload.json.gz), or print a summary of one with --summary."
        ),
    )
    p.add_argument("--model", help="zoo model name (see --list) or a local model path")
    p.add_argument("--arch", help="zoo architecture for a local .safetensors file")
    p.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    p.add_argument("--resolution", type=int, help="image side in pixels, or latent side for latent models")
    p.add_argument("--batch", type=int, default=1, help="images per model call (default 1)")
    p.add_argument(
        "--scheduler",
        choices=("native", "ddim", "ddpm"),
        default="native",
        help="sampler: the model's own (native), DDIM or DDPM (default native)",
    )
    p.add_argument("--stats", action="store_true", help="record value statistics every step")
    p.add_argument(
        "--fake",
        action="store_true",
        help="shape-only trace on fake tensors (seconds for any model; no --stats)",
    )
    p.add_argument("--seed", type=int, default=0, help="weight-init and noise seed (default 0)")
    p.add_argument(
        "--cfg",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="classifier-free guidance as batch 2 (models that support it)",
    )
    p.add_argument("--out", help="workload file to write (*.workload.json.gz)")
    p.add_argument("--summary", metavar="FILE", help="print a summary of a workload file")
    p.add_argument("--json", action="store_true", help="with --summary: print JSON")
    p.add_argument("--list", action="store_true", help="list the zoo models and exit")
    p.add_argument(
        "-q", "--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bar on stderr"
    )
    p.set_defaults(func=run)


@dataclass(frozen=True)
class _ProgressEntry(ZooEntry):
    """``entry`` as it is, telling ``bar`` (a tqdm bar) when it builds and after each model call."""

    bar: Any = None
    record_all: bool = False  # with statistics every call is recorded, else only the first

    @classmethod
    def wrap(cls, entry: ZooEntry, bar: Any, record_all: bool) -> _ProgressEntry:
        return cls(**{f.name: getattr(entry, f.name) for f in fields(entry)}, bar=bar, record_all=record_all)

    def build(self, resolution: int | None = None, seed: int = 0) -> Any:
        self.bar.reset()  # a fake run that fell back to a real one starts again
        self.bar.set_description_str(f"trace {self.name}: building the model")
        return super().build(resolution, seed)

    def sample(self, model: Any, options: SampleOptions | None = None, hook: StepHook | None = None) -> Any:
        inner = hook or no_hook
        self.bar.set_description_str(f"trace {self.name}: recording model calls")

        @contextlib.contextmanager
        def counted(step: int, total: int) -> Iterator[None]:
            if self.bar.total != (total if self.record_all else 1):
                self.bar.reset(total=total if self.record_all else 1)
            try:
                with inner(step, total):
                    yield
            finally:
                self.bar.update(1)

        return super().sample(model, options, counted)


def _progress_bar(model: str, quiet: bool) -> Any:
    # disable=None: tqdm turns itself off when stderr is not a terminal.
    return tqdm(desc=f"trace {model}", unit="call", file=sys.stderr, disable=True if quiet else None, leave=False)


def run(args: argparse.Namespace) -> int:
    """Handler of ``picojoule trace``; returns the exit code."""
    if args.list:
        for name in list_models():
            e = get(name)
            print(f"{name:<16} {e.weights:<28} {e.summary}")
        return 0
    if args.summary:
        if args.model or args.out:
            raise TraceError("--summary FILE reads a workload; do not combine it with --model/--out")
        return _summary(args.summary, as_json=args.json)
    if args.json:
        raise TraceError("--json only applies to --summary FILE")
    if args.fake and args.stats:
        raise TraceError("--fake traces shapes only; it cannot record --stats (values)")
    if not args.model or not args.out:
        raise TraceError(
            "picojoule trace needs --model NAME and --out FILE (or --summary FILE); see picojoule trace --help"
        )
    entry = get(args.model, arch=args.arch)
    from models.trace.tracer import trace  # lazy: torch (the trace extra)

    with _progress_bar(entry.name, args.quiet) as bar:
        workload = trace(
            _ProgressEntry.wrap(entry, bar, record_all=args.stats),
            steps=args.steps,
            resolution=args.resolution,
            batch=args.batch,
            scheduler=args.scheduler,
            stats=args.stats,
            seed=args.seed,
            cfg=args.cfg,
            fake=args.fake,
        )
    path = save(workload, args.out)
    p = workload.provenance
    print(
        f"wrote {path}: {p.get('model')} ({p.get('weights')}), {workload.steps} steps, "
        f"{len(workload.ops)} ops/step, {workload.flops_per_step / 1e9:.3f} GFLOPs/step"
        + (", with statistics" if workload.stats else "")
    )
    if workload.unsupported:
        names = ", ".join(str(u.get("name")) for u in workload.unsupported)
        print(f"not costed (listed in the trace): {names}")
    return 0


def _summary(path: str, *, as_json: bool) -> int:
    try:
        workload = load(path)
    except WorkloadError as exc:
        raise TraceError(str(exc)) from None
    if as_json:
        print(json.dumps(summary_json(workload), indent=2, sort_keys=False))
    else:
        print(summary_text(workload, path))
    return 0
