"""ONNX graph rewriting for numerics emulation: quantised weights and fake-quant activations.

Weights of ``Conv`` / ``Gemm`` nodes are quantised offline with the torch quantisers of
:mod:`models.numerics.quant` (bit-identical values). Activations (``Conv``/``Gemm`` input 0,
both inputs of ``Einsum``, the attention products) get fake-quant subgraphs of standard ONNX
ops: ``Div(s) → Round → Clip → Mul(s)`` for integers (ONNX ``Round`` is half-to-even like
``torch.round``), ``Cast`` for fp16/bf16, ``Div → Clip → Cast(FLOAT8) → Cast → Mul`` for fp8.
Scales are static per tensor, from calibration; per_block and dynamic activation scales are
torch-only. Every quantised activation of a weighted op is also a graph output, so zero and
delta fractions are counted outside the graph. Temporal deltas use a second graph whose extra
inputs are the previous step's reconstructed activations (see :mod:`models.numerics.emulate`).
The runner that samples with these graphs is :mod:`models.numerics.onnx_emulate`.

Importing this module imports neither torch nor onnx (:mod:`models.numerics.session` reaches it
through ``onnx_emulate`` and loads without the trace extra); both are imported where used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelerator.errors import SpecError
from accelerator.numerics import FP8_MAX, INT_FORMATS, INT_QMAX, NumericsSpec, TensorFormat


@dataclass(frozen=True)
class Site:
    """A quantised activation: the tensor name, its calibration key, and whether deltas apply."""

    tensor: str
    key: str
    weighted: bool
    reduce_axis: int


@dataclass(frozen=True)
class SiteOutput:
    """A site's graph output: the (quantised) values the array multiplies."""

    site: Site
    tensor: str


@dataclass(frozen=True)
class PrevInput:
    """A delta site's extra graph input: the reconstructed activation x̂ of step t-1."""

    output: int  # index into Graph.outputs of the site whose previous value this is
    tensor: str


@dataclass(frozen=True)
class ScaleInput:
    """A scalar graph input holding one activation scale, fed per step from calibration."""

    tensor: str
    key: str  # calibration key
    fmt: TensorFormat


def _sites(graph: Any, quantise_attention: bool) -> tuple[list[tuple[int, int, Site]], dict[str, tuple[int, int]]]:
    """(node, input, site) of each quantised activation; weights: name -> (channel, reduce) axes."""
    inits = {t.name for t in graph.initializer}
    sites: list[tuple[int, int, Site]] = []
    weights: dict[str, tuple[int, int]] = {}
    k = 0
    for i, node in enumerate(graph.node):
        if node.op_type in ("Conv", "Gemm") and len(node.input) > 1 and node.input[1] in inits:
            if node.op_type == "Gemm":
                trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
                weights[node.input[1]] = (0, 1) if trans_b else (1, 0)
            else:
                weights[node.input[1]] = (0, 1)
            sites.append((i, 0, Site(node.input[0], f"{k}.x", True, 1 if node.op_type == "Conv" else -1)))
            k += 1
        elif node.op_type == "Einsum" and len(node.input) == 2:
            if quantise_attention:  # keys count every Einsum, so tables match either way
                for j, op in enumerate(("a", "b")):
                    sites.append((i, j, Site(node.input[j], f"{k}.{op}", False, -1)))
            k += 1
    return sites, weights


@dataclass
class _Builder:
    nodes: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)
    scales: list[ScaleInput] = field(default_factory=list)
    count: int = 0

    def const(self, value: float) -> str:
        from onnx import numpy_helper  # lazy: onnx; this module loads without the trace extra

        self.count += 1
        name = f"pj_c{self.count}"
        self.inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper  # lazy: onnx; this module loads without the trace extra

        self.count += 1
        out = f"pj_t{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def scale(self, key: str, fmt: TensorFormat) -> str:
        """A scalar graph input holding the scale of ``key`` (fed per step from calibration)."""
        name = f"pj_scale_{len(self.scales)}"
        self.scales.append(ScaleInput(name, key, fmt))
        return name

    def codes(self, x: str, scale: str, fmt: str) -> str:
        q = INT_QMAX[fmt]
        return self.op("Clip", [self.op("Round", [self.op("Div", [x, scale])]), self.const(-q), self.const(q)])

    def quantise(self, x: str, fmt: TensorFormat, key: str) -> str:
        from onnx import TensorProto  # lazy: onnx; this module loads without the trace extra

        f = str(fmt.format)
        if f == "fp32":
            return x
        if f in ("fp16", "bf16"):
            to = TensorProto.FLOAT16 if f == "fp16" else TensorProto.BFLOAT16
            return self.op("Cast", [self.op("Cast", [x], to=to)], to=TensorProto.FLOAT)
        scale = self.scale(key, fmt)
        if f in INT_FORMATS:
            return self.op("Mul", [self.codes(x, scale, f), scale])
        to = TensorProto.FLOAT8E4M3FN if f == "fp8_e4m3" else TensorProto.FLOAT8E5M2
        m = FP8_MAX[f]
        y = self.op("Clip", [self.op("Div", [x, scale]), self.const(-m), self.const(m)])
        y = self.op("Cast", [self.op("Cast", [y], to=to)], to=TensorProto.FLOAT)
        return self.op("Mul", [y, scale])

    def threshold(self, x: str, abs_thr: float, rel_thr: float) -> str:
        if abs_thr <= 0 and rel_thr <= 0:
            return x
        limit = self.const(abs_thr)
        if rel_thr > 0:
            peak = self.op("ReduceMax", [self.op("Abs", [x])], keepdims=0)
            limit = self.op("Max", [limit, self.op("Mul", [peak, self.const(rel_thr)])])
        small = self.op("LessOrEqual", [self.op("Abs", [x]), limit])
        return self.op("Where", [small, self.const(0.0), x])


def _check_supported(n: NumericsSpec) -> None:
    for name in ("activations", "deltas"):
        t: TensorFormat = getattr(n, name)
        if name == "deltas" and not n.temporal_delta.enabled:
            continue
        if t.format not in ("fp32", "fp16", "bf16") and (t.granularity != "per_tensor" or t.calibration == "dynamic"):
            raise SpecError(
                f"numerics.{name}: ONNX models are emulated with static per_tensor scales only "
                f"(got {t.granularity}, calibration {t.calibration}); use a torch model for others"
            )


def _quantise_weights(g: Any, n: NumericsSpec, weights: dict[str, tuple[int, int]]) -> None:
    import torch  # lazy: torch and onnx; this module loads without the trace extra
    from onnx import numpy_helper

    from models.numerics.quant import fake_quantise, int_codes, threshold_zero  # lazy: torch; module stays torch-free

    z = n.zero_skip
    for t in g.initializer:
        if t.name not in weights:
            continue
        ch, red = weights[t.name]
        w = torch.from_numpy(numpy_helper.to_array(t).copy())
        w = threshold_zero(w, z.weight_threshold, z.weight_threshold_rel)
        if n.weights.format in INT_FORMATS and n.weights.granularity != "per_block":
            wq = int_codes(w, n.weights, channel_axis=ch).values
        else:
            wq = fake_quantise(w, n.weights, channel_axis=ch, reduce_axis=red)
        t.CopyFrom(numpy_helper.from_array(wq.numpy().astype(np.float32), t.name))


def _site_nodes(b: _Builder, n: NumericsSpec, site: Site, idx: int, delta: bool) -> tuple[str, str | None]:
    """Append the nodes of one activation site; returns (output tensor, previous-step input)."""
    z, td, af = n.zero_skip, n.temporal_delta, n.activations
    x = b.threshold(site.tensor, z.act_threshold, z.act_threshold_rel)
    if not (delta and site.weighted and td.enabled):
        return b.quantise(x, af, site.key), None
    prev = f"pj_prev_{idx}"
    limit = b.const(td.threshold)
    if td.threshold_rel > 0:
        peak = b.op("ReduceMax", [b.op("Abs", [x])], keepdims=0)
        limit = b.op("Max", [limit, b.op("Mul", [peak, b.const(td.threshold_rel)])])
    diff = b.op("Sub", [x, prev])
    if af.format in INT_FORMATS:  # Δ in units of the step's activation scale (numerics_emulate)
        s = b.scale(site.key, af)
        d = b.op("Round", [b.op("Div", [diff, s])])
        small = b.op("LessOrEqual", [b.op("Mul", [b.op("Abs", [d]), s]), limit])
        d = b.op("Where", [small, b.const(0.0), d])
        if n.deltas.format in INT_QMAX:
            q = INT_QMAX[str(n.deltas.format)]
            d = b.op("Clip", [d, b.const(-q), b.const(q)])
        return b.op("Add", [prev, b.op("Mul", [d, s])]), prev
    small = b.op("LessOrEqual", [b.op("Abs", [diff]), limit])
    if n.deltas.format == "fp32":
        return b.op("Where", [small, prev, x]), prev
    dq = b.quantise(b.op("Where", [small, b.const(0.0), diff]), n.deltas, site.key + ".delta")
    return b.op("Add", [prev, dq]), prev


@dataclass(frozen=True)
class Graph:
    """A rewritten model: its bytes, and per weighted site its output and previous-step input."""

    data: bytes
    outputs: tuple[SiteOutput, ...]
    prev_inputs: tuple[PrevInput, ...]
    scales: tuple[ScaleInput, ...] = ()

    def scale_feeds(self, amax: dict[str, float], step: int) -> dict[str, np.ndarray]:
        """The scale inputs for denoising step ``step`` (per-step or per-run calibrated ranges)."""
        import torch  # lazy: torch; this module loads without the trace extra

        from models.numerics.quant import scale_from_amax  # lazy: torch; this module stays torch-free

        feeds = {}
        for scale in self.scales:
            fmt = scale.fmt
            full = f"{scale.key}@{step}" if fmt.step_scales else scale.key
            if full not in amax:
                raise KeyError(f"no calibrated range for {full}; calibrate with the same steps")
            s = scale_from_amax(torch.tensor(amax[full]), str(fmt.format), fmt.shared_exponent)
            feeds[scale.tensor] = s.numpy().astype(np.float32)
        return feeds


def build_graph(model: Any, n: NumericsSpec | None, delta: bool = False) -> Graph:
    """``model`` with ``n``'s numerics (``None``: unchanged, every site an output, to calibrate)."""
    import onnx  # lazy: onnx; this module loads without the trace extra
    from onnx import TensorProto, helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    sites, weights = _sites(g, True if n is None else n.quantise_attention)
    if n is not None:
        _check_supported(n)
        _quantise_weights(g, n, weights)
    b = _Builder()
    before: dict[int, list[Any]] = {}
    outputs: list[SiteOutput] = []
    prevs: list[PrevInput] = []
    for idx, (ni, ii, site) in enumerate(sites):
        out = site.tensor
        if n is not None:
            start = len(b.nodes)
            out, prev = _site_nodes(b, n, site, idx, delta)
            before.setdefault(ni, []).extend(b.nodes[start:])
            g.node[ni].input[ii] = out
            if prev is not None:
                g.input.append(helper.make_tensor_value_info(prev, TensorProto.FLOAT, None))
                prevs.append(PrevInput(len(outputs), prev))
        if site.weighted or n is None:
            outputs.append(SiteOutput(site, out))
    ordered = []
    for i, node in enumerate(g.node):
        ordered.extend(before.get(i, []))
        ordered.append(node)
    del g.node[:]
    g.node.extend(ordered)
    g.initializer.extend(b.inits)
    for scale in b.scales:
        g.input.append(helper.make_tensor_value_info(scale.tensor, TensorProto.FLOAT, []))
    existing = {o.name for o in g.output}
    for o in outputs:
        if o.tensor not in existing:
            g.output.append(helper.make_tensor_value_info(o.tensor, TensorProto.FLOAT, None))
            existing.add(o.tensor)
    fp8 = (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2)
    if any(o.op_type == "Cast" and o.attribute[0].i in fp8 for o in b.nodes):
        for op in m.opset_import:
            if op.domain in ("", "ai.onnx") and op.version < 19:
                op.version = 19  # FLOAT8 casts need opset 19
    return Graph(m.SerializeToString(), tuple(outputs), tuple(prevs), tuple(b.scales))
