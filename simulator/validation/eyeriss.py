"""Eyeriss (Chen, Krishna, Emer, Sze, IEEE JSSC 52(1), 2017), Table V per layer, beside ours.

AlexNet CONV1–5 at batch 4 (``scenarios/validation/alexnet-conv-b4.layers.yaml``) on the design
written from the paper's parameters (``scenarios/validation/eyeriss.yaml``), per layer: total
and processing latency, DRAM and GLB accesses, chip energy (power × total latency, DRAM
excluded as measured). Ours: latency with memory; processing latency as array time plus on-chip
buffer stalls (``compute_cycles`` + the ``sram`` stall: nothing that waits for DRAM); DRAM and GLB
bytes; energy without DRAM. Three of ours: the one-level model (``one_level``), the loop-nest
engine with row-stationary (``nest``), and the same with DRAM holding the fmaps in the chip's
run-length code (``nest_rlc``, :mod:`simulator.cost.nest.compression`). The published
per-layer "zeros in ifmaps" are the workload's ``act_zero_frac`` (the spec gates zero MACs).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec, load_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost import nest_costs
from simulator.cost.nest.compression import EYERISS_RLC
from simulator.evaluation import evaluate
from simulator.optable import prepare
from simulator.validation.common import NEST_DATAFLOW, Row, peer_path, read_json, spec_path, with_nest

#: Eyeriss's Table V metrics (published.json's per-layer keys) in the order the rows list them.
EYERISS_METRICS = ("latency_ms", "processing_latency_ms", "dram_mb", "glb_mb", "chip_energy_mj")


def _eyeriss_ours(op: Any, clock_hz: float) -> dict[str, float]:
    """One op's numbers in Table V's units (see the module docstring for what each is)."""
    processing = op.compute_cycles + op.stall_cycles.get("sram", 0.0)
    chip_j = op.energy_j - op.energy_breakdown_j.get("dram", 0.0)
    return {
        "latency_ms": op.latency_s * 1e3,
        "processing_latency_ms": processing / clock_hz * 1e3,
        "dram_mb": op.traffic_bytes.get("dram", 0.0) / 1e6,
        "glb_mb": op.traffic_bytes.get("glb", 0.0) / 1e6,
        "chip_energy_mj": chip_j * 1e3,
    }


def eyeriss_workload(pub: dict[str, Any]) -> Workload:
    """AlexNet CONV1–5 at batch 4 (``alexnet-conv-b4.layers.yaml``) with Table V's measured
    "zeros in ifmaps" as each op's ``act_zero_frac`` (a layer list carries no statistics; these
    are the paper's measurements, used as given), so the spec's zero gating sees them."""
    workload = load_layers_yaml(spec_path("alexnet-conv-b4.layers.yaml"))
    zeros = {rec["layer"]: rec["ifmap_zeros_pct"] / 100.0 for rec in pub["per_layer"]}
    missing = sorted({op.name for op in workload.ops} - set(zeros))
    if missing:
        raise SimulationError(f"eyeriss: published.json has no Table V row for {', '.join(missing)}")
    return replace(workload, stats={"act_zero_frac": (tuple(zeros[op.name] for op in workload.ops),)})


def eyeriss_out_zero_fracs(pub: dict[str, Any]) -> list[float]:
    """Zeros in each layer's ofmaps as DRAM receives them: Table V's next layer's "zeros in ifmaps"
    (exact for CONV3 and CONV4, whose outputs feed CONV4 and CONV5 directly; for CONV1 and CONV2,
    whose outputs are max-pooled first, a lower bound: a pooled zero needs a whole window of
    zeros), none for CONV5 (not published: coded as if it had no zeros)."""
    zeros = [rec["ifmap_zeros_pct"] / 100.0 for rec in pub["per_layer"]]
    return [*zeros[1:], 0.0]


def _eyeriss_rlc(workload: Workload, arch: ArchSpec, pub: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per layer, our numbers on the nest engine with DRAM holding the fmaps in Eyeriss's
    run-length code (``simulator.cost.nest.compression``; the spec has no field for it yet, so this
    calls the engine's adapter directly: the same columns ``evaluate`` reads)."""
    table = prepare(workload)
    costs = nest_costs.evaluate_table(
        table, arch, dram_code=EYERISS_RLC, out_zero_frac=eyeriss_out_zero_fracs(pub)
    ).costs
    out: dict[str, dict[str, float]] = {}
    for i, op in enumerate(workload.ops):
        chip_pj = sum(float(v[0, i]) for k, v in costs.energy_pj.items() if k != "dram")
        out[op.name] = {
            "latency_ms": float(costs.latency_s[0, i]) * 1e3,
            "processing_latency_ms": float(costs.compute_cycles[0, i] + costs.stalls["sram"][0, i])
            / costs.hw.clock_hz
            * 1e3,
            "dram_mb": float(costs.traffic_bytes["dram"][0, i]) / 1e6,
            "glb_mb": float(costs.traffic_bytes.get("glb", np.zeros((1, i + 1)))[0, i]) / 1e6,
            "chip_energy_mj": chip_pj * 1e-9,
        }
    return out


def eyeriss_rows() -> list[Row]:
    """Table V of the JSSC 2017 paper (AlexNet CONV1–5, batch 4) beside ours, per layer and
    metric: the one-level model, the nest engine (row-stationary) and the nest engine with the
    chip's run-length coded fmaps in DRAM (model ``nest_rlc``). Published chip energy = power ×
    total latency."""
    pub = read_json(peer_path("eyeriss/published.json"))
    workload = eyeriss_workload(pub)
    base = load_arch(spec_path("eyeriss.yaml"))
    nest = with_nest(base, NEST_DATAFLOW.get(base.name))
    ours: dict[str, dict[str, dict[str, float]]] = {}
    for model, arch in (("one_level", base), ("nest", nest)):
        clock_hz = arch.clock_ghz * 1e9
        ours[model] = {op.name: _eyeriss_ours(op, clock_hz) for op in evaluate(workload, arch).per_op}
    ours["nest_rlc"] = _eyeriss_rlc(workload, nest, pub)
    design = {"one_level": base.name, "nest": nest.name, "nest_rlc": f"{nest.name}-rlc"}
    rows: list[Row] = []
    for model, per_op in ours.items():
        for rec in pub["per_layer"]:
            theirs = {**rec, "chip_energy_mj": rec["power_mw"] * rec["latency_ms"] * 1e-3}
            mine = per_op[rec["layer"]]
            rows += [
                Row("eyeriss", design[model], rec["layer"], m, mine[m], float(theirs[m]), model)
                for m in EYERISS_METRICS
            ]
    return rows
