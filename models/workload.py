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

import gzip
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

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


def validate(w: Workload) -> None:
    """Check internal consistency; raises :class:`WorkloadError` naming the bad field."""
    if not isinstance(w.steps, int) or w.steps < 1:
        raise _fail("steps", f"expected a positive integer, got {w.steps!r}")
    for i, op in enumerate(w.ops):
        where = f"ops.{i}"
        if op.kind not in OP_KINDS:
            raise _fail(f"{where}.kind", f"unknown op kind {op.kind!r}; allowed: {', '.join(OP_KINDS)}")
        for name in ("macs", "flops", "act_bytes", "weight_bytes", "out_bytes"):
            value = getattr(op, name)
            if not isinstance(value, int) or value < 0:
                raise _fail(f"{where}.{name}", f"expected a non-negative integer, got {value!r}")
        if op.gemm is not None:
            if len(op.gemm) != 4 or any((not isinstance(d, int)) or d < 1 for d in op.gemm):
                raise _fail(f"{where}.gemm", f"expected 4 positive integers (batch, m, n, k), got {op.gemm!r}")
    for name, table in w.stats.items():
        if name not in STAT_FIELDS:
            raise _fail(f"stats.{name}", f"unknown statistic; allowed: {', '.join(STAT_FIELDS)}")
        if len(table) != w.steps:
            raise _fail(f"stats.{name}", f"expected {w.steps} steps of values, got {len(table)}")
        for s, row in enumerate(table):
            if len(row) != len(w.ops):
                raise _fail(f"stats.{name}.{s}", f"expected {len(w.ops)} values (one per op), got {len(row)}")


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


def _tuple_shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) for d in value):
        raise _fail(where, f"expected a list of integers, got {value!r}")
    return tuple(value)


def _op_from_json(d: Any, i: int) -> Op:
    where = f"ops.{i}"
    if not isinstance(d, dict):
        raise _fail(where, f"expected an object, got {type(d).__name__}")
    known = {f for f in Op.__dataclass_fields__}
    unknown = set(d) - known
    if unknown:
        raise _fail(where, f"unknown fields {sorted(unknown)}; allowed: {sorted(known)}")
    if "name" not in d or "kind" not in d:
        raise _fail(where, "every op needs 'name' and 'kind'")
    kw = dict(d)
    kw["input_shapes"] = tuple(_tuple_shape(s, f"{where}.input_shapes") for s in d.get("input_shapes", []))
    kw["output_shape"] = _tuple_shape(d.get("output_shape", []), f"{where}.output_shape")
    gemm = d.get("gemm")
    kw["gemm"] = tuple(_tuple_shape(gemm, f"{where}.gemm")) if gemm is not None else None
    kw["params"] = dict(d.get("params") or {})
    return Op(**kw)


def from_json(doc: Any, source: str = "<workload>") -> Workload:
    """Build a workload from its JSON document; errors name ``source`` and the field."""
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
        ops = tuple(_op_from_json(o, i) for i, o in enumerate(doc.get("ops") or []))
        stats = {k: tuple(tuple(row) for row in table) for k, table in (doc.get("stats") or {}).items()}
        return Workload(
            ops=ops,
            steps=doc.get("steps", 1),
            provenance=dict(doc.get("provenance") or {}),
            stats=stats,
            unsupported=tuple(doc.get("unsupported") or ()),
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


def load(path: str | Path) -> Workload:
    """Read a workload file (gzipped or plain JSON); corrupt files raise :class:`WorkloadError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such workload file") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read: {exc}") from None
    try:
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        doc = json.loads(text)
    except (OSError, EOFError, ValueError, gzip.BadGzipFile) as exc:
        raise WorkloadError(f"{path}: not a readable workload file (corrupt or truncated): {exc}") from None
    return from_json(doc, str(path))


def stats_table(
    rows: Sequence[Mapping[str, float | None]] | Iterable[Mapping[str, float | None]],
) -> dict[str, list[float | None]]:
    """Turn a list of per-op stat dicts (one step) into ``{field: [value per op]}``."""
    rows = list(rows)
    return {name: [r.get(name) for r in rows] for name in STAT_FIELDS if any(r.get(name) is not None for r in rows)}
