"""Which core runs each op, and what the op costs there (the single-core model, unchanged).

1. **Kind**: each op goes to the cores whose ``runs`` include its kind; among several, the one
   that costs least in the schedule's objective (energy, or latency / instances), judged on a
   probe: the whole workload on that core's arch (:func:`simulator.evaluation.evaluate_prepared`,
   once per core). Ties go to the core listed first.
2. **Instances**: a ``split`` core runs each of its ops on all its instances at once, along
   output channels or output rows (:mod:`simulator.system.split`): the op's latency times the
   busiest instance's share of the divided dimension (``ceil(n / count) / n``), its energy
   unchanged (plus halo rows read twice from DRAM, if any), the operand every instance needs
   whole broadcast from a shared DRAM or multicast over the NoC (:mod:`simulator.system.schedule`).
   A ``pipeline`` core cuts its ops, in order, into ``count`` stages of about equal probe latency
   (of about equal weight bytes when the core keeps weights across steps: each stage's weights
   must fit its store), one instance each. A ``data`` core runs its ops on ``replicas``
   instances, each on its share of the batch (:mod:`simulator.system.data`): an op's latency is
   its share's, its energy and DRAM bytes ``replicas`` times the share's.
3. **Costs**: each group (a core's ops, or one stage's) is evaluated as a workload of its own ops
   (tensor ids kept) on the core's arch, so a stage's weight residency sees only its weights, and
   an op keeps its input on chip only from the op before it that wrote it, whose DRAM write stays
   when any other op of the workload (on this core or another) reads the tensor (:func:`kept_edges`).
   A one-core system is one group of the whole workload: exactly
   :func:`simulator.evaluation.evaluate_prepared`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from accelerator.system import CoreSpec, SystemSpec
from models.workload import Workload
from simulator.cost.capacity import capacity
from simulator.cost.hardware import ACT, Hardware, hardware
from simulator.evaluation import evaluate_prepared
from simulator.optable import Chaining, chain_edges, prepare
from simulator.result import DesignResult, OpResult, per_image
from simulator.system.data import items_per_call, replicas, share
from simulator.system.noc import Network
from simulator.system.split import SplitOp, elem_bytes, split_op


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
    output_shared: bool = False  # a kept output still written to DRAM: another op reads it too
    replicas: int = 1  # data parallelism: instances each running the op on its share
    kept_from: int = -1  # the op whose output the single-core model kept on chip for this one (-1: none)
    split: SplitOp | None = None  # over a split core's instances: along which axis, what moves


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    costs: tuple[OpCost, ...]  # per op of the phase


def sub_workload(workload: Workload, ops: tuple[int, ...]) -> Workload:
    """The workload of ``ops`` alone: their statistics and tensor ids kept (a read of a tensor no
    op of ``ops`` writes is a step input of the part, as the workload format allows)."""
    if ops == tuple(range(len(workload.ops))):
        return workload
    picked = tuple(workload.ops[i] for i in ops)
    stats = {k: tuple(tuple(row[i] for i in ops) for row in v) for k, v in workload.stats.items()}
    return Workload(ops=picked, steps=workload.steps, provenance=workload.provenance, stats=stats)


def kept_edges(workload: Workload, ops: tuple[int, ...], reuse: bool) -> Chaining:
    """Per op of ``ops``: whether the single-core model may keep its input on chip from the op
    before it in ``ops``, and whether its output must still reach DRAM when kept
    (:func:`simulator.optable.chain_edges`: with tensor ids, an op of the whole workload other
    than the next of ``ops`` reads it). Without reuse: never (every edge through DRAM)."""
    if not reuse:
        none = np.zeros(len(ops), dtype=bool)
        return Chaining(none, none.copy())
    return chain_edges(workload, ops)


@dataclass
class Evaluator:
    """Evaluates (core, ops) groups with the single-core model, each once.

    ``inter_op_reuse``: the single-core model may keep an op's output on chip for the next op of
    its group. On the whole workload its own rule decides (:func:`simulator.optable.chain_edges`),
    so a one-core system is exactly the single-core model; a part of it (a core's ops, a stage) is
    chained by the whole workload's tensor ids (:func:`kept_edges`: a kept tensor another op, on
    this core or another, also reads is written out as well). Off: no edge is kept by the single-core model,
    every intermediate goes through DRAM unless the scheduler fuses it."""

    workload: Workload
    batch: int
    steps: int
    weight_residency: bool
    inter_op_reuse: bool = True
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
            whole = ops == tuple(range(len(self.workload.ops)))
            if not self.inter_op_reuse or (not whole and self.workload.has_tensor_ids):
                chain = kept_edges(self.workload, ops, self.inter_op_reuse)
                table = dataclasses.replace(table, chain_in=chain.chain_in, out_shared=chain.out_shared)
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
        costs.update(_op_costs(g, group, system, ev.workload, ev.batch))
    return Plan(tuple(groups), tuple(costs[i] for i in range(len(ev.workload.ops))))


def _op_costs(g: int, group: Group, system: SystemSpec, workload: Workload, batch: int) -> dict[int, OpCost]:
    hw, arch = group.hw, group.core.arch
    dram = arch.memory.dram
    act_levels = [capacity(lv, ACT) for lv in hw.levels if lv.holds[ACT]]
    buffer = max(act_levels) if act_levels else 0.0
    res = group.result.extras.get("weight_residency", {})
    resident = bool(res.get("resident", False))
    split = group.core.parallelism == "split" and len(group.instances) > 1
    n = group.replicas
    j_per_byte = hw.dram_pj_per_bit * 8e-12
    shared = chain_edges(workload, group.ops).out_shared.tolist()  # as the group was costed
    out: dict[int, OpCost] = {}
    for j, i in enumerate(group.ops):
        r = group.result.per_op[j]
        op = workload.ops[i]
        w_bytes = op.weight_bytes / elem_bytes(op) * hw.w_bits / 8.0
        act_width = hw.a_bits / 8.0
        cut = None
        if split:
            cut = split_op(
                op,
                group.core,
                system,
                batch=batch,
                act_bytes_per_elem=act_width,
                weight_bytes=w_bytes,
                weights_resident=resident,
            )
        extra = cut.extra_dram_bytes if cut is not None else 0.0
        out[i] = OpCost(
            group=g,
            op=r,
            latency_s=r.latency_s * cut.share if cut is not None else r.latency_s,
            energy_j=n * r.energy_j + extra * j_per_byte,
            dram_bytes=n * float(r.traffic_bytes.get("dram", 0.0)) + extra,
            dram_j_per_byte=j_per_byte,
            dram_bytes_per_s=dram.bandwidth_gb_per_s * dram.efficiency * 1e9,
            clock_hz=hw.clock_hz,
            act_bytes_per_elem=act_width,
            buffer_bytes=float(buffer),
            weight_bytes=w_bytes,
            weights_resident=resident,
            input_resident=bool(r.mapping.get("input_resident", False)),
            output_kept=bool(r.mapping.get("output_kept", False)),
            output_shared=shared[j],
            replicas=n,
            kept_from=group.ops[j - 1] if j > 0 and r.mapping.get("input_resident", False) else -1,
            split=cut,
        )
    return out
