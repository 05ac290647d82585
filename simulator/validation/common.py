"""What every comparison of ``simulator.validation`` shares: the row records and the issue's
goals (issue 13, item 7), reading the committed inputs (``scenarios/validation/``, wheel or
checkout, :func:`accelerator.files.packaged_scenario`), and the variants of a spec the
comparisons evaluate (another dataflow, the loop-nest engine, ideal memory)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accelerator.errors import SimulationError
from accelerator.files import packaged_scenario
from accelerator.spec import ArchSpec
from models.workload import Workload
from simulator.result import DesignResult

#: Where the specs and the peers' committed outputs live, relative to ``scenarios/``.
SCENARIOS = "validation"
PEERS = "validation/peers"
DATAFLOWS = {"ws": "weight_stationary", "os": "output_stationary", "is": "input_stationary"}
#: The issue's goals (issue 13, item 7): relative error allowed per peer and metric. Eyeriss's
#: processing latency and GLB accesses are compared but have no goal in the issue (``None``).
GOALS: dict[tuple[str, str], float | None] = {
    ("scalesim", "compute_cycles"): 0.02,
    ("scalesim", "compute_cycles_ideal"): 0.02,
    ("zigzag", "cycles"): 0.15,
    ("zigzag", "energy_pj"): 0.15,
    ("eyeriss", "latency_ms"): 0.25,
    ("eyeriss", "dram_mb"): 0.25,
    ("eyeriss", "chip_energy_mj"): 0.30,
    ("eyeriss", "processing_latency_ms"): None,
    ("eyeriss", "glb_mb"): None,
}
#: Unbounded memory for the "ideal" SCALE-Sim comparison: a buffer that holds any layer and feeds
#: the array whatever it asks (SCALE-Sim's SRAMs serve one operand row per cycle), and a DRAM
#: that never stalls (bytes, bytes per cycle, GB/s).
IDEAL_BUFFER_BYTES = 1 << 34
IDEAL_BUFFER_BYTES_PER_CYCLE = 1 << 20
IDEAL_BUFFER_BANKS = 1 << 16  # the spec's ceiling on banks, which cap a level's bandwidth
IDEAL_DRAM_GB_PER_S = 1e5  # the spec's ceiling: 100 kB per cycle at 1 GHz, far above any demand


@dataclass(frozen=True)
class Row:
    """One number of ours beside one of a peer's."""

    peer: str
    design: str
    layer: str
    metric: str
    ours: float
    theirs: float
    model: str = "one_level"  # our memory model: one_level or nest

    @property
    def ratio(self) -> float:
        """ours / theirs."""
        return self.ours / self.theirs if self.theirs else float("inf")

    @property
    def goal(self) -> float | None:
        """The issue's allowed relative error, ``None`` for a metric reported without a goal."""
        return GOALS[(self.peer, self.metric)]

    @property
    def within_goal(self) -> bool | None:
        """Whether the ratio is within the goal (``None`` without a goal)."""
        return None if self.goal is None else abs(self.ratio - 1.0) <= self.goal


@dataclass(frozen=True)
class Timing:
    """Wall time of our evaluation and of the peer's run on the same layers."""

    peer: str
    ours_s: float
    peer_s: float
    note: str

    @property
    def speedup(self) -> float:
        """How many times faster we are (peer / ours)."""
        return self.peer_s / self.ours_s if self.ours_s > 0 else float("inf")


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    timings: tuple[Timing, ...]
    sources: dict[str, dict[str, Any]]


def spec_path(name: str) -> Path:
    """A committed validation input, ``scenarios/validation/<name>`` (wheel or checkout)."""
    return packaged_scenario(f"{SCENARIOS}/{name}")


def peer_path(name: str) -> Path:
    """A peer's committed output, ``scenarios/validation/peers/<name>`` (wheel or checkout)."""
    return packaged_scenario(f"{PEERS}/{name}")


def read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimulationError(f"{path}: validation data unreadable ({exc}); reinstall picojoule") from None
    return data


def read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, ValueError) as exc:
        raise SimulationError(f"{path}: validation data unreadable ({exc}); reinstall picojoule") from None


def with_dataflow(arch: ArchSpec, dataflow: str) -> ArchSpec:
    """``arch`` with another dataflow (validated like a loaded spec)."""
    data = arch.model_dump()
    data["compute"]["dataflow"] = dataflow
    data["name"] = f"{arch.name}-{dataflow}"
    return ArchSpec.model_validate(data)


def with_nest(arch: ArchSpec, dataflow: str | None = None) -> ArchSpec:
    """``arch`` costed by the loop-nest engine (``mapping.memory_model: nest``), optionally with
    another dataflow (``row_stationary`` has no one-level form), named ``<name>-nest``."""
    data = arch.model_dump()
    data["mapping"]["memory_model"] = "nest"
    if dataflow is not None:
        data["compute"]["dataflow"] = dataflow
    data["name"] = f"{arch.name}-nest"
    return ArchSpec.model_validate(data)


#: The dataflow each validation design runs with the nest engine (absent: the spec's).
NEST_DATAFLOW = {"eyeriss": "row_stationary"}


def ideal_memory(arch: ArchSpec) -> ArchSpec:
    """``arch`` with unbounded buffers (capacity and bandwidth; a shared level's partitions dropped:
    one unbounded pool) and a DRAM that never stalls (no latency)."""
    data = arch.model_dump()
    for lv in data["memory"]["levels"]:
        if not lv["per_pe"]:
            lv["size_bytes"] = IDEAL_BUFFER_BYTES
            lv["partitions"] = None
            lv["bandwidth_bytes_per_cycle"] = IDEAL_BUFFER_BYTES_PER_CYCLE
            lv["banks"] = min(IDEAL_BUFFER_BANKS, -(-IDEAL_BUFFER_BYTES_PER_CYCLE * 8 // lv["width_bits"]))
    data["memory"]["dram"].update(bandwidth_gb_per_s=IDEAL_DRAM_GB_PER_S, latency_ns=0.0)
    data["name"] = f"{arch.name}-ideal"
    return ArchSpec.model_validate(data)


def by_name(result: DesignResult) -> dict[str, Any]:
    return {op.name: op for op in result.per_op}


def standalone(workload: Workload) -> Workload:
    """``workload`` with every op on tensors of its own (fresh ``reads``/``writes`` ids), so no
    op takes its input on chip from the op before it: each peer runs each layer from DRAM, and the
    chip of Table V measured its layers one at a time. Without ids the size rule would chain
    layers whose shapes happen to match (``simulator.optable.chain_edges``)."""
    ops, next_id = [], 0
    for op in workload.ops:
        n_in = max(len(op.input_shapes), 1)
        reads = tuple(range(next_id, next_id + n_in))
        ops.append(replace(op, reads=reads, writes=(next_id + n_in,)))
        next_id += n_in + 1
    return replace(workload, ops=tuple(ops))
