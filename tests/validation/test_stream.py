"""Our multi-core model against Stream 2.1.1 (simulator/validation/stream.py; docs/validation.md,
"Stream").

- Stream's committed outputs parse, and their energy breakdown adds up to Stream's totals.
- ``stream_golden.json`` holds our side of every run: a model change that moves it fails here
  with a readable list (``pytest tests/validation --regen-validation`` rewrites it and
  ``stream_known_gaps.json``; then update docs/validation.md).
- Issue 16's goal (latency and energy within 15 % of Stream's) is one test per run and metric;
  the rows that miss today are strict xfails carrying the measured ratio and the cause.
- Structural facts that hold on both sides: fusing never moves more off-chip bytes or takes
  longer than layer by layer; four tpu-like cores beat one eyeriss-like core. One that should
  and does not hold on ours (four tpu-like cores beat one of them) is a strict xfail.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from accelerator.errors import PicojouleError
from accelerator.files import packaged_scenario
from accelerator.system import load_system
from simulator.system import evaluate_system
from simulator.validation import stream

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "stream_golden.json"
KNOWN_GAPS = HERE / "stream_known_gaps.json"
REL_TOL = 1e-7
#: Stream's JSON numbers carry 6 significant digits, so its classes add up to its total to this.
STREAM_SUM_TOL = 1e-5


@pytest.fixture(scope="module")
def report() -> stream.StreamReport:
    return stream.build_report()


def test_stream_outputs_parse_and_their_breakdown_adds_up() -> None:
    runs = stream.load_runs()
    assert len(runs) == 10
    assert {r.fusion for r in runs} == set(stream.FUSED)
    for r in runs:
        c = r.classes_pj
        assert math.isclose(c["core_mac"] + c["core_memory"], c["core_nodes"], rel_tol=STREAM_SUM_TOL), r.run
        assert math.isclose(r.split.total_pj, r.energy_pj, rel_tol=STREAM_SUM_TOL), r.run
        assert r.latency_cycles > 0 and r.wall_s > 0, r.run
        doc = json.loads(packaged_scenario(f"{stream.PEER}/{r.run}.json").read_text(encoding="utf-8"))
        groups = doc["groups"]
        assert all(g["solve"]["status"] == "OPTIMAL" for g in groups), r.run
        assert math.isclose(sum(g["energy_pj"]["total_pj"] for g in groups), r.energy_pj, rel_tol=STREAM_SUM_TOL)
        assert math.isclose(sum(g["latency_cycles"]["total"] for g in groups), r.latency_cycles, rel_tol=1e-9)


def test_our_breakdown_adds_up(report: stream.StreamReport) -> None:
    for r in report.rows:
        assert math.isclose(r.split.total_pj, r.energy_pj, rel_tol=1e-9), r.run
        assert r.split.mac_pj > 0 and r.split.onchip_pj > 0 and r.split.offchip_pj > 0, r.run


def test_mac_energy_is_the_same_closed_form_on_both_sides(report: stream.StreamReport) -> None:
    """MAC energy = MACs x the core's pJ per MAC on both sides (2conv: 5,898,240 MACs; the 0.1 pJ
    elementwise ops of swiglu are Stream's, ours cost the 45 nm table's vector op: within 10 %)."""
    macs_2conv = 16 * 8 * 9 * 32 * 32 + 32 * 16 * 9 * 32 * 32
    for r in report.rows:
        if r.stream.workload == "2conv":
            pj_per_mac = {"eyeriss1": 0.5, "tpu4": 0.04}[r.stream.hardware]
            assert math.isclose(r.split.mac_pj, macs_2conv * pj_per_mac, rel_tol=1e-9), r.run
            assert math.isclose(r.stream.split.mac_pj, macs_2conv * pj_per_mac, rel_tol=STREAM_SUM_TOL), r.run
        else:
            assert abs(r.split.mac_pj / r.stream.split.mac_pj - 1) < 0.1, r.run


def _regenerate(report: stream.StreamReport) -> None:
    GOLDEN.write_text(json.dumps(stream.golden(report.rows), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    gaps = {
        f"{r.key}/{m}": f"{_cause(r, m)}; measured ratio {r.ratio(m):.3f}"
        for r in report.rows
        for m in stream.METRICS
        if not r.within_goal(m)
    }
    KNOWN_GAPS.write_text(json.dumps(gaps, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def test_ours_match_the_golden(report: stream.StreamReport, regen_validation: bool) -> None:
    if regen_validation:
        _regenerate(report)
        pytest.skip("regenerated tests/validation/stream_golden.json and stream_known_gaps.json")
    ours = stream.golden(report.rows)
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    keys = sorted(set(golden) | set(ours))
    moved = [k for k in keys if not (k in golden and k in ours and math.isclose(golden[k], ours[k], rel_tol=REL_TOL))]
    assert not moved, "our side of the Stream comparison moved (pytest tests/validation --regen-validation, " + (
        "then update docs/validation.md):\n"
        + "\n".join(f"  {k}: golden {golden.get(k)} -> now {ours.get(k)}" for k in moved)
    )


# Why rows miss the goal today (docs/validation.md, "Stream"); --regen-validation writes the causes
# with the measured ratio into stream_known_gaps.json, which marks the goal tests below.
_KEPT = (
    "layer by layer, our single-core model still keeps an intermediate that fits the core's buffer on chip "
    "between consecutive ops of one core (input_resident / output_kept); Stream's layer-by-layer groups write it "
    "to DRAM and read it back (2conv: conv1_out, 2 x 262,144 bits)"
)
_SPLIT = (
    "our split divides output channels, so every tpu-like instance needs the whole input: Conv1's input (16 KiB) "
    "and conv1_out (32 KiB) go from the first instance to the other three over the 16 B/cycle bus, 9,216 cycles "
    "in series with the DRAM-bound ops (11,680 cycles at 8 B/cycle); Stream splits output rows (OY), broadcasts "
    "input and weights from DRAM in one transfer and moves only halo rows between cores (288 cycles)"
)
_RF = (
    "one level of tiling charges the per-PE level per MAC for activation, weight and 32-bit accumulator at the "
    "weight RF's 0.095 pJ per 8 b (1.14 pJ per MAC) where ZigZag, inside Stream, charges the weight and output "
    "registers per access (docs/validation.md, ZigZag)"
)
_CHAIN = (
    "each core's ops are evaluated as a chain (simulator.system.costs.sub_workload drops tensor ids), so "
    "Gemm_Right re-reads the input Gemm_Left read (32 KiB) and Elt_Mul still reads `right` from DRAM when fused "
    "(64 KiB; fusion saves no read of an op marked input-resident): 98,304 B more off chip than Stream's minimum"
)
_FINE = (
    "Stream's explicit finer tiling (fused_fine) is not an input of ours (our fused row is the fused run's); in "
    "Stream it costs more than the whole-layer fused run"
)
_SERIAL = (
    "Stream's layer-by-layer groups never overlap and each sends its output through DRAM; our list scheduler runs "
    "Silu on the vector core beside Gemm_Right on the array, and the array core's chain keeps Gemm_Right's output "
    "on chip"
)
_PORTS = (
    "ZigZag's eyeriss_like register files have 8-bit ports for 16-bit operands and its latency model stalls on "
    "them (Stream's per_node: compute efficiency 0.33, Conv1 21,048 cycles for 7,022 ideal); our per-PE level has "
    "one aggregate bandwidth (the sum of the ports), so our nest is bound by DRAM alone"
)
_EYE_RF = (
    "per-PE register files: ZigZag charges 10.9 pJ per MAC on eyeriss_like's (Conv1: 12.8 of its 13.4 uJ of memory "
    "energy), our nest 5.7 pJ (fewer accesses under its mapping; not traced further); our off-chip energy is higher "
    "(27.4 vs 11.7 uJ: the nest re-reads Conv2's input and weights, 162 kB against the 108 kB minimum, and the "
    "search keeps depth 1, see _TIE)"
)
_TIE = (
    "fused: depth 2 saves 8.19 uJ but its makespan is 81,872.00000000001 ns against 81,872.0 for depth 1, and "
    "the latency objective compares floats exactly (simulator/system/evaluate.py, _key), so depth 1 is kept"
)
_PSUMS = (
    "ZigZag's temporal mapping on tpu_like writes 32-bit partial sums back to the 2 MB SRAM (3.05 of Stream's "
    "6.1 uJ of core memory); our nest keeps them in the array (our glb + rf: 3.07 uJ in all)"
)
CAUSES = {
    "eyeriss1__2conv__layer_by_layer/one_level/energy": _KEPT,
    "tpu4__2conv__fused/one_level/latency": _SPLIT,
    "tpu4__2conv__fused/one_level/energy": _RF,
    "tpu4__2conv__fused_fine/one_level/latency": f"{_SPLIT}; {_FINE}",
    "tpu4__2conv__layer_by_layer/one_level/latency": f"{_KEPT}; and {_SPLIT}",
    "tpu4__2conv__layer_by_layer/one_level/energy": f"{_KEPT}; and {_RF}",
    "fusemax__swiglu__fused_fine/one_level/latency": _FINE,
    "fusemax__swiglu__layer_by_layer/one_level/latency": _SERIAL,
    "tpu4__swiglu__fused/one_level/energy": f"{_RF}; and {_CHAIN}",
    "eyeriss1__2conv__fused/nest/latency": _PORTS,
    "eyeriss1__2conv__layer_by_layer/nest/latency": _PORTS,
    "eyeriss1__2conv__fused/nest/energy": f"{_EYE_RF}; {_TIE}",
    "eyeriss1__2conv__layer_by_layer/nest/energy": _EYE_RF,
    "tpu4__2conv__fused/nest/latency": _SPLIT,
    "tpu4__2conv__fused_fine/nest/latency": f"{_SPLIT}; {_FINE}",
    "tpu4__2conv__layer_by_layer/nest/latency": _SPLIT,
    "tpu4__2conv__fused/nest/energy": _PSUMS,
    "tpu4__2conv__fused_fine/nest/energy": f"{_PSUMS}; {_FINE}",
}


def _cause(row: stream.Row, metric: str) -> str:
    return CAUSES.get(f"{row.key}/{metric}", "not explained yet: see docs/validation.md")


def _goal_params() -> list[object]:
    """One param per run and metric; those in stream_known_gaps.json are strict xfails, so a
    row that starts meeting the goal fails until the file is regenerated."""
    gaps = json.loads(KNOWN_GAPS.read_text(encoding="utf-8")) if KNOWN_GAPS.exists() else {}
    params: list[object] = []
    for r in stream.build_report().rows:
        for m in stream.METRICS:
            key = f"{r.key}/{m}"
            marks = [pytest.mark.xfail(strict=True, reason=gaps[key])] if key in gaps else []
            params.append(pytest.param(r, m, id=key, marks=marks))
    return params


@pytest.mark.parametrize(("row", "metric"), _goal_params())
def test_goal(row: stream.Row, metric: str) -> None:
    assert row.within_goal(metric), f"ratio {row.ratio(metric):.3f} (ours / Stream's), goal ±{stream.GOAL:.0%}"


def _by_run(report: stream.StreamReport, model: str = "one_level") -> dict[str, stream.Row]:
    return {r.run: r for r in report.rows if r.model == model}


@pytest.mark.parametrize("model", stream.MODELS)
@pytest.mark.parametrize("pair", ["eyeriss1__2conv", "tpu4__2conv", "fusemax__swiglu", "tpu4__swiglu"])
def test_fusing_never_costs_more_off_chip_or_time(report: stream.StreamReport, pair: str, model: str) -> None:
    rows = _by_run(report, model)
    fused, lbl = rows[f"{pair}__fused"], rows[f"{pair}__layer_by_layer"]
    for side_fused, side_lbl in ((fused.stream, lbl.stream), (fused, lbl)):
        assert side_fused.split.offchip_pj <= side_lbl.split.offchip_pj
        assert side_fused.latency_cycles <= side_lbl.latency_cycles


@pytest.mark.parametrize("model", stream.MODELS)
def test_four_tpu_cores_beat_one_eyeriss_core_on_both_sides(report: stream.StreamReport, model: str) -> None:
    rows = _by_run(report, model)
    for mode in ("fused", "layer_by_layer"):
        quad, single = rows[f"tpu4__2conv__{mode}"], rows[f"eyeriss1__2conv__{mode}"]
        assert quad.stream.latency_cycles < single.stream.latency_cycles
        assert quad.latency_cycles < single.latency_cycles


@pytest.mark.xfail(
    strict=True,
    reason="ours: the 2conv split over four tpu-like instances multicasts each layer's whole input from the "
    "first instance over the 16 B/cycle bus (9,216 cycles) on top of the same DRAM-bound time (8 B/cycle), so "
    "one instance is faster (13,482 vs 20,896 cycles); Stream has no one-core tpu run",
)
def test_four_tpu_cores_are_faster_than_one() -> None:
    """The quad system with one tpu-like instance instead of four (ours; Stream has no such run)."""
    quad = load_system(packaged_scenario(f"{stream.OURS}/tpu4.yaml"))
    one = quad.model_copy(update={"cores": (quad.cores[0].model_copy(update={"count": 1}), *quad.cores[1:])})
    workload = stream.load_stream_workload("2conv")
    t4 = evaluate_system(workload, quad).latency_s_per_image
    t1 = evaluate_system(workload, one).latency_s_per_image
    assert t4 < t1, f"four instances {t4 * 1e9:,.0f} cycles, one {t1 * 1e9:,.0f}"


def test_a_fused_layer_list_keeps_its_intermediate_off_dram(report: stream.StreamReport) -> None:
    """Off-chip energy of eyeriss1 2conv fused = the closed form on both sides (ours: the one-level
    model): input, both weights and the output once at 15.625 pJ/bit (131,072 + 18,432 + 73,728 +
    524,288 bits = 11.68 µJ)."""
    row = _by_run(report)["eyeriss1__2conv__fused"]
    bits = 8 * 32 * 32 * 16 + 16 * 8 * 9 * 16 + 32 * 16 * 9 * 16 + 32 * 32 * 32 * 16
    assert math.isclose(row.split.offchip_pj, bits * 15.625, rel_tol=1e-9)
    assert math.isclose(row.stream.split.offchip_pj, bits * 15.625, rel_tol=STREAM_SUM_TOL)


def test_the_table_names_every_run(report: stream.StreamReport) -> None:
    text = stream.format_table(report)
    assert all(r.run in text for r in report.rows)
    assert "Speed for the 10 runs" in text and "2.1.1" in text


def test_a_missing_committed_output_is_a_located_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "PEER", "validation/absent")
    with pytest.raises(PicojouleError, match="validation/absent/metadata.json"):
        stream.load_runs()
