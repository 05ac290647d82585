"""Which core runs each op, and what the op costs there (the single-core model, unchanged).

1. **Kind**: each op goes to the cores whose ``runs`` include its kind; among several, the one
   that costs least in the schedule's objective (energy, or latency / instances), judged on a
   probe: the whole workload on that core's arch (:func:`simulator.evaluation.evaluate_prepared`,
   once per core). Ties go to the core listed first.
2. **Instances**: a ``split`` core runs each of its ops on all its instances at once (output
   channels apart): the op's latency times the busiest instance's share of the divided dimension
   (``ceil(n / count) / n``: :func:`split_share`), its energy unchanged, a GEMM-like op's input
   multicast to every instance (:mod:`simulator.system.schedule`). A ``pipeline`` core cuts its
   ops, in order, into ``count`` stages of about equal probe latency (of about equal weight bytes
   when the core keeps weights across steps: each stage's weights must fit its store), one
   instance each. A ``data`` core runs its ops on ``replicas`` instances, each on its share of
   the batch (:mod:`simulator.system.data`): an op's latency is its share's, its energy and DRAM
   bytes ``replicas`` times the share's.
3. **Costs**: each group (a core's ops, or one stage's) is evaluated as a workload of its own ops
   on the core's arch, so a stage's weight residency sees only its weights. A one-core system is
   one group of the whole workload: exactly :func:`simulator.evaluation.evaluate_prepared`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from accelerator.system import CoreSpec, SystemSpec
from models.workload import Op, Workload
from simulator.cost.hardware import Hardware, hardware
from simulator.evaluation import evaluate_prepared
from simulator.optable import prepare
from simulator.result import DesignResult, OpResult, per_image
from simulator.system.data import items_per_call, replicas, share
from simulator.system.noc import Network

#: Kinds whose output-channel split needs the whole input on every instance.
MULTICAST_KINDS = frozenset({"conv", "gemm"})


@dataclass(frozen=True)
class Group:
    """Ops that run on the same instances, evaluated together."""

    core: CoreSpec
    stage: int  # pipeline stage (0 for a split core)
    instances: tuple[int, ...]
    ops: tuple[int, ...]  # op indices in the phase's workload
    result: DesignResult  # the group's ops as one workload on the core's arch (per image; data: one replica's)
    hw: Hardware
    replicas: int = 1  # data parallelism: copies of the step, one per instance, each on its share

    @property
    def label(self) -> str:
        pipelined = self.core.parallelism == "pipeline" and self.core.count > 1
        return f"{self.core.name}.{self.stage}" if pipelined else self.core.name

    @property
    def leakage_w(self) -> float:
        """Static power of one instance, W."""
        return self.hw.leakage_mw * 1e-3


@dataclass(frozen=True)
class OpCost:
    """One op on its group, per step (mean over the image's steps)."""

    group: int
    op: OpResult  # the single-core model's record on the group's arch (data: one replica's share)
    latency_s: float  # on the group's instances (split: / count)
    energy_j: float  # all replicas together
    dram_bytes: float  # all replicas together
    dram_j_per_byte: float
    dram_bytes_per_s: float
    clock_hz: float
    act_bytes_per_elem: float  # the arch's activation width, bytes
    buffer_bytes: float  # the largest shared level holding activations (fused tiles live there)
    weight_bytes: float  # at the arch's weight width
    weights_resident: bool  # kept on chip across steps (nothing to re-fetch per tile)
    input_resident: bool  # the single-core model already kept the input on chip
    output_kept: bool  # ... and the output
    replicas: int = 1  # data parallelism: instances each running the op on its share


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    costs: tuple[OpCost, ...]  # per op of the phase


def sub_workload(workload: Workload, ops: tuple[int, ...]) -> Workload:
    """The workload of ``ops`` alone (their statistics kept; tensor ids dropped: a part of a
    graph need not be closed)."""
    if ops == tuple(range(len(workload.ops))):
        return workload
    picked = tuple(
        dataclasses.replace(workload.ops[i], reads=(), writes=())
        if hasattr(workload.ops[i], "reads")
        else workload.ops[i]
        for i in ops
    )
    stats = {k: tuple(tuple(row[i] for i in ops) for row in v) for k, v in workload.stats.items()}
    return Workload(ops=picked, steps=workload.steps, provenance=workload.provenance, stats=stats)


@dataclass
class Evaluator:
    """Evaluates (core, ops) groups with the single-core model, each once."""

    workload: Workload
    batch: int
    steps: int
    weight_residency: bool
    cache: dict[tuple[str, tuple[int, ...], int], DesignResult] = dataclasses.field(default_factory=dict)

    def __call__(self, core: CoreSpec, ops: tuple[int, ...], n_replicas: int = 1) -> DesignResult:
        """``ops`` on ``core`` (per image); with ``n_replicas`` > 1, one replica's share of the batch
        (per image of the batch: the replicas together cost ``n_replicas`` times this)."""
        key = (core.name, ops, n_replicas)
        if key not in self.cache:
            if n_replicas == 1:
                table = prepare(sub_workload(self.workload, ops), batch=self.batch)
            else:
                table = prepare(sub_workload(share(self.workload, self.batch, n_replicas), ops))
            r = evaluate_prepared(table, core.arch, steps=self.steps, weight_residency=self.weight_residency)
            self.cache[key] = r if n_replicas == 1 else per_image(r, self.batch)
        return self.cache[key]


def _choose(system: SystemSpec, ev: Evaluator) -> list[int]:
    """Core index of every op (step 1 of the module doc)."""
    everything = tuple(range(len(ev.workload.ops)))
    choice: list[int] = []
    for i, op in enumerate(ev.workload.ops):
        able = [c for c, core in enumerate(system.cores) if core.runs_kind(op.kind)]
        if len(able) == 1:
            choice.append(able[0])
            continue

        choice.append(min(able, key=lambda c: (_score(system, ev, everything, c, i), c)))
    return choice


def _score(system: SystemSpec, ev: Evaluator, everything: tuple[int, ...], c: int, i: int) -> float:
    """Op ``i`` on core ``c`` in the schedule's objective, from the probe."""
    r = ev(system.cores[c], everything).per_op[i]
    core = system.cores[c]
    if system.schedule.objective == "energy":
        return r.energy_j
    return r.latency_s / (core.count if core.parallelism in ("split", "data") else 1)


def _stages(ops: tuple[int, ...], load: list[float], count: int) -> list[tuple[int, ...]]:
    """``ops`` in order cut into at most ``count`` non-empty stages of about equal ``load``."""
    total = sum(load) or float(len(ops))
    lat = load if sum(load) > 0 else [1.0] * len(ops)
    stages: list[list[int]] = [[] for _ in range(count)]
    acc = 0.0
    for op, x in zip(ops, lat, strict=True):
        k = min(count - 1, int((acc + x / 2) * count / total))
        stages[k].append(op)
        acc += x
    return [tuple(s) for s in stages if s]


def plan(system: SystemSpec, network: Network, ev: Evaluator) -> Plan:
    """Assign every op of ``ev.workload`` to a group and cost it there."""
    choice = _choose(system, ev)
    groups: list[Group] = []
    for c, core in enumerate(system.cores):
        ops = tuple(i for i, x in enumerate(choice) if x == c)
        if not ops:
            continue
        insts = tuple(x.index for x in network.instances if x.core == core.name)
        hw = hardware(core.arch)
        if core.parallelism == "split" or core.count == 1:
            groups.append(Group(core, 0, insts, ops, ev(core, ops), hw))
            continue
        if core.parallelism == "data":
            n = replicas(core.count, items_per_call(ev.workload, ev.batch))
            groups.append(Group(core, 0, insts[:n], ops, ev(core, ops, n), hw, n))
            continue
        if core.arch.memory.weight_residency == "across_steps":  # each stage's weights must fit its store
            load = [float(ev.workload.ops[i].weight_bytes) for i in ops]
        else:
            probe = ev(core, tuple(range(len(ev.workload.ops))))
            load = [probe.per_op[i].latency_s for i in ops]
        for k, stage in enumerate(_stages(ops, load, core.count)):
            groups.append(Group(core, k, (insts[k],), stage, ev(core, stage), hw))
    costs: dict[int, OpCost] = {}
    for g, group in enumerate(groups):
        costs.update(_op_costs(g, group, ev.workload, ev.batch))
    return Plan(tuple(groups), tuple(costs[i] for i in range(len(ev.workload.ops))))


def split_share(op: Op, count: int, batch: int) -> float:
    """The busiest of ``count`` instances' share of ``op`` split apart: ``ceil(n / count) / n`` of
    the divided dimension ``n``: a weight GEMM's or convolution's output channels, another GEMM's
    or attention's batch x heads; ``1 / count`` for vector ops (their elements are many)."""
    if op.gemm is None:
        return 1.0 / count
    n = op.gemm[2] if op.weight_is_param else op.gemm[0] * batch
    return math.ceil(n / count) / n if n > 0 else 1.0 / count


def _op_costs(g: int, group: Group, workload: Workload, batch: int) -> dict[int, OpCost]:
    hw, arch = group.hw, group.core.arch
    dram = arch.memory.dram
    act_levels = [lv.size_bytes for lv in hw.levels if lv.holds[0]]
    buffer = max(act_levels) if act_levels else 0.0
    res = group.result.extras.get("weight_residency", {})
    resident = bool(res.get("resident", False))
    split = len(group.instances) if group.core.parallelism == "split" else 1
    n = group.replicas
    out: dict[int, OpCost] = {}
    for j, i in enumerate(group.ops):
        r = group.result.per_op[j]
        op = workload.ops[i]
        w_elems = op.weight_bytes / elem_bytes(op)
        out[i] = OpCost(
            group=g,
            op=r,
            latency_s=r.latency_s * split_share(op, split, batch) if split > 1 else r.latency_s,
            energy_j=n * r.energy_j,
            dram_bytes=n * float(r.traffic_bytes.get("dram", 0.0)),
            dram_j_per_byte=hw.dram_pj_per_bit * 8e-12,
            dram_bytes_per_s=dram.bandwidth_gb_per_s * dram.efficiency * 1e9,
            clock_hz=hw.clock_hz,
            act_bytes_per_elem=hw.a_bits / 8.0,
            buffer_bytes=float(buffer),
            weight_bytes=w_elems * hw.w_bits / 8.0,
            weights_resident=resident,
            input_resident=bool(r.mapping.get("input_resident", False)),
            output_kept=bool(r.mapping.get("output_kept", False)),
            replicas=n,
        )
    return out


def elem_bytes(op: object) -> float:
    """Bytes per element of the op's traced dtype (float32 when unknown)."""
    dtype = str(getattr(op, "dtype", "float32")).removeprefix("torch.")
    return {"float64": 8.0, "float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "int8": 1.0, "uint8": 1.0}.get(dtype, 4.0)
