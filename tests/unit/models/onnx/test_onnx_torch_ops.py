"""Each ONNX op of models.onnx.torch_module against onnxruntime, on one-node graphs, attribute by attribute.

The cases cover the opset differences (Split sizes as input vs attribute vs ``num_outputs``,
Squeeze/Unsqueeze axes as input vs attribute, Clip bounds as inputs vs attributes, Softmax
before/after opset 13) and the attributes torch spells differently (Gemm trans/alpha/beta,
Conv asymmetric pads / SAME_UPPER / dilations / groups, AveragePool count_include_pad and
ceil_mode, Resize coordinate modes). fp32 on the CPU: results agree to 1e-5 relative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX graphs are built with onnx (the trace extra)")
ort = pytest.importorskip("onnxruntime", reason="the reference is onnxruntime (the trace extra)")
torch = pytest.importorskip("torch", reason="the interpreter runs torch (the trace extra)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from accelerator.errors import TraceError  # noqa: E402
from models.onnx.torch_module import OnnxTorch, from_onnx  # noqa: E402

pytestmark = pytest.mark.trace
RNG = np.random.default_rng(0)


def _f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _i(*v: int) -> np.ndarray:
    return np.array(v, dtype=np.int64)


def _both(tmp_path: Path, nodes: list[Any], feeds: dict[str, np.ndarray], inits: dict[str, np.ndarray],
          outputs: list[str], opset: int = 18) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in feeds.items()],
        [helper.make_tensor_value_info(o, TensorProto.INT64 if o == "sh" else TensorProto.FLOAT, None)
         for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = sess.run(outputs, feeds)
    module = OnnxTorch(from_onnx(path))
    with torch.no_grad():
        got = module(*(torch.from_numpy(v) for v in feeds.values()))
    got = got if isinstance(got, tuple) else (got,)
    return ref, [g.numpy() for g in got]


def _close(ref: list[np.ndarray], got: list[np.ndarray]) -> None:
    assert len(ref) == len(got)
    for r, g in zip(ref, got, strict=True):
        assert r.shape == g.shape
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


N = helper.make_node
F32 = np.float32
Case = tuple[list[Any], dict[str, np.ndarray], dict[str, np.ndarray], list[str], int]


def _c(nodes: list[Any], feeds: dict[str, np.ndarray], inits: dict[str, np.ndarray] | None = None,
       outputs: tuple[str, ...] = ("y",), opset: int = 18) -> Case:  # fmt: skip
    return nodes, feeds, inits or {}, list(outputs), opset


CASES: dict[str, Case] = {
    "split-sizes-input": _c([N("Split", ["x", "s"], ["a", "b"], axis=1)], {"x": _f(2, 5, 3)}, {"s": _i(2, 3)},
                            ("a", "b")),
    "split-num-outputs-uneven": _c([N("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)], {"x": _f(2, 7)},
                                   outputs=("a", "b", "c")),
    "split-attr-opset11": _c([N("Split", ["x"], ["a", "b"], axis=0, split=[1, 3])], {"x": _f(4, 2)},
                             outputs=("a", "b"), opset=11),
    "gemm-transA-alpha-beta": _c([N("Gemm", ["a", "b", "c"], ["y"], transA=1, alpha=0.5, beta=2.0)],
                                 {"a": _f(4, 3)}, {"b": _f(4, 5), "c": _f(1, 5)}),
    "gemm-transB-no-bias": _c([N("Gemm", ["a", "b"], ["y"], transB=1)], {"a": _f(3, 4)}, {"b": _f(6, 4)}),
    "gemm-linear": _c([N("Gemm", ["a", "b", "c"], ["y"], transB=1)], {"a": _f(3, 4)}, {"b": _f(6, 4), "c": _f(6)}),
    "conv-asym-pads-stride-dil-group": _c([N("Conv", ["x", "w", "b"], ["y"], pads=[0, 1, 1, 2], strides=[2, 1],
                                             dilations=[1, 2], group=2)],
                                          {"x": _f(1, 4, 9, 8)}, {"w": _f(6, 2, 3, 3), "b": _f(6)}),
    "conv-same-upper": _c([N("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
                          {"x": _f(1, 2, 7, 6)}, {"w": _f(3, 2, 4, 4)}),
    "avgpool-pads-exclude": _c([N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1])], {"x": _f(1, 2, 7, 7)}),
    "avgpool-include-ceil": _c([N("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                                  pads=[1, 1, 1, 1], count_include_pad=1, ceil_mode=1)], {"x": _f(1, 2, 6, 7)}),
    "resize-nearest-asymmetric-floor": _c([N("Resize", ["x", "", "sc"], ["y"], mode="nearest",
                                             coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
                                          {"x": _f(1, 2, 3, 4)}, {"sc": np.array([1, 1, 2, 1.5], F32)}),
    "resize-linear-half-pixel-sizes": _c([N("Resize", ["x", "", "", "sz"], ["y"], mode="linear")],
                                         {"x": _f(1, 2, 5, 4)}, {"sz": _i(1, 2, 9, 11)}),
    "resize-linear-align-corners": _c([N("Resize", ["x", "", "sc"], ["y"], mode="linear",
                                         coordinate_transformation_mode="align_corners")],
                                      {"x": _f(1, 1, 4, 4)}, {"sc": np.array([1, 1, 2, 2], F32)}),
    "resize-cubic-half-pixel": _c([N("Resize", ["x", "", "sc"], ["y"], mode="cubic")],
                                  {"x": _f(1, 1, 5, 6)}, {"sc": np.array([1, 1, 2, 2], F32)}),
    "resize-nearest-exact": _c([N("Resize", ["x", "", "sc"], ["y"], mode="nearest", nearest_mode="round_prefer_ceil")],
                               {"x": _f(1, 1, 4, 6)}, {"sc": np.array([1, 1, 2, 0.5], F32)}),
    "clip-min-only": _c([N("Clip", ["x", "lo", ""], ["y"])], {"x": _f(3, 4)}, {"lo": np.array(-0.2, F32)}),
    "clip-attrs-opset6": _c([N("Clip", ["x"], ["y"], min=-0.5, max=0.3)], {"x": _f(3, 4)}, opset=6),
    "softmax-axis1": _c([N("Softmax", ["x"], ["y"], axis=1)], {"x": _f(2, 3, 4)}),
    "softmax-flatten-opset11": _c([N("Softmax", ["x"], ["y"], axis=1)], {"x": _f(2, 3, 4)}, opset=11),
    "instance-norm": _c([N("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)],
                        {"x": _f(2, 3, 5, 4) * 1e3}, {"s": _f(3), "b": _f(3)}),
    "einsum": _c([N("Einsum", ["a", "b"], ["y"], equation="bct,bcs->bts")], {"a": _f(2, 3, 4), "b": _f(2, 3, 5)}),
    "squeeze-all-unsqueeze-neg": _c([N("Squeeze", ["x"], ["s"]), N("Unsqueeze", ["s", "ax"], ["y"])],
                                    {"x": _f(1, 3, 1, 4)}, {"ax": _i(-1, 0)}),
    "squeeze-unsqueeze-attrs-opset11": _c([N("Squeeze", ["x"], ["s"], axes=[0]),
                                           N("Unsqueeze", ["s"], ["y"], axes=[2])], {"x": _f(1, 3, 4)}, opset=11),
    "shape-arithmetic-reshape": _c([N("Shape", ["x"], ["sh"], start=0, end=1),
                                    N("Concat", ["sh", "m1", "k"], ["t"], axis=0), N("Mul", ["t", "one"], ["t2"]),
                                    N("Reshape", ["x", "t2"], ["y"]), N("Reshape", ["x", "z"], ["y2"])],
                                   {"x": _f(2, 3, 4)},
                                   {"m1": _i(-1), "k": _i(2), "one": _i(1, 1, 1), "z": _i(0, 0, -1)},
                                   ("y", "y2", "sh")),
    "elementwise": _c([N("Sub", ["x", "c"], ["a"]), N("Pow", ["a", "two"], ["p"]), N("Reciprocal", ["p"], ["r"]),
                       N("Sqrt", ["r"], ["q"]), N("Log", ["q"], ["l"]), N("Cos", ["l"], ["co"]),
                       N("Sin", ["l"], ["si"]), N("Div", ["co", "si"], ["d"]), N("Sigmoid", ["d"], ["y"])],
                      {"x": _f(3, 4)}, {"c": np.array(5.0, F32), "two": np.array(2.0, F32)}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    nodes, feeds, inits, outputs, opset = CASES[case]
    _close(*_both(tmp_path, nodes, feeds, inits, outputs, opset))


def test_resize_without_an_exact_torch_mode_is_refused(tmp_path: Path) -> None:
    nodes = [N("Resize", ["x", "", "sc"], ["y"], mode="nearest")]  # half_pixel + round_prefer_floor
    with pytest.raises(TraceError, match="nearest_mode=round_prefer_floor"):
        _both(tmp_path, nodes, {"x": _f(1, 1, 2, 2)}, {"sc": np.array([1, 1, 2, 2], np.float32)}, ["y"])


def test_unsupported_op_names_the_op_and_node(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"CumSum \(first at node 'cum'\)"):
        _both(tmp_path, [N("CumSum", ["x", "ax"], ["y"], name="cum")], {"x": _f(3)}, {"ax": _i(0)}, ["y"])


def test_weights_are_parameters_that_follow_to_and_shapes_stay_integer(tmp_path: Path) -> None:
    inits = {"blk.conv.weight": _f(2, 1, 1, 1), "shape": _i(1, -1)}
    nodes = [N("Conv", ["x", "blk.conv.weight"], ["c"]), N("Reshape", ["c", "shape"], ["y"])]
    _both(tmp_path, nodes, {"x": _f(1, 1, 2, 2)}, inits, ["y"])
    module = OnnxTorch(from_onnx(tmp_path / "g.onnx")).to(torch.bfloat16)
    assert dict(module.named_parameters()).keys() == {"blk.conv.weight"}
    assert module.blk.conv.weight.dtype == torch.bfloat16
    assert module._host["shape"].dtype == np.int64  # a host constant: never cast, never on the device
    with torch.no_grad():
        y = module(torch.ones(1, 1, 2, 2, dtype=torch.bfloat16))
    assert y.shape == (1, 8) and y.dtype == torch.bfloat16
