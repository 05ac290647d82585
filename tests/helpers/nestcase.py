"""Shorthands the loop-nest engine's tests share: a factor tuple by dimension name, a loop order."""

from __future__ import annotations

from simulator.cost.nest.problem import C, K, N, P, Q, R, S


def dims(**f: int) -> tuple[int, ...]:
    """Seven factors, 1 except the dimensions named (``dims(K=4, C=2)``)."""
    out = [1] * 7
    for name, v in f.items():
        out["NKCPQRS".index(name)] = v
    return tuple(out)


def order(*first: int) -> tuple[int, ...]:
    """An order with ``first`` outermost, the other dimensions after."""
    return (*first, *(d for d in (N, K, C, P, Q, R, S) if d not in first))
