"""The validation suite (docs/validation.md): committed peer outputs, our side as a golden, and
the issue's accuracy goals.

- The peers' committed outputs parse and cover the layers, arrays and dataflows their
  ``meta.json`` declares.
- ``golden.json`` holds our numbers for every comparison row: a model change that moves them
  fails here with a readable list (regenerate: ``pytest tests/validation --regen-validation``,
  then update the tables in docs/validation.md).
- The goals of issue 13 (SCALE-Sim compute cycles within 2 %, ZigZag cycles and energy within
  15 %, Eyeriss latency and DRAM within 25 %, energy within 30 %) are one test per row (every
  row once per memory model: one_level, and nest with designs named ``* nest`` / ``*-nest``); rows
  that miss today are ``xfail(strict=True)`` with the measured gap and its cause, so a model
  that closes a gap turns them into failures to update.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.validation import common, compare

HERE = Path(__file__).resolve().parent
#: The peers' committed outputs ship with the package (scenarios/); their scripts stay here.
PEERS = HERE.parents[1] / "scenarios" / "validation" / "peers"
REGEN = HERE / "peers"
GOLDEN = HERE / "golden.json"
KNOWN_GAPS = HERE / "known_gaps.json"
REL_TOL = 1e-7


@pytest.fixture(scope="module")
def report() -> compare.Report:
    return compare.build_report()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_scalesim_outputs_cover_what_meta_declares() -> None:
    meta = json.loads((PEERS / "scalesim" / "meta.json").read_text(encoding="utf-8"))
    rows = _csv(PEERS / "scalesim" / "results.csv")
    topo = [ln.split(",")[0].strip() for ln in (PEERS / "scalesim" / "topology.csv").read_text().splitlines()[1:]]
    assert meta["version"] == "3.0.0"
    assert meta["layers"] == [name for name in topo if name]
    want = {
        (f"{a['rows']}x{a['cols']}", df, layer)
        for a in meta["arrays"]
        for df in meta["dataflows"]
        for layer in meta["layers"]
    }
    got = {(r["array"], r["dataflow"], r["layer"]) for r in rows}
    assert got == want
    for r in rows:
        assert int(r["compute_cycles"]) > 0, r
        assert int(r["stall_cycles"]) == 0, f"CALC mode should not stall: {r}"


def test_zigzag_outputs_cover_what_meta_declares() -> None:
    meta = json.loads((PEERS / "zigzag" / "meta.json").read_text(encoding="utf-8"))
    rows = _csv(PEERS / "zigzag" / "results.csv")
    assert meta["version"] == "3.9.1"
    assert [r["layer"] for r in rows] == meta["layers"]
    for r in rows:
        assert float(r["latency_cycles"]) >= float(r["ideal_cycles"]) > 0, r
        assert math.isclose(
            float(r["energy_total_pj"]), float(r["energy_mac_pj"]) + float(r["energy_mem_pj"]), rel_tol=1e-6
        )
    assert math.isclose(sum(float(r["latency_cycles"]) for r in rows), meta["total_latency_cycles"], rel_tol=1e-9)


def test_eyeriss_published_numbers_are_consistent() -> None:
    pub = json.loads((PEERS / "eyeriss" / "published.json").read_text(encoding="utf-8"))
    # 0.0029 access/MAC x 2.66 G MACs x 2 B = 15.4 MB; 34.7 frames/s x 666 M MACs = 23.1 GMACS.
    macs = 2.663e9
    assert math.isclose(pub["dram_accesses_per_mac"] * macs * 2 / 1e6, pub["dram_mb_per_batch"], rel_tol=0.01)
    assert math.isclose(pub["frames_per_s"] * macs / 4 / 1e9, pub["throughput_gmacs"], rel_tol=0.01)
    # Table V per layer against its own totals and the text (the cross-checks published.json records).
    rows, total = pub["per_layer"], pub["per_layer_total"]
    assert [r["layer"] for r in rows] == ["CONV1", "CONV2", "CONV3", "CONV4", "CONV5"]
    assert math.isclose(sum(r["dram_mb"] for r in rows), pub["dram_mb_per_batch"], rel_tol=1e-9)
    latency = sum(r["latency_ms"] for r in rows)
    assert math.isclose(latency, pub["batch"] / pub["frames_per_s"] * 1e3, rel_tol=1e-3)
    assert math.isclose(latency, total["latency_ms"], rel_tol=1e-9)
    assert math.isclose(sum(r["processing_latency_ms"] for r in rows), total["processing_latency_ms"], rel_tol=1e-9)
    power = sum(r["power_mw"] * r["latency_ms"] for r in rows) / latency
    assert round(power) == pub["chip_power_mw"] == total["power_mw"]
    assert abs(sum(r["glb_mb"] for r in rows) - total["glb_mb"]) <= 0.15  # rounding of five 0.1 MB digits
    active = sum(r["active_pes"] * r["processing_latency_ms"] for r in rows) / total["processing_latency_ms"]
    assert round(active) == total["active_pes"] and round(active / 168, 2) == pub["active_pes_fraction"]
    for r in rows:
        assert r["processing_latency_ms"] <= r["latency_ms"], r


def _eyeriss_layer(layer: str) -> dict[str, float]:
    pub = json.loads((PEERS / "eyeriss" / "published.json").read_text(encoding="utf-8"))
    return next(r for r in pub["per_layer"] if r["layer"] == layer)


def test_ours_match_the_golden(report: compare.Report, regen_validation: bool) -> None:
    ours = compare.ours_golden(report.rows)
    if regen_validation:
        GOLDEN.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        gaps = {}
        for r in report.rows:
            key = f"{r.peer}/{r.design}/{r.layer}/{r.metric}"
            if r.within_goal is False:
                gaps[key] = _known_gap(key, r.ratio)
        KNOWN_GAPS.write_text(json.dumps(gaps, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("regenerated tests/validation/golden.json and known_gaps.json")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    moved = [
        f"  {k}: golden {golden.get(k)} -> now {ours.get(k)}"
        for k in sorted(set(golden) | set(ours))
        if k not in golden or k not in ours or not math.isclose(golden[k], ours[k], rel_tol=REL_TOL)
    ]
    assert not moved, (
        "our side of the validation moved (pytest tests/validation --regen-validation, then update "
        "docs/validation.md):\n" + "\n".join(moved)
    )


# Why rows miss the goal today (docs/validation.md); --regen-validation writes the
# reasons with the measured ratio into known_gaps.json, which marks the goal tests below.
_FILL = (
    "fill/drain per change of the stationary fold: the buffer-limited mapping keeps several folds per weight "
    "(WS) or input (IS) tile, so every M (N) tile changes folds again (serpentine order saves one change per tile); "
    "one-fold tiles that stream each fold once would spill partial sums to DRAM. SCALE-Sim charges 2R+C-2 once "
    "per fold whatever the buffer"
)
_OS = (
    "OS fold timing: ours is the RTL PE tile (2 + K + R cycles per fold, accelerator.pe.tile_cycles), "
    "SCALE-Sim's K + R + C - 2 (skewed drain)"
)
_STRIDE = (
    "SCALE-Sim rounds a strided layer's output size up (ceil((H-R)/s) + 1: 29x29 for Conv3_1a, "
    "113x113 for Conv1) where we floor it"
)


_NEST_SPEC = (
    "nest engine as specified: the op is bound by the scratchpad's 96 B/cycle (3 banks of 256 b) or DRAM (the "
    "input read as its im2col matrix, mapping.conv_view: im2col), so the EDP mapper keeps fold changes that cost "
    "no time with memory (compute cycles are not what it minimises); SCALE-Sim's SRAMs feed the array a row per cycle"
)


def _known_gap(key: str, ratio: float) -> str:
    """The reason a row misses its goal today, with the measured ratio."""
    peer, design, layer, metric = key.split("/")
    if peer == "scalesim":
        dataflow, nest = design.split()[1], design.endswith(" nest")
        strided = layer in ("Conv3_1a", "Conv1")
        if dataflow == "os":
            cause = _OS + ("; plus per-tile preloads of split K" if metric == "compute_cycles" else "")
        elif nest and metric == "compute_cycles":
            cause = _NEST_SPEC
        elif nest:
            cause = _STRIDE  # im2col (the spec's mapping.conv_view): the folds are SCALE-Sim's
        elif metric == "compute_cycles_ideal" or strided and ratio < 1:
            cause = _STRIDE
        else:
            cause = _FILL
        return f"{cause}; measured ratio {ratio:.3f}"
    if peer == "zigzag":
        nest = design.endswith("-nest")
        if metric == "cycles" and ratio < 1:
            cause = (
                "ZigZag loads the SRAM's first tile whole before computing (its data onloading: the layer's input at "
                "8 B/cycle, 26,912 cycles for Conv2_1a, 25,992 for Conv3_1a; onloading_cycles in results.csv), where "
                "a double-buffered level here streams its tile in sub-tiles (issue 13)"
            )
            if not nest:
                cause += "; the one-level model's folds add 2R + C - 2 each, which ZigZag does not charge"
        elif metric == "cycles":
            cause = (
                "one-level model: SCALE-Sim's fold timing with the weight RF unused, one weight per PE per fold, so "
                "every fold of few streamed pixels pays 2R + C - 2 cycles of fill and drain (ddpm_conv16: 576 folds of "
                "256 pixels); ZigZag charges none, the nest keeps 72 weights per PE in the 128 B RF (8 changes)"
            )
            if nest:
                cause = "nest engine: the mapper's choice (search or objective), not traced"
        elif nest:
            cause = "nest engine: energy not traced"
        else:
            cause = (
                "one-level model: the per-PE level is charged per MAC for every operand at the weight RF's 0.095 pJ "
                "(rf 65.9 of Conv2_1a's 149.8 uJ; ZigZag's RFs 16.0 uJ) and partial sums between K folds and the "
                "streamed inputs go through the SRAM (28.0 uJ; ZigZag's 6.8)"
            )
        return f"{cause}; measured ratio {ratio:.3f}"
    return _eyeriss_gap(layer, metric, design.split("-", 1)[-1] if "-" in design else "", ratio)


_EYERISS_ENERGY = (
    "our chip energy is MACs (fp16 stand-in for 16-bit fixed point; a zero ifmap gates the MAC, and on the nest also "
    "the filter-spad read and the psum update), per-PE storage, GLB, leakage and the PE array's clock network "
    "(simulator.cost.clock: pipeline flip-flops and a NanGate45 clock gate per word of the register spads, pin, wire, "
    "Liberty internal energy and leaf buffers, idle PEs gated: 54-77 mW at 1 V); the register-built ifmap and psum "
    "spads at the NanGate45 register-file model (accelerator.tech.regfile), the 448 B filter SRAM at the SRAM fit "
    "extrapolated from 8 kB. Against Fig. 16's post-layout breakdown as a third-party note quotes it (unverified: "
    "clock 33-45 %, spads 33-42 %, ALUs 3-9 %), our clock is 0.67-0.82x the chip's on CONV1 and CONV5 and our spads "
    "0.24-0.41x: the filter SRAM's energy per access is the largest part without a cited model (and psum-spad accesses "
    "the datapath register absorbs here), then control, the RLC codec and the NoC"
)
_EYERISS_ENERGY_ONE_LEVEL = (
    "its latency is 25-970x the chip's (row-stationary reuse is not expressible, and the 8 kB filter partition splits "
    "the weight-stationary stand-in's reduction: see the latency rows) and the clock network (77 mW, "
    "simulator.cost.clock) runs over all of it, so its chip energy overshoots where the nest's falls short"
)
_EYERISS_LATENCY = (
    "its processing time (array plus on-chip stalls) is within Table V's processing latency; the rest is the GLB's "
    "ifmap and ofmap handovers over the 0.48 GB/s link in series, as the chip does them (Sec. VI-A: it does not "
    "process while loading ifmaps or dumping ofmaps), with the filters prefetched (Sec. V-A)"
)


def _eyeriss_gap(layer: str, metric: str, variant: str, ratio: float) -> str:
    """Why an Eyeriss row (Table V, per layer) misses its goal today (docs/validation.md);
    ``variant`` is the design name's suffix: "" (one_level), "nest" or "nest-rlc"."""
    zeros = _eyeriss_layer(layer)["ifmap_zeros_pct"]
    if not variant:
        if metric == "chip_energy_mj":
            cause = "one-level model: " + _EYERISS_ENERGY_ONE_LEVEL
        else:
            cause = (
                "one-level model: row-stationary reuse in the 520 B spads is not expressible (weight-stationary "
                "stand-in, one tiling level, per-PE storage gives no reuse), so tiles that fit the GLB re-read "
                "DRAM, serialised with compute over the 0.48 GB/s link; the chip's 8 kB filter partition (two 4 kB "
                "tiles, prefetched) holds 14 columns of at most 146 weights, less than a filter's R*S*C (CONV1: 363), "
                "so the reduction is split, partial sums spill and the input model reads DRAM in short runs (CONV1: "
                "2-byte runs at 0.04 % of the link)"
            )
    elif metric == "chip_energy_mj":
        cause = f"{variant}: " + _EYERISS_ENERGY
    elif metric == "latency_ms":
        cause = f"{variant}: " + _EYERISS_LATENCY
    elif variant == "nest" and ratio > 1:
        cause = (
            f"nest: no run-length coding of fmaps in DRAM (the chip codes ifmaps and ofmaps; this layer's ifmaps "
            f"are {zeros} % zeros: the nest-rlc rows code them), and the mapper's tiles re-read inputs or weights "
            "(prefetched filters cost no time, so the EDP mapper re-reads filters or fmaps rather than lengthen "
            "the serial fmap handovers of the uncoded fmaps)"
        )
    elif layer == "CONV1":
        cause = (
            f"{variant}: ours moves each tensor about once (input, weights, output: 3.63 MB plain), the chip 5.0 MB; "
            "what it moves beyond the footprint is not published (CONV1's image has 0.01 % zeros)"
        )
    elif variant == "nest-rlc" and metric == "dram_mb":
        cause = (
            f"nest-rlc: the mapper minimises the dense nest's EDP (every covered PE clocked, every MAC paid); the "
            f"reported energy then gates the MACs, filter-spad reads and psum updates of zero ifmaps ({zeros} % "
            "here), which the mapper does not see. Of 128 searches (mapping.restarts) the one with the lowest dense "
            "EDP re-reads filters or fmaps from DRAM for a shorter run (prefetched filters cost no time, the fmap "
            "handovers are serial)"
        )
        if layer == "CONV5":
            cause += (
                ": 4.2 MB, 2.2 % below the dense EDP of the 2.2 MB mapping a single search finds, 14 % above it "
                "in the reported EDP; and its ofmap zeros are not published, so its outputs are coded as if dense "
                "(4/3 of their plain bytes)"
            )
    else:
        cause = f"{variant}: not traced"
    return f"{cause}; measured ratio {ratio:.3f}"


def _goal_params() -> list[object]:
    """One param per comparison row; the rows listed in known_gaps.json are strict xfails, so
    one that starts meeting its goal fails until the file is regenerated."""
    gaps = json.loads(KNOWN_GAPS.read_text(encoding="utf-8"))
    params: list[object] = []
    for r in compare.build_report().rows:
        if r.goal is None:
            continue  # reported without a goal (Eyeriss's processing latency and GLB accesses)
        key = f"{r.peer}/{r.design}/{r.layer}/{r.metric}"
        marks = [pytest.mark.xfail(strict=True, reason=gaps[key])] if key in gaps else []
        params.append(pytest.param(r, id=key, marks=marks))
    return params


@pytest.mark.parametrize("row", _goal_params())
def test_goal(row: compare.Row) -> None:
    assert row.goal is not None and abs(row.ratio - 1.0) <= row.goal, (
        f"ours {row.ours:.6g} vs peer {row.theirs:.6g}: ratio {row.ratio:.3f}"
    )


def _peer_python() -> str | None:
    for candidate in ("/work/venv-peers/bin/python", shutil.which("python3")):
        if candidate and Path(candidate).exists():
            ok = subprocess.run([candidate, "-c", "import scalesim"], capture_output=True).returncode == 0
            if ok:
                return candidate
    return None


@pytest.mark.slow
def test_scalesim_rerun_reproduces_a_committed_row(tmp_path: Path) -> None:
    """Rerun SCALE-Sim on one layer (about 15 s) and compare with the committed row."""
    python = _peer_python()
    if python is None:
        pytest.skip("scalesim==3.0.0 is not importable in /work/venv-peers or python3 (see regen_scalesim.py)")
    cmd = [python, str(REGEN / "regen_scalesim.py"), "--layer", "Conv2_1a", "--array", "32x32", "--dataflow", "ws"]
    subprocess.run([*cmd, "--out", str(tmp_path)], check=True, capture_output=True, timeout=600)
    fresh = _csv(tmp_path / "results.csv")
    committed = [
        r
        for r in _csv(PEERS / "scalesim" / "results.csv")
        if (r["array"], r["dataflow"], r["layer"]) == ("32x32", "ws", "Conv2_1a")
    ]
    assert fresh == committed


def test_a_missing_committed_input_is_a_located_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator.cli import main

    monkeypatch.setattr(common, "PEERS", "validation/absent")
    assert main(["validation", "--quiet"]) == 2  # no progress lines: stderr is the error alone
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "validation/absent/scalesim/meta.json" in err and "Traceback" not in err
