"""cocotb tests of ``pe_tile`` against ``accelerator.pe`` (run by ``rtl.flow``).

Every test checks every op bit for bit, count for count and cycle for cycle through the
Scoreboard; the tile's shape is read from its ports, so the same tests run on any build.
Randomness comes from cocotb's seed (``COCOTB_RANDOM_SEED``), so a failure replays.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from pe_tile_env import Driver, Monitor, Scoreboard, Sink, tile_config

from accelerator.pe import beats_for_k, macs_per_beat

SPARSITIES = (0.0, 0.5, 0.9, 1.0)


class Bench:
    """The tile with its clock, Driver, Sink, Monitor and Scoreboard."""

    def __init__(self, dut: Any, salt: int) -> None:
        seed = int(cocotb.RANDOM_SEED) * 1000 + salt
        self.dut = dut
        self.config = tile_config(dut)
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.driver = Driver(dut, self.rng)
        self.sink = Sink(dut, self.rng)
        self.scoreboard = Scoreboard(self.config)
        self.monitor = Monitor(dut, self.scoreboard.compare, self.config.rows)

    async def start(self) -> None:
        Clock(self.dut.clk, 10, unit="ns").start()
        for port in (
            "cmd_valid",
            "ld_valid",
            "in_valid",
            "cmd_int4",
            "cmd_delta",
            "cmd_preload",
            "cmd_beats",
            "cmd_skipped",
            "ld_data",
            "in_a",
            "in_b",
        ):
            getattr(self.dut, port).value = 0
        self.dut.out_ready.value = 1
        await self.reset()
        self.driver.start()
        cocotb.start_soon(self.sink.run())
        cocotb.start_soon(self.monitor.run())

    async def reset(self, cycles: int = 2) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def traffic(self, gap_prob: float, stall_prob: float) -> None:
        self.driver.gap_prob = gap_prob
        self.sink.stall_prob = stall_prob

    def operands(
        self, mode: str, k: int, sparsity: float, m: int | None = None, n: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random A (m x k) and B (k x n) over the full signed range of the mode.

        A element is zero with probability ``sparsity``, a B element with half of it.
        """
        bits = 8 // macs_per_beat(mode)
        m = self.config.rows if m is None else m
        n = self.config.cols if n is None else n
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1)
        a = self.nrng.integers(lo, hi, (m, k)) * (self.nrng.random((m, k)) >= sparsity)
        b = self.nrng.integers(lo, hi, (k, n)) * (self.nrng.random((k, n)) >= sparsity / 2)
        return a, b

    def shape(self) -> tuple[int, int, int]:
        """Random (m, k, n): a full tile three times in four, else a partial one."""
        full = self.rng.random() < 0.75
        m = self.config.rows if full else self.rng.randint(1, self.config.rows)
        n = self.config.cols if full else self.rng.randint(1, self.config.cols)
        return m, self.rng.randint(1, 3 * self.config.rows + 6), n

    async def settle(self, max_cycles: int = 20000) -> None:
        for _ in range(max_cycles):
            if self.driver.idle() and self.scoreboard.done():
                break
            await RisingEdge(self.dut.clk)
        assert self.scoreboard.done(), f"{len(self.scoreboard.expected)} ops never finished"

    def check(self, min_ops: int) -> None:
        sb = self.scoreboard
        assert not sb.errors, "\n".join(sb.errors[:10])
        assert sb.checked >= min_ops, f"only {sb.checked} ops checked"


async def make_bench(dut: Any, salt: int) -> Bench:
    bench = Bench(dut, salt)
    await bench.start()
    return bench


def _assert_back_to_back(bench: Bench, first: int) -> None:
    """With smooth traffic each command is taken the cycle after the last result row."""
    ops = [op for _, op in bench.scoreboard.observed[first:]]
    assert all(op.stall_cycles == 0 for op in ops), [op.stall_cycles for op in ops]
    gaps = [b.start_cycle - a.end_cycle for a, b in zip(ops, ops[1:], strict=False)]
    assert all(g == 1 for g in gaps), f"dead cycles between ops: {gaps}"


@cocotb.test()
@cocotb.parametrize(mode=["int8", "int4"], sparsity=list(SPARSITIES))
async def random_ops(dut: Any, mode: str, sparsity: float) -> None:
    """Random ops at a controlled sparsity: smooth traffic, then random gaps and stalls."""
    bench = await make_bench(dut, salt=int(sparsity * 100) + (7 if mode == "int4" else 0))
    bench.traffic(0.0, 0.0)
    for _ in range(6):
        m, k, n = bench.shape()
        bench.scoreboard.submit(bench.driver, *bench.operands(mode, k, sparsity, m, n), mode)
    await bench.settle()
    _assert_back_to_back(bench, 0)
    bench.traffic(0.3, 0.3)
    for _ in range(6):
        m, k, n = bench.shape()
        bench.scoreboard.submit(bench.driver, *bench.operands(mode, k, sparsity, m, n), mode)
    await bench.settle()
    stalls = sum(op.stall_cycles for _, op in bench.scoreboard.observed[6:])
    assert stalls > 0, "random traffic produced no stall; the bench is not exercising it"
    bench.check(12)


@cocotb.test()
@cocotb.parametrize(mode=["int8_delta", "int4_delta"])
async def delta_ops(dut: Any, mode: str) -> None:
    """Temporal deltas: preload, kept outputs, skipped all-zero vectors, an all-zero delta."""
    bench = await make_bench(dut, salt=11 if mode == "int8_delta" else 13)
    cfg = bench.config
    skipped = 0
    for phase, (gap, stall) in enumerate(((0.0, 0.0), (0.25, 0.25))):
        bench.traffic(gap, stall)
        first = len(bench.scoreboard.observed)
        prev = bench.nrng.integers(-(2**31), 2**31, (cfg.rows, cfg.cols))
        bench.scoreboard.submit(bench.driver, *bench.operands(mode, 9, 0.5), mode, preload=prev)
        for i in range(6):
            k = bench.rng.randint(1, 2 * cfg.rows + 8)
            a, b = bench.operands(mode, k, 0.3)
            per = macs_per_beat(mode)
            zero_beats = bench.nrng.random(beats_for_k(k, mode)) < 0.5
            a[:, np.repeat(zero_beats, per)[:k]] = 0  # whole delta vectors become zero
            if i == 3:
                a[:] = 0  # nothing changed since the last step: every vector skipped
            skipped += bench.scoreboard.submit(bench.driver, a, b, mode).skipped_vectors
        await bench.settle()
        if phase == 0:
            _assert_back_to_back(bench, first)
    assert skipped > 0
    bench.check(14)


@cocotb.test()
async def edge_cases(dut: Any) -> None:
    """Most negative operands, accumulator wrap both ways, zero-beat ops, mode switches."""
    bench = await make_bench(dut, salt=17)
    cfg, sb, drv = bench.config, bench.scoreboard, bench.driver
    r, c = cfg.rows, cfg.cols
    top, bottom = 2 ** (cfg.acc_bits - 1) - 1, -(2 ** (cfg.acc_bits - 1))
    full = np.full
    sb.submit(drv, full((r, 5), -128), full((5, c), -128), "int8")  # 5 * 16384 each
    sb.submit(drv, full((r, 5), -128), full((5, c), 127), "int8")
    sb.submit(drv, full((r, 7), -8), full((7, c), -8), "int4")  # odd K: padded nibble
    sb.submit(drv, full((r, 3), -8), full((3, c), 7), "int4")
    # wrap upwards from the largest accumulator value and downwards from the smallest
    res = sb.submit(drv, full((r, 2), -128), full((2, c), -128), "int8_delta", preload=full((r, c), top - 100))
    assert res.out[0, 0] == bottom + 32767 - 100, res.out[0, 0]
    res = sb.submit(drv, full((r, 2), -8), full((2, c), 7), "int4_delta", preload=full((r, c), bottom + 5))
    assert res.out[0, 0] == top - 112 + 6, res.out[0, 0]
    sb.submit(drv, full((r, 3), 127), full((3, c), -128), "int8_delta")  # kept, wraps again
    sb.submit(drv, np.zeros((r, 0), dtype=int), np.zeros((0, c), dtype=int), "int8")  # K = 0
    sb.submit(
        drv, np.zeros((r, 4), dtype=int), full((4, c), 3), "int4_delta", preload=full((r, c), -1)
    )  # preload, then every vector skipped
    sb.submit(drv, np.zeros((r, 6), dtype=int), full((6, c), 3), "int8")  # all gated
    await bench.settle()
    _assert_back_to_back(bench, 0)
    bench.check(10)


@cocotb.test()
async def reset_mid_stream(dut: Any) -> None:
    """A reset in the middle of an op abandons it and leaves zeroed accumulators."""
    bench = await make_bench(dut, salt=19)
    for when in (3, 9, 14, 30):  # cycles after the command: beats, flush, drain, beats
        bench.traffic(0.2, 0.2)
        a, b = bench.operands("int8", 24, 0.3)
        bench.scoreboard.submit(bench.driver, a, b, "int8")
        await ClockCycles(dut.clk, when)
        bench.driver.flush()
        bench.monitor.abort()
        bench.scoreboard.reset()
        await bench.reset(bench.rng.randint(1, 3))
        # a delta op after reset adds onto zero; then a normal op
        a, b = bench.operands("int8_delta", 6, 0.3)
        res = bench.scoreboard.submit(bench.driver, a, b, "int8_delta")
        assert np.array_equal(res.out[: a.shape[0], : b.shape[1]], a @ b)
        bench.scoreboard.submit(bench.driver, *bench.operands("int4", 9, 0.5), "int4")
        await bench.settle()
    bench.check(8)


@cocotb.test()
async def activity_run(dut: Any) -> None:
    """The workload of one SAIF activity run, set by plusargs; writes its counts as JSON.

    plusargs: ``+pj_mode=`` (default int8), ``+pj_sparsity=`` (0.5), ``+pj_ops=`` (8),
    ``+pj_k=`` (64 elements), ``+pj_out=`` (file for the summary, default activity.json).
    """
    args = cocotb.plusargs
    if "pj_mode" not in args:
        return  # only meaningful in an activity run
    mode = str(args.get("pj_mode", "int8"))
    sparsity, ops, k = float(args.get("pj_sparsity", 0.5)), int(args.get("pj_ops", 8)), int(args.get("pj_k", 64))
    bench = await make_bench(dut, salt=23)
    start = bench.monitor.cycle
    results = []
    for i in range(ops):
        a, b = bench.operands(mode, k, sparsity)
        if mode.endswith("_delta"):
            zero = bench.nrng.random(beats_for_k(k, mode)) < sparsity
            a[:, np.repeat(zero, macs_per_beat(mode))[:k]] = 0
            prev = bench.nrng.integers(-(2**20), 2**20, (bench.config.rows, bench.config.cols))
            results.append(bench.scoreboard.submit(bench.driver, a, b, mode, preload=prev if i == 0 else None))
        else:
            results.append(bench.scoreboard.submit(bench.driver, a, b, mode))
    await bench.settle()
    bench.check(ops)
    cfg = bench.config
    summary = {
        "mode": mode,
        "sparsity": sparsity,
        "ops": ops,
        "k": k,
        "rows": cfg.rows,
        "cols": cfg.cols,
        "macs": sum(r.k_beats for r in results) * macs_per_beat(mode) * cfg.rows * cfg.cols,
        "sent_macs": sum(r.sent_beats for r in results) * macs_per_beat(mode) * cfg.rows * cfg.cols,
        "gated_macs": sum(r.gated_macs for r in results),
        "skipped_vectors": sum(r.skipped_vectors for r in results),
        "op_cycles": sum(r.cycles for r in results),
        "sim_cycles": bench.monitor.cycle - start,
    }
    Path(str(args.get("pj_out", "activity.json"))).write_text(json.dumps(summary, indent=1))


@cocotb.test()
async def cycle_record(dut: Any) -> None:
    """Ops of every mode with smooth traffic; writes each op's measured cycles as JSON.

    For the simulator-agreement test, which compares them with ``simulator.cost.array``.
    plusargs: ``+pj_k=`` (reduction length, default 37), ``+pj_out=`` (cycles.json).
    """
    k = int(cocotb.plusargs.get("pj_k", 37))
    bench = await make_bench(dut, salt=29)
    cfg, sb = bench.config, bench.scoreboard
    for mode in ("int8", "int4", "int8_delta", "int4_delta"):
        delta = mode.endswith("_delta")
        prev = bench.nrng.integers(-(2**20), 2**20, (cfg.rows, cfg.cols)) if delta else None
        sb.submit(bench.driver, *bench.operands(mode, k, 0.0), mode, preload=prev)
        if delta:  # a kept op with every other delta vector zero
            a, b = bench.operands(mode, k, 0.0)
            zero = np.arange(beats_for_k(k, mode)) % 2 == 0
            a[:, np.repeat(zero, macs_per_beat(mode))[:k]] = 0
            sb.submit(bench.driver, a, b, mode)
    await bench.settle()
    bench.check(6)
    records = [
        {
            "mode": e.mode,
            "k": k,
            "preload": e.preload,
            "k_beats": e.result.k_beats,
            "skipped": e.result.skipped_vectors,
            "cycles": op.cycles,
            "stall_cycles": op.stall_cycles,
            "rows": cfg.rows,
            "cols": cfg.cols,
        }
        for e, op in sb.observed
    ]
    out = Path(str(cocotb.plusargs.get("pj_out", "cycles.json")))
    out.write_text(json.dumps(records, indent=1))
