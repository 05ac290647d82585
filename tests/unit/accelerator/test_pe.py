"""accelerator.pe: the tile's functional and timing reference, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from accelerator.errors import SimulationError, SpecError
from accelerator.pe import (
    TileConfig,
    beats_for_k,
    encode_stream,
    tile_cycles,
    tile_matmul,
    unpack_row,
    wrap_signed,
)

TOP, BOTTOM = 2**31 - 1, -(2**31)


def test_cycles_closed_form() -> None:
    assert tile_cycles(10, "int8") == 2 + 10 + 4
    assert tile_cycles(0, "int4") == 2 + 0 + 4
    assert tile_cycles(10, "int8", rows=8, cols=3) == 2 + 10 + 8
    assert tile_cycles(10, "int8_delta", 3) == 2 + 7 + 4
    assert tile_cycles(10, "int4_delta", 10, preload=True) == 2 + 4 + 0 + 4


def test_cycles_vectorise() -> None:
    beats = np.array([[1, 5], [9, 0]])
    skipped = np.array([[0, 2], [9, 0]])
    got = tile_cycles(beats, "int8_delta", skipped, rows=2)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, [[5, 7], [4, 4]])
    np.testing.assert_array_equal(tile_cycles(np.arange(3), "int8"), [6, 7, 8])


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((5, "int8", 1), {}),  # skipping outside delta modes
        ((5, "int8_delta", 6), {}),  # more skipped than beats
        ((-1, "int8"), {}),
        ((5, "int8"), {"preload": True}),
        ((5, "fp16"), {}),
    ],
)
def test_cycles_reject_impossible_ops(args: tuple, kwargs: dict) -> None:
    with pytest.raises((SimulationError, SpecError)):
        tile_cycles(*args, **kwargs)


def test_beats_for_k() -> None:
    assert beats_for_k(7, "int8") == 7
    assert beats_for_k(7, "int4") == 4
    assert beats_for_k(8, "int4_delta") == 4
    np.testing.assert_array_equal(beats_for_k(np.array([0, 1, 2, 3]), "int4"), [0, 1, 1, 2])


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_matmul_equals_numpy_on_partial_tiles(mode: str) -> None:
    rng = np.random.default_rng(5)
    lim = 128 if mode == "int8" else 8
    for m, k, n in [(4, 13, 4), (1, 1, 1), (3, 8, 2), (4, 0, 4)]:
        a = rng.integers(-lim, lim, (m, k))
        b = rng.integers(-lim, lim, (k, n))
        res = tile_matmul(a, b, mode)
        np.testing.assert_array_equal(res.out[:m, :n], a @ b)
        assert not res.out[m:, :].any() and not res.out[:, n:].any()
        assert res.k_beats == beats_for_k(k, mode)
        assert res.cycles == tile_cycles(res.k_beats, mode)


def test_wrap_is_twos_complement() -> None:
    np.testing.assert_array_equal(wrap_signed([TOP + 1, BOTTOM - 1, 5, -5], 32), [BOTTOM, TOP, 5, -5])
    one = np.ones((1, 1), dtype=int)
    prev = np.full((4, 4), TOP)
    assert tile_matmul(one, one, "int8_delta", prev=prev).out[0, 0] == BOTTOM
    res = tile_matmul(-128 * one, 127 * one, "int8_delta", prev=np.full((4, 4), BOTTOM + 5))
    assert res.out[0, 0] == TOP - 16256 + 6
    assert res.out[1, 1] == BOTTOM + 5  # a padded PE keeps the stored value


def test_gated_macs_by_hand() -> None:
    cfg = TileConfig(rows=2, cols=2)
    a = np.array([[0, 2], [3, 0]])
    b = np.array([[1, 0], [5, 6]])
    # beat 0: A[:,0]=(0,3), B[0,:]=(1,0): 1 active MAC; beat 1: (2,0)x(5,6): 2 active
    assert tile_matmul(a, b, "int8", config=cfg).gated_macs == (4 - 1) + (4 - 2)
    # a 1x1 product on the default 4x4 tile: the 15 padded PEs are gated too
    assert tile_matmul(np.ones((1, 1), int), np.ones((1, 1), int)).gated_macs == 15


def test_int4_pads_odd_k_with_a_gated_mac() -> None:
    cfg = TileConfig(rows=1, cols=1)
    res = tile_matmul(np.ones((1, 3), int), np.ones((3, 1), int), "int4", config=cfg)
    assert (res.k_beats, res.gated_macs, int(res.out[0, 0])) == (2, 1, 3)


def test_delta_skips_whole_vectors_only() -> None:
    b = np.ones((4, 4), int)
    prev = np.zeros((4, 4), int)
    a = np.ones((4, 4), int)
    a[:, [0, 1]] = 0  # INT4: both nibbles of beat 0 zero -> skipped
    assert tile_matmul(a, b, "int4_delta", prev=prev).skipped_vectors == 1
    assert tile_matmul(a, b, "int8_delta", prev=prev).skipped_vectors == 2
    a = np.ones((4, 4), int)
    a[:, [1, 2]] = 0  # zero columns straddle two INT4 beats: nothing skipped
    assert tile_matmul(a, b, "int4_delta", prev=prev).skipped_vectors == 0
    a = np.ones((4, 4), int)
    a[0, 0] = 0  # one zero element is gated, not skipped
    res = tile_matmul(a, b, "int8_delta", prev=prev)
    assert (res.skipped_vectors, res.gated_macs) == (0, 4)
    allzero = tile_matmul(
        np.zeros((4, 6), int), b.repeat(2, 0)[:6], "int8_delta", prev=np.full((4, 4), 7), preload=True
    )
    assert allzero.sent_beats == 0 and allzero.cycles == 2 + 4 + 0 + 4
    assert (allzero.out == 7).all()


def test_stream_packing() -> None:
    cfg = TileConfig(rows=2, cols=2)
    s = encode_stream(np.array([[-1, 0]]), np.array([[2, -128], [0, 0]]), "int8", config=cfg)
    assert s.command.beats == 2 and not s.command.int4 and s.ld_words == ()
    assert s.a_words == (0x00FF, 0x0000)  # lane 0 = -1, lane 1 padded
    assert s.b_words == (0x8002, 0x0000)
    s4 = encode_stream(np.array([[-8, 7]]), np.array([[1], [-1]]), "int4", config=TileConfig(rows=1, cols=1))
    assert s4.a_words == (0x78,) and s4.b_words == (0xF1,) and s4.command.int4
    d = encode_stream(
        np.array([[0, 5]]),
        np.array([[1], [1]]),
        "int8_delta",
        prev=np.array([[-1, 1], [0, 2]]),
        preload=True,
        config=cfg,
    )
    assert (d.command.beats, d.command.skipped, d.command.preload) == (1, 1, True)
    assert d.ld_words == (0xFFFFFFFF | (1 << 32), 2 << 32)
    assert d.a_words == (5,)
    np.testing.assert_array_equal(unpack_row(d.ld_words[0], cfg), [-1, 1])


@pytest.mark.parametrize(
    ("a", "b", "mode", "kwargs"),
    [
        (np.full((1, 1), 8), np.ones((1, 1), int), "int4", {}),
        (np.full((1, 1), -129), np.ones((1, 1), int), "int8", {}),
        (np.ones((1, 1)), np.ones((1, 1)), "int8", {}),  # floats
        (np.ones((5, 1), int), np.ones((1, 1), int), "int8", {}),  # too many rows
        (np.ones((1, 2), int), np.ones((3, 1), int), "int8", {}),  # K mismatch
        (np.ones((1, 1), int), np.ones((1, 1), int), "int8_delta", {}),  # no prev
        (np.ones((1, 1), int), np.ones((1, 1), int), "int8", {"prev": np.zeros((4, 4), int)}),
    ],
)
def test_matmul_rejects_bad_operands(a: np.ndarray, b: np.ndarray, mode: str, kwargs: dict) -> None:
    with pytest.raises(SimulationError):
        tile_matmul(a, b, mode, **kwargs)


def test_config_validation() -> None:
    with pytest.raises(SpecError, match="rows"):
        TileConfig(rows=0)
    with pytest.raises(SpecError, match="acc_bits"):
        TileConfig(acc_bits=16)
    with pytest.raises(SpecError, match="gated_bits"):
        TileConfig(rows=64, cols=64, count_bits=20, gated_bits=32)
    assert TileConfig().max_beats == 2**20 - 1
