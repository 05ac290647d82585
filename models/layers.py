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
simulator converts to the design's precision.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from accelerator.errors import SpecError
from accelerator.spec import model_from_data
from accelerator.yamlpos import load_yaml
from models.workload import Op, Workload

_B = 4  # bytes per element (fp32, as traces record)


class _L(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(..., min_length=1)


class ConvLayer(_L):
    type: Literal["conv"]
    N: int = Field(1, ge=1, description="batch")
    C: int = Field(..., ge=1, description="input channels")
    H: int = Field(..., ge=1, description="input height")
    W: int = Field(..., ge=1, description="input width")
    K: int = Field(..., ge=1, description="output channels")
    R: int = Field(..., ge=1, description="filter height")
    S: int = Field(..., ge=1, description="filter width")
    stride: int = Field(1, ge=1)
    padding: int = Field(0, ge=0)
    groups: int = Field(1, ge=1)


class GemmLayer(_L):
    type: Literal["gemm"]
    M: int = Field(..., ge=1, description="rows of the activation / output")
    N: int = Field(..., ge=1, description="columns of the weight / output")
    K: int = Field(..., ge=1, description="reduction")
    batch: int = Field(1, ge=1)


class AttentionLayer(_L):
    type: Literal["attention"]
    batch: int = Field(1, ge=1, description="batch x heads")
    Lq: int = Field(..., ge=1, description="query length")
    Lk: int = Field(..., ge=1, description="key length")
    d: int = Field(..., ge=1, description="head dimension")


Layer = Annotated[ConvLayer | GemmLayer | AttentionLayer, Field(discriminator="type")]


class LayerList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(..., min_length=1)
    steps: int = Field(1, ge=1)
    layers: tuple[Layer, ...] = Field(..., min_length=1)


def conv_op(x: ConvLayer) -> Op:
    P = (x.H + 2 * x.padding - x.R) // x.stride + 1
    Q = (x.W + 2 * x.padding - x.S) // x.stride + 1
    if P < 1 or Q < 1:
        raise ValueError(f"layer {x.name}: the filter is larger than the padded input")
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


def _to_op(x: ConvLayer | GemmLayer | AttentionLayer) -> Op:
    if isinstance(x, ConvLayer):
        return conv_op(x)
    if isinstance(x, GemmLayer):
        return gemm_op(x)
    return attention_op(x)


def load_layers_yaml(path: str | Path) -> Workload:
    data, positions = load_yaml(path)
    spec = model_from_data(LayerList, data, positions, "layer-list ('name', 'layers')")
    ops = []
    for i, layer in enumerate(spec.layers):
        try:
            ops.append(_to_op(layer))
        except ValueError as exc:
            raise positions.error(f"layers.{i}", str(exc)) from None
    return Workload(
        ops=tuple(ops),
        steps=spec.steps,
        provenance={"model": spec.name, "weights": "none (hand-written layer list)", "source": str(path)},
    )


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


def load_scalesim_csv(path: str | Path) -> Workload:
    """Read a SCALE-Sim topology CSV (conv or GEMM form)."""
    p = Path(path)
    try:
        rows = list(csv.reader(p.read_text(encoding="utf-8").splitlines()))
    except OSError as exc:
        raise SpecError(f"cannot read: {exc}", file=str(path)) from None
    cells = [[c.strip() for c in r if c.strip() != ""] for r in rows]
    numbered = [(i + 1, r) for i, r in enumerate(cells) if r]
    if not numbered:
        raise SpecError("empty topology file", file=str(path), line=1)
    header = [h.lower() for h in numbered[0][1]]
    gemm_form = header[:4] == ["layer", "m", "n", "k"]
    if not gemm_form and header[: len(_CONV_COLS)] != _CONV_COLS:
        raise SpecError(
            f"unrecognised header {numbered[0][1]}; expected SCALE-Sim's '{', '.join(_CONV_COLS)}' or 'Layer, M, N, K'",
            file=str(path),
            line=numbered[0][0],
        )
    ops = []
    for line, r in numbered[1:]:
        want = 4 if gemm_form else 8
        if len(r) < want:
            raise SpecError(f"expected {want} columns, got {len(r)}: {r}", file=str(path), line=line)
        try:
            vals = [int(v) for v in r[1:want]]
        except ValueError:
            raise SpecError(
                f"expected integers after the layer name, got {r[1:want]}", file=str(path), line=line
            ) from None
        if min(vals) < 1:
            raise SpecError(f"sizes must be positive, got {vals}", file=str(path), line=line)
        try:
            if gemm_form:
                ops.append(gemm_op(GemmLayer(type="gemm", name=r[0], M=vals[0], N=vals[1], K=vals[2])))
            else:
                ih, iw, fh, fw, c, k, s = vals
                ops.append(conv_op(ConvLayer(type="conv", name=r[0], C=c, H=ih, W=iw, K=k, R=fh, S=fw, stride=s)))
        except ValueError as exc:
            raise SpecError(str(exc), file=str(path), line=line) from None
    return Workload(
        ops=tuple(ops),
        steps=1,
        provenance={"model": p.stem, "weights": "none (SCALE-Sim topology)", "source": str(path)},
    )
