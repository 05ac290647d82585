"""A shared level with a partition per operand and a pool for the rest on the one-level model
(:mod:`simulator.cost.capacity`): closed forms of what fits on eyeriss.yaml's GLB (8 kB of filters,
JSSC 2017 Sec. V-A, beside 100 kB of fmaps), the GEMM legality (:func:`simulator.cost.gemm.fits`),
the vector unit's kept tensors and the resident weights, each against the same design without
the partition (one 108 kB pool)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from simcase import gemm_dims

from accelerator.spec import ArchSpec, parse_arch
from simulator.cost import capacity, residency
from simulator.cost.gemm import Dims, fits
from simulator.cost.hardware import ACT, OUT, WGT, Hardware, hardware
from simulator.cost.vector import VectorWork, vector_cost

ROOT = Path(__file__).resolve().parents[4]
TEXT = (ROOT / "scenarios" / "validation" / "eyeriss.yaml").read_text(encoding="utf-8")
GLB_PARTS = "      partitions: {weight: {size_bytes: 8192}}\n"
TOTAL, FILTERS = 110_592, 8192  # 27 banks x 4 kB, two of them the filters' (Sec. V-A)
POOL = TOTAL - FILTERS  # 102,400 B: the 25 banks of ifmaps and psums


def _spec(parts: str | None = "{weight: {size_bytes: 8192}}") -> ArchSpec:
    """eyeriss.yaml (fp16 stand-in: 2-byte operands and psums), its GLB's partitions as given."""
    assert GLB_PARTS in TEXT
    line = "" if parts is None else f"      partitions: {parts}\n"
    return parse_arch(TEXT.replace(GLB_PARTS, line), "eyeriss.yaml")


def _hw(parts: str | None = "{weight: {size_bytes: 8192}}") -> Hardware:
    return hardware(_spec(parts))


def test_level_carries_partitions_and_pool() -> None:
    glb = _hw().levels[0]
    assert glb.size_bytes == TOTAL and glb.partition_bytes == (math.inf, FILTERS, math.inf)
    assert capacity.pool_bytes(glb) == POOL
    assert (capacity.capacity(glb, ACT), capacity.capacity(glb, WGT), capacity.capacity(glb, OUT)) == (
        POOL,
        FILTERS,
        POOL,
    )
    plain = _hw(None).levels[0]
    assert plain.partition_bytes == (math.inf,) * 3 and capacity.pool_bytes(plain) == TOTAL
    # the partition sets capacity only: the level's energies and leakage are the same
    assert (glb.read_pj, glb.write_pj, glb.leakage_mw) == (plain.read_pj, plain.write_pj, plain.leakage_mw)


def test_fits_closed_forms() -> None:
    glb = _hw().levels[0]
    assert capacity.fits(glb, {WGT: FILTERS, ACT: POOL / 2, OUT: POOL / 2})
    assert not capacity.fits(glb, {WGT: FILTERS + 1})  # the pool has room, the partition not
    assert not capacity.fits(glb, {WGT: 0.0, ACT: POOL / 2, OUT: POOL / 2 + 1})  # the filters' room is not lent
    got = capacity.fits(glb, {WGT: np.array([100.0, 9000.0, 100.0]), ACT: np.array([[0.0], [POOL + 1]])})
    assert got.tolist() == [[True, False, True], [False, False, False]]  # broadcast like the operands
    plain = _hw(None).levels[0]
    assert capacity.fits(plain, {WGT: FILTERS + 1, ACT: POOL - 1})  # one pool: the sum fits 108 kB
    assert not capacity.fits(plain, {WGT: FILTERS + 1, ACT: POOL})


def _legal(hw: Hardware, d: Dims, mt: int, nt: int, kt: int) -> bool:
    a = np.asarray
    return bool(fits(hw, d, a(float(mt)), a(float(nt)), a(float(kt)), False, False))


def test_gemm_tiles_fit_their_partition_or_the_pool() -> None:
    part, plain = _hw(), _hw(None)
    d = gemm_dims(4096, 512, 512)
    # prefetched filter tile nt*kt*2 B, twice: 32*64*2*2 = 8192 fills the partition exactly
    assert _legal(part, d, 1, 32, 64) and not _legal(part, d, 1, 32, 65)
    assert _legal(plain, d, 1, 32, 65)  # 8320 B of filters fit one 108 kB pool
    # filters 1*k*2*2 = 2 kB in their partition; fmaps mt*512*2 + mt*1*2 = 1026*mt B in the pool
    assert _legal(part, d, 99, 1, 512) and not _legal(part, d, 100, 1, 512)  # 101,574 / 102,600 B
    assert _legal(plain, d, 100, 1, 512)  # 102,600 + 2,048 B <= 110,592
    assert not _legal(plain, d, 106, 1, 512)  # 108,756 + 2,048 B > 110,592


def test_vector_kept_tensors_fit_their_partition_or_the_pool() -> None:
    hw = _hw("{act: {size_bytes: 1000}}")  # kept inputs in 1,000 B, kept outputs in the other 109,592
    z = np.zeros(2)

    def legal(chained: float, out: float) -> list[bool]:
        w = VectorWork(np.ones(2), np.array([chained] * 2), np.array([out] * 2), np.array([chained] * 2), z, z > 0)
        return vector_cost(hw, w, np.array([True, False]), np.array([True, True])).legal.tolist()

    assert legal(500, 54_796) == [True, True]  # 1,000 B and 109,592 B: both exactly full
    assert legal(501, 54_796) == [False, True]  # the input, kept only in the first choice, overflows
    assert legal(500, 54_797) == [False, False]


def _plan(monkeypatch: pytest.MonkeyPatch, spec: ArchSpec, params: float) -> residency.Residency:
    """:func:`residency.plan` of a model with ``params`` bytes of weights on ``spec``."""
    monkeypatch.setattr(residency, "param_bytes", lambda table, hw: params)
    return residency.plan(None, spec, hardware(spec))  # type: ignore[arg-type]


def test_resident_weights_fit_and_reduce_their_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec()
    res = _plan(monkeypatch, spec, 4096.0)
    assert res.resident and res.level_bytes == FILTERS
    assert "weights resident in glb's weight partition: " in res.note
    glb = residency.reserve(hardware(spec), res).levels[0]
    assert glb.partition_bytes == (math.inf, FILTERS - 4096, math.inf)
    assert capacity.pool_bytes(glb) == POOL  # the fmaps keep their 100 kB
    # more than the partition: refused, though the whole GLB would hold it
    res = _plan(monkeypatch, spec, FILTERS + 1.0)
    assert not res.resident and "exceed glb's weight partition (0.00819 MB)" in res.note
    plain = _plan(monkeypatch, _spec(None), FILTERS + 1.0)
    assert plain.resident and plain.level_bytes == TOTAL
    glb = residency.reserve(hardware(_spec(None)), plain).levels[0]
    assert glb.size_bytes == TOTAL - FILTERS - 1 and capacity.pool_bytes(glb) == TOTAL - FILTERS - 1
