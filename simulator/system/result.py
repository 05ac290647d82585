"""What a system evaluation returns, its JSON form, and its row among the designs.

:class:`SystemResult` numbers are per image (energies) and per batch (latencies), as
:class:`simulator.result.DesignResult`'s. ``to_json`` is deterministic (sorted keys where
keys are names, 9 significant digits: :func:`simulator.result._clean` rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from simulator.result import DesignResult, OpResult, design_to_json


@dataclass(frozen=True)
class CoreUse:
    """One core instance over one image."""

    instance: int
    core: str
    chiplet: int
    busy_s: float
    utilization: float  # busy / the image's latency


@dataclass(frozen=True)
class TimelineEntry:
    phase: str  # "step" (one mean denoising step) | "decoder"
    op: int
    name: str
    kind: str
    core: str  # the group's label: core name (split) or core.stage (pipeline)
    instances: tuple[int, ...]
    start_s: float
    end_s: float
    fused_group: int  # -1: layer by layer


@dataclass(frozen=True)
class LinkTraffic:
    link: str
    kind: str  # "noc" | "d2d"
    bytes_sent: float  # per image
    bytes_received: float


@dataclass(frozen=True)
class SystemResult:
    name: str
    fusion: str  # "layer_by_layer" | "fused"
    objective: str
    latency_s_per_step: float
    latency_s_per_image: float
    energy_j_per_step: float
    energy_j_per_image: float
    energy_breakdown_j: Mapping[str, float]  # per image, incl. "noc" and "d2d"
    traffic_bytes_per_image: Mapping[str, float]  # "dram", "noc" (bytes x hops), "d2d"
    area_mm2: float
    cores: tuple[CoreUse, ...]
    timeline: tuple[TimelineEntry, ...]
    links: tuple[LinkTraffic, ...]
    fusion_plan: Mapping[str, Mapping[str, Any]]  # per phase: depth, fused ops, tiles, DRAM saved
    assignment: Mapping[str, Mapping[str, int]]  # per phase: group label -> ops
    per_op: tuple[OpResult, ...]  # the step's ops on their cores (after fusion)
    batch: int = 1
    notes: tuple[str, ...] = ()
    group_results: Mapping[str, DesignResult] = field(default_factory=dict)  # "phase/label" -> single-core result

    def system_json(self) -> dict[str, Any]:
        """The system part of results.json (``extras["system"]`` of its design row)."""
        return {
            "fusion": self.fusion,
            "objective": self.objective,
            "traffic_bytes_per_image": dict(sorted(self.traffic_bytes_per_image.items())),
            "cores": [vars(c) for c in self.cores],
            "timeline": [{**vars(t), "instances": list(t.instances)} for t in self.timeline],
            "links": [vars(x) for x in self.links],
            "fusion_plan": {k: dict(v) for k, v in sorted(self.fusion_plan.items())},
            "assignment": {k: dict(v) for k, v in sorted(self.assignment.items())},
        }

    def as_design(self) -> DesignResult:
        """The system as a row of results.json's ``designs`` (``extras["system"]`` holds the rest)."""
        return DesignResult(
            name=self.name,
            kind="accelerator",
            latency_s_per_step=self.latency_s_per_step,
            latency_s_per_image=self.latency_s_per_image,
            energy_j_per_step=self.energy_j_per_step,
            energy_j_per_image=self.energy_j_per_image,
            energy_breakdown_j=dict(sorted(self.energy_breakdown_j.items())),
            area_mm2=self.area_mm2,
            per_op=self.per_op,
            notes=self.notes,
            extras={"system": self.system_json()},
            batch=self.batch,
        )

    def to_json(self) -> dict[str, Any]:
        return design_to_json(self.as_design())


def op_on_core(r: OpResult, core: str, latency_s: float, energy_j: float, fused_group: int) -> OpResult:
    """``r`` as it runs in the system: its core, its latency and energy after split and fusion."""
    return replace(
        r,
        latency_s=latency_s,
        energy_j=energy_j,
        mapping={**dict(r.mapping), "core": core, "fused_group": fused_group},
    )
