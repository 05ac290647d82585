"""Measurement files are checked on load: every malformed field is an error naming the file,
the field (dotted, with list indices), the bad value and what is allowed. Needs no torch."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.gpu.measurement import FORMAT_NAME, FORMAT_VERSION, MeasurementError, load_measurement, write_measurement


def _doc() -> dict[str, Any]:
    """A well-formed measurement of a two-op workload (what the harness writes, trimmed)."""
    ops = [
        {"name": "aten.mm.default", "kind": "gemm", "dtype": "bfloat16", "macs": 8, "flops": 16},
        {"name": "aten.add.Tensor", "kind": "elementwise", "dtype": "bfloat16", "flops": 4},
    ]
    return {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "model": "m", "created_utc": "2026-01-01T00:00:00+00:00",
        "device": {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "driver": "x", "torch": "x", "cuda": "x"},
        "settings": {"batch": 1, "steps": 10, "dtype": "bf16", "mode": "eager"},
        "latency": {"s_per_step": 0.01, "s_per_image": 0.1, "host_s_per_step": 0.002},
        "energy": {"available": True, "idle_w": 120.0, "span_s": 2.0, "images": 20, "j_per_image": 30.0},
        "per_op": [{"i": 0, "time_s": 0.004}, {"i": 1, "time_s": 0.0}],
        "workload": {"format": "picojoule.workload", "version": 1, "steps": 1, "ops": ops},
        "notes": [],
    }  # fmt: skip


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = doc
        for step in head:
            node = node[int(step)] if isinstance(node, list) else node[step]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = doc
        for step in head:
            node = node[step]
        del node[last]

    return edit


NAN, INF = float("nan"), float("inf")

#: name -> (edit, the error's text after "FILE: ")
BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "null energy": (_set("energy", None), "energy: expected an object, got null"),
    "null j_per_image": (_set("energy.j_per_image", None), "energy.j_per_image: required field is missing"),
    "NaN energy": (_set("energy.j_per_image", NAN), "energy.j_per_image: expected a finite number > 0, got NaN"),
    "string idle": (_set("energy.idle_w", "120 W"), 'energy.idle_w: expected a finite number >= 0, got "120 W"'),
    "available as text": (_set("energy.available", "yes"), 'energy.available: expected true or false, got "yes"'),
    "zero images": (_set("energy.images", 0), "energy.images: expected an integer >= 1, got 0"),
    "NaN latency": (_set("latency.s_per_step", NAN), "latency.s_per_step: expected a finite number > 0, got NaN"),
    "negative latency": (
        _set("latency.s_per_step", -0.01),
        "latency.s_per_step: expected a finite number > 0, got -0.01",
    ),
    "inf host time": (
        _set("latency.host_s_per_step", INF),
        "latency.host_s_per_step: expected a finite number >= 0, got Infinity",
    ),
    "missing latency": (_drop("latency"), "latency: required field is missing (an object)"),
    "missing s_per_step": (
        _drop("latency.s_per_step"),
        "latency.s_per_step: required field is missing (a finite number > 0)",
    ),
    "batch as text": (_set("settings.batch", "1"), 'settings.batch: expected an integer >= 1, got "1"'),
    "batch as bool": (_set("settings.batch", True), "settings.batch: expected an integer >= 1, got true"),
    "steps float": (_set("settings.steps", 2.5), "settings.steps: expected an integer >= 1, got 2.5"),
    "unknown dtype": (
        _set("settings.dtype", "int3"),
        'settings.dtype: expected one of bf16, fp16, fp32, fp8, got "int3"',
    ),
    "unknown mode": (_set("settings.mode", "turbo"), 'settings.mode: expected one of eager, graph, got "turbo"'),
    "device kind": (_set("device.kind", "tpu"), 'device.kind: expected one of cuda, cpu, got "tpu"'),
    "device name": (
        _set("device.name", 5),
        "device.name: expected a string of at most 1000 characters, or null, got 5",
    ),
    "no model": (_set("model", ""), 'model: expected a non-empty string of at most 1000 characters, got ""'),
    "notes a number": (_set("notes", 10**30), "notes: expected a list of strings of at most 1000 characters"),
    "created_utc a list": (_set("created_utc", [1]), "created_utc: expected a non-empty string"),
    "step 5e-324 s": (_set("latency.s_per_step", 5e-324), "latency.s_per_step: expected a number in [1e-07, 3600]"),
    "batch 2^63": (_set("settings.batch", 2**63), "settings.batch: expected an integer at most 65,536"),
    "images 2^63": (_set("energy.images", 2**63), "energy.images: expected an integer at most 1,000,000,000"),
    "idle 1 MW": (_set("energy.idle_w", 1e6), "energy.idle_w: expected a number in [0, 2000]"),
    "clock 2^63": (
        _set("device.sm_clock_max_mhz", 2**63),
        "device.sm_clock_max_mhz: expected a finite number in [0, 2^53]",
    ),
    "per_op not a list": (
        _set("per_op", {"0": 1}),
        'per_op: expected a list of {"i": op index, "time_s": seconds}, got {"0": 1}',
    ),
    "per_op garbage entry": (
        _set("per_op.1", "fast"),
        'per_op[1]: expected {"i": op index, "time_s": seconds}, got "fast"',
    ),
    "per_op NaN time": (_set("per_op.0.time_s", NAN), "per_op[0].time_s: expected a finite number >= 0, got NaN"),
    "per_op negative time": (
        _set("per_op.1.time_s", -1e-6),
        "per_op[1].time_s: expected a finite number >= 0, got -1e-06",
    ),
    "per_op time as text": (
        _set("per_op.0.time_s", "4ms"),
        'per_op[0].time_s: expected a finite number >= 0, got "4ms"',
    ),
    "per_op index text": (_set("per_op.0.i", "0"), 'per_op[0].i: expected an integer >= 0, got "0"'),
    "per_op index too big": (
        _set("per_op.1.i", 2),
        "per_op[1].i: expected an index into the workload's 2 ops (0..1), got 2",
    ),
    "per_op index twice": (_set("per_op.1.i", 0), "per_op[1].i: expected each op index once, got 0"),
    "per_op missing": (_drop("per_op"), "per_op: required field is missing"),
    "workload not an object": (
        _set("workload", [1, 2]),
        "workload: expected a picojoule.workload object or null, got [1, 2]",
    ),
    "empty object": (lambda d: d.clear(), "format is not 'picojoule.gpu_measurement'"),
    "other version": (_set("version", 2), "version 2; this picojoule reads 1"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_fields_are_located(tmp_path: Path, name: str) -> None:
    edit, message = BAD[name]
    doc = copy.deepcopy(_doc())
    edit(doc)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc), encoding="utf-8")  # json writes NaN/Infinity as the harness never would
    with pytest.raises(MeasurementError) as info:
        load_measurement(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_the_well_formed_document_loads_gzipped_or_not(tmp_path: Path) -> None:
    for name in ("m.json", "m.json.gz"):
        assert load_measurement(write_measurement(_doc(), tmp_path / name)) == _doc()
    doc = _doc()
    doc["energy"] = {"available": False, "reason": "CPU: no energy counter"}  # nothing else needed
    doc["workload"] = None
    doc["per_op"] = []
    doc["latency"].pop("host_s_per_step")
    assert load_measurement(write_measurement(doc, tmp_path / "cpu.json"))["energy"]["available"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable measurement file"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable measurement file"),
        (gzip.compress(b"{"), "not a readable measurement file"),
        (b"[1, 2]", "(top): expected a picojoule.gpu_measurement JSON object, got [1, 2]"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.json.gz"
    path.write_bytes(content)
    with pytest.raises(MeasurementError, match="^" + str(path).replace(".", r"\.") + ": ") as info:
        load_measurement(path)
    assert message in str(info.value)


def test_a_folder_is_not_a_measurement(tmp_path: Path) -> None:
    with pytest.raises(MeasurementError, match="is a folder, not a measurement file"):
        load_measurement(tmp_path)
