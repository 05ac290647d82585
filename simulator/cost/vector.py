"""Vector-unit work: norms, softmax, elementwise ops, and the softmax inside attention.

A vector op streams its inputs through the buffer to ``vector_lanes`` lanes and its outputs
back: ``⌈ops / lanes⌉`` cycles, one multiply and one add per op at the vector precision
(:func:`accelerator.tech.vector_op_energy_pj`). Tensors are stored at the activation width.
With inter-op reuse, an input the previous op left on chip is not read from DRAM and an
output kept for the next op is not written, unless another op reads it too (``out_shared``).
Attention's score matrix goes to DRAM and back for the softmax unless the design fuses
attention (then it stays on chip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.cost.capacity import fits as level_fits
from simulator.cost.hardware import ACT, OUT, Hardware, bank_rate
from simulator.optable import ROLE_QK, OpTable


@dataclass(frozen=True)
class VectorCost:
    """Per-op arrays (broadcast over the residency choices given)."""

    cycles: np.ndarray
    dram_rd_bytes: np.ndarray
    dram_wr_bytes: np.ndarray
    level_rd_bytes: tuple[np.ndarray, ...]
    level_wr_bytes: tuple[np.ndarray, ...]
    level_cycles: np.ndarray
    legal: np.ndarray
    energy_pj: dict[str, np.ndarray]


@dataclass(frozen=True)
class VectorWork:
    """Per-op element counts of the vector work (computed once per table and design)."""

    ops: np.ndarray
    in_elems: np.ndarray  # read from memory (DRAM unless resident)
    out_elems: np.ndarray  # written to memory
    chained: np.ndarray  # elements of the input the previous op produced
    onchip_elems: np.ndarray  # read + written on chip only (fused attention's scores)
    out_shared: np.ndarray  # bool: a kept output is still written (another op reads it)


def vector_work(table: OpTable, hw: Hardware) -> VectorWork:
    gemm = np.zeros(table.n_ops, dtype=bool)
    gemm[table.g_op] = True
    prev_out = np.concatenate([[0.0], table.out_elems[:-1]])
    chained = np.where(table.chain_in, prev_out, 0.0)
    ins = np.where(gemm, 0.0, table.act_elems + table.weight_elems)
    outs = np.where(gemm, 0.0, table.out_elems)
    scores = np.zeros(table.n_ops)
    qk = table.g_role == ROLE_QK
    np.add.at(scores, table.g_op[qk], (table.g_batch * table.g_m * table.g_n)[qk].astype(float))
    onchip = np.zeros(table.n_ops)
    if hw.fused_attention:
        onchip = 2.0 * scores
    else:
        ins, outs = ins + scores, outs + scores
    return VectorWork(table.vector_ops, ins, outs, np.where(gemm, 0.0, chained), onchip, table.out_shared)


def vector_cost(hw: Hardware, w: VectorWork, res_in: np.ndarray | bool, res_out: np.ndarray | bool) -> VectorCost:
    """Cost of the vector work of every op for the given residency flags (broadcast)."""
    ab = hw.a_bits / 8
    cycles = np.ceil(w.ops / hw.vector_lanes)
    f_in = (w.in_elems - np.where(res_in, w.chained, 0.0)) * ab
    f_out = np.where(np.logical_and(res_out, np.logical_not(w.out_shared)), 0.0, w.out_elems) * ab
    moved_in, moved_out = w.in_elems * ab, w.out_elems * ab
    rd = [np.zeros(()) for _ in hw.levels]
    wr = [np.zeros(()) for _ in hw.levels]
    dram_rd, dram_wr = np.zeros(()), np.zeros(())
    home_a, home_o = hw.home[ACT], hw.home[OUT]
    if home_a < 0:
        dram_rd = dram_rd + moved_in
    else:
        rd[home_a] = rd[home_a] + moved_in + w.onchip_elems * ab / 2
        wr[home_a] = wr[home_a] + f_in
        dram_rd = dram_rd + f_in
    if home_o < 0:
        dram_wr = dram_wr + moved_out
    else:
        wr[home_o] = wr[home_o] + moved_out + w.onchip_elems * ab / 2
        rd[home_o] = rd[home_o] + f_out
        dram_wr = dram_wr + f_out
    lv_cyc = np.zeros(())
    legal = np.ones(np.broadcast(cycles, res_in, res_out).shape, dtype=bool)
    for i, lv in enumerate(hw.levels):
        acc = (rd[i] + wr[i]) / lv.access_bytes
        lv_cyc = np.maximum(lv_cyc, acc / bank_rate(acc, np.maximum(cycles, 1.0), lv))
        resident = {  # each in its partition, else in the pool (simulator.cost.capacity)
            ACT: np.where(res_in, w.chained, 0.0) * ab * (home_a == i),
            OUT: np.where(res_out, w.out_elems, 0.0) * ab * (home_o == i),
        }
        legal = legal & level_fits(lv, resident)
    energy = {"vector": w.ops * hw.vector_pj * np.ones_like(lv_cyc)}
    for i, lv in enumerate(hw.levels):
        energy[lv.name] = (rd[i] * lv.read_pj + wr[i] * lv.write_pj) / lv.access_bytes
    energy["dram"] = (dram_rd + dram_wr) * 8.0 * hw.dram_pj_per_bit
    shape = legal.shape
    return VectorCost(
        cycles=np.broadcast_to(cycles, shape),
        dram_rd_bytes=np.broadcast_to(dram_rd, shape),
        dram_wr_bytes=np.broadcast_to(dram_wr, shape),
        level_rd_bytes=tuple(np.broadcast_to(x, shape) for x in rd),
        level_wr_bytes=tuple(np.broadcast_to(x, shape) for x in wr),
        level_cycles=np.broadcast_to(lv_cyc, shape),
        legal=legal,
        energy_pj={k: np.broadcast_to(v, shape) for k, v in energy.items()},
    )


def streaming_cycles(hw: Hardware, compute: np.ndarray, level: np.ndarray, dram_bytes: np.ndarray) -> np.ndarray:
    """Cycles of a streamed op: DRAM latency once, then the slowest of its resources."""
    lat = np.where(dram_bytes > 0, hw.dram_latency_cycles, 0.0)
    return lat + np.maximum(np.maximum(compute, level), dram_bytes / hw.dram_bytes_per_cycle)
