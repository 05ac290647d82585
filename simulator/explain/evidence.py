"""What produced a rung's factor: the spec fields that changed, the trace statistics they act on,
and the energy components that moved.

- :func:`spec_changes`: the dotted fields of the arch spec that differ between two rungs
  (``compute.precision: fp16 -> int8``; name and description left out), and ``steps`` when the
  sampling steps of the workload changed.
- :func:`trace_evidence`: for a change that acts on value statistics, the MAC-weighted mean of
  the statistics it reads over the traced steps (zero-gating: ``act_zero_frac``,
  ``weight_zero_frac``; block skipping: ``act_block_zero_frac_{r}x{c}`` at the mask shape;
  temporal deltas: ``delta_int{8,4}_zero_frac`` from the second traced step on), or that the
  trace has none; for weight residency, the resident bytes and the model's note.
- :func:`component_moves`: the energy components (J per image) that moved most between the two
  rungs, signed, so a factor below 1 shows what rose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.workload import Workload, block_stat_name
from simulator.explain.spec import Rung
from simulator.plots import si
from simulator.result import DesignResult

_IGNORED = ("name", "description")


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v and not key.endswith(("macs_per_pe_per_cycle", "mac_energy_pj")):
            out.update(_flat(v, key + "."))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            for i, x in enumerate(v):
                name = x.get("name", i)
                out.update(_flat(x, f"{key}.{name}."))
        else:
            out[key] = v
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {x}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def spec_changes(prev: Rung, rung: Rung, workload: str) -> tuple[str, ...]:
    """Fields of ``rung``'s design and steps that differ from ``prev``'s, as ``field: old -> new``."""
    assert prev.arch is not None and rung.arch is not None  # built rungs only
    a = _flat(prev.arch.model_dump(mode="json"))
    b = _flat(rung.arch.model_dump(mode="json"))
    out = [
        f"{k}: {_fmt(a.get(k, '-'))} -> {_fmt(b.get(k, '-'))}"
        for k in sorted(set(a) | set(b))
        if k not in _IGNORED and a.get(k) != b.get(k)
    ]
    if prev.steps[workload] != rung.steps[workload]:
        out.append(f"steps: {prev.steps[workload]} -> {rung.steps[workload]}")
    choice = rung.steps_choice.get(workload)
    if choice is not None and choice != prev.steps_choice.get(workload):
        out.append(f"steps chosen by {choice.file} (series {choice.series}): the fewest meeting {choice.bound.label()}")
    if prev.batch != rung.batch:
        out.append(f"batch: {prev.batch} -> {rung.batch} images per pass (energies per image)")
    return tuple(out)


def mac_weighted(workload: Workload, name: str, first_step: int = 0) -> float | None:
    """MAC-weighted mean of statistic ``name`` over ops with MACs and traced steps from
    ``first_step``; ``None`` when the trace does not record it."""
    table = workload.stats.get(name)
    if not table:
        return None
    num = den = 0.0
    for s in range(first_step, len(table)):
        for op, v in zip(workload.ops, table[s], strict=True):
            if v is not None and op.macs > 0:
                num += op.macs * v
                den += op.macs
    return num / den if den > 0 else None


def _pct(x: float | None) -> str:
    return "not recorded" if x is None else f"{100 * x:.3g}%"


def trace_evidence(changes: tuple[str, ...], workload: Workload, result: DesignResult) -> tuple[str, ...]:
    """Trace statistics behind the changed fields (see the module doc), and residency facts."""
    fields = {c.split(":", 1)[0] for c in changes}
    out: list[str] = []
    no_stats = not workload.stats
    sp: Mapping[str, float] = result.extras.get("sparsity", {})
    weights = str(workload.provenance.get("weights", "unknown"))
    origin = " (random-init weights: not a trained model's)" if "random" in weights else ""
    if fields & {"compute.sparsity.act_zero_gating", "compute.sparsity.weight_zero_gating"}:
        if no_stats:
            out.append("zero-gating: the trace has no value statistics, so no zero is known to gate")
        else:
            act, wgt = mac_weighted(workload, "act_zero_frac"), mac_weighted(workload, "weight_zero_frac")
            out.append(
                f"zero-gating: act_zero_frac {_pct(act)}, weight_zero_frac {_pct(wgt)} (MAC-weighted){origin}; "
                f"saved {si(sp.get('gating_saved_j_per_image', 0.0), 'J')} per image"
            )
    if "compute.sparsity.block_skip" in fields and result.extras.get("sparsity") is not None:
        block = next(c for c in changes if c.startswith("compute.sparsity.block_skip")).split("-> ")[-1]
        shape = [int(x) for x in block.strip("[]").split(",")] if block.startswith("[") else None
        stat = block_stat_name(shape[0], shape[1]) if shape else ""
        if no_stats:
            out.append("block skipping: the trace has no value statistics; skip masks cost metadata and skip nothing")
        else:
            out.append(
                f"block skipping: {stat} {_pct(mac_weighted(workload, stat))} (MAC-weighted){origin}; "
                f"skipped {si(sp.get('skipped_cycles_per_image', 0.0))} cycles, "
                f"metadata {si(sp.get('metadata_bytes_per_image', 0.0), 'B')} per image"
            )
    if "compute.sparsity.temporal_delta" in fields:
        if no_stats:
            out.append("temporal deltas: the trace has no value statistics (one call recorded); deltas unknown")
        else:
            d8 = mac_weighted(workload, "delta_int8_zero_frac", 1)
            d4 = mac_weighted(workload, "delta_int4_zero_frac", 1)
            out.append(
                f"temporal deltas: delta_int8_zero_frac {_pct(d8)}, delta_int4_zero_frac {_pct(d4)} "
                f"(MAC-weighted, steps >= 1){origin}; extra state traffic "
                f"{si(sp.get('delta_extra_bytes_per_image', 0.0), 'B')} per image"
            )
    res = result.extras.get("weight_residency")
    if "memory.weight_residency" in fields and res is not None:
        out.append(f"weight residency: {res.get('note', '')}")
    return tuple(out)


def component_moves(prev: DesignResult, cur: DesignResult, top: int = 3) -> str:
    """The ``top`` energy components that moved most (J per image, signed)."""
    keys = set(prev.energy_breakdown_j) | set(cur.energy_breakdown_j)
    moves = sorted(
        ((k, cur.energy_breakdown_j.get(k, 0.0) - prev.energy_breakdown_j.get(k, 0.0)) for k in keys),
        key=lambda kv: (-abs(kv[1]), kv[0]),
    )
    parts = [f"{k} {'+' if d >= 0 else '-'}{si(abs(d), 'J')}" for k, d in moves[:top] if d != 0.0]
    return "energy moved: " + (", ".join(parts) if parts else "nothing")
