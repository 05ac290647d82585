"""The words a group of instances reads along one operand axis: the union of their shifted
intervals (the multicast of :mod:`simulator.cost.nest.counts`; numba-compiled)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def union_length(ldim, lbound, lspat, weight, lo_loop, hi_loop, dim0, dim1, coef0, coef1, start, stop):  # type: ignore[no-untyped-def]
    """Length of the union of ``[off + start, off + stop)`` over the spatial offsets of the
    dimensions ``dim0`` and ``dim1`` (−1: none; a unit of each moves the axis ``coef0``,
    ``coef1``) from the spatial loops ``lo_loop <= i < hi_loop``. No such loop: the interval
    itself; one: evenly spaced copies, in closed form; more: the offsets sorted and merged."""
    if stop <= start:
        return 0
    count = 1
    found = 0
    one = 0
    for i in range(lo_loop, hi_loop):
        if lspat[i] and (ldim[i] == dim0 or ldim[i] == dim1):
            count *= lbound[i]
            found += 1
            one = i
    if found == 0:
        return stop - start
    if found == 1:  # evenly spaced copies of one interval: closed form, no sort
        step = weight[one] * (coef0 if ldim[one] == dim0 else coef1)
        if step >= stop - start:
            return count * (stop - start)
        return (count - 1) * step + (stop - start)
    offs = np.zeros(count, np.int64)
    size = 1
    for i in range(lo_loop, hi_loop):
        if lspat[i] and (ldim[i] == dim0 or ldim[i] == dim1):
            step = weight[i] * (coef0 if ldim[i] == dim0 else coef1)
            for k in range(1, lbound[i]):
                for j in range(size):
                    offs[k * size + j] = offs[j] + k * step
            size *= lbound[i]
    offs.sort()
    total = 0
    end = offs[0] + start
    for j in range(count):
        a = offs[j] + start
        b = offs[j] + stop
        if a >= end:
            total += b - a
        elif b > end:
            total += b - end
        if b > end:
            end = b
    return total
