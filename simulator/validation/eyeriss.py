"""Eyeriss (Chen, Krishna, Emer, Sze, IEEE JSSC 52(1), 2017), Table V per layer, beside ours.

AlexNet CONV1–5 at batch 4 (``scenarios/validation/alexnet-conv-b4.layers.yaml``) on the design
written from the paper's parameters (``scenarios/validation/eyeriss.yaml``), per layer: total
and processing latency, DRAM and GLB accesses, chip energy (power × total latency, DRAM
excluded as measured). Ours: latency with memory; processing latency as array time plus on-chip
buffer stalls (``compute_cycles`` + the ``sram`` stall: nothing that waits for DRAM); DRAM and GLB
bytes; energy without DRAM. Three of ours: the one-level model (``one_level``), the loop-nest
engine with row-stationary (``nest``), and the same with DRAM holding the fmaps in the chip's
run-length code (``nest_rlc``: ``scenarios/validation/eyeriss-rlc.yaml``'s
``memory.dram.compression``, :mod:`simulator.cost.nest.compression`). All three go through
:func:`simulator.evaluate` from a spec and the layer list alone: the list carries the published
per-layer "zeros in ifmaps" (``act_zero_frac``: the spec gates zero MACs) and the zeros of each
layer's ofmaps (``out_zero_frac``: what the code sees).
"""

from __future__ import annotations

from typing import Any

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec, load_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.evaluation import evaluate
from simulator.validation.common import NEST_DATAFLOW, Row, peer_path, read_json, spec_path, standalone, with_nest

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
    """AlexNet CONV1–5 at batch 4 (``alexnet-conv-b4.layers.yaml``), whose layers carry Table V's
    measured "zeros in ifmaps" as ``act_zero_frac`` (the paper's measurements, used as given: the
    spec's zero gating sees them) and the next layer's as ``out_zero_frac`` (what coded DRAM
    receives; the file says which are exact); checked here against ``published.json``."""
    workload = load_layers_yaml(spec_path("alexnet-conv-b4.layers.yaml"))
    zeros = {rec["layer"]: rec["ifmap_zeros_pct"] / 100.0 for rec in pub["per_layer"]}
    names = [op.name for op in workload.ops]
    missing = sorted(set(names) - set(zeros))
    if missing:
        raise SimulationError(f"eyeriss: published.json has no Table V row for {', '.join(missing)}")
    given = workload.stats.get("act_zero_frac", ((None,) * len(names),))[0]
    for name, z in zip(names, given, strict=True):
        if z is None or abs(z - zeros[name]) > 1e-12:
            raise SimulationError(
                f"eyeriss: alexnet-conv-b4.layers.yaml gives {name} act_zero_frac {z}, Table V "
                f"(published.json) {zeros[name]:g}"
            )
    return workload


def rlc_spec(nest: ArchSpec) -> ArchSpec:
    """``eyeriss-rlc.yaml``: ``nest`` (eyeriss.yaml on the loop-nest engine, row-stationary) with
    DRAM holding the fmaps in the chip's run-length code; refused if it differs from ``nest`` in
    anything else, so the two files cannot drift apart."""
    rlc = load_arch(spec_path("eyeriss-rlc.yaml"))
    data = rlc.model_dump(exclude={"name", "description"})
    data["memory"]["dram"]["compression"] = None
    if data != nest.model_dump(exclude={"name", "description"}):
        raise SimulationError(
            "eyeriss: eyeriss-rlc.yaml must be eyeriss.yaml with mapping.memory_model nest, dataflow "
            "row_stationary and memory.dram.compression, nothing else"
        )
    return rlc


def eyeriss_rows() -> list[Row]:
    """Table V of the JSSC 2017 paper (AlexNet CONV1–5, batch 4) beside ours, per layer and
    metric: the one-level model, the nest engine (row-stationary) and the nest engine with the
    chip's run-length coded fmaps in DRAM (model ``nest_rlc``). Published chip energy = power ×
    total latency."""
    pub = read_json(peer_path("eyeriss/published.json"))
    workload = standalone(eyeriss_workload(pub))
    base = load_arch(spec_path("eyeriss.yaml"))
    nest = with_nest(base, NEST_DATAFLOW.get(base.name))
    ours: dict[str, dict[str, dict[str, float]]] = {}
    designs = {"one_level": base, "nest": nest, "nest_rlc": rlc_spec(nest)}
    for model, arch in designs.items():
        clock_hz = arch.clock_ghz * 1e9
        ours[model] = {op.name: _eyeriss_ours(op, clock_hz) for op in evaluate(workload, arch).per_op}
    design = {model: arch.name for model, arch in designs.items()}
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
