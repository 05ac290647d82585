"""``picojoule quality``: image quality of designs' numerics on a real model.

    picojoule quality --arch scenarios/arch/quality-int8.yaml [--arch ...] --model digits-ddpm \\
        [--images 16] [--steps 20] [--seed 0] [--calibration-images 4] --out quality.json

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

from accelerator.files import ensure_out_dir, write_text_atomic
from accelerator.numerics import NumericsSpec
from accelerator.spec import load_arch
from models.numerics.metrics import fmt_psnr, fmt_value
from models.numerics.quality_model import EmulatedImages, QualityModel
from models.numerics.session import TorchSampler, UNetCall, make_session, quality_objective

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
        required=True,
        metavar="ARCH.yaml",
        help="arch file (repeat for several designs)",
    )
    p.add_argument(
        "--model",
        default="digits-ddpm",
        help="digits-ddpm (trained), digits-random (random init) or terrain (ONNX)",
    )
    p.add_argument("--images", type=int, default=16, help="images judged (default 16)")
    p.add_argument("--steps", type=int, default=20, help="sampling steps (default 20)")
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
    that seam (the ONNX terrain model) moves the bar by ``steps`` when a run ends.
    """

    def __init__(self, model: QualityModel, bar: Any, steps: int) -> None:
        self.name, self.data_range, self.weights = model.name, model.data_range, model.weights
        self.bar = bar
        self.steps = steps
        self.calibrations = 0
        self.inner = replace(model, call=self._counted(model.call)) if isinstance(model, TorchSampler) else model

    def _counted(self, call: UNetCall) -> UNetCall:
        def counted(x: Any, t: Any, i: int) -> Any:
            out = call(x, t, i)
            self.bar.update(1)
            return out

        return counted

    def _run(self, phase: str, run: Callable[[], T]) -> T:
        self.bar.set_postfix_str(phase)
        end = self.bar.n + self.steps
        result = run()
        self.bar.update(max(end - self.bar.n, 0))
        return result

    def reference(self, n: int, steps: int, seed: int) -> np.ndarray:
        return self._run("fp32 reference", lambda: self.inner.reference(n, steps, seed))

    def calibrate(self, numerics: NumericsSpec, n: int, steps: int, seed: int) -> dict[str, float]:
        self.calibrations += 1
        return self._run("calibration", lambda: self.inner.calibrate(numerics, n, steps, seed))

    def emulate(self, numerics: NumericsSpec, amax: dict[str, float], n: int, steps: int, seed: int) -> EmulatedImages:
        return self._run("emulated numerics", lambda: self.inner.emulate(numerics, amax, n, steps, seed))

    def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None:
        return self.inner.frechet(a, b)

    def data_images(self, n: int) -> np.ndarray | None:
        return self.inner.data_images(n)


def _cmd_quality(args: argparse.Namespace) -> int:
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
    progress = _Progress(session.model, bar, args.steps)
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
