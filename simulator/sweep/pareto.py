"""Non-dominated (Pareto-optimal) points of a set of objective vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Which rows of ``values`` ([points, objectives]) no other row dominates.

    Row a dominates row b when a is at least as good in every objective and better in one;
    ``directions`` holds "min" or "max" per column. Rows with a NaN are never on the front.
    Equal rows do not dominate each other, so duplicates are all kept.

    After a lexicographic sort no later row can dominate an earlier one, so each row is
    compared only with the front found so far: O(points x front size).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(directions):
        raise ValueError(f"values must be [points, {len(directions)}], got shape {v.shape}")
    sign = np.array([1.0 if d == "min" else -1.0 for d in directions])
    v = v * sign  # minimise everything
    mask = np.zeros(len(v), dtype=bool)
    finite = np.flatnonzero(~np.isnan(v).any(axis=1))
    if finite.size == 0:
        return mask
    order = finite[np.lexsort(v[finite].T[::-1])]
    front = np.empty((0, v.shape[1]))
    for i in order:
        row = v[i]
        if front.size and np.any(np.all(front <= row, axis=1) & np.any(front < row, axis=1)):
            continue
        mask[i] = True
        front = np.vstack([front, row])
    return mask
