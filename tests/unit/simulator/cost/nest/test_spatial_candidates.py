"""The spatial candidates (simulator/cost/nest/spatial.py ``candidates``), computed by one compiled
loop over all row and column choices, equal the loop over row choices they replaced: the same
candidates, in the same order, with the same float products (so the same ties)."""

from __future__ import annotations

import itertools

import numpy as np

from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.spatial import _axis_choices, candidates


def _reference(bounds: tuple[int, ...], n_rows: int, n_cols: int, preset: object, keep: int) -> tuple[object, ...]:
    """The loop the compiled spatial candidates replaced (one row choice at a time)."""
    b = np.asarray(bounds, np.int64)
    busy_l, exact_l, rows_l, cols_l = [], [], [], []
    row_dims, col_dims = list(preset.rows), list(preset.cols)  # type: ignore[attr-defined]
    for rc in _axis_choices(preset.rows, tuple(bounds[d] for d in preset.rows), n_rows):  # type: ignore[attr-defined]
        rows = dict(zip(preset.rows, (int(x) for x in rc), strict=True))  # type: ignore[attr-defined]
        if any(bounds[d] <= n_rows and rows.get(d, 1) != bounds[d] for d in preset.whole_rows):  # type: ignore[attr-defined]
            continue
        r = np.ones(7, np.int64)
        r[row_dims] = rc
        cc = _axis_choices(preset.cols, tuple(-(-bounds[d] // int(r[d])) for d in preset.cols), n_cols)  # type: ignore[attr-defined]
        c = np.ones((len(cc), 7), np.int64)
        c[:, col_dims] = cc
        ceil = -(-b // (r * c))
        busy = np.ones(len(cc))
        for d in range(7):
            busy = busy * (b[d] / ceil[:, d])
        busy_l.append(busy)
        exact_l.append(np.all(b % (r * c) == 0, axis=1))
        rows_l.append(np.broadcast_to(r, c.shape))
        cols_l.append(c)
    if not busy_l:
        return ()
    busy_a, exact_a = np.concatenate(busy_l), np.concatenate(exact_l)
    rows_a, cols_a = np.concatenate(rows_l), np.concatenate(cols_l)
    out: list[object] = []
    for sel in (exact_a, ~exact_a):
        i = np.flatnonzero(sel)
        best = i[np.argsort(-busy_a[i], kind="stable")[:keep]]
        out += [(tuple(int(x) for x in rows_a[j]), tuple(int(x) for x in cols_a[j])) for j in best]
    return tuple(out)


def test_spatial_candidates_equal_the_loop_they_replace() -> None:
    rng = np.random.default_rng(11)
    shapes: list[tuple[int, ...]] = [
        (1, 64, 3, 14, 14, 3, 3),
        (2, 5, 7, 1, 1, 1, 1),
        (1, 320, 640, 32, 32, 1, 1),
        (1, 17, 13, 9, 9, 5, 5),
    ]
    shapes += [tuple(int(x) for x in rng.integers(1, 40, 7)) for _ in range(30)]
    n = 0
    for bounds, (rows, cols), preset, keep in itertools.product(
        shapes, ((8, 8), (16, 4), (12, 14)), PRESETS.values(), (1, 3)
    ):
        candidates.cache_clear()
        got = candidates(bounds, rows, cols, preset, keep)
        assert got == _reference(bounds, rows, cols, preset, keep), (bounds, rows, cols, preset.name, keep)
        n += len(got)
    assert n > 1000  # the comparison saw candidates, not only empty answers
