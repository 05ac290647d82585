"""Cited energy and area tables, and the explicit technology-node scaling step.

The base tables (``energy_45nm.yaml``, ``area_45nm.yaml``) are 45 nm numbers with a source on
every row. Scaling to another node is a separate, documented step:

- energy: Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device
  performance from 180 nm to 7 nm", Integration 58 (2017) 74-81, Table 5 (PTM/ITRS fits):
  energy(node, Vdd) ∝ a·Vdd² + b·Vdd + c; the factor from 45 nm is the ratio of the two.
- area: the same paper's area factors (node-to-node ratio table).

All functions are pure and return floats in the unit their name says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from accelerator.errors import SpecError

_HERE = Path(__file__).parent

#: Nodes with scaling coefficients (nm).
KNOWN_NODES_NM: tuple[float, ...] = (130, 90, 65, 45, 32, 20, 16, 14, 10, 7)

#: Stillmaker & Baas 2017, Table 5: energy ∝ a·Vdd² + b·Vdd + c per node.
_ENERGY_POLY: dict[float, tuple[float, float, float]] = {
    130: (7.171, -6.709, 2.904),
    90: (4.762, -4.781, 2.092),
    65: (3.755, -4.398, 1.975),
    45: (1.103, -0.362, 0.2767),
    32: (0.9559, -0.7823, 0.471),
    20: (0.373, -0.1582, 0.04104),
    16: (0.2958, -0.1241, 0.03024),
    14: (0.2363, -0.09675, 0.02239),
    10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}

#: Stillmaker & Baas 2017: area relative to 45 nm (row "45 nm" of the node-ratio table).
_AREA_FROM_45: dict[float, float] = {
    130: 6.4,
    90: 2.8,
    65: 1.5,
    45: 1.0,
    32: 0.46,
    20: 0.21,
    16: 0.19,
    14: 0.17,
    10: 0.1,
    7: 0.059,
}

#: Nominal supply voltage assumed per node when a spec gives none (V). 45 nm = 0.9 V as in
#: Horowitz 2014; the others are typical nominal core voltages of those nodes (assumption,
#: stated so: a spec sets another with ``vdd_v``; ``accelerator.tech.voltage`` says what it changes).
NOMINAL_VDD_V: dict[float, float] = {
    130: 1.3,
    90: 1.2,
    65: 1.1,
    45: 0.9,
    32: 0.9,
    20: 0.9,
    16: 0.8,
    14: 0.8,
    10: 0.75,
    7: 0.7,
}


@dataclass(frozen=True)
class Cited:
    """A number with its source."""

    value: float
    source: str


def _load(name: str) -> dict[str, Any]:
    with (_HERE / name).open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


@cache  # the tables are immutable package data; caching cannot change results
def energy_table() -> dict[str, Any]:
    return _load("energy_45nm.yaml")


@cache
def area_table() -> dict[str, Any]:
    return _load("area_45nm.yaml")


def _check_node(node_nm: float) -> None:
    if node_nm not in _ENERGY_POLY:
        raise SpecError(
            f"technology node {node_nm:g} nm has no scaling data; allowed: "
            + ", ".join(f"{n:g}" for n in KNOWN_NODES_NM)
        )


def energy_polynomial(node_nm: float) -> tuple[float, float, float]:
    """``(a, b, c)`` of the node's dynamic energy ``a·Vdd² + b·Vdd + c`` (Stillmaker & Baas 2017, Table 5)."""
    _check_node(node_nm)
    return _ENERGY_POLY[node_nm]


def node_energy_factor(node_nm: float, vdd_v: float | None = None) -> float:
    """Dynamic-energy factor from the 45 nm / 0.9 V base tables to ``node_nm`` at ``vdd_v``
    (``None``: the node's nominal supply, ``NOMINAL_VDD_V``)."""
    _check_node(node_nm)
    vdd = NOMINAL_VDD_V[node_nm] if vdd_v is None else vdd_v
    a, b, c = _ENERGY_POLY[node_nm]
    a0, b0, c0 = _ENERGY_POLY[45]
    v0 = NOMINAL_VDD_V[45]
    return (a * vdd * vdd + b * vdd + c) / (a0 * v0 * v0 + b0 * v0 + c0)


def node_area_factor(node_nm: float) -> float:
    """Area factor from 45 nm to ``node_nm`` (Stillmaker & Baas 2017)."""
    _check_node(node_nm)
    return _AREA_FROM_45[node_nm]


def op_energy_pj(op: str, fmt: str, node_nm: float = 45, vdd_v: float | None = None) -> float:
    """Energy of one ``op`` ('add' or 'mult') in ``fmt`` (e.g. 'int8', 'fp16') in pJ, at ``node_nm``
    and supply ``vdd_v`` (``None``: the node's nominal)."""
    key = f"{op}_{fmt}"
    row = energy_table()["ops_pj"].get(key)
    if row is None:
        raise SpecError(f"no energy entry for {key!r} in accelerator/tech/energy_45nm.yaml")
    return float(row["value"]) * node_energy_factor(node_nm, vdd_v)


def _acc_format(precision: str, accumulator_bits: int) -> str:
    if precision.startswith("int"):
        return "int32" if accumulator_bits > 16 else "int16"
    return "fp32" if accumulator_bits > 16 else "fp16"


def mac_energy_pj(precision: str, node_nm: float, accumulator_bits: int = 32, vdd_v: float | None = None) -> float:
    """One multiply at ``precision`` plus one accumulate at the accumulator's width, in pJ."""
    return op_energy_pj("mult", precision, node_nm, vdd_v) + op_energy_pj(
        "add", _acc_format(precision, accumulator_bits), node_nm, vdd_v
    )


#: Format of the product two operands of a precision make (the adder tree of a packed PE adds
#: products, not accumulator values): integer products double the width, fp8 products are
#: added in fp16 and fp16/bf16 products in fp32 (assumption, the usual mixed-precision PE).
PRODUCT_FORMAT: dict[str, str] = {
    "int4": "int8",
    "int8": "int16",
    "fp8": "fp16",
    "fp16": "fp32",
    "bf16": "fp32",
    "fp32": "fp32",
}


def packed_mac_energy_pj(
    precision: str, node_nm: float, accumulator_bits: int = 32, macs_per_cycle: int = 1, vdd_v: float | None = None
) -> float:
    """Energy per MAC of a PE doing ``macs_per_cycle`` MACs a cycle (packed modes), in pJ.

    The PE multiplies ``p`` operand pairs, adds the ``p`` products in a tree of ``p − 1`` adds
    at product width and accumulates once: per MAC ``mult + ((p − 1)·add_product + add_acc)/p``.
    With ``p = 1`` this is :func:`mac_energy_pj`. ``vdd_v``: the supply (``None``: nominal).
    """
    p = max(int(macs_per_cycle), 1)
    if p == 1:
        return mac_energy_pj(precision, node_nm, accumulator_bits, vdd_v)
    tree = op_energy_pj("add", PRODUCT_FORMAT[precision], node_nm, vdd_v) * (p - 1)
    acc = op_energy_pj("add", _acc_format(precision, accumulator_bits), node_nm, vdd_v)
    return op_energy_pj("mult", precision, node_nm, vdd_v) + (tree + acc) / p


def wire_energy_pj_per_bit_mm() -> float:
    """On-chip wire energy per bit per mm (not node-scaled; see the table), in pJ."""
    return float(energy_table()["wire"]["fj_per_bit_mm"]["value"]) * 1e-3


def dram_organisation(kind: str) -> dict[str, float]:
    """``{"burst_bytes", "page_bytes", "row_miss_bytes"}`` of a DRAM technology (bytes)."""
    rows = energy_table()["dram_kinds"].get(kind)
    if rows is None:
        allowed = ", ".join(energy_table()["dram_kinds"])
        raise SpecError(f"unknown DRAM kind {kind!r}; allowed: {allowed}")
    return {name: float(row["value"]) for name, row in rows.items()}


def vector_op_energy_pj(precision: str, node_nm: float, vdd_v: float | None = None) -> float:
    """One elementwise operation (norm, softmax, activation) on the vector unit, in pJ.

    Modelled as one multiply + one add at the array's precision (fp16 for integer arrays, since
    non-GEMM ops run in higher precision on real accelerators; assumption).
    """
    fmt = "fp16" if precision.startswith("int") else precision
    return op_energy_pj("mult", fmt, node_nm, vdd_v) + op_energy_pj("add", fmt, node_nm, vdd_v)


def sram_access_energy_pj(size_bytes: int, width_bits: int, node_nm: float, vdd_v: float | None = None) -> float:
    """Energy of one read of ``width_bits`` from an SRAM of ``size_bytes``, in pJ.

    E = 10 pJ · (size / 8 KB)^0.5 · width/64 at 45 nm (fit to Horowitz 2014), then node (and
    supply, ``vdd_v``; ``None``: nominal) scaling.
    """
    t = energy_table()["sram"]
    ref = float(t["ref_read_64b_pj"]["value"])
    ratio = max(size_bytes, 1) / float(t["ref_size_bytes"]["value"])
    e45 = ref * ratio ** float(t["size_exponent"]["value"]) * (width_bits / 64.0)
    return e45 * node_energy_factor(node_nm, vdd_v)


def sram_leakage_mw(size_bytes: int, node_nm: float, vdd_v: float | None = None) -> float:
    """Static power of an SRAM of ``size_bytes`` in mW (unverified default, see the table), at the
    node's nominal supply, or at ``vdd_v`` scaled by ``vdd_v / nominal`` (leakage current held
    constant, ``accelerator.tech.voltage.leakage_voltage_factor``: assumption)."""
    per_kib = float(energy_table()["sram"]["leakage_mw_per_kib"]["value"])
    # Leakage per bit shrinks with cell area; scale by the area factor (assumption).
    mw = per_kib * size_bytes / 1024.0 * node_area_factor(node_nm)
    return mw if vdd_v is None else mw * vdd_v / NOMINAL_VDD_V[node_nm]


def dram_energy_pj_per_bit(kind: str) -> float:
    """Access energy per bit (incl. I/O) of a DRAM technology, in pJ/bit (not node-scaled)."""
    row = energy_table()["dram_pj_per_bit"].get(kind)
    if row is None:
        allowed = ", ".join(energy_table()["dram_pj_per_bit"])
        raise SpecError(f"unknown DRAM kind {kind!r}; allowed: {allowed}")
    return float(row["value"])


def unit_area_um2(op: str, fmt: str, node_nm: float) -> float:
    """Area of one ``op`` unit ('add', 'mult') in ``fmt`` at ``node_nm``, in µm²."""
    row = area_table()["ops_um2"].get(f"{op}_{fmt}")
    if row is None:
        raise SpecError(f"no area entry for {op}_{fmt!r} in accelerator/tech/area_45nm.yaml")
    return float(row["value"]) * node_area_factor(node_nm)


def mac_area_um2(precision: str, node_nm: float, accumulator_bits: int = 32) -> float:
    """Multiplier + accumulator adder + accumulator register, in µm² (the old, partial PE
    model; the simulator prices a PE with :func:`pe_area_um2`)."""
    reg = float(area_table()["ops_um2"]["register_bit"]["value"]) * accumulator_bits
    return (
        unit_area_um2("mult", precision, node_nm)
        + unit_area_um2("add", _acc_format(precision, accumulator_bits), node_nm)
        + reg * node_area_factor(node_nm)
    )


#: Bits per operand of each array precision (``accelerator.spec`` re-exports it).
PRECISION_BITS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}


def cell_area_um2(cell: str) -> float:
    """Area of one NanGate FreePDK45 standard cell (``DFF_X1``, ``MUX2_X1``, ...) at 45 nm, um^2."""
    row = area_table()["cells_um2"].get(cell)
    if row is None:
        raise SpecError(f"no area entry for cell {cell!r} in accelerator/tech/area_45nm.yaml")
    return float(row["value"])


@dataclass(frozen=True)
class PeArea:
    """Area of one PE by part, um^2 at the node asked for (see :func:`pe_area_um2`)."""

    multipliers: float
    adders: float  # product adder trees + the accumulator adder
    product_mux: float
    accumulator_register: float
    operand_registers: float
    control: float  # fire flags and zero detection (operand isolation)

    @property
    def total(self) -> float:
        return (
            self.multipliers
            + self.adders
            + self.product_mux
            + self.accumulator_register
            + self.operand_registers
            + self.control
        )


def pe_area(macs_per_pe_per_cycle: dict[str, int], node_nm: float, accumulator_bits: int = 32) -> PeArea:
    """The parts of one PE that supports ``macs_per_pe_per_cycle`` (precision -> packed MACs).

    Counted as ``rtl/pe_tile/hdl/pe_tile_pe.v`` builds it (docs/rtl.md, "Activity and area"):

    - multipliers: one per MAC per cycle of every supported precision, none shared (the tile
      has one 8x8 and two 4x4): ``sum(p) mpc_p · mult_p`` (Horowitz 2014 areas);
    - adders: per precision a tree of ``mpc_p − 1`` adds at product width, and one accumulator
      adder per accumulate format (one for integer precisions, one for floating point);
    - product mux: a MUX2 per product bit between precisions (``n_precisions − 1`` of them,
      2 × the widest operand bits wide);
    - accumulator register: ``accumulator_bits`` flip-flops, each with hold (MUX2), preload
      (MUX2) and synchronous clear (AND2);
    - operand registers: activation and weight lanes (``max(bits_p · mpc_p)`` bits each), each
      bit a flip-flop with load enable (MUX2, operand isolation) and synchronous reset (AND2);
    - control: a fire flag per packed MAC (flip-flop + AND2) and zero detection, an OR2 per
      operand bit.

    Cells are NanGate FreePDK45 X1 cells (``cells_um2``), arithmetic the Horowitz 2014 rows
    (``ops_um2``); everything is scaled from 45 nm by :func:`node_area_factor`.
    """
    if not macs_per_pe_per_cycle:
        raise SpecError("a PE needs at least one precision in macs_per_pe_per_cycle")
    ops = area_table()["ops_um2"]

    def op(name: str) -> float:
        row = ops.get(name)
        if row is None:
            raise SpecError(f"no area entry for {name!r} in accelerator/tech/area_45nm.yaml")
        return float(row["value"])

    dff, mux, and2, or2 = (cell_area_um2(c) for c in ("DFF_X1", "MUX2_X1", "AND2_X1", "OR2_X1"))
    precisions = list(macs_per_pe_per_cycle)
    widest = max(precisions, key=lambda p: (PRECISION_BITS[p], op(f"mult_{p}")))
    lane_bits = max(PRECISION_BITS[p] * macs_per_pe_per_cycle[p] for p in precisions)
    packed = max(macs_per_pe_per_cycle.values())
    mults = sum(n * op(f"mult_{p}") for p, n in macs_per_pe_per_cycle.items())
    trees = sum((n - 1) * op(f"add_{PRODUCT_FORMAT[p]}") for p, n in macs_per_pe_per_cycle.items())
    accumulates = {_acc_format(p, accumulator_bits) for p in precisions}  # an int and a float one
    adders = trees + sum(op(f"add_{fmt}") for fmt in sorted(accumulates))
    product_mux = (len(precisions) - 1) * 2 * PRECISION_BITS[widest] * mux
    acc_reg = accumulator_bits * (dff + 2 * mux + and2)
    operand_regs = 2 * lane_bits * (dff + mux + and2)
    control = packed * (dff + and2) + 2 * lane_bits * or2
    f = node_area_factor(node_nm)
    return PeArea(mults * f, adders * f, product_mux * f, acc_reg * f, operand_regs * f, control * f)


def pe_area_um2(macs_per_pe_per_cycle: dict[str, int], node_nm: float, accumulator_bits: int = 32) -> float:
    """Area of one PE in um^2 (:func:`pe_area`'s total)."""
    return pe_area(macs_per_pe_per_cycle, node_nm, accumulator_bits).total


def sram_area_mm2(size_bytes: int, node_nm: float) -> float:
    """SRAM macro area in mm² (6T cell area / array efficiency, node-scaled)."""
    t = area_table()["sram"]
    um2 = size_bytes * 8 * float(t["cell_um2"]["value"]) / float(t["array_efficiency"]["value"])
    return um2 * node_area_factor(node_nm) * 1e-6


def sources() -> list[Cited]:
    """Every cited row of the energy and area tables (for reports)."""
    out: list[Cited] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "value" in node and "source" in node:
                out.append(Cited(float(node["value"]), str(node["source"])))
                return
            for child in node.values():
                walk(child)

    for table in (energy_table(), area_table()):
        walk(table)
    return out


__all__ = [
    "KNOWN_NODES_NM",
    "NOMINAL_VDD_V",
    "PRECISION_BITS",
    "Cited",
    "PeArea",
    "cell_area_um2",
    "pe_area",
    "pe_area_um2",
    "dram_energy_pj_per_bit",
    "dram_organisation",
    "energy_polynomial",
    "packed_mac_energy_pj",
    "wire_energy_pj_per_bit_mm",
    "mac_area_um2",
    "mac_energy_pj",
    "node_area_factor",
    "node_energy_factor",
    "op_energy_pj",
    "sram_access_energy_pj",
    "sram_area_mm2",
    "sram_leakage_mw",
    "unit_area_um2",
    "vector_op_energy_pj",
    "sources",
]
