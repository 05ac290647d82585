"""The ONNX frontend on a hand-built graph (closed-form costs, numpy statistics) and terrain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX frontend needs onnx (the trace extra)")
pytest.importorskip("onnxruntime", reason="the ONNX frontend needs onnxruntime (the trace extra)")
pytest.importorskip("torch", reason="statistics use torch (the trace extra)")
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from models.onnx.frontend import RecordingOnnxModel  # noqa: E402
from models.trace.stats import BLOCKS, StatsConfig  # noqa: E402
from models.workload import load  # noqa: E402

pytestmark = pytest.mark.trace
ROOT = Path(__file__).resolve().parents[4]


def _graph(path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    w = {
        "conv.weight": rng.standard_normal((16, 8, 3, 3)).astype(np.float32) * 0.2,
        "conv.bias": rng.standard_normal(16).astype(np.float32) * 0.1,
        "proj.weight": rng.standard_normal((16, 12)).astype(np.float32) * 0.3,
    }
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    inits.append(numpy_helper.from_array(np.array([2, 16, 16], dtype=np.int64), "shape3"))
    inits.append(numpy_helper.from_array(np.array(-1, dtype=np.int64), "axis"))
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["y"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Reshape", ["r", "shape3"], ["r2"]),
        helper.make_node("MatMul", ["r2", "proj.weight"], ["m"]),
        helper.make_node("Einsum", ["m", "m"], ["e"], equation="bij,bkj->bik"),
        helper.make_node("Softmax", ["e"], ["sm"], axis=-1),
        helper.make_node("CumSum", ["sm", "axis"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 4, 4])],
        [
            helper.make_tensor_value_info("out", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("s", TensorProto.INT64, None),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return w


def _run(path: Path, xs: list[np.ndarray], stats: StatsConfig | None) -> RecordingOnnxModel:
    model = RecordingOnnxModel(path, stats)
    for x in xs:
        with model.recording():
            model.run({"x": x})
    return model


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((2, 8, 4, 4)).astype(np.float32)
    x0[:, :4] = 0.0
    return [x0, x0 + 0.02 * rng.standard_normal((2, 8, 4, 4)).astype(np.float32)]


def test_costs_are_the_closed_forms(tmp_path: Path) -> None:
    _graph(tmp_path / "g.onnx")
    g = _run(tmp_path / "g.onnx", _inputs()[:1], None).graph
    assert g is not None
    assert [op.name for op in g.ops] == ["Conv", "Relu", "MatMul", "Einsum", "Softmax", "CumSum"]
    assert (g.skipped_views, g.skipped_shape_nodes, g.nodes) == (1, 1, 8)
    conv, relu, matmul, einsum, softmax, cumsum = g.ops
    assert conv.kind == "conv" and conv.gemm == (1, 32, 16, 72) and conv.macs == 32 * 16 * 72
    assert conv.flops == 2 * conv.macs and conv.weight_is_param and conv.module == "conv"
    assert conv.weight_bytes == (16 * 8 * 9 + 16) * 4 and conv.act_bytes == 2 * 8 * 16 * 4
    assert relu.kind == "elementwise" and relu.flops == 2 * 16 * 16
    assert matmul.gemm == (1, 32, 12, 16) and matmul.weight_is_param
    assert einsum.kind == "gemm" and einsum.gemm == (2, 16, 16, 12) and not einsum.weight_is_param
    assert softmax.flops == 5 * 2 * 16 * 16
    assert cumsum.kind == "other" and cumsum.flops == 0
    assert g.unsupported == ({"name": "CumSum", "count": 1, "reason": g.unsupported[0]["reason"]},)
    assert g.params == 16 * 8 * 9 + 16 + 16 * 12


def test_statistics_match_numpy(tmp_path: Path) -> None:
    w = _graph(tmp_path / "g.onnx")
    xs = _inputs()
    model = _run(tmp_path / "g.onnx", xs, StatsConfig())
    rows = model.stat_rows
    assert len(rows) == 2
    # reference values computed with torch's conv (not onnxruntime) and numpy
    refs = []
    for x in xs:
        y = torch.nn.functional.conv2d(
            torch.from_numpy(x), torch.from_numpy(w["conv.weight"]), torch.from_numpy(w["conv.bias"]), padding=1
        ).numpy()
        m = np.maximum(y, 0).reshape(2, 16, 16) @ w["proj.weight"]
        refs.append((y, np.maximum(y, 0).reshape(2, 16, 16), m))
    for step, (x, (y, r2, m)) in enumerate(zip(xs, refs, strict=True)):
        assert rows[step][0]["act_zero_frac"] == pytest.approx(np.mean(x == 0))
        assert rows[step][1]["act_zero_frac"] == pytest.approx(np.mean(y == 0))
        assert rows[step][2]["act_zero_frac"] == pytest.approx(np.mean(r2 == 0))
        blocks = (r2.reshape(-1, 16)[:, :8] == 0).all(axis=1).mean() / 2 + (r2.reshape(-1, 16)[:, 8:] == 0).all(
            axis=1
        ).mean() / 2
        assert rows[step][2]["act_block_zero_frac_1x8"] == pytest.approx(blocks)
        for r, c in BLOCKS:  # the array-unit shapes too, None where no whole block fits
            got = rows[step][2][f"act_block_zero_frac_{r}x{c}"]
            z = r2.reshape(-1, 16) == 0
            if r > z.shape[0] or c > z.shape[1]:
                assert got is None, (r, c)
            else:
                n, k = (z.shape[0] // r) * r, (z.shape[1] // c) * c
                want = z[:n, :k].reshape(n // r, r, k // c, c).all(axis=(1, 3)).mean()
                assert got == pytest.approx(want), (r, c)
        assert rows[step][3]["act_absmax"] == pytest.approx(np.abs(m).max(), rel=1e-5)
    assert rows[0][0]["weight_zero_frac"] == pytest.approx(0.0)
    # conv input at step 0: 32 pixels x 8 channels, channels 0..3 zero in every pixel
    assert rows[0][0]["act_block_zero_frac_32x1"] == rows[0][0]["act_block_zero_frac_32x2"] == 0.5
    assert rows[0][0]["act_block_zero_frac_64x1"] is None
    # int8 delta of the einsum's first operand (m), shared scale over both steps
    m0, m1 = refs[0][2], refs[1][2]
    s = max(np.abs(m0).max(), np.abs(m1).max()) / 127
    d = np.clip(np.round(m1 / s), -127, 127) - np.clip(np.round(m0 / s), -127, 127)
    assert rows[1][3]["delta_int8_zero_frac"] == pytest.approx(np.mean(d == 0), abs=2 / d.size)
    assert rows[0][3].get("delta_int8_zero_frac") is None


def test_karras_sigmas_and_the_sampler_loop() -> None:
    from models.zoo import SampleOptions, get
    from models.zoo.terrain import SIGMA_MAX, SIGMA_MIN, karras_sigmas

    s = karras_sigmas(5)
    assert s[0] == pytest.approx(SIGMA_MAX) and s[-1] == pytest.approx(SIGMA_MIN)
    assert np.all(np.diff(s) < 0)
    assert list(karras_sigmas(1)) == [SIGMA_MAX]

    class Echo:
        def __init__(self) -> None:
            self.sigmas: list[float] = []

        def run(self, feeds):
            self.sigmas.append(float(feeds["sigma"][0]))
            assert feeds["noisy"].shape == (2, 1, 128, 128)
            return [np.zeros_like(feeds["noisy"])]

    calls = []

    def hook(step, total):
        import contextlib

        calls.append((step, total))
        return contextlib.nullcontext()

    echo = Echo()
    get("terrain").sample(echo, SampleOptions(steps=4, batch=2), hook)
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert echo.sigmas == pytest.approx(list(karras_sigmas(4)), rel=1e-6)


def test_committed_terrain_trace_shows_trained_delta_sparsity() -> None:
    """Trained weights: far more int8 activation deltas between adjacent steps are zero than
    with random init, rising towards the end of sampling (MAC-weighted over MAC ops)."""
    from models.trace.summary import weighted_step_stat

    w = load(ROOT / "scenarios" / "workloads" / "terrain.workload.json.gz")
    assert w.provenance["weights"].startswith("trained:adaptive-terrain-diffusion")
    assert w.steps == 50 and w.provenance["scheduler"] == "consistency-multistep"
    d8 = [weighted_step_stat(w, "delta_int8_zero_frac", s) or 0.0 for s in range(1, w.steps)]
    fits4 = [weighted_step_stat(w, "delta_bits_le4_frac", s) or 0.0 for s in range(1, w.steps)]
    ddpm = load(ROOT / "scenarios" / "workloads" / "ddpm-cifar10.workload.json.gz")
    random_init = weighted_step_stat(ddpm, "delta_int8_zero_frac", ddpm.steps - 1)
    assert random_init is not None and random_init < 0.2
    assert min(d8) > 0.3 > 2 * random_init
    assert max(d8[-5:]) > 0.8  # near sigma_min the output barely changes
    assert min(fits4) > 0.8
