"""The validation suite (docs/validation.md): committed peer outputs, our side as a golden, and
the issue's accuracy goals.

- The peers' committed outputs parse and cover the layers, arrays and dataflows their
  ``meta.json`` declares.
- ``golden.json`` holds our numbers for every comparison row: a model change that moves them
  fails here with a readable list (regenerate: ``pytest tests/validation --regen-validation``,
  then update the tables in docs/validation.md).
- The goals of issue 13 (SCALE-Sim compute cycles within 2 %, ZigZag cycles and energy within
  15 %, Eyeriss latency and DRAM within 25 %, energy within 30 %) are one test per row (ZigZag
  and Eyeriss rows once per memory model: one_level, and nest with designs named ``*-nest``); rows
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

from simulator.validation import compare

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
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


def test_ours_match_the_golden(report: compare.Report, regen_validation: bool) -> None:
    ours = compare.ours_golden(report.rows)
    if regen_validation:
        GOLDEN.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        gaps = {}
        for r in report.rows:
            key = f"{r.peer}/{r.design}/{r.layer}/{r.metric}"
            if not r.within_goal:
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


def _known_gap(key: str, ratio: float) -> str:
    """The reason a row misses its goal today, with the measured ratio."""
    peer, design, layer, metric = key.split("/")
    if peer == "scalesim":
        if design.endswith(" os"):
            cause = _OS + ("; plus per-tile preloads of split K" if metric == "compute_cycles" else "")
        elif metric == "compute_cycles_ideal" or layer in ("Conv3_1a", "Conv1") and ratio < 1:
            cause = _STRIDE
        else:
            cause = _FILL
        return f"{cause}; measured ratio {ratio:.3f}"
    if peer == "zigzag" and design.endswith("-nest"):
        if metric == "energy_pj":
            return (
                f"nest engine: inputs bypass the PE (tpu_like has no input register), so every PE row reads one "
                f"input per MAC from the 2 MB SRAM at 416 pJ per 64 b, multicast across the columns only; ZigZag's "
                f"input SRAM energy is far lower (systolic input forwarding or its 2048-bit port, not traced); "
                f"measured ratio {ratio:.3f}"
            )
        return (
            f"nest engine: the 2 MB SRAM is single-buffered in our spec, so its fills and drains add serially "
            f"(stall 'serial'); ZigZag overlaps them; measured ratio {ratio:.3f}"
        )
    if peer == "zigzag":
        if metric == "energy_pj":
            return (
                f"one level of tiling: partial sums between K folds and streamed activations are charged at the "
                f"2 MB SRAM's 416 pJ per 64 b where ZigZag keeps them in PE registers; measured ratio {ratio:.3f}"
            )
        return (
            f"our spec's 2 MB SRAM is single-buffered (ZigZag's file declares no double buffering), so every tile "
            f"loads, computes and writes back in turn; measured ratio {ratio:.3f}"
        )
    if design.endswith("-nest"):
        if metric == "chip_energy_mj":
            return (
                f"nest engine: our chip energy is MACs (the fp16 stand-in), spads, GLB and leakage; the measured "
                f"278 mW is the whole chip (clock, control, NoC are not modelled); measured ratio {ratio:.3f}"
            )
        return (
            f"nest engine: no run-length compression of fmaps, fp32 partial sums of the fp16 stand-in (16 b in the "
            f"paper: the 48 B psum spad holds 12, not 24), 39-46 % of PEs busy (the mapper's search), the "
            f"single-buffered GLB fills serially over the unconfirmed 0.48 GB/s link; measured ratio {ratio:.3f}"
        )
    return (
        f"row-stationary reuse in 520 B spads is not expressible (weight-stationary stand-in, one tiling "
        f"level, per-PE storage gives no reuse); measured ratio {ratio:.3f}"
    )


def _goal_params() -> list[object]:
    """One param per comparison row; the rows listed in known_gaps.json are strict xfails, so
    one that starts meeting its goal fails until the file is regenerated."""
    gaps = json.loads(KNOWN_GAPS.read_text(encoding="utf-8"))
    params: list[object] = []
    for r in compare.build_report().rows:
        key = f"{r.peer}/{r.design}/{r.layer}/{r.metric}"
        marks = [pytest.mark.xfail(strict=True, reason=gaps[key])] if key in gaps else []
        params.append(pytest.param(r, id=key, marks=marks))
    return params


@pytest.mark.parametrize("row", _goal_params())
def test_goal(row: compare.Row) -> None:
    assert abs(row.ratio - 1.0) <= row.goal, f"ours {row.ours:.6g} vs peer {row.theirs:.6g}: ratio {row.ratio:.3f}"


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
    cmd = [python, str(PEERS / "regen_scalesim.py"), "--layer", "Conv2_1a", "--array", "32x32", "--dataflow", "ws"]
    subprocess.run([*cmd, "--out", str(tmp_path)], check=True, capture_output=True, timeout=600)
    fresh = _csv(tmp_path / "results.csv")
    committed = [
        r
        for r in _csv(PEERS / "scalesim" / "results.csv")
        if (r["array"], r["dataflow"], r["layer"]) == ("32x32", "ws", "Conv2_1a")
    ]
    assert fresh == committed


def test_outside_a_checkout_the_command_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator.cli import main

    monkeypatch.setattr(compare, "PEERS", tmp_path / "absent")
    assert main(["validation"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: picojoule validation compares against peer outputs") and "checkout" in err
