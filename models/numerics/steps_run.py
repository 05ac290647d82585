"""Run a steps sweep: image quality of a model's sampler at each step count, fp32 and emulated.

For one model, seed and image count (:func:`run_steps_sweep`):

1. the reference: the model's own fp32 output at ``reference_steps`` (default: the sweep's
   largest count) from ``seed``; every run below starts from the same seed and noise
   (``sample_digits`` draws x_T from ``seed`` whatever the step count; the terrain sampler's
   first noise is the first draw of ``default_rng(seed)`` after the labels);
2. series ``fp32``: the fp32 output at each step count against the reference (PSNR, SSIM),
   and the Fréchet distance of its classifier features to the reference set and to all real
   digits (digits models only);
3. one series per design: its numerics emulated at each step count (calibrated at that count
   from ``seed + 1000``, as ``picojoule quality`` does) against the same fp32 reference, plus
   ``numerics_psnr_db``: against the fp32 run of the same step count (the numerics' own error).

The file format and the binding of a scenario's steps to it are in :mod:`models.numerics.steps`.
Importing this module imports no torch; the runs do.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accelerator.errors import SpecError
from accelerator.numerics import NumericsSpec
from models.numerics.metrics import compare, fmt_psnr, fmt_value
from models.numerics.quality_model import QualityModel
from models.numerics.session import QualitySession
from models.numerics.steps import MAX_STEPS, SWEEP_KIND, SWEEP_VERSION, check_sweep

REFERENCE_DEFINITION = (
    "the model's own fp32 output at reference.steps sampling steps from the same seed and noise; "
    "a different step count is a different sampler trajectory, so fd_data (Fréchet distance of the "
    "digits classifier's features to all 1,797 real digits) is the measure of the images themselves"
)
VERSIONED = ("picojoule", "numpy", "torch", "diffusers", "onnxruntime")
"""Distributions whose versions a sweep file records."""


@dataclass(frozen=True)
class SweepDesign:
    """A design whose numerics a sweep emulates: its name, resolved numerics and arch file."""

    name: str
    numerics: NumericsSpec
    file: str | None = None


def parse_steps(text: str) -> tuple[int, ...]:
    """``"1,2,4,8"`` as sorted distinct step counts; :class:`SpecError` naming the bad item."""
    out = set()
    for item in text.split(","):
        try:
            steps = int(item.strip())
        except ValueError:
            raise SpecError(f"--steps-sweep: expected comma-separated integers, got {item.strip()!r}") from None
        if not 1 <= steps <= MAX_STEPS:
            raise SpecError(f"--steps-sweep: step counts must be in [1, {MAX_STEPS}], got {steps}")
        out.add(steps)
    return tuple(sorted(out))


def _round6(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) or math.isnan(x) else float(f"{x:.6g}")


def versions() -> dict[str, str | None]:
    """Installed versions of :data:`VERSIONED` (``None``: not installed)."""
    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _entry(
    model: QualityModel, steps: int, images: np.ndarray, reference: np.ndarray, data: np.ndarray | None
) -> dict[str, Any]:
    return {
        "steps": steps,
        **compare(images, reference, model.data_range).to_json(),
        "fd_reference": _round6(model.frechet(images, reference)),
        "fd_data": _round6(model.frechet(images, data)) if data is not None else None,
    }


def run_steps_sweep(
    model: QualityModel,
    steps: Sequence[int],
    *,
    images: int,
    seed: int = 0,
    reference_steps: int | None = None,
    designs: Sequence[SweepDesign] = (),
    calibration_images: int = 4,
) -> dict[str, Any]:
    """The steps-sweep document (format: :mod:`models.numerics.steps`); deterministic for equal inputs.

    ``steps`` are the step counts judged (sorted, distinct); ``reference_steps`` defaults to the
    largest. The fp32 series always comes first, then one series per design.
    """
    counts = tuple(sorted(set(steps)))
    if not counts or counts[0] < 1 or counts[-1] > MAX_STEPS:
        raise SpecError(f"step counts must be in [1, {MAX_STEPS}], got {list(steps)}")
    ref_steps = counts[-1] if reference_steps is None else reference_steps
    if not 1 <= ref_steps <= MAX_STEPS:
        raise SpecError(f"reference steps must be in [1, {MAX_STEPS}], got {ref_steps}")
    if images < 1 or calibration_images < 1:
        raise SpecError(f"images and calibration images must be >= 1, got {images}, {calibration_images}")
    reference = model.reference(images, ref_steps, seed)
    data = model.data_images(None)
    subset = model.data_images(images)
    fp32: dict[int, np.ndarray] = {ref_steps: reference}
    entries = []
    for s in counts:
        if s not in fp32:
            fp32[s] = model.reference(images, s, seed)
        entries.append(_entry(model, s, fp32[s], reference, data))
    series: list[dict[str, Any]] = [{"name": "fp32", "numerics": "fp32", "file": None, "entries": entries}]
    for d in designs:
        entries = []
        for s in counts:
            session = QualitySession(model, images, s, seed, calibration_images)
            emu = model.emulate(d.numerics, session.calibration(d.numerics), images, s, seed).images
            own = compare(emu, fp32[s], model.data_range).to_json()
            own_error = {"numerics_psnr_db": own["psnr_db"], "numerics_ssim": own["ssim"]}
            entries.append({**_entry(model, s, emu, reference, data), **own_error})
        series.append({"name": d.name, "numerics": d.numerics.label(), "file": d.file, "entries": entries})
    doc = {
        "kind": SWEEP_KIND,
        "version": SWEEP_VERSION,
        "model": model.name,
        "weights": model.weights,
        "sampler": model.sampler,
        "images": images,
        "seed": seed,
        "calibration_images": calibration_images if designs else None,
        "reference": {
            "steps": ref_steps,
            "numerics": "fp32",
            "definition": REFERENCE_DEFINITION,
            "fd_data": _round6(model.frechet(reference, data)) if data is not None else None,
        },
        "data": None
        if data is None or subset is None
        else {
            "set": f"all {len(data)} real images of the model's data set",
            "fd_data_floor": _round6(model.frechet(subset, data)),
            "fd_data_floor_definition": f"a seeded random subset of {len(subset)} real images against all of them: "
            "about what a perfect sampler scores at this image count (optimistic: the subset is part of the set; "
            "it varies with the subset)",
        },
        "series": series,
    }
    return check_sweep(doc)


def steps_table(doc: dict[str, Any]) -> str:
    """A fixed-width table per series: steps, PSNR/SSIM against the reference, FD to the reference and data."""
    ref = doc["reference"]
    lines = [
        f"quality vs steps: {doc['model']} ({doc['sampler']}), {doc['images']} images, seed {doc['seed']}; "
        f"reference: fp32 at {ref['steps']} steps, same noise"
    ]
    if ref.get("fd_data") is not None:
        floor = (doc.get("data") or {}).get("fd_data_floor")
        lines.append(f"FD to data of the reference {ref['fd_data']:.4g}; of real images at this count {floor:.4g}")
    for s in doc["series"]:
        emulated = s["name"] != "fp32"
        head = ["steps", "PSNR dB", "worst dB", "SSIM", "worst SSIM", "FD ref", "FD data"]
        rows = [head + (["numerics dB"] if emulated else [])]
        for e in s["entries"]:
            row = [
                str(e["steps"]),
                fmt_psnr(e),
                fmt_psnr({"psnr_db": e["psnr_db_min"], "ssim": e["ssim_min"]}),
                fmt_value(e["ssim"], ".4f"),
                fmt_value(e["ssim_min"], ".4f"),
                fmt_value(e["fd_reference"], ".4g"),
                fmt_value(e["fd_data"], ".4g"),
            ]
            own = {"psnr_db": e.get("numerics_psnr_db"), "ssim": e.get("numerics_ssim")}
            rows.append(row + ([fmt_psnr(own)] if emulated else []))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append(f"\n{s['name']} [{s['numerics']}]")
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
