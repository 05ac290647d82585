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
describes the architectures and how Stream counts.
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


# --------------------------------------------------------------------------------------------- #
# Energy breakdown: a read-only wrapper of Stream's Energy family report, which only gives the   #
# node and transfer totals. It recomputes each term exactly as energy.py / traffic.py build      #
# them (node: cost LUT energy x active fraction; stream: bits x (port pJ/bit + link pJ/bit)).   #
# --------------------------------------------------------------------------------------------- #
_BREAKDOWN: list[dict[str, Any]] = []


def _install_energy_breakdown() -> None:
    energy_mod = importlib.import_module("stream.opt.allocation.constraint_optimization.families.energy")
    traffic = importlib.import_module("stream.opt.allocation.constraint_optimization.families.traffic")
    utils = importlib.import_module("stream.opt.allocation.constraint_optimization.utils")
    original = energy_mod.Energy.report

    def report(self: Any, ctx: Any) -> dict[str, Any]:
        out = original(self, ctx)
        space, value = ctx.space, ctx.model.value
        nodes = []
        for node in space.ssc_nodes:
            fraction = utils.active_fraction(node, space.ssis)
            for core in traffic.placed_cores(ctx, node):
                cost = space.cost_lut.get_cost(node, core)
                cme = cost.cme
                nodes.append(
                    {
                        "node": node.name,
                        "core": core.id,
                        "active_fraction": fraction,
                        "energy_pj": cost.energy_total * fraction,
                        "mac_pj": float(cme.mac_energy) * fraction if cme is not None else None,
                        "mem_pj": float(cme.mem_energy) * fraction if cme is not None else None,
                        "mem_pj_by_operand_level": {
                            str(op): [float(e) * fraction for e in levels]
                            for op, levels in sorted(cost.mem_energy_breakdown.items(), key=lambda kv: str(kv[0]))
                        },
                        "latency_cycles_per_call": cost.latency_total,
                        "ideal_cycles_per_call": cost.ideal_cycle,
                        "spatial_mapping": str(getattr(cme, "spatial_mapping", "")) if cme is not None else None,
                        "temporal_mapping": str(getattr(cme, "temporal_mapping", "")).replace("\n", " ")
                        if cme is not None
                        else None,
                    }
                )
        transfers = []
        for (tr, choice), quantity in ctx.quantities.indexed("transfer_latency").items():
            link_latency = float(space.transfer_latency_for_path(tr, choice))
            if link_latency <= 0:
                continue
            latency = utils.get_active_latency(tr, link_latency, space.ssis)
            bits_per_cycle = space.moved_bits(tr, choice) * utils.active_fraction(tr, space.ssis) / latency
            active = value(quantity.expr)
            if active <= 1e-9:
                continue  # a route the solve did not choose
            bits = bits_per_cycle * active
            sides = [
                {
                    "core_ids": list(side.port.core_ids),
                    "memory": side.port.key.memory,
                    "port": side.port.key.port,
                    "direction": side.direction,
                    "share": side.share,
                    "pj_per_bit": side.port.energy_per_bit(side.direction),
                    "energy_pj": bits * side.share * side.port.energy_per_bit(side.direction),
                }
                for side in traffic._sides(ctx, tr, choice)  # noqa: SLF001 -- mirror energy.py exactly
            ]
            links = [
                {
                    "link": str(link),
                    "cores": sorted(c.id for c in link.cores),
                    "bandwidth_bits_per_cycle": link.bandwidth,
                    "unit_energy_cost": link.unit_energy_cost,
                    "energy_pj": bits * link.unit_energy_cost / link.bandwidth,
                }
                for link in choice.links_used
            ]
            transfers.append(
                {
                    "transfer": tr.name,
                    "sources": [c.id for c in choice.sources],
                    "targets": [c.id for c in choice.targets],
                    "bits_per_iteration": bits,
                    "cycles_per_iteration": active,
                    "ports": sides,
                    "links": links,
                    "energy_pj": sum(s["energy_pj"] for s in sides) + sum(lk["energy_pj"] for lk in links),
                }
            )
        _BREAKDOWN.append({"nodes": nodes, "transfers": transfers})
        return out

    energy_mod.Energy.report = report


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


def _tensor(t: Any) -> dict[str, Any]:
    return {"name": t.name, "shape": list(t.shape), "dtype": str(getattr(t, "operand_type", ""))}


def _layers(workload: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": cn.name,
            "type": cn.type,
            "inputs": [_tensor(t) for t in cn.inputs],
            "outputs": [_tensor(t) for t in cn.outputs],
            "operand_mapping": [str(m) for m in cn.operand_mapping],
        }
        for cn in workload.get_computation_nodes()
    ]


def _group(index: int, allocation: Any, breakdown: dict[str, Any], ir: dict[str, Any], mem: Any) -> dict[str, Any]:
    sol, problem = allocation.solution, allocation.problem
    perf = sol.performance or {}
    # Slots run one after the other within an iteration, each as long as its slowest node or transfer
    # (families/latency.py); start/end below are cycles from the start of one steady-state iteration.
    slots: dict[int, list[dict[str, Any]]] = {}
    for node, slot in problem.timeslots.items():
        entry: dict[str, Any] = {"name": node.name}
        if node in sol.transfer_routes:
            plan = sol.transfer_routes[node]
            entry |= {
                "kind": "transfer",
                "sources": [c.id for c in plan.sources],
                "targets": [c.id for c in plan.targets],
                "links": [str(lk) for lk in plan.links_used],
                "route_cycles": sol.route_cycles.get(node),
            }
        elif hasattr(node, "type"):  # a ComputationNode
            alloc = allocation.mapping.get(node).resource_allocation
            entry |= {"kind": "compute", "op": node.type, "cores": sorted({c.id for g in alloc for c in g})}
        else:  # the group's inputs and outputs (InEdge, OutEdge): zero-length slots
            entry |= {"kind": type(node).__name__}
        slots.setdefault(slot, []).append(entry)
    schedule, start = [], 0.0
    for slot in sorted(sol.slot_latencies):
        length = sol.slot_latencies[slot]
        schedule.append(
            {"slot": slot, "start": start, "end": start + length, "ops": sorted(slots.get(slot, []), key=str)}
        )
        start += length
    hw_view = ir.get("mapping_nodes", {})
    return {
        "group": index,
        "layers": [cn.name for cn in problem.source_workload.get_computation_nodes()],
        "iterations": problem.iterations,
        "fusion_splits": {str(k): v for k, v in problem.fusion_splits.items()},
        "mapping_nodes": hw_view,
        "fused_groups": ir.get("fused_groups"),
        "latency_cycles": {
            "total": sol.latency.total,
            "per_iteration": sol.latency.per_iteration,
            "overlap_between_iterations": sol.latency.overlap,
            "fill": sol.latency.fill,
        },
        "solve": {
            "status": sol.solve_stats.status,
            "solver": sol.solve_stats.solver,
            "objective": sol.solve_stats.objective,
            "mip_gap": sol.solve_stats.mip_gap,
        },
        "energy_pj": perf.get("energy"),
        "energy_breakdown": breakdown,
        "per_node": perf.get("per_node"),
        "bottleneck": perf.get("bottleneck"),
        "aggregate": perf.get("aggregate"),
        "memory_ports": perf.get("memory_ports"),
        "memory_occupancy": perf.get("memory_occupancy"),
        "tensor_reuse": [
            {k: r.get(k) for k in ("tensor", "size_bits", "reuse_factor", "reuse_stop_level", "on_chip_tiles")}
            for r in perf.get("tensor_reuse", [])
        ],
        "tensor_placements": {t.name: sorted(c.id for c in cores) for t, cores in sol.tensor_placements.items()},
        "schedule": schedule,
        "memory_accesses": mem,
    }


def _summary(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Whole-network totals and the energy classes of the issue: per core compute (MAC) and memory
    (ZigZag, inside the core), on-chip ports, links, off-chip (the off-chip core's DRAM port)."""
    per_core: dict[int, dict[str, float]] = {}
    onchip = links = offchip = 0.0
    for g in groups:
        for n in g["energy_breakdown"]["nodes"]:
            c = per_core.setdefault(n["core"], {"node_pj": 0.0, "mac_pj": 0.0, "mem_pj": 0.0})
            its = g["iterations"]
            c["node_pj"] += n["energy_pj"] * its
            c["mac_pj"] += (n["mac_pj"] or 0.0) * its
            c["mem_pj"] += (n["mem_pj"] or 0.0) * its
        for t in g["energy_breakdown"]["transfers"]:
            its = g["iterations"]
            links += sum(lk["energy_pj"] for lk in t["links"]) * its
            for p in t["ports"]:
                if p["offchip"]:
                    offchip += p["energy_pj"] * its
                else:
                    onchip += p["energy_pj"] * its
    node = sum(c["node_pj"] for c in per_core.values())
    return {
        "total_latency_cycles": sum(g["latency_cycles"]["total"] for g in groups),
        "total_energy_pj": sum(g["energy_pj"]["total_pj"] for g in groups),
        "energy_classes_pj": {
            "core_nodes": node,
            "core_mac": sum(c["mac_pj"] for c in per_core.values()),
            "core_memory": sum(c["mem_pj"] for c in per_core.values()),
            "transfer_onchip_ports": onchip,
            "transfer_links": links,
            "transfer_offchip_ports": offchip,
        },
        "per_core_pj": {str(k): v for k, v in sorted(per_core.items())},
    }


def _run(name: str, hw: Path, wl: Path, mode: str, stage_options: dict[str, Any], offchip: int) -> tuple[dict, float]:
    api = importlib.import_module("stream.api")
    options = api.SolveOptions(
        backend="ortools_gscip",
        time_limit_s=TIME_LIMIT_S,
        artifacts=False,
        stage_options={"fusion_cut_points": "per-layer"} if mode == "layer_by_layer" else stage_options,
    )
    _BREAKDOWN.clear()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        estimate = api.evaluate_mapping(str(hw), str(wl), tmp, options=options)
    wall = time.perf_counter() - t0
    ctx = estimate.context
    irs, mems = ctx.get("group_allocations"), ctx.get("group_memory_accesses")
    allocations, _ALLOCATIONS[:] = list(_ALLOCATIONS), []
    assert len(allocations) == len(_BREAKDOWN) == len(estimate.group_cycles), name
    groups = []
    for i, (allocation, breakdown) in enumerate(zip(allocations, list(_BREAKDOWN), strict=True)):
        for t in breakdown["transfers"]:
            for p in t["ports"]:
                p["offchip"] = offchip in p["core_ids"]
        groups.append(_group(i, allocation, breakdown, irs[i] or {}, mems.get(i)))
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
        **_summary(groups),
        "groups": groups,
    }
    return _clean(record), wall


_ALLOCATIONS: list[Any] = []


def _install_allocation_capture() -> None:
    """Keep each group's Allocation (the context keeps only the last one, the others as IR dicts)."""
    mod = importlib.import_module("stream.stages.allocation.steady_state_allocation")
    original = mod.AllocationStage.run

    def run(self: Any):
        for ctx in original(self):
            _ALLOCATIONS.append(ctx.data["allocation"])
            yield ctx

    mod.AllocationStage.run = run


def main() -> int:
    stream = importlib.import_module("stream")  # only installed in the peer venv
    importlib.import_module("stream.api")  # imported before any run is timed
    logging.disable(logging.WARNING)
    _install_energy_breakdown()
    _install_allocation_capture()
    pkg = Path(str(stream.__file__)).resolve().parent
    inputs = OUT / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    _copy_hardware(pkg, inputs)
    workloads = _make_workloads(inputs)
    parse = importlib.import_module("stream.stages.parsing.accelerator_parser").parse_accelerator
    frontends = importlib.import_module("stream.frontends")
    (inputs / "workloads.json").write_text(
        json.dumps({k: _layers(frontends.load_workload(str(p))) for k, p in workloads.items()}, indent=1) + "\n",
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
