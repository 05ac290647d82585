"""Summaries of a workload: FLOPs by kind, weight source, sparsity per step (torch-free).

Per-step aggregates are over the ops that do MACs (conv, gemm, attention), weighted by each
op's MACs: "the fraction of MAC work whose activation operand is zero (or whose delta to the
previous step is zero)", the quantity sparse hardware can exploit. ``None`` where nothing
was recorded.

A trace's ``steps`` counts the model calls of the sampling loop it traced (one denoising step
each; PNDM, SD-1.5's own sampler, makes one call more than its steps: 51 for 50). The text
summary says how many calls were traced and recorded, and that "per image" is the FLOPs of
one call times those calls; ``picojoule run`` multiplies by a scenario's ``steps:`` instead.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from models.workload import OP_KINDS, Workload
from models.zoo import list_models
from models.zoo.catalog import registry_by_name

SUMMARY_STEP_FIELDS = (
    "act_zero_frac",
    "act_near_zero_frac",
    "delta_int8_zero_frac",
    "delta_int4_zero_frac",
)


def weighted_step_stat(w: Workload, name: str, step: int) -> float | None:
    """MAC-weighted mean of a statistic over the MAC ops of one step."""
    table = w.stats.get(name)
    if table is None:
        return None
    num = 0.0
    den = 0
    for op, value in zip(w.ops, table[step], strict=True):
        if value is None or op.macs == 0:
            continue
        num += value * op.macs
        den += op.macs
    return num / den if den else None


def flops_by_kind(w: Workload) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for op in w.ops:
        totals[op.kind] += op.flops
    return {k: totals[k] for k in OP_KINDS if k in totals}


def summary_json(w: Workload) -> dict[str, Any]:
    """The ``picojoule trace --summary FILE --json`` document (shape fixed by issue 3)."""
    per_step = [{"step": s, **{f: weighted_step_stat(w, f, s) for f in SUMMARY_STEP_FIELDS}} for s in range(w.steps)]
    return {
        "model": w.provenance.get("model"),
        "weights": w.provenance.get("weights"),
        "steps": w.steps,
        "ops_per_step": len(w.ops),
        "flops_per_step": w.flops_per_step,
        "flops_by_kind": flops_by_kind(w),
        "per_step": per_step,
    }


#: Column headers of the sparsity table and what each column measures (docs/workload-format.md).
SPARSITY_COLUMNS = (
    ("act=0", "activation values exactly zero"),
    ("act~0", "activation values near zero (|x| <= max(1e-6, max|x|/256), 0 in per-tensor int8)"),
    ("d8=0", "int8 step-to-step delta of the activations zero (none at step 0)"),
    ("d4=0", "the same at int4"),
)


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def steps_lines(w: Workload) -> list[str]:
    """What the trace's steps are, one call's cost, and what "per image" counts (module docstring)."""
    p = w.provenance
    calls = w.steps
    sampler_steps = p.get("steps")
    scheduler = p.get("scheduler", "?")
    recorded = len(next(iter(w.stats.values()))) if w.stats else 1
    loop = f"sampling loop: {_n(calls, 'model call')}"
    if isinstance(sampler_steps, int):
        loop = f"sampling loop: {_n(sampler_steps, f'{scheduler} step')}, {_n(calls, 'model call')}"
        if sampler_steps != calls:
            loop += f" (this sampler calls the model {calls} times for {sampler_steps} steps)"
    if recorded == calls:
        loop += f"; {'all ' if calls > 1 else ''}{calls} recorded" + (" with value statistics" if w.stats else "")
    else:
        loop += f"; {recorded} of {calls} recorded (every call runs the same ops)"
    aten = p.get("aten_ops_per_step")
    per_step = (
        f"per step (one model call): {len(w.ops)} ops" + (f" ({aten} aten ops incl. views)" if aten else "") + ","
        f" {w.flops_per_step / 1e9:.3f} GFLOPs ({w.macs_per_step / 1e9:.3f} GMACs)"
    )
    per_image = f"per image: {w.flops_per_step * calls / 1e9:.2f} GFLOPs = {_n(calls, 'call')} of the traced loop"
    default = _default_steps(p.get("model"))
    if default is not None and default != sampler_steps:
        per_image += f" ({p.get('model')} samples {default} steps by default)"
    scenario = "  (`picojoule run` multiplies one call by the scenario's `steps:` instead, when it sets one)"
    return [loop, per_step, per_image, scenario]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _default_steps(model: Any) -> int | None:
    """The zoo's default sampling steps of ``model``, or ``None`` for a model not in the zoo."""
    if not isinstance(model, str) or model not in list_models():
        return None
    return registry_by_name()[model].default_steps


def tensor_ids_note(w: Workload) -> str | None:
    """Why a workload has no producer→consumer edges, or ``None`` when it has tensor ids."""
    if w.has_tensor_ids:
        return None
    if w.format_version < 2:
        return (
            f"version {w.format_version} file: no tensor identities, producer→consumer edges unknown;"
            " re-trace to get them (or python -m models.trace.migrate FILE)"
        )
    return "no tensor identities (a hand-written workload): producer→consumer edges unknown"


def summary_text(w: Workload, source: str = "") -> str:
    """A readable summary of a workload."""
    p = w.provenance
    weights = str(p.get("weights", "unknown"))
    lines = [f"workload {source}".rstrip()]
    lines.append(
        f"  model {p.get('model', '?')}, resolution {p.get('resolution', '?')}"
        f" ({p.get('resolution_unit', 'pixels')}), batch {p.get('batch', '?')},"
        f" scheduler {p.get('scheduler', '?')}, cfg {p.get('cfg', False)}"
    )
    lines.append(f"  weights: {weights}  ({p.get('weights_source', '')})")
    if weights == "random-init":
        lines.append(
            "  NOTE: random-init weights give true shapes, FLOPs and op mix but NOT the sparsity of a trained model"
        )
    lines.extend(f"  {line}" for line in steps_lines(w))
    note = tensor_ids_note(w)
    if note:
        lines.append(f"  NOTE: {note}")
    counts = Counter(op.kind for op in w.ops)
    total = max(w.flops_per_step, 1)
    lines.append("  kind          ops     GFLOPs   share")
    for kind, flops in flops_by_kind(w).items():
        lines.append(f"  {kind:<12}{counts[kind]:5d} {flops / 1e9:10.3f}  {100 * flops / total:5.1f}%")
    if w.unsupported:
        lines.append("  NOT COSTED (listed, not counted as zero work):")
        for u in w.unsupported:
            lines.append(f"    {u.get('name')} x{u.get('count', 1)}: {u.get('reason', '')}")
    if w.stats:
        label = " (random-init: not trained-model sparsity)" if weights == "random-init" else ""
        lines.append(f"  sparsity per step, MAC-weighted over conv/gemm/attention{label}:")
        lines.extend(f"    {head:<6} {meaning}" for head, meaning in SPARSITY_COLUMNS)
        lines.append("  step " + " ".join(f"{head:<7}" for head, _ in SPARSITY_COLUMNS).rstrip())
        for s in range(w.steps):
            vals = [weighted_step_stat(w, f, s) for f in SUMMARY_STEP_FIELDS]
            lines.append(f"  {s:4d} " + " ".join(_pct(v) for v in vals))
    else:
        lines.append("  no value statistics recorded (trace with --stats)")
    return "\n".join(lines)
