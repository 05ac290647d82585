"""The workload format's vocabulary: op kinds, statistics and their ranges, the limits a file
must stay within, and :class:`WorkloadError`."""

from __future__ import annotations

import functools
import operator

FORMAT_NAME = "picojoule.workload"
FORMAT_VERSION = 2
"""Version 2 added tensor identities (``Op.reads``, ``Op.writes``); see ``docs/workload-format.md``."""
READ_VERSIONS = (1, 2)
"""Versions this reader accepts: a version-1 file loads with no tensor identities."""

#: Op kinds the simulator knows. ``gemm`` is a batched matmul/linear, ``conv`` a convolution,
#: ``attention`` a fused scaled-dot-product attention (both of its GEMMs).
OP_KINDS = (
    "conv",
    "gemm",
    "attention",
    "norm",
    "softmax",
    "elementwise",
    "reduction",
    "pool",
    "resample",
    "data",
    "other",
)

#: Zero-block shapes ``(rows, reduction-dim columns)`` of the GEMM activation operand whose
#: all-zero fraction a trace may record as ``act_block_zero_frac_{rows}x{cols}``. The first three
#: are the original block granularities; the rest are what one cycle of the designs in
#: ``scenarios/arch/`` carries (32- and 128-row arrays, see ``simulator/cost/sparsity.py``):
#: output-stationary beats ``R×1`` at int8 (8–128 rows) and ``R×2`` at packed int4, OS beats
#: under 1×16 skip masks ``R×16``, and weight-stationary vectors ``1×R``. Added after format
#: version 1 shipped: optional.
ACT_BLOCK_SHAPES = (
    (1, 8),
    (1, 16),
    (8, 8),
    (8, 1),
    (16, 1),
    (32, 1),
    (64, 1),
    (128, 1),
    (32, 2),
    (128, 2),
    (32, 16),
    (128, 16),
    (1, 32),
    (1, 128),
)


def block_stat_name(rows: int, cols: int) -> str:
    """Name of the all-zero ``rows×cols`` block fraction statistic."""
    return f"act_block_zero_frac_{rows}x{cols}"


#: Statistics recorded per (step, op) when tracing with ``--stats``. Fractions are in [0, 1].
STAT_FIELDS = (
    "act_zero_frac",  # exact zeros in the activation operand(s)
    "act_near_zero_frac",  # |x| <= max(abs_tol, rel_tol * max|x|)
    "weight_zero_frac",  # exact zeros in the weight operand
    "act_block_zero_frac_1x8",  # fraction of all-zero 1x8 blocks (along the reduction dim)
    "act_block_zero_frac_1x16",
    "act_block_zero_frac_8x8",
    "delta_int8_zero_frac",  # int8-quantised delta to the previous step is exactly zero
    "delta_int4_zero_frac",
    "delta_bits_mean",  # mean bits needed for the int8-quantised delta (sign included)
    "act_absmax",  # max |activation|, for quantisation ranges
    # Added by the tracer (optional, backward compatible; see docs/workload-format.md):
    "weight_near_zero_frac",  # |w| <= max(abs_tol, rel_tol * max|w|)
    "act_channel_absmax_ratio",  # max / median of per-channel max|x| (reduction-dim channels)
    "delta_bits_le2_frac",  # int8-quantised delta fits in 2 signed bits (|d| <= 1)
    "delta_bits_le4_frac",  # ... fits in 4 signed bits (|d| <= 7)
    "delta_bits_le6_frac",  # ... fits in 6 signed bits (|d| <= 31)
    # all-zero r×c blocks at array-unit shapes (ACT_BLOCK_SHAPES after the first three)
    *(block_stat_name(r, c) for r, c in ACT_BLOCK_SHAPES[3:]),
    # Optional, written by layer lists (models/layers.py), not by the tracer yet:
    "out_zero_frac",  # exact zeros in the op's output as it leaves the op (coded DRAM, Eyeriss's RLC)
)


MAX_ABSMAX = 3.4028234663852886e38
"""Largest ``act_absmax`` (and ``act_channel_absmax_ratio``): float32's largest finite value.
The tracer records max |x| over an op's finite activations; the models it traces compute in
float32 or narrower (every committed trace), and an fp32 activation reaches this value
legitimately (attention masks filled with ``torch.finfo(torch.float32).min``), so no tighter
bound holds: the committed traces reach 2.4e11 (terrain, ratio 7e8). A larger value needs
float64 activations, which no design here computes in."""

#: Range of each statistic's values: fractions lie in [0, 1]; ``delta_bits_mean`` counts the bits of
#: an int8 delta (|d| <= 254 needs floor(log2 254) + 2 = 9); magnitudes and ratios are non-negative
#: and at most :data:`MAX_ABSMAX`.
STAT_RANGES: dict[str, tuple[float, float]] = {
    **{name: (0.0, 1.0) for name in STAT_FIELDS if "_frac" in name},
    "delta_bits_mean": (0.0, 9.0),
    "act_absmax": (0.0, MAX_ABSMAX),
    "act_channel_absmax_ratio": (0.0, MAX_ABSMAX),
}

# Limits that keep a malformed file from hanging the reader or overflowing the simulator's
# int64 arrays: MAX_STEPS * MAX_MACS_PER_STEP = 1e18 < 2**63 ≈ 9.2e18.
MAX_STEPS = 10_000
"""Most model invocations per image (sampling steps); samplers use 1 to 1,000."""
MAX_MACS_PER_STEP = 10**14
"""Most multiply-accumulates in one invocation, all ops together (SD-1.5's UNet at 64² latents
with CFG: 8e11)."""
MAX_COUNT = 10**15
"""Largest FLOP or byte count of one op, and most elements of one tensor shape."""
MAX_DIM = 2**31 - 1
"""Largest extent of one shape or GEMM dimension."""
MIN_SHAPE_DIM = 1
"""Smallest extent of a tensor shape's dimension: a zero-size tensor moves no data and does no
work, no committed trace holds one, and the cost models divide by tensor extents (a kernel or
tile of zero)."""
MAX_TENSOR_ID = MAX_DIM
"""Largest tensor id of ``Op.reads``/``Op.writes`` (ids fit an int32 array)."""
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024
"""Largest workload document read (bytes of JSON after decompression): a 50-step trace of a
1,352-op model with every statistic is 10 MB."""

_COUNT_FIELDS = ("macs", "flops", "act_bytes", "weight_bytes", "out_bytes")
_ID_FIELDS = ("reads", "writes")  # op fields added by version 2
_not_none = functools.partial(operator.is_not, None)


class WorkloadError(ValueError):
    """A workload file or object is malformed (wrong version, corrupt, inconsistent)."""
