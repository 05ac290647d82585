"""The in-memory workload: :class:`Op` and :class:`Workload` (validated on construction)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from models.workload.checks import validate
from models.workload.schema import FORMAT_VERSION, STAT_FIELDS


@dataclass(frozen=True)
class Op:
    """One operator of one model invocation.

    Shapes are lists of ints. ``gemm`` is the op's GEMM view ``(batch, m, n, k)`` for ops that
    do multiply-accumulates: ``batch`` independent products of an ``m×k`` activation matrix with
    a ``k×n`` weight (or second-operand) matrix. For convolutions ``m`` = N·P·Q output pixels,
    ``n`` = output channels per group, ``k`` = C/groups·R·S, ``batch`` = groups. For attention
    ``gemm`` is the QKᵀ product; ``macs`` counts both products.

    ``reads`` and ``writes`` (format version 2) are tensor ids, unique within one step: the
    op's activation inputs in input order (trained parameters have no id) and its outputs.
    A read id is written by an earlier op of the step or by none (a step input: the latent,
    the timestep, the text embedding); ``models.workload.graph`` turns them into edges.
    Empty in a version-1 file and in hand-written workloads.
    """

    name: str  # e.g. "aten.convolution.default" or an ONNX op type "Conv"
    kind: str  # one of OP_KINDS
    module: str = ""  # module path in the model, e.g. "down_blocks.0.resnets.1.conv1"
    dtype: str = "float32"
    input_shapes: tuple[tuple[int, ...], ...] = ()
    output_shape: tuple[int, ...] = ()
    gemm: tuple[int, int, int, int] | None = None  # (batch, m, n, k)
    macs: int = 0  # multiply-accumulates (1 MAC = 2 FLOPs)
    flops: int = 0  # all floating-point operations, MACs counted as 2
    act_bytes: int = 0  # bytes of activation inputs read once
    weight_bytes: int = 0  # bytes of parameters read once
    out_bytes: int = 0  # bytes of outputs written once
    weight_is_param: bool = False  # second GEMM operand is a trained parameter (not an activation)
    params: Mapping[str, Any] = field(default_factory=dict)  # stride, padding, groups, ...
    reads: tuple[int, ...] = ()  # tensor ids of the activation inputs, in input order
    writes: tuple[int, ...] = ()  # tensor ids of the outputs, first output first

    @property
    def elements_out(self) -> int:
        return math.prod(self.output_shape) if self.output_shape else 0

    @property
    def conv_stride(self) -> tuple[int, ...]:
        """A convolution's stride per spatial axis, as the PyTorch tracer (``stride``) or the ONNX
        importer (``strides``) records it; ``(1, 1)`` when the op records none."""
        return tuple(self.params.get("stride", self.params.get("strides", (1, 1))))

    @property
    def conv_dilation(self) -> tuple[int, ...]:
        """A convolution's dilation per spatial axis (``dilation`` or ONNX's ``dilations``);
        ``(1, 1)`` when the op records none."""
        return tuple(self.params.get("dilation", self.params.get("dilations", (1, 1))))


@dataclass(frozen=True)
class Workload:
    """A traced or hand-written workload; see the module docstring."""

    ops: tuple[Op, ...]
    steps: int = 1
    provenance: Mapping[str, Any] = field(default_factory=dict)
    stats: Mapping[str, tuple[tuple[float | None, ...], ...]] = field(default_factory=dict)
    unsupported: tuple[Mapping[str, Any], ...] = ()  # ops the frontend could not cost
    format_version: int = FORMAT_VERSION  # of the file it was read from; a file is always written at FORMAT_VERSION

    def __post_init__(self) -> None:
        validate(self)

    @property
    def has_tensor_ids(self) -> bool:
        """Whether the ops say which tensors they read and write (a version-2 trace); without
        them producer→consumer edges are unknown (a version-1 file, a hand-written workload)."""
        return any(op.reads or op.writes for op in self.ops)

    @property
    def macs_per_step(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def flops_per_step(self) -> int:
        return sum(op.flops for op in self.ops)

    def stat(self, name: str, step: int, op_index: int) -> float | None:
        """One recorded statistic, or ``None`` when it was not recorded."""
        table = self.stats.get(name)
        if table is None:
            return None
        return table[step][op_index]

    def with_provenance(self, **items: Any) -> Workload:
        return replace(self, provenance={**self.provenance, **items})


def stats_table(
    rows: Sequence[Mapping[str, float | None]] | Iterable[Mapping[str, float | None]],
) -> dict[str, list[float | None]]:
    """Turn a list of per-op stat dicts (one step) into ``{field: [value per op]}``."""
    rows = list(rows)
    return {name: [r.get(name) for r in rows] for name in STAT_FIELDS if any(r.get(name) is not None for r in rows)}
