"""Run an ONNX graph as a ``torch.nn.Module``: each node becomes real torch ops on any device.

Why: onnxruntime runs the trained terrain UNet on the CPU only, and the GPU machines have
torch but no onnx/onnxruntime. :class:`OnnxTorch` executes the graph's nodes in order with
the ops of :mod:`models.onnx.torch_ops`, so CUDA runs real kernels and the per-op profiler
(a ``TorchDispatchMode``, :mod:`models.gpu.ops`) sees real aten ops.

- weights: float initializers are parameters (``requires_grad=False``) of submodules named
  after the exporter's module scopes (node metadata ``pkg.torch.onnx.name_scopes``), so the
  profiler's module paths read like the original model's
  (``network.input_blocks.1.0.in_layers.2``); ``.to(device, dtype)`` moves and casts them;
- shape arithmetic (``Shape``, integer constants) stays in numpy on the host: no device op,
  no sync (:mod:`models.onnx.torch_ops`);
- two sources, one :class:`GraphSpec`: :func:`from_onnx` (needs the ``onnx`` package) and
  :func:`load_export`, a ``torch.save`` file written by :func:`export` that
  ``torch.load(weights_only=True)`` reads with torch alone.

CLI: ``python -m models.onnx.torch_module export terrain|FILE.onnx --out PATH [--dtype bf16|fp32]``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from accelerator.errors import TraceError
from models.onnx.torch_ops import HOST_INPUTS, HOST_OPS, OPS, SUPPORTED, Value, to_device
from models.zoo.terrain import onnx_path

EXPORT_FORMAT = "picojoule.onnx_torch"
EXPORT_VERSION = 1


@dataclass(frozen=True)
class NodeSpec:
    """One ONNX node as plain python: attribute values are ints, floats, strs, lists, tensors."""

    op: str
    name: str
    inputs: tuple[str, ...]  # "" = an omitted optional input
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    scope: str  # module path of the exporter's scope ("" = the root)


@dataclass(frozen=True)
class GraphSpec:
    """A whole graph: nodes in execution order, initializers, graph inputs/outputs, metadata."""

    nodes: tuple[NodeSpec, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    initializers: dict[str, torch.Tensor]
    opset: int
    meta: dict[str, Any] = field(default_factory=dict)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scope(node: Any) -> str | None:
    """The module path of the exporter's innermost scope; segments like ``slice(1, None)`` dropped."""
    for p in node.metadata_props:
        if p.key == "pkg.torch.onnx.name_scopes":
            scopes = ast.literal_eval(p.value)
            if len(scopes) < 2:
                return ""
            return ".".join(s for s in str(scopes[-2]).split(".") if s and "(" not in s and " " not in s)
    return None


def from_onnx(path: str | Path) -> GraphSpec:
    """Read an ONNX file (``Constant`` nodes become initializers); needs the ``onnx`` package."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    inits = {t.name: torch.from_numpy(np.array(numpy_helper.to_array(t))) for t in g.initializer}
    nodes: list[NodeSpec] = []
    producer_scope: dict[str, str] = {}
    for n in g.node:
        if n.domain not in ("", "ai.onnx"):
            raise TraceError(f"ONNX node {n.name!r} ({n.domain}::{n.op_type}) is outside the default domain")
        attrs: dict[str, Any] = {}
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, onnx.TensorProto):
                v = torch.from_numpy(np.array(numpy_helper.to_array(v)))
            elif isinstance(v, list):
                v = [x.decode() if isinstance(x, bytes) else x for x in v]
            elif not isinstance(v, (int, float, str)):
                raise TraceError(f"ONNX node {n.name!r} ({n.op_type}): attribute {a.name} of type {type(v).__name__}")
            attrs[a.name] = v
        if n.op_type == "Constant" and isinstance(attrs.get("value"), torch.Tensor):
            inits[n.output[0]] = attrs["value"]
            continue
        scope = _scope(n)
        if scope is None:  # nodes the exporter's optimiser added: the scope of their first input
            scope = producer_scope.get(n.input[0], "") if n.input else ""
        for o in n.output:
            producer_scope[o] = scope
        nodes.append(NodeSpec(n.op_type, n.name, tuple(n.input), tuple(n.output), attrs, scope))
    meta = {
        "source": "onnx", "onnx_file": Path(path).name, "source_sha256": sha256_file(path),
        "opset": opset, "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "onnx_metadata": {p.key: p.value for p in model.metadata_props},
    }  # fmt: skip
    inputs = tuple(i.name for i in g.input if i.name not in inits)
    return GraphSpec(tuple(nodes), inputs, tuple(o.name for o in g.output), inits, opset, meta)


def host_initializers(spec: GraphSpec) -> set[str]:
    """Initializers kept on the host: integers, and floats read only as attributes (Resize scales)."""
    uses: dict[str, list[bool]] = {}
    for n in spec.nodes:
        for i, name in enumerate(n.inputs):
            uses.setdefault(name, []).append(i in HOST_INPUTS.get(n.op, ()))
    return {k for k, t in spec.initializers.items()
            if not t.is_floating_point() or (uses.get(k) and all(uses[k]))}  # fmt: skip


@dataclass(frozen=True)
class _Node:
    """A node ready to run: its op, inputs to fetch, outputs to store, values to drop after."""

    call: Callable[[list[Value]], list[Value]]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    free: tuple[str, ...]


def _compile(n: NodeSpec, opset: int) -> Callable[[list[Value]], list[Value]]:
    host_pos = HOST_INPUTS.get(n.op, frozenset())
    attrs = {**n.attrs, "_outputs": len(n.outputs)}
    fn = OPS[n.op]
    on_host = n.op in HOST_OPS

    def call(ins: list[Value]) -> list[Value]:
        like = next((v for i, v in enumerate(ins) if isinstance(v, torch.Tensor) and i not in host_pos), None)
        if like is None:  # every input on the host: numpy, or torch on the CPU and back
            if on_host:
                return fn(ins, attrs, opset)
            cpu = [torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in ins]
            return [v.numpy() if isinstance(v, torch.Tensor) else v for v in fn(cpu, attrs, opset)]
        return fn([v if i in host_pos else to_device(v, like) for i, v in enumerate(ins)], attrs, opset)

    return call


def _run(env: dict[str, Value], nodes: tuple[_Node, ...]) -> None:
    for n in nodes:
        outs = n.call([env[k] if k else None for k in n.inputs])
        for k, v in zip(n.outputs, outs, strict=True):
            if k:
                env[k] = v
        for k in n.free:
            del env[k]


class _Scope(torch.nn.Module):
    """A module of the exporter's hierarchy: holds its weights, runs its nodes (hooks see it)."""

    def forward(self, env: dict[str, Value], nodes: tuple[_Node, ...]) -> None:
        _run(env, nodes)


class OnnxTorch(torch.nn.Module):
    """An ONNX graph as a torch module; ``forward`` takes the graph inputs in order (or by name).

    Returns the single output tensor, or a tuple when the graph has several outputs.
    """

    def __init__(self, spec: GraphSpec) -> None:
        super().__init__()
        bad = {n.op: n.name for n in spec.nodes if n.op not in SUPPORTED}
        if bad:
            listed = ", ".join(f"{op} (first at node {name!r})" for op, name in sorted(bad.items()))
            raise TraceError(f"ONNX ops not supported by models.onnx.torch_module: {listed}; "
                             f"supported: {', '.join(sorted(SUPPORTED))}")  # fmt: skip
        self.input_names, self.output_names, self.meta = spec.inputs, spec.outputs, dict(spec.meta)
        host = host_initializers(spec)
        self._host: dict[str, np.ndarray] = {}
        self._refs: list[tuple[str, torch.nn.Module, str]] = []  # initializer -> (module, parameter)
        for name, t in spec.initializers.items():
            if name in host:
                self._host[name] = (t.float() if t.is_floating_point() else t).numpy().copy()
                continue
            path, _, attr = name.rpartition(".")
            mod = self._module(path) if path else self
            if mod is None or not attr.isidentifier() or hasattr(mod, attr):
                mod, attr = self, f"init_{len(self._refs)}"
            mod.register_parameter(attr, torch.nn.Parameter(t.clone(), requires_grad=False))
            self._refs.append((name, mod, attr))
        last: dict[str, int] = {}
        for i, n in enumerate(spec.nodes):
            for k in (*n.inputs, *n.outputs):
                last[k] = i
        keep = set(spec.initializers) | set(spec.outputs) | {""}
        self._runs: list[tuple[torch.nn.Module | None, tuple[_Node, ...]]] = []
        for i, n in enumerate(spec.nodes):
            free = tuple(k for k in dict.fromkeys((*n.inputs, *n.outputs)) if last.get(k) == i and k not in keep)
            node = _Node(_compile(n, spec.opset), n.inputs, n.outputs, free)
            mod = self._module(n.scope) if n.scope else None
            if self._runs and self._runs[-1][0] is mod:
                self._runs[-1] = (mod, (*self._runs[-1][1], node))
            else:
                self._runs.append((mod, (node,)))

    def _module(self, path: str) -> torch.nn.Module | None:
        """The submodule at ``path`` (created on demand); ``None`` if a name there is taken."""
        mod: torch.nn.Module = self
        for part in path.split("."):
            child = mod._modules.get(part)
            if child is None:
                if hasattr(mod, part):
                    return None
                child = _Scope()
                mod.add_module(part, child)
            mod = child
        return mod

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> Any:
        if len(args) + len(kwargs) != len(self.input_names) or set(kwargs) - set(self.input_names):
            raise TraceError(f"the graph takes inputs {', '.join(self.input_names)}; "
                             f"got {len(args)} positional and {sorted(kwargs)}")  # fmt: skip
        env: dict[str, Value] = dict(self._host)
        for name, mod, attr in self._refs:
            env[name] = mod._parameters[attr]
        env.update(zip(self.input_names, args, strict=False))
        env.update(kwargs)
        for scope, nodes in self._runs:
            if scope is None:
                _run(env, nodes)
            else:
                scope(env, nodes)
        outs = tuple(torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in map(env.get, self.output_names))
        return outs[0] if len(outs) == 1 else outs


def export(spec: GraphSpec, out: str | Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """Write ``spec`` as one ``torch.save`` file (device floats cast to ``dtype``).

    Deterministic: the same graph and dtype give the same bytes, whatever the file's name.
    Host constants (integers, Resize scales) keep their dtype.
    """
    host = host_initializers(spec)
    inits = {k: (t.to(dtype) if t.is_floating_point() and k not in host else t).contiguous()
             for k, t in spec.initializers.items()}  # fmt: skip
    doc = {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "opset": spec.opset,
        "inputs": list(spec.inputs), "outputs": list(spec.outputs),
        "nodes": [{"op": n.op, "name": n.name, "inputs": list(n.inputs), "outputs": list(n.outputs),
                   "attrs": n.attrs, "scope": n.scope} for n in spec.nodes],
        "initializers": inits,
        "meta": {**spec.meta, "dtype": str(dtype).removeprefix("torch.")},
    }  # fmt: skip
    buf = io.BytesIO()  # a file object: torch.save names the archive "archive", not after the file
    torch.save(doc, buf)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def load_export(path: str | Path) -> GraphSpec:
    """Read a file written by :func:`export` (``torch.load(weights_only=True)``: no code runs)."""
    try:
        doc = torch.load(str(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise TraceError(f"{path}: not a readable torch export of an ONNX graph: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT or doc.get("version") != EXPORT_VERSION:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise TraceError(f"{path}: expected format {EXPORT_FORMAT} v{EXPORT_VERSION}, got {found!r}")
    nodes = tuple(NodeSpec(d["op"], d["name"], tuple(d["inputs"]), tuple(d["outputs"]), d["attrs"], d["scope"])
                  for d in doc["nodes"])  # fmt: skip
    meta = {**doc["meta"], "source": "export", "export_sha256": sha256_file(path), "export_file": Path(path).name}
    return GraphSpec(nodes, tuple(doc["inputs"]), tuple(doc["outputs"]), doc["initializers"], doc["opset"], meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.onnx.torch_module", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write a torch-only export of an ONNX graph")
    ex.add_argument("model", help="'terrain' (the zoo's ONNX file) or a path to an .onnx file")
    ex.add_argument("--out", required=True, help="the export file (.pt)")
    ex.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16", help="weights' dtype (default bf16)")
    args = ap.parse_args(argv)
    try:
        if args.model == "terrain":
            src: Path = onnx_path()
        else:
            src = Path(args.model)
        spec = from_onnx(src)
    except (OSError, TraceError) as exc:
        print(f"error: {exc}")
        return 2
    out = export(spec, args.out, torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    size = out.stat().st_size
    print(f"{out}: {size / 1e6:.1f} MB, {len(spec.nodes)} nodes, sha256 {sha256_file(out)} (from {src.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
