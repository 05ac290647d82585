"""``evaluate_system(workload, system)``: a multi-core design on a workload, per image.

Two phases, each planned and scheduled apart: one denoising step (per-op costs are the mean over
the image's steps), run ``steps`` times, and the decoder once. Per image:

- **energy** = the groups' own single-core results (per image: ops, weight fills, decoders'
  leakage, all as :func:`simulator.evaluation.evaluate_prepared` gives them) + halo rows a row
  split reads twice − DRAM energy fusion saves + NoC + die-to-die + the leakage of instances while
  they wait (the single-core results charge leakage only while their ops run);
- **latency** = ``steps`` × the step's makespan + the slowest group's weight fill + the decoder's
  makespan; a phase that one instance runs layer by layer with nothing to wait for is exactly its
  single-core result (so a one-core system gives :func:`simulator.evaluation.evaluate`'s numbers).

With ``fused=True`` the fusion depth is searched over 1, 2, 4, ... ``schedule.max_fusion_depth``
(and that depth itself), the system's objective deciding (energy, then latency; or the reverse;
each compared to ``KEY_DIGITS`` significant digits); ties go to the shallower depth. Depth 1 is
layer by layer, so fused is never worse in the objective. Cores with ``parallelism: auto`` are
tried as ``split``, ``pipeline`` and ``data`` (all such cores alike, per phase), and split cores
with ``split_axis: auto`` along channels and along rows (:mod:`simulator.system.split`), each with
its depth search; the objective picks, ties going to the earlier.

A phase's schedule covers one call of the batched step (``batch`` images); its network energy,
idle leakage and fusion savings are divided by ``batch`` to be per image, like the groups' own
results (:func:`simulator.result.per_image`). A data-parallel group's result is one replica's:
it counts ``replicas`` times.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelerator.system import SystemSpec, check_runnable
from models.workload import Workload
from simulator.cost.hardware import hardware
from simulator.system.costs import Evaluator, Plan, plan
from simulator.system.fusion import Fusion, fuse, layer_by_layer
from simulator.system.graph import INFERRED_NOTE, op_edges
from simulator.system.noc import Network
from simulator.system.result import CoreUse, LinkTraffic, SystemResult, TimelineEntry, op_on_core
from simulator.system.schedule import Schedule, fused_latency, schedule


@dataclass(frozen=True)
class Phase:
    name: str
    runs: int  # times per image (steps, or 1 for the decoder)
    system: SystemSpec  # with every ``auto`` core resolved
    plan: Plan
    fusion: Fusion
    sched: Schedule
    noc_j: float  # per run
    d2d_j: float
    idle_j: float  # leakage of waiting instances, per run
    inferred: bool

    @property
    def saved_j(self) -> float:
        """DRAM energy fusion saves per run."""
        return sum(s * c.dram_j_per_byte for s, c in zip(self.fusion.dram_saved, self.plan.costs, strict=True))

    @property
    def halo_bytes(self) -> float:
        """DRAM bytes per run that row splits read twice (halo rows), fused ones not saved."""
        return sum(c.split.extra_dram_bytes for c in self.plan.costs if c.split is not None)

    @property
    def halo_j(self) -> float:
        return sum(c.split.extra_dram_bytes * c.dram_j_per_byte for c in self.plan.costs if c.split is not None)

    @property
    def energy_j(self) -> float:
        """Energy of one run (the search's objective)."""
        return sum(s.energy_j for s in self.sched.slots) + self.noc_j + self.d2d_j + self.idle_j


def _depths(max_depth: int) -> list[int]:
    out, d = [1], 2
    while d <= max_depth:
        out.append(d)
        d *= 2
    return out + ([max_depth] if max_depth not in out else [])


def resolutions(system: SystemSpec) -> list[SystemSpec]:
    """``system`` with its ``auto`` cores set to split, pipeline and data in turn, and its split
    cores' ``auto`` axes to channels and rows in turn (all such cores alike); the system alone when
    nothing is ``auto``. Earlier ones win ties."""
    modes = ("split", "pipeline", "data") if any(c.parallelism == "auto" for c in system.cores) else ("",)
    out = []
    for mode in modes:
        cores = tuple(
            c.model_copy(update={"parallelism": mode}) if c.parallelism == "auto" else c for c in system.cores
        )
        split_auto = any(c.parallelism == "split" and c.count > 1 and c.split_axis == "auto" for c in cores)
        for axis in ("channels", "rows") if split_auto else ("",):
            upd = {"split_axis": axis}
            resolved = tuple(c.model_copy(update=upd) if axis and c.split_axis == "auto" else c for c in cores)
            out.append(system.model_copy(update={"cores": resolved}))
    return out


def _phase(name: str, runs: int, system: SystemSpec, net: Network, ev: Evaluator, fused: bool) -> Phase:
    graph = op_edges(ev.workload)
    leak = {c.name: hardware(c.arch).leakage_mw * 1e-3 for c in system.cores}  # W per instance
    best: Phase | None = None
    for resolved in resolutions(system):
        pl = plan(resolved, net, ev)
        for depth in _depths(system.schedule.max_fusion_depth) if fused else [1]:
            f = fuse(ev.workload, pl.costs, graph.edges, depth) if depth > 1 else layer_by_layer(len(pl.costs))
            s = schedule(resolved, net, ev.workload, pl, graph.edges, f)
            noc, d2d = net.energy_j(s.ledger)
            span = s.makespan_s
            idle = sum(leak[x.core] * max(0.0, span - s.busy_s.get(x.index, 0.0)) for x in net.instances)
            ph = Phase(name, runs, resolved, pl, f, s, noc, d2d, idle, graph.inferred)
            if best is None or _key(ph, system) < _key(best, system):
                best = ph
    assert best is not None
    return best


def _serial(ph: Phase, system: SystemSpec) -> bool:
    """One instance runs the whole phase layer by layer with nothing to wait for: the schedule is
    its ops back to back, so the phase is exactly its single-core result."""
    groups = ph.plan.groups
    return (
        len(groups) == 1
        and len(groups[0].instances) == 1
        and max(ph.fusion.group_of) < 0
        and not ph.sched.ledger.links
        and system.shared_dram is None
    )


#: Significant digits objectives are compared to: sums of the same times in another order differ in
#: the last bits (81,872.00000000001 ns against 81,872.0), which must not decide a search.
KEY_DIGITS = 9


def objective_key(energy_j: float, makespan_s: float, objective: str) -> tuple[float, float]:
    """The search's order: the objective first, the other second, each rounded to ``KEY_DIGITS``."""
    e, t = (float(f"{x:.{KEY_DIGITS}g}") for x in (energy_j, makespan_s))
    return (e, t) if objective == "energy" else (t, e)


def _key(ph: Phase, system: SystemSpec) -> tuple[float, float]:
    return objective_key(ph.energy_j, ph.sched.makespan_s, system.schedule.objective)


def evaluate_system(
    workload: Workload,
    system: SystemSpec,
    *,
    steps: int | None = None,
    decoder: Workload | None = None,
    batch: int = 1,
    fused: bool = False,
    inter_op_reuse: bool = True,
) -> SystemResult:
    """``workload`` (``steps`` per image; default the trace's) and ``decoder`` (once per image)
    on ``system``, layer by layer or with layer fusion; see the module doc. ``inter_op_reuse``
    False: the single-core model keeps no intermediate on chip, so layer by layer every edge goes
    through DRAM (:class:`simulator.system.costs.Evaluator`)."""
    check_runnable(system, (op.kind for op in workload.ops))
    if decoder is not None:
        check_runnable(system, (op.kind for op in decoder.ops), "decoder")
    n_steps = steps if steps is not None else workload.steps
    net = Network(system)
    step_ev = Evaluator(workload, batch, n_steps, True, inter_op_reuse)
    phases = [_phase("step", n_steps, system, net, step_ev, fused)]
    if decoder is not None:
        phases.append(_phase("decoder", 1, system, net, Evaluator(decoder, batch, 1, False, inter_op_reuse), fused))
    return _assemble(system, net, phases, fused, batch)


def _assemble(system: SystemSpec, net: Network, phases: list[Phase], fused: bool, batch: int) -> SystemResult:
    breakdown: dict[str, float] = {}
    traffic: dict[str, float] = {"dram": 0.0, "noc": 0.0, "d2d": 0.0}
    energy = latency = 0.0
    fills = [0.0]
    links: dict[str, list[float | str]] = {}
    busy: dict[int, float] = {}
    timeline: list[TimelineEntry] = []
    group_results = {}
    for ph in phases:
        for g in ph.plan.groups:
            r = g.result
            group_results[f"{ph.name}/{g.label}"] = r
            energy += g.replicas * r.energy_j_per_image
            for k, v in r.energy_breakdown_j.items():
                breakdown[k] = breakdown.get(k, 0.0) + g.replicas * v
            traffic["dram"] += g.replicas * float(r.extras.get("traffic_bytes_per_image", {}).get("dram", 0.0))
            fills.append(float(r.extras.get("weight_residency", {}).get("fill_latency_s", 0.0)))
        saved_bytes = sum(ph.fusion.dram_saved) - ph.halo_bytes
        per_image = ph.runs / batch  # a run is one call of the batched step
        for k, v in (("dram", ph.halo_j - ph.saved_j), ("noc", ph.noc_j), ("d2d", ph.d2d_j), ("leakage", ph.idle_j)):
            breakdown[k] = breakdown.get(k, 0.0) + per_image * v
            energy += per_image * v
        traffic["dram"] -= per_image * saved_bytes
        traffic["noc"] += per_image * ph.sched.ledger.noc_bit_hops / 8.0
        traffic["d2d"] += per_image * ph.sched.ledger.d2d_bits / 8.0
        if _serial(ph, system):  # the group's own latency: its ops back to back, its weight fill
            latency += ph.plan.groups[0].result.latency_s_per_image
            fills.pop()
        else:
            latency += ph.runs * ph.sched.makespan_s
        for name, use in ph.sched.ledger.links.items():
            row = links.setdefault(name, [use.kind, 0.0, 0.0])
            row[1] = float(row[1]) + per_image * use.bytes_sent
            row[2] = float(row[2]) + per_image * use.bytes_received
        for x, b in ph.sched.busy_s.items():
            busy[x] = busy.get(x, 0.0) + ph.runs * b
        for s in ph.sched.slots:
            g = ph.plan.groups[s.group]
            op = ph.plan.costs[s.op].op
            timeline.append(
                TimelineEntry(
                    ph.name, s.op, op.name, op.kind, g.label, g.instances, s.start_s, s.end_s, ph.fusion.group_of[s.op]
                )  # fmt: skip
            )
    latency += max(fills)
    step = phases[0]
    cores = tuple(
        CoreUse(
            x.index,
            x.core,
            x.chiplet,
            busy.get(x.index, 0.0),
            min(1.0, busy.get(x.index, 0.0) / latency) if latency > 0 else 0.0,
        )
        for x in net.instances
    )
    per_op = tuple(
        op_on_core(
            c.op,
            step.plan.groups[c.group].label,
            fused_latency(c, step.fusion.dram_saved[i]),
            s.energy_j,
            step.fusion.group_of[i],
        )  # fmt: skip
        for i, (c, s) in enumerate(zip(step.plan.costs, step.sched.slots, strict=True))
    )
    areas = {g.core.name: (g.result.area_mm2 or 0.0) * g.core.count for ph in phases for g in ph.plan.groups}
    notes = tuple(f"{ph.name} on {g.label}: {n}" for ph in phases for g in ph.plan.groups for n in g.result.notes)
    if any(ph.inferred for ph in phases):
        notes = (INFERRED_NOTE, *notes)
    mode = "fused" if fused else "layer_by_layer"
    return SystemResult(
        name=f"{system.name} ({'fused' if fused else 'layer by layer'})",
        fusion=mode,
        objective=system.schedule.objective,
        latency_s_per_step=step.sched.makespan_s,
        latency_s_per_image=latency,
        energy_j_per_step=step.energy_j / batch,
        energy_j_per_image=energy,
        energy_breakdown_j=dict(sorted(breakdown.items())),
        traffic_bytes_per_image=traffic,
        area_mm2=sum(areas.values()),
        cores=cores,
        timeline=tuple(timeline),
        links=tuple(LinkTraffic(k, str(v[0]), float(v[1]), float(v[2])) for k, v in sorted(links.items())),
        fusion_plan={
            ph.name: {
                "depth": ph.fusion.depth,
                "fused_ops": sum(1 for g in ph.fusion.group_of if g >= 0),
                "max_tiles": max(ph.fusion.tiles),
                "dram_saved_bytes_per_run": sum(ph.fusion.dram_saved),
                "parallelism": {g.core.name: g.core.parallelism for g in ph.plan.groups},
                "split_axis": {
                    g.core.name: g.core.split_axis
                    for g in ph.plan.groups
                    if g.core.parallelism == "split" and len(g.instances) > 1
                },
                "replicas": max(g.replicas for g in ph.plan.groups),
            }
            for ph in phases
        },
        assignment={ph.name: {g.label: len(g.ops) for g in ph.plan.groups} for ph in phases},
        per_op=per_op,
        batch=batch,
        notes=notes,
        group_results=group_results,
    )
