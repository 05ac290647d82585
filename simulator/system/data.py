"""Data parallelism: alike cores each run the whole step on their share of the batch.

A denoising call runs on ``items`` images at once: the scenario's batch times the images the
trace's call holds (classifier-free guidance traces its two passes as a batch of 2: provenance
``cfg``). A ``data`` core with ``count`` instances runs ``replicas`` copies, the largest divisor
of ``items`` that is at most ``count`` (the rest of its instances wait), each on
``items / replicas`` images: every op on its share, nothing split inside an op, no traffic
between the replicas. Each replica reads its own weights (each core has its own path to DRAM
and its own buffers; a NoC multicast of the weights is not modelled), so the weight traffic is
``replicas`` times one core's.

A share smaller than the traced call (one CFG pass of two) is the traced op divided along its
image dimension, exactly where :func:`simulator.optable.batch_op` would multiply it; an op whose
output is not a whole number of images (the timestep embedding) runs whole on every replica.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from models.workload import Op, Workload
from simulator.optable import batch_op, with_batch


def items_per_call(workload: Workload, batch: int) -> int:
    """Images one call of the batched step runs on (CFG counts its two passes)."""
    traced = workload.provenance.get("batch", 1)
    per_image = 2 if workload.provenance.get("cfg") else 1
    return batch * (traced if isinstance(traced, int) and traced > 0 else 1) * per_image


def replicas(count: int, items: int) -> int:
    """Copies of the step a ``count``-instance data core runs: the largest divisor of ``items``
    at most ``count``."""
    return max(d for d in range(1, min(count, items) + 1) if items % d == 0)


def _div(x: int, d: int) -> int:
    return x // d if x % d == 0 else x


def divide_op(op: Op, d: int) -> Op:
    """``op`` on ``1/d`` of its images: what :func:`batch_op` scales, divided (see the module doc)."""
    if d == 1 or not op.output_shape or op.output_shape[0] % d:
        return op
    twice = batch_op(op, 2)  # which fields carry the image dimension
    shapes = tuple(
        s if not s or s == t else (_div(s[0], d), *s[1:])
        for s, t in zip(op.input_shapes, twice.input_shapes, strict=True)
    )
    gemm = op.gemm
    if gemm is not None and twice.gemm is not None:
        gemm = tuple(g if g == t else _div(g, d) for g, t in zip(gemm, twice.gemm, strict=True))  # type: ignore[assignment]
    params: dict[str, Any] = dict(op.params)
    if "gemm2" in params and params["gemm2"] != twice.params.get("gemm2"):
        params["gemm2"] = [_div(int(params["gemm2"][0]), d), *params["gemm2"][1:]]
    if "softmax_elements" in params and params["softmax_elements"] != twice.params.get("softmax_elements"):
        params["softmax_elements"] = _div(int(params["softmax_elements"]), d)
    return replace(
        op,
        gemm=gemm,
        input_shapes=shapes,
        output_shape=(op.output_shape[0] // d, *op.output_shape[1:]),
        macs=math.ceil(op.macs / d),
        flops=math.ceil(op.flops / d),
        act_bytes=math.ceil(op.act_bytes / d),
        out_bytes=math.ceil(op.out_bytes / d),
        params=params,
    )


def share(workload: Workload, batch: int, n: int) -> Workload:
    """The workload one of ``n`` replicas runs per call when the step runs ``batch`` images."""
    items = items_per_call(workload, batch)
    traced = items // batch  # images of one traced call
    s = items // n
    if s % traced == 0:
        return with_batch(workload, s // traced)
    g = math.gcd(s, traced)
    unit = replace(
        workload,
        ops=tuple(divide_op(op, traced // g) for op in workload.ops),
        provenance={**workload.provenance, "data_parallel_share": f"{s}/{items}"},
    )
    return with_batch(unit, s // g)
