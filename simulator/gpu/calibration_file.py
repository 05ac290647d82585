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
from simulator.gpu.model import GpuCalibration, GpuModelParams

FORMAT_NAME = "picojoule.gpu_calibration"
FORMAT_VERSION = 1

#: Largest calibration file read (bytes); the committed H100 one is 31 KB.
MAX_CALIBRATION_BYTES = 16 << 20

#: Parameters that divide a time (an efficiency): zero would be a division by zero.
_POSITIVE_PARAMS = ("eff_max", "mem_eff", "vector_efficiency")
#: Numbers of a ``measured``/``points`` entry that reports read; counts are integers >= 1.
_ENTRY_NUMBERS = ("energy_j_per_image", "latency_s_per_step", "energy_image_spread_pct", "idle_w")
_ENTRY_COUNTS = ("batch", "steps", "runs")


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def _got(value: Any) -> str:
    return f"got {json.dumps(value)[:60]}" if not isinstance(value, str) else f"got {value[:60]!r}"


def _number(value: Any, field: str, *, positive: bool = False) -> float:
    """A finite number, >= 0 (> 0 when ``positive``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        kind = "a positive" if positive else "a non-negative"
        raise _Bad(field, f"expected {kind} finite number, {_got(value)}")
    return float(value)


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(field, f"expected a JSON object, {_got(value)}")
    return value


def _params(value: Any) -> GpuModelParams:
    d = _object(value, "params")
    fields = GpuModelParams.__dataclass_fields__
    for key in d:
        if key not in fields:
            raise _Bad(f"params.{key}", f"unknown parameter; known: {', '.join(sorted(fields))}")
    kw: dict[str, Any] = {}
    for key, v in d.items():
        positive = key in _POSITIVE_PARAMS
        if isinstance(fields[key].default, float):
            kw[key] = _number(v, f"params.{key}", positive=positive)
        else:  # a per-kind map
            table = _object(v, f"params.{key}")
            kw[key] = {k: _number(x, f"params.{key}.{k}", positive=positive) for k, x in table.items()}
    if kw.get("l2_resident_fraction", 0.0) > 1:
        raise _Bad("params.l2_resident_fraction", f"expected a fraction in [0, 1], {_got(kw['l2_resident_fraction'])}")
    return GpuModelParams(**kw)


def _entries(doc: Mapping[str, Any], name: str) -> dict[str, Mapping[str, Any]]:
    out = {}
    for key, entry in _object(doc.get(name, {}), name).items():
        e = _object(entry, f"{name}.{key}")
        for n in _ENTRY_NUMBERS:
            if e.get(n) is not None:
                _number(e[n], f"{name}.{key}.{n}")
        for n in _ENTRY_COUNTS:
            v = e.get(n, 1)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise _Bad(f"{name}.{key}.{n}", f"expected a positive integer, {_got(v)}")
        out[key] = e
    return out


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
    mape = {k: _number(v, f"mape.{k}") for k, v in _object(d.get("mape", {}), "mape").items()}
    return GpuCalibration(
        gpu=gpu,
        params=_params(d["params"]),
        precision=precision,
        mape=mape,
        provenance=_object(d.get("provenance", {}), "provenance"),
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
