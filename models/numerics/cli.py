"""``picojoule quality``: image quality of designs' numerics on a real model.

    picojoule quality --arch scenarios/arch/quality-int8.yaml [--arch ...] --model digits-ddpm \\
        [--images 16] [--steps 20] [--seed 0] [--calibration-images 4] --out quality.json

Each design's numerics (``numerics:`` in its arch YAML, left-out fields following ``compute``)
run the model's whole sampling loop from the same seed and noise as the fp32 reference; the
output holds PSNR, SSIM, Fréchet distance, measured zero/delta fractions and the calibration
table per design. :mod:`models.numerics.session` imports torch only when it runs a model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from accelerator.spec import load_arch
from models.numerics.metrics import fmt_psnr, fmt_value
from models.numerics.session import make_session, quality_objective


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
    p.set_defaults(func=_cmd_quality)


def _cmd_quality(args: argparse.Namespace) -> int:
    archs = [load_arch(a) for a in args.arch]
    session = make_session(
        args.model,
        images=args.images,
        steps=args.steps,
        seed=args.seed,
        calibration_images=args.calibration_images,
    )
    designs = []
    for path, arch in zip(args.arch, archs, strict=True):
        q = quality_objective(arch, session=session)
        designs.append({"name": arch.name, "file": str(path), "quality": q})
        print(_line(arch.name, q), flush=True)
    doc = {
        "model": args.model,
        "images": args.images,
        "steps": args.steps,
        "seed": args.seed,
        "designs": designs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _line(name: str, q: dict[str, Any]) -> str:
    psnr = fmt_psnr(q)
    return (
        f"{name:32s} PSNR {psnr:>6s} dB  SSIM {fmt_value(q['ssim'], '.4f')}  "
        f"FD {fmt_value(q['fd'], '.3g')}  [{q['numerics']}]"
    )
