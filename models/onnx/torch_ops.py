"""ONNX operators as torch calls: what :class:`models.onnx.torch_module.OnnxTorch` executes per node.

Every op takes ``(inputs, attrs, opset)`` and returns its outputs. Values are torch tensors on
the model's device, or *host* values (``numpy`` integer arrays, and the float constants read
as attributes, e.g. Resize scales): shape arithmetic (``Shape`` → ``Concat`` → ``Reshape``)
stays in numpy, so it costs no device op, no sync, and no entry in the per-op profile.
Semantics follow the ONNX operator spec (https://onnx.ai/onnx/operators/) for the opsets in
:data:`OPSET_RANGE`; attribute combinations torch cannot express exactly raise TraceError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from accelerator.errors import TraceError

Value = Any  # torch.Tensor | np.ndarray | None (an omitted optional input)
OpFn = Callable[[list[Value], dict[str, Any], int], list[Value]]

#: Default-domain opsets whose semantics the ops below follow (Split/Squeeze/Unsqueeze/Clip
#: moved attributes to inputs at 11–18; older graphs are read through the attribute forms).
OPSET_RANGE = (7, 21)

#: Inputs read as attribute-like values on the host (never a device tensor).
HOST_INPUTS: dict[str, frozenset[int]] = {
    "Reshape": frozenset({1}), "Unsqueeze": frozenset({1}), "Squeeze": frozenset({1}),
    "Split": frozenset({1}), "Resize": frozenset({1, 2, 3}),
}  # fmt: skip


def ints(v: Value) -> list[int]:
    """An integer list from a host value (or a CPU tensor); a device tensor would sync."""
    out: list[int] = np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v, dtype=np.int64).reshape(-1).tolist()
    return out


def floats(v: Value) -> list[float]:
    arr = np.asarray(v.float().cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
    out: list[float] = arr.reshape(-1).tolist()
    return out


def _bin(fn: Callable[[Any, Any], Any], np_fn: Callable[[Any, Any], Any]) -> OpFn:
    def op(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
        a, b = ins
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return [np.asarray(np_fn(a, b)).astype(a.dtype)]
        return [fn(a, b)]

    return op


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> OpFn:
    return lambda ins, attrs, opset: [fn(ins[0])]


def _div(a: Any, b: Any) -> Any:
    if not a.is_floating_point():
        return torch.div(a, b, rounding_mode="trunc")  # ONNX integer Div truncates
    return torch.div(a, b)


def _np_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu":
        return np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))
    return np.asarray(a / b)


def _shape(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    dims = tuple(ins[0].shape)[attrs.get("start", 0) : attrs.get("end", None)]
    return [np.array(dims, dtype=np.int64)]


def _reshape(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x, shape = ins[0], ints(ins[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


def _axes(ins: list[Value], attrs: dict[str, Any]) -> list[int] | None:
    if len(ins) > 1 and ins[1] is not None:
        return ints(ins[1])
    return list(attrs["axes"]) if "axes" in attrs else None


def _unsqueeze(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x, axes = ins[0], _axes(ins, attrs) or []
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = np.expand_dims(x, a) if isinstance(x, np.ndarray) else x.unsqueeze(a)
    return [x]


def _squeeze(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x, axes = ins[0], _axes(ins, attrs)
    if isinstance(x, np.ndarray):
        return [np.squeeze(x, axis=None if axes is None else tuple(axes))]
    return [x.squeeze() if axes is None else x.squeeze(tuple(axes))]


def _concat(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    axis = attrs["axis"]
    if all(isinstance(v, np.ndarray) for v in ins):
        return [np.concatenate(ins, axis=axis)]
    return [torch.cat(ins, dim=axis)]


def _split(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x, axis, n_out = ins[0], attrs.get("axis", 0), attrs["_outputs"]  # the node's output count
    if len(ins) > 1 and ins[1] is not None:
        sizes: int | list[int] = ints(ins[1])
    elif "split" in attrs:
        sizes = list(attrs["split"])
    else:  # ONNX: equal parts of ceil(dim / n); the last one may be smaller (opset 18)
        sizes = math.ceil(x.shape[axis] / attrs.get("num_outputs", n_out))
    out = list(torch.split(x, sizes, dim=axis))
    if len(out) != n_out:
        raise TraceError(f"Split of dim {x.shape[axis]} into {sizes} gives {len(out)} parts, node has {n_out}")
    return out


def _gemm(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    trans_a, trans_b = attrs.get("transA", 0), attrs.get("transB", 0)
    if not trans_a and trans_b and alpha == 1.0 and beta == 1.0 and (c is None or c.ndim == 1):
        return [F.linear(a, b, c)]  # aten.addmm with the weight as stored, like nn.Linear
    a = a.t() if trans_a else a
    b = b.t() if trans_b else b
    if c is None or beta == 0.0:
        return [torch.mm(a, b) * alpha if alpha != 1.0 else torch.mm(a, b)]
    return [torch.addmm(c.expand(a.shape[0], b.shape[1]), a, b, beta=beta, alpha=alpha)]


def _pads(x: torch.Tensor, attrs: dict[str, Any], kernel: Sequence[int], strides: Sequence[int],
          dilations: Sequence[int]) -> list[int]:  # fmt: skip
    """ONNX pads ``[b1, b2, …, e1, e2, …]`` with ``auto_pad`` resolved against ``x``."""
    nd = len(kernel)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET",):
        return list(attrs.get("pads", [0] * 2 * nd))
    if auto == "VALID":
        return [0] * 2 * nd
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise TraceError(f"auto_pad {auto!r} is not an ONNX value")
    begin, end = [], []
    for i in range(nd):
        size = x.shape[2 + i]
        total = max((math.ceil(size / strides[i]) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
        small, big = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else big)
        end.append(big if auto == "SAME_UPPER" else small)
    return begin + end


def _torch_pad(pads: Sequence[int]) -> list[int]:
    """ONNX ``[b1, b2, e1, e2]`` → F.pad's last-dim-first ``[b2, e2, b1, e1]``."""
    nd = len(pads) // 2
    out: list[int] = []
    for i in reversed(range(nd)):
        out += [pads[i], pads[nd + i]]
    return out


def _conv(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        raise TraceError(f"Conv with a {w.ndim}-d weight is not supported")
    strides = list(attrs.get("strides", [1] * nd))
    dilations = list(attrs.get("dilations", [1] * nd))
    pads = _pads(x, attrs, w.shape[2:], strides, dilations)
    if pads[:nd] != pads[nd:]:
        x, pads = F.pad(x, _torch_pad(pads)), [0] * 2 * nd
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return [conv(x, w, b, stride=strides, padding=pads[:nd], dilation=dilations, groups=attrs.get("group", 1))]


def _average_pool(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x, kernel = ins[0], list(attrs["kernel_shape"])
    nd = len(kernel)
    strides = list(attrs.get("strides", [1] * nd))
    if list(attrs.get("dilations", [1] * nd)) != [1] * nd:
        raise TraceError("AveragePool with dilations is not supported")
    pads = _pads(x, attrs, kernel, strides, [1] * nd)
    if pads[:nd] != pads[nd:] or any(2 * p > k for p, k in zip(pads[:nd], kernel, strict=True)):
        raise TraceError(f"AveragePool pads {pads} (asymmetric or over half the kernel) are not supported")
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
    return [pool(x, kernel, strides, pads[:nd], ceil_mode=bool(attrs.get("ceil_mode", 0)),
                 count_include_pad=bool(attrs.get("count_include_pad", 0)))]  # fmt: skip


_RESIZE_MODES: dict[tuple[str, str, str], tuple[str, bool | None]] = {
    # (mode, coordinate_transformation_mode, nearest_mode) -> (F.interpolate mode, align_corners)
    ("nearest", "asymmetric", "floor"): ("nearest", None),
    ("nearest", "half_pixel", "round_prefer_ceil"): ("nearest-exact", None),
    ("linear", "half_pixel", ""): ("linear", False),
    ("linear", "pytorch_half_pixel", ""): ("linear", False),
    ("linear", "align_corners", ""): ("linear", True),
    ("cubic", "half_pixel", ""): ("cubic", False),
    ("cubic", "align_corners", ""): ("cubic", True),
}


def _resize(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x = ins[0]
    mode = attrs.get("mode", "nearest")
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel" if opset >= 11 else "asymmetric")
    nearest = attrs.get("nearest_mode", "round_prefer_floor") if mode == "nearest" else ""
    key = (mode, ctm, nearest)
    exact = key in _RESIZE_MODES and not attrs.get("antialias", 0) and not attrs.get("exclude_outside", 0)
    if not exact or (mode == "cubic" and float(attrs.get("cubic_coeff_a", -0.75)) != -0.75):
        raise TraceError(f"Resize mode={mode} coordinate_transformation_mode={ctm} nearest_mode={nearest or '-'} "
                         f"(antialias/exclude_outside/cubic_coeff_a as set) has no exact torch equivalent")  # fmt: skip
    tmode, align = _RESIZE_MODES[key]
    nd = x.ndim - 2
    if tmode in ("linear", "cubic"):
        tmode = {1: "linear", 2: "bilinear", 3: "trilinear"}[nd] if tmode == "linear" else "bicubic"
    axes = list(attrs.get("axes", range(x.ndim)))
    scales_in = ins[2] if opset >= 11 and len(ins) > 2 else (ins[1] if opset < 11 else None)
    sizes_in = ins[3] if opset >= 11 and len(ins) > 3 else None
    full_scale = [1.0] * x.ndim
    full_size = list(x.shape)
    if sizes_in is not None and len(ints(sizes_in)):
        if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise TraceError("Resize keep_aspect_ratio_policy other than stretch is not supported")
        for a, size in zip(axes, ints(sizes_in), strict=True):
            full_size[a] = size
        if full_size[:2] != list(x.shape[:2]):
            raise TraceError("Resize of the batch or channel axis is not supported")
        return [F.interpolate(x, size=full_size[2:], mode=tmode, align_corners=align)]
    if scales_in is None:
        raise TraceError("Resize without scales or sizes")
    for a, scale in zip(axes, floats(scales_in), strict=True):
        full_scale[a] = scale
    if full_scale[:2] != [1.0, 1.0]:
        raise TraceError("Resize of the batch or channel axis is not supported")
    out = F.interpolate(x, scale_factor=full_scale[2:], mode=tmode, align_corners=align)
    return [out]


def _clip(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x = ins[0]
    lo = ins[1] if len(ins) > 1 else attrs.get("min")
    hi = ins[2] if len(ins) > 2 else attrs.get("max")
    return [torch.clamp(x, min=lo, max=hi)]


def _softmax(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    x = ins[0]
    if opset >= 13:
        return [torch.softmax(x, dim=attrs.get("axis", -1))]
    axis = attrs.get("axis", 1) % x.ndim  # opset < 13: softmax over the flattened [axis:] dims
    return [torch.softmax(x.reshape(math.prod(x.shape[:axis]), -1), dim=1).reshape(x.shape)]


def _instance_norm(ins: list[Value], attrs: dict[str, Any], opset: int) -> list[Value]:
    """Instance norm as ``group_norm`` with one group per channel: the same statistics (biased
    variance per sample and channel), one aten op instead of ``instance_norm``'s decomposition
    into two ``repeat``s of the affine parameters, an ``empty`` and a ``batch_norm``."""
    x, scale, bias = ins
    return [F.group_norm(x, x.shape[1], weight=scale, bias=bias, eps=float(attrs.get("epsilon", 1e-5)))]


OPS: dict[str, OpFn] = {
    "Add": _bin(torch.add, np.add), "Sub": _bin(torch.sub, np.subtract), "Mul": _bin(torch.mul, np.multiply),
    "Div": _bin(_div, _np_div), "Pow": _bin(torch.pow, np.power),
    "Sigmoid": _unary(torch.sigmoid), "Reciprocal": _unary(torch.reciprocal), "Sqrt": _unary(torch.sqrt),
    "Log": _unary(torch.log), "Cos": _unary(torch.cos), "Sin": _unary(torch.sin), "Exp": _unary(torch.exp),
    "Relu": _unary(torch.relu), "Tanh": _unary(torch.tanh), "Neg": _unary(torch.neg),
    "Identity": lambda ins, attrs, opset: [ins[0]],
    "MatMul": lambda ins, attrs, opset: [torch.matmul(ins[0], ins[1])],
    "Einsum": lambda ins, attrs, opset: [torch.einsum(attrs["equation"], *ins)],
    "Shape": _shape, "Reshape": _reshape, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Concat": _concat,
    "Gemm": _gemm, "Conv": _conv, "AveragePool": _average_pool, "Resize": _resize, "Clip": _clip,
    "Softmax": _softmax, "InstanceNormalization": _instance_norm, "Split": _split,
}  # fmt: skip

#: Ops that run in numpy when every input is a host value.
HOST_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Shape", "Reshape", "Unsqueeze", "Squeeze", "Concat",
                      "Identity"})  # fmt: skip

SUPPORTED = frozenset(OPS)


def to_device(v: Value, like: torch.Tensor) -> Value:
    """A host value as a tensor next to ``like`` (float constants take ``like``'s dtype)."""
    if not isinstance(v, np.ndarray):
        return v
    t = torch.from_numpy(np.ascontiguousarray(v))
    if t.is_floating_point() and like.is_floating_point():
        return t.to(like.device, like.dtype)
    return t.to(like.device)
