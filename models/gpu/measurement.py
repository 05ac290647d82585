"""The GPU measurement file: its format, reading and writing. Imports no torch.

A measurement (``picojoule.gpu_measurement``, version :data:`FORMAT_VERSION`) is one JSON
document (optionally gzipped, ``.json.gz``) written by ``picojoule gpu measure``
(:mod:`models.gpu.harness`)::

    {"format", "version", "model", "created_utc",
     "device": {"kind": "cuda"|"cpu", "name", "driver", "cuda", "torch", "sm_count",
                "l2_bytes", "sm_clock_max_mhz", "power_limit_w", ...},
     "settings": {"batch", "steps", "dtype": "bf16"|"fp16"|"fp32"|"fp8", "repeat_seconds",
                  "mode": "eager"|"graph", ...},
     "provenance": {model, weights, sampler, cfg, ...},
     "latency": {"step": {mean_s, median_s, std_s, min_s, n}, "sample": {...},
                 "s_per_step", "s_per_image"},
     "energy": {"available": bool, "reason"?, "idle_w", "energy_j", "span_s", "loops",
                "images", "j_per_image", "avg_power_w", "sm_clock_mhz_during", ...},
     "per_op": [{"i": op index in "workload", "time_s": kernel (CUDA) or CPU time}],
     "workload": a picojoule.workload document of one model call (views skipped),
     "notes": [...],
     "graph"?: {"captured": "forward"|"step", "replays_per_sample", "eager_calls_per_sample",
                "warmup_calls", "capture_s"}            (mode "graph" only),
     "fp8"?: {"recipe": {...}, "linear_fp8", "linear_bf16", "conv1x1_fp8", "conv1x1_bf16",
              "conv_bf16", "kept": [...]}                (dtype "fp8" only)}

In mode ``graph`` the latencies and energy are of CUDA-graph replays (:mod:`models.gpu.graph`);
``per_op`` and ``workload`` are always of an eager profiled step (the same kernels).

``batch`` counts images per sampling call; with classifier-free guidance the model runs at
twice that batch, which the embedded workload shows.

:func:`load_measurement` checks every field the GPU model reads (:func:`check_measurement`):
types, finite and positive times and energies, ``per_op`` entries (an index into the embedded
workload's ops, each once; a time ≥ 0), and energy fields when ``energy.available``. An error
names the file, the field as a dotted path with list indices (``per_op[3].time_s``), the bad
value and what is allowed. Other fields are kept as written.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from pathlib import Path
from typing import Any

from accelerator.errors import PicojouleError
from accelerator.files import write_bytes_atomic
from models.workload import MAX_STEPS, TooLargeError, read_bounded

FORMAT_NAME = "picojoule.gpu_measurement"
FORMAT_VERSION = 1

#: ``settings.dtype`` values the harness writes, and ``settings.mode`` values.
DTYPES = ("bf16", "fp16", "fp32", "fp8")
MODES = ("eager", "graph")
MAX_MEASUREMENT_BYTES = 256 * 1024 * 1024
"""Largest measurement document read (bytes of JSON after decompression); the committed files,
which embed a traced workload, are under 1 MB."""

#: Physical-plausibility bounds of a measurement's numbers, in one place: (lowest, highest, why).
#: Generous, so that no run of a real model on a real device is refused; there so that a damaged
#: file is a located error, not a fit on absurd values. Every other number is finite, >= 0 and
#: at most :data:`MAX_NUMBER`.
SECONDS_PER_STEP = (1e-7, 3600.0, "a denoising step takes ~10^-3-10 s; 100 ns is below one kernel launch")
SECONDS = (0.0, 3600.0, "seconds of one step or op: ~10^-6-10 s measured")
SPAN_SECONDS = (0.0, 1e6, "an energy measurement spans ~10-100 s; 1e6 s is 11 days")
J_PER_IMAGE = (0.0, 1e6, "J per image: SD-1.5 on an H100 is ~10^2 J; 1 MJ is a quarter of a kWh per image")
WATTS = (0.0, 2000.0, "board power: below the largest module TDP published, ~1.2-1.4 kW (accelerator.gpu)")
BATCH = (1, 65_536, "images per sampling call: ~1-64 in practice")
STEPS = (1, MAX_STEPS, "sampling steps (models.workload.MAX_STEPS)")
IMAGES = (1, 10**9, "images measured in one energy span: ~10-1000")
MAX_NUMBER = 2**53
"""Every number of a measurement (counts, sizes, clocks, times) is at most 2^53, the largest exact
JSON integer: no count or size of one GPU run comes near it (an H100's L2 is 2^25.6 bytes)."""
MAX_TEXT = 1000
"""Longest ``model``, ``created_utc`` or note string (names, dates and notes are < 200 characters)."""


class MeasurementError(PicojouleError):
    """A measurement cannot be taken or read (no CUDA device, bad dtype, corrupt file)."""


def write_measurement(doc: dict[str, Any], path: str | Path) -> Path:
    """Write ``doc`` as JSON (gzipped when ``path`` ends in ``.gz``), atomically; returns the path.

    A NaN is written as JSON's ``NaN`` extension rather than lost with the GPU run that measured
    it: :func:`load_measurement` then names the field."""
    p = Path(path)
    text = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")
    return write_bytes_atomic(p, gzip.compress(text, mtime=0) if p.suffix == ".gz" else text)


def load_measurement(path: str | Path) -> dict[str, Any]:
    """Read and check a measurement file; errors are :class:`MeasurementError`."""
    try:
        doc = json.loads(read_bounded(Path(path), MAX_MEASUREMENT_BYTES))
    except TooLargeError:
        raise MeasurementError(
            f"{path}: more than {MAX_MEASUREMENT_BYTES:,} bytes of JSON (MAX_MEASUREMENT_BYTES); "
            "not a measurement file this picojoule reads"
        ) from None
    except FileNotFoundError:
        raise MeasurementError(f"{path}: no such measurement file") from None
    except IsADirectoryError:
        raise MeasurementError(f"{path}: is a folder, not a measurement file") from None
    except OSError as exc:
        raise MeasurementError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (EOFError, zlib.error, RecursionError, ValueError) as exc:  # damaged gzip, bad JSON, deep nesting
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise MeasurementError(f"{path}: not a readable measurement file: {reason}") from None
    check_measurement(doc, str(path))
    return doc  # type: ignore[no-any-return]


def _show(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    """Field checks that raise a :class:`MeasurementError` naming the file, field and value."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, value: Any) -> MeasurementError:
        return MeasurementError(f"{self.source}: {where}: expected {expected}, got {_show(value)}")

    def obj(self, doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        if key not in doc:
            raise MeasurementError(f"{self.source}: {where}: required field is missing (an object)")
        if not isinstance(doc[key], dict):
            raise self.fail(where, "an object", doc[key])
        return doc[key]  # type: ignore[no-any-return]

    def number(
        self,
        doc: dict[str, Any],
        key: str,
        where: str,
        bounds: tuple[float, float, str],
        *,
        positive: bool,
        required: bool = True,
    ) -> None:
        """A finite number, > 0 (``positive``) or ≥ 0, within ``bounds`` (low, high, why);
        ``required=False``: may be absent or null."""
        value = doc.get(key)
        allowed = "a finite number " + ("> 0" if positive else ">= 0")
        if value is None:
            if required:
                raise MeasurementError(f"{self.source}: {where}: required field is missing ({allowed})")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, allowed, value)
        if value < 0 or (positive and value == 0):
            raise self.fail(where, allowed, value)
        low, high, why = bounds
        if not low <= value <= high:
            raise self.fail(where, f"a number in [{low:g}, {high:g}] ({why})", value)

    def integer(self, doc: dict[str, Any], key: str, where: str, bounds: tuple[int, int, str]) -> int:
        value = doc.get(key)
        low, high, why = bounds
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(where, f"an integer >= {low}", value)
        if value > high:
            raise self.fail(where, f"an integer at most {high:,} ({why})", value)
        return value

    def text(self, doc: dict[str, Any], key: str, where: str, *, required: bool) -> None:
        value = doc.get(key)
        if value is None and not required:
            return
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise self.fail(where, f"a non-empty string of at most {MAX_TEXT} characters", value)

    def choice(self, doc: dict[str, Any], key: str, where: str, allowed: tuple[str, ...], default: str | None) -> None:
        value = doc.get(key, default)
        if value not in allowed:
            raise self.fail(where, f"one of {', '.join(allowed)}", value)


def check_measurement(doc: Any, source: str = "<measurement>") -> None:
    """Raise a :class:`MeasurementError` for the first field of ``doc`` the GPU model cannot use."""
    c = _Checker(source)
    if not isinstance(doc, dict):
        raise c.fail("(top)", f"a {FORMAT_NAME} JSON object", doc)
    if doc.get("format") != FORMAT_NAME:
        raise MeasurementError(f"{source}: format is not {FORMAT_NAME!r} (got {_show(doc.get('format'))})")
    if doc.get("version") != FORMAT_VERSION:
        raise MeasurementError(f"{source}: version {doc.get('version')!r}; this picojoule reads {FORMAT_VERSION}")
    c.text(doc, "model", "model", required=True)
    c.text(doc, "created_utc", "created_utc", required=False)
    notes = doc.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) and len(n) <= MAX_TEXT for n in notes):
        raise c.fail("notes", f"a list of strings of at most {MAX_TEXT} characters", notes)
    device = c.obj(doc, "device", "device")
    c.choice(device, "kind", "device.kind", ("cuda", "cpu"), None)
    for key in ("name", "driver", "cuda", "torch"):
        if device.get(key) is not None and (not isinstance(device[key], str) or len(device[key]) > MAX_TEXT):
            raise c.fail(f"device.{key}", f"a string of at most {MAX_TEXT} characters, or null", device[key])
    settings = c.obj(doc, "settings", "settings")
    c.integer(settings, "batch", "settings.batch", BATCH)
    c.integer(settings, "steps", "settings.steps", STEPS)
    c.choice(settings, "dtype", "settings.dtype", DTYPES, None)
    c.choice(settings, "mode", "settings.mode", MODES, "eager")
    latency = c.obj(doc, "latency", "latency")
    c.number(latency, "s_per_step", "latency.s_per_step", SECONDS_PER_STEP, positive=True)
    c.number(latency, "s_per_image", "latency.s_per_image", SPAN_SECONDS, positive=True, required=False)
    c.number(latency, "host_s_per_step", "latency.host_s_per_step", SECONDS, positive=False, required=False)
    energy = c.obj(doc, "energy", "energy")
    if not isinstance(energy.get("available"), bool):
        raise c.fail("energy.available", "true or false", energy.get("available"))
    if energy["available"]:
        c.number(energy, "j_per_image", "energy.j_per_image", J_PER_IMAGE, positive=True)
        c.number(energy, "idle_w", "energy.idle_w", WATTS, positive=False)
        c.number(energy, "span_s", "energy.span_s", SPAN_SECONDS, positive=True)
        c.integer(energy, "images", "energy.images", IMAGES)
    _check_per_op(doc, c)
    _check_every_number(doc, c, "")


def _check_every_number(x: Any, c: _Checker, where: str) -> None:
    """Every number a measurement holds is a finite quantity in [0, :data:`MAX_NUMBER`] (times,
    powers, energies, counts, clocks, sizes; the committed files hold no other): a negative,
    non-finite or astronomical value in a field the fit does not read is still a damaged file,
    never accepted silently."""
    if isinstance(x, dict):
        for k, v in x.items():
            _check_every_number(v, c, f"{where}.{k}" if where else str(k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _check_every_number(v, c, f"{where}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool) and not (math.isfinite(x) and 0 <= x <= MAX_NUMBER):
        raise c.fail(where, "a finite number in [0, 2^53] (no quantity of one GPU run is larger)", x)


def _check_per_op(doc: dict[str, Any], c: _Checker) -> None:
    if "per_op" not in doc:
        raise MeasurementError(f"{c.source}: per_op: required field is missing (a list, empty when not profiled)")
    per_op = doc["per_op"]
    if not isinstance(per_op, list):
        raise c.fail("per_op", 'a list of {"i": op index, "time_s": seconds}', per_op)
    workload = doc.get("workload")
    if workload is not None and not isinstance(workload, dict):
        raise c.fail("workload", "a picojoule.workload object or null", workload)
    ops = workload.get("ops") if workload is not None else None
    n_ops = len(ops) if isinstance(ops, list) else None
    seen: set[int] = set()
    for k, entry in enumerate(per_op):
        where = f"per_op[{k}]"
        if not isinstance(entry, dict):
            raise c.fail(where, '{"i": op index, "time_s": seconds}', entry)
        i = c.integer(entry, "i", f"{where}.i", (0, MAX_NUMBER, "an index into the workload's ops"))
        if n_ops is not None and i >= n_ops:
            raise c.fail(f"{where}.i", f"an index into the workload's {n_ops} ops (0..{n_ops - 1})", i)
        if i in seen:
            raise c.fail(f"{where}.i", "each op index once", i)
        seen.add(i)
        c.number(entry, "time_s", f"{where}.time_s", SECONDS, positive=False)
