"""Sparsity from the trace's measured statistics: what gating saves, what skipping saves.

Two effects, kept apart (docs/architecture.md; arXiv 2606.00567 shows element-level sparsity overstating
skippable work by up to 78 points):

- **gating** (energy only): a MAC with a zero operand toggles neither multiplier nor
  accumulator. Of the MACs that still execute, a fraction ``(z_a − s)/(1 − s)`` have a zero
  activation (``s`` = skipped fraction; skipped units held only zeros), and ``z_w`` a zero
  weight (independent). With ``numerics.zero_skip`` thresholds, near-zeros count as zeros.
- **skipping** (cycles and energy): the array skips a *unit* only when all of it is zero. A
  unit is what one cycle carries across the array edge: an OS beat = ``R`` rows × ``p``
  reduction elements, a WS streamed vector = 1 row × ``R·p``, an IS fold = ``C`` × ``R·p``.
  The array learns that a unit is zero from the skip masks of the ``block_skip`` blocks that
  cover it, so what must be all-zero is the *skip region*: the unit rounded up to whole blocks
  (:func:`skip_region`; an OS beat of a 128-row array under 1×16 masks: 128 × 16, skipped 16
  beats at a time). Its probability (:func:`region_zero_prob`) comes from the trace's all-zero
  block fractions ``z_s`` (``models.workload.ACT_BLOCK_SHAPES``): among the recorded shapes
  that are unions of whole skip blocks and fit in the region (``s_r % b_r = s_c % b_c = 0``,
  ``s_r ≤ region rows``, ``s_c ≤ region cols``), the largest (ties: more rows) is measured,
  and only the ``n = ⌈rows/s_r⌉·⌈cols/s_c⌉`` shapes tiling the region are taken as
  independent: ``P = z_s^n``. Where the region's own shape was recorded (128×16, 32×16,
  1×128, 32×1, …) this is the measured fraction (exact up to the tracer's row order);
  on traces made before those shapes existed, it is ``z_b^(blocks per region)`` of the skip
  block itself (1×16, 8×8; 1×8 masks use the 8×8 fraction), a lower bound since real zeros
  cluster. Shapes not recorded for an op (fewer rows than the shape) fall through to the
  next one. Rows are the GEMM activation's rows: a conv's *input* pixels in (n, h, w) order;
  a beat's ``R`` output pixels read ``R`` consecutive input pixels shifted by the kernel
  offset (stride 1), and padding zeros are not counted (a lower bound).
- **temporal delta** (Cambricon-D, ISCA 2024; Ditto, HPCA 2025): from the second traced step
  on, a weighted GEMM computes ``W·Δx`` onto its stored previous output. Deltas skip all-zero
  units (``z_d^(unit elements)``: independent elements, traces record no delta blocks), gate
  zero elements (``z_d``), and are sent and multiplied at the delta width only where the
  trace says they fit (``delta_bits_le4_frac`` for int4 deltas; a unit with any element that
  does not fit goes at the activation width and array precision, and without the statistic
  every unit does). The costs it adds (reading the previous input and output, writing the
  new output at accumulator width, skip masks, preload cycles) are charged in
  :mod:`simulator.cost.gemm`; the analytic model uses delta mode for an op and step only
  where it costs less energy than the dense op.
- **compaction** (``compact_activations``): activations are stored without their all-zero
  blocks plus a mask of ``metadata_bits_per_block`` bits per block; A traffic scales by
  ``1 − z_b`` plus the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.workload import ACT_BLOCK_SHAPES, block_stat_name
from simulator.cost.hardware import IS, OS, Hardware
from simulator.optable import ROLE_PLAIN, OpTable


@dataclass(frozen=True)
class Sparse:
    """Per (step, GEMM row) arrays ``[steps, n_gemm]``; see the module docstring."""

    skip: np.ndarray  # skipped fraction of temporal units, dense mode
    gate: np.ndarray  # gated fraction of executed MACs, dense mode
    a_scale: np.ndarray  # A bytes (DRAM and buffer) per dense byte after compaction
    meta_bits_per_elem: float  # skip-mask bits per A element read (0 without block skip)
    delta_ok: np.ndarray  # bool: delta mode possible
    d_skip: np.ndarray
    d_gate: np.ndarray
    d_slow: np.ndarray  # fraction of delta units re-issued at the array precision

    @staticmethod
    def dense(steps: int, g: int) -> Sparse:
        z = np.zeros((steps, g))
        return Sparse(z, z, z + 1.0, 0.0, z.astype(bool), z, z, z + 1.0)


def unit_shape(hw: Hardware, mpc: int) -> tuple[int, int]:
    """(rows of A, reduction elements) one skippable unit covers."""
    if hw.dataflow == OS:
        return hw.rows, mpc
    if hw.dataflow == IS:
        return hw.cols, hw.rows * mpc
    return 1, hw.rows * mpc


def skip_region(unit: tuple[int, int], block: tuple[int, int]) -> tuple[int, int]:
    """(rows, reduction elements) that must be all-zero to skip ``unit`` under ``block`` masks."""
    (um, uk), (br, bc) = unit, block
    return -(-um // br) * br, -(-uk // bc) * bc


def region_shapes(region: tuple[int, int], block: tuple[int, int]) -> list[tuple[int, int]]:
    """Recorded block shapes that estimate ``region``'s zero probability, best first.

    Unions of whole ``block``s that fit in the region, largest first (ties: more rows); the
    block itself is always one of them (a region is whole blocks).
    """
    (rm, rk), (br, bc) = region, block
    fits = [(r, c) for r, c in ACT_BLOCK_SHAPES if r % br == 0 and c % bc == 0 and r <= rm and c <= rk]
    return sorted(fits, key=lambda s: (-s[0] * s[1], -s[0]))


def region_zero_prob(table: OpTable, g_op: np.ndarray, region: tuple[int, int], block: tuple[int, int]) -> np.ndarray:
    """``[steps, len(g_op)]`` probability that ``region`` of an op's activation is all zero.

    Per (step, op), the best recorded shape of :func:`region_shapes` with a value, raised to
    the number of its copies tiling the region; 0 where none was recorded.
    """
    rm, rk = region
    prob = np.full((table.steps, len(g_op)), np.nan)
    for r, c in region_shapes(region, block):
        name = block_stat_name(r, c)
        recorded = table.has_stat(name)[:, g_op]
        z = np.clip(table.stat(name)[:, g_op], 0.0, 1.0)
        copies = -(-rm // r) * -(-rk // c)
        prob = np.where(np.isnan(prob) & recorded, z**copies, prob)
    return np.nan_to_num(prob, nan=0.0)


def sparse_state(table: OpTable, hw: Hardware) -> Sparse:
    """Sparsity quantities of every GEMM row at every traced step on ``hw``."""
    g_op = table.g_op
    steps, g = table.steps, table.n_gemm
    if g == 0:
        return Sparse.dense(steps, 0)
    za = table.stat("act_near_zero_frac" if hw.near_zero_acts else "act_zero_frac")[:, g_op]
    if hw.near_zero_acts:  # fall back to exact zeros where near-zeros were not recorded
        za = np.maximum(za, table.stat("act_zero_frac")[:, g_op])
    wname = "weight_near_zero_frac" if hw.near_zero_weights else "weight_zero_frac"
    zw = np.where(table.g_weight_is_param[None, :], table.stat(wname)[:, g_op], 0.0)
    skip = np.zeros((steps, g))
    a_scale = np.ones((steps, g))
    meta = 0.0
    if hw.block is not None:
        br, bc = hw.block
        zb = np.clip(table.stat(block_stat_name(br, bc))[:, g_op], 0.0, 1.0)
        skip = region_zero_prob(table, g_op, skip_region(unit_shape(hw, hw.mpc), hw.block), hw.block)
        meta = hw.metadata_bits_per_block / float(br * bc)
        if hw.compact_acts:
            a_scale = 1.0 - zb
    gate = _gate(za, zw, skip, hw)

    role_ok = (table.g_role == ROLE_PLAIN) & table.g_weight_is_param
    prec = hw.delta_precision if hw.delta_precision in ("int8", "int4") else "int8"
    dname = f"delta_{prec}_zero_frac"
    step_ok = np.arange(steps)[:, None] >= 1
    delta_ok = hw.delta_enabled & step_ok & role_ok[None, :] & table.has_stat(dname)[:, g_op]
    zd = np.clip(table.stat(dname)[:, g_op], 0.0, 1.0)
    um, uk = unit_shape(hw, hw.delta_mpc)
    d_skip = zd ** (um * uk)
    d_gate = _gate(zd, zw, d_skip, hw)
    d_slow = np.zeros((steps, g))
    if hw.delta_mpc > hw.mpc or hw.delta_bits < hw.a_bits:
        # Narrow deltas: a unit with any element that does not fit the delta width is sent at
        # the activation width and array precision; without the statistic every unit is (no
        # narrow-delta gain is assumed that the trace does not show).
        fits = np.zeros((steps, g))
        if hw.delta_bits in (2, 4, 6):
            fits = table.stat(f"delta_bits_le{hw.delta_bits}_frac")[:, g_op]
        d_slow = 1.0 - np.clip(fits, 0.0, 1.0) ** (um * uk)
    return Sparse(skip, gate, a_scale, meta, delta_ok, d_skip, d_gate, d_slow)


def _gate(za: np.ndarray, zw: np.ndarray, skip: np.ndarray, hw: Hardware) -> np.ndarray:
    """Gated fraction of executed MACs."""
    ga = np.zeros_like(za)
    if hw.act_gating:
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = np.where(skip < 1.0, np.clip((za - skip) / (1.0 - skip), 0.0, 1.0), 0.0)
    gw = zw if hw.weight_gating else np.zeros_like(zw)
    return 1.0 - (1.0 - ga) * (1.0 - gw)
