"""Workload ops as nests: the DDPM CIFAR-10 trace's convolutions, GEMMs and attention keep their MACs."""

from __future__ import annotations

from pathlib import Path

from simcase import conv3x3_op

from simulator import load_workload
from simulator.cost.nest.ops import problems

ROOT = Path(__file__).resolve().parents[5]


def test_ddpm_ops_keep_their_macs() -> None:
    wl = load_workload(ROOT / "scenarios/workloads/ddpm-cifar10.workload.json.gz")
    mapped = 0
    for op in wl.ops:
        nests = problems(op)
        if op.kind in ("conv", "gemm", "attention"):
            assert nests, op.name
            assert sum(p.macs for p in nests) == op.macs, op.name
            mapped += 1
        else:
            assert nests == ()
    assert mapped > 100
    shapes = {p.key() for op in wl.ops for p in problems(op)}
    assert 25 <= len(shapes) <= 45


def test_the_onnx_spelling_of_stride_and_dilation_is_read() -> None:
    torch_style = problems(conv3x3_op(9, name="c", stride=[2, 2], dilation=[1, 1]))  # 9x9 -> 4x4 at stride 2
    onnx_style = problems(conv3x3_op(9, name="c", strides=[2, 2], dilations=[1, 1]))
    assert torch_style == onnx_style and torch_style[0].stride == (2, 2)


def test_every_reader_of_a_conv_stride_takes_either_spelling() -> None:
    """Op.conv_stride / conv_dilation read the tracer's and the ONNX importer's spellings, so the
    one-level model's geometry (simulator.optable) sees an ONNX stride too."""
    from simulator.optable import _conv_geometry

    torch_style = conv3x3_op(9, stride=[2, 2], dilation=[1, 3])
    onnx_style = conv3x3_op(9, strides=[2, 2], dilations=[1, 3])
    assert torch_style.conv_stride == onnx_style.conv_stride == (2, 2)
    assert torch_style.conv_dilation == onnx_style.conv_dilation == (1, 3)
    assert conv3x3_op(6).conv_stride == conv3x3_op(6).conv_dilation == (1, 1)
    a, b = _conv_geometry(torch_style), _conv_geometry(onnx_style)
    assert a is not None and b is not None and a.stride == b.stride == 2
