"""Our numbers beside the peers' on the same layers: the tables of ``docs/validation.md``.

Peer outputs are committed under ``scenarios/validation/peers/<peer>/`` with the version, date
and machine that made them (``meta.json``; the scripts are ``tests/validation/peers/regen_*.py``);
our side evaluates the specs under ``scenarios/validation/`` with :func:`simulator.evaluate`
(analytic). Both are read through :func:`accelerator.files.packaged_scenario`, so
``picojoule validation`` runs from an installed wheel as from a checkout. Nothing here tunes
anything: a row only says how far apart the two numbers are and what the issue's goal was.

- **SCALE-Sim v3** (``scalesim``): per-layer compute cycles of 7 layers on a 32×32 and a
  128×128 array, all three dataflows. SCALE-Sim's "Total Cycles" in CALC bandwidth mode have
  no DRAM stall, so they compare with our ``compute_cycles`` (array time, no memory). Two of
  ours: ``compute_cycles`` (the design as specified; the mapper's buffer tiles restart the
  array's fill and drain per tile) and ``compute_cycles_ideal`` (unbounded buffer and DRAM,
  mapper minimising latency: one tile per layer, the SCALE-Sim situation); both again with the
  loop-nest engine (:func:`with_nest`, the array's fill and drain per change of the stationary
  tile: ``simulator.cost.nest.systolic``), design names ending in `` nest``.
- **ZigZag** (``zigzag``): its bundled ``tpu_like`` hardware; per-layer latency (cycles) and
  energy (pJ, ZigZag has no leakage, so ours without leakage), mapped with the objective
  ZigZag's LOMA search ran (``meta.json``'s ``opt``).
- **Eyeriss** (``eyeriss``): the published AlexNet CONV1–5 totals at batch 4 (JSSC 2017).

All three are compared twice: with the spec as committed (``mapping.memory_model``
one_level, design names as in the spec) and with the loop-nest engine (:func:`with_nest`, design
names ending in ``-nest``, SCALE-Sim's in `` nest``; Eyeriss with its row-stationary dataflow,
which only that model has), so the two memory models stand side by side on the same specs.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SimulationError
from accelerator.files import packaged_scenario
from accelerator.spec import ArchSpec, load_arch
from models.layers import load_layers_yaml, load_scalesim_csv
from models.workload import Workload
from simulator.evaluation import evaluate
from simulator.result import DesignResult

#: Where the specs and the peers' committed outputs live, relative to ``scenarios/``.
SCENARIOS = "validation"
PEERS = "validation/peers"
DATAFLOWS = {"ws": "weight_stationary", "os": "output_stationary", "is": "input_stationary"}
#: The issue's goals (issue 13, item 7): relative error allowed per peer and metric.
GOALS = {
    ("scalesim", "compute_cycles"): 0.02,
    ("scalesim", "compute_cycles_ideal"): 0.02,
    ("zigzag", "cycles"): 0.15,
    ("zigzag", "energy_pj"): 0.15,
    ("eyeriss", "latency_ms"): 0.25,
    ("eyeriss", "dram_mb"): 0.25,
    ("eyeriss", "chip_energy_mj"): 0.30,
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
    def goal(self) -> float:
        return GOALS[(self.peer, self.metric)]

    @property
    def within_goal(self) -> bool:
        return abs(self.ratio - 1.0) <= self.goal


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


def _spec(name: str) -> Path:
    """A committed validation input, ``scenarios/validation/<name>`` (wheel or checkout)."""
    return packaged_scenario(f"{SCENARIOS}/{name}")


def _peer(name: str) -> Path:
    """A peer's committed output, ``scenarios/validation/peers/<name>`` (wheel or checkout)."""
    return packaged_scenario(f"{PEERS}/{name}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimulationError(f"{path}: validation data unreadable ({exc}); reinstall picojoule") from None
    return data


def _read_csv(path: Path) -> list[dict[str, str]]:
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
    """``arch`` with unbounded buffers (capacity and bandwidth) and a DRAM that never stalls (no
    latency)."""
    data = arch.model_dump()
    for lv in data["memory"]["levels"]:
        if not lv["per_pe"]:
            lv["size_bytes"] = IDEAL_BUFFER_BYTES
            lv["bandwidth_bytes_per_cycle"] = IDEAL_BUFFER_BYTES_PER_CYCLE
            lv["banks"] = min(IDEAL_BUFFER_BANKS, -(-IDEAL_BUFFER_BYTES_PER_CYCLE * 8 // lv["width_bits"]))
    data["memory"]["dram"].update(bandwidth_gb_per_s=IDEAL_DRAM_GB_PER_S, latency_ns=0.0)
    data["name"] = f"{arch.name}-ideal"
    return ArchSpec.model_validate(data)


def _by_name(result: DesignResult) -> dict[str, Any]:
    return {op.name: op for op in result.per_op}


def scalesim_rows() -> tuple[list[Row], Timing]:
    """SCALE-Sim compute cycles beside ours, per array, dataflow and layer, with each memory
    model (as specified and with ideal memory)."""
    meta = _read_json(_peer("scalesim/meta.json"))
    peer = _read_csv(_peer("scalesim/results.csv"))
    workload = load_scalesim_csv(_peer("scalesim/topology.csv"))
    rows: list[Row] = []
    spent = 0.0
    for array in meta["arrays"]:
        size = f"{array['rows']}x{array['cols']}"
        base = load_arch(_spec(f"scalesim-{size}.yaml"))
        for df in meta["dataflows"]:
            for model in ("one_level", "nest"):
                arch = with_dataflow(base, DATAFLOWS[df])
                arch = arch if model == "one_level" else with_nest(arch)
                t0 = time.perf_counter()
                spec = _by_name(evaluate(workload, arch))
                if model == "one_level":
                    spent += time.perf_counter() - t0
                ideal = _by_name(evaluate(workload, ideal_memory(arch), objective="latency"))
                design = f"{size} {df}" + ("" if model == "one_level" else " nest")
                for rec in peer:
                    if rec["array"] != size or rec["dataflow"] != df:
                        continue
                    layer, theirs = rec["layer"], float(rec["compute_cycles"])
                    for metric, ours in (("compute_cycles", spec), ("compute_cycles_ideal", ideal)):
                        rows.append(Row("scalesim", design, layer, metric, ours[layer].compute_cycles, theirs, model))
    timing = Timing(
        "scalesim",
        spent,
        float(meta["wall_s_total"]),
        f"different runs: ours now (one_level), SCALE-Sim {meta['version']} on {meta['date']} "
        f"({meta['machine']['cpus']} CPUs); {len(meta['arrays']) * len(meta['dataflows'])} designs",
    )
    return rows, timing


def zigzag_rows() -> tuple[list[Row], Timing]:
    """ZigZag's latency and energy on its tpu_like example beside ours on the same spec, with
    each memory model."""
    meta = _read_json(_peer("zigzag/meta.json"))
    peer = _read_csv(_peer("zigzag/results.csv"))
    workload = load_scalesim_csv(_peer("scalesim/topology.csv"))
    wanted = {rec["layer"] for rec in peer}
    workload = Workload(ops=tuple(op for op in workload.ops if op.name in wanted), steps=1)
    base = load_arch(_spec("zigzag-tpu-like.yaml"))
    rows: list[Row] = []
    spent = 0.0
    for model, arch in (("one_level", base), ("nest", with_nest(base, NEST_DATAFLOW.get(base.name)))):
        t0 = time.perf_counter()
        ours = _by_name(evaluate(workload, arch, objective=meta["opt"]))  # LOMA's objective, as run
        if model == "one_level":
            spent = time.perf_counter() - t0
        for rec in peer:
            op = ours[rec["layer"]]
            energy_pj = (op.energy_j - op.energy_breakdown_j.get("leakage", 0.0)) * 1e12
            theirs_cyc, theirs_e = float(rec["latency_cycles"]), float(rec["energy_total_pj"])
            rows.append(Row("zigzag", arch.name, rec["layer"], "cycles", op.cycles, theirs_cyc, model))
            rows.append(Row("zigzag", arch.name, rec["layer"], "energy_pj", energy_pj, theirs_e, model))
    timing = Timing(
        "zigzag",
        spent,
        float(meta["wall_s_total"]),
        f"different runs: ours now, ZigZag {meta['version']} (LOMA, opt={meta['opt']}) on {meta['date']}",
    )
    return rows, timing


def eyeriss_rows() -> list[Row]:
    """The published AlexNet CONV1–5 batch-4 totals beside ours (per layer is not available),
    with each memory model."""
    pub = _read_json(_peer("eyeriss/published.json"))
    workload = load_layers_yaml(_spec("alexnet-conv-b4.layers.yaml"))
    base = load_arch(_spec("eyeriss.yaml"))
    latency_ms = pub["batch"] / pub["frames_per_s"] * 1e3
    layer = "CONV1-5 (N=4)"
    rows: list[Row] = []
    for model, arch in (("one_level", base), ("nest", with_nest(base, NEST_DATAFLOW.get(base.name)))):
        result = evaluate(workload, arch)
        dram_j = result.energy_breakdown_j.get("dram", 0.0)
        dram_b = sum(op.traffic_bytes.get("dram", 0.0) for op in result.per_op)
        chip_mj = (result.energy_j_per_image - dram_j) * 1e3
        rows += [
            Row("eyeriss", arch.name, layer, "latency_ms", result.latency_s_per_image * 1e3, latency_ms, model),
            Row("eyeriss", arch.name, layer, "dram_mb", dram_b / 1e6, pub["dram_mb_per_batch"], model),
            Row(
                "eyeriss", arch.name, layer, "chip_energy_mj", chip_mj, pub["chip_power_mw"] * latency_ms * 1e-3, model
            ),
        ]
    return rows


def build_report() -> Report:
    """Every comparison: SCALE-Sim, ZigZag, Eyeriss (a missing committed input raises
    :class:`accelerator.files.PackagedInputError` naming it)."""
    s_rows, s_time = scalesim_rows()
    z_rows, z_time = zigzag_rows()
    e_rows = eyeriss_rows()
    sources = {
        "scalesim": _read_json(_peer("scalesim/meta.json")),
        "zigzag": _read_json(_peer("zigzag/meta.json")),
        "eyeriss": _read_json(_peer("eyeriss/published.json")),
    }
    return Report(tuple(s_rows + z_rows + e_rows), (s_time, z_time), sources)


def ours_golden(rows: tuple[Row, ...] | list[Row]) -> dict[str, float]:
    """Our numbers keyed ``peer/design/layer/metric`` (the regression file of tests/validation)."""
    return {f"{r.peer}/{r.design}/{r.layer}/{r.metric}": float(f"{r.ours:.9g}") for r in rows}


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "rows": [
            {
                "peer": r.peer,
                "design": r.design,
                "layer": r.layer,
                "metric": r.metric,
                "model": r.model,
                "ours": r.ours,
                "theirs": r.theirs,
                "ratio": r.ratio,
                "goal_rel": r.goal,
                "within_goal": r.within_goal,
            }
            for r in report.rows
        ],
        "timings": [
            {"peer": t.peer, "ours_s": t.ours_s, "peer_s": t.peer_s, "speedup": t.speedup, "note": t.note}
            for t in report.timings
        ],
        "sources": report.sources,
    }


def format_tables(report: Report) -> str:
    """Plain-text tables, one per peer, then the speed ratios."""
    out: list[str] = []
    for peer in ("scalesim", "zigzag", "eyeriss"):
        rows = [r for r in report.rows if r.peer == peer]
        if not rows:
            continue
        out.append(f"== {peer} ==")
        out.append(
            f"{'design':<22} {'model':<9} {'layer':<16} {'metric':<22} {'ours':>14} {'peer':>14} {'ratio':>7}  goal"
        )
        for r in sorted(rows, key=lambda r: (r.layer, r.metric, r.model)) if peer != "scalesim" else rows:
            mark = "ok" if r.within_goal else "MISS"
            out.append(
                f"{r.design:<22} {r.model:<9} {r.layer:<16} {r.metric:<22} {r.ours:>14.6g} {r.theirs:>14.6g} "
                f"{r.ratio:>7.3f}  ±{r.goal:.0%} {mark}"
            )
        out.append("")
    out.append("== speed (wall time on the same layers) ==")
    for t in report.timings:
        out.append(f"{t.peer:<9} ours {t.ours_s:.3f} s, peer {t.peer_s:.1f} s: {t.speedup:.0f}x faster ({t.note})")
    return "\n".join(out)
