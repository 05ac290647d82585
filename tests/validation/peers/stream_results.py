"""What ``regen_stream.py`` records from Stream's objects: read-only, nothing here changes a result.

Stream's public API returns the totals (latency, the Energy family's node and transfer sums); the
per-term energy, each group's allocation and its steady-state schedule stay inside its objects.
:func:`install_energy_breakdown` and :func:`install_allocation_capture` wrap two of Stream's methods
to keep those objects as each group is solved (:data:`BREAKDOWN`, :data:`ALLOCATIONS`; the caller
empties them before a run), and :func:`group_record`, :func:`summary` and :func:`layers` turn them
into the JSON the script writes. Imported by the script from its own folder (run as a script, that
folder is on ``sys.path``); it needs Stream's venv, like the script.
"""

from __future__ import annotations

import importlib
from typing import Any

# --------------------------------------------------------------------------------------------- #
# Energy breakdown: a read-only wrapper of Stream's Energy family report, which only gives the   #
# node and transfer totals. It recomputes each term exactly as energy.py / traffic.py build      #
# them (node: cost LUT energy x active fraction; stream: bits x (port pJ/bit + link pJ/bit)).   #
# --------------------------------------------------------------------------------------------- #
BREAKDOWN: list[dict[str, Any]] = []


def install_energy_breakdown() -> None:
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
        BREAKDOWN.append({"nodes": nodes, "transfers": transfers})
        return out

    energy_mod.Energy.report = report


ALLOCATIONS: list[Any] = []


def install_allocation_capture() -> None:
    """Keep each group's Allocation (the context keeps only the last one, the others as IR dicts)."""
    mod = importlib.import_module("stream.stages.allocation.steady_state_allocation")
    original = mod.AllocationStage.run

    def run(self: Any):
        for ctx in original(self):
            ALLOCATIONS.append(ctx.data["allocation"])
            yield ctx

    mod.AllocationStage.run = run


def tensor_record(t: Any) -> dict[str, Any]:
    return {"name": t.name, "shape": list(t.shape), "dtype": str(getattr(t, "operand_type", ""))}


def layers(workload: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": cn.name,
            "type": cn.type,
            "inputs": [tensor_record(t) for t in cn.inputs],
            "outputs": [tensor_record(t) for t in cn.outputs],
            "operand_mapping": [str(m) for m in cn.operand_mapping],
        }
        for cn in workload.get_computation_nodes()
    ]


def group_record(
    index: int, allocation: Any, breakdown: dict[str, Any], ir: dict[str, Any], mem: Any
) -> dict[str, Any]:
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


def summary(groups: list[dict[str, Any]]) -> dict[str, Any]:
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
