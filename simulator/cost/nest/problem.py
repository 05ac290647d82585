"""The problem as a whole loop nest (Timeloop's convolution, GEMM and attention shapes).

A convolution keeps its seven dimensions ``N, K, C, P, Q, R, S`` (batch, output channels, input
channels, output rows, output columns, filter rows, filter columns) with stride and dilation;
groups are independent copies of the nest (``copies``), a GEMM ``C[M×N] = A[M×K]·B[K×N]`` is the
special case ``P = M, K = N, C = K, N = Q = R = S = 1``, attention is two contractions over
``(B·H, Lq, Lk, D)``, each with ``B·H`` copies.

Operands (Timeloop's names): weights ``(K, C, R, S)``, inputs ``(N, C, H, W)`` with
``H = (P − 1)·stride + (R − 1)·dilation + 1`` (``W`` likewise from ``Q, S``), outputs
``(N, K, P, Q)``. Inputs depend on ``P`` and ``R`` only through ``H`` (Timeloop's indirect,
sliding-window relevance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelerator.errors import SimulationError

#: The seven dimensions, in the index order every array of this package uses.
DIMS = ("N", "K", "C", "P", "Q", "R", "S")
N, K, C, P, Q, R, S = range(7)
#: Operands, in the index order every array of this package uses.
OPERANDS = ("weights", "inputs", "outputs")
WGT, INP, OUT = range(3)

#: RELEVANT[o][d]: dimension d indexes operand o (directly or through the sliding window).
RELEVANT: tuple[tuple[bool, ...], ...] = (
    tuple(d in (K, C, R, S) for d in range(7)),
    tuple(d in (N, C, P, Q, R, S) for d in range(7)),
    tuple(d in (N, K, P, Q) for d in range(7)),
)


def window_span(outs: int, taps: int, stride: int, dilation: int) -> int:
    """Distinct input indices ``o·stride + t·dilation`` for ``0 <= o < outs``, ``0 <= t < taps``.

    With ``g = gcd(stride, dilation)`` every index is a multiple of ``g``; divided by it, a unit
    step (``stride / g == 1``) makes ``taps`` runs of ``outs`` consecutive indices starting every
    ``dilation / g``, which overlap when that step is shorter than a run, so
    ``outs + (taps − 1)·min(outs, dilation / g)`` (the same with the roles swapped when
    ``dilation / g == 1``). Other cases (both steps above 1 after dividing: rare) count the set.
    """
    g = math.gcd(stride, dilation)
    a, d = stride // g, dilation // g
    if a == 1:
        return outs + (taps - 1) * min(outs, d)
    if d == 1:
        return taps + (outs - 1) * min(taps, a)
    return len({o * a + t * d for o in range(outs) for t in range(taps)})


@dataclass(frozen=True)
class Problem:
    """One loop nest: dimension bounds, stride and dilation, and independent copies.

    ``copies`` repeats the whole nest (groups of a grouped convolution, heads of attention):
    every count, energy and cycle of one copy is multiplied by it.
    """

    name: str
    bounds: tuple[int, int, int, int, int, int, int]  # N, K, C, P, Q, R, S
    stride: tuple[int, int] = (1, 1)  # (rows, columns)
    dilation: tuple[int, int] = (1, 1)
    copies: int = 1

    def __post_init__(self) -> None:
        if len(self.bounds) != 7 or any(int(b) < 1 for b in self.bounds):
            raise SimulationError(f"problem {self.name!r}: bounds must be 7 positive integers, got {self.bounds}")
        if min(*self.stride, *self.dilation, self.copies) < 1:
            raise SimulationError(f"problem {self.name!r}: stride, dilation and copies must be >= 1")

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all copies."""
        m = self.copies
        for b in self.bounds:
            m *= b
        return m

    @property
    def input_hw(self) -> tuple[int, int]:
        """Input rows and columns the nest reads (no padding: pad the input beforehand)."""
        b = self.bounds
        h = (b[P] - 1) * self.stride[0] + (b[R] - 1) * self.dilation[0] + 1
        w = (b[Q] - 1) * self.stride[1] + (b[S] - 1) * self.dilation[1] + 1
        return h, w

    def footprint(self, operand: int) -> int:
        """Distinct elements of ``operand`` one copy touches (a stride wider than the window
        skips input rows and columns)."""
        b = self.bounds
        if operand == WGT:
            return b[K] * b[C] * b[R] * b[S]
        if operand == OUT:
            return b[N] * b[K] * b[P] * b[Q]
        rows = window_span(b[P], b[R], self.stride[0], self.dilation[0])
        cols = window_span(b[Q], b[S], self.stride[1], self.dilation[1])
        return b[N] * b[C] * rows * cols

    def key(self) -> tuple[object, ...]:
        """Identity of the shape for caches (the name is left out)."""
        return (self.bounds, self.stride, self.dilation, self.copies)


def conv(
    name: str,
    *,
    n: int,
    k: int,
    c: int,
    p: int,
    q: int,
    r: int,
    s: int,
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Problem:
    """A (grouped) convolution; ``k`` and ``c`` are totals over all groups, ``p, q`` output sizes."""
    if k % groups or c % groups:
        raise SimulationError(f"conv {name!r}: K={k} and C={c} must divide by groups={groups}")
    st = (stride, stride) if isinstance(stride, int) else stride
    dl = (dilation, dilation) if isinstance(dilation, int) else dilation
    return Problem(name, (n, k // groups, c // groups, p, q, r, s), st, dl, groups)


def conv_from_input(
    name: str,
    *,
    n: int,
    k: int,
    c: int,
    h: int,
    w: int,
    r: int,
    s: int,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> Problem:
    """A convolution given by its input size (PyTorch's output size, padding added to the input)."""
    p = (h + 2 * padding - r) // stride + 1
    q = (w + 2 * padding - s) // stride + 1
    return conv(name, n=n, k=k, c=c, p=p, q=q, r=r, s=s, stride=stride, groups=groups)


def gemm(name: str, m: int, n: int, k: int, *, batch: int = 1) -> Problem:
    """``C[M×N] = A[M×K]·B[K×N]``: A is the input (rows = P), B the weights, ``batch`` copies."""
    return Problem(name, (1, n, k, m, 1, 1, 1), copies=batch)


def attention(name: str, *, batch_heads: int, lq: int, lk: int, d: int) -> tuple[Problem, Problem]:
    """Attention as its two contractions: scores ``Q·Kᵀ`` (keys as weights) and ``P·V``."""
    return (
        gemm(f"{name}.qk", lq, lk, d, batch=batch_heads),
        gemm(f"{name}.pv", lq, d, lk, batch=batch_heads),
    )
