"""Verification environment of ``pe_tile``: Driver, Sink, Monitor, Scoreboard.

- ``Driver`` plays the operand sequencer: it sends each op's command, preload rows and operand
  beats (as ``accelerator.pe.encode_stream`` packs them) on three valid/ready streams, with
  random idle cycles (input gaps) when ``gap_prob > 0``.
- ``Sink`` drives ``out_ready`` low at random (output stalls) when ``stall_prob > 0``.
- ``Monitor`` samples every cycle at the falling clock edge, when every signal is settled,
  and assembles each op from its command transfer to its last result transfer: result rows,
  counts, its length in cycles and its stall cycles (a ready without valid on an input
  stream, or a valid without ready on the output).
- ``Scoreboard`` asks ``accelerator.pe`` for the expected result of every submitted op (it
  never computes one itself) and checks, per op: every accumulator bit, the gated-MAC and
  skipped-vector counts, and ``cycles == tile_cycles(...) + stall cycles``.

Drivers change inputs just after a rising edge; ready/valid outputs of the tile depend on its
state only, so the value seen at the falling edge is the one the next rising edge acts on.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from accelerator.pe import TileConfig, TileResult, encode_stream, tile_matmul, unpack_row


def tile_config(dut: Any) -> TileConfig:
    """The tile's parameters, read from its port widths."""
    rows = len(dut.in_a) // 8
    cols = len(dut.in_b) // 8
    return TileConfig(
        rows=rows,
        cols=cols,
        acc_bits=len(dut.out_data) // cols,
        count_bits=len(dut.cmd_beats),
        gated_bits=len(dut.out_gated),
    )


def _u(signal: Any) -> int:
    return int(signal.value.to_unsigned()) if len(signal) > 1 else int(signal.value)


class Driver:
    """Sends ops on the cmd, ld and in streams; holds valid until each transfer."""

    def __init__(self, dut: Any, rng: random.Random, gap_prob: float = 0.0) -> None:
        self.dut = dut
        self.rng = rng
        self.gap_prob = gap_prob
        self._queues: dict[str, deque[dict[str, int]]] = {"cmd": deque(), "ld": deque(), "in": deque()}
        self._held: dict[str, dict[str, int] | None] = dict.fromkeys(self._queues)
        self._epoch = 0

    def send(self, stream_cmd: dict[str, int], ld: list[int], a: list[int], b: list[int]) -> None:
        self._queues["cmd"].append(stream_cmd)
        self._queues["ld"].extend({"ld_data": w} for w in ld)
        self._queues["in"].extend({"in_a": x, "in_b": y} for x, y in zip(a, b, strict=True))

    def idle(self) -> bool:
        """True when every queued transfer has happened."""
        return not any(self._queues.values()) and not any(self._held.values())

    def flush(self) -> None:
        """Drop everything not yet transferred (used around a reset)."""
        for q in self._queues.values():
            q.clear()
        self._epoch += 1

    def start(self) -> None:
        for name in self._queues:
            cocotb.start_soon(self._source(name))

    async def _source(self, name: str) -> None:
        valid, ready = getattr(self.dut, f"{name}_valid"), getattr(self.dut, f"{name}_ready")
        queue = self._queues[name]
        epoch = self._epoch
        valid.value = 0
        while True:
            await RisingEdge(self.dut.clk)
            if epoch != self._epoch:
                self._held[name], epoch = None, self._epoch
            held = self._held[name]
            if held is None and queue and self.rng.random() >= self.gap_prob:
                held = self._held[name] = queue.popleft()
                for port, value in held.items():
                    getattr(self.dut, port).value = value
            valid.value = 1 if held is not None else 0
            await FallingEdge(self.dut.clk)
            if held is not None and int(ready.value):
                self._held[name] = None


@dataclass
class ObservedOp:
    """One op as the Monitor saw it on the pins."""

    start_cycle: int
    command: dict[str, int]
    rows: list[int] = field(default_factory=list)
    lasts: list[int] = field(default_factory=list)
    gated: int = 0
    skipped: int = 0
    stall_cycles: int = 0
    end_cycle: int = -1

    @property
    def cycles(self) -> int:
        return self.end_cycle - self.start_cycle + 1


class Sink:
    """Accepts results, with ``out_ready`` low on random cycles."""

    def __init__(self, dut: Any, rng: random.Random, stall_prob: float = 0.0) -> None:
        self.dut = dut
        self.rng = rng
        self.stall_prob = stall_prob

    async def run(self) -> None:
        while True:
            self.dut.out_ready.value = 0 if self.rng.random() < self.stall_prob else 1
            await RisingEdge(self.dut.clk)


class Monitor:
    """Samples all streams once per cycle and hands finished ops to a callback."""

    CMD_FIELDS = ("cmd_int4", "cmd_delta", "cmd_preload", "cmd_beats", "cmd_skipped")

    def __init__(self, dut: Any, on_op: Any, rows: int) -> None:
        self.dut = dut
        self.on_op = on_op
        self.rows = rows
        self.cycle = 0
        self.current: ObservedOp | None = None

    def abort(self) -> None:
        self.current = None

    async def run(self) -> None:
        d = self.dut
        while True:
            await FallingEdge(d.clk)
            self.cycle += 1
            if int(d.rst.value):
                self.current = None
                continue
            if int(d.cmd_valid.value) and int(d.cmd_ready.value):
                cmd = {f: _u(getattr(d, f)) for f in self.CMD_FIELDS}
                self.current = ObservedOp(start_cycle=self.cycle, command=cmd)
            op = self.current
            if op is None:
                continue
            waiting_in = (int(d.in_ready.value) and not int(d.in_valid.value)) or (
                int(d.ld_ready.value) and not int(d.ld_valid.value)
            )
            out_valid, out_ready = int(d.out_valid.value), int(d.out_ready.value)
            if waiting_in or (out_valid and not out_ready):
                op.stall_cycles += 1
            if out_valid and out_ready:
                op.rows.append(_u(d.out_data))
                op.lasts.append(int(d.out_last.value))
                if len(op.rows) == self.rows:
                    op.gated, op.skipped = _u(d.out_gated), _u(d.out_skipped)
                    op.end_cycle = self.cycle
                    self.current = None
                    self.on_op(op)


@dataclass(frozen=True)
class Expected:
    label: str
    mode: str
    preload: bool
    result: TileResult
    command: dict[str, int]


class Scoreboard:
    """Expected ops from ``accelerator.pe``, compared in order with what the Monitor saw."""

    def __init__(self, config: TileConfig) -> None:
        self.config = config
        self.stored = np.zeros((config.rows, config.cols), dtype=np.int64)
        self.expected: deque[Expected] = deque()
        self.errors: list[str] = []
        self.checked = 0
        self.observed: list[tuple[Expected, ObservedOp]] = []

    def submit(
        self,
        driver: Driver,
        a: np.ndarray,
        b: np.ndarray,
        mode: str,
        preload: np.ndarray | None = None,
        label: str = "",
    ) -> TileResult:
        """Queue one op on the driver and its reference outcome here; return the latter."""
        delta = mode.endswith("_delta")
        prev = None if not delta else (self.stored if preload is None else preload)
        result = tile_matmul(a, b, mode, prev=prev, preload=preload is not None, config=self.config)
        stream = encode_stream(a, b, mode, prev=prev, preload=preload is not None, config=self.config)
        c = stream.command
        command = {
            "cmd_int4": int(c.int4),
            "cmd_delta": int(c.delta),
            "cmd_preload": int(c.preload),
            "cmd_beats": c.beats,
            "cmd_skipped": c.skipped,
        }
        driver.send(command, list(stream.ld_words), list(stream.a_words), list(stream.b_words))
        self.expected.append(Expected(label or f"op{len(self.expected)}", mode, preload is not None, result, command))
        self.stored = result.out
        return result

    def reset(self) -> None:
        """The tile was reset: its stored outputs are zero and nothing is in flight."""
        self.stored = np.zeros((self.config.rows, self.config.cols), dtype=np.int64)
        self.expected.clear()

    def compare(self, op: ObservedOp) -> None:
        if not self.expected:
            self.errors.append(f"unexpected op at cycle {op.start_cycle}: {op.command}")
            return
        exp = self.expected.popleft()
        self.checked += 1
        self.observed.append((exp, op))
        where = f"{exp.label} ({exp.mode}, cycle {op.start_cycle})"
        if op.command != exp.command:
            self.errors.append(f"{where}: command {op.command} != {exp.command}")
        got = np.stack([unpack_row(w, self.config) for w in op.rows])
        if not np.array_equal(got, exp.result.out):
            i, j = (int(x) for x in np.argwhere(got != exp.result.out)[0])
            self.errors.append(f"{where}: C({i},{j}) = {got[i, j]}, expected {exp.result.out[i, j]}")
        if op.lasts != [0] * (self.config.rows - 1) + [1]:
            self.errors.append(f"{where}: out_last pattern {op.lasts}")
        if op.gated != exp.result.gated_macs:
            self.errors.append(f"{where}: gated {op.gated} != {exp.result.gated_macs}")
        if op.skipped != exp.result.skipped_vectors:
            self.errors.append(f"{where}: skipped {op.skipped} != {exp.result.skipped_vectors}")
        want = exp.result.cycles + op.stall_cycles
        if op.cycles != want:
            self.errors.append(
                f"{where}: {op.cycles} cycles, expected tile_cycles "
                f"{exp.result.cycles} + {op.stall_cycles} stall = {want}"
            )

    def done(self) -> bool:
        return not self.expected
