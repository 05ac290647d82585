"""A shared level that prefetches an operand (the spec's ``memory.levels[].prefetch``; Eyeriss's
GLB preloads the next pass's filters, JSSC 2017 Sec. V-A) on the loop-nest engine: its fills leave
the single-buffered level's exposed handover, its tiles count twice against the capacity (or its
partition), the mapper's scorer charges what the analysis charges, and the spec reaches the nest."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from accelerator.errors import SimulationError
from accelerator.spec import load_arch, parse_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost.event import prefetch_note
from simulator.cost.hardware import hardware
from simulator.cost.nest.analysis import evaluate, nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel, from_spec
from simulator.cost.nest.fast import capacity_args
from simulator.cost.nest.fast_kernels import fits as kernel_fits
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.presets import PRESETS, eyeriss
from simulator.cost.nest.problem import WGT, conv_from_input, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.search import Mapper
from simulator.cost.nest.tiles import consumed_whole
from simulator.cost.nest_columns import reduce_nest
from simulator.evaluation import evaluate as evaluate_design

ROOT = Path(__file__).resolve().parents[5]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"
ONE = (1.0, 1.0, 1.0)
IDENT = (0, 1, 2, 3, 4, 5, 6)
W_ONLY = (True, False, False)
#: gemm("g", 6, 4, 5) in 1-byte words: weights 4·5 = 20, inputs 6·5 = 30, outputs 6·4 = 24.
WEIGHTS, INPUTS, OUTPUTS = 20, 30, 24
MACS = 6 * 4 * 5


def _arch(
    size: float = 1e9,
    prefetched: tuple[bool, bool, bool] = (False, False, False),
    operand_bytes: tuple[float, float, float] | None = None,
) -> NestArch:
    """A GLB at 64 B/cycle under DRAM at 8 B/cycle, 1-byte words, no per-PE level."""
    levels = (
        NestLevel("glb", (True, True, True), size, ONE, ONE, 64.0, operand_bytes=operand_bytes, prefetched=prefetched),
        NestLevel("dram", (True, True, True), math.inf, (10.0,) * 3, (10.0,) * 3, 8.0),
    )
    return NestArch("t", levels, 4, 4, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)


def _whole_in_glb() -> tuple[object, Mapping]:
    """The gemm with every loop in the GLB: DRAM hands it each operand once, one tile."""
    prob = gemm("g", 6, 4, 5)
    m = Mapping((prob.bounds, (1,) * 7), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    return prob, m


def test_prefetched_weights_leave_the_exposed_handover() -> None:
    prob, m = _whole_in_glb()
    plain = evaluate(prob, _arch(), m)  # type: ignore[arg-type]
    pre = evaluate(prob, _arch(prefetched=W_ONLY), m)  # type: ignore[arg-type]
    # single-buffered: all 74 B of fills and drains in series, at DRAM's 8 B/cycle (slower than 64)
    assert plain.exposed_cycles == (WEIGHTS + INPUTS + OUTPUTS) / 8
    assert plain.cycles == MACS + (WEIGHTS + INPUTS + OUTPUTS) / 8
    # prefetched weights: only the inputs' fills and the outputs' drains stay exposed
    assert pre.exposed_cycles_by_level == {"glb": (INPUTS + OUTPUTS) / 8}
    assert pre.cycles == MACS + (INPUTS + OUTPUTS) / 8
    # the weights still move and still take transfer time (overlapped with compute)
    assert pre.transfer_cycles == plain.transfer_cycles
    assert pre.transfer_cycles["dram"] == (WEIGHTS + INPUTS + OUTPUTS) / 8
    assert pre.traffic_bytes == plain.traffic_bytes and pre.energy_pj == plain.energy_pj


def test_prefetched_loads_beyond_compute_still_bound_the_op() -> None:
    prob, m = _whole_in_glb()
    slow = _arch(prefetched=W_ONLY)
    dram = replace(slow.levels[1], bandwidth_bytes_per_cycle=0.5)  # 74 B take 148 cycles > 120 MACs
    arch = replace(slow, levels=(slow.levels[0], dram))
    res = evaluate(prob, arch, m)  # type: ignore[arg-type]
    assert res.cycles == (WEIGHTS + INPUTS + OUTPUTS) / 0.5 + (INPUTS + OUTPUTS) / 0.5


def test_prefetched_outputs_leave_their_drains() -> None:
    prob, m = _whole_in_glb()
    res = evaluate(prob, _arch(prefetched=(False, False, True)), m)  # type: ignore[arg-type]
    assert res.exposed_cycles == (WEIGHTS + INPUTS) / 8


def test_a_prefetched_tile_counts_twice_against_a_shared_capacity() -> None:
    prob, m = _whole_in_glb()
    exact = WEIGHTS + INPUTS + OUTPUTS  # the tiles fill the GLB exactly
    evaluate(prob, _arch(size=exact), m)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match=r"glb: tiles of \(20, 30, 24\) B do not fit"):
        evaluate(prob, _arch(size=exact, prefetched=W_ONLY), m)  # type: ignore[arg-type]
    evaluate(prob, _arch(size=exact + WEIGHTS, prefetched=W_ONLY), m)  # type: ignore[arg-type]
    # the scorer agrees: inf where the analysis refuses, finite where it fits
    for size, pf, finite in ((exact, (False,) * 3, True), (exact, W_ONLY, False), (exact + WEIGHTS, W_ONLY, True)):
        arch = _arch(size=size, prefetched=pf)  # type: ignore[arg-type]
        b, coef, f, o, sp, _ = nest_arrays(prob, arch, m)  # type: ignore[arg-type]
        e, c = score(arch_arrays(arch), b, coef, f[None], o[None], sp[None])
        assert bool(np.isfinite(c[0])) is finite and bool(np.isfinite(e[0])) is finite


def test_a_prefetched_tile_counts_twice_against_its_partition() -> None:
    prob, m = _whole_in_glb()
    parts = (float(WEIGHTS), float(INPUTS), float(OUTPUTS))
    assert _arch(operand_bytes=parts).levels[0].capacity_ok(parts)
    assert not _arch(operand_bytes=parts, prefetched=W_ONLY).levels[0].capacity_ok(parts)
    roomy = (2.0 * WEIGHTS, float(INPUTS), float(OUTPUTS))
    assert _arch(operand_bytes=roomy, prefetched=W_ONLY).levels[0].capacity_ok(parts)
    # only the prefetched operand doubles: inputs at their partition's edge still fit
    assert _arch(operand_bytes=roomy, prefetched=W_ONLY).levels[0].tile_copies() == (2.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("level", "match"),
    [
        ("dbuf", "double-buffered"),
        ("bypass", "does not hold operand"),
        ("dram", "it is DRAM"),
    ],
)
def test_invalid_prefetch_is_refused(level: str, match: str) -> None:
    arch = _arch(prefetched=W_ONLY)
    glb, dram = arch.levels
    if level == "dbuf":
        levels = (replace(glb, double_buffered=True), dram)
    elif level == "bypass":
        levels = (replace(glb, holds=(False, True, True)), dram)
    else:
        levels = (replace(glb, prefetched=(False,) * 3), replace(dram, prefetched=W_ONLY))
    with pytest.raises(SimulationError, match=match):
        replace(arch, levels=levels)


def test_a_per_pe_level_may_not_prefetch() -> None:
    arch = _arch()
    rf = NestLevel("rf", (True, True, True), 64.0, ONE, ONE, 8.0, prefetched=W_ONLY)
    with pytest.raises(SimulationError, match="per-PE"):
        replace(arch, levels=(rf, *arch.levels), fanout_level=1)


def test_spec_prefetch_reaches_the_nest_in_its_operand_order() -> None:
    spec = load_arch(EYERISS)
    assert spec.memory.levels[1].prefetch == ("weight",)
    glb = from_spec(spec).levels[1]
    assert glb.name == "glb" and glb.prefetched == (True, False, False)  # weights, inputs, outputs
    text = EYERISS.read_text(encoding="utf-8").replace("prefetch: [weight]", "prefetch: [act, out]")
    arch = from_spec(parse_arch(text, "eyeriss.yaml"))
    assert arch.levels[1].prefetched == (False, True, True)
    assert arch.levels[0].prefetched == (False,) * 3 and arch.levels[2].prefetched == (False,) * 3


def test_scorer_equals_evaluate_on_eyeriss_with_prefetch() -> None:
    arch = eyeriss(load_arch(EYERISS))
    assert arch.levels[1].prefetched == (True, False, False)
    prob = conv_from_input("CONV5", n=4, c=192, h=13, w=13, k=128, r=3, s=3, padding=1)
    res = Mapper(seed=0, samples=200).best(prob, arch, PRESETS["row_stationary"], "edp")
    b, coef, f, o, sp, _ = nest_arrays(prob, arch, res.mapping)
    e, c = score(arch_arrays(arch), b, coef, f[None], o[None], sp[None])
    assert e[0] * prob.copies == pytest.approx(res.energy_pj, rel=1e-12)
    assert c[0] * prob.copies == pytest.approx(res.cycles, rel=1e-12)
    # the same mapping without prefetch exposes the filters' fills too, and nothing else changes
    glb = replace(arch.levels[1], prefetched=(False,) * 3)
    plain = evaluate(prob, replace(arch, levels=(arch.levels[0], glb, arch.levels[2])), res.mapping)
    assert plain.exposed_cycles > res.exposed_cycles > 0
    assert plain.cycles - plain.exposed_cycles == pytest.approx(res.cycles - res.exposed_cycles, rel=1e-12)
    assert plain.energy_pj == res.energy_pj and plain.traffic_bytes == res.traffic_bytes


def test_serial_stall_is_the_non_prefetched_handover() -> None:
    spec = load_arch(EYERISS)
    narch = from_spec(spec)
    prob = conv_from_input("CONV5", n=4, c=192, h=13, w=13, k=128, r=3, s=3, padding=1)
    res = Mapper(seed=0, samples=200).best(prob, narch, PRESETS["row_stationary"], "edp")
    nest = reduce_nest(res, hardware(spec), narch)
    assert nest.stalls["serial"] == res.exposed_cycles_by_level["glb"]
    assert nest.stalls["fill_drain"] == hardware(spec).dram_latency_cycles
    assert nest.compute + sum(nest.stalls.values()) == pytest.approx(nest.cycles, rel=1e-12)


def _one_conv(tmp_path: Path) -> Workload:
    text = (
        "name: one\nsteps: 1\nlayers:\n"
        "  - {name: A, type: conv, N: 1, C: 16, H: 14, W: 14, K: 32, R: 3, S: 3, padding: 1}\n"
    )
    (tmp_path / "one.layers.yaml").write_text(text, encoding="utf-8")
    return load_layers_yaml(tmp_path / "one.layers.yaml")


def test_the_event_fidelity_says_it_loads_prefetched_operands_in_series(tmp_path: Path) -> None:
    spec = load_arch(ROOT / "scenarios" / "validation" / "eyeriss-rlc.yaml")
    workload = _one_conv(tmp_path)
    note = prefetch_note(hardware(spec))
    assert note is not None and "glb (weight)" in note and "in series with compute" in note
    event = evaluate_design(workload, spec, fidelity="event")
    assert note in event.notes
    analytic = evaluate_design(workload, spec)
    assert note not in analytic.notes
    text = EYERISS.read_text(encoding="utf-8").replace("      prefetch: [weight]\n", "")
    assert prefetch_note(hardware(parse_arch(text, "eyeriss.yaml"))) is None


def _under_rf(rf_holds: tuple[bool, bool, bool]) -> NestArch:
    """A per-PE ``rf`` (roomy) under a GLB whose weights have a prefetched partition of exactly
    ``WEIGHTS`` bytes (one whole weight tile), under DRAM; 1-byte words."""
    glb = NestLevel(
        "glb",
        (True, True, True),
        1e9,
        ONE,
        ONE,
        64.0,
        operand_bytes=(float(WEIGHTS), math.inf, math.inf),
        prefetched=W_ONLY,
    )
    rf = NestLevel("rf", rf_holds, 1e9, ONE, ONE, 64.0)
    dram = NestLevel("dram", (True, True, True), math.inf, (10.0,) * 3, (10.0,) * 3, 8.0)
    return NestArch("t", (rf, glb, dram), 4, 4, 1, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)


ONES = (1,) * 7


@pytest.mark.parametrize(
    ("rf_holds", "rf_factors", "glb_factors", "rows", "cols", "copies"),
    [
        # the rf takes the GLB's whole weight tile (K and C loops in the rf, none in the GLB): the
        # GLB keeps only the next tile while the PEs use the current one (Eyeriss, Sec. V-A)
        ((True, True, True), (1, 4, 5, 1, 1, 1, 1), (1, 1, 1, 6, 1, 1, 1), ONES, ONES, 1),
        # a K loop in the GLB: the rf gets the tile in parts, so the GLB keeps the current and the next
        ((True, True, True), (1, 2, 5, 1, 1, 1, 1), (1, 2, 1, 6, 1, 1, 1), ONES, ONES, 2),
        # the rf bypasses weights: the MACs read the GLB's tile throughout
        ((False, True, True), (1, 4, 5, 1, 1, 1, 1), (1, 1, 1, 6, 1, 1, 1), ONES, ONES, 2),
        # the fan-out splits K over two rows of PEs: together they take the tile whole
        ((True, True, True), (1, 2, 5, 1, 1, 1, 1), (1, 1, 1, 6, 1, 1, 1), (1, 2, 1, 1, 1, 1, 1), ONES, 1),
        # the fan-out copies the weights to two columns (P across them): each PE holds the whole tile
        ((True, True, True), (1, 4, 5, 1, 1, 1, 1), (1, 1, 1, 3, 1, 1, 1), ONES, (1, 1, 1, 2, 1, 1, 1), 1),
        # split over the rows and a K loop in the GLB besides: fed in parts again
        ((True, True, True), (1, 1, 5, 1, 1, 1, 1), (1, 2, 1, 6, 1, 1, 1), (1, 2, 1, 1, 1, 1, 1), ONES, 2),
    ],
)
def test_a_prefetched_tile_the_level_below_takes_whole_counts_once(
    rf_holds: tuple[bool, bool, bool],
    rf_factors: tuple[int, ...],
    glb_factors: tuple[int, ...],
    rows: tuple[int, ...],
    cols: tuple[int, ...],
    copies: int,
) -> None:
    prob = gemm("g", 6, 4, 5)
    arch = _under_rf(rf_holds)
    m = Mapping((rf_factors, glb_factors, (1,) * 7), (IDENT,) * 3, rows, cols)  # type: ignore[arg-type]
    b, coef, f, o, sp, holds = nest_arrays(prob, arch, m)  # type: ignore[arg-type]
    assert consumed_whole(f, holds, 1, WGT) is (copies == 1)
    fits_once = copies == 1  # the partition holds exactly one tile
    aa = arch_arrays(arch)
    assert kernel_fits(f, sp, b, coef, *capacity_args(aa)) is fits_once
    e, _ = score(aa, b, coef, f[None], o[None], sp[None])
    assert bool(np.isfinite(e[0])) is fits_once
    if fits_once:
        evaluate(prob, arch, m)  # type: ignore[arg-type]
    else:
        with pytest.raises(SimulationError, match=r"glb: tiles of \(20, "):
            evaluate(prob, arch, m)  # type: ignore[arg-type]
