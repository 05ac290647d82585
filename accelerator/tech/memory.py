"""Memory technologies as data: the cited rows of ``memory_tech.yaml`` as typed records.

A memory level names a technology (``memory.levels[].technology``: SRAM, eDRAM, stacked DRAM,
RRAM, STT- or SOT-MRAM) and may sit on a stacked die (``stacking``: hybrid bond or TSV); the
off-chip memory may name one too (``memory.dram.technology``: the ``energy_45nm.yaml`` DRAM kinds,
LPDDR5X). These functions read the table; ``simulator.cost.hardware`` turns a level into pJ per
access, mW and mm² with them (docs/memory-tech.md). All values are in the unit their name says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from accelerator.errors import SpecError
from accelerator.tech import dram_energy_pj_per_bit, energy_table

_HERE = Path(__file__).parent

#: Technologies a memory level may name (``accelerator.spec_base.LevelTechnology`` spells the same
#: names; a unit test keeps them equal).
MEMORY_CLASSES = ("sram", "dram", "nvm")


@cache  # immutable package data; caching cannot change results
def memory_table() -> dict[str, Any]:
    with (_HERE / "memory_tech.yaml").open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def _value(row: dict[str, Any], key: str) -> float | None:
    cell = row.get(key)
    return None if cell is None else float(cell["value"])


@dataclass(frozen=True)
class MemoryTechnology:
    """One on-chip row of ``memory_tech.yaml`` (None: the table leaves it to the SRAM model or the spec)."""

    name: str
    cls: str  # sram | dram | nvm
    stacked: bool  # a die of its own, bonded on the logic die (interface in its energies)
    read_pj_per_bit: float | None  # None: the SRAM model × read_over_sram_model
    read_over_sram_model: float
    write_pj_per_bit: float | None  # None: read × the SRAM table's write/read ratio
    density_bits_per_mm2: float | None  # None: the SRAM area model
    standby_over_sram: float | None  # None: the level must give leakage_mw
    endurance_writes: float | None  # writes per cell (nvm)
    min_node_nm: float | None  # smallest logic node it is offered on die at


def level_technologies() -> tuple[str, ...]:
    """Names a memory level may give as ``technology``."""
    return tuple(memory_table()["on_chip"])


def memory_technology(name: str) -> MemoryTechnology:
    """The on-chip row ``name`` as a record."""
    row = memory_table()["on_chip"].get(name)
    if row is None:
        raise SpecError(f"unknown memory technology {name!r}; allowed: {', '.join(level_technologies())}")
    cls = str(row["class"])
    if cls not in MEMORY_CLASSES:
        raise SpecError(f"memory_tech.yaml: {name}.class {cls!r} is not one of {', '.join(MEMORY_CLASSES)}")
    return MemoryTechnology(
        name=name,
        cls=cls,
        stacked=bool(row.get("stacked", False)),
        read_pj_per_bit=_value(row, "read_pj_per_bit"),
        read_over_sram_model=_value(row, "read_over_sram_model") or 1.0,
        write_pj_per_bit=_value(row, "write_pj_per_bit"),
        density_bits_per_mm2=_value(row, "density_bits_per_mm2"),
        standby_over_sram=_value(row, "standby_over_sram"),
        endurance_writes=_value(row, "endurance_writes"),
        min_node_nm=_value(row, "min_node_nm"),
    )


def interface_pj_per_bit(stacking: str) -> float:
    """Energy per bit of the die-to-die interface ``stacking`` ('none', 'hybrid_bond', 'tsv'), pJ."""
    if stacking == "none":
        return 0.0
    row = memory_table()["interfaces"].get(stacking)
    if row is None:
        raise SpecError(f"unknown stacking {stacking!r}; allowed: none, {', '.join(memory_table()['interfaces'])}")
    return float(row["pj_per_bit"]["value"])


@dataclass(frozen=True)
class OffChipTechnology:
    """An off-chip memory: energy per bit incl. I/O (not node-scaled) and its JEDEC organisation row."""

    name: str
    pj_per_bit: float
    dram_kind: str  # the energy_45nm.yaml dram_kinds row (burst, page, row miss)


def off_chip_technologies() -> tuple[str, ...]:
    """Names ``memory.dram.technology`` accepts: the ``energy_45nm.yaml`` kinds and this table's rows."""
    return tuple(dict.fromkeys([*energy_table()["dram_pj_per_bit"], *memory_table()["off_chip"]]))


def off_chip_technology(name: str) -> OffChipTechnology:
    """The off-chip row ``name``: a row of this table, else an ``energy_45nm.yaml`` DRAM kind."""
    row = memory_table()["off_chip"].get(name)
    if row is not None:
        return OffChipTechnology(name, float(row["pj_per_bit"]["value"]), str(row["dram_kind"]))
    if name not in off_chip_technologies():
        raise SpecError(f"unknown off-chip memory technology {name!r}; allowed: {', '.join(off_chip_technologies())}")
    return OffChipTechnology(name, dram_energy_pj_per_bit(name), name)


def sources() -> list[tuple[str, float, str]]:
    """Every cited row of ``memory_tech.yaml`` as (dotted key, value, source)."""
    out: list[tuple[str, float, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "value" in node and "source" in node:
                out.append((path, float(node["value"]), str(node["source"])))
                return
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))

    walk(memory_table(), "")
    return out
