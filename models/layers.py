"""Hand-written workloads: a YAML list of layers, or a SCALE-Sim topology CSV taken as is.

Architects write layer lists for Timeloop and SCALE-Sim; picojoule reads the same so results
compare layer by layer. YAML form::

    name: resnet-stem
    steps: 1
    layers:
      - {name: conv1, type: conv, N: 1, C: 3, H: 224, W: 224, K: 64, R: 7, S: 7, stride: 2, padding: 3}
      - {name: fc, type: gemm, M: 1, N: 1000, K: 2048}
      - {name: attn, type: attention, batch: 8, Lq: 1024, Lk: 1024, d: 64}

SCALE-Sim CSV (v2/v3 ``topologies/*.csv``): ``Layer name, IFMAP Height, IFMAP Width, Filter
Height, Filter Width, Channels, Num Filter, Strides`` (no padding, as SCALE-Sim assumes), or
the GEMM form ``Layer, M, N, K``. Elements are counted as fp32 bytes like a trace; the
simulator converts to the design's precision. A YAML layer may carry the workload statistics
``act_zero_frac`` and ``out_zero_frac`` (fractions of zeros in its input and output, e.g. a
paper's measurements), the same on every step (docs/workload-format.md).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from accelerator.errors import SpecError
from accelerator.spec import model_from_data
from accelerator.yamlpos import load_yaml
from models.workload import MAX_MACS_PER_STEP, MAX_STEPS, Op, Workload, WorkloadError, validate_op

_B = 4  # bytes per element (fp32, as traces record)
Stats = dict[str, tuple[tuple[float | None, ...], ...]]

MAX_DIM = 1 << 20
"""Largest size of one layer dimension (channels, pixels, tokens, ...); 1,048,576."""
MAX_CSV_BYTES = 8 * 1024 * 1024
"""Largest SCALE-Sim CSV read (bytes), as for YAML inputs."""

#: A layer dimension: an integer (``true`` and ``4.0`` are refused) from 1 to MAX_DIM.
Dim = Annotated[StrictInt, Field(ge=1, le=MAX_DIM)]


#: A fraction of zeros a layer may carry as a workload statistic, in [0, 1] (``true`` and strings are
#: refused; an integer 0 or 1 is a fraction).
ZeroFrac = Annotated[float, Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False)]
#: The statistics a layer may carry (``models.workload.STAT_FIELDS`` names), the same on every step.
LAYER_STATS = ("act_zero_frac", "out_zero_frac")


class _L(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(..., min_length=1)
    act_zero_frac: ZeroFrac | None = Field(None, description="exact zeros in the layer's input activations")
    out_zero_frac: ZeroFrac | None = Field(None, description="exact zeros in the layer's output as it is written")


class ConvLayer(_L):
    type: Literal["conv"]
    N: Dim = Field(1, description="batch")
    C: Dim = Field(..., description="input channels")
    H: Dim = Field(..., description="input height")
    W: Dim = Field(..., description="input width")
    K: Dim = Field(..., description="output channels")
    R: Dim = Field(..., description="filter height")
    S: Dim = Field(..., description="filter width")
    stride: Dim = Field(1)
    padding: StrictInt = Field(0, ge=0, le=MAX_DIM)
    groups: Dim = Field(1)


class GemmLayer(_L):
    type: Literal["gemm"]
    M: Dim = Field(..., description="rows of the activation / output")
    N: Dim = Field(..., description="columns of the weight / output")
    K: Dim = Field(..., description="reduction")
    batch: Dim = Field(1)


class AttentionLayer(_L):
    type: Literal["attention"]
    batch: Dim = Field(1, description="batch x heads")
    Lq: Dim = Field(..., description="query length")
    Lk: Dim = Field(..., description="key length")
    d: Dim = Field(..., description="head dimension")


Layer = Annotated[ConvLayer | GemmLayer | AttentionLayer, Field(discriminator="type")]


class LayerList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(..., min_length=1)
    steps: StrictInt = Field(1, ge=1, le=MAX_STEPS, description=f"sampling steps, at most {MAX_STEPS:,} (MAX_STEPS)")
    layers: tuple[Layer, ...] = Field(..., min_length=1)


def conv_op(x: ConvLayer) -> Op:
    P = (x.H + 2 * x.padding - x.R) // x.stride + 1
    Q = (x.W + 2 * x.padding - x.S) // x.stride + 1
    if P < 1 or Q < 1:
        raise ValueError(f"layer {x.name}: the filter is larger than the padded input")
    if x.C % x.groups or x.K % x.groups:
        raise ValueError(f"layer {x.name}: groups {x.groups} must divide C {x.C} and K {x.K}")
    cg, kg = x.C // x.groups, x.K // x.groups
    m, n, k = x.N * P * Q, kg, cg * x.R * x.S
    macs = x.groups * m * n * k
    return Op(
        name=x.name,
        kind="conv",
        module=x.name,
        input_shapes=((x.N, x.C, x.H, x.W), (x.K, cg, x.R, x.S)),
        output_shape=(x.N, x.K, P, Q),
        gemm=(x.groups, m, n, k),
        macs=macs,
        flops=2 * macs,
        act_bytes=x.N * x.C * x.H * x.W * _B,
        weight_bytes=x.K * cg * x.R * x.S * _B,
        out_bytes=x.N * x.K * P * Q * _B,
        weight_is_param=True,
        params={"stride": [x.stride, x.stride], "padding": [x.padding, x.padding], "groups": x.groups},
    )


def gemm_op(x: GemmLayer) -> Op:
    macs = x.batch * x.M * x.N * x.K
    return Op(
        name=x.name,
        kind="gemm",
        module=x.name,
        input_shapes=((x.batch, x.M, x.K), (x.K, x.N)),
        output_shape=(x.batch, x.M, x.N),
        gemm=(x.batch, x.M, x.N, x.K),
        macs=macs,
        flops=2 * macs,
        act_bytes=x.batch * x.M * x.K * _B,
        weight_bytes=x.K * x.N * _B,
        out_bytes=x.batch * x.M * x.N * _B,
        weight_is_param=True,
    )


def attention_op(x: AttentionLayer) -> Op:
    macs = 2 * x.batch * x.Lq * x.Lk * x.d
    return Op(
        name=x.name,
        kind="attention",
        module=x.name,
        input_shapes=((x.batch, x.Lq, x.d), (x.batch, x.Lk, x.d), (x.batch, x.Lk, x.d)),
        output_shape=(x.batch, x.Lq, x.d),
        gemm=(x.batch, x.Lq, x.Lk, x.d),
        macs=macs,
        flops=2 * macs + 5 * x.batch * x.Lq * x.Lk,
        act_bytes=x.batch * (x.Lq + 2 * x.Lk) * x.d * _B,
        out_bytes=x.batch * x.Lq * x.d * _B,
    )


def _to_op(x: ConvLayer | GemmLayer | AttentionLayer, index: int) -> Op:
    """The op of one layer, checked against the workload format's limits (ValueError if not)."""
    if isinstance(x, ConvLayer):
        op = conv_op(x)
    elif isinstance(x, GemmLayer):
        op = gemm_op(x)
    else:
        op = attention_op(x)
    if op.macs > MAX_MACS_PER_STEP:
        raise ValueError(
            f"layer {x.name}: {op.macs:,} MACs is more than the limit of {MAX_MACS_PER_STEP:,} per step "
            "(MAX_MACS_PER_STEP)"
        )
    validate_op(op, index)  # WorkloadError is a ValueError
    return op


def layer_stats(layers: tuple[ConvLayer | GemmLayer | AttentionLayer, ...], steps: int) -> Stats:
    """The statistics the layers give (:data:`LAYER_STATS`), every step alike; ``None`` for a layer
    that leaves one out; a statistic no layer gives is absent."""
    out: Stats = {}
    for name in LAYER_STATS:
        row = tuple(getattr(x, name) for x in layers)
        if any(v is not None for v in row):
            out[name] = (row,) * steps
    return out


def _workload(ops: list[Op], steps: int, provenance: dict[str, str], file: str, stats: Stats | None = None) -> Workload:
    try:
        return Workload(ops=tuple(ops), steps=steps, provenance=provenance, stats=stats or {})
    except WorkloadError as exc:  # e.g. the layers together exceed MAX_MACS_PER_STEP
        raise SpecError(str(exc), file=file) from None


def load_layers_yaml(path: str | Path) -> Workload:
    data, positions = load_yaml(path)
    spec = model_from_data(LayerList, data, positions, "layer-list ('name', 'layers')")
    ops = []
    for i, layer in enumerate(spec.layers):
        try:
            ops.append(_to_op(layer, i))
        except ValueError as exc:
            raise positions.error(f"layers.{i}", str(exc)) from None
    provenance = {"model": spec.name, "weights": "none (hand-written layer list)", "source": str(path)}
    return _workload(ops, spec.steps, provenance, str(path), layer_stats(spec.layers, spec.steps))


_CONV_COLS = [
    "layer name",
    "ifmap height",
    "ifmap width",
    "filter height",
    "filter width",
    "channels",
    "num filter",
    "strides",
]


_GEMM_COLS = ["layer", "m", "n", "k"]
_INTEGER = re.compile(r"[0-9]+")


def _csv_text(path: str | Path) -> str:
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    if len(raw) > MAX_CSV_BYTES:
        raise SpecError(f"larger than {MAX_CSV_BYTES:,} bytes (MAX_CSV_BYTES); not a topology file", file=str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); save the CSV as UTF-8",
            file=str(path),
            line=line,
        ) from None


def _cells(row: list[str]) -> list[str]:
    """Stripped cells without the trailing empty ones (SCALE-Sim ends every line with a comma)."""
    cells = [c.strip() for c in row]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def _sizes(cells: list[str], columns: list[str], file: str, line: int) -> list[int]:
    """The integer columns after the layer name, each in [1, MAX_DIM]."""
    vals = []
    for column, cell in zip(columns[1:], cells[1:], strict=True):
        if not _INTEGER.fullmatch(cell):
            raise SpecError(f"column {column!r}: expected a positive integer, got {cell!r}", file=file, line=line)
        value = int(cell)
        if not 1 <= value <= MAX_DIM:
            allowed = f"an integer in [1, {MAX_DIM:,}] (MAX_DIM)"
            raise SpecError(f"column {column!r}: expected {allowed}, got {value}", file=file, line=line)
        vals.append(value)
    return vals


def load_scalesim_csv(path: str | Path) -> Workload:
    """Read a SCALE-Sim topology CSV (conv or GEMM form)."""
    file = str(path)
    rows = list(csv.reader(_csv_text(path).splitlines()))
    numbered = [(i + 1, cells) for i, r in enumerate(rows) if (cells := _cells(r))]
    if not numbered:
        raise SpecError("empty topology file", file=file, line=1)
    head_line, head = numbered[0]
    header = [h.lower() for h in head]
    columns = _GEMM_COLS if header == _GEMM_COLS else _CONV_COLS if header == _CONV_COLS else None
    if columns is None:
        raise SpecError(
            f"unrecognised header {head}; expected SCALE-Sim's '{', '.join(_CONV_COLS)}' or 'Layer, M, N, K'"
            " (exactly these columns)",
            file=file,
            line=head_line,
        )
    if len(numbered) == 1:
        raise SpecError("the topology has a header but no layers", file=file, line=head_line)
    ops = []
    for index, (line, r) in enumerate(numbered[1:]):
        if len(r) != len(columns):
            raise SpecError(
                f"expected {len(columns)} columns ({', '.join(head)}), got {len(r)}: {r}", file=file, line=line
            )
        if not r[0]:
            raise SpecError("the layer name is empty", file=file, line=line)
        vals = _sizes(r, head, file, line)
        try:
            if columns is _GEMM_COLS:
                ops.append(_to_op(GemmLayer(type="gemm", name=r[0], M=vals[0], N=vals[1], K=vals[2]), index))
            else:
                ih, iw, fh, fw, c, k, s = vals
                layer = ConvLayer(type="conv", name=r[0], C=c, H=ih, W=iw, K=k, R=fh, S=fw, stride=s)
                ops.append(_to_op(layer, index))
        except ValueError as exc:
            raise SpecError(str(exc), file=file, line=line) from None
    provenance = {"model": Path(path).stem, "weights": "none (SCALE-Sim topology)", "source": file}
    return _workload(ops, 1, provenance, file)
