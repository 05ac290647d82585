"""The TorchDispatchMode recorder: every executed aten op of a model call, with real values.

Why dispatch mode (docs/architecture.md): ``torch.fx`` fails on diffusers models and ``torch.export``
sees no values. The recorder is entered only around model calls (the zoo's step hook), so
scheduler arithmetic between calls is not part of the workload. Per call it

- counts every dispatched aten op (``aten_ops``, views included: the number docs/tracing.md quotes);
- skips view ops (no data moves) and records the rest as :class:`~models.workload.Op`
  (kind, GEMM view, MACs, FLOPs, bytes, module path, and the ids of the tensors it reads and
  writes, :mod:`models.trace.tensor_ids`) on the first call;
- on later calls checks that the op sequence is the same (ops are matched across steps by
  sequence index) and, with statistics on, records per-op value statistics.

Statistics are computed on an op's inputs *before* the op runs, so in-place ops cannot
overwrite them; the values kept for the next step's delta are copies (subsampled to at most
``StatsConfig.delta_max_elements``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from accelerator.errors import TraceError
from models.trace.ops import classify, cost, is_view, packet_name
from models.trace.stats import MacOperand, StatsCollector, StatsConfig
from models.trace.tensor_ids import TensorIds
from models.workload import Op

MAC_KINDS = ("conv", "gemm", "attention")


def _tensors(tree: Any) -> list[torch.Tensor]:
    leaves, _ = tree_flatten(tree)
    return [x for x in leaves if isinstance(x, torch.Tensor)]


def _nbytes(t: torch.Tensor) -> int:
    return int(t.numel() * t.element_size())


def _storage_id(t: torch.Tensor) -> int:
    """Identity of a tensor's storage, shared by its views (works for fake tensors too)."""
    return int(t.untyped_storage()._cdata)


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


class ModuleTracker:
    """Keeps the dotted path of the module whose forward is running (hooks, no globals)."""

    def __init__(self, model: Any) -> None:
        self.stack: list[str] = []
        self._handles: list[Any] = []
        if isinstance(model, torch.nn.Module):
            for name, module in model.named_modules():
                if not name:
                    continue
                self._handles.append(module.register_forward_pre_hook(self._push(name)))
                self._handles.append(module.register_forward_hook(self._pop(name)))

    def _push(self, name: str) -> Any:
        def hook(_module: Any, _inputs: Any) -> None:
            self.stack.append(name)

        return hook

    def _pop(self, name: str) -> Any:
        def hook(_module: Any, _inputs: Any, _output: Any) -> None:
            if self.stack and self.stack[-1] == name:
                self.stack.pop()

        return hook

    @property
    def current(self) -> str:
        return self.stack[-1] if self.stack else ""

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


class Recorder(TorchDispatchMode):
    """Records the ops of successive model calls; see the module docstring."""

    def __init__(self, model: Any, stats: StatsConfig | None) -> None:
        super().__init__()
        self.stats_config = stats
        self.modules = ModuleTracker(model)
        self.param_storages: set[int] = set()
        if isinstance(model, torch.nn.Module):
            for t in [*model.parameters(), *model.buffers()]:
                self.param_storages.add(_storage_id(t))
        self.ops: list[Op] = []
        self.aten_ops: list[int] = []  # per call, views included
        self.kind_counts: Counter[str] = Counter()
        self.unsupported: Counter[str] = Counter()
        self.stat_rows: list[list[dict[str, float | None]]] = []  # [call][op]
        self.collector = StatsCollector(stats) if stats is not None else None
        self.tensor_ids = TensorIds()
        self._call = -1
        self._index = 0

    # -- per call ------------------------------------------------------------------------------

    def begin_call(self) -> None:
        self._call += 1
        self._index = 0
        self.tensor_ids = TensorIds()  # ids are per step
        self.aten_ops.append(0)
        if self.stats_config is not None:
            self.stat_rows.append([])

    def end_call(self) -> None:
        if self._call > 0 and self._index != len(self.ops):
            raise TraceError(
                f"model call {self._call} ran {self._index} ops but call 0 ran {len(self.ops)}: "
                "the op sequence changes between steps, so ops cannot be matched by index"
            )

    @property
    def calls(self) -> int:
        return self._call + 1

    def close(self) -> None:
        self.modules.close()
        if self.collector is not None:
            self.collector.clear()

    # -- dispatch ------------------------------------------------------------------------------

    def _is_param(self, t: torch.Tensor) -> bool:
        try:
            return _storage_id(t) in self.param_storages
        except (RuntimeError, NotImplementedError):
            return False

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "namespace", "aten") != "aten":
            # prim.device and friends: metadata queries (fake tensors send them), no work
            return func(*args, **kwargs)
        self.aten_ops[-1] += 1
        if is_view(func):
            return func(*args, **kwargs)
        index = self._index
        self._index += 1
        inputs = _tensors((args, kwargs))
        if self._call == 0:
            in_numels = [t.numel() for t in inputs]
            params_in = [self._is_param(t) for t in inputs]
            # before the op runs: an in-place op reads the old version and writes a new id
            reads = tuple(self.tensor_ids.read(t) for t, p in zip(inputs, params_in, strict=True) if not p)
            row = self._stats(func, args, inputs, index) if self.stats_config else None
            out = func(*args, **kwargs)
            op = self._make_op(func, args, kwargs, inputs, params_in, in_numels, out)
            self.ops.append(replace(op, reads=reads, writes=self.tensor_ids.writes(_tensors(out))))
        else:
            expected = self.ops[index].name if index < len(self.ops) else None
            if expected != str(func):
                raise TraceError(
                    f"model call {self._call}, op {index}: ran {func} where call 0 ran {expected}; "
                    "the op sequence changes between steps, so ops cannot be matched by index"
                )
            row = self._stats(func, args, inputs, index) if self.stats_config else None
            out = func(*args, **kwargs)
        if row is not None:
            self.stat_rows[-1].append(row)
        return out

    def _make_op(
        self,
        func: Any,
        args: Any,
        kwargs: dict[str, Any],
        inputs: list[torch.Tensor],
        params_in: list[bool],
        in_numels: list[int],
        out: Any,
    ) -> Op:
        outputs = _tensors(out)
        first = outputs[0] if outputs else None
        out_shape = tuple(int(d) for d in first.shape) if first is not None else ()
        c = cost(func, args, kwargs, in_numels, out_shape)
        act_bytes = sum(_nbytes(t) for t, p in zip(inputs, params_in, strict=True) if not p)
        weight_bytes = sum(_nbytes(t) for t, p in zip(inputs, params_in, strict=True) if p)
        weight_is_param = c.gemm is not None and c.kind != "attention" and any(params_in)
        if c.kind == "other":
            self.unsupported[packet_name(func)] += 1
        self.kind_counts[c.kind] += 1
        dtype_src = first if first is not None else (inputs[0] if inputs else None)
        return Op(
            name=str(func),
            kind=c.kind,
            module=self.modules.current,
            dtype=_dtype_name(dtype_src) if dtype_src is not None else "float32",
            input_shapes=tuple(tuple(int(d) for d in t.shape) for t in inputs),
            output_shape=out_shape,
            gemm=c.gemm,
            macs=int(c.macs),
            flops=int(c.flops),
            act_bytes=act_bytes,
            weight_bytes=weight_bytes,
            out_bytes=_nbytes(first) if first is not None else 0,
            weight_is_param=bool(weight_is_param),
            params=c.params,
        )

    def _stats(self, func: Any, args: Any, inputs: list[torch.Tensor], index: int) -> dict:
        assert self.collector is not None
        acts: list[torch.Tensor] = []
        weights: list[torch.Tensor] = []
        for t in inputs:
            if t.is_floating_point():
                (weights if self._is_param(t) else acts).append(t)
        mac_operand = None
        kind = classify(func)
        if kind in MAC_KINDS:
            act_index = 1 if packet_name(func) in ("addmm", "baddbmm", "_addmm_activation") else 0
            x = args[act_index]
            if isinstance(x, torch.Tensor) and x.is_floating_point() and not self._is_param(x):
                mac_operand = MacOperand(x, 1 if kind == "conv" else -1)
        return self.collector.row(index, acts, weights, mac_operand)
