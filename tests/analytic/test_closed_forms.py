"""Closed-form oracles: cycles, DRAM bytes and energies of single ops on small arrays.

With a buffer that holds every operand, the mapping keeps whole operands on chip, so the
numbers below follow from the dataflow alone:

- weight-stationary (SCALE-Sim, Samajdar et al. ISPASS 2020): K on rows, N on columns, M
  streamed: ``⌈K/R⌉·⌈N/C⌉`` folds of ``2R + C + M − 2`` cycles;
- input-stationary: K on rows, M on columns, N streamed: ``⌈K/R⌉·⌈M/C⌉`` folds of
  ``2R + C + N − 2``;
- output-stationary: M on rows, N on columns: ``⌈M/R⌉·⌈N/C⌉`` folds, each one op of the RTL
  tile, ``pe.tile_cycles(⌈K/macs_per_beat⌉)`` = ``2 + ⌈K/p⌉ + R``;
- DRAM bytes = (unique input + weights + output) × bytes per element;
- energy: compute = MACs × (mult + accumulate) pJ, DRAM = bytes × 8 × pJ/bit.
"""

from __future__ import annotations

import math

import pytest
from simcase import arch, conv, gemm, one

from accelerator import pe, tech
from accelerator.spec import PRECISION_BITS
from simulator.evaluation import evaluate

SHAPES = [(4, 4), (8, 16), (32, 32), (128, 128)]
GEMMS = [(64, 96, 200), (1, 1000, 2048), (300, 17, 33)]


def _c(a: int, b: int) -> int:
    return -(-a // b)


@pytest.mark.parametrize("rows,cols", SHAPES)
@pytest.mark.parametrize("m,n,k", GEMMS)
def test_weight_stationary_cycles(rows: int, cols: int, m: int, n: int, k: int) -> None:
    d = evaluate(one(gemm(m, n, k)), arch(rows, cols, "weight_stationary", "fp16"))
    folds = _c(k, rows) * _c(n, cols)
    assert d.per_op[0].compute_cycles == folds * (2 * rows + cols + m - 2)


@pytest.mark.parametrize("rows,cols", SHAPES)
@pytest.mark.parametrize("m,n,k", GEMMS)
def test_input_stationary_cycles(rows: int, cols: int, m: int, n: int, k: int) -> None:
    d = evaluate(one(gemm(m, n, k)), arch(rows, cols, "input_stationary", "fp16"))
    folds = _c(k, rows) * _c(m, cols)
    assert d.per_op[0].compute_cycles == folds * (2 * rows + cols + n - 2)


@pytest.mark.parametrize("rows,cols", SHAPES)
@pytest.mark.parametrize("m,n,k", GEMMS)
@pytest.mark.parametrize("precision,per_beat", [("int8", 1), ("int4", 2)])
def test_output_stationary_cycles_come_from_the_rtl_tile(
    rows: int, cols: int, m: int, n: int, k: int, precision: str, per_beat: int
) -> None:
    d = evaluate(one(gemm(m, n, k)), arch(rows, cols, "output_stationary", precision))
    folds = _c(m, rows) * _c(n, cols)
    beats = _c(k, per_beat)
    assert d.per_op[0].compute_cycles == folds * pe.tile_cycles(beats, rows=rows, cols=cols)
    assert d.per_op[0].compute_cycles == folds * (2 + beats + rows)


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary", "input_stationary"])
def test_conv_cycles_are_its_gemm_view(dataflow: str) -> None:
    # 3x3 conv, 16 -> 24 channels, 10x12 input, pad 1: GEMM M = 120, N = 24, K = 144.
    a = arch(8, 8, dataflow, "int8")
    via_conv = evaluate(one(conv(16, 10, 12, 24)), a).per_op[0]
    via_gemm = evaluate(one(gemm(120, 24, 144)), a).per_op[0]
    assert via_conv.compute_cycles == via_gemm.compute_cycles
    assert via_conv.macs == via_gemm.macs == 120 * 24 * 144


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
@pytest.mark.parametrize("m,n,k", GEMMS)
def test_gemm_dram_bytes_when_everything_fits(dataflow: str, m: int, n: int, k: int) -> None:
    precision = "int8" if dataflow == "output_stationary" else "fp16"
    width = 1 if precision == "int8" else 2
    d = evaluate(one(gemm(m, n, k)), arch(16, 16, dataflow, precision))
    assert d.per_op[0].traffic_bytes["dram"] == (m * k + k * n + m * n) * width


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (1, 0)])
def test_conv_dram_bytes_are_the_tensors_not_the_im2col_matrix(stride: int, padding: int) -> None:
    c, h, w, k = 16, 10, 12, 24
    op = conv(c, h, w, k, stride=stride, padding=padding)
    p_out = (h + 2 * padding - 3) // stride + 1
    q_out = (w + 2 * padding - 3) // stride + 1
    d = evaluate(one(op), arch(8, 8, "output_stationary", "int8"))
    assert d.per_op[0].traffic_bytes["dram"] == c * h * w + k * c * 9 + k * p_out * q_out


@pytest.mark.parametrize("precision", ["int8", "int4", "fp16"])
def test_energy_closed_forms(precision: str) -> None:
    m, n, k = 64, 96, 200
    dataflow = "weight_stationary" if precision == "fp16" else "output_stationary"
    a = arch(16, 16, dataflow, precision)
    d = evaluate(one(gemm(m, n, k)), a)
    op = d.per_op[0]
    macs = m * n * k
    # Packed int4 (2 MACs per PE per cycle): mult + (one int8 product add + one int32
    # accumulate) / 2 per MAC; otherwise mult + accumulate.
    per_mac = {"int8": 0.2 + 0.1, "fp16": 1.1 + 0.9, "int4": 0.05 + (0.03 + 0.1) / 2}[precision]
    assert tech.packed_mac_energy_pj(precision, 45, 32, 2 if precision == "int4" else 1) == pytest.approx(per_mac)
    assert op.energy_breakdown_j["compute"] * 1e12 == pytest.approx(macs * per_mac, rel=1e-12)
    dram_bits = (m * k + k * n + m * n) * PRECISION_BITS[precision]
    assert op.energy_breakdown_j["dram"] * 1e12 == pytest.approx(
        dram_bits * tech.dram_energy_pj_per_bit("hbm3"), rel=1e-12
    )
    # No leakage configured beyond the SRAM model; the parts add up to the total.
    assert math.isclose(sum(op.energy_breakdown_j.values()), op.energy_j, rel_tol=1e-12)
    assert math.isclose(sum(d.energy_breakdown_j.values()), d.energy_j_per_image, rel_tol=1e-12)


def test_dram_bound_op_approaches_bytes_over_bandwidth() -> None:
    # 1 GB/s at 1 GHz = 1 byte per cycle, no latency: a GEMV is bound by its weight bytes.
    # Double buffering overlaps compute with the transfers, runs of >= one DRAM page stream at
    # full efficiency: the op takes its DRAM bytes in cycles, to within the short activation
    # runs of its K tiles.
    m, n, k = 1, 4096, 4096
    a = arch(8, 8, "output_stationary", "int8", dram_gbps=1.0)
    op = evaluate(one(gemm(m, n, k)), a, objective="latency").per_op[0]
    dram_bytes = m * k + k * n + m * n
    assert op.traffic_bytes["dram"] == dram_bytes
    assert dram_bytes <= op.cycles <= dram_bytes * 1.001
    # K tiles of kt: the 512 folds cannot keep their accumulators across K tiles, so every
    # later tile op preloads them (pe.tile_cycles, delta mode with preload: 2 + 2R + beats).
    kt = op.mapping["gemms"][0]["tile_mnk"][2]
    tk = -(-k // kt)
    assert op.compute_cycles == (n // 8) * (2 + k + 8 + (tk - 1) * (2 + 2 * 8))
    assert op.bound == "memory"
    assert op.stall_cycles["dram"] == pytest.approx(
        op.cycles - op.compute_cycles - op.stall_cycles["fill_drain"], rel=1e-9
    )
