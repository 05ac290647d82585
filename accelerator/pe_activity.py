"""Activity-based energy of the PE tile from a SAIF toggle dump, beside the simulator's energy.

A SAIF file (Verilator ``--trace-saif``) lists, per net bit, its toggle count ``TC``. The
tile's datapath energy is priced from the toggles of its registers that feed the arithmetic:

- multiplier inputs: the per-PE operand registers ``a_q``/``b_q`` (operand isolation makes a
  gated MAC leave them untouched);
- accumulators: the per-PE ``acc`` registers.

Energy per toggle is calibrated on the per-operation energies of ``accelerator.tech`` (45 nm,
Horowitz ISSCC 2014; INT4 multiply by square-law scaling) so that uniformly random operands
reproduce them: a random MAC toggles on average half of its multiplier's input bits, so
``E_toggle = E_mult / (input bits / 2)``; a random 32-bit add toggles 16 accumulator bits, so
``E_toggle = E_add32 / 16``. This is a calibration convention, not a measurement: the table
compares the activity estimate with the simulator's energy for the same runs, which prices
``(executed - gated MACs) x packed_mac_energy_pj`` as ``simulator/cost/gemm.py`` does, to show
what gating, skipping and data correlation change. Control toggles (FSM, counters) are
reported but not priced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from accelerator import tech
from accelerator.errors import SimulationError

NODE_NM = 45
"""Technology node of the estimates (the tables' base node; no scaling step)."""

OPERAND_NETS = ("a_q", "b_q")
ACCUMULATOR_NETS = ("acc",)
PE_INSTANCE = "u_pe"

_NET = re.compile(r"^\s*\((\S+)\s+\(T0\b.*\(TC\s+(\d+)\)")
_INSTANCE = re.compile(r"^\s*\(INSTANCE\s+(\S+)")


def _precision(mode: str) -> str:
    return "int4" if mode.startswith("int4") else "int8"


def mult_energy_pj(mode: str) -> float:
    """Energy of one multiply in ``mode`` (int8*/int4*), pJ (``accelerator.tech``)."""
    return tech.op_energy_pj("mult", _precision(mode), NODE_NM)


def simulator_mac_pj(mode: str, accumulator_bits: int = 32) -> float:
    """The simulator's energy of one executed, non-gated MAC of the tile in ``mode``, pJ:
    ``packed_mac_energy_pj`` with 2 MACs per PE per cycle in INT4 (one accumulate per beat)."""
    return tech.packed_mac_energy_pj(_precision(mode), NODE_NM, accumulator_bits, 2 if mode.startswith("int4") else 1)


def operand_toggle_pj(mode: str) -> float:
    """pJ per multiplier-input bit toggle: E_mult / (input bits / 2) of one multiplier."""
    input_bits = 8 if mode.startswith("int4") else 16
    return mult_energy_pj(mode) / (input_bits / 2)


def acc_toggle_pj() -> float:
    """pJ per accumulator bit toggle: a random 32-bit add toggles 16 bits (calibration)."""
    return tech.op_energy_pj("add", "int32", NODE_NM) / 16


@dataclass(frozen=True)
class Toggles:
    """Toggle counts of one SAIF dump, summed over bits and PEs."""

    operand: int
    accumulator: int
    control: int
    duration_ps: int


def parse_saif(path: Path) -> Toggles:
    """Sum toggle counts (``TC``) of a Verilator SAIF file into the tile's three groups.

    Only register nets of the tile are counted: ports of the top wrapper (``$rootio``) and
    the PE's combinational wires are skipped, since Verilator lists aliases of the same
    bits under several names (``acc_flat``, ``row_data``, ``out_data`` all alias ``acc``).
    """
    operand = accumulator = control = 0
    duration = 0
    stack: list[tuple[str, int]] = []
    depth = 0
    control_nets = {"state", "int4_r", "beats_left", "skipped_r", "gated_r", "row", "fire_lo", "fire_hi"}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SimulationError(f"cannot read SAIF file {path}: {exc}") from exc
    for line in lines:
        if "(DURATION" in line:
            duration = int(re.findall(r"\d+", line)[0])
        inst = _INSTANCE.match(line)
        if inst:
            stack.append((inst.group(1), depth))
        net = _NET.match(line)
        if net and stack:
            name = net.group(1).replace("\\", "").split("[")[0]
            toggles = int(net.group(2))
            in_pe = stack[-1][0] == PE_INSTANCE
            in_tile = stack[0][0] != "$rootio"
            if in_pe and name in OPERAND_NETS:
                operand += toggles
            elif in_pe and name in ACCUMULATOR_NETS:
                accumulator += toggles
            elif in_tile and name in control_nets:
                control += toggles
        depth += line.count("(") - line.count(")")
        while stack and depth <= stack[-1][1]:
            stack.pop()
    if operand + accumulator == 0:
        raise SimulationError(f"{path} has no toggles of PE registers; is it a pe_tile SAIF?")
    return Toggles(operand, accumulator, control, duration)


@dataclass(frozen=True)
class ActivityRow:
    """One activity run: its workload counts, toggles and energy estimates (pJ).

    ``simulator_pj`` prices executed non-gated MACs as the simulator does; ``dense_pj`` prices
    every MAC of the reduction (no gating, no skipping) at the same per-MAC energy.
    """

    mode: str
    sparsity: float
    macs: int
    gated_macs: int
    skipped_vectors: int
    op_cycles: int
    toggles: Toggles
    activity_pj: float
    simulator_pj: float
    dense_pj: float


def activity_row(run_dir: Path) -> ActivityRow:
    """Read ``activity.json`` and ``dump.saif`` of one activity run and price them."""
    try:
        summary = json.loads((run_dir / "activity.json").read_text())
    except (OSError, ValueError) as exc:
        raise SimulationError(f"no activity summary in {run_dir}: {exc}") from exc
    toggles = parse_saif(run_dir / "dump.saif")
    mode = summary["mode"]
    per_mac = simulator_mac_pj(mode)
    active = summary["sent_macs"] - summary["gated_macs"]
    return ActivityRow(
        mode=mode,
        sparsity=float(summary["sparsity"]),
        macs=int(summary["macs"]),
        gated_macs=int(summary["gated_macs"]),
        skipped_vectors=int(summary["skipped_vectors"]),
        op_cycles=int(summary["op_cycles"]),
        toggles=toggles,
        activity_pj=toggles.operand * operand_toggle_pj(mode) + toggles.accumulator * acc_toggle_pj(),
        simulator_pj=active * per_mac,
        dense_pj=summary["macs"] * per_mac,
    )


def activity_table(run_dirs: list[Path]) -> str:
    """A Markdown table comparing activity-based with the simulator's energy over runs."""
    head = (
        "| mode | A zeros | MACs | gated | skipped vec | cycles | operand tgl | acc tgl "
        "| ctrl tgl | activity pJ | simulator pJ | dense pJ | activity/simulator |"
    )
    lines = [head, "|" + "---|" * 13]
    for row in (activity_row(d) for d in run_dirs):
        ratio = row.activity_pj / row.simulator_pj if row.simulator_pj else float("nan")
        lines.append(
            f"| {row.mode} | {row.sparsity:.0%} | {row.macs} | {row.gated_macs / row.macs:.0%} "
            f"| {row.skipped_vectors} | {row.op_cycles} | {row.toggles.operand} "
            f"| {row.toggles.accumulator} | {row.toggles.control} | {row.activity_pj:.1f} "
            f"| {row.simulator_pj:.1f} | {row.dense_pj:.1f} | {ratio:.2f} |"
        )
    lines += [
        "",
        "MACs: all MACs of the ops' reductions; gated: share of them gated (a zero "
        "operand); activity: register toggles x energy per toggle calibrated on "
        "accelerator.tech (45 nm); simulator: (executed - gated MACs) x "
        "packed_mac_energy_pj; dense: every MAC at that energy.",
    ]
    return "\n".join(lines)
