"""Measured image quality of a rung, from a ``picojoule quality`` file.

Quality depends on a design's numerics only (formats, scales, zero-skip thresholds, deltas), not
on its array or memories. A rung's quality on a workload is the entry of the quality file whose
design is one of the ladder's rung designs with the *same resolved numerics*
(``accelerator.numerics.arch_numerics``), measured at the *same number of sampling steps*;
otherwise it is "not measured" and says why. Nothing is interpolated or borrowed across numerics.
Where a steps sweep chose the rung's steps (``steps_from``), the quality is the sweep's measurement
at those steps for the sweep's series (fp32: the sampler's own loss), named as such, and the
design's numerics at those steps are said to be not measured unless the quality file has them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError
from accelerator.numerics import arch_numerics
from models.numerics.steps import StepsChoice
from simulator.explain.spec import Ladder, Rung


@dataclass(frozen=True)
class QualityTable:
    """A quality file: ``model``, ``images``, ``steps`` and per design name its record."""

    path: Path
    model: str
    images: int
    steps: int
    designs: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> QualityTable:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            designs = {str(d["name"]): dict(d["quality"]) for d in doc["designs"]}
            return cls(path, str(doc["model"]), int(doc["images"]), int(doc["steps"]), designs)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpecError(f"{path}: not a `picojoule quality` file ({type(exc).__name__}: {exc})") from None


def _fmt(rec: dict[str, Any], table: QualityTable) -> str:
    psnr = rec.get("psnr_db")
    text = "PSNR " + ("inf" if psnr is None or not math.isfinite(float(psnr)) else f"{float(psnr):.1f}") + " dB"
    if rec.get("ssim") is not None:
        text += f", SSIM {float(rec['ssim']):.3f}"
    return f"{text} ({table.model}, {table.images} images, {table.steps} steps, vs fp32)"


def rung_quality(table: QualityTable | None, rung: Rung, workload: str, ladder: Ladder) -> str:
    """The measured quality of ``rung`` on ``workload``, or why it is not known."""
    choice = rung.steps_choice.get(workload)
    if choice is not None and (table is None or rung.steps[workload] != table.steps):
        return _sweep_text(choice)
    if table is None or rung.arch is None:
        return "not measured"
    if rung.steps[workload] != table.steps:
        return f"not measured at {rung.steps[workload]} steps (measured at {table.steps})"
    mine = arch_numerics(rung.arch)
    for other in ladder.rungs:
        if other.arch is not None and other.arch.name in table.designs and arch_numerics(other.arch) == mine:
            return _fmt(table.designs[other.arch.name], table)
    return "not measured (no design with these numerics in the quality file)"


def _sweep_text(c: StepsChoice) -> str:
    e = c.entry
    parts = []
    if e.get("fd_data") is not None:
        parts.append(f"FD to data {float(e['fd_data']):.4g}")
    if e.get("psnr_db") is not None:
        parts.append(f"PSNR {float(e['psnr_db']):.1f} dB vs {c.reference_steps} steps")
    measured = ", ".join(parts) or "no measure recorded"
    return (
        f"{measured} at {c.steps} steps ({c.series} series of {c.file}: {c.model}, {c.images} images; bound "
        f"{c.bound.label()}); this design's numerics at {c.steps} steps not measured"
    )
