"""Properties of the systolic fill/drain count (hypothesis), for any GEMM and whole-fold tiles:

- the stationary operand changes at least once per fold (SCALE-Sim's count, the bound) and at
  most once per fold per streamed tile (every tile restarting every fold);
- the loop order that keeps the stationary tile (M innermost for WS, N for IS) never costs
  more cycles than the others on the same tiles;
- one fold per tile with that order reaches the bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cost.array import IS, K_INNER, M_INNER, N_INNER, WS, gemm_cycles

SETTINGS = settings(max_examples=200, deadline=None)


def _c(a: int, b: int) -> int:
    return -(-a // b)


@st.composite
def cases(draw: Any) -> tuple[int, ...]:
    r, c = draw(st.sampled_from([2, 4, 8, 16, 32])), draw(st.sampled_from([2, 4, 8, 16, 32]))
    m, n, k = draw(st.integers(1, 2000)), draw(st.integers(1, 500)), draw(st.integers(1, 700))
    df = draw(st.sampled_from([WS, IS]))
    # Tiles are whole multiples of the array extent their dimension maps to (or the extent).
    spatial_m = df == IS
    mt = min(m, (c if spatial_m else 1) * draw(st.integers(1, 64)))
    nt = min(n, (1 if spatial_m else c) * draw(st.integers(1, 64)))
    kt = min(k, r * draw(st.integers(1, 8)))
    return r, c, m, n, k, mt, nt, kt, df


def _cycles(r: int, c: int, m: int, n: int, k: int, mt: int, nt: int, kt: int, df: int, order: int) -> float:
    am, an, ak, amt, ant, akt = (np.array([float(x)]) for x in (m, n, k, mt, nt, kt))
    return float(gemm_cycles(df, r, c, 1, am, an, ak, amt, ant, akt, np.array([order])).cycles[0])


@SETTINGS
@given(cases())
def test_fill_drain_between_once_per_fold_and_once_per_fold_and_tile(case: tuple[int, ...]) -> None:
    r, c, m, n, k, mt, nt, kt, df = case
    fill = 2 * r + c - 2
    if df == WS:
        folds, streamed, t_stream, keep = _c(k, r) * _c(n, c), m, _c(m, mt), M_INNER
        one_fold = nt <= c and kt <= r
    else:
        folds, streamed, t_stream, keep = _c(k, r) * _c(m, c), n, _c(n, nt), N_INNER
        one_fold = mt <= c and kt <= r
    lower, upper = folds * (fill + streamed), folds * (t_stream * fill + streamed)
    by_order = {o: _cycles(r, c, m, n, k, mt, nt, kt, df, o) for o in (K_INNER, N_INNER, M_INNER)}
    for cyc in by_order.values():
        assert lower <= cyc <= upper
    assert by_order[keep] == min(by_order.values())
    if one_fold:
        assert by_order[keep] == lower
