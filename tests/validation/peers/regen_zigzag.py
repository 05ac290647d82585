"""Regenerate ZigZag's per-layer results committed under ``scenarios/validation/peers/zigzag/``.

Runs in its own venv (ZigZag pins onnx/numpy versions of its own)::

    python3 -m venv /work/venv-zigzag && /work/venv-zigzag/bin/pip install zigzag-dse==3.9.1 six
    /work/venv-zigzag/bin/python tests/validation/peers/regen_zigzag.py

ZigZag's bundled ``tpu_like`` hardware and mapping (``zigzag/inputs/{hardware,mapping}``, a
32x32 weight-stationary array) evaluates the layers of ``scalesim/topology.csv`` named in
:data:`LAYERS` (8-bit weights and inputs, 16-bit partial sums, 8-bit outputs, as ZigZag's own
examples), with LOMA's temporal mapping search minimising latency. Per layer it records
latency (cycles), ideal cycles, ZigZag's latency terms (stalls, data on- and off-loading),
energy (pJ) split into MAC and memory, and memory access energy per level. ``zigzag/meta.json``
records the version, date, command, machine and wall time; ``zigzag/tpu_like.yaml`` is a copy of
the hardware file as run.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

#: The committed outputs ship with the package (``scenarios/``), so ``picojoule validation``
#: runs from a wheel; this script stays with the tests (it needs the peer's venv, not picojoule).
PEERS = Path(__file__).resolve().parents[3] / "scenarios" / "validation" / "peers"
OUT = PEERS / "zigzag"
TOPOLOGY = PEERS / "scalesim" / "topology.csv"
LAYERS = ("Conv2_1a", "Conv3_1a", "FC1000", "ddpm_conv16", "ddpm_attn_proj")
COLUMNS = (
    "layer",
    "latency_cycles",
    "ideal_cycles",
    "stall_cycles",
    "onloading_cycles",
    "offloading_cycles",
    "energy_total_pj",
    "energy_mac_pj",
    "energy_mem_pj",
    "energy_mem_by_level_pj",
    "spatial_utilization",
    "temporal_mapping",
)


def _layers() -> list[dict[str, Any]]:
    """ZigZag layer dicts of :data:`LAYERS` from the SCALE-Sim topology (no padding)."""
    out: list[dict[str, Any]] = []
    for line in TOPOLOGY.read_text(encoding="utf-8").splitlines()[1:]:
        cells = [c.strip() for c in line.split(",") if c.strip()]
        if not cells or cells[0] not in LAYERS:
            continue
        name, ih, iw, fh, fw, c, k, s = cells[0], *(int(x) for x in cells[1:8])
        oy, ox = (ih - fh) // s + 1, (iw - fw) // s + 1
        out.append(
            {
                "id": len(out),
                "name": name,
                "operator_type": "Conv",
                "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
                "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
                "loop_sizes": [1, k, c, oy, ox, fh, fw],
                "operand_precision": {"W": 8, "I": 8, "O": 16, "O_final": 8},
                "operand_source": {"I": 0, "W": 0} if not out else {"I": len(out) - 1, "W": len(out)},
            }
        )
    return out


def main() -> int:
    api = importlib.import_module("zigzag.api")  # only installed in the peer venv

    logging.disable(logging.INFO)
    pkg = Path(str(api.__file__)).resolve().parent / "inputs"
    hw, mapping = pkg / "hardware" / "tpu_like.yaml", pkg / "mapping" / "tpu_like.yaml"
    layers = _layers()
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        energy, latency, cmes = api.get_hardware_performance_zigzag(
            workload=layers,
            accelerator=str(hw),
            mapping=str(mapping),
            opt="latency",
            dump_folder=tmp,
            loma_show_progress_bar=False,
        )
    wall = time.perf_counter() - t0
    for cme, _ in cmes[0][1]:
        by_level = {}
        for op, levels in cme.mem_energy_breakdown.items():
            by_level[str(op)] = [round(float(e), 3) for e in levels]
        records.append(
            {
                "layer": cme.layer.name,
                "latency_cycles": round(float(cme.latency_total2), 3),
                "ideal_cycles": round(float(cme.ideal_cycle), 3),
                # latency_total2 = ideal temporal cycles + stalls (latency_total0 - ideal) + data
                # on- and off-loading (the first fill of every level's tile, the last drain)
                "stall_cycles": round(float(cme.latency_total0 - cme.ideal_temporal_cycle), 3),
                "onloading_cycles": round(float(cme.data_onloading_cycle), 3),
                "offloading_cycles": round(float(cme.data_offloading_cycle), 3),
                "energy_total_pj": round(float(cme.energy_total), 3),
                "energy_mac_pj": round(float(cme.mac_energy), 3),
                "energy_mem_pj": round(float(cme.mem_energy), 3),
                "energy_mem_by_level_pj": json.dumps(by_level, sort_keys=True),
                "spatial_utilization": round(float(cme.mac_spatial_utilization), 6),
                "temporal_mapping": str(cme.temporal_mapping).replace("\n", " "),
            }
        )
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "results.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(records)
    shutil.copyfile(hw, OUT / "tpu_like.yaml")
    meta = {
        "peer": "ZigZag",
        "package": "zigzag-dse",
        "version": metadata.version("zigzag-dse"),
        "date": dt.date.today().isoformat(),
        "command": "/work/venv-zigzag/bin/python tests/validation/peers/regen_zigzag.py",
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "hardware": "zigzag/inputs/hardware/tpu_like.yaml (copied to tpu_like.yaml)",
        "mapping": "zigzag/inputs/mapping/tpu_like.yaml",
        "opt": "latency",
        "layers": list(LAYERS),
        "total_energy_pj": float(energy),
        "total_latency_cycles": float(latency),
        "wall_s_total": round(wall, 3),
    }
    (OUT / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"{len(records)} layers in {wall:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
