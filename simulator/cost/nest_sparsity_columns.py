"""Many nests' numbers reduced to the simulator's columns at once: :func:`reduce` is
:func:`simulator.cost.nest_columns.reduce_nest` over arrays (one value per case), for
:mod:`simulator.cost.nest_sparsity` to reduce every nest at every step in one pass. The tests hold
the two equal (``tests/unit/simulator/cost/nest/test_nest_sparsity_columns.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.cost.hardware import Hardware, bank_rate
from simulator.cost.mapping import score


@dataclass(frozen=True)
class Reduced:
    """Per case (arrays of the cases' shape): what :class:`~simulator.cost.nest_columns.Nest` holds of a nest
    that :mod:`simulator.cost.nest_sparsity` changes."""

    compute: np.ndarray
    cycles: np.ndarray
    memory: np.ndarray
    stalls: dict[str, np.ndarray]  # the one-level model's causes (nest_columns.STALLS)
    energy_pj: dict[str, np.ndarray]  # "compute" (the MACs), "rf" (the per-PE levels), each shared level
    traffic: dict[str, np.ndarray]  # per level

    def energy_score(self, hw: Hardware) -> np.ndarray:
        """The one-level model's delta criterion: energy with leakage over the cycles."""
        total = np.zeros_like(self.cycles)
        for v in self.energy_pj.values():
            total = total + v
        return np.asarray(score(hw, "energy", self.cycles, total))


def reduce(
    names: tuple[str, ...],
    fanout_level: int,
    hw: Hardware,
    compute: np.ndarray,
    transfer: np.ndarray,
    traffic: np.ndarray,
    exposed: np.ndarray,
    energy: np.ndarray,
    mac_energy: np.ndarray,
) -> Reduced:
    """The cases' columns (as ``reduce_nest``: bank conflicts at the shared levels, DRAM latency,
    stall names): ``compute`` cycles; ``transfer`` (per instance), ``traffic`` (bytes),
    ``exposed`` (cycles; 0 at a level with none) and ``energy`` (pJ) ``(..., L)`` on the levels
    ``names`` (DRAM named ``dram``); ``mac_energy`` pJ."""
    shared = {lv.name: lv for lv in hw.levels}
    dram = names.index("dram")
    onchip = compute
    for i, name in enumerate(names):
        t = transfer[..., i]
        if name in shared:
            lv = shared[name]
            acc = traffic[..., i] / lv.access_bytes
            t = np.maximum(t, acc / bank_rate(acc, np.maximum(compute, 1.0), lv))
        if name != "dram":
            onchip = np.maximum(onchip, t)
    busy = np.maximum(onchip, transfer[..., dram])
    exposed_levels = [i for i in range(fanout_level, len(names) - 1)]
    serial = np.zeros_like(compute)
    first = np.zeros_like(compute)
    for i in exposed_levels:
        if shared[names[i]].double_buffered:
            first = first + exposed[..., i]
        else:
            serial = serial + exposed[..., i]
    memory = transfer[..., 0]
    for i in range(1, len(names)):
        memory = np.maximum(memory, transfer[..., i])
    lat = np.where(traffic[..., dram] > 0, hw.dram_latency_cycles, 0.0)
    out: dict[str, np.ndarray] = {"compute": mac_energy}
    for i, name in enumerate(names):
        key = "rf" if i < fanout_level else name
        out[key] = out[key] + energy[..., i] if key in out else energy[..., i]
    return Reduced(
        compute=compute,
        cycles=busy + serial + first + lat,
        memory=memory,
        stalls={"dram": busy - onchip, "fill_drain": first + lat, "serial": serial, "sram": onchip - compute},
        energy_pj=out,
        traffic={name: traffic[..., i] for i, name in enumerate(names)},
    )
