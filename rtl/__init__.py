"""The RTL of the sparse low-precision PE tile (``pe_tile/hdl``), its cocotb bench (``pe_tile/tb``)
and the flow that builds and checks it (:mod:`rtl.flow`; ``picojoule rtl test|activity|area``
in :mod:`rtl.cli`). All of it ships in the wheel.
"""

from __future__ import annotations

from rtl.flow import (
    BENCH_TESTS,
    HDL_SOURCES,
    MUTANTS,
    BenchRun,
    RtlToolError,
    build_tile,
    default_build_root,
    default_sim,
    missing_tools,
    run_activity,
    run_bench,
    run_mutants,
    tile_area,
)

__all__ = [
    "BENCH_TESTS",
    "HDL_SOURCES",
    "MUTANTS",
    "BenchRun",
    "RtlToolError",
    "build_tile",
    "default_build_root",
    "default_sim",
    "missing_tools",
    "run_activity",
    "run_bench",
    "run_mutants",
    "tile_area",
]
