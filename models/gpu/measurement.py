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
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from accelerator.errors import PicojouleError

FORMAT_NAME = "picojoule.gpu_measurement"
FORMAT_VERSION = 1


class MeasurementError(PicojouleError):
    """A measurement cannot be taken or read (no CUDA device, bad dtype, corrupt file)."""


def write_measurement(doc: dict[str, Any], path: str | Path) -> Path:
    """Write ``doc`` as JSON (gzipped when ``path`` ends in ``.gz``); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")
    p.write_bytes(gzip.compress(text, mtime=0) if p.suffix == ".gz" else text)
    return p


def load_measurement(path: str | Path) -> dict[str, Any]:
    """Read and check a measurement file; errors are :class:`MeasurementError`."""
    try:
        raw = Path(path).read_bytes()
        doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except FileNotFoundError:
        raise MeasurementError(f"{path}: no such measurement file") from None
    except (OSError, EOFError, ValueError) as exc:
        raise MeasurementError(f"{path}: not a readable measurement file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise MeasurementError(f"{path}: format is not {FORMAT_NAME!r}")
    if doc.get("version") != FORMAT_VERSION:
        raise MeasurementError(f"{path}: version {doc.get('version')!r}; this picojoule reads {FORMAT_VERSION}")
    for key in ("model", "device", "settings", "latency", "energy", "per_op"):
        if key not in doc:
            raise MeasurementError(f"{path}: missing field {key!r}")
    return doc
