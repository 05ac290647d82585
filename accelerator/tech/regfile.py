"""Access energy of a small register file (a flip-flop array), from cited standard-cell data.

A per-PE storage of a few dozen words is usually built of flip-flops, not an SRAM macro (Eyeriss's
ifmap and psum spads: Chen et al., JSSC 2017, Sec. V-C). The project's SRAM fit
(:func:`accelerator.tech.sram_access_energy_pj`, Horowitz ISSCC 2014's 8 KB to 1 MB points) says
nothing about such arrays. This module prices one from the NanGate FreePDK45 cells that synthesis
builds it of (``accelerator/tech/regfile_45nm.yaml`` cites every number):

- a read: the read mux tree, ``W - 1`` MUX2_X1 per bit over ``ceil(log2 W)`` levels. The select
  lines charge their S pins, and a mux output toggles when the bits below it select another word
  that holds another value: its Liberty internal energy (select arc when its own select toggled,
  data arc otherwise) and its net's charge;
- a write: the write data bus, wired to the D pins of every word (each word behind a clock gate,
  its clock held low while closed, so its master latch follows the bus: the D pin's clock-low
  internal energy), the written flops' output change (Q and QN internal energy and the clock pin's
  excess over a held output), and the write address literals into every word's decode gate.

Energies are computed at 45 nm / 0.9 V: capacitances charged at 0.9 V, the library's 1.1 V
internal energies carried to 0.9 V by Stillmaker & Baas' 45 nm polynomial (as
``accelerator/tech/clock_45nm.yaml``), then carried to the design's node and supply by
:func:`accelerator.tech.node_energy_factor`, like every energy here. Activity: random data and
addresses (each bit toggles with probability 1/2; the table's assumption rows).

Not here: the clock of the written word (``simulator.cost.clock`` charges it with the clock
network), the decode gates' outputs, the drivers of the write bus and the read port, wires beyond one
local net per mux output, leakage. Per access the model is a lower bound on those counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from accelerator.errors import SpecError
from accelerator.tech import node_energy_factor

_HERE = Path(__file__).parent

#: The cited table of register-file cell data at 45 nm.
TABLE = _HERE / "regfile_45nm.yaml"

#: The clock network's table: the held-output clock energy a written flop is already charged there.
CLOCK_TABLE = _HERE / "clock_45nm.yaml"


@cache  # immutable package data; caching cannot change results
def regfile_table() -> dict[str, Any]:
    """``accelerator/tech/regfile_45nm.yaml`` as loaded."""
    with TABLE.open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


@cache
def _clock_table() -> dict[str, Any]:
    with CLOCK_TABLE.open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def _value(name: str) -> float:
    return float(regfile_table()[name]["value"])


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"register file {name}: expected a positive integer, got {value!r}")


def mux_tree_levels(words: int) -> tuple[int, ...]:
    """MUX2 cells per bit at each level of a read tree over ``words`` inputs, level 1 next to the
    flops: each level pairs up what the level below leaves (an odd one passes through), so the
    levels hold ``words - 1`` muxes in ``ceil(log2 words)`` levels."""
    _check_positive_int("words", words)
    levels = []
    remaining = words
    while remaining > 1:
        pairs = remaining // 2
        levels.append(pairs)
        remaining -= pairs
    return tuple(levels)


def address_bits(words: int) -> int:
    """Address bits that select one of ``words`` words: ``ceil(log2 words)`` (0 for one word)."""
    _check_positive_int("words", words)
    return (words - 1).bit_length()


@dataclass(frozen=True)
class RegisterFileParts:
    """One access of a register file in fJ at 45 nm / 0.9 V, by part (module docstring)."""

    #: read: the select lines charging the muxes' S pins
    read_select_fj: float
    #: read: the internal energy of the mux outputs that toggle
    read_mux_fj: float
    #: read: the charge of the toggling mux outputs' nets
    read_net_fj: float
    #: write: the data bus into every word's D pins (pin charge and clock-low internal energy)
    write_bus_fj: float
    #: write: the written flops' output change (Q, QN and the clock pin's excess; the Q net's charge)
    write_flop_fj: float
    #: write: the write address literals charging every word's decode-gate input
    write_decode_fj: float

    @property
    def read_fj(self) -> float:
        """A read's three parts together."""
        return self.read_select_fj + self.read_mux_fj + self.read_net_fj

    @property
    def write_fj(self) -> float:
        """A write's three parts together."""
        return self.write_bus_fj + self.write_flop_fj + self.write_decode_fj


def liberty_to_base() -> float:
    """Factor from the library's 1.1 V internal energies to the 45 nm / 0.9 V base
    (Stillmaker & Baas' 45 nm polynomial, as ``accelerator/tech/clock_45nm.yaml``)."""
    return node_energy_factor(45, float(regfile_table()["vdd_v"])) / node_energy_factor(45, _value("liberty_vdd_v"))


def register_file_parts(words: int, width_bits: int) -> RegisterFileParts:
    """One access of ``width_bits`` to a word-gated flip-flop array of ``words`` words, in fJ at
    45 nm / 0.9 V, by part (``accelerator/tech/regfile_45nm.yaml`` gives the formulas and sources)."""
    _check_positive_int("words", words)
    _check_positive_int("width_bits", width_bits)
    v = float(regfile_table()["vdd_v"])
    s = liberty_to_base()
    p_d = _value("data_toggle_probability")
    p_a = _value("address_toggle_probability")
    half_cv2 = 0.5 * v * v  # fJ per fF per net transition
    c_net = _value("local_net_ff")

    select = mux = net = 0.0
    for level, muxes in enumerate(mux_tree_levels(words), start=1):
        stay = 1.0 - p_a
        select += muxes * p_a * _value("mux_select_pin_ff") * half_cv2
        # own select toggled: the select arc; else a toggle from below: the data arc (none at level 1)
        arcs = p_a * _value("mux_select_to_out_fj") + stay * (1.0 - stay ** (level - 1)) * _value("mux_data_to_out_fj")
        mux += muxes * p_d * arcs * s / 2.0
        net += muxes * p_d * (1.0 - stay**level) * c_net * half_cv2

    bus_per_word = _value("flop_data_pin_ff") * half_cv2 + _value("flop_data_internal_fj") * s / 2.0
    held = float(_clock_table()["flop_clock_internal_fj"]["value"])
    output_change = (
        _value("flop_clock_output_change_fj") - held + _value("flop_q_internal_fj") + _value("flop_qn_internal_fj")
    )
    decode = p_a * address_bits(words) * words * _value("decoder_input_pin_ff") * half_cv2
    return RegisterFileParts(
        read_select_fj=select * width_bits,
        read_mux_fj=mux * width_bits,
        read_net_fj=net * width_bits,
        write_bus_fj=width_bits * p_d * words * bus_per_word,
        write_flop_fj=width_bits * p_d * (output_change * s + c_net * half_cv2),
        write_decode_fj=decode,
    )


@dataclass(frozen=True)
class RegisterFileAccess:
    """Energy of one read and one write of a register file's word, in pJ."""

    read_pj: float
    write_pj: float


def register_file_access_pj(
    words: int, width_bits: int, node_nm: float, vdd_v: float | None = None
) -> RegisterFileAccess:
    """One read and one write of ``width_bits`` to a word-gated flip-flop array of ``words`` words, in
    pJ at ``node_nm`` and supply ``vdd_v`` (``None``: the node's nominal supply): the 45 nm / 0.9 V
    parts (:func:`register_file_parts`) × :func:`accelerator.tech.node_energy_factor`. The written
    word's clock is not in it (``simulator.cost.clock`` charges it)."""
    parts = register_file_parts(words, width_bits)
    factor = node_energy_factor(node_nm, vdd_v) * 1e-3
    return RegisterFileAccess(read_pj=parts.read_fj * factor, write_pj=parts.write_fj * factor)
