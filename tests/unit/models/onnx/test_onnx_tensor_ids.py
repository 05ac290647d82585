"""Tensor ids of the ONNX frontend: from value names, through skipped views, without initializers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX frontend needs onnx (the trace extra)")
pytest.importorskip("onnxruntime", reason="the ONNX frontend needs onnxruntime (the trace extra)")
pytest.importorskip("torch", reason="the frontend imports torch (the trace extra)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from models.onnx.frontend import RecordingOnnxModel  # noqa: E402
from models.workload import Edge, Workload, edges, step_inputs  # noqa: E402

pytestmark = pytest.mark.trace


def _model(path: Path) -> None:
    """x → Conv → Relu → Reshape (skipped view) → MatMul; Add(MatMul, Reshape) is a skip."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "proj.weight"),
        numpy_helper.from_array(np.array([1, 16, 4], dtype=np.int64), "shape3"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["y"], ["r"]),
        helper.make_node("Transpose", ["r"], ["rt"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["rt", "shape3"], ["r2"]),
        helper.make_node("MatMul", ["r2", "proj.weight"], ["m"]),
        helper.make_node("Add", ["m", "r2"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_ids_follow_value_names_through_views(tmp_path: Path) -> None:
    path = tmp_path / "g.onnx"
    _model(path)
    model = RecordingOnnxModel(path, None)
    with model.recording():
        model.run({"x": np.ones((1, 2, 4, 4), dtype=np.float32)})
    assert model.graph is not None
    ops = model.graph.ops
    assert [op.name for op in ops] == ["Conv", "Relu", "Transpose", "MatMul", "Add"]
    conv, relu, transpose, matmul, add = ops
    assert conv.reads == (0,) and conv.writes == (1,)  # x is id 0; the weight has no id
    assert relu.reads == (1,) and transpose.reads == relu.writes
    assert matmul.reads == transpose.writes  # through the skipped Reshape
    assert add.reads == (*matmul.writes, *transpose.writes)  # Reshape's output is Transpose's tensor
    w = Workload(ops=ops)
    assert step_inputs(w) == [0]
    assert edges(w)[-2:] == [
        Edge(producer=3, consumer=4, tensor=matmul.writes[0], bytes=matmul.out_bytes),
        Edge(producer=2, consumer=4, tensor=transpose.writes[0], bytes=16 * 4 * 4),
    ]
