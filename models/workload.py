"""The workload (trace) format: what a model does, op by op, step by step.

A :class:`Workload` is the unit the simulator evaluates. It holds

- ``ops``: the op structure of ONE model invocation (one denoising step), stored once;
- ``steps``: how many invocations make one image (sampling steps);
- ``stats``: per-step measured value statistics as arrays ``[steps][ops]`` (``None`` where
  not recorded), so a 50-step trace stays small;
- ``provenance``: where it came from (model, weights source, resolution, versions).

On disk it is gzipped JSON (``*.workload.json.gz``), format ``picojoule.workload`` version
:data:`FORMAT_VERSION`, written with a fixed gzip mtime and sorted keys so that the same
workload always gives the same bytes. See ``docs/workload-format.md``.

This module imports nothing of ours and never torch: users who only sweep designs over saved
traces need numpy alone.
"""

from __future__ import annotations

import array
import errno
import functools
import gzip
import itertools
import json
import math
import operator
import os
import stat
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "picojoule.workload"
FORMAT_VERSION = 1

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
)


#: Range of each statistic's values: fractions lie in [0, 1]; ``delta_bits_mean`` counts the bits of
#: an int8 delta (|d| <= 254 needs floor(log2 254) + 2 = 9); magnitudes and ratios are non-negative.
STAT_RANGES: dict[str, tuple[float, float]] = {
    **{name: (0.0, 1.0) for name in STAT_FIELDS if "_frac" in name},
    "delta_bits_mean": (0.0, 9.0),
    "act_absmax": (0.0, math.inf),
    "act_channel_absmax_ratio": (0.0, math.inf),
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
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024
"""Largest workload document read (bytes of JSON after decompression): a 50-step trace of a
1,352-op model with every statistic is 10 MB."""

_COUNT_FIELDS = ("macs", "flops", "act_bytes", "weight_bytes", "out_bytes")
_not_none = functools.partial(operator.is_not, None)


class WorkloadError(ValueError):
    """A workload file or object is malformed (wrong version, corrupt, inconsistent)."""


@dataclass(frozen=True)
class Op:
    """One operator of one model invocation.

    Shapes are lists of ints. ``gemm`` is the op's GEMM view ``(batch, m, n, k)`` for ops that
    do multiply-accumulates: ``batch`` independent products of an ``m×k`` activation matrix with
    a ``k×n`` weight (or second-operand) matrix. For convolutions ``m`` = N·P·Q output pixels,
    ``n`` = output channels per group, ``k`` = C/groups·R·S, ``batch`` = groups. For attention
    ``gemm`` is the QKᵀ product; ``macs`` counts both products.
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

    @property
    def elements_out(self) -> int:
        return math.prod(self.output_shape) if self.output_shape else 0


@dataclass(frozen=True)
class Workload:
    """A traced or hand-written workload; see the module docstring."""

    ops: tuple[Op, ...]
    steps: int = 1
    provenance: Mapping[str, Any] = field(default_factory=dict)
    stats: Mapping[str, tuple[tuple[float | None, ...], ...]] = field(default_factory=dict)
    unsupported: tuple[Mapping[str, Any], ...] = ()  # ops the frontend could not cost

    def __post_init__(self) -> None:
        validate(self)

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
        raise _fail(where, f"expected {what} in [{low}, {MAX_DIM:,}], got {dims!r}")
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
    for j, shape in enumerate(op.input_shapes):
        _check_dims(f"{where}.input_shapes.{j}", shape, 0)
    _check_dims(f"{where}.output_shape", op.output_shape, 0)
    expected = _expected_macs(op, where)
    if op.macs != expected:
        rule = "0 without a GEMM view" if op.gemm is None else "the GEMM view's batch·m·n·k"
        if op.kind == "attention" and op.gemm is not None:
            rule = "QKᵀ's plus A·V's batch·m·n·k (gemm, params.gemm2)"
        raise _fail(f"{where}.macs", f"{op.macs:,} does not match the shape: expected {rule} = {expected:,}")
    if op.flops < 2 * op.macs:
        raise _fail(f"{where}.flops", f"expected at least 2·macs = {2 * op.macs:,} (1 MAC = 2 FLOPs), got {op.flops:,}")
    return op.macs


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


def validate(w: Workload) -> None:
    """Check internal consistency; raises :class:`WorkloadError` naming the bad field."""
    _check_int("steps", w.steps, 1, MAX_STEPS, "MAX_STEPS")
    _check_quantities("provenance", w.provenance)
    if not w.ops:
        raise _fail("ops", "the workload has no ops; a workload needs at least one")
    macs = 0
    for i, op in enumerate(w.ops):
        macs += validate_op(op, i)
    if macs > MAX_MACS_PER_STEP:
        limit = f"{MAX_MACS_PER_STEP:,} (MAX_MACS_PER_STEP)"
        raise _fail("ops", f"{macs:,} MACs per step is more than the limit of {limit}")
    for name, table in w.stats.items():
        _check_stats(name, table, w.steps, len(w.ops))


# ----------------------------------------------------------------------------- serialisation


def _round(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(f"{x:.6g}")


def _op_to_json(op: Op) -> dict[str, Any]:
    d = asdict(op)
    d["input_shapes"] = [list(s) for s in op.input_shapes]
    d["output_shape"] = list(op.output_shape)
    d["gemm"] = list(op.gemm) if op.gemm is not None else None
    d["params"] = dict(op.params)
    return d


def to_json(w: Workload) -> dict[str, Any]:
    """The JSON document of a workload (see ``docs/workload-format.md``)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "provenance": dict(w.provenance),
        "steps": w.steps,
        "ops": [_op_to_json(op) for op in w.ops],
        "stats": {k: [[_round(v) for v in row] for row in table] for k, table in sorted(w.stats.items())},
        "unsupported": [dict(u) for u in w.unsupported],
    }


def _tuple_shape(value: Any, where: str) -> tuple[Any, ...]:
    """A JSON list as a tuple; :func:`validate` checks its elements."""
    if not isinstance(value, list):
        raise _fail(where, f"expected a list of integers, got {value!r}")
    return tuple(value)


_OP_FIELDS = frozenset(Op.__dataclass_fields__)
_TOP_FIELDS = ("format", "version", "provenance", "steps", "ops", "stats", "unsupported")


def _op_from_json(d: Any, i: int) -> Op:
    where = f"ops.{i}"
    if not isinstance(d, dict):
        raise _fail(where, f"expected an object, got {type(d).__name__}")
    if isinstance(d.get("name"), str) and d["name"]:
        where = f"ops.{i} ({d['name']})"
    unknown = set(d) - _OP_FIELDS
    if unknown:
        raise _fail(where, f"unknown fields {sorted(unknown)}; allowed: {sorted(_OP_FIELDS)}")
    if "name" not in d or "kind" not in d:
        raise _fail(where, "every op needs 'name' and 'kind'")
    kw = dict(d)
    shapes = d.get("input_shapes", [])
    if not isinstance(shapes, list):
        raise _fail(f"{where}.input_shapes", f"expected a list of shapes, got {shapes!r}")
    kw["input_shapes"] = tuple(_tuple_shape(s, f"{where}.input_shapes.{j}") for j, s in enumerate(shapes))
    kw["output_shape"] = _tuple_shape(d.get("output_shape", []), f"{where}.output_shape")
    gemm = d.get("gemm")
    kw["gemm"] = _tuple_shape(gemm, f"{where}.gemm") if gemm is not None else None
    params = d.get("params", {})
    if not isinstance(params, dict):
        raise _fail(f"{where}.params", f"expected an object, got {params!r}")
    kw["params"] = params
    return Op(**kw)


def _field(doc: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = doc.get(key, default)
    if not isinstance(value, kind):
        raise _fail(key, f"expected a JSON {'object' if kind is dict else 'list'}, got {value!r}")
    return value


def _table(table: Any) -> Any:
    """A statistics table as tuples; anything else is left for :func:`validate` to name."""
    if not isinstance(table, list):
        return table
    return tuple(tuple(row) if isinstance(row, list) else row for row in table)


def from_json(doc: Any, source: str = "<workload>") -> Workload:
    """Build a workload from its JSON document; errors name ``source``, the field (with the op's
    index and name) and the bad value."""
    try:
        if not isinstance(doc, dict):
            raise _fail("(top)", "expected a JSON object")
        if doc.get("format") != FORMAT_NAME:
            raise _fail("format", f"expected {FORMAT_NAME!r}, got {doc.get('format')!r}")
        if doc.get("version") != FORMAT_VERSION:
            raise _fail(
                "version",
                f"this picojoule reads version {FORMAT_VERSION}, the file is version {doc.get('version')!r};"
                " re-trace it with this version",
            )
        unknown = sorted(set(doc) - set(_TOP_FIELDS))
        if unknown:
            raise _fail(unknown[0], f"unknown field; allowed: {', '.join(_TOP_FIELDS)}")
        if "steps" not in doc:
            raise _fail("steps", f"required field is missing (an integer in [1, {MAX_STEPS:,}])")
        ops = tuple(_op_from_json(o, i) for i, o in enumerate(_field(doc, "ops", list, [])))
        stats = {k: _table(t) for k, t in _field(doc, "stats", dict, {}).items()}
        unsupported = _field(doc, "unsupported", list, [])
        for i, u in enumerate(unsupported):
            if not isinstance(u, dict):
                raise _fail(f"unsupported.{i}", f"expected an object, got {u!r}")
        return Workload(
            ops=ops,
            steps=doc["steps"],
            provenance=_field(doc, "provenance", dict, {}),
            stats=stats,
            unsupported=tuple(unsupported),
        )
    except WorkloadError as exc:
        raise WorkloadError(f"{source}: {exc}") from None
    except TypeError as exc:
        raise WorkloadError(f"{source}: malformed workload: {exc}") from None


def dumps(w: Workload) -> bytes:
    """Deterministic gzipped JSON bytes of a workload."""
    text = json.dumps(to_json(w), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def save(w: Workload, path: str | Path) -> Path:
    """Write ``w`` to ``path`` (gzipped JSON); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(dumps(w))
    tmp.replace(p)
    return p


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number the format allows (statistics are finite or null)")


class TooLargeError(ValueError):
    """A file holds more bytes (after decompression) than its reader's stated limit."""


def read_bounded(p: Path, limit: int) -> bytes:
    """A regular file's bytes, decompressed if gzipped, refusing more than ``limit`` of them.

    Raises :class:`TooLargeError` past the limit, ``OSError`` (``ENOTSUP`` for a device, a pipe
    or a socket, which would never end), and the gzip/zlib errors of a damaged file."""
    if not stat.S_ISREG(os.stat(p).st_mode):
        if stat.S_ISDIR(os.stat(p).st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(p))
        raise OSError(errno.ENOTSUP, "not a regular file (a device, pipe or socket)", str(p))
    with p.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            f.seek(0)
            text = f.read(limit + 1)
        else:
            f.seek(0)
            # GzipFile decompresses as it reads, so a small file that inflates without bound
            # (a gzip bomb) stops at the limit instead of filling memory.
            with gzip.GzipFile(fileobj=f) as gz:
                text = gz.read(limit + 1)
    if len(text) > limit:
        raise TooLargeError(f"more than {limit:,} bytes after decompression")
    return text


def load(path: str | Path) -> Workload:
    """Read a workload file (gzipped or plain JSON); corrupt files raise :class:`WorkloadError`."""
    p = Path(path)
    try:
        text = read_bounded(p, MAX_DECOMPRESSED_BYTES)
    except TooLargeError:
        raise WorkloadError(
            f"{path}: more than {MAX_DECOMPRESSED_BYTES:,} bytes of JSON (MAX_DECOMPRESSED_BYTES); "
            "not a workload this picojoule reads"
        ) from None
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such workload file") from None
    except IsADirectoryError:
        raise WorkloadError(f"{path}: is a folder, not a workload file") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise WorkloadError(f"{path}: not a readable workload file (corrupt or truncated): {exc}") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise WorkloadError(f"{path}: not a workload file: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise WorkloadError(f"{path}: not a readable workload file (corrupt or truncated): {exc}") from None
    return from_json(doc, str(path))


def stats_table(
    rows: Sequence[Mapping[str, float | None]] | Iterable[Mapping[str, float | None]],
) -> dict[str, list[float | None]]:
    """Turn a list of per-op stat dicts (one step) into ``{field: [value per op]}``."""
    rows = list(rows)
    return {name: [r.get(name) for r in rows] for name in STAT_FIELDS if any(r.get(name) is not None for r in rows)}
