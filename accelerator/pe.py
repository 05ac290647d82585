"""Functional and timing reference of the output-stationary PE tile (``rtl/pe_tile/``).

The tile holds ``rows x cols`` accumulators ``C[i, j]`` of a GEMM ``C = A @ B`` (A: activations,
``rows x K``; B: weights, ``K x cols``). Each operand *beat* carries the activation vector
``A[:, k]`` (lane ``i`` feeds PE row ``i``) and the weight vector ``B[k, :]`` (lane ``j`` feeds
PE column ``j``); PE ``(i, j)`` adds ``A[i, k] * B[k, j]``. Lanes are 8 bits: one signed INT8
value, or in INT4 mode two signed nibbles (low nibble = ``k``, high = ``k + 1``), so a beat is
one MAC per PE in INT8 and two in INT4. Accumulators are ``acc_bits`` two's-complement
registers that wrap.

Definitions shared with the RTL, bit for bit:

- **gated MAC**: a MAC of a *transferred* beat whose activation or weight operand is zero (either
  one). It toggles neither multiplier nor accumulator. Zero padding (a partial tile, odd ``K``
  in INT4) is counted like any other zero, since the hardware cannot tell them apart.
- **delta modes** (``int8_delta``, ``int4_delta``): ``A`` is a temporal delta and the tile
  adds ``A @ B`` onto a stored previous output ``prev`` instead of zero, kept in the
  accumulators from the last op (``preload=False``) or loaded first, one row per cycle
  (``preload=True``). A beat whose whole activation vector is zero (both nibbles in INT4) is a
  **skipped vector**: the operand sequencer leaves it out of the stream, so it costs no cycle
  and no MAC; the command tells the tile how many were skipped. Non-delta modes never skip.

Timing (``tile_cycles``), from the command transfer to the last result transfer, both
included, with no stalls::

    cycles = FILL_CYCLES + (rows if preload else 0) + (k_beats - skipped_vectors) + rows

``FILL_CYCLES = 2``: the command cycle, plus one cycle after the last beat for the MAC stage
(operands are registered, then added). The drain is one accumulator row per cycle. A stall
(an input gap or output back-pressure) adds exactly one cycle. Ops do not overlap: the next
command is accepted the cycle after the last result row.

This module is pure Python/numpy and imports nothing of ours but ``accelerator.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from accelerator.errors import SimulationError, SpecError

Mode = Literal["int8", "int4", "int8_delta", "int4_delta"]
MODES: tuple[str, ...] = ("int8", "int4", "int8_delta", "int4_delta")

FILL_CYCLES = 2
"""Cycles of an op beyond its beats and its drain: the command cycle and the MAC stage."""

LANE_BITS = 8
"""Bits per operand lane per beat (one INT8 or two INT4 values)."""


@dataclass(frozen=True)
class TileConfig:
    """Shape and widths of one PE tile; mirrors the Verilog parameters of ``pe_tile``.

    Attributes:
        rows: PE rows = activation lanes per beat (``ROWS``).
        cols: PE columns = weight lanes per beat (``COLS``).
        acc_bits: accumulator width in bits, two's-complement wrap (``ACC_W``).
        count_bits: width of the command's beat and skip counts (``BEATS_W``); an op carries
            at most ``2**count_bits - 1`` beats.
        gated_bits: width of the gated-MAC counter (``CNT_W``).
    """

    rows: int = 4
    cols: int = 4
    acc_bits: int = 32
    count_bits: int = 20
    gated_bits: int = 32

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"expected a positive integer, got {value!r}", field=name)
        if not isinstance(self.acc_bits, int) or not 17 <= self.acc_bits <= 62:
            raise SpecError(
                f"expected 17..62 (a 16-bit product plus sign; int64 arithmetic), got {self.acc_bits!r}",
                field="acc_bits",
            )
        if not isinstance(self.count_bits, int) or not 1 <= self.count_bits <= 32:
            raise SpecError(f"expected 1..32, got {self.count_bits!r}", field="count_bits")
        worst = 2 * self.rows * self.cols * (2**self.count_bits - 1)
        if not isinstance(self.gated_bits, int) or worst >= 2**self.gated_bits:
            raise SpecError(
                f"a {self.gated_bits!r}-bit counter cannot hold {worst} gated MACs of one op",
                field="gated_bits",
            )

    @property
    def max_beats(self) -> int:
        """Most beats (and most skipped vectors) one op can carry."""
        return 2**self.count_bits - 1


@dataclass(frozen=True)
class TileCommand:
    """The command of one op (the RTL's ``cmd_*`` fields)."""

    int4: bool
    delta: bool
    preload: bool
    beats: int  # operand beats that follow in the stream
    skipped: int  # all-zero delta vectors left out of the stream


@dataclass(frozen=True)
class TileStream:
    """What an operand sequencer sends the tile for one op.

    ``a_words[t]`` / ``b_words[t]`` are the packed lanes of sent beat ``t`` (lane ``i`` at
    bits ``8i .. 8i+7``); ``ld_words[r]`` is preload row ``r`` (column ``j`` at bits
    ``acc_bits*j ..``), empty unless ``command.preload``.
    """

    command: TileCommand
    a_words: tuple[int, ...]
    b_words: tuple[int, ...]
    ld_words: tuple[int, ...]


@dataclass(frozen=True)
class TileResult:
    """Outcome of one tile op.

    Attributes:
        out: ``(rows, cols)`` int64 accumulators, signed, already wrapped to ``acc_bits``.
        gated_macs: MACs of transferred beats with a zero operand (see module docstring).
        skipped_vectors: beats left out of the stream (delta modes only).
        k_beats: beats the op's reduction needs before skipping.
        sent_beats: ``k_beats - skipped_vectors``.
        cycles: stall-free cycles, ``tile_cycles(...)``.
    """

    out: npt.NDArray[np.int64]
    gated_macs: int
    skipped_vectors: int
    k_beats: int
    sent_beats: int
    cycles: int


def _check_mode(mode: str) -> tuple[int, bool]:
    """Return (MACs per PE per beat, is-delta) of ``mode``."""
    if mode not in MODES:
        raise SpecError(f"expected one of {', '.join(MODES)}, got {mode!r}", field="mode")
    return (2 if mode.startswith("int4") else 1), mode.endswith("_delta")


def macs_per_beat(mode: str) -> int:
    """MACs one PE does per beat: 1 in INT8 modes, 2 in INT4 modes."""
    return _check_mode(mode)[0]


@overload
def beats_for_k(k: int, mode: str) -> int: ...
@overload
def beats_for_k(k: npt.ArrayLike, mode: str) -> npt.NDArray[np.int64]: ...
def beats_for_k(k: npt.ArrayLike, mode: str) -> int | npt.NDArray[np.int64]:
    """Beats needed for a reduction of length ``k`` (elements): ``ceil(k / macs_per_beat)``."""
    per = macs_per_beat(mode)
    arr = np.asarray(k, dtype=np.int64)
    if np.any(arr < 0):
        raise SimulationError(f"reduction length must be >= 0, got {k!r}")
    beats = -(-arr // per)
    return int(beats) if beats.ndim == 0 else beats


@overload
def tile_cycles(
    k_beats: int,
    mode: str = ...,
    skipped_vectors: int = ...,
    *,
    rows: int = ...,
    cols: int = ...,
    preload: bool = ...,
) -> int: ...
@overload
def tile_cycles(
    k_beats: npt.ArrayLike,
    mode: str = ...,
    skipped_vectors: npt.ArrayLike = ...,
    *,
    rows: int = ...,
    cols: int = ...,
    preload: bool = ...,
) -> npt.NDArray[np.int64]: ...
def tile_cycles(
    k_beats: npt.ArrayLike,
    mode: str = "int8",
    skipped_vectors: npt.ArrayLike = 0,
    *,
    rows: int = 4,
    cols: int = 4,
    preload: bool = False,
) -> int | npt.NDArray[np.int64]:
    """Stall-free cycles of one tile op: ``2 + (rows if preload) + k_beats - skipped + rows``.

    Args:
        k_beats: operand beats of the op's reduction before skipping (``beats_for_k``);
            an int or an array (the result broadcasts).
        mode: one of ``MODES``.
        skipped_vectors: all-zero delta vectors left out (delta modes only); broadcasts.
        rows: PE rows (the drain takes one cycle per row).
        cols: PE columns (no effect on cycles: a result row is one transfer).
        preload: delta modes only: the stored output is loaded first, one row per cycle.

    Returns:
        cycles (int, or int64 array when an argument is an array).
    """
    _, delta = _check_mode(mode)
    if rows < 1 or cols < 1:
        raise SimulationError(f"tile shape must be positive, got {rows}x{cols}")
    if preload and not delta:
        raise SimulationError(f"preload only exists in delta modes, got mode {mode!r}")
    beats = np.asarray(k_beats, dtype=np.int64)
    skipped = np.asarray(skipped_vectors, dtype=np.int64)
    if np.any(beats < 0) or np.any(skipped < 0):
        raise SimulationError("k_beats and skipped_vectors must be >= 0")
    if np.any(skipped > beats):
        raise SimulationError("skipped_vectors cannot exceed k_beats")
    if not delta and np.any(skipped != 0):
        raise SimulationError(f"mode {mode!r} skips no vectors; use a delta mode")
    cycles = FILL_CYCLES + (rows if preload else 0) + (beats - skipped) + rows
    return int(cycles) if cycles.ndim == 0 else cycles


def wrap_signed(values: npt.ArrayLike, bits: int) -> npt.NDArray[np.int64]:
    """Two's-complement wrap of integers to ``bits`` bits, returned signed (int64)."""
    v = np.asarray(values, dtype=np.int64)
    half = np.int64(1) << np.int64(bits - 1)
    return ((v + half) & ((half << np.int64(1)) - 1)) - half


def _operand(name: str, value: npt.ArrayLike, bits: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(value)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise SimulationError(f"{name} must be a 2-D integer array, got {arr.dtype} {arr.shape}")
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr.min() if arr.min() < lo else arr.max()
        raise SimulationError(f"{name} holds {bad}, outside the INT{bits} range {lo}..{hi}")
    return arr.astype(np.int64)


def _beats(
    a: npt.ArrayLike, b: npt.ArrayLike, mode: str, config: TileConfig
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Operands as beats: ``(k_beats, halves, rows)`` and ``(k_beats, halves, cols)``.

    ``halves`` is 1 in INT8 and 2 in INT4 (half 0 = low nibble = even ``k``); the tile's
    unused rows, columns and the odd-``K`` tail are zero.
    """
    per, _ = _check_mode(mode)
    bits = LANE_BITS // per
    a_arr, b_arr = _operand("A", a, bits), _operand("B", b, bits)
    m, k = a_arr.shape
    if b_arr.shape[0] != k:
        raise SimulationError(f"A is {m}x{k} but B is {b_arr.shape[0]}x{b_arr.shape[1]}")
    if m > config.rows or b_arr.shape[1] > config.cols:
        raise SimulationError(f"a {m}x{b_arr.shape[1]} output does not fit a {config.rows}x{config.cols} tile")
    k_beats = beats_for_k(k, mode)
    a_pad = np.zeros((config.rows, k_beats * per), dtype=np.int64)
    b_pad = np.zeros((k_beats * per, config.cols), dtype=np.int64)
    a_pad[:m, :k] = a_arr
    b_pad[:k, : b_arr.shape[1]] = b_arr
    a_beats = a_pad.T.reshape(k_beats, per, config.rows)
    b_beats = b_pad.reshape(k_beats, per, config.cols)
    return a_beats, b_beats


def _prev(prev: npt.ArrayLike | None, delta: bool, config: TileConfig) -> npt.NDArray[np.int64]:
    if not delta:
        if prev is not None:
            raise SimulationError("prev is only used in delta modes")
        return np.zeros((config.rows, config.cols), dtype=np.int64)
    if prev is None:
        raise SimulationError("delta modes need prev, the stored output the deltas add onto")
    arr = np.asarray(prev)
    if arr.shape != (config.rows, config.cols) or not np.issubdtype(arr.dtype, np.integer):
        raise SimulationError(f"prev must be a {config.rows}x{config.cols} integer array, got {arr.dtype} {arr.shape}")
    if np.any(wrap_signed(arr, config.acc_bits) != arr):
        raise SimulationError(f"prev holds values outside the signed {config.acc_bits}-bit range")
    return arr.astype(np.int64)


def tile_matmul(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    mode: str = "int8",
    *,
    prev: npt.ArrayLike | None = None,
    preload: bool = False,
    config: TileConfig | None = None,
) -> TileResult:
    """Bit-exact result, gated-MAC count, skip count and cycles of one tile op.

    Args:
        a: activations (deltas in delta modes), ``m x K`` integers, ``m <= rows``, in the
            mode's signed range (INT8 -128..127, INT4 -8..7).
        b: weights, ``K x n`` integers, ``n <= cols``, same range.
        mode: one of ``MODES``.
        prev: delta modes only: the stored ``rows x cols`` output the deltas add onto.
        preload: delta modes only: ``prev`` is loaded (``rows`` extra cycles) rather than kept.
        config: the tile; default 4x4, 32-bit accumulators.

    Returns:
        ``out = wrap(prev + A @ B)`` on the full tile, and the counts described in the
        module docstring.
    """
    config = config or TileConfig()
    per, delta = _check_mode(mode)
    if preload and not delta:
        raise SimulationError(f"preload only exists in delta modes, got mode {mode!r}")
    base = _prev(prev, delta, config)
    a_beats, b_beats = _beats(a, b, mode, config)
    k_beats = a_beats.shape[0]
    sent = np.any(a_beats != 0, axis=(1, 2)) if delta else np.ones(k_beats, dtype=bool)
    skipped = int(k_beats - np.count_nonzero(sent))
    sent_beats = k_beats - skipped
    if max(sent_beats, skipped) > config.max_beats:
        raise SimulationError(
            f"{sent_beats} beats / {skipped} skipped exceed one op's {config.max_beats}; split the reduction"
        )
    nz_a = np.count_nonzero(a_beats[sent], axis=2)  # (sent, halves)
    nz_b = np.count_nonzero(b_beats[sent], axis=2)
    gated = sent_beats * per * config.rows * config.cols - int(np.sum(nz_a * nz_b))
    # Wrapping once at the end equals wrapping after every add (arithmetic mod 2**acc_bits).
    exact = base + np.einsum("thr,thc->rc", a_beats, b_beats)
    return TileResult(
        out=wrap_signed(exact, config.acc_bits),
        gated_macs=gated,
        skipped_vectors=skipped,
        k_beats=k_beats,
        sent_beats=sent_beats,
        cycles=tile_cycles(k_beats, mode, skipped, rows=config.rows, cols=config.cols, preload=preload),
    )


def _pack(values: npt.NDArray[np.int64], bits: int) -> int:
    """Pack signed ``values`` (lane 0 first) into one unsigned word, ``bits`` per lane."""
    word = 0
    for lane, v in enumerate(values.tolist()):
        word |= (int(v) & ((1 << bits) - 1)) << (bits * lane)
    return word


def encode_stream(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    mode: str = "int8",
    *,
    prev: npt.ArrayLike | None = None,
    preload: bool = False,
    config: TileConfig | None = None,
) -> TileStream:
    """The command and packed words an operand sequencer sends for ``tile_matmul``'s op.

    Arguments as for ``tile_matmul``; ``prev`` is sent as preload rows only when ``preload``.
    """
    config = config or TileConfig()
    result = tile_matmul(a, b, mode, prev=prev, preload=preload, config=config)
    per, delta = _check_mode(mode)
    a_beats, b_beats = _beats(a, b, mode, config)
    sent = np.any(a_beats != 0, axis=(1, 2)) if delta else np.ones(len(a_beats), dtype=bool)
    nibble = LANE_BITS // per
    # Lane byte = halves packed low first: INT8 -> the value, INT4 -> lo | hi << 4.
    a_lanes = np.sum((a_beats & ((1 << nibble) - 1)) << (nibble * np.arange(per))[:, None], axis=1)
    b_lanes = np.sum((b_beats & ((1 << nibble) - 1)) << (nibble * np.arange(per))[:, None], axis=1)
    ld: tuple[int, ...] = ()
    if preload:
        ld = tuple(_pack(row, config.acc_bits) for row in _prev(prev, delta, config))
    return TileStream(
        command=TileCommand(
            int4=per == 2,
            delta=delta,
            preload=preload,
            beats=result.sent_beats,
            skipped=result.skipped_vectors,
        ),
        a_words=tuple(_pack(v, LANE_BITS) for v in a_lanes[sent]),
        b_words=tuple(_pack(v, LANE_BITS) for v in b_lanes[sent]),
        ld_words=ld,
    )


def unpack_row(word: int, config: TileConfig | None = None) -> npt.NDArray[np.int64]:
    """Signed accumulators of one result row word (column ``j`` at bits ``acc_bits*j``)."""
    config = config or TileConfig()
    mask = (1 << config.acc_bits) - 1
    raw = [(word >> (config.acc_bits * j)) & mask for j in range(config.cols)]
    return wrap_signed(np.array(raw, dtype=np.int64), config.acc_bits)
