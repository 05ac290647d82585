"""The physical floor of one design on one workload: the energy no design at its node and
precision can go below without doing less arithmetic or reading fewer weights.

``floor = MACs per image × e_MAC + weight bytes × 8 × e_bit``:

- ``MACs per image``: the trace's MACs per step × sampling steps, plus the decoder's once (a table
  prepared at batch B holds B images: its MACs are divided by B). Dense:
  a design that skips zero work can in principle go below it (a finding when it does).
- ``e_MAC``: the best cited MAC energy at the design's node, supply and run precision: one multiply at
  the precision plus one add at the product's width (``accelerator.tech.PRODUCT_FORMAT``), the
  limit of a packed PE whose accumulate is amortised over many products
  (``accelerator.tech.packed_mac_energy_pj`` as ``p`` grows); Horowitz, ISSCC 2014, Fig. 1.1.9
  (45 nm), scaled by Stillmaker & Baas, Integration 2017 (``accelerator.tech.node_energy_factor``,
  at the design's ``vdd_v``: a lower supply lowers the floor too).
- ``weight bytes``: the distinct parameters at the design's weight width
  (:func:`simulator.cost.residency.param_bytes`), denoiser and decoder, read once per image.
- ``e_bit``: the cheapest memory of the design that holds them all: a shared on-chip level that
  holds weights and is at least that large (its read energy per access / access bits:
  :func:`simulator.cost.hardware.level_energy`, the SRAM fit to Horowitz 2014 plus DARPA 2008
  wire energy), else the design's DRAM (``accelerator/tech/energy_45nm.yaml: dram_pj_per_bit``).

Left out on purpose (each makes a real design costlier, never cheaper): activations, vector
ops, register files, leakage, loading the weights into the chip.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelerator import tech
from accelerator.spec import ArchSpec
from simulator.cost.capacity import capacity
from simulator.cost.hardware import WGT, hardware
from simulator.cost.residency import param_bytes
from simulator.optable import OpTable

MAC_SOURCE = (
    "mult + add at product width, Horowitz ISSCC 2014 Fig. 1.1.9 (45 nm), node-scaled by Stillmaker & Baas 2017"
)
SRAM_SOURCE = "SRAM fit to Horowitz ISSCC 2014 (one bank) + wire, Kogge et al. DARPA 2008; node-scaled"


@dataclass(frozen=True)
class Floor:
    """The floor's terms (units in the names) and their sources."""

    macs_per_image: float
    mac_pj: float
    precision: str
    node_nm: float
    weight_bytes: float
    weight_pj_per_bit: float
    weight_memory: str  # "glb" (a level of the design) or "dram:<kind>"
    weight_source: str

    @property
    def mac_j(self) -> float:
        return self.macs_per_image * self.mac_pj * 1e-12

    @property
    def weight_j(self) -> float:
        return self.weight_bytes * 8.0 * self.weight_pj_per_bit * 1e-12

    @property
    def energy_j(self) -> float:
        return self.mac_j + self.weight_j


def floor_mac_pj(precision: str, node_nm: float, vdd_v: float | None = None) -> float:
    """Best cited energy of one MAC at ``precision``, ``node_nm`` and supply ``vdd_v`` (``None``: the
    node's nominal), pJ (see the module doc)."""
    return tech.op_energy_pj("mult", precision, node_nm, vdd_v) + tech.op_energy_pj(
        "add", tech.PRODUCT_FORMAT[precision], node_nm, vdd_v
    )


def physical_floor(arch: ArchSpec, table: OpTable, steps: int, decoder: OpTable | None = None) -> Floor:
    """The floor of ``arch`` on a workload (``table``, ``steps`` per image, ``decoder`` once)."""
    hw = hardware(arch)
    macs = float(table.workload.macs_per_step) * steps / table.batch
    weights = param_bytes(table, hw)
    if decoder is not None:
        macs += float(decoder.workload.macs_per_step) / decoder.batch
        weights += param_bytes(decoder, hw)
    best = (hw.dram_pj_per_bit, f"dram:{arch.memory.dram.kind}", _dram_source(arch))
    for lv in hw.levels:
        if lv.holds[WGT] and capacity(lv, WGT) >= weights:
            per_bit = lv.read_pj / (lv.access_bytes * 8.0)
            if per_bit < best[0]:
                best = (per_bit, lv.name, SRAM_SOURCE)
    return Floor(
        macs_per_image=macs,
        mac_pj=floor_mac_pj(hw.precision, arch.technology_nm, arch.vdd_v),
        precision=hw.precision,
        node_nm=arch.technology_nm,
        weight_bytes=weights,
        weight_pj_per_bit=best[0],
        weight_memory=best[1],
        weight_source=best[2],
    )


def _dram_source(arch: ArchSpec) -> str:
    if arch.memory.dram.energy_pj_per_bit is not None:
        return f"{arch.name}: memory.dram.energy_pj_per_bit"
    return str(tech.energy_table()["dram_pj_per_bit"][arch.memory.dram.kind]["source"])
