"""Our multi-core model against Stream 2.1.1 (simulator/validation/stream.py; docs/validation.md,
"Stream").

- Stream's committed outputs parse, and their energy breakdown adds up to Stream's totals.
- ``stream_golden.json`` holds our side of every run: a model change that moves it fails here
  with a readable list (``pytest tests/validation --regen-validation`` rewrites it and
  ``stream_known_gaps.json``; then update docs/validation.md).
- Issue 16's goal (latency and energy within 15 % of Stream's) is one test per run and metric;
  the rows that miss today are strict xfails carrying the measured ratio and the cause.
- Structural facts that hold on both sides: fusing never moves more off-chip bytes or takes
  longer than layer by layer; four tpu-like cores beat one eyeriss-like core; ours: four
  tpu-like cores beat one of them. Closed forms both sides meet: the off-chip bytes of a fused
  layer list, of layer by layer (the intermediate through DRAM), of a row split's halo.
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
_OVERLAP = (
    "our list scheduler overlaps each op's DRAM transfers with its compute and runs at the DRAM port's rate "
    "(tpu4 2conv: layer by layer 158,976 B / 8 B/cycle = 19,872 cycles; fused 96,512 B = 12,064 cycles plus the "
    "halo exchange); Stream's slots serialise nodes and transfers within an iteration and its DRAM port is 79 % "
    "busy (architectures.md: 'transfer-bound'); layer by layer Stream also splits rows and reads 9,216 B of halo "
    "rows again, where our objective picks a channel split, its input broadcast from the shared DRAM"
)
_RF = (
    "one level of tiling charges the per-PE level per MAC for activation, weight and 32-bit accumulator at the "
    "weight RF's 0.095 pJ per 8 b (1.14 pJ per MAC) where ZigZag, inside Stream, charges the weight and output "
    "registers per access (docs/validation.md, ZigZag)"
)
_FINE = (
    "Stream's explicit finer tiling (fused_fine) is not an input of ours (our fused row is the fused run's); in "
    "Stream it costs more than the whole-layer fused run"
)
_PORTS = (
    "ZigZag's eyeriss_like register files have 8-bit ports for 16-bit operands and its latency model stalls on "
    "them (Stream's per_node: compute efficiency 0.33, Conv1 21,048 cycles for 7,022 ideal); our per-PE level has "
    "one aggregate bandwidth (the sum of the ports), so our nest is bound by DRAM alone"
)
_EYE_RF = (
    "per-PE register files: ZigZag charges 10.9 pJ per MAC on eyeriss_like's (Conv1: 12.8 of its 13.4 uJ of memory "
    "energy), our nest 5.7 pJ (fewer accesses under its mapping; not traced further); our off-chip energy is higher "
    "(7.54 uJ more than Stream's both ways: the nest's mapping re-reads Conv2's input and weights)"
)
_PSUMS = (
    "ZigZag's temporal mapping on tpu_like writes 32-bit partial sums back to the 2 MB SRAM (3.05 of Stream's "
    "6.1 uJ of core memory); our nest keeps them in the array (our glb + rf: 3.07 uJ in all)"
)
CAUSES = {
    "tpu4__2conv__fused/one_level/latency": _OVERLAP,
    "tpu4__2conv__fused/one_level/energy": _RF,
    "tpu4__2conv__fused_fine/one_level/latency": f"{_OVERLAP}; {_FINE}",
    "tpu4__2conv__layer_by_layer/one_level/latency": _OVERLAP,
    "fusemax__swiglu__fused_fine/one_level/latency": _FINE,
    "fusemax__swiglu__fused_fine/nest/latency": _FINE,
    "eyeriss1__2conv__fused/nest/latency": _PORTS,
    "eyeriss1__2conv__layer_by_layer/nest/latency": _PORTS,
    "eyeriss1__2conv__fused/nest/energy": _EYE_RF,
    "eyeriss1__2conv__layer_by_layer/nest/energy": _EYE_RF,
    "tpu4__2conv__fused/nest/latency": _OVERLAP,
    "tpu4__2conv__fused_fine/nest/latency": f"{_OVERLAP}; {_FINE}",
    "tpu4__2conv__layer_by_layer/nest/latency": _OVERLAP,
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
        # our search compares times to KEY_DIGITS significant digits (simulator/system/evaluate.py)
        assert side_fused.latency_cycles <= side_lbl.latency_cycles * (1 + 1e-9)


@pytest.mark.parametrize("model", stream.MODELS)
def test_four_tpu_cores_beat_one_eyeriss_core_on_both_sides(report: stream.StreamReport, model: str) -> None:
    rows = _by_run(report, model)
    for mode in ("fused", "layer_by_layer"):
        quad, single = rows[f"tpu4__2conv__{mode}"], rows[f"eyeriss1__2conv__{mode}"]
        assert quad.stream.latency_cycles < single.stream.latency_cycles
        assert quad.latency_cycles < single.latency_cycles


def test_four_tpu_cores_are_faster_than_one() -> None:
    """The quad system with one tpu-like instance instead of four (ours; Stream has no such run): the
    four split the convolutions, their input and weights broadcast from the shared DRAM, so the
    step is bound by the DRAM alone (93,440 B at 8 B/cycle)."""
    quad = load_system(packaged_scenario(f"{stream.OURS}/tpu4.yaml"))
    one = quad.model_copy(update={"cores": (quad.cores[0].model_copy(update={"count": 1}), *quad.cores[1:])})
    workload = stream.load_stream_workload("2conv")
    t4 = evaluate_system(workload, quad).latency_s_per_image
    t1 = evaluate_system(workload, one).latency_s_per_image
    assert t4 < t1, f"four instances {t4 * 1e9:,.0f} cycles, one {t1 * 1e9:,.0f}"
    assert math.isclose(t4 * 1e9, 93_440 / 8, rel_tol=1e-9)


def test_a_fused_layer_list_keeps_its_intermediate_off_dram(report: stream.StreamReport) -> None:
    """Off-chip energy of eyeriss1 2conv fused = the closed form on both sides (ours: the one-level
    model): input, both weights and the output once at 15.625 pJ/bit (131,072 + 18,432 + 73,728 +
    524,288 bits = 11.68 µJ)."""
    row = _by_run(report)["eyeriss1__2conv__fused"]
    bits = 8 * 32 * 32 * 16 + 16 * 8 * 9 * 16 + 32 * 16 * 9 * 16 + 32 * 32 * 32 * 16
    assert math.isclose(row.split.offchip_pj, bits * 15.625, rel_tol=1e-9)
    assert math.isclose(row.stream.split.offchip_pj, bits * 15.625, rel_tol=STREAM_SUM_TOL)


def test_layer_by_layer_sends_the_intermediate_through_dram(report: stream.StreamReport) -> None:
    """Off-chip energy of eyeriss1 2conv layer by layer = the fused closed form + conv1_out written
    and read back (2 x 262,144 bits), on both sides: 19.87 µJ."""
    row = _by_run(report)["eyeriss1__2conv__layer_by_layer"]
    bits = 8 * 32 * 32 * 16 + 16 * 8 * 9 * 16 + 32 * 16 * 9 * 16 + 32 * 32 * 32 * 16 + 2 * 16 * 32 * 32 * 16
    assert math.isclose(row.split.offchip_pj, bits * 15.625, rel_tol=1e-9)
    assert math.isclose(row.stream.split.offchip_pj, bits * 15.625, rel_tol=STREAM_SUM_TOL)


def test_a_row_split_reads_its_halo_rows_twice(report: stream.StreamReport) -> None:
    """tpu4 2conv fused splits output rows over four cores, on both sides: off-chip = eyeriss's
    fused closed form + Conv1's halo (2 input rows x 8 channels x 32 columns x 16 b at each of 3
    boundaries) read again = 12.064 µJ; Conv2's halo moves between the cores."""
    row = _by_run(report)["tpu4__2conv__fused"]
    bits = 8 * 32 * 32 * 16 + 16 * 8 * 9 * 16 + 32 * 16 * 9 * 16 + 32 * 32 * 32 * 16 + 3 * 2 * 8 * 32 * 16
    assert math.isclose(row.split.offchip_pj, bits * 15.625, rel_tol=1e-9)
    assert math.isclose(row.stream.split.offchip_pj, bits * 15.625, rel_tol=STREAM_SUM_TOL)


def test_a_fused_swiglu_reads_each_tensor_once(report: stream.StreamReport) -> None:
    """tpu4 swiglu fused, off-chip = every tensor once on both sides: the input (64 x 256; both Gemms
    read it), the three weight matrices (2 x 256 x 512 + 512 x 256) and the output (64 x 256), 16 b
    each at 15.625 pJ/bit = 106.496 µJ."""
    row = _by_run(report)["tpu4__swiglu__fused"]
    bits = (64 * 256 + 2 * 256 * 512 + 512 * 256 + 64 * 256) * 16
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
