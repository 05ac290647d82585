"""Steps sweeps: image quality against the number of sampling steps, and binding a step count to it.

A steps-sweep file (``picojoule quality --steps-sweep``, written by :mod:`models.numerics.steps_run`)
holds, for one model, sampler, seed and image count, one *series* per numerics (``fp32`` and
each ``--arch``'s design); each series lists per step count the quality of its images:

- ``psnr_db``/``ssim`` (mean; ``*_min`` worst image) against the *reference*: the model's own
  fp32 output at ``reference.steps`` (the sweep's largest count unless given) from the same seed
  and noise; PSNR ``null`` means identical (the reference against itself);
- ``fd_data``: Fréchet distance of the images' classifier features to all real digits (digits
  models only; ``null`` elsewhere). A different step count is a different sampler trajectory,
  not a noisy copy of the reference, so this is the measure of what the images are worth;
- ``fd_reference``: the same distance to the reference set.

:func:`choose_steps` picks the fewest steps whose entry meets every given bound: what a
scenario's ``quality: {steps_from: FILE, min_psnr_db: 30}`` does; :func:`numerics_entry` reads
what a series of the same numerics measured at a given count. Pure Python: importing this
module imports neither torch nor numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SpecError

SWEEP_KIND = "steps-sweep"
"""Value of the ``kind`` field of a steps-sweep file."""
SWEEP_VERSION = 1
"""Version of the steps-sweep file format."""
MAX_SWEEP_BYTES = 16 * 1024 * 1024
"""Largest steps-sweep file read (bytes); a sweep of 1,000 step counts is under 1 MB."""
MAX_STEPS = 1000
"""Most sampling steps an entry may name (the digits DDPM has 1,000 training timesteps)."""


@dataclass(frozen=True)
class StepsBound:
    """Bounds an entry must meet; ``None`` = no bound. Identical images (PSNR ``null``, SSIM 1) meet any."""

    min_psnr_db: float | None = None
    min_ssim: float | None = None
    max_fd_data: float | None = None

    def met_by(self, entry: dict[str, Any]) -> bool:
        return not self.missing(entry) and all(self._meets(entry, name) for name in self._given())

    def missing(self, entry: dict[str, Any]) -> list[str]:
        """The bounded measures this entry has no value for (FD of a model without features)."""
        return [n for n in self._given() if entry.get(_MEASURE[n]) is None and n != "min_psnr_db"]

    def _given(self) -> list[str]:
        return [n for n in ("min_psnr_db", "min_ssim", "max_fd_data") if getattr(self, n) is not None]

    def _meets(self, entry: dict[str, Any], name: str) -> bool:
        value, bound = entry_value(entry, _MEASURE[name]), getattr(self, name)
        return bool(value <= bound) if name.startswith("max") else bool(value >= bound)

    def label(self) -> str:
        parts = []
        if self.min_psnr_db is not None:
            parts.append(f"PSNR >= {self.min_psnr_db:g} dB")
        if self.min_ssim is not None:
            parts.append(f"SSIM >= {self.min_ssim:g}")
        if self.max_fd_data is not None:
            parts.append(f"FD to data <= {self.max_fd_data:g}")
        return " and ".join(parts)


_MEASURE = {"min_psnr_db": "psnr_db", "min_ssim": "ssim", "max_fd_data": "fd_data"}


def entry_value(entry: dict[str, Any], measure: str) -> float:
    """A measure of an entry as a float; ``nan`` (meets no bound) when not recorded.

    PSNR ``null`` is ``inf`` when SSIM is 1 (identical images), else ``nan`` (e.g. NaN images)."""
    v = entry.get(measure)
    if v is None:
        return math.inf if measure == "psnr_db" and entry.get("ssim") == 1.0 else math.nan
    return float(v)


@dataclass(frozen=True)
class StepsChoice:
    """The step count a bound picked from a sweep file, and what was measured there."""

    steps: int
    entry: dict[str, Any]  # the chosen entry of the series
    series: str
    bound: StepsBound
    file: str
    model: str
    sampler: str
    images: int
    seed: int
    reference_steps: int

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "from": self.file,
            "series": self.series,
            "bound": self.bound.label(),
            "measured": dict(self.entry),
            "model": self.model,
            "sampler": self.sampler,
            "images": self.images,
            "seed": self.seed,
            "reference_steps": self.reference_steps,
        }


def _fail(path: str | Path, what: str) -> SpecError:
    return SpecError(f"{path}: not a steps-sweep file ({what}); write one with `picojoule quality --steps-sweep`")


def _check_int(path: str | Path, value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(path, f"{where} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _check_number(path: str | Path, value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _fail(path, f"{where} must be a number or null, got {value!r}")


def check_sweep(doc: Any, path: str | Path = "<steps sweep>") -> dict[str, Any]:
    """``doc`` if it is a well-formed steps sweep, else :class:`SpecError` naming ``path`` and the fault."""
    if not isinstance(doc, dict) or doc.get("kind") != SWEEP_KIND:
        raise _fail(path, f"kind is not {SWEEP_KIND!r}")
    if doc.get("version") != SWEEP_VERSION:
        raise _fail(path, f"version {doc.get('version')!r}, expected {SWEEP_VERSION}")
    for key in ("model", "sampler"):
        if not isinstance(doc.get(key), str):
            raise _fail(path, f"{key} must be a string")
    _check_int(path, doc.get("images"), "images", 1, 1 << 20)
    _check_int(path, doc.get("seed"), "seed", 0, 2**32 - 1)
    ref = doc.get("reference")
    if not isinstance(ref, dict):
        raise _fail(path, "reference must be a mapping")
    _check_int(path, ref.get("steps"), "reference.steps", 1, MAX_STEPS)
    series = doc.get("series")
    if not isinstance(series, list) or not series:
        raise _fail(path, "series must be a non-empty list")
    for i, s in enumerate(series):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not isinstance(s.get("entries"), list):
            raise _fail(path, f"series.{i} needs a name and a list of entries")
        if not s["entries"]:
            raise _fail(path, f"series.{i} has no entries")
        previous = 0
        for j, e in enumerate(s["entries"]):
            if not isinstance(e, dict):
                raise _fail(path, f"series.{i}.entries.{j} must be a mapping")
            steps = _check_int(path, e.get("steps"), f"series.{i}.entries.{j}.steps", 1, MAX_STEPS)
            if steps <= previous:
                where = f"series.{i}.entries.{j}.steps"
                raise _fail(path, f"{where}: step counts must increase, got {steps} after {previous}")
            previous = steps
            for key in ("psnr_db", "ssim", "fd_data"):
                _check_number(path, e.get(key), f"series.{i}.entries.{j}.{key}")
    return doc


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read and check a steps-sweep JSON file; errors are :class:`SpecError` naming the file."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SWEEP_BYTES:
            raise SpecError(f"{path}: larger than {MAX_SWEEP_BYTES:,} bytes; not a steps-sweep file")
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such steps-sweep file") from None
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: not a readable JSON file: {exc}") from None
    return check_sweep(doc, path)


@dataclass(frozen=True)
class NumericsEntry:
    """What a sweep measured for one numerics at one step count (:func:`numerics_entry`)."""

    steps: int
    entry: dict[str, Any]  # the series' entry at ``steps``
    series: str
    numerics: str
    file: str
    model: str
    images: int
    reference_steps: int


def numerics_entry(
    doc: dict[str, Any], numerics: str, steps: int, *, file: str = "<steps sweep>"
) -> NumericsEntry | None:
    """The entry at ``steps`` of the first series of the sweep ``doc`` whose ``numerics`` label is
    ``numerics`` (:meth:`accelerator.numerics.NumericsSpec.label`; ``fp32`` for the model's own
    output); ``None`` when no series has these numerics or it was not measured at ``steps``."""
    for s in doc["series"]:
        if s.get("numerics") != numerics:
            continue
        for e in s["entries"]:
            if e["steps"] == steps:
                return NumericsEntry(
                    steps=steps,
                    entry=dict(e),
                    series=str(s["name"]),
                    numerics=numerics,
                    file=file,
                    model=str(doc["model"]),
                    images=int(doc["images"]),
                    reference_steps=int(doc["reference"]["steps"]),
                )
    return None


def _fmt_entry(entry: dict[str, Any]) -> str:
    psnr = entry.get("psnr_db")
    shown = ("inf" if entry.get("ssim") == 1.0 else "nan") if psnr is None else f"{psnr:.2f}"
    parts = [f"{entry['steps']} steps: PSNR {shown} dB"]
    if entry.get("ssim") is not None:
        parts.append(f"SSIM {entry['ssim']:.4f}")
    if entry.get("fd_data") is not None:
        parts.append(f"FD to data {entry['fd_data']:.4g}")
    return ", ".join(parts)


def choose_steps(
    doc: dict[str, Any], bound: StepsBound, *, series: str = "fp32", file: str = "<steps sweep>"
) -> StepsChoice:
    """The fewest steps of ``series`` in the sweep ``doc`` whose entry meets every bound of ``bound``.

    :class:`SpecError` when the series is missing, a bounded measure was not recorded, or no
    entry meets the bounds (the message names the best entry on each bounded measure).
    """
    names = [s["name"] for s in doc["series"]]
    if series not in names:
        raise SpecError(f"{file} has no series {series!r}; it has: {', '.join(names)}")
    entries = doc["series"][names.index(series)]["entries"]
    if not bound._given():
        raise SpecError("give at least one bound: min_psnr_db, min_ssim or max_fd_data")
    missing = sorted({m for e in entries for m in bound.missing(e)})
    if missing:
        raise SpecError(f"{file} series {series!r} has no {', '.join(_MEASURE[m] for m in missing)} to bound")
    for e in entries:  # ascending step counts (check_sweep): the first that meets is the fewest
        if bound.met_by(e):
            return StepsChoice(
                steps=int(e["steps"]),
                entry=dict(e),
                series=series,
                bound=bound,
                file=file,
                model=doc["model"],
                sampler=doc["sampler"],
                images=int(doc["images"]),
                seed=int(doc["seed"]),
                reference_steps=int(doc["reference"]["steps"]),
            )
    best = []
    for name in bound._given():
        measure = _MEASURE[name]
        low = name.startswith("max")  # lower is better
        worst = math.inf if low else -math.inf

        def score(e: dict[str, Any], m: str = measure, worst: float = worst) -> float:
            v = entry_value(e, m)
            return worst if math.isnan(v) else v

        top = (min if low else max)(entries, key=score)
        best.append(f"best {measure}: {_fmt_entry(top)}")
    raise SpecError(f"no entry of {file} series {series!r} meets {bound.label()}; " + "; ".join(best))
