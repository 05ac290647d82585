"""The trained terrain UNet run by models.onnx.torch_module: equal to onnxruntime, export round trip, and
``gpu measure --model terrain`` end to end on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx", reason="reading the terrain ONNX file needs onnx (the trace extra)")
ort = pytest.importorskip("onnxruntime", reason="the reference is onnxruntime (the trace extra)")
torch = pytest.importorskip("torch", reason="the interpreter runs torch (the trace extra)")

from accelerator.errors import TraceError  # noqa: E402
from models.onnx.torch_module import GraphSpec, OnnxTorch, export, from_onnx, load_export, sha256_file  # noqa: E402

pytestmark = pytest.mark.trace
ROOT = Path(__file__).resolve().parents[4]


def _onnx_path() -> Path:
    from models.zoo.terrain import onnx_path

    try:
        return onnx_path()
    except TraceError as exc:
        pytest.skip(f"terrain needs adaptive-terrain-diffusion==0.4.2: {exc}")


@pytest.fixture(scope="module")
def spec() -> GraphSpec:
    return from_onnx(_onnx_path())


@pytest.fixture(scope="module")
def feeds() -> dict[str, np.ndarray]:
    """Two samples in one call: pure noise at σ = 80 (the first step) and a late step, σ = 0.5."""
    rng = np.random.default_rng(1)
    sigma = np.array([80.0, 0.5], np.float32)
    noisy = rng.standard_normal((2, 1, 128, 128), dtype=np.float32) * sigma[:, None, None, None]
    return {"noisy": noisy, "sigma": sigma, "difficulty": np.array([0.1, 0.9], np.float32)}


def _run(module: torch.nn.Module, feeds: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = module(**{k: torch.from_numpy(v) for k, v in feeds.items()}).numpy()
    return out


@pytest.fixture(scope="module")
def torch_out(spec: GraphSpec, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return _run(OnnxTorch(spec).eval(), feeds)


def test_fp32_matches_onnxruntime(feeds: dict[str, np.ndarray], torch_out: np.ndarray) -> None:
    """Bound: 1e-4 of the output scale. Pre-norm activations reach ~2e11, but every group norm
    rescales to O(1), so rounding differences (fp32 eps 6e-8, other summation orders in ~200
    convs) stay relative to O(1) values: measured 5e-6. A wrong attribute or op gives O(0.1)."""
    sess = ort.InferenceSession(str(_onnx_path()), providers=["CPUExecutionProvider"])
    ref = sess.run(["denoised"], feeds)[0]
    assert torch_out.shape == ref.shape == (2, 1, 128, 128)
    scale = float(np.abs(ref).max())
    assert 0.3 < scale <= 1.0 and ref.std() > 0.05  # a real image, not a constant
    err = np.abs(torch_out - ref)
    assert err.max() <= 1e-4 * max(1.0, scale), f"max abs error {err.max():.2e}"


def test_export_round_trip(spec: GraphSpec, feeds: dict[str, np.ndarray], torch_out: np.ndarray,
                           tmp_path: Path) -> None:  # fmt: skip
    fp32 = export(spec, tmp_path / "fp32.pt", torch.float32)
    loaded = load_export(fp32)
    assert loaded.meta["source"] == "export" and loaded.meta["source_sha256"] == sha256_file(_onnx_path())
    assert np.array_equal(_run(OnnxTorch(loaded).eval(), feeds), torch_out)  # bit-identical
    # bf16: the same graph, weights rounded to bf16, integer constants untouched; same bytes twice
    a = export(spec, tmp_path / "a.pt", torch.bfloat16)
    b = export(spec, tmp_path / "sub" / "b.pt", torch.bfloat16)
    assert a.read_bytes() == b.read_bytes()
    half = load_export(a)
    assert half.nodes == spec.nodes and half.opset == spec.opset == 18
    for name, t in spec.initializers.items():
        h = half.initializers[name]
        assert torch.equal(h, t.to(torch.bfloat16) if t.is_floating_point() and h.dtype == torch.bfloat16 else t)
    n_bf16 = sum(t.numel() for t in half.initializers.values() if t.dtype == torch.bfloat16)
    assert n_bf16 == pytest.approx(10.4e6, rel=0.01)


def test_export_runs_without_onnx(spec: GraphSpec, tmp_path: Path) -> None:
    """What the GPU machine does: no onnx, no onnxruntime; build_target finds the export."""
    path = export(spec, tmp_path / "terrain-bf16.pt", torch.bfloat16)
    code = textwrap.dedent("""
        import sys
        sys.modules["onnx"] = None  # import onnx -> ImportError, as on the GPU machine
        sys.modules["onnxruntime"] = None
        import torch
        from models.gpu.targets import build_target
        t = build_target("terrain", "cpu", torch.float32, batch=1, steps=1)
        with torch.no_grad():
            y = t.step()
        print(t.provenance["source"], t.provenance["weights_dtype"], tuple(y.shape), bool(torch.isfinite(y).all()))
    """)
    env = {**os.environ, "PICOJOULE_TERRAIN_EXPORT": str(path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "torch export bfloat16 (1, 1, 128, 128) True"


def test_missing_export_says_how_to_make_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from models.gpu.targets import build_target

    monkeypatch.setenv("PICOJOULE_TERRAIN_EXPORT", str(tmp_path / "none.pt"))
    with pytest.raises(TraceError, match="python -m models.onnx.torch_module export terrain"):
        build_target("terrain", "cpu", torch.float32, source="export")


def test_device_sampler_is_the_zoo_sampler() -> None:
    """Same noise stream, same updates: the on-device loop equals the zoo's onnxruntime loop."""
    from models.gpu.targets import build_target
    from models.onnx.frontend import OnnxModel
    from models.zoo import SampleOptions, get

    target = build_target("terrain", "cpu", torch.float32, batch=1, steps=2, source="zoo")
    with torch.no_grad():
        got = target.sample().numpy()
    ref = get("terrain").sample(OnnxModel(_onnx_path()), SampleOptions(steps=2, batch=1))
    assert target.steps == 2 and target.provenance["source"] == "zoo onnx"
    assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.slow  # ~25 model calls (warm-up, timing, profile): 1-3 min on a shared 2-core CPU
def test_gpu_measure_terrain_on_the_cpu() -> None:
    from models.gpu.harness import measure

    doc: dict[str, Any] = measure("terrain", "cpu", steps=2, dtype="fp32", per_op=True, min_time_s=0.0,
                                  repeat_seconds=0.0, op_repeats=1)  # fmt: skip
    assert doc["settings"]["steps"] == 2 and doc["provenance"]["model"] == "terrain"
    assert doc["latency"]["s_per_step"] > 0 and doc["latency"]["sample"]["n"] >= 2
    ops = doc["workload"]["ops"]
    assert len(ops) == len(doc["per_op"])
    kinds = {o["kind"] for o in ops}
    assert {"conv", "gemm", "norm", "softmax"} <= kinds
    conv_flops = sum(o["flops"] for o in ops if o["kind"] == "conv")
    gemm_flops = sum(o["flops"] for o in ops if o["kind"] == "gemm")
    assert conv_flops > 0 and gemm_flops > 0
    # 17.7 GFLOPs per call (docs/gpu.md, the ONNX trace): the same graph, the same count
    assert 2 * sum(o["macs"] for o in ops) == pytest.approx(17.7e9, rel=0.01)
    modules = {o["module"] for o in ops if o["kind"] == "conv"}
    assert "network.input_blocks.1.0.in_layers.2" in modules  # the original model's module paths
