"""Measured image quality of a rung, from a ``picojoule quality`` file.

Quality depends on a design's numerics only (formats, scales, zero-skip thresholds, deltas), not
on its array or memories. A rung's quality on a workload is the entry of the quality file whose
design is one of the ladder's rung designs with the *same resolved numerics*
(``accelerator.numerics.arch_numerics``), measured at the *same number of sampling steps*;
otherwise a series of the workload's ``quality_sweeps`` (steps sweeps run with ``--arch``) with the
same numerics label (:meth:`accelerator.numerics.NumericsSpec.label`) at the rung's steps;
otherwise it is "not measured" and says why. Nothing is interpolated or borrowed across numerics.
Where a steps sweep chose the rung's steps (``steps_from``), the quality is the sweep's measurement
at those steps for the sweep's series (fp32: the sampler's own loss), named as such, then the
design's own numerics at those steps from a quality sweep (and whether they meet the same bound),
or "not measured".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError
from accelerator.numerics import arch_numerics
from models.numerics.steps import NumericsEntry, StepsChoice, numerics_entry
from simulator.explain.spec import Ladder, QualitySweep, Rung


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


def rung_quality(
    table: QualityTable | None, rung: Rung, workload: str, ladder: Ladder, sweeps: tuple[QualitySweep, ...] = ()
) -> str:
    """The measured quality of ``rung`` on ``workload``, or why it is not known."""
    steps = rung.steps[workload]
    choice = rung.steps_choice.get(workload)
    own = None
    if rung.arch is not None:
        label = arch_numerics(rung.arch).label()
        own = next((e for sw in sweeps if (e := numerics_entry(sw.doc, label, steps, file=sw.file))), None)
    if choice is not None and (table is None or steps != table.steps):
        return _sweep_text(choice, own)
    if rung.arch is not None and table is not None and steps == table.steps:
        mine = arch_numerics(rung.arch)
        for other in ladder.rungs:
            if other.arch is not None and other.arch.name in table.designs and arch_numerics(other.arch) == mine:
                return _fmt(table.designs[other.arch.name], table)
    if own is not None:
        return _own_text(own)
    if table is None or rung.arch is None:
        return "not measured"
    if steps != table.steps:
        return f"not measured at {steps} steps (measured at {table.steps})"
    return "not measured (no design with these numerics in the quality file)"


def _measures(e: dict[str, Any], reference_steps: int) -> str:
    parts = []
    if e.get("fd_data") is not None:
        parts.append(f"FD to data {float(e['fd_data']):.4g}")
    if e.get("psnr_db") is not None:
        parts.append(f"PSNR {float(e['psnr_db']):.1f} dB vs {reference_steps} steps")
    if e.get("numerics_psnr_db") is not None:
        parts.append(f"{float(e['numerics_psnr_db']):.1f} dB vs fp32 at the same steps")
    return ", ".join(parts) or "no measure recorded"


def _series(own: NumericsEntry) -> str:
    return f"series {own.series} of {own.file}: {own.model}, {own.images} images"


def _own_text(own: NumericsEntry) -> str:
    return f"{_measures(own.entry, own.reference_steps)} at {own.steps} steps ({_series(own)})"


def _sweep_text(c: StepsChoice, own: NumericsEntry | None) -> str:
    chosen = (
        f"{_measures(c.entry, c.reference_steps)} at {c.steps} steps ({c.series} series of {c.file}: {c.model}, "
        f"{c.images} images; bound {c.bound.label()})"
    )
    if own is None:
        return f"{chosen}; this design's numerics at {c.steps} steps not measured"
    meets = "meets" if c.bound.met_by(own.entry) else "does not meet"
    return (
        f"{chosen}; this design's numerics at {c.steps} steps: {_measures(own.entry, own.reference_steps)} "
        f"({_series(own)}): {meets} the bound"
    )
