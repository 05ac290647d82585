"""A shared level with a partition for some operands and a pool for the others on the loop-nest
engine (``NestLevel.operand_bytes`` with ``math.inf`` for a pooled operand; the spec's
``partitions`` on a shared level, Eyeriss's 8 kB of GLB filters, JSSC 2017 Sec. V-A): closed forms
of :meth:`NestLevel.capacity_ok`, the compiled checks (the fast strategy's ``fits`` and the
scorer) equal to it on random tiles, the spec reaching the nest, kept tensors taken from the right
part, and the designs without a shared partition giving the numbers they gave before."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from simcase import without_mapping

from accelerator.spec import ArchSpec, load_arch, parse_arch
from models.workload import Op
from simulator.cost.nest.analysis import fits as analysis_fits
from simulator.cost.nest.analysis import nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel, from_spec
from simulator.cost.nest.fast import capacity_args
from simulator.cost.nest.fast_kernels import fits as kernel_fits
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import INP, OUT, WGT, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest_homes import Homes, homed, score_blocks
from simulator.evaluation import evaluate as evaluate_design
from simulator.validation.common import NEST_DATAFLOW, peer_path, read_json, standalone, with_nest
from simulator.validation.eyeriss import eyeriss_workload

ROOT = Path(__file__).resolve().parents[5]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"
GLB_PARTS = "      partitions: {weight: {size_bytes: 8192}}\n"
ONE = (1.0, 1.0, 1.0)
IDENT = (0, 1, 2, 3, 4, 5, 6)
INF = math.inf


def _arch(
    pool: float,
    parts: tuple[float, float, float] | None,
    prefetched: tuple[bool, bool, bool] = (False, False, False),
) -> NestArch:
    """A GLB (pool ``pool``, partitions ``parts``) under DRAM, 1-byte words, no per-PE level."""
    levels = (
        NestLevel("glb", (True, True, True), pool, ONE, ONE, 64.0, operand_bytes=parts, prefetched=prefetched),
        NestLevel("dram", (True, True, True), INF, (10.0,) * 3, (10.0,) * 3, 8.0),
    )
    return NestArch("t", levels, 4, 4, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)


def test_capacity_ok_closed_forms() -> None:
    # gemm("g", 6, 4, 5) whole in the GLB, 1-byte words: weights 20, inputs 30, outputs 24 B
    tiles = (20.0, 30.0, 24.0)
    assert _arch(54.0, (20.0, INF, INF)).levels[0].capacity_ok(tiles)  # both parts exactly full
    assert not _arch(1000.0, (19.0, INF, INF)).levels[0].capacity_ok(tiles)  # fits the pool, not the partition
    assert not _arch(53.0, (1000.0, INF, INF)).levels[0].capacity_ok(tiles)  # fits the partition, not the pool
    assert _arch(74.0, None).levels[0].capacity_ok(tiles)  # one pool: the sum, 74 B
    assert not _arch(73.0, None).levels[0].capacity_ok(tiles)
    assert _arch(74.0, (INF, INF, INF)).levels[0].capacity_ok(tiles)  # all inf: the same as None
    assert not _arch(73.0, (INF, INF, INF)).levels[0].capacity_ok(tiles)
    # every operand partitioned: the pool holds nothing and is not checked
    assert _arch(0.0, (20.0, 30.0, 24.0)).levels[0].capacity_ok(tiles)
    assert not _arch(1e9, (20.0, 29.0, 24.0)).levels[0].capacity_ok(tiles)
    # a prefetched operand's two tiles both live in its partition
    pf = (True, False, False)
    assert _arch(54.0, (40.0, INF, INF), pf).levels[0].capacity_ok(tiles)
    assert not _arch(1e9, (39.0, INF, INF), pf).levels[0].capacity_ok(tiles)
    assert not _arch(73.0, None, pf).levels[0].capacity_ok((10.0, 30.0, 24.0))  # 2 x 10 + 54 = 74 B


def test_arch_arrays_pool_is_inf_only_when_every_operand_is_partitioned() -> None:
    aa = arch_arrays(_arch(54.0, (20.0, INF, INF)))
    assert aa.size_bytes.tolist() == [54.0, INF] and aa.operand_bytes[0].tolist() == [20.0, INF, INF]
    aa = arch_arrays(_arch(74.0, (20.0, 30.0, 24.0)))
    assert aa.size_bytes.tolist() == [INF, INF] and aa.operand_bytes[0].tolist() == [20.0, 30.0, 24.0]
    aa = arch_arrays(_arch(74.0, None))
    assert aa.size_bytes.tolist() == [74.0, INF] and aa.operand_bytes[0].tolist() == [INF] * 3


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@pytest.mark.parametrize("prefetched", [(False, False, False), (True, False, False), (False, True, True)])
def test_kernels_agree_with_capacity_ok_on_random_tiles(prefetched: tuple[bool, bool, bool]) -> None:
    prob = gemm("g", 12, 8, 10)  # whole: weights 80, inputs 120, outputs 96 B
    rng = np.random.default_rng(13)
    archs = [
        _arch(pool, parts, prefetched)
        for pool, parts in [
            (100.0, (40.0, INF, INF)),
            (60.0, (INF, 50.0, INF)),
            (70.0, (30.0, INF, 40.0)),
            (0.0, (40.0, 60.0, 50.0)),
            (120.0, None),
        ]
    ]
    seen = {True: 0, False: 0}
    for _ in range(200):
        glb = tuple(int(rng.choice(_divisors(b))) for b in prob.bounds)
        dram = tuple(b // g for b, g in zip(prob.bounds, glb, strict=True))
        m = Mapping((glb, dram), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
        for arch in archs:
            bounds, coef, f, o, sp, holds = nest_arrays(prob, arch, m)
            aa = arch_arrays(arch)
            want = not analysis_fits(prob, arch, m)  # NestLevel.capacity_ok on the tile bytes
            got = kernel_fits(f, sp, bounds, coef, *capacity_args(aa))
            energy, _ = score(aa, bounds, coef, f[None], o[None], sp[None])
            assert got == want and bool(np.isfinite(energy[0])) == want, (arch.levels[0], m.factors[0])
            seen[want] += 1
    assert min(seen.values()) > 50  # both answers well represented


def _eyeriss(parts: str | None = "{weight: {size_bytes: 8192}}") -> ArchSpec:
    """eyeriss.yaml with its GLB's partitions as given (None: one shared 108 kB), one search per
    layer (its ``mapping.restarts`` left out: the values below are a single search's)."""
    text = without_mapping(EYERISS.read_text(encoding="utf-8"))
    assert GLB_PARTS in text
    return parse_arch(text.replace(GLB_PARTS, "" if parts is None else f"      partitions: {parts}\n"), "e.yaml")


def test_from_spec_carries_the_glb_partition() -> None:
    glb = from_spec(load_arch(EYERISS)).levels[1]
    assert glb.name == "glb" and glb.operand_bytes == (8192.0, INF, INF) and glb.size_bytes == 102_400.0
    assert glb.prefetched == (True, False, False)
    plain = from_spec(_eyeriss(None)).levels[1]
    assert plain.operand_bytes is None and plain.size_bytes == 110_592.0
    # capacity only: the same energies per bit
    assert (glb.read_pj_per_bit, glb.write_pj_per_bit) == (plain.read_pj_per_bit, plain.write_pj_per_bit)
    act = from_spec(_eyeriss("{act: {size_bytes: 1000}, out: {size_bytes: 2000}}")).levels[1]
    assert act.operand_bytes == (INF, 1000.0, 2000.0) and act.size_bytes == 110_592.0 - 3000.0


def test_kept_tensors_come_out_of_their_partition_or_the_pool() -> None:
    base = _arch(1000.0, (100.0, INF, INF))
    glb = homed(base, (False, False, False), [(0, WGT, 60.0)]).levels[0]  # type: ignore[union-attr]
    assert glb.operand_bytes == (40.0, INF, INF) and glb.size_bytes == 1000.0
    glb = homed(base, (False, False, False), [(0, INP, 300.0), (0, OUT, 200.0)]).levels[0]  # type: ignore[union-attr]
    assert glb.operand_bytes == (100.0, INF, INF) and glb.size_bytes == 500.0
    assert homed(base, (False, False, False), [(0, WGT, 100.0)]) is None  # nothing left of the partition
    assert homed(base, (False, False, False), [(0, INP, 1000.0)]) is None  # nothing left of the pool
    plain = homed(_arch(1000.0, None), (False, False, False), [(0, WGT, 60.0)]).levels[0]  # type: ignore[union-attr]
    assert plain.operand_bytes is None and plain.size_bytes == 940.0


def test_fused_scores_do_not_lose_room_to_weights_in_their_partition() -> None:
    op = Op(name="a", kind="attention", module="m", macs=0, gemm=(1, 64, 64, 16))
    # one block of d query rows x 64 keys x 1 B takes at most half of what the fmaps may use
    kept = Homes(act_level=0, out_level=0, weight_level=0, weight_bytes=512.0)
    # weights resident in their own partition: the fmaps' pool keeps its 1,024 B, d * 64 <= 512
    assert score_blocks(op, _arch(1024.0, (600.0, INF, INF)), kept) == [8, 4, 2, 1]
    # weights in the pool: 1,024 - 512 B left, d * 64 <= 256
    assert score_blocks(op, _arch(1024.0, None), kept) == [4, 2, 1]


def test_designs_without_shared_partitions_give_the_numbers_they_gave() -> None:
    """eyeriss.yaml without its GLB partition, one-level and nest, against the values the code
    gave before shared partitions existed (hard-coded: ``picojoule validation``, AlexNet CONV1 and
    CONV5 at batch 4; the nest's chip energy as moved by the register-file model of the register
    spads, 3.2407 -> 3.3862 and 1.3838 -> 1.5188 mJ, latency and DRAM unchanged)."""
    workload = standalone(eyeriss_workload(read_json(peer_path("eyeriss/published.json"))))
    base = _eyeriss(None)
    nest = with_nest(base, NEST_DATAFLOW[base.name])
    got = {}
    for model, arch in (("one_level", base), ("nest", nest)):
        for op in evaluate_design(workload, arch).per_op:
            chip = (op.energy_j - op.energy_breakdown_j.get("dram", 0.0)) * 1e3
            got[model, op.name] = (op.latency_s * 1e3, op.traffic_bytes["dram"], chip)
    assert got["one_level", "CONV1"] == (58.408399681193316, 9_188_256.0, 7.873745198720375)
    assert got["one_level", "CONV5"] == (50.30112149685965, 6_273_536.0, 4.805892281823075)
    assert got["nest", "CONV1"] == (21.795978084253157, 5_068_224.0, 3.386173756429414)
    assert got["nest", "CONV5"] == (12.119888184444047, 4_668_416.0, 1.518838751912186)


def test_ideal_memory_drops_a_shared_levels_partitions_and_keeps_the_per_pe_ones() -> None:
    from simulator.validation.common import IDEAL_BUFFER_BYTES, ideal_memory

    spad, glb = ideal_memory(load_arch(EYERISS)).memory.levels
    assert glb.partitions is None and glb.size_bytes == IDEAL_BUFFER_BYTES  # one unbounded pool
    assert spad.partitions is not None and {k: p.size_bytes for k, p in spad.partitions.items()} == {
        "weight": 448,
        "act": 24,
        "out": 48,
    }
