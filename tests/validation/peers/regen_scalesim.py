"""Regenerate SCALE-Sim v3's per-layer results committed under ``scenarios/validation/peers/scalesim/``.

Runs in the peer venv (never in picojoule's). SCALE-Sim 3.0.0 fails under numpy 2.4
(``int()`` of a one-element array in its scratchpad model), so numpy stays below 2.3::

    python3 -m venv /work/venv-peers && /work/venv-peers/bin/pip install scalesim==3.0.0 "numpy<2.3"
    /work/venv-peers/bin/python tests/validation/peers/regen_scalesim.py

For every array size in :data:`ARRAYS` and dataflow in :data:`DATAFLOWS` it writes a SCALE-Sim
config (CALC bandwidth mode: SCALE-Sim sizes the DRAM interface so that no stall occurs, i.e.
its "compute cycles" assume operands are already in SRAM), runs every layer of
``scalesim/topology.csv`` (the same file picojoule reads with ``models.layers.load_scalesim_csv``)
and collects COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv into ``scalesim/results.csv``.
``scalesim/meta.json`` records the version, date, command, machine and wall time per run.

``--layer NAME --array RxC --dataflow ws --out DIR`` runs one configuration of one layer and
writes its rows to ``DIR/results.csv`` (the slow test in ``tests/validation`` uses this).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

#: The committed outputs ship with the package (``scenarios/``), so ``picojoule validation``
#: runs from a wheel; this script stays with the tests (it needs the peer's venv, not picojoule).
HERE = Path(__file__).resolve().parents[3] / "scenarios" / "validation" / "peers" / "scalesim"
TOPOLOGY = HERE / "topology.csv"
#: (rows, cols, ifmap kB, filter kB, ofmap kB): the 32x32 design of SCALE-Sim's own
#: ``configs/scale.cfg`` and a TPU-like 128x128 with larger scratchpads.
ARRAYS = ((32, 32, 64, 64, 64), (128, 128, 1024, 1024, 512))
DATAFLOWS = ("ws", "os", "is")
COLUMNS = (
    "array",
    "dataflow",
    "layer",
    "total_cycles_incl_prefetch",
    "compute_cycles",
    "stall_cycles",
    "overall_util_pct",
    "mapping_efficiency_pct",
    "compute_util_pct",
    "sram_ifmap_reads",
    "sram_filter_reads",
    "sram_ofmap_writes",
    "dram_ifmap_reads",
    "dram_filter_reads",
    "dram_ofmap_writes",
)

_CONFIG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap_kb}
FilterSramSzkB: {filter_kb}
OfmapSramSzkB: {ofmap_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {df}
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

# SCALE-Sim 3.0.0 reads a layout file even with custom layouts off; its values are unused then.
_LAYOUT_HEADER = (
    "Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline Factor, "
    "Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, IFMAP Height Intraline "
    "Order, IFMAP Width Intraline Order, Channel Intraline Order, IFMAP Height Interline Order, IFMAP Width "
    "Interline Order, Channel Interline Order, Num Filter Intraline Order, Channel Intraline Order, Filter Height "
    "Intraline Order, Filter Width Intraline Order, Num Filter Interline Order, Channel Interline Order, Filter "
    "Height Interline Order, Filter Width Interline Order,\n"
)
_LAYOUT_ROW = ", 1, 1, 1, 1, 1, 1, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, 6, 7,\n"


def layer_rows(names: set[str] | None = None) -> list[str]:
    """Topology lines (header first) of the layers in ``names`` (all when None)."""
    lines = [ln for ln in TOPOLOGY.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [lines[0]] + [ln for ln in lines[1:] if names is None or ln.split(",")[0].strip() in names]


def _read_report(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as f:
        rows = [[c.strip() for c in r if c.strip() != ""] for r in csv.reader(f)]
    return [r for r in rows[1:] if r]


def run_one(
    rows: int, cols: int, kb: tuple[int, int, int], df: str, topo_lines: list[str], work: Path
) -> list[dict[str, Any]]:
    """Run SCALE-Sim once (all layers in ``topo_lines``) and return one record per layer."""
    from scalesim.scale_sim import scalesim  # lazy: only installed in the peer venv

    name = f"r{rows}x{cols}_{df}"
    work.mkdir(parents=True, exist_ok=True)
    cfg, topo, layout = work / f"{name}.cfg", work / "topology.csv", work / "layout.csv"
    cfg.write_text(
        _CONFIG.format(name=name, rows=rows, cols=cols, ifmap_kb=kb[0], filter_kb=kb[1], ofmap_kb=kb[2], df=df),
        encoding="utf-8",
    )
    topo.write_text("\n".join(topo_lines) + "\n", encoding="utf-8")
    layers = [ln.split(",")[0].strip() for ln in topo_lines[1:]]
    layout.write_text(_LAYOUT_HEADER + "".join(f"{n}{_LAYOUT_ROW}" for n in layers), encoding="utf-8")
    sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo), layout=str(layout))
    with contextlib.redirect_stdout(io.StringIO()):
        sim.run_scale(top_path=str(work))
    compute = _read_report(work / name / "COMPUTE_REPORT.csv")
    detail = _read_report(work / name / "DETAILED_ACCESS_REPORT.csv")
    out = []
    for layer, c, d in zip(layers, compute, detail, strict=True):
        # COMPUTE_REPORT: id, total incl. prefetch, total, stall, overall util, mapping eff, compute util
        # DETAILED_ACCESS_REPORT: id, then (start, stop, count) for SRAM ifmap/filter/ofmap, DRAM ditto
        out.append(
            {
                "array": f"{rows}x{cols}",
                "dataflow": df,
                "layer": layer,
                "total_cycles_incl_prefetch": int(float(c[1])),
                "compute_cycles": int(float(c[2])),
                "stall_cycles": int(float(c[3])),
                "overall_util_pct": round(float(c[4]), 4),
                "mapping_efficiency_pct": round(float(c[5]), 4),
                "compute_util_pct": round(float(c[6]), 4),
                "sram_ifmap_reads": int(float(d[3])),
                "sram_filter_reads": int(float(d[6])),
                "sram_ofmap_writes": int(float(d[9])),
                "dram_ifmap_reads": int(float(d[12])),
                "dram_filter_reads": int(float(d[15])),
                "dram_ofmap_writes": int(float(d[18])),
            }
        )
    return out


def write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(records)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", help="run only this layer (with --array, --dataflow, --out)")
    ap.add_argument("--array", default="32x32", help="RxC of a single run")
    ap.add_argument("--dataflow", default="ws", choices=DATAFLOWS)
    ap.add_argument("--out", type=Path, default=HERE, help="where results.csv (and meta.json) go")
    args = ap.parse_args(argv)
    records: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.layer:
            r, c = (int(x) for x in args.array.split("x"))
            sram_kb = next(((a[2], a[3], a[4]) for a in ARRAYS if a[:2] == (r, c)), (64, 64, 64))
            records = run_one(r, c, sram_kb, args.dataflow, layer_rows({args.layer}), Path(tmp))
        else:
            for rows, cols, *kb in ARRAYS:
                for df in DATAFLOWS:
                    t0 = time.perf_counter()
                    recs = run_one(rows, cols, (kb[0], kb[1], kb[2]), df, layer_rows(), Path(tmp) / f"{rows}_{df}")
                    wall = time.perf_counter() - t0
                    records += recs
                    runs.append(
                        {"array": f"{rows}x{cols}", "dataflow": df, "layers": len(recs), "wall_s": round(wall, 3)}
                    )
                    print(f"{rows}x{cols} {df}: {len(recs)} layers in {wall:.1f} s", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "results.csv", records)
    if args.layer:
        return 0
    meta = {
        "peer": "SCALE-Sim v3",
        "package": "scalesim",
        "version": metadata.version("scalesim"),
        "date": dt.date.today().isoformat(),
        "command": "/work/venv-peers/bin/python tests/validation/peers/regen_scalesim.py",
        "python": platform.python_version(),
        "numpy": metadata.version("numpy"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "interface_bandwidth": "CALC (no DRAM stalls: compute cycles with operands in SRAM)",
        "word_bytes": 1,
        "arrays": [
            {"rows": r, "cols": c, "ifmap_sram_kb": i, "filter_sram_kb": f, "ofmap_sram_kb": o}
            for r, c, i, f, o in ARRAYS
        ],
        "dataflows": list(DATAFLOWS),
        "layers": [ln.split(",")[0].strip() for ln in layer_rows()[1:]],
        "runs": runs,
        "wall_s_total": round(sum(r["wall_s"] for r in runs), 3),
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
