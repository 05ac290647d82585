"""Multi-core and chiplet designs: a strict, frozen :class:`SystemSpec` loaded from YAML.

A system is several cores (each an :class:`~accelerator.spec.ArchSpec`: one array with its own
memory hierarchy), alike or different, joined by an on-chip network and, across chiplets, by
die-to-die links (``docs/multicore.md``)::

    name: four-chiplets
    cores:
      - {name: tile, arch: arch/chiplet.yaml, count: 4, parallelism: pipeline}
      - {name: vec, arch: {...an inline arch...}, count: 1, runs: [norm, softmax, elementwise]}
    noc: {topology: mesh, link_bandwidth_bytes_per_cycle: 64}
    chiplets: {count: 4, d2d: {energy_pj_per_bit: 0.5}}

An ``arch:`` path is relative to the system file; its errors are located in the arch file, an
inline arch's in the system file (``file:line cores.1.arch.compute.rows``). Defaults of the
network and the links cite their sources beside the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from accelerator.errors import SpecError
from accelerator.files import input_file_message, input_problem
from accelerator.spec import ArchSpec, arch_from_data, load_arch, model_from_data
from accelerator.spec_base import Strict, YamlTuple
from accelerator.spec_dram import DramSpec
from accelerator.yamlpos import Positions, load_yaml, parse_yaml

#: Op kinds of the workload format (``models.workload.OP_KINDS``; this package imports nothing of
#: ours, a unit test keeps the two equal).
OpKind = Literal[
    "conv", "gemm", "attention", "norm", "softmax", "elementwise", "reduction", "pool", "resample", "data", "other"
]
OP_KINDS: tuple[str, ...] = get_args(OpKind)

MAX_CORE_TYPES = 16  # entries of `cores:` (kinds of core)
MAX_CORES = 1024  # instances of one core type, and of the whole system (Cerebras WSE-2 has 850k; ours are arrays)
MAX_CHIPLETS = 64  # Simba's package has 36 (Shao et al., MICRO 2019)
MAX_FUSION_DEPTH = 64  # consecutive ops one fused group may hold (the search tries 1, 2, 4, ... up to it)

# On-chip network defaults: the 4x4 mesh NoC of Park et al., "Approaching the theoretical limits
# of a mesh NoC with a 16-node chip prototype in 45nm SOI", DAC 2012: 1 GHz, 64-bit links
# (892 Gb/s delivered = 87.1% of 16 x 64 b x 1 GHz), 1-cycle router-and-link latency per hop,
# 531.4 mW at 892 Gb/s.
NOC_LINK_BYTES_PER_CYCLE = 8.0  # 64-bit links (Park et al., DAC 2012)
NOC_ROUTER_LATENCY_CYCLES = 1.0  # "1-cycle router-and-link latency at each hop" (Park et al., DAC 2012)
NOC_PJ_PER_BIT_PER_HOP = 0.24
"""est.: Park et al., DAC 2012: 531.4 mW / 892 Gb/s = 0.60 pJ per delivered bit, over the ~2.5 mean
hops of uniform traffic on a 4x4 mesh (2(n^2-1)/3n) = 0.24 pJ/bit/hop at 45 nm, router + link; used
as given (not node-scaled: conservative at smaller nodes). Cross-check: Simba's package network
0.82-1.75 pJ/bit (Shao et al., MICRO 2019, as quoted in issue 16; unverified here)."""

# Die-to-die link defaults: UCIe on a standard (2D) package, as reported from Das Sharma, Hot
# Interconnects 2025 (convergedigest.com [S]): 0.5 pJ/b at <=16 GT/s, 224 GB/s per mm of
# shoreline, ~2 ns round trip. Advanced (2.5D) packages: 0.25 pJ/b, 1.3 TB/s/mm.
D2D_PJ_PER_BIT = 0.5  # UCIe 2D, <=16 GT/s (Das Sharma, HotI 2025 [S])
D2D_GBYTES_PER_S = 224.0  # one mm of UCIe-2D shoreline (Das Sharma, HotI 2025 [S])
D2D_LATENCY_NS = 2.0  # UCIe round trip ~2 ns (Das Sharma, HotI 2025 [S]); paid once per transfer


class CoreSpec(Strict):
    """One kind of core: an arch, how many of it, which op kinds it runs."""

    name: str = Field(..., min_length=1, description="core name, unique in the system")
    arch: ArchSpec = Field(
        ..., description="the core: a path to an arch YAML (relative to the system file) or an inline arch"
    )
    count: int = Field(1, ge=1, le=MAX_CORES, description="instances of this core")
    runs: Annotated[tuple[OpKind, ...] | None, YamlTuple] = Field(
        None, description="op kinds this core may run (workload format kinds); default: all"
    )
    parallelism: Literal["split", "pipeline", "data", "auto"] = Field(
        "split",
        description="how the instances share this core's ops: split (every op divided over all instances, "
        "along split_axis), pipeline (consecutive ops in stages, one "
        "instance per stage, each holding its stage's weights), data (each instance runs every op on its "
        "share of the batch: classifier-free guidance's two passes, or several images; weights read by "
        "each) or auto (the scheduler picks one of the three by the objective)",
    )
    split_axis: Literal["auto", "channels", "rows"] = Field(
        "auto",
        description="what a split divides: channels (output channels; every instance needs the whole input), "
        "rows (a convolution's output rows or a GEMM's tokens; every instance needs the whole weights, a "
        "convolution's halo rows are shared by neighbours) or auto (per op, by the objective)",
    )

    def runs_kind(self, kind: str) -> bool:
        return self.runs is None or kind in self.runs


class NocSpec(Strict):
    """The on-chip network of each die."""

    topology: Literal["mesh", "ring", "bus"] = Field(
        "mesh", description="mesh (XY routing on a near-square grid), ring (shorter way round) or bus (one shared link)"
    )
    clock_ghz: float = Field(1.0, gt=0, le=10, description="network clock in GHz (Park et al., DAC 2012: 1 GHz)")
    link_bandwidth_bytes_per_cycle: float = Field(
        NOC_LINK_BYTES_PER_CYCLE, gt=0, le=1 << 20, allow_inf_nan=False, description="bytes per network cycle per link"
    )
    energy_pj_per_bit_per_hop: float = Field(
        NOC_PJ_PER_BIT_PER_HOP,
        ge=0,
        le=1000,
        allow_inf_nan=False,
        description="router + link energy per bit and hop, pJ",
    )
    router_latency_cycles: float = Field(
        NOC_ROUTER_LATENCY_CYCLES, ge=0, le=1000, allow_inf_nan=False, description="cycles per hop"
    )


class D2dSpec(Strict):
    """The links between chiplets (one per neighbouring pair, each direction)."""

    energy_pj_per_bit: float = Field(
        D2D_PJ_PER_BIT, ge=0, le=1000, allow_inf_nan=False, description="pJ per bit crossing"
    )
    bandwidth_gbytes_per_s: float = Field(
        D2D_GBYTES_PER_S, gt=0, le=1e6, allow_inf_nan=False, description="GB/s (1e9 bytes/s) per link and direction"
    )
    latency_ns: float = Field(D2D_LATENCY_NS, ge=0, le=1e6, allow_inf_nan=False, description="ns per crossing")


class ChipletSpec(Strict):
    """How the cores are spread over dies: instances in order, in equal contiguous blocks."""

    count: int = Field(1, ge=1, le=MAX_CHIPLETS, description="dies in the package (on a near-square grid)")
    d2d: D2dSpec = Field(default_factory=D2dSpec)


class ScheduleSpec(Strict):
    """How the scheduler chooses (``simulator.system``)."""

    objective: Literal["energy", "latency"] = Field(
        "energy", description="what the assignment of ops to core kinds and the fusion depth minimise"
    )
    max_fusion_depth: int = Field(
        16, ge=1, le=MAX_FUSION_DEPTH, description="most consecutive ops a fused group may hold"
    )


class SystemSpec(Strict):
    """A multi-core, possibly multi-chiplet design."""

    name: str = Field(..., min_length=1)
    description: str = ""
    cores: Annotated[tuple[CoreSpec, ...], YamlTuple] = Field(..., min_length=1, max_length=MAX_CORE_TYPES)
    noc: NocSpec = Field(default_factory=NocSpec)
    chiplets: ChipletSpec = Field(default_factory=ChipletSpec)
    shared_dram: DramSpec | None = Field(
        None,
        description="the DRAM the cores of each die share: its bandwidth x efficiency is one server the "
        "scheduler queues every op's DRAM bytes on; energy per bit stays each core's arch's. Left out: each "
        "core has its own (its arch's memory.dram), no contention",
    )
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)

    @model_validator(mode="after")
    def _counts(self) -> SystemSpec:
        names = [c.name for c in self.cores]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ValueError(f"core name {n!r} is used twice (cores.{i}.name)")
        total = self.instances
        if total > MAX_CORES:
            raise ValueError(f"{total} core instances in all, at most {MAX_CORES} (MAX_CORES)")
        if self.chiplets.count > total:
            raise ValueError(
                f"chiplets.count {self.chiplets.count} exceeds the {total} core instances: a die needs a core"
            )
        return self

    @property
    def instances(self) -> int:
        return sum(c.count for c in self.cores)


def check_runnable(system: SystemSpec, kinds: Iterable[str], what: str = "workload") -> None:
    """Raise :class:`SpecError` naming the first op kind of ``kinds`` that no core runs."""
    for kind in dict.fromkeys(kinds):
        if not any(c.runs_kind(kind) for c in system.cores):
            runs = "; ".join(f"{c.name}: {', '.join(c.runs or OP_KINDS)}" for c in system.cores)
            raise SpecError(
                f"system {system.name!r}: the {what} has ops of kind {kind!r}, which no core runs "
                f"(cores.*.runs: {runs}); add it to a core's runs or leave runs out (all kinds)",
                field="cores.runs",
            )


def _arch(value: Any, positions: Positions, root: str, folder: Path) -> Any:
    """A core's ``arch:`` as an :class:`ArchSpec`: a file relative to ``folder``, or inline."""
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else folder / value
        problem = input_problem(path)
        if problem is not None:
            raise positions.error(root, input_file_message("arch", value, folder, problem))
        return load_arch(path)
    if isinstance(value, dict):
        return arch_from_data(value, positions, root)
    raise positions.error(root, f"expected a path to an arch YAML file or an inline arch mapping, got {value!r}")


def system_from_data(data: Any, positions: Positions, folder: Path, root: str = "") -> SystemSpec:
    """Validate parsed YAML as a :class:`SystemSpec`; core archs are loaded first. ``root``: where
    the system sits in its file (``system`` when inline in a sweep), for error locations."""
    at = f"{root}." if root else ""
    if isinstance(data, dict) and isinstance(data.get("cores"), list):
        cores = [
            {**c, "arch": _arch(c["arch"], positions, f"{at}cores.{i}.arch", folder)}
            if isinstance(c, dict) and "arch" in c
            else c
            for i, c in enumerate(data["cores"])
        ]
        data = {**data, "cores": cores}
    return model_from_data(SystemSpec, data, positions, "system", root)


def load_system(path: str | Path) -> SystemSpec:
    """Load and validate a system YAML file (errors: ``file:line dotted.field``)."""
    data, positions = load_yaml(path)
    return system_from_data(data, positions, Path(path).parent)


def parse_system(text: str, file: str = "<string>", folder: str | Path = ".") -> SystemSpec:
    data, positions = parse_yaml(text, file)
    return system_from_data(data, positions, Path(folder))
