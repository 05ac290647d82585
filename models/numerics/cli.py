"""``picojoule quality``: image quality of designs' numerics on a real model.

    picojoule quality --arch scenarios/arch/quality-int8.yaml [--arch ...] --model digits-ddpm \\
        [--images 16] [--steps 20] [--seed 0] [--calibration-images 4] --out quality.json
    picojoule quality --model digits-ddpm --steps-sweep 1,2,4,5,10,20,50 [--reference-steps 50] \\
        [--arch ARCH.yaml ...] [--images 32] [--seed 0] [--threads 1] --out steps.json

``--steps-sweep`` judges each step count against the model's own fp32 output at the reference
count from the same noise, fp32 and under each ``--arch``'s numerics
(:mod:`models.numerics.steps_run`); the file is what a scenario's ``quality.steps_from`` reads.

Each design's numerics (``numerics:`` in its arch YAML, left-out fields following ``compute``)
run the model's whole sampling loop from the same seed and noise as the fp32 reference; the
output holds PSNR, SSIM, Fréchet distance, measured zero/delta fractions and the calibration
table per design. :mod:`models.numerics.session` imports torch only when it runs a model.

The README's figures come from ``picojoule run scenarios/quality-digits.yaml``: 32 images, 8
calibration images, its seven designs in one session. Designs of one session share calibration
tables, so a design's figures can depend on the designs listed before it.

A progress bar on stderr (when it is a terminal; ``--quiet``: none) counts the model calls of
all sampling runs (the reference, each calibration, each design) with an ETA; stdout and the
JSON file are the same with or without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from accelerator.errors import SpecError
from accelerator.files import ensure_out_dir, write_text_atomic
from accelerator.numerics import NumericsSpec, arch_numerics
from accelerator.spec import load_arch
from models.numerics.metrics import fmt_psnr, fmt_value
from models.numerics.onnx_emulate import OnnxTerrain
from models.numerics.quality_model import EmulatedImages, QualityModel
from models.numerics.session import TorchSampler, UNetCall, load_quality_model, make_session, quality_objective
from models.numerics.steps_run import SweepDesign, parse_steps, run_steps_sweep, steps_table, versions

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``quality`` sub-command."""
    p = subparsers.add_parser(
        "quality",
        help="emulate designs' numerics on a real model and measure image quality",
        description="Run a model's sampling loop with each design's numerics from the same noise "
        "as the fp32 reference; report PSNR, SSIM and Fréchet distance.",
    )
    p.add_argument(
        "--arch",
        action="append",
        default=[],
        metavar="ARCH.yaml",
        help="arch file (repeat for several designs); required unless --steps-sweep",
    )
    p.add_argument(
        "--model",
        default="digits-ddpm",
        help="digits-ddpm (trained), digits-random (random init) or terrain (ONNX)",
    )
    p.add_argument("--images", type=int, default=16, help="images judged (default 16)")
    p.add_argument("--steps", type=int, default=20, help="sampling steps (default 20)")
    p.add_argument(
        "--steps-sweep",
        metavar="N,N,...",
        help="judge these step counts against the model's own fp32 run at --reference-steps "
        "(fp32, and each --arch's numerics); writes a steps-sweep file",
    )
    p.add_argument(
        "--reference-steps", type=int, metavar="N", help="steps of the sweep's reference (default: the largest)"
    )
    p.add_argument(
        "--threads", type=int, default=1, metavar="T", help="torch / onnxruntime threads of a sweep (default 1)"
    )
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument(
        "--calibration-images",
        type=int,
        default=4,
        help="images of the calibration runs, from seed + 1000 (default 4)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="JSON file to write")
    p.add_argument(
        "-q", "--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bar on stderr"
    )
    p.set_defaults(func=_cmd_quality)


class _Progress:
    """``model`` as it is, moving ``bar`` by one unit per model call of its sampling runs.

    A torch model's calls are counted one by one (its ``call`` is wrapped); a model without
    that seam (the ONNX terrain model) moves the bar by the run's steps when it ends.
    """

    def __init__(self, model: QualityModel, bar: Any) -> None:
        self.name, self.data_range, self.weights = model.name, model.data_range, model.weights
        self.bar = bar
        self.calibrations = 0
        self.inner = replace(model, call=self._counted(model.call)) if isinstance(model, TorchSampler) else model

    @property
    def sampler(self) -> str:
        return self.inner.sampler

    def _counted(self, call: UNetCall) -> UNetCall:
        def counted(x: Any, t: Any, i: int) -> Any:
            out = call(x, t, i)
            self.bar.update(1)
            return out

        return counted

    def _run(self, phase: str, steps: int, run: Callable[[], T]) -> T:
        self.bar.set_postfix_str(phase)
        end = self.bar.n + steps
        result = run()
        self.bar.update(max(end - self.bar.n, 0))
        return result

    def reference(self, n: int, steps: int, seed: int) -> np.ndarray:
        return self._run("fp32 reference", steps, lambda: self.inner.reference(n, steps, seed))

    def calibrate(self, numerics: NumericsSpec, n: int, steps: int, seed: int) -> dict[str, float]:
        self.calibrations += 1
        return self._run("calibration", steps, lambda: self.inner.calibrate(numerics, n, steps, seed))

    def emulate(self, numerics: NumericsSpec, amax: dict[str, float], n: int, steps: int, seed: int) -> EmulatedImages:
        return self._run("emulated numerics", steps, lambda: self.inner.emulate(numerics, amax, n, steps, seed))

    def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None:
        return self.inner.frechet(a, b)

    def data_images(self, n: int | None) -> np.ndarray | None:
        return self.inner.data_images(n)


def _cmd_quality(args: argparse.Namespace) -> int:
    if args.steps_sweep is not None:
        return _cmd_steps_sweep(args)
    if not args.arch:
        raise SpecError("quality: give at least one --arch (or --steps-sweep N,N,... for fp32 alone)")
    archs = [load_arch(a) for a in args.arch]
    ensure_out_dir(Path(args.out).parent)  # a bad --out fails now, not after minutes of sampling
    session = make_session(
        args.model,
        images=args.images,
        steps=args.steps,
        seed=args.seed,
        calibration_images=args.calibration_images,
    )
    # Every run is `steps` model calls: the reference, then per design a calibration (unless a
    # previous design's table is reused: the total shrinks then) and the emulated run.
    bar = tqdm(
        total=args.steps * (1 + 2 * len(archs)),
        unit="call",
        file=sys.stderr,
        disable=True if args.quiet else None,  # None: off when stderr is not a terminal
        leave=False,
    )
    progress = _Progress(session.model, bar)
    session = replace(session, model=progress)
    designs = []
    with bar:
        for path, arch in zip(args.arch, archs, strict=True):
            bar.set_description_str(f"quality {arch.name}")
            calibrations = progress.calibrations
            q = quality_objective(arch, session=session)
            if progress.calibrations == calibrations:
                bar.total -= args.steps
                bar.refresh()
            designs.append({"name": arch.name, "file": str(path), "quality": q})
            bar.clear()
            print(_line(arch.name, q), flush=True)
    doc = {
        "model": args.model,
        "images": args.images,
        "steps": args.steps,
        "seed": args.seed,
        "designs": designs,
    }
    out = write_text_atomic(args.out, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


def _line(name: str, q: dict[str, Any]) -> str:
    psnr = fmt_psnr(q)
    return (
        f"{name:32s} PSNR {psnr:>6s} dB  SSIM {fmt_value(q['ssim'], '.4f')}  "
        f"FD {fmt_value(q['fd'], '.3g')}  [{q['numerics']}]"
    )


def _sweep_command(args: argparse.Namespace, steps: tuple[int, ...]) -> str:
    """The command that writes this sweep, in canonical form (recorded in the file)."""
    parts = ["picojoule quality", f"--model {args.model}", f"--steps-sweep {','.join(map(str, steps))}"]
    if args.reference_steps is not None:
        parts.append(f"--reference-steps {args.reference_steps}")
    parts += [f"--arch {a}" for a in args.arch]
    parts += [f"--images {args.images}", f"--seed {args.seed}", f"--threads {args.threads}"]
    if args.arch:
        parts.append(f"--calibration-images {args.calibration_images}")
    return " ".join([*parts, f"--out {args.out}"])


def _cmd_steps_sweep(args: argparse.Namespace) -> int:
    steps = parse_steps(args.steps_sweep)
    if not 1 <= args.threads <= 256:
        raise SpecError(f"--threads must be in [1, 256], got {args.threads}")
    archs = [load_arch(a) for a in args.arch]
    designs = [SweepDesign(a.name, arch_numerics(a), str(p)) for p, a in zip(args.arch, archs, strict=True)]
    ensure_out_dir(Path(args.out).parent)
    model = load_quality_model(args.model)
    _set_threads(model, args.threads)
    ref = args.reference_steps if args.reference_steps is not None else steps[-1]
    calls = (0 if ref in steps else ref) + sum(steps) * (1 + 2 * len(designs))
    bar = tqdm(total=calls, unit="call", file=sys.stderr, disable=True if args.quiet else None, leave=False)
    with bar:
        bar.set_description_str(f"steps sweep {args.model}")
        doc = run_steps_sweep(
            _Progress(model, bar),
            steps,
            images=args.images,
            seed=args.seed,
            reference_steps=args.reference_steps,
            designs=designs,
            calibration_images=args.calibration_images,
        )
    doc["command"] = _sweep_command(args, steps)
    doc["threads"] = args.threads
    doc["versions"] = versions()
    print(steps_table(doc))
    out = write_text_atomic(args.out, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


def _set_threads(model: QualityModel, threads: int) -> None:
    """Fix the thread count: it changes floating-point reduction order, so it is part of the result."""
    if isinstance(model, TorchSampler):
        import torch  # lazy: torch; this command module loads without the trace extra

        torch.set_num_threads(threads)
    elif isinstance(model, OnnxTerrain):
        model.threads = threads
