"""The input footprint's closed form (``window_span``) against the set it replaces."""

from __future__ import annotations

import itertools

from simulator.cost.nest.problem import INP, Problem, window_span


def _brute(outs: int, taps: int, stride: int, dilation: int) -> int:
    return len({o * stride + t * dilation for o in range(outs) for t in range(taps)})


def test_window_span_matches_the_set_of_indices() -> None:
    for outs, taps, stride, dilation in itertools.product(range(1, 13), range(1, 6), range(1, 6), range(1, 6)):
        assert window_span(outs, taps, stride, dilation) == _brute(outs, taps, stride, dilation), (
            outs,
            taps,
            stride,
            dilation,
        )


def test_window_span_hand_values() -> None:
    assert window_span(4096, 1, 1, 1) == 4096  # a GEMM's rows
    assert window_span(32, 3, 1, 1) == 34  # 3x3 window, stride 1: 32 + 2
    assert window_span(16, 3, 2, 1) == 33  # stride 2: 15*2 + 2 + 1
    assert window_span(4, 2, 1, 8) == 8  # dilation wider than the run: two disjoint runs of 4
    assert window_span(5, 3, 3, 1) == 15  # stride 3 = window: no overlap, no gap


def test_input_footprint_of_a_strided_conv() -> None:
    p = Problem("c", (2, 8, 3, 16, 16, 3, 3), stride=(2, 2))
    assert p.footprint(INP) == 2 * 3 * 33 * 33
