"""How a ``split`` core divides one op over its instances: along output channels or output rows.

- **channels**: each instance computes ``ceil(n / count)`` of the ``n`` output channels (a weight
  GEMM's or convolution's; another GEMM's or attention's batch x heads): its share of the weights,
  the **whole input**.
- **rows**: each instance computes ``ceil(r / count)`` of the ``r`` output rows (a convolution's
  images x output rows ``OY``, a weight GEMM's tokens): the **whole weights**, its rows of the
  input, and a convolution's **halo**: ``max(0, R - stride)`` input rows at every boundary between
  neighbouring instances (``count - 1`` of them) are needed on both sides.

The operand every instance needs whole (the input, or the weights) comes from DRAM. With a
``shared_dram`` the cores of a die share one memory port, and one read is delivered to every
instance of the die at once (a broadcast: Stream's tpu_like_quad_core reads inputs and weights
this way, ``scenarios/validation/peers/stream/architectures.md``), so it costs no NoC bytes and
its DRAM bytes once, as the single-core model counts them. Without one, the first instance reads
it and multicasts it over the NoC (:mod:`simulator.system.schedule`). The divided operand each
instance reads from DRAM itself, its own rows with their halo: a convolution's halo rows are read
twice (``count - 1`` x halo more DRAM bytes; Stream's tpu4 2conv runs read exactly these again:
layer by layer 9,216 B more off chip than one core, fused 3,072 B, Conv1's alone). A fused input
from a row-split producer on the same instances reads nothing from DRAM: only its halo moves
between neighbours, and the re-read is saved with the fused edge (:mod:`simulator.system.fusion`).

**Choice** (``CoreSpec.split_axis``): ``rows`` divides the ops that have output rows (a
convolution whose geometry is known, a weight GEMM) by rows, the others by channels; ``auto`` is
tried both ways by the scheduler, the objective deciding (:func:`simulator.system.evaluate.resolutions`).
Vector ops divide their elements (``1 / count``) either way; on a row split the row-local ones
(elementwise, softmax, norms: ``ROW_LOCAL_KINDS``) keep their input's rows, so a fused chain of
row-split ops moves only halos. Not modelled: a group norm's statistics over rows on several
instances (a small all-reduce), and attention's batch x heads split, which needs the whole input
(channels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelerator.system import CoreSpec, SystemSpec
from models.workload import Op

#: Vector kinds that leave each output row where its input row was: on a row split they keep the
#: rows of the op before them, so a fused edge between two row-split ops moves nothing but halos.
ROW_LOCAL_KINDS = frozenset({"elementwise", "softmax", "norm"})


@dataclass(frozen=True)
class SplitOp:
    """One op divided over a split core's ``count`` instances."""

    axis: str  # channels | rows
    share: float  # the busiest instance's share of the op's latency
    halo_bytes: float  # rows: input bytes at one boundary (arch width, the batch's); 0 otherwise
    multicast_bytes: float  # the operand every instance needs whole (arch width); 0 with a broadcast
    extra_dram_bytes: float  # halo rows read twice from DRAM when the input is not fused


def channel_share(op: Op, count: int, batch: int) -> float:
    """The busiest of ``count`` instances' share of ``op`` split by output channels: ``ceil(n /
    count) / n`` of the divided dimension ``n``: a weight GEMM's or convolution's output channels,
    another GEMM's or attention's batch x heads; ``1 / count`` for vector ops (their elements are
    many)."""
    if op.gemm is None:
        return 1.0 / count
    n = op.gemm[2] if op.weight_is_param else op.gemm[0] * batch
    return _share(n, count)


def _share(n: int, count: int) -> float:
    return math.ceil(n / count) / n if n > 0 else 1.0 / count


def _conv_rows(op: Op) -> tuple[int, int, int] | None:
    """(output rows, halo rows, input elements per input row) of a 2-D convolution, per image
    batch of the trace; ``None`` when its geometry is not known."""
    if op.kind != "conv" or op.gemm is None or op.params.get("transposed") or len(op.input_shapes) < 2:
        return None
    x, w, out = op.input_shapes[0], op.input_shapes[1], op.output_shape
    if len(x) != 4 or len(w) != 4 or len(out) != 4:
        return None
    sh = max(1, int(op.conv_stride[0]))
    return out[0] * out[2], max(0, w[2] - sh), x[0] * x[1] * x[3]


def output_rows(op: Op, batch: int) -> int:
    """Output rows a row split divides (0: the op has none to divide)."""
    conv = _conv_rows(op)
    if conv is not None:
        return conv[0] * batch
    if op.kind == "gemm" and op.gemm is not None and op.weight_is_param:
        return op.gemm[0] * op.gemm[1] * batch
    return 0


def split_op(
    op: Op,
    core: CoreSpec,
    system: SystemSpec,
    *,
    batch: int,
    act_bytes_per_elem: float,
    weight_bytes: float,
    weights_resident: bool,
) -> SplitOp:
    """``op`` on ``core``'s ``count`` instances along its ``split_axis`` (``auto`` is channels
    here: the scheduler resolves it first); ``weight_bytes`` at the arch's width. See the module
    doc."""
    count = core.count
    broadcast = system.shared_dram is not None
    rows = output_rows(op, batch)
    if core.split_axis == "rows" and op.gemm is None and op.kind in ROW_LOCAL_KINDS:
        return SplitOp("rows", 1.0 / count, 0.0, 0.0, 0.0)
    if core.split_axis != "rows" or rows == 0:
        whole_in = op.act_bytes / elem_bytes(op) * act_bytes_per_elem if op.kind in ("conv", "gemm") else 0.0
        return SplitOp("channels", channel_share(op, count, batch), 0.0, 0.0 if broadcast else whole_in, 0.0)
    conv = _conv_rows(op)
    halo = conv[1] * conv[2] * batch * act_bytes_per_elem if conv is not None else 0.0
    weights = 0.0 if broadcast or weights_resident else weight_bytes
    return SplitOp("rows", _share(rows, count), halo, weights, (count - 1) * halo)


def elem_bytes(op: object) -> float:
    """Bytes per element of the op's traced dtype (float32 when unknown)."""
    dtype = str(getattr(op, "dtype", "float32")).removeprefix("torch.")
    return {"float64": 8.0, "float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "int8": 1.0, "uint8": 1.0}.get(dtype, 4.0)
