"""ONNX frontend: an ONNX model run by onnxruntime becomes the same Workload as a torch trace.

- shapes: ONNX shape inference (``data_prop=True``) with the graph inputs fixed to the
  sampler's shapes; values that inference leaves unknown (e.g. after shape-computed
  ``Reshape``) take the shape onnxruntime actually produced;
- FLOPs per node: :mod:`models.onnx.graph` (same rules as the torch tracer);
- values: every floating intermediate is exposed as a graph output of a second session, so
  each call returns the values the recorded ops read; statistics are computed from them by
  the same :class:`~models.trace.stats.StatsCollector` as the torch tracer.

:class:`OnnxModel` is what an ONNX zoo entry's ``build`` returns: ``model.run(feeds)`` gives
the model's outputs. :class:`RecordingOnnxModel` has the same interface and records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper, shape_inference

from accelerator.errors import TraceError
from models.onnx.graph import FLOAT_TYPES, OnnxGraph, Shape, ValueInfo, analyse
from models.trace.provenance import provenance_for
from models.trace.stats import MacOperand, StatsCollector, StatsConfig
from models.workload import STAT_FIELDS, Workload, stats_table
from models.zoo import SampleOptions, ZooEntry

UNKNOWN = ValueInfo(None, 0)  # a value missing from the table: shape and type unknown


class OnnxModel:
    """An onnxruntime CPU session over one ONNX file; ``run(feeds)`` returns output arrays."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.proto = onnx.load(str(self.path))
        self.session = _session(self.proto)
        self.output_names = [o.name for o in self.proto.graph.output]

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.session.run(self.output_names, dict(feeds)))

    @property
    def params(self) -> int:
        return sum(int(np.prod(i.dims)) for i in self.proto.graph.initializer if i.data_type in FLOAT_TYPES)


def _session(proto: onnx.ModelProto) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])


def _inferred_shapes(
    proto: onnx.ModelProto, feeds: Mapping[str, np.ndarray]
) -> tuple[onnx.ModelProto, dict[str, ValueInfo]]:
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    for value in fixed.graph.input:
        if value.name in feeds:
            for d, size in zip(value.type.tensor_type.shape.dim, feeds[value.name].shape, strict=True):
                d.ClearField("dim_param")
                d.dim_value = int(size)
    inferred = shape_inference.infer_shapes(fixed, strict_mode=False, data_prop=True)
    table: dict[str, ValueInfo] = {}
    graph = inferred.graph
    for vi in [*graph.value_info, *graph.input, *graph.output]:
        tt = vi.type.tensor_type
        dims: Shape | None = None
        if tt.HasField("shape"):
            sizes = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            dims = None if any(s is None for s in sizes) else tuple(int(s or 0) for s in sizes)
        table[vi.name] = ValueInfo(dims, tt.elem_type)
    return inferred, table


class RecordingOnnxModel(OnnxModel):
    """An :class:`OnnxModel` that records the op structure and per-call statistics."""

    def __init__(self, path: str | Path, stats: StatsConfig | None) -> None:
        super().__init__(path)
        self.collector = StatsCollector(stats) if stats is not None else None
        self.graph: OnnxGraph | None = None
        self.stat_rows: list[list[dict[str, float | None]]] = []
        self.shape_sources: dict[str, int] = {}
        self._exposed: list[str] = []
        self._weights: dict[str, torch.Tensor] = {}
        self._recording = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        self._recording = True
        try:
            yield
        finally:
            self._recording = False

    def _prepare(self, feeds: Mapping[str, np.ndarray]) -> dict[str, ValueInfo]:
        inferred, shapes = _inferred_shapes(self.proto, feeds)
        existing = {o.name for o in inferred.graph.output}
        exposed = inferred
        for node in inferred.graph.node:
            for name in node.output:
                elem = shapes.get(name, UNKNOWN).elem_type
                if name and name not in existing and elem in (0, *FLOAT_TYPES):
                    exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                    self._exposed.append(name)
        for o in exposed.graph.output:
            if not o.type.HasField("tensor_type"):
                o.type.tensor_type.elem_type = shapes.get(o.name, UNKNOWN).elem_type or 1
        self.session = _session(exposed)
        return shapes

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if not self._recording:
            return super().run(feeds)
        shapes = self._prepare(feeds) if self.graph is None else None
        names = self.output_names + self._exposed
        arrays = self.session.run(names, dict(feeds))
        values = dict(zip(names, arrays, strict=True))
        values.update(feeds)
        if shapes is not None:
            inferred = sum(1 for v in shapes.values() if v.shape is not None)
            filled = 0
            for name, array in values.items():
                known = shapes.get(name, UNKNOWN)
                if known.shape is None:
                    filled += 1
                    shapes[name] = ValueInfo(tuple(array.shape), known.elem_type or 1)
            self.shape_sources = {"shape_inference": inferred, "onnxruntime": filled}
            self.graph = analyse(self.proto, shapes)
        if self.collector is not None:
            self.stat_rows.append(self._stats(values))
        return [values[n] for n in self.output_names]

    def _weight(self, name: str) -> torch.Tensor:
        if name not in self._weights:
            init = next(i for i in self.proto.graph.initializer if i.name == name)
            self._weights[name] = torch.from_numpy(np.array(numpy_helper.to_array(init)))
        return self._weights[name]

    def _stats(self, values: Mapping[str, np.ndarray]) -> list[dict[str, float | None]]:
        assert self.graph is not None and self.collector is not None
        rows = []
        self.collector.next_call()
        for index, g in enumerate(self.graph.graph_ops):
            keys = [n for n in g.act_inputs if n in values]
            acts = [torch.from_numpy(np.asarray(values[n])) for n in keys]
            weights = [self._weight(n) for n in g.weight_inputs]
            mac = None
            site = g.mac_operand
            if site is not None and site.tensor in values:
                mac = MacOperand(torch.from_numpy(np.asarray(values[site.tensor])), site.reduce_dim)
            rows.append(self.collector.row(index, acts, weights, mac, act_keys=keys))
        return rows


class _Stop(Exception):
    pass


def trace_entry(entry: ZooEntry, options: SampleOptions, stats: StatsConfig | None) -> Workload:
    """Trace an ONNX zoo entry's sampling loop (called by :func:`models.trace.tracer.trace`)."""
    path = entry._impl().onnx_path(entry)
    model = RecordingOnnxModel(path, stats)
    calls = [0, 0]  # recorded, total

    @contextlib.contextmanager
    def hook(step: int, total: int) -> Iterator[None]:
        calls[1] = max(calls[1], total)
        with model.recording():
            yield
        calls[0] += 1
        if stats is None:
            raise _Stop

    try:
        entry.sample(model, options, hook)
    except _Stop:
        pass
    if model.graph is None:
        raise TraceError(f"model {entry.name!r}: the sampler made no model call through the hook")
    if stats is not None and calls[0] != calls[1]:
        raise TraceError(f"recorded {calls[0]} of {calls[1]} model calls")
    graph = model.graph
    table: dict[str, tuple[tuple[float | None, ...], ...]] = {}
    if stats is not None:
        per_call = [stats_table(rows) for rows in model.stat_rows]
        for name in STAT_FIELDS:
            if any(name in t for t in per_call):
                table[name] = tuple(tuple(t.get(name, [None] * len(graph.ops))) for t in per_call)
    provenance = provenance_for(entry, options, None, None, stats)
    provenance.update(
        {
            "params": graph.params,
            "execution": "onnxruntime",
            "onnx_file": path.name,
            "onnx_nodes": graph.nodes,
            "onnx_skipped_views": graph.skipped_views,
            "onnx_skipped_shape_nodes": graph.skipped_shape_nodes,
            "onnx_shapes": model.shape_sources,
            "onnx_metadata": {p.key: p.value for p in model.proto.metadata_props},
        }
    )
    return Workload(
        ops=graph.ops,
        steps=calls[1],
        provenance=provenance,
        stats=table,
        unsupported=graph.unsupported,
    )
