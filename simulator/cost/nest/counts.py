"""Access counts of one mapping, from the loop nest (the reuse analysis; numba-compiled).

Loops are flattened outermost first (per level: its temporal loops in order, then the spatial
loops it fans out to). For an operand ``o`` and each pair of consecutive holders (child ``c``
below, parent ``p`` above; the datapath's operand registers are the innermost child, DRAM the
outermost parent):

- the child's tile extent per dimension is the product of the loops at and below ``c``; an input
  tile spans ``H = (P_t − 1)·stride + (R_t − 1)·dilation + 1`` rows (columns likewise);
- instances of ``c`` = the product of the spatial loops above it; a group = the instances under
  one instance of ``p`` (the spatial loops between them);
- events per instance (stationarity): walking the temporal loops above ``c`` from the innermost,
  loops irrelevant to ``o`` are skipped until the first relevant loop ``L``; events = the product
  of ``L``'s bound and all bounds outside it (1 without a relevant loop). A step of ``L`` moves the
  tile by ``w_L`` (the product of the ``L``-dimension loops inside ``L``) times the dimension's
  stride or dilation: the child keeps the overlap with the previous tile (a sliding window along
  ``H``/``W``; for any other axis the step is at least the tile, so nothing overlaps). Every
  other event reloads the whole tile;
- the parent reads, per event and group, the union of the instances' new data (multicast: one
  read feeds every instance that needs the word), computed per operand axis as a union of
  intervals over the spatial offsets — exact, also when temporal loops of bypassed levels sit
  between the child and the array;
- outputs: per event the child drains its tile to the parent (partial sums of a group reduced on
  the way: the parent writes the union once) and loads the next; a tile's first visit starts at
  zero, later visits read the stored partial sums (events − distinct tiles of them).
"""

from __future__ import annotations

import numba
import numpy as np

from simulator.cost.nest.problem import INP, OUT, RELEVANT
from simulator.cost.nest.systolic import visits
from simulator.cost.nest.union import union_length

#: Per operand, its four axes, each built from up to two dimensions (−1: none); the input's
#: rows are P and R, its columns Q and S (the sliding window).
AXIS_DIMS = np.array(
    [
        [[1, -1], [2, -1], [5, -1], [6, -1]],  # weights: K, C, R, S
        [[0, -1], [2, -1], [3, 5], [4, 6]],  # inputs: N, C, H(P, R), W(Q, S)
        [[0, -1], [1, -1], [3, -1], [4, -1]],  # outputs: N, K, P, Q
    ],
    dtype=np.int64,
)
RELEVANT_ARR = np.array(RELEVANT, dtype=np.bool_)
#: Columns of the result's per-level, per-operand counts.
READS, WRITES, FILLS, DRAINS = 0, 1, 2, 3


def axis_coefs(stride: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:
    """Per operand, axis and slot, the index step one unit of the dimension moves the axis."""
    coef = np.where(AXIS_DIMS >= 0, 1, 0).astype(np.int64)
    coef[INP, 2] = (stride[0], dilation[0])
    coef[INP, 3] = (stride[1], dilation[1])
    return coef


@numba.njit(cache=True)
def _flatten(factors: np.ndarray, orders: np.ndarray, spatial: np.ndarray) -> tuple[np.ndarray, ...]:
    nlev = factors.shape[0]
    cap = nlev * 14
    ldim = np.empty(cap, np.int64)
    lbound = np.empty(cap, np.int64)
    lspat = np.empty(cap, np.bool_)
    first = np.empty(nlev + 1, np.int64)  # first[c + 1]: index of the first loop inside level c
    n = 0
    for i in range(nlev - 1, -1, -1):
        first[i + 1] = n
        for j in range(7):
            d = orders[i, j]
            if factors[i, d] > 1:
                ldim[n] = d
                lbound[n] = factors[i, d]
                lspat[n] = False
                n += 1
        for d in range(7):
            if spatial[i, d] > 1:
                ldim[n] = d
                lbound[n] = spatial[i, d]
                lspat[n] = True
                n += 1
    first[0] = n  # the datapath registers: nothing inside
    weight = np.ones(n, np.int64)
    for a in range(n):
        for b in range(a + 1, n):
            if ldim[b] == ldim[a]:
                weight[a] *= lbound[b]
    return ldim[:n], lbound[:n], lspat[:n], weight, first


@numba.njit(cache=True)
def access_counts(  # type: ignore[no-untyped-def]
    bounds, coef, factors, orders, spatial, holds, revisit=False
):
    """Per level (index 0: the datapath registers, then the levels) and operand, words of one
    copy: reads, writes, fills (written from the parent, part of writes) and drains (read to
    write the parent, part of reads); and the words of final outputs the top level receives.
    ``revisit``: the outputs already hold partial sums (a remainder pass of C, R or S), so every
    output tile loaded is read back from the parent."""
    nlev = factors.shape[0]
    ldim, lbound, lspat, weight, first = _flatten(factors, orders, spatial)
    nloop = ldim.shape[0]
    acc = np.zeros((nlev + 1, 3, 4), np.float64)
    final_out = 0.0
    tile = np.empty(7, np.int64)
    for o in range(3):
        child = -1
        for parent in range(nlev):
            if not holds[parent, o]:
                continue
            c_in = first[child + 1]  # loops at index >= c_in are inside the child
            p_in = first[parent + 1]
            tile[:] = 1
            for i in range(c_in, nloop):
                tile[ldim[i]] *= lbound[i]
            inst = 1.0
            block = 1.0
            for i in range(c_in):
                if lspat[i]:
                    inst *= lbound[i]
                    if i >= p_in:
                        block *= lbound[i]
            groups = inst / block
            # stationarity: innermost temporal loop above the child that is relevant to o
            rel = -1
            for i in range(c_in - 1, -1, -1):
                if not lspat[i] and RELEVANT_ARR[o, ldim[i]]:
                    rel = i
                    break
            outer = 1.0
            distinct = 1.0
            for i in range(c_in):
                if not lspat[i]:
                    if i < rel:
                        outer *= lbound[i]
                    if RELEVANT_ARR[o, ldim[i]]:
                        distinct *= lbound[i]
            steps = float(lbound[rel] - 1) if rel >= 0 else 0.0
            # per axis: child box, union over the group, and the slide's new part
            vol = 1.0
            uni = 1.0
            slide_axis = -1
            box_s = 0
            step_s = 0
            for a in range(4):
                d0 = AXIS_DIMS[o, a, 0]
                d1 = AXIS_DIMS[o, a, 1]
                k0 = coef[o, a, 0]
                k1 = coef[o, a, 1]
                box = 1
                if d0 >= 0:
                    box += (tile[d0] - 1) * k0
                if d1 >= 0:
                    box += (tile[d1] - 1) * k1
                vol *= box
                uni *= union_length(ldim, lbound, lspat, weight, p_in, c_in, d0, d1, k0, k1, 0, box)
                if rel >= 0 and (ldim[rel] == d0 or ldim[rel] == d1):
                    slide_axis = a
                    box_s = box
                    step_s = weight[rel] * (k0 if ldim[rel] == d0 else k1)
            if o == OUT:
                events = outer * (steps + 1.0)
                reloads = events if revisit else events - distinct
                acc[parent + 1, o, 0] += groups * reloads * uni
                acc[parent + 1, o, 1] += groups * events * uni
                acc[child + 1, o, 1] += groups * reloads * uni
                acc[child + 1, o, 2] += groups * reloads * uni
                acc[child + 1, o, 0] += inst * events * vol
                acc[child + 1, o, 3] += inst * events * vol
                if parent == nlev - 1:
                    final_out = groups * distinct * uni
            else:
                new_vol = 0.0
                new_uni = 0.0
                if slide_axis >= 0:
                    d0 = AXIS_DIMS[o, slide_axis, 0]
                    d1 = AXIS_DIMS[o, slide_axis, 1]
                    k0 = coef[o, slide_axis, 0]
                    k1 = coef[o, slide_axis, 1]
                    full = union_length(ldim, lbound, lspat, weight, p_in, c_in, d0, d1, k0, k1, 0, box_s)
                    lo = max(box_s, step_s)
                    fresh = union_length(ldim, lbound, lspat, weight, p_in, c_in, d0, d1, k0, k1, lo, step_s + box_s)
                    new_vol = vol / box_s * min(box_s, step_s)
                    new_uni = uni / full * fresh
                acc[parent + 1, o, 0] += groups * outer * (uni + steps * new_uni)
                acc[child + 1, o, 1] += inst * outer * (vol + steps * new_vol)
                acc[child + 1, o, 2] += inst * outer * (vol + steps * new_vol)
            child = parent
    return acc, final_out


@numba.njit(cache=True)
def _dim_passes(bound, factors, spatial, d, fanout):  # type: ignore[no-untyped-def]
    """The passes of dimension ``d`` (loop peeling): per pass, the temporal factor per level and
    the spatial factor, ``(passes, levels + 1)`` with the spatial factor last; empty when the
    outermost ``d`` loop is not ``ceil(bound / the loops inside it)``.

    The ``d`` loops, outermost first, are each level's temporal loop (DRAM first) with the
    spatial loop right after the fan-out level's. The outermost has ``n = ceil(D / t)``
    iterations (``t``: the product of the loops inside it); when ``n·t > D`` it runs as a main
    nest of ``n − 1`` full iterations followed by a remainder nest of extent ``r = D − (n−1)·t``,
    in which the next loop inward is split the same way (``ceil(r / t')`` iterations), and so on.
    """
    nlev = factors.shape[0]
    nslot = nlev + 1
    # slots outermost first: (level, is spatial)
    sb = np.empty(nslot, np.int64)
    sidx = np.empty(nslot, np.int64)
    k = 0
    for lv in range(nlev - 1, -1, -1):
        sb[k] = factors[lv, d]
        sidx[k] = lv
        k += 1
        if lv == fanout:
            sb[k] = spatial[lv, d]
            sidx[k] = nlev
            k += 1
    inner = np.ones(nslot + 1, np.int64)  # inner[j]: product of the slots after j
    for j in range(nslot - 1, -1, -1):
        inner[j] = inner[j + 1] * sb[j + 1] if j + 1 < nslot else 1
    out = np.ones((nslot + 1, nslot), np.int64)
    first = 0
    while first < nslot and sb[first] == 1:
        first += 1
    if first == nslot:
        if bound != 1:
            return out[:0]
        return out[:1]
    if sb[first] != (bound + inner[first] - 1) // inner[first]:
        return out[:0]
    cur = sb.copy()
    ext = bound
    n = 0
    for j in range(first, nslot):
        t = inner[j]
        q = (ext + t - 1) // t
        if q * t == ext:
            cur[j] = q
            for m in range(nslot):
                out[n, sidx[m]] = cur[m]
            n += 1
            break
        if q > 1:
            cur[j] = q - 1
            for m in range(nslot):
                out[n, sidx[m]] = cur[m]
            n += 1
        cur[j] = 1
        ext -= (q - 1) * t
    return out[:n]


@numba.njit(cache=True)
def peeled_counts(  # type: ignore[no-untyped-def]
    bounds, coef, factors, orders, spatial, holds, stationary=-1, array_level=0
):
    """:func:`access_counts` of a mapping whose factors may be imperfect, summed over its passes
    (every combination of the dimensions' passes, :func:`_dim_passes`), the MAC cycles (the
    passes' products of temporal factors) and ``folds``: the changes of the ``stationary``
    operand's tile in the array (the loops at ``array_level``, the fan-out level, and above:
    :func:`.systolic.visits`) and how many of them are first visits (a later pass of C, R or S
    revisits output tiles); zeros when ``stationary`` is −1. ``valid`` is False when an outermost
    loop is not the ceiling of its dimension over the loops inside it (then the counts are zero).
    A later pass of C, R or S finds its outputs' partial sums in the parent and reads them back."""
    nlev = factors.shape[0]
    fanout = 0
    for lv in range(nlev):
        for d in range(7):
            if spatial[lv, d] > 1:
                fanout = lv
    perfect = True  # every dimension's loops multiply to its bound: one pass, the mapping itself
    for d in range(7):
        ext = spatial[fanout, d]
        for lv in range(nlev):
            ext *= factors[lv, d]
        if ext != bounds[d]:
            perfect = False
    if perfect:
        acc, final = access_counts(bounds, coef, factors, orders, spatial, holds, False)
        compute = 1.0
        for lv in range(nlev):
            for d in range(7):
                compute *= factors[lv, d]
        folds = np.zeros(2, np.float64)
        if stationary >= 0:
            changes, distinct = visits(factors, orders, array_level, stationary)
            folds[0] += changes
            folds[1] += distinct
        return acc, final, compute, folds, True
    plist = []
    counts = np.empty(7, np.int64)
    for d in range(7):
        p = _dim_passes(bounds[d], factors, spatial, d, fanout)
        counts[d] = p.shape[0]
        plist.append(p)
    acc = np.zeros((nlev + 1, 3, 4), np.float64)
    final = 0.0
    compute = 0.0
    folds = np.zeros(2, np.float64)
    for d in range(7):
        if counts[d] == 0:
            return acc, final, compute, folds, False
    total = 1
    for d in range(7):
        total *= counts[d]
    f = factors.copy()
    sp = spatial.copy()
    b = bounds.copy()
    for idx in range(total):
        rest = idx
        revisit = False
        for d in range(7):
            j = rest % counts[d]
            rest //= counts[d]
            if j > 0 and not RELEVANT_ARR[OUT, d]:
                revisit = True
            row = plist[d][j]
            ext = 1
            for lv in range(nlev):
                f[lv, d] = row[lv]
                ext *= row[lv]
            sp[fanout, d] = row[nlev]
            b[d] = ext * row[nlev]
        a, fo = access_counts(b, coef, f, orders, sp, holds, revisit)
        acc += a
        if not revisit:  # the final outputs are counted once, with the first pass
            final += fo
        c = 1.0
        for lv in range(nlev):
            for d in range(7):
                c *= f[lv, d]
        compute += c
        if stationary >= 0:
            changes, distinct = visits(f, orders, array_level, stationary)
            folds[0] += changes
            if not (revisit and stationary == OUT):
                folds[1] += distinct
    return acc, final, compute, folds, True
