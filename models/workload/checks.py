"""Consistency checks of a workload: types, limits, MACs against each op's shape, statistics in
range. Every failure is a :class:`WorkloadError` naming the field (``ops.12 (name).macs: ...``)."""

from __future__ import annotations

import array
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from models.workload.schema import (
    _COUNT_FIELDS,
    _ID_FIELDS,
    MAX_COUNT,
    MAX_DIM,
    MAX_MACS_PER_STEP,
    MAX_STEPS,
    MAX_TENSOR_ID,
    MIN_SHAPE_DIM,
    OP_KINDS,
    READ_VERSIONS,
    STAT_FIELDS,
    STAT_RANGES,
    WorkloadError,
    _not_none,
)

if TYPE_CHECKING:  # only for annotations: core imports this module to validate on construction
    from models.workload.core import Op, Workload


def _fail(where: str, message: str) -> WorkloadError:
    return WorkloadError(f"{where}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(where: str, value: Any, low: int, high: int, limit: str) -> None:
    if not _is_int(value) or not low <= value <= high:
        raise _fail(where, f"expected an integer in [{low:,}, {high:,}] ({limit}), got {value!r}")


def _check_dims(where: str, dims: Any, low: int, count: int | None = None) -> int:
    """Check a shape (``count`` None) or a GEMM view; returns the product of the dims."""
    what = f"{count} integers" if count is not None else "a list of integers"
    if (
        not isinstance(dims, (tuple, list))
        or (count is not None and len(dims) != count)
        or not all(map(_is_int, dims))
        or (dims and not (min(dims) >= low and max(dims) <= MAX_DIM))
    ):
        zero = count is None and isinstance(dims, (tuple, list)) and 0 in dims
        why = " (MIN_SHAPE_DIM: no zero-size tensors)" if zero else ""
        raise _fail(where, f"expected {what} in [{low}, {MAX_DIM:,}]{why}, got {dims!r}")
    product = math.prod(dims)
    if product > MAX_COUNT:
        raise _fail(where, f"{product:,} elements is more than the limit of {MAX_COUNT:,} (MAX_COUNT)")
    return product


def _expected_macs(op: Op, where: str) -> int:
    """The MACs the GEMM view implies: b·m·n·k, and for attention both products (QKᵀ and A·V)."""
    if op.gemm is None:
        return 0
    qk = _check_dims(f"{where}.gemm", op.gemm, 1, 4)
    if op.kind != "attention":
        return qk
    gemm2 = op.params.get("gemm2")
    if gemm2 is None:  # A·V has QKᵀ's product when the value and head dims agree (layer lists)
        return 2 * qk
    return qk + _check_dims(f"{where}.params.gemm2", gemm2, 1, 4)


def validate_op(op: Op, i: int) -> int:
    """Check op number ``i`` (types, limits, MACs against its GEMM view); returns its MACs."""
    where = f"ops.{i}"
    if not isinstance(op.name, str) or not op.name:
        raise _fail(f"{where}.name", f"expected a non-empty string, got {op.name!r}")
    where = f"ops.{i} ({op.name})"
    if op.kind not in OP_KINDS:
        raise _fail(f"{where}.kind", f"unknown op kind {op.kind!r}; allowed: {', '.join(OP_KINDS)}")
    for name in ("module", "dtype"):
        if not isinstance(getattr(op, name), str):
            raise _fail(f"{where}.{name}", f"expected a string, got {getattr(op, name)!r}")
    if not isinstance(op.weight_is_param, bool):
        raise _fail(f"{where}.weight_is_param", f"expected true or false, got {op.weight_is_param!r}")
    if not isinstance(op.params, Mapping):
        raise _fail(f"{where}.params", f"expected an object, got {op.params!r}")
    for name in _COUNT_FIELDS:
        value = getattr(op, name)
        if not _is_int(value) or not 0 <= value <= MAX_COUNT:
            raise _fail(f"{where}.{name}", f"expected an integer in [0, {MAX_COUNT:,}] (MAX_COUNT), got {value!r}")
    _check_quantities(f"{where}.params", op.params)
    if op.kind == "conv":
        _check_conv_params(f"{where}.params", op)
    for name in _ID_FIELDS:
        ids = getattr(op, name)
        if not isinstance(ids, (tuple, list)) or not all(_is_int(t) and 0 <= t <= MAX_TENSOR_ID for t in ids):
            allowed = f"integers in [0, {MAX_TENSOR_ID:,}] (MAX_TENSOR_ID)"
            raise _fail(f"{where}.{name}", f"expected a list of tensor ids, {allowed}, got {ids!r}")
    for j, shape in enumerate(op.input_shapes):
        _check_dims(f"{where}.input_shapes.{j}", shape, MIN_SHAPE_DIM)
    _check_dims(f"{where}.output_shape", op.output_shape, MIN_SHAPE_DIM)
    expected = _expected_macs(op, where)
    if op.macs != expected:
        rule = "0 without a GEMM view" if op.gemm is None else "the GEMM view's batch·m·n·k"
        if op.kind == "attention" and op.gemm is not None:
            rule = "QKᵀ's plus A·V's batch·m·n·k (gemm, params.gemm2)"
        raise _fail(f"{where}.macs", f"{op.macs:,} does not match the shape: expected {rule} = {expected:,}")
    if op.flops < 2 * op.macs:
        raise _fail(f"{where}.flops", f"expected at least 2·macs = {2 * op.macs:,} (1 MAC = 2 FLOPs), got {op.flops:,}")
    return op.macs


#: A convolution's window parameters, as the PyTorch tracer (``stride``) and the ONNX importer
#: (``strides``) spell them: each a list of positive integers (a stride or dilation of 0 has no meaning,
#: and the loop-nest engine divides by them).
_CONV_WINDOW = ("kernel", "stride", "strides", "dilation", "dilations")


def _check_conv_params(where: str, op: Op) -> None:
    """A convolution's window parameters are positive integers and its groups divide both channel
    counts (:data:`_CONV_WINDOW`; what ``simulator.cost.nest.ops`` reads of them)."""
    planar = len(op.output_shape) == 4  # N, C, H, W: a 2-D window (height, width)
    for key in _CONV_WINDOW:
        value = op.params.get(key)
        if value is None:
            continue
        if not isinstance(value, (list, tuple)) or not value or not all(_is_int(v) and v >= 1 for v in value):
            raise _fail(f"{where}.{key}", f"expected a list of integers >= 1, got {value!r}")
        if planar and len(value) != 2:
            raise _fail(f"{where}.{key}", f"expected 2 values (height, width) for a 2-D convolution, got {value!r}")
    groups = op.params.get("groups", 1)
    if not _is_int(groups) or groups < 1:
        raise _fail(f"{where}.groups", f"expected an integer >= 1, got {groups!r}")
    shapes = op.input_shapes
    if len(op.output_shape) == 4 and shapes and len(shapes[0]) == 4:
        c_in, c_out = shapes[0][1], op.output_shape[1]
        if c_in % groups or c_out % groups:
            raise _fail(
                f"{where}.groups",
                f"{groups} does not divide the input channels ({c_in}) and the output channels ({c_out})",
            )
        if not op.params.get("transposed"):
            _check_conv_reach(where, op)


def _padding_total(params: Mapping[str, Any]) -> tuple[int, int] | None:
    """Rows and columns of padding in all (PyTorch's ``padding`` [h, w] on both sides, ONNX's
    ``pads`` [top, left, bottom, right]); None when the op does not say (the GPU measurements'
    embedded workloads record no params), or says it otherwise."""
    pad = params.get("padding", params.get("pads"))
    if not isinstance(pad, (list, tuple)) or not all(_is_int(v) for v in pad):
        return None
    if "padding" in params and len(pad) == 2:
        return (2 * pad[0], 2 * pad[1])
    if "pads" in params and len(pad) == 4:
        return (pad[0] + pad[2], pad[1] + pad[3])
    return None


def _check_conv_reach(where: str, op: Op) -> None:
    """The output of a (not transposed) 2-D convolution lies within its padded input: for height and
    width, ``stride·(P−1) + dilation·(R−1) + 1 <= H + padding`` (the loop-nest engine sizes input
    tiles by it; a stride of 2³¹ on a 32-row output asks for rows the input does not have). Where
    the op does not record its padding, the most a window uses is assumed: ``dilation·(R−1)`` on
    each side."""
    prm, shapes = op.params, op.input_shapes
    kernel = prm.get("kernel", shapes[1][2:] if len(shapes) > 1 and len(shapes[1]) == 4 else None)
    if kernel is None or len(kernel) != 2 or not all(_is_int(k) for k in kernel):
        return
    dilation = op.conv_dilation
    pad = _padding_total(prm)
    if pad is None:
        pad = (2 * dilation[0] * (kernel[0] - 1), 2 * dilation[1] * (kernel[1] - 1))
    stride = op.conv_stride
    for a, (axis, unit) in enumerate((("height", "rows"), ("width", "columns"))):
        reach = stride[a] * (op.output_shape[2 + a] - 1) + dilation[a] * (kernel[a] - 1) + 1
        have = shapes[0][2 + a] + pad[a]
        if reach > have:
            raise _fail(
                f"{where}",
                f"its {axis} does not fit its input: stride·(P−1) + dilation·(R−1) + 1 = {stride[a]}·"
                f"{op.output_shape[2 + a] - 1} + {dilation[a]}·{kernel[a] - 1} + 1 = {reach:,} {unit} of input, "
                f"but the input has {shapes[0][2 + a]:,} and {pad[a]} of padding",
            )


def _check_quantities(where: str, value: Any) -> None:
    """Every number under ``value`` (an op's params, the provenance) is a finite quantity in
    [0, MAX_COUNT]: kernel sizes, strides, lengths, counts, seeds and resolutions are never
    negative, and no committed trace holds another kind of number there."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_quantities(f"{where}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for j, v in enumerate(value):
            _check_quantities(f"{where}.{j}", v)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (math.isfinite(value) and 0 <= value <= MAX_COUNT):
            raise _fail(where, f"expected a finite number in [0, {MAX_COUNT:,}] (MAX_COUNT), got {value!r}")


def _bad_stat_value(name: str, table: Sequence[Sequence[Any]]) -> str | None:
    """Where the first value of ``table`` of the wrong type or outside its range is, or None."""
    low, high = STAT_RANGES[name]
    for s, row in enumerate(table):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return f"stats.{name}.{s}.{j}: expected a number or null, got {v!r}"
            if not (math.isfinite(v) and low <= v <= high):
                return f"stats.{name}.{s}.{j}: expected a finite number in [{low}, {high}] or null, got {v!r}"
    return None


def _check_stats(name: str, table: Any, steps: int, n_ops: int) -> None:
    if name not in STAT_FIELDS:
        raise _fail(f"stats.{name}", f"unknown statistic; allowed: {', '.join(STAT_FIELDS)}")
    if not isinstance(table, (tuple, list)) or len(table) != steps:
        got = len(table) if isinstance(table, (tuple, list)) else repr(table)
        raise _fail(f"stats.{name}", f"expected {steps} steps of values, got {got}")
    for s, row in enumerate(table):
        if not isinstance(row, (tuple, list)) or len(row) != n_ops:
            got = len(row) if isinstance(row, (tuple, list)) else repr(row)
            raise _fail(f"stats.{name}.{s}", f"expected {n_ops} values (one per op), got {got}")
    # Fast path at C speed (a 50-step trace holds millions of values); the slow walk of
    # _bad_stat_value runs only to name a bad value.
    low, high = STAT_RANGES[name]
    try:  # float.__float__ refuses anything but a float: ints, bools and strings take the slow walk
        floats = map(float.__float__, filter(_not_none, itertools.chain.from_iterable(table)))
        values = np.frombuffer(array.array("d", floats))
    except TypeError:
        values = np.array([np.nan])
    if values.size == 0 or (np.isfinite(values).all() and values.min() >= low and values.max() <= high):
        return
    bad = _bad_stat_value(name, table)
    if bad is not None:
        raise WorkloadError(bad)


def _check_tensor_ids(ops: Sequence[Op]) -> None:
    """Each tensor is written once, and read only after the op that writes it (a tensor no op
    writes is a step input). Called after :func:`validate_op` checked every id's type."""
    writer: dict[int, int] = {}
    for i, op in enumerate(ops):
        for j, t in enumerate(op.writes):
            if t in writer:
                raise _fail(
                    f"ops.{i} ({op.name}).writes.{j}",
                    f"tensor {t} is already written by op {writer[t]}; each tensor id is written once"
                    " (an in-place op writes a new id)",
                )
            writer[t] = i
    for i, op in enumerate(ops):
        for j, t in enumerate(op.reads):
            w = writer.get(t, -1)
            if w >= i:
                raise _fail(
                    f"ops.{i} ({op.name}).reads.{j}",
                    f"tensor {t} is written by op {w}, not before this op; a read must follow the op that writes"
                    " its tensor, or name a step input that no op writes",
                )


def validate(w: Workload) -> None:
    """Check internal consistency; raises :class:`WorkloadError` naming the bad field."""
    _check_int("steps", w.steps, 1, MAX_STEPS, "MAX_STEPS")
    _check_quantities("provenance", w.provenance)
    if not w.ops:
        raise _fail("ops", "the workload has no ops; a workload needs at least one")
    macs = 0
    for i, op in enumerate(w.ops):
        macs += validate_op(op, i)
    if w.format_version not in READ_VERSIONS:
        raise _fail("version", f"expected one of {', '.join(map(str, READ_VERSIONS))}, got {w.format_version!r}")
    if w.format_version < 2 and w.has_tensor_ids:
        version = w.format_version
        raise _fail("ops", f"a version-{version} workload has no tensor ids (reads, writes came with version 2)")
    _check_tensor_ids(w.ops)
    if macs > MAX_MACS_PER_STEP:
        limit = f"{MAX_MACS_PER_STEP:,} (MAX_MACS_PER_STEP)"
        raise _fail("ops", f"{macs:,} MACs per step is more than the limit of {limit}")
    for name, table in w.stats.items():
        _check_stats(name, table, w.steps, len(w.ops))
