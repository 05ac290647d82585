"""Weights that stay on chip across denoising steps (``memory.weight_residency: across_steps``).

A diffusion model runs the same weights on every step. When the model's parameters fit the
chosen level (``memory.weight_residency_level``, default the outermost level holding weights)
beside the tiles the per-op mapping needs, they stay there:

- **Parameter bytes** ``P``: every GEMM row with a trained weight (``weight_is_param``) counts
  ``batch·K·N`` elements at the design's weight width. Traces carry module paths, not tensor
  ids, so rows with the same ``(module, batch, K, N)`` are one parameter (a module called twice
  in a step counts once); rows without a module path count each time (an upper bound).
- **Capacity**: the level loses ``P`` bytes for everything else; the mapper maps every op with
  what is left (:func:`reserve`). On a level with a weight partition (the spec's ``partitions``
  on a shared level) the weights must fit the partition and take ``P`` out of it, leaving the
  other operands' pool as it was (:mod:`simulator.cost.capacity`). If ``P`` exceeds the level
  (or its weight partition), or no tile of some op fits the rest, or the reduced mapping would
  move more DRAM bytes per image than ``per_op`` (tiles squeezed), the design falls
  back to ``per_op`` and its result says why.
- **Steady state** (every step): weight tiles are read from the level, not DRAM, and are not
  written into it (:func:`simulator.cost.gemm.gemm_cost` with ``w_resident``); the array
  stream still reads them from the level (its read energy and bandwidth are charged as for
  any stream).
- **Fill, once per image** (the conservative choice: a chip serving one image per model load):
  ``P`` bytes read from DRAM and written into the level, serially before the first step
  (an upper bound on its time: a real chip overlaps it with the first step), with the chip's
  leakage over that time (:func:`fill_cost`). The level's leakage is charged on every step as
  before (it is part of the design's static power).

Decoders (run once per image) are not affected.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from accelerator.spec import ArchSpec
from simulator.cost.capacity import capacity
from simulator.cost.capacity import reserve as capacity_reserve
from simulator.cost.hardware import WGT, Hardware, dram_efficiency
from simulator.optable import OpTable

if TYPE_CHECKING:
    from simulator.cost.analytic import OpCosts


@dataclass(frozen=True)
class Residency:
    """Where and whether the model's weights stay on chip."""

    resident: bool
    level: str
    level_index: int  # index in Hardware.levels
    resident_bytes: float  # P: distinct parameter bytes at the weight width
    level_bytes: float  # the level's capacity for weights: its weight partition, else its pool
    note: str = ""


def param_bytes(table: OpTable, hw: Hardware) -> float:
    """Distinct parameter bytes of the workload at the design's weight width (see module doc)."""
    ops = table.workload.ops
    seen: set[tuple[object, ...]] = set()
    elems = 0.0
    for r in np.flatnonzero(table.g_weight_is_param).tolist():
        b, k, n = int(table.g_batch[r]), int(table.g_k[r]), int(table.g_n[r])
        module = ops[int(table.g_op[r])].module
        key: tuple[object, ...] = (module, b, k, n) if module else ("#row", r)
        if key in seen:
            continue
        seen.add(key)
        elems += float(b) * k * n
    return elems * hw.w_bits / 8.0


def _level_index(arch: ArchSpec, hw: Hardware) -> int:
    name = arch.memory.weight_residency_level
    if name is None:
        return hw.home[WGT]
    return next(i for i, lv in enumerate(hw.levels) if lv.name == name)


def plan(table: OpTable, arch: ArchSpec, hw: Hardware) -> Residency:
    """Whether the parameters of ``table`` fit the residency level of ``arch`` (capacity only;
    the mapping and the DRAM comparison may still refuse, see :func:`refuse`)."""
    idx = _level_index(arch, hw)
    lv = hw.levels[idx]
    p = param_bytes(table, hw)
    cap = capacity(lv, WGT)
    where = f"{lv.name}'s weight partition" if math.isfinite(lv.partition_bytes[WGT]) else lv.name
    if p > cap:
        return Residency(
            False,
            lv.name,
            idx,
            p,
            cap,
            f"weights not resident: the model's {_mb(p)} of parameters exceed "
            f"{where} ({_mb(cap)}); weights are read per op, every step",
        )
    return Residency(
        p > 0,
        lv.name,
        idx,
        p,
        cap,
        f"weights resident in {where}: {_mb(p)} of {_mb(cap)}, read from DRAM once per image"
        if p > 0
        else "no parameters to keep",
    )


def refuse(res: Residency, why: str) -> Residency:
    """``res`` turned down after planning, with the reason in its note."""
    return dataclasses.replace(
        res,
        resident=False,
        note=f"weights not resident in {res.level} ({_mb(res.resident_bytes)} "
        f"of {_mb(res.level_bytes)}): {why}; weights are read per op",
    )


def reserve(hw: Hardware, res: Residency) -> Hardware:
    """``hw`` with the resident weights taking ``res.resident_bytes`` of their level: of its weight
    partition when it has one (:func:`simulator.cost.capacity.reserve`), else of its pool."""
    levels = list(hw.levels)
    levels[res.level_index] = capacity_reserve(levels[res.level_index], WGT, res.resident_bytes)
    return dataclasses.replace(hw, levels=tuple(levels), resident_level=res.level_index)


@dataclass(frozen=True)
class FillCost:
    """Loading the resident weights once per image."""

    dram_bytes: float
    level_bytes: float
    energy_pj: dict[str, float]  # "dram", the level's name, "leakage"
    cycles: float


def fill_cost(hw: Hardware, res: Residency) -> FillCost:
    """DRAM read + level write of the parameters, serial (an upper bound on the time)."""
    p = res.resident_bytes
    lv = hw.levels[res.level_index]
    eff = float(dram_efficiency(np.asarray(p), hw))
    cycles = hw.dram_latency_cycles + max(p / (hw.dram_bytes_per_cycle * eff), p / lv.bandwidth_bytes_per_cycle)
    leak = cycles / hw.clock_hz * hw.leakage_mw * 1e-3 * 1e12
    energy = {"dram": p * 8.0 * hw.dram_pj_per_bit, lv.name: p / lv.access_bytes * lv.write_pj, "leakage": leak}
    return FillCost(dram_bytes=p, level_bytes=p, energy_pj=energy, cycles=cycles)


def _mb(b: float) -> str:
    return f"{b / 1e6:.3g} MB"


def dram_refusal(res: Residency, counts: np.ndarray, per_op: OpCosts, kept: OpCosts) -> Residency | None:
    """``res`` refused when the mapping with resident weights (``kept``) plus the fill moves more
    DRAM bytes per image than ``per_op``; None when residency pays. ``counts``: images' steps per
    traced step."""
    dram_kept = float(counts @ kept.traffic_bytes["dram"].sum(axis=1)) + res.resident_bytes
    dram_per_op = float(counts @ per_op.traffic_bytes["dram"].sum(axis=1))
    if dram_kept <= dram_per_op:
        return None
    return refuse(
        res,
        f"the squeezed tiles would move {dram_kept / 1e6:.4g} MB of DRAM per image, more than per_op's "
        f"{dram_per_op / 1e6:.4g} MB",
    )
