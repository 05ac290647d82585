"""Our multi-core model beside Stream's (stream-dse 2.1.1) on Stream's own example systems.

Stream's committed outputs (``scenarios/validation/peers/stream/``: one JSON per run, and
``metadata.json`` with versions and each run's wall time; how Stream counts: its
``architectures.md``) hold the latency in cycles and the energy with its breakdown for ten runs:
three example systems (eyeriss_like_single_core, tpu_like_quad_core, fusemax) on two workloads
(2conv, swiglu), layer by layer and fused. Our side evaluates, with
:func:`simulator.system.evaluate_system`, the same systems written into our spec from Stream's
parameters alone (``scenarios/validation/stream/*.yaml``, every choice commented there) on the
same layers (``2conv.layers.yaml``, ``swiglu.workload.json``). Nothing is tuned.

- **Memory model**: every run twice, with the specs as written (``mapping.memory_model``
  one_level) and with every core costed by the loop-nest engine
  (:func:`simulator.validation.compare.with_nest`), as the single-core comparisons do.
- **Fusion**: Stream's ``layer_by_layer`` is ours with ``fused=False`` and ``inter_op_reuse=False``
  (every intermediate written to DRAM and read back, as Stream's layer-by-layer groups do; our
  single-core model would otherwise keep one that fits on chip); its ``fused`` and
  ``fused_fine`` (an explicit finer tiling, which our scheduler does not take) are both ours with
  ``fused=True`` and ``inter_op_reuse=False`` (the depth searched up to the system's
  ``max_fusion_depth``, objective latency as Stream's MILP: only fusion keeps an edge on chip).
- **Units**: every core of ours runs at 1 GHz (Stream states no clock), so seconds x 1e9 are
  Stream's cycles; energies in pJ.
- **Breakdown**, three classes both sides can name: *MAC* (Stream's core MAC; ours compute +
  vector), *on-chip* (Stream's core memory + on-chip ports, the DMA reads and writes of the top
  SRAMs; ours every on-chip level, leakage included, 0 in these specs) and *off-chip* (Stream's
  DRAM port + links; ours DRAM + NoC + die-to-die).
- **Speed**: our evaluation time per run (``evaluate_system`` alone, in this process) against
  Stream's wall time for the same run (``metadata.json``: mapping generation, ZigZag per core and
  the MILP, measured by ``tests/validation/peers/regen_stream.py`` in another process on the same
  2-core machine).

What each side models that the other does not, and why the rows disagree: ``docs/validation.md``
("Stream").
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SimulationError
from accelerator.files import packaged_scenario
from accelerator.system import SystemSpec, load_system
from models.layers import load_layers_yaml
from models.workload import Workload
from models.workload.files import load as load_workload_file
from simulator.system import SystemResult, evaluate_system
from simulator.validation.compare import with_nest

#: Where Stream's committed outputs and our specs live, relative to ``scenarios/``.
PEER = "validation/peers/stream"
OURS = "validation/stream"
#: Stream's example hardware (the run names' first part) -> our system file.
SYSTEMS = {"eyeriss1": "eyeriss1.yaml", "tpu4": "tpu4.yaml", "fusemax": "fusemax.yaml"}
#: Stream's workloads -> our layer files (swiglu needs elementwise ops and real edges: a trace-format file).
WORKLOADS = {"2conv": "2conv.layers.yaml", "swiglu": "swiglu.workload.json"}
#: Stream's fusion modes -> ours (``fused`` argument of evaluate_system).
FUSED = {"layer_by_layer": False, "fused": True, "fused_fine": True}
#: All our Stream specs run at 1 GHz: cycles per second.
CLOCK_HZ = 1e9
#: Issue 16, item 4: latency and energy within 15 % of Stream's.
GOAL = 0.15
METRICS = ("latency", "energy")
#: Our memory models, each a column of rows (docs/memory-model.md).
MODELS = ("one_level", "nest")
#: Our energy-breakdown keys that are MACs and off-chip traffic; every other key is on-chip memory.
MAC_KEYS = frozenset({"compute", "vector"})
OFFCHIP_KEYS = frozenset({"dram", "noc", "d2d"})


@dataclass(frozen=True)
class EnergySplit:
    """Energy in the three classes both sides can name, pJ."""

    mac_pj: float
    onchip_pj: float
    offchip_pj: float

    @property
    def total_pj(self) -> float:
        return self.mac_pj + self.onchip_pj + self.offchip_pj


@dataclass(frozen=True)
class StreamRun:
    """One of Stream's committed runs."""

    run: str  # "<hardware>__<workload>__<fusion>"
    hardware: str
    workload: str
    fusion: str  # layer_by_layer | fused | fused_fine
    latency_cycles: float
    energy_pj: float
    classes_pj: dict[str, float]  # Stream's energy_classes_pj
    wall_s: float  # Stream's wall time for the run (metadata.json)

    @property
    def split(self) -> EnergySplit:
        c = self.classes_pj
        return EnergySplit(
            c["core_mac"],
            c["core_memory"] + c["transfer_onchip_ports"],
            c["transfer_offchip_ports"] + c["transfer_links"],
        )


@dataclass(frozen=True)
class Row:
    """One Stream run beside ours."""

    stream: StreamRun
    model: str  # our memory model: one_level or nest
    latency_cycles: float
    energy_pj: float
    split: EnergySplit
    fusion_depth: int  # our searched depth (1: nothing fused)
    eval_s: float  # our evaluate_system time for this run

    @property
    def run(self) -> str:
        return self.stream.run

    @property
    def key(self) -> str:
        """``run/model``: the row's name in the golden and known-gaps files."""
        return f"{self.run}/{self.model}"

    def ratio(self, metric: str) -> float:
        """ours / Stream's for ``metric`` (latency or energy)."""
        if metric == "latency":
            return self.latency_cycles / self.stream.latency_cycles
        return self.energy_pj / self.stream.energy_pj

    def within_goal(self, metric: str) -> bool:
        return abs(self.ratio(metric) - 1.0) <= GOAL


@dataclass(frozen=True)
class StreamReport:
    rows: tuple[Row, ...]
    versions: dict[str, str]  # metadata.json's dependencies

    def ours_s(self, model: str) -> float:
        """Our evaluation time for every run with ``model``, s."""
        return sum(r.eval_s for r in self.rows if r.model == model)

    @property
    def stream_s(self) -> float:
        """Stream's wall time for every run, s."""
        return sum(r.stream.wall_s for r in self.rows if r.model == MODELS[0])


def _read_json(path: Path) -> dict[str, Any]:
    """A committed Stream file as a JSON object; a missing, unreadable or malformed one is an error."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        data = exc
    if not isinstance(data, dict):
        raise SimulationError(f"{path}: Stream validation data unreadable ({data}); reinstall picojoule")
    return data


def _number(doc: dict[str, Any], key: str, path: Path) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimulationError(f"{path}: {key}: expected a number, got {value!r}; reinstall picojoule")
    return float(value)


def load_runs() -> tuple[StreamRun, ...]:
    """Stream's committed runs, in ``metadata.json``'s order."""
    meta_path = packaged_scenario(f"{PEER}/metadata.json")
    meta = _read_json(meta_path)
    runs = []
    for entry in meta.get("runs", []):
        path = packaged_scenario(f"{PEER}/{entry['run']}.json")
        doc = _read_json(path)
        hardware, workload, fusion = str(entry["run"]).split("__")
        classes = doc.get("energy_classes_pj")
        if not isinstance(classes, dict):
            raise SimulationError(f"{path}: energy_classes_pj: missing; reinstall picojoule")
        runs.append(
            StreamRun(
                run=str(entry["run"]),
                hardware=hardware,
                workload=workload,
                fusion=fusion,
                latency_cycles=_number(doc, "total_latency_cycles", path),
                energy_pj=_number(doc, "total_energy_pj", path),
                classes_pj={str(k): _number(classes, k, path) for k in classes},
                wall_s=_number(entry, "wall_s", meta_path),
            )
        )
    if not runs:
        raise SimulationError(f"{meta_path}: no runs listed; reinstall picojoule")
    return tuple(runs)


def load_stream_workload(name: str) -> Workload:
    """Our layers of Stream's workload ``name`` (2conv or swiglu)."""
    path = packaged_scenario(f"{OURS}/{WORKLOADS[name]}")
    return load_layers_yaml(path) if path.name.endswith(".layers.yaml") else load_workload_file(path)


def our_split(result: SystemResult) -> EnergySplit:
    """Our energy per image in Stream's three classes, pJ."""
    mac = onchip = offchip = 0.0
    for key, joules in result.energy_breakdown_j.items():
        pj = joules * 1e12
        if key in MAC_KEYS:
            mac += pj
        elif key in OFFCHIP_KEYS:
            offchip += pj
        else:
            onchip += pj
    return EnergySplit(mac, onchip, offchip)


def load_stream_system(hardware: str, model: str = "one_level") -> SystemSpec:
    """Our system of Stream's example ``hardware``; with ``model`` nest, every core's arch costed by
    the loop-nest engine."""
    system = load_system(packaged_scenario(f"{OURS}/{SYSTEMS[hardware]}"))
    if model == "one_level":
        return system
    cores = tuple(c.model_copy(update={"arch": with_nest(c.arch)}) for c in system.cores)
    return system.model_copy(update={"cores": cores})


def build_report() -> StreamReport:
    """Every Stream run beside ours, once per memory model. Runs that map to the same evaluation of
    ours (``fused`` and ``fused_fine``) share it, and its time."""
    runs = load_runs()
    workloads = {name: load_stream_workload(name) for name in sorted({r.workload for r in runs})}
    done: dict[tuple[str, str, str, bool], tuple[SystemResult, float]] = {}
    rows = []
    for model, run in ((m, r) for m in MODELS for r in runs):
        key = (model, run.hardware, run.workload, FUSED[run.fusion])
        if key not in done:
            system = load_stream_system(run.hardware, model)
            start = time.perf_counter()
            result = evaluate_system(workloads[run.workload], system, fused=key[3], inter_op_reuse=False)
            done[key] = (result, time.perf_counter() - start)
        result, seconds = done[key]
        split = our_split(result)
        rows.append(
            Row(
                stream=run,
                model=model,
                latency_cycles=result.latency_s_per_image * CLOCK_HZ,
                energy_pj=result.energy_j_per_image * 1e12,
                split=split,
                fusion_depth=int(result.fusion_plan["step"]["depth"]),
                eval_s=seconds,
            )
        )
    meta = _read_json(packaged_scenario(f"{PEER}/metadata.json"))
    return StreamReport(tuple(rows), {str(k): str(v) for k, v in meta.get("dependencies", {}).items()})


def golden(rows: tuple[Row, ...]) -> dict[str, float]:
    """Our numbers keyed ``run/model/quantity`` (the regression file of tests/validation/test_stream.py)."""
    out: dict[str, float] = {}
    for r in rows:
        values = {
            "latency_cycles": r.latency_cycles,
            "energy_pj": r.energy_pj,
            "mac_pj": r.split.mac_pj,
            "onchip_pj": r.split.onchip_pj,
            "offchip_pj": r.split.offchip_pj,
            "fusion_depth": float(r.fusion_depth),
        }
        out.update({f"{r.key}/{k}": float(f"{v:.9g}") for k, v in values.items()})
    return out


def report_to_json(report: StreamReport) -> dict[str, Any]:
    return {
        "rows": [
            {
                "run": r.run,
                "model": r.model,
                "fusion": r.stream.fusion,
                "stream_latency_cycles": r.stream.latency_cycles,
                "ours_latency_cycles": r.latency_cycles,
                "latency_ratio": r.ratio("latency"),
                "stream_energy_pj": r.stream.energy_pj,
                "ours_energy_pj": r.energy_pj,
                "energy_ratio": r.ratio("energy"),
                "stream_split_pj": vars(r.stream.split),
                "ours_split_pj": vars(r.split),
                "ours_fusion_depth": r.fusion_depth,
                "goal_rel": GOAL,
                "ours_s": r.eval_s,
                "stream_s": r.stream.wall_s,
            }
            for r in report.rows
        ],
        "ours_s": {m: report.ours_s(m) for m in MODELS},
        "stream_s": report.stream_s,
        "versions": report.versions,
    }


def _uj(pj: float) -> str:
    return f"{pj / 1e6:,.2f}"


def _ratio(r: Row, metric: str) -> str:
    return f"{r.ratio(metric):.2f}" + ("" if r.within_goal(metric) else " ✗")


def format_table(report: StreamReport) -> str:
    """The comparison as Markdown tables (energies in µJ): totals per memory model, the breakdown,
    then the speed."""
    by_model = {m: [r for r in report.rows if r.model == m] for m in MODELS}
    version = report.versions.get("stream-dse", "?")
    out = [
        f"== stream (stream-dse {version}) ==",
        "| run | Stream cycles | one_level | ratio | nest | ratio | Stream µJ | one_level | ratio | nest | ratio |",
        "|---" * 11 + "|",
    ]
    for one, nest in zip(by_model["one_level"], by_model["nest"], strict=True):
        peer = one.stream
        out.append(
            f"| {peer.run} | {peer.latency_cycles:,.0f} | {one.latency_cycles:,.0f} | {_ratio(one, 'latency')} | "
            f"{nest.latency_cycles:,.0f} | {_ratio(nest, 'latency')} | {_uj(peer.energy_pj)} | {_uj(one.energy_pj)} | "
            f"{_ratio(one, 'energy')} | {_uj(nest.energy_pj)} | {_ratio(nest, 'energy')} |"
        )
    out += [
        "",
        "| run | model | MAC µJ Stream / ours | on-chip | off-chip | our fusion depth |",
        "|---" * 6 + "|",
    ]
    for r in (r for m in MODELS for r in by_model[m]):
        s, o = r.stream.split, r.split
        out.append(
            f"| {r.run} | {r.model} | {_uj(s.mac_pj)} / {_uj(o.mac_pj)} | {_uj(s.onchip_pj)} / {_uj(o.onchip_pj)} | "
            f"{_uj(s.offchip_pj)} / {_uj(o.offchip_pj)} | {r.fusion_depth} |"
        )
    ours = ", ".join(f"{m} {report.ours_s(m):.2f} s" for m in MODELS)
    speed = ", ".join(f"{m} {report.stream_s / max(report.ours_s(m), 1e-9):,.0f}x" for m in MODELS)
    out += [
        "",
        f"✗: outside ±{GOAL:.0%}. Speed for the {len(by_model['one_level'])} runs: ours {ours} (evaluate_system, "
        f"this process), Stream {report.stream_s:.1f} s (metadata.json, another process on the same machine): "
        f"{speed} faster",
    ]
    return "\n".join(out)
