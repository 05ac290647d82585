"""Bounds of the workload checks found by the fuzz suite (docs/reliability.md): statistics
above float32's range, and zero-size tensor shapes, are refused naming op, field and value."""

from __future__ import annotations

import pytest
from simcase import conv3x3_op

from models.workload import Op, Workload, WorkloadError
from models.workload.schema import MAX_ABSMAX


def _ops() -> tuple[Op, ...]:
    return (
        Op(name="mm", kind="gemm", gemm=(1, 4, 8, 16), macs=4 * 8 * 16, flops=2 * 4 * 8 * 16, output_shape=(4, 8)),
        Op(name="silu", kind="elementwise", input_shapes=((4, 8),), output_shape=(4, 8), flops=64),
    )


def test_absmax_takes_float32_range_and_no_more() -> None:
    # an fp32 mask filled with finfo(float32).min is a legitimate activation maximum
    ok = Workload(ops=_ops(), stats={"act_absmax": ((MAX_ABSMAX, 1e30),), "act_channel_absmax_ratio": ((7e8, None),)})
    assert ok.stats["act_absmax"][0][0] == MAX_ABSMAX == float.fromhex("0x1.fffffep+127")
    for name in ("act_absmax", "act_channel_absmax_ratio"):
        bound = r"\[0\.0, 3\.4028234663852886e\+38\]"
        with pytest.raises(
            WorkloadError, match=rf"^stats\.{name}\.0\.1: expected a finite number in {bound} or null, got 1e\+300$"
        ):
            Workload(ops=_ops(), stats={name: ((1.0, 1e300),)})


@pytest.mark.parametrize("field", ["input_shapes", "output_shape"])
def test_a_zero_size_tensor_is_refused(field: str) -> None:
    shape = (4, 0)
    op = Op(
        name="silu",
        kind="elementwise",
        input_shapes=(shape,) if field == "input_shapes" else ((4, 8),),
        output_shape=shape if field == "output_shape" else (4, 8),
        flops=64,
    )
    where = "input_shapes.0" if field == "input_shapes" else "output_shape"
    allowed = r"a list of integers in \[1, 2,147,483,647\] \(MIN_SHAPE_DIM: no zero-size tensors\)"
    message = rf"^ops\.1 \(silu\)\.{where}: expected {allowed}, got \(4, 0\)$"
    with pytest.raises(WorkloadError, match=message):
        Workload(ops=(_ops()[0], op))
    # a scalar (an empty shape) is still a shape
    assert Workload(ops=(_ops()[0], Op(name="s", kind="elementwise", input_shapes=((),), output_shape=(), flops=1)))


@pytest.mark.parametrize(
    "params, field, complaint",
    [
        ({"dilation": [0, 1]}, "dilation", r"expected a list of integers >= 1, got \[0, 1\]"),
        ({"strides": [2, 0]}, "strides", r"expected a list of integers >= 1, got \[2, 0\]"),
        ({"stride": [1, 1, 1]}, "stride", r"expected 2 values \(height, width\) for a 2-D convolution"),
        ({"groups": 0}, "groups", r"expected an integer >= 1, got 0"),
        ({"groups": 3}, "groups", r"3 does not divide the input channels \(8\) and the output channels \(16\)"),
    ],
)
def test_a_convolution_window_the_nest_cannot_run_is_refused(params: dict, field: str, complaint: str) -> None:
    # found by the deep fuzz (ops.15.params.dilation.0 = 0) once the committed designs ran the nest
    with pytest.raises(WorkloadError, match=rf"^ops\.0 \(conv\)\.params\.{field}: {complaint}"):
        Workload(ops=(conv3x3_op(6, **params),))
    assert Workload(ops=(conv3x3_op(6, stride=[1, 1], dilations=[1, 1], groups=8),))  # PyTorch's and ONNX's spellings


def test_a_convolution_whose_output_reaches_beyond_its_padded_input_is_refused() -> None:
    # deep fuzz: ops.15.params.stride.0 = 2147483648 loaded and stopped the nest ("no tile fits")
    huge = r"its height does not fit its input: stride·\(P−1\) \+ dilation·\(R−1\) \+ 1 = 2147483648·3 \+ 1·2 \+ 1"
    with pytest.raises(WorkloadError, match=rf"^ops\.0 \(conv\)\.params: {huge}"):
        Workload(ops=(conv3x3_op(6, stride=[2**31, 1], padding=[0, 0]),))
    # 6 rows, 3x3 window, stride 1, no padding: exactly 4 output rows; with stride 2 they need 9 rows
    assert Workload(ops=(conv3x3_op(6, stride=[1, 1], padding=[0, 0]),))
    with pytest.raises(WorkloadError, match=r"= 9 columns of input, but the input has 6 and 0 of padding"):
        Workload(ops=(conv3x3_op(6, stride=[1, 2], padding=[0, 0]),))
    # padding counts on both sides (PyTorch [h, w]; ONNX [top, left, bottom, right])
    assert Workload(ops=(conv3x3_op(6, stride=[1, 2], padding=[0, 2]),))
    assert Workload(ops=(conv3x3_op(6, strides=[1, 2], pads=[0, 1, 0, 2]),))
    assert Workload(ops=(conv3x3_op(6, stride=[1, 2], padding=[0, 0], transposed=True),))  # a transposed conv grows
    # no padding recorded (the GPU measurements' embedded workloads): up to dilation·(R−1) a side
    assert Workload(ops=(conv3x3_op(6, stride=[1, 2]),))  # 9 <= 6 + 2·2
    with pytest.raises(WorkloadError, match=r"= 3·3 \+ 1·2 \+ 1 = 12 columns of input, but the input has 6 and 4 of"):
        Workload(ops=(conv3x3_op(6, stride=[1, 3]),))  # 12 > 6 + 4
