"""Reading a calibration file (``picojoule.gpu_calibration`` v1, written by
:mod:`simulator.gpu.calibrate`): every field checked before any of it is used, so a damaged or
hand-edited file is one :class:`PicojouleError` naming the file and the dotted field
(``h100-sxm-calibration.json: params.eff_max.gemm: expected a positive finite number, got -1``),
never a traceback in the cost model or the report."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerator.errors import PicojouleError
from accelerator.files import input_problem
from accelerator.gpu import PRECISION_BYTES
from simulator.gpu.params import GpuCalibration, GpuModelParams

FORMAT_NAME = "picojoule.gpu_calibration"
FORMAT_VERSION = 1

#: Largest calibration file read (bytes); the committed H100 one is 31 KB.
MAX_CALIBRATION_BYTES = 16 << 20

#: Physical-plausibility bounds of a calibration's numbers, in one place: name -> (highest, why);
#: every number is also finite and >= 0. Generous, so that no fit of a real GPU is refused;
#: there so that a damaged or hand-edited file is a located error, not an absurd prediction.
#: ``params`` are :class:`simulator.gpu.params.GpuModelParams` (per-kind maps: every entry).
PARAM_BOUNDS: dict[str, tuple[float, str]] = {
    "eff_max": (1.0, "achieved / peak tensor rate: at most 1 (the fit searches (0, 1])"),
    "mem_eff": (1.0, "sustained / peak HBM bandwidth: at most 1 (the fit searches (0, 1])"),
    "vector_efficiency": (1.0, "achieved / peak CUDA-core rate: at most 1"),
    "flops_half": (1e15, "FLOPs at which a kernel reaches half its efficiency; the fit searches up to 1e13"),
    "kernel_fixed_s": (1.0, "fixed time per kernel: ~1-60 us measured, the fit searches up to 2 ms"),
    "host_issue_s": (1.0, "host time to issue one op: ~5-50 us in eager PyTorch"),
    "l2_resident_fraction": (1.0, "a fraction of L2"),
    "idle_w": (2000.0, "board power: below the largest module TDP published, ~1.2-1.4 kW (accelerator.gpu)"),
    "active_w": (2000.0, "board power: below the largest module TDP published, ~1.2-1.4 kW (accelerator.gpu)"),
    "pj_per_tensor_flop": (1e4, "dynamic energy per FLOP: an fp32 FMA is ~4.6 pJ at 45 nm (Horowitz ISSCC 2014)"),
    "pj_per_vector_flop": (1e4, "dynamic energy per FLOP: an fp32 FMA is ~4.6 pJ at 45 nm (Horowitz ISSCC 2014)"),
    "pj_per_hbm_byte": (8e3, "1,000 pJ/bit (accelerator.spec_base.MAX_DRAM_PJ_PER_BIT); HBM3 is ~4 pJ/bit"),
    "pj_per_l2_byte": (8e3, "1,000 pJ/bit (accelerator.spec_base.MAX_DRAM_PJ_PER_BIT); on-chip SRAM is < 1 pJ/bit"),
}
#: Parameters that divide a time (an efficiency): zero would be a division by zero.
_POSITIVE_PARAMS = ("eff_max", "mem_eff", "vector_efficiency")

_PCT = (1e4, "a percentage error or spread: 10,000 % means no fit at all")
_J_PER_IMAGE = (1e6, "J per image: SD-1.5 on an H100 is ~10^2 J; 1 MJ is a quarter of a kWh per image")
_SECONDS = (3600.0, "seconds per denoising step (or per op class in it): ~10^-2 s measured")
_COUNT = (1e6, "batches, steps and runs of a measurement are ~1-100")
#: Numbers of a ``measured``/``points`` entry (what ``simulator.gpu.calibrate`` writes): name -> bound.
ENTRY_NUMBERS: dict[str, tuple[float, str]] = {
    "energy_j_per_image": _J_PER_IMAGE,
    "predicted_energy_j_per_image": _J_PER_IMAGE,
    "latency_s_per_step": _SECONDS,
    "predicted_latency_s_per_step": _SECONDS,
    "profiled_op_s_per_step": _SECONDS,
    "energy_error_pct": _PCT,
    "latency_error_pct": _PCT,
    "energy_image_error_pct": _PCT,
    "latency_step_error_pct": _PCT,
    "energy_image_spread_pct": _PCT,
    "latency_step_spread_pct": _PCT,
    "idle_w": PARAM_BOUNDS["idle_w"],
    "profiler_inflation": (1e3, "profiled / unprofiled op time: ~1-3 measured"),
}
_ENTRY_COUNTS = ("batch", "steps", "runs")
_ENTRY_TEXTS = ("file", "mode", "profiler_inflation_source")
_OP_CLASS = "op_class_s_per_step"
#: Longest string a calibration holds (names, methods, hashes, dates), and most entries of a map or list.
MAX_TEXT = 1000
MAX_ENTRIES = 10_000


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def _got(value: Any) -> str:
    return f"got {json.dumps(value)[:60]}" if not isinstance(value, str) else f"got {value[:60]!r}"


def _number(value: Any, field: str, bound: tuple[float, str], *, positive: bool = False) -> float:
    """A finite number, >= 0 (> 0 when ``positive``), at most ``bound`` (value, why)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    kind = "a positive" if positive else "a non-negative"
    if not ok or value < 0 or (positive and value == 0):
        raise _Bad(field, f"expected {kind} finite number, {_got(value)}")
    high, why = bound
    if value > high:
        raise _Bad(field, f"expected {kind} finite number at most {high:g} ({why}), {_got(value)}")
    return float(value)


def _integer(value: Any, field: str, low: int, bound: tuple[float, str]) -> int:
    high, why = bound
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _Bad(field, f"expected {'a positive' if low else 'a non-negative'} integer, {_got(value)}")
    if value > high:
        raise _Bad(field, f"expected an integer at most {high:g} ({why}), {_got(value)}")
    return value


def _text(value: Any, field: str, *, null: bool = False) -> str | None:
    if value is None and null:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise _Bad(
            field, f"expected a string of at most {MAX_TEXT} characters{' or null' if null else ''}, {_got(value)}"
        )
    return value


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(field, f"expected a JSON object, {_got(value)}")
    if len(value) > MAX_ENTRIES:
        raise _Bad(field, f"expected at most {MAX_ENTRIES:,} entries, got {len(value):,}")
    return value


def _params(value: Any) -> GpuModelParams:
    d = _object(value, "params")
    fields = GpuModelParams.__dataclass_fields__
    for key in d:
        if key not in fields:
            raise _Bad(f"params.{key}", f"unknown parameter; known: {', '.join(sorted(fields))}")
    kw: dict[str, Any] = {}
    for key, v in d.items():
        positive, bound = key in _POSITIVE_PARAMS, PARAM_BOUNDS[key]
        if isinstance(fields[key].default, float):
            kw[key] = _number(v, f"params.{key}", bound, positive=positive)
        else:  # a per-kind map
            table = _object(v, f"params.{key}")
            kw[key] = {k: _number(x, f"params.{key}.{k}", bound, positive=positive) for k, x in table.items()}
    return GpuModelParams(**kw)


def _entry(value: Any, where: str) -> Mapping[str, Any]:
    """One ``measured``/``points`` entry: known fields only, each of its type and within bounds."""
    e = _object(value, where)
    for n in _ENTRY_COUNTS:
        _integer(e.get(n, 1), f"{where}.{n}", 1, _COUNT)
    for key, v in e.items():
        field = f"{where}.{key}"
        if key in ENTRY_NUMBERS:
            if v is not None:
                _number(v, field, ENTRY_NUMBERS[key])
        elif key in _ENTRY_TEXTS:
            _text(v, field, null=True)
        elif key == "gpu_bound":
            if not isinstance(v, bool):
                raise _Bad(field, f"expected true or false, {_got(v)}")
        elif key == _OP_CLASS:
            for kind, times in _object(v, field).items():
                t = _object(times, f"{field}.{kind}")
                for name in t:
                    if name not in ("measured_s", "predicted_s", "ops"):
                        raise _Bad(f"{field}.{kind}.{name}", "unknown field; known: measured_s, ops, predicted_s")
                _integer(t.get("ops", 0), f"{field}.{kind}.ops", 0, (1e9, "ops of one class in a step: ~10^2"))
                for name in ("measured_s", "predicted_s"):
                    if t.get(name) is not None:
                        _number(t[name], f"{field}.{kind}.{name}", _SECONDS)
        elif key not in _ENTRY_COUNTS:
            known = sorted((*ENTRY_NUMBERS, *_ENTRY_COUNTS, *_ENTRY_TEXTS, "gpu_bound", _OP_CLASS))
            raise _Bad(field, f"unknown field; known: {', '.join(known)}")
    return e


def _entries(doc: Mapping[str, Any], name: str) -> dict[str, Mapping[str, Any]]:
    return {key: _entry(entry, f"{name}.{key}") for key, entry in _object(doc.get(name, {}), name).items()}


#: Scalars a ``provenance.measurements`` entry may hold (the measurement file's metadata:
#: ``created_utc``, ``gpu``, ``torch``, ``sha256``, ``format_version``, ...).
_META_NUMBER = (float(2**53), "a version or count; 2^53 is the largest exact JSON integer")


def _provenance(value: Any) -> Mapping[str, Any]:
    """The ``provenance`` block (what ``simulator.gpu.calibrate`` writes): known keys, typed, bounded."""
    p = _object(value, "provenance")
    for key, v in p.items():
        field = f"provenance.{key}"
        if key in ("latest_measurement_utc", "method", "l2_resident_fraction"):
            _text(v, field, null=key == "latest_measurement_utc")
        elif key == "kernel_fixed_scale":
            _number(v, field, (1.0, "the host fit's scale of every kernel_fixed_s, searched in [0, 1]"))
        elif key == "measurements":
            if not isinstance(v, list) or len(v) > MAX_ENTRIES:
                raise _Bad(field, f"expected a list of at most {MAX_ENTRIES:,} objects, {_got(v)}")
            for i, meta in enumerate(v):
                for k, x in _object(meta, f"{field}.{i}").items():
                    if isinstance(x, (int, float)) and not isinstance(x, bool):
                        _number(x, f"{field}.{i}.{k}", _META_NUMBER)
                    elif not isinstance(x, bool):
                        _text(x, f"{field}.{i}.{k}", null=True)
        else:
            known = "kernel_fixed_scale, l2_resident_fraction, latest_measurement_utc, measurements, method"
            raise _Bad(field, f"unknown field; known: {known}")
    return p


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON (a calibration holds finite numbers only)")


def calibration_from_json(doc: Any) -> GpuCalibration:
    """Check a parsed calibration document field by field; raises ``_Bad`` naming the field."""
    d = _object(doc, "<root>")
    if d.get("format") != FORMAT_NAME:
        raise _Bad("format", f"expected {FORMAT_NAME!r}, {_got(d.get('format'))}")
    version = d.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise _Bad("version", f"expected {FORMAT_VERSION}, {_got(version)}")
    for key in ("gpu", "params", "precision"):
        if key not in d:
            raise _Bad(key, "missing")
    gpu = d["gpu"]
    if not isinstance(gpu, str) or not gpu:
        raise _Bad("gpu", f"expected a GPU name, {_got(gpu)}")
    precision = d["precision"]
    if not isinstance(precision, str) or precision not in PRECISION_BYTES:
        raise _Bad("precision", f"expected one of {', '.join(PRECISION_BYTES)}, {_got(precision)}")
    mape = {k: _number(v, f"mape.{k}", _PCT) for k, v in _object(d.get("mape", {}), "mape").items()}
    return GpuCalibration(
        gpu=gpu,
        params=_params(d["params"]),
        precision=precision,
        mape=mape,
        provenance=_provenance(d.get("provenance", {})),
        measured=_entries(d, "measured"),
        points=_entries(d, "points"),
    )


def load_calibration(path: str | Path) -> GpuCalibration:
    """Read and check a calibration file; errors are :class:`PicojouleError` naming the file and
    the field."""
    problem = input_problem(path)
    if problem is not None:
        raise PicojouleError(f"{path}: cannot read the calibration file: {problem}")
    try:
        with Path(path).open("rb") as f:
            raw = f.read(MAX_CALIBRATION_BYTES + 1)
    except OSError as exc:
        raise PicojouleError(f"{path}: cannot read the calibration file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CALIBRATION_BYTES:
        raise PicojouleError(f"{path}: larger than {MAX_CALIBRATION_BYTES:,} bytes (MAX_CALIBRATION_BYTES)")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise PicojouleError(f"{path}: not a calibration file: JSON nested too deep") from None
    except ValueError as exc:  # bad UTF-8, bad JSON, NaN/Infinity
        raise PicojouleError(f"{path}: not a readable calibration file: {exc}") from None
    try:
        return calibration_from_json(doc)
    except _Bad as exc:
        raise PicojouleError(f"{path}: {exc}") from None
