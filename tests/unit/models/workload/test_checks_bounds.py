"""Bounds of the workload checks found by the fuzz suite (docs/reliability.md): statistics
above float32's range, and zero-size tensor shapes, are refused naming op, field and value."""

from __future__ import annotations

import pytest

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
