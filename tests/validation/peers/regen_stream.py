"""Regenerate Stream's results committed under ``scenarios/validation/peers/stream/``.

Stream (KU Leuven's multi-core, layer-fused DSE, PyPI ``stream-dse``) needs Python >= 3.12, so it
runs in its own venv (``six`` is an undeclared import of its ZigZag dependency)::

    ~/.pyenv/versions/3.12.1/bin/python -m venv /work/venv-stream
    /work/venv-stream/bin/pip install stream-dse==2.1.1 six
    /work/venv-stream/bin/python tests/validation/peers/regen_stream.py

Each entry of :data:`RUNS` prices one of Stream's bundled example workloads on one of its bundled
example architectures through its public API (``stream.api.evaluate_mapping``: the generic mapping
generator proposes core allocation, inter-core split and fusion groups; per-core costs come from
ZigZag; a MILP solved by OR-Tools GSCIP, licence-free, decides tensor placement, transfer routes and
the steady-state schedule). Fusion is set three ways through ``SolveOptions.stage_options``:
``layer_by_layer`` (``fusion_cut_points: per-layer``, one group per layer), ``fused`` (the generator's
own choice: every layer in one group, tiled as it derives) and ``fused_fine`` (one group with an
explicit ``intra_core_tiling``, so several steady-state iterations pipeline). No search runs beyond
the MILP (``tile_search`` off, the default); each solve is capped at :data:`TIME_LIMIT_S` and its
status recorded.

Writes ``<run>.json`` per run (latency in cycles, energy in pJ split into per-core node energy, with
ZigZag's MAC/memory split, and per-transfer energy at each memory port and link, the per-slot
schedule, placements, off-chip accesses), ``inputs/`` (the architecture YAMLs and ONNX workloads as
run, plus ``workloads.json``, each layer's tensors and affine maps) and ``metadata.json`` (versions,
date, command, machine, wall time per run). ``scenarios/validation/peers/stream/architectures.md``
describes the architectures and how Stream counts. What is read from Stream's objects beyond its
API's totals (the energy terms, each group's allocation and schedule) is in ``stream_results.py``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# beside this script, so on sys.path when it runs as one
from stream_results import (
    ALLOCATIONS,
    BREAKDOWN,
    group_record,
    install_allocation_capture,
    install_energy_breakdown,
    layers,
    summary,
)

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "scenarios" / "validation" / "peers" / "stream"
TIME_LIMIT_S = 120.0
DIGITS = 6  # significant digits kept for floats, so reruns compare byte for byte

CONV = {  # Stream's own test matrix fixture (tests/test_hardware_combinations.py, _SMALL_2CONV_CONFIG)
    "batch_size": 1,
    "in_channels": 8,
    "height": 32,
    "width": 32,
    "out_channels_1": 16,
    "out_channels_2": 32,
    "kernel_size": 3,
    "in_dtype": "bf16",
    "weight_dtype": "bf16",
}
SWIGLU = {"seq_len": 64, "embedding_dim": 256, "hidden_dim": 512}  # make_swiglu.py, scaled up from 1x16x32

WORKLOADS = {"2conv": "2conv_1_8_32_32_16_32_3.onnx", "swiglu": "swiglu_64_256_512.onnx"}
HARDWARE = {
    "eyeriss_like_single_core": ("eyeriss_like.yaml", "pooling.yaml", "simd.yaml", "offchip.yaml"),
    "tpu_like_quad_core": ("tpu_like.yaml", "pooling.yaml", "simd.yaml", "offchip.yaml"),
    "fusemax": ("fusemax_array.yaml", "fusemax_vec.yaml", "fusemax_dram.yaml"),
}
# (run name, hardware, workload, fusion mode, stage options)
RUNS: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("eyeriss1__2conv__fused", "eyeriss_like_single_core", "2conv", "fused", {}),
    ("eyeriss1__2conv__layer_by_layer", "eyeriss_like_single_core", "2conv", "layer_by_layer", {}),
    ("tpu4__2conv__fused", "tpu_like_quad_core", "2conv", "fused", {}),
    (
        "tpu4__2conv__fused_fine",
        "tpu_like_quad_core",
        "2conv",
        "fused_fine",
        {"intra_core_tiling": [{"dim": "Conv1.D2", "tile": 2}]},
    ),
    ("tpu4__2conv__layer_by_layer", "tpu_like_quad_core", "2conv", "layer_by_layer", {}),
    ("fusemax__swiglu__fused", "fusemax", "swiglu", "fused", {}),
    (
        "fusemax__swiglu__fused_fine",
        "fusemax",
        "swiglu",
        "fused_fine",
        {"intra_core_tiling": [{"dim": "Gemm_Left.D0", "tile": 16}]},
    ),
    ("fusemax__swiglu__layer_by_layer", "fusemax", "swiglu", "layer_by_layer", {}),
    ("tpu4__swiglu__fused", "tpu_like_quad_core", "swiglu", "fused", {}),
    ("tpu4__swiglu__layer_by_layer", "tpu_like_quad_core", "swiglu", "layer_by_layer", {}),
)
DEPENDENCIES = ("stream-dse", "zigzag-dse", "ortools", "xdsl", "onnx", "numpy", "pydantic", "networkx")


def _num(x: Any) -> Any:
    """A float to :data:`DIGITS` significant digits (an int when whole); anything else as is."""
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, int):
        return x
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    r = float(f"{f:.{DIGITS}g}")
    return int(r) if r.is_integer() and abs(r) < 2**53 else r


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, str):
        return obj
    return _num(obj)


def _make_workloads(inputs: Path) -> dict[str, Path]:
    conv = importlib.import_module("stream.inputs.testing.workload.make_2_conv")
    swiglu = importlib.import_module("stream.inputs.testing.workload.make_swiglu")
    path = Path(conv.make_2_conv_workload(conv.TwoConvWorkloadConfig(**CONV)))  # written beside the builder
    shutil.copyfile(path, inputs / WORKLOADS["2conv"])
    made = Path(swiglu.make_small_swiglu_workload(**SWIGLU, output_dir=str(inputs)))
    assert made.name == WORKLOADS["swiglu"], made
    return {k: inputs / v for k, v in WORKLOADS.items()}


def _copy_hardware(pkg: Path, inputs: Path) -> None:
    src = pkg / "inputs" / "examples" / "hardware"
    (inputs / "cores").mkdir(parents=True, exist_ok=True)
    for system, cores in HARDWARE.items():
        shutil.copyfile(src / f"{system}.yaml", inputs / f"{system}.yaml")
        for core in cores:
            shutil.copyfile(src / "cores" / core, inputs / "cores" / core)


def _run(name: str, hw: Path, wl: Path, mode: str, stage_options: dict[str, Any], offchip: int) -> tuple[dict, float]:
    api = importlib.import_module("stream.api")
    options = api.SolveOptions(
        backend="ortools_gscip",
        time_limit_s=TIME_LIMIT_S,
        artifacts=False,
        stage_options={"fusion_cut_points": "per-layer"} if mode == "layer_by_layer" else stage_options,
    )
    BREAKDOWN.clear()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        estimate = api.evaluate_mapping(str(hw), str(wl), tmp, options=options)
    wall = time.perf_counter() - t0
    ctx = estimate.context
    irs, mems = ctx.get("group_allocations"), ctx.get("group_memory_accesses")
    allocations, ALLOCATIONS[:] = list(ALLOCATIONS), []
    assert len(allocations) == len(BREAKDOWN) == len(estimate.group_cycles), name
    groups = []
    for i, (allocation, breakdown) in enumerate(zip(allocations, list(BREAKDOWN), strict=True)):
        for t in breakdown["transfers"]:
            for p in t["ports"]:
                p["offchip"] = offchip in p["core_ids"]
        groups.append(group_record(i, allocation, breakdown, irs[i] or {}, mems.get(i)))
        check = sum(n["energy_pj"] for n in breakdown["nodes"]) + sum(t["energy_pj"] for t in breakdown["transfers"])
        reported = groups[-1]["energy_pj"]["per_iteration_pj"]
        assert abs(check - reported) <= 1e-6 * max(1.0, abs(reported)), (name, i, check, reported)
    record = {
        "run": name,
        "hardware": f"inputs/{hw.name}",
        "workload": f"inputs/{wl.name}",
        "fusion": mode,
        "stage_options": stage_options if mode != "layer_by_layer" else {"fusion_cut_points": "per-layer"},
        "estimate_cycles": estimate.cycles,
        "dispatch_cycles": estimate.dispatch_cycles,
        **summary(groups),
        "groups": groups,
    }
    return _clean(record), wall


def main() -> int:
    stream = importlib.import_module("stream")  # only installed in the peer venv
    importlib.import_module("stream.api")  # imported before any run is timed
    logging.disable(logging.WARNING)
    install_energy_breakdown()
    install_allocation_capture()
    pkg = Path(str(stream.__file__)).resolve().parent
    inputs = OUT / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    _copy_hardware(pkg, inputs)
    workloads = _make_workloads(inputs)
    parse = importlib.import_module("stream.stages.parsing.accelerator_parser").parse_accelerator
    frontends = importlib.import_module("stream.frontends")
    (inputs / "workloads.json").write_text(
        json.dumps({k: layers(frontends.load_workload(str(p))) for k, p in workloads.items()}, indent=1) + "\n",
        encoding="utf-8",
    )
    walls: dict[str, float] = {}
    for name, hw_name, wl_name, mode, stage_options in RUNS:
        hw = inputs / f"{hw_name}.yaml"
        offchip = parse(str(hw)).offchip_core_id
        record, wall = _run(name, hw, workloads[wl_name], mode, stage_options, offchip)
        walls[name] = round(wall, 2)
        (OUT / f"{name}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(
            f"{name}: {record['total_latency_cycles']} cycles, {record['total_energy_pj']} pJ, {wall:.1f} s",
            file=sys.stderr,
        )
    meta = {
        "peer": "Stream",
        "package": "stream-dse",
        "version": metadata.version("stream-dse"),
        "dependencies": {d: metadata.version(d) for d in DEPENDENCIES},
        "licence": "MIT (stream-dse 2.1.1 package metadata, LICENSE: Copyright (c) 2023 MICAS (KU Leuven))",
        "date": dt.date.today().isoformat(),
        "install": "~/.pyenv/versions/3.12.1/bin/python -m venv /work/venv-stream && "
        "/work/venv-stream/bin/pip install stream-dse==2.1.1 six",
        "command": "/work/venv-stream/bin/python tests/validation/peers/regen_stream.py",
        "wall_s_note": "per run: evaluate_mapping end to end (mapping generation, ZigZag per-core costs, MILP), "
        "on a 2-core VM shared with other jobs",
        "python": platform.python_version(),
        "machine": {"uname": " ".join(platform.uname()), "cpus": os.cpu_count()},
        "solver": {"backend": "ortools_gscip", "time_limit_s": TIME_LIMIT_S, "tile_search": False},
        "workload_builders": {
            "2conv": {"builder": "stream/inputs/testing/workload/make_2_conv.py", "config": CONV},
            "swiglu": {"builder": "stream/inputs/testing/workload/make_swiglu.py", "config": SWIGLU},
        },
        "runs": [
            {"run": n, "hardware": h, "workload": w, "fusion": m, "stage_options": s, "wall_s": walls[n]}
            for n, h, w, m, s in RUNS
        ],
        "wall_s_total": round(sum(walls.values()), 2),
    }
    (OUT / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
