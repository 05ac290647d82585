"""Sweeps over multi-core systems (``system:`` as the base): axes over core counts, the network,
the links and the schedule; each point is ``evaluate_system``; the key is the whole system."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sweep_support import EDGE_ARCH, ROOT, TINY_LAYERS

from accelerator.errors import SpecError
from simulator import evaluate, load_arch, load_workload
from simulator.sweep.driver import run_sweep
from simulator.sweep.points import build_point
from simulator.sweep.spec import load_sweep

EXAMPLE = ROOT / "scenarios" / "sweeps" / "multicore-cores.yaml"

SYSTEM = f"""system:
  name: s
  cores:
    - {{name: array, arch: {EDGE_ARCH}, count: 2}}
  chiplets: {{count: 1}}
"""


def _write(folder: Path, axes: str, extra: str = "", base: str = SYSTEM) -> Path:
    (folder / "tiny.layers.yaml").write_text(TINY_LAYERS)
    path = folder / "sys-sweep.yaml"
    head = "name: sys-sweep\nworkloads: [tiny.layers.yaml]\n"
    path.write_text(head + base + axes + "objectives: {energy_per_image: min, latency_per_image: min}\n" + extra)
    return path


def _error(folder: Path, axes: str, extra: str = "", base: str = SYSTEM) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_sweep(_write(folder, axes, extra, base))
    return info.value


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, int], dict[str, str]]:
    out = tmp_path_factory.mktemp("multicore-cores")
    summary = run_sweep(EXAMPLE, out, executor="serial", report=False)
    assert summary.done == summary.points == 8 and summary.failed == 0
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {(int(r["cores.array.count"]), int(r["schedule.max_fusion_depth"])): r for r in rows}


def test_one_core_is_the_single_core_sweep_point(example: dict[tuple[int, int], dict[str, str]]) -> None:
    sweep = load_sweep(EXAMPLE)
    workload = load_workload(sweep.workloads[0])
    want = evaluate(workload, load_arch(EDGE_ARCH), steps=50)
    one = example[(1, 1)]
    assert float(one["energy_j_per_image"]) == want.energy_j_per_image
    assert float(one["latency_s_per_image"]) == want.latency_s_per_image
    for k in ("noc_byte_hops_per_image", "energy_noc_j", "d2d_bytes_per_image", "energy_d2d_j"):
        assert float(one[k]) == 0.0, k
    assert float(one["fusion_depth"]) == 1.0


def test_more_cores_and_fusion(example: dict[tuple[int, int], dict[str, str]]) -> None:
    def get(n: int, d: int, k: str) -> float:
        return float(example[(n, d)][k])

    counts = (1, 2, 4, 8)
    for a, b in zip(counts, counts[1:], strict=False):
        # split cores: a faster step, more area (exactly the instances), more network traffic
        assert get(b, 1, "latency_s_per_image") < get(a, 1, "latency_s_per_image")
        assert get(b, 1, "area_mm2") == pytest.approx(get(1, 1, "area_mm2") * b, rel=1e-12)
        assert get(b, 1, "noc_byte_hops_per_image") > get(a, 1, "noc_byte_hops_per_image")
    for n in counts:
        # the objective is energy: the fused search never does worse, and never adds DRAM bytes
        assert get(n, 16, "energy_j_per_image") <= get(n, 1, "energy_j_per_image")
        assert get(n, 16, "dram_bytes_per_image") <= get(n, 1, "dram_bytes_per_image")
        # layer by layer, the DRAM bytes are the single-core model's whatever the core count
        assert get(n, 1, "dram_bytes_per_image") == get(1, 1, "dram_bytes_per_image")


def test_the_key_is_the_whole_system(tmp_path: Path) -> None:
    axes = "axes:\n  noc.energy_pj_per_bit_per_hop: [0.1, 0.2]\n  chiplets.d2d.latency_ns: [1.0, 2.0]\n"
    sweep = load_sweep(_write(tmp_path, axes))
    assert sweep.kind == "system"
    ids = {build_point(sweep, (a, b)).point_id for a in (0.1, 0.2) for b in (1.0, 2.0)}
    assert len(ids) == 4
    p = build_point(sweep, (0.2, 1.0))
    assert p.arch["noc"]["energy_pj_per_bit_per_hop"] == 0.2
    assert p.arch["cores"][0]["arch"]["compute"]["rows"] == load_arch(EDGE_ARCH).compute.rows


def test_core_arch_fields_and_builtins_sum_over_instances(tmp_path: Path) -> None:
    axes = "axes:\n  cores.array.count: [1, 3]\n  cores.array.arch.compute.rows: [8, 16]\n"
    sweep = load_sweep(_write(tmp_path, axes, "constraints: [pes <= 1024]\n"))
    assert load_arch(EDGE_ARCH).compute.cols == 32
    p = build_point(sweep, (3, 8))  # 3 x 8 x 32 = 768 PEs
    assert p.infeasible is None and p.arch["cores"][0]["count"] == 3
    assert p.arch["cores"][0]["arch"]["compute"]["rows"] == 8
    big = build_point(sweep, (3, 16))  # 3 x 16 x 32 = 1536
    assert big.infeasible == "constraint not met: pes <= 1024"
    assert build_point(sweep, (1, 16)).infeasible is None  # 512


def test_errors_are_located(tmp_path: Path) -> None:
    err = _error(tmp_path, "axes:\n  noc.speed: [1]\n")
    assert err.field == "axes.noc.speed" and "not a field of the base system" in str(err)
    err = _error(tmp_path, "axes:\n  cores.array.count:\n    - 2\n    - 0\n")
    assert err.field == "axes.cores.array.count.1" and err.line == 11
    assert "value 0 is not allowed for cores.array.count" in str(err)
    err = _error(tmp_path, "axes:\n  chiplets.count: [1]\n", extra="fidelity: event\n")
    assert err.field == "fidelity" and "analytic" in str(err)
    err = _error(tmp_path, "axes:\n  chiplets.count: [1]\n", base=f"base: {EDGE_ARCH}\n" + SYSTEM)
    assert "exactly one of base" in str(err)
    inline = SYSTEM.replace("count: 2}", "count: 2, parallelism: sideways}")
    err = _error(tmp_path, "axes:\n  chiplets.count: [1]\n", base=inline)
    assert err.field == "system.cores.0.parallelism" and err.line == 6
    arch_sweep = f"base: {EDGE_ARCH}\n"
    err = _error(tmp_path, "axes:\n  compute.rows: [8]\n", "constraints: [fusion_depth > 1]\n", arch_sweep)
    assert "metrics of systems" in str(err)
    err = _error(tmp_path, "axes:\n  chiplets.count: [1]\n", base="system: missing.yaml\n")
    assert err.field == "system" and err.line == 3 and "no such system file 'missing.yaml'" in str(err)
    # a combination the system rejects (more dies than cores) is infeasible, not an error ...
    axes = "axes:\n  chiplets.count: [1, 4]\n  cores.array.count: [2, 4]\n"
    sweep = load_sweep(_write(tmp_path, axes))
    assert build_point(sweep, (4, 2)).infeasible is not None
    assert build_point(sweep, (4, 4)).infeasible is None and build_point(sweep, (1, 2)).infeasible is None
    # ... but a value no other axis can make valid is an error at its line (axes.check_suspects)
    err = _error(tmp_path, "axes:\n  chiplets.count: [1, 4]\n")
    assert err.field == "axes.chiplets.count.1" and "value 4 is not allowed for chiplets.count" in str(err)
    assert str(err).endswith("last values: chiplets.count 4 exceeds the 2 core instances: a die needs a core")
