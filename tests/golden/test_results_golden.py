"""Golden results: every design in scenarios/arch/ on every committed trace.

Each ``tests/golden/results/<trace>.json`` holds, per design, the per-step and per-image
latency and energy, the energy breakdown, area, utilisation, stall and traffic totals, the
sparsity savings, per-kind sums and the mapping of the first GEMM ops (analytic mode; the
event mode too for the small ``tiny-unet`` trace). A change to the model shows up here as a
readable list of what moved. When the change is intended, regenerate and commit::

    pytest tests/golden --regen-golden
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from accelerator.spec import load_arch
from models.workload import load
from simulator.evaluation import evaluate_prepared
from simulator.optable import prepare
from simulator.result import DesignResult

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
TRACES = sorted((ROOT / "scenarios" / "workloads").glob("*.workload.json.gz"))
ARCHS = sorted((ROOT / "scenarios" / "arch").glob("*.yaml"))
EVENT_TRACES = ("tiny-unet",)
REL_TOL = 1e-7
MAPPED_OPS = 5


def _r(x: float) -> float:
    return float(f"{x:.9g}")


def summary(d: DesignResult) -> dict[str, Any]:
    """The golden record of one design's result."""
    by_kind: dict[str, dict[str, float]] = {}
    for o in d.per_op:
        k = by_kind.setdefault(o.kind, {"ops": 0, "cycles": 0.0, "energy_j": 0.0})
        k["ops"] += 1
        k["cycles"] += o.cycles
        k["energy_j"] += o.energy_j
    mapped: dict[str, Any] = {}
    for o in d.per_op:
        if len(mapped) >= MAPPED_OPS:
            break
        if o.mapping.get("gemms"):
            mapped[str(o.index)] = {
                key: o.mapping[key] for key in ("glb_tile_mnk", "loop_order", "input_resident", "output_kept")
            }
    x = d.extras
    doc = {
        "latency_s_per_step": d.latency_s_per_step,
        "latency_s_per_image": d.latency_s_per_image,
        "energy_j_per_step": d.energy_j_per_step,
        "energy_j_per_image": d.energy_j_per_image,
        "energy_breakdown_j": dict(d.energy_breakdown_j),
        "area_mm2": d.area_mm2,
        "mean_utilization": x["mean_utilization"],
        "stall_cycles_per_image": x["stall_cycles_per_image"],
        "traffic_bytes_per_image": x["traffic_bytes_per_image"],
        "sparsity": x["sparsity"],
        "by_kind": by_kind,
        "mapping": mapped,
    }
    return json.loads(json.dumps(doc, sort_keys=True), parse_float=lambda s: _r(float(s)))


def compute(trace: Path) -> dict[str, Any]:
    w = load(trace)
    table = prepare(w)
    out: dict[str, Any] = {"trace": trace.name, "steps": w.steps, "designs": {}}
    for path in ARCHS:
        arch = load_arch(path)
        rec = {"analytic": summary(evaluate_prepared(table, arch))}
        if trace.name.removesuffix(".workload.json.gz") in EVENT_TRACES:
            rec["event"] = summary(evaluate_prepared(table, arch, fidelity="event"))
        out["designs"][path.stem] = rec
    return out


def differences(golden: Any, now: Any, path: str = "") -> list[str]:
    """Readable lines ``path: golden -> now`` for everything that moved."""
    if isinstance(golden, dict) and isinstance(now, dict):
        lines = []
        for key in sorted(set(golden) | set(now)):
            where = f"{path}.{key}" if path else str(key)
            if key not in now:
                lines.append(f"{where}: missing now (golden {golden[key]!r})")
            elif key not in golden:
                lines.append(f"{where}: new {now[key]!r} (not in golden)")
            else:
                lines += differences(golden[key], now[key], where)
        return lines
    if isinstance(golden, float) or isinstance(now, float):
        if (
            isinstance(golden, (int, float))
            and isinstance(now, (int, float))
            and math.isclose(golden, now, rel_tol=REL_TOL, abs_tol=1e-30)
        ):
            return []
        rel = (
            (now - golden) / abs(golden)
            if isinstance(golden, (int, float)) and isinstance(now, (int, float)) and golden
            else float("nan")
        )
        return [f"{path}: {golden!r} -> {now!r} ({rel:+.3%})"]
    return [] if golden == now else [f"{path}: {golden!r} -> {now!r}"]


@pytest.mark.parametrize("trace", TRACES, ids=[t.name.split(".")[0] for t in TRACES])
def test_golden_results(trace: Path, regen_golden: bool) -> None:
    golden_path = RESULTS / f"{trace.name.removesuffix('.workload.json.gz')}.json"
    if regen_golden:
        RESULTS.mkdir(parents=True, exist_ok=True)
        text = json.dumps(compute(trace), indent=1, sort_keys=True) + "\n"
        golden_path.write_text(text, encoding="utf-8")
        return
    if not golden_path.is_file():
        pytest.fail(f"no golden for {trace.name}: run `pytest tests/golden --regen-golden` and commit")
    now = compute(trace)
    golden = json.loads(golden_path.read_text(encoding="utf-8"))
    unpinned = sorted(set(now["designs"]) - set(golden["designs"]))
    assert not unpinned, (
        f"design(s) {', '.join(unpinned)} have no golden entry for {trace.name}: "
        "run `pytest tests/golden --regen-golden`, review the diff and commit"
    )
    diff = differences(golden, now)
    assert not diff, (
        f"{len(diff)} golden value(s) of {trace.name} moved (if intended: "
        "`pytest tests/golden --regen-golden` and commit):\n  " + "\n  ".join(diff[:60])
    )


def test_every_golden_file_has_its_trace() -> None:
    """A golden left behind by a removed trace is stale: it would never be checked."""
    names = {t.name.removesuffix(".workload.json.gz") for t in TRACES}
    stale = sorted(p.stem for p in RESULTS.glob("*.json") if p.stem not in names)
    assert not stale, f"golden results without a trace in scenarios/workloads: {stale}"


def test_differences_are_readable() -> None:
    assert differences({"a": {"b": 1.0, "c": "x"}}, {"a": {"b": 1.5, "c": "x"}}) == ["a.b: 1.0 -> 1.5 (+50.000%)"]
    assert differences({"a": 1.0}, {"a": 1.0 + 1e-12}) == []
    assert differences({"a": 1}, {}) == ["a: missing now (golden 1)"]
