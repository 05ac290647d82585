"""Graph mode and fp8 on a real CUDA device (marked ``gpu``; skipped without one).

The CPU tests (test_gpu_graph.py, test_gpu_fp8.py) check the bookkeeping with a fake graph
and torch's reference fp8 kernel; these check what only a GPU can: that the model's forward
captures into a ``torch.cuda.CUDAGraph`` and replays to the eager result, and that cuBLASLt's
fp8 GEMM accepts the layouts and scales :mod:`models.gpu.fp8` passes. A few seconds on an H100:
``python -m pytest -q -m gpu tests/unit/test_gpu_cuda_modes.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs torch (trace extra)")
pytest.importorskip("diffusers", reason="the built-in models need diffusers (trace extra)")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def _fp8_capable() -> bool:
    return torch.cuda.is_available() and tuple(torch.cuda.get_device_capability(0)) >= (8, 9)


@pytest.mark.parametrize("name", ["ddpm-cifar10", "sd15-unet", "sd-vae-decoder"])
def test_cuda_graph_replays_the_eager_loop(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.gpu.graph import CudaGraphBackend, graphed
    from models.gpu.targets import build_target

    target = build_target(name, "cuda", torch.float32, batch=2, steps=3, tiny=True, source="builtin")
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    with torch.no_grad():
        eager = target.sample()
        with graphed(target, CudaGraphBackend()) as g:
            looped = g.sample()
            torch.cuda.synchronize()
            assert g.stats.eager_calls == 0
            assert g.stats.replays == (1 if name == "sd-vae-decoder" else 3)
    assert torch.allclose(looped, eager, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not _fp8_capable(), reason="fp8 needs CUDA capability >= 8.9")
@pytest.mark.parametrize("scaling", ["tensorwise", "rowwise"])
def test_cuda_fp8_linear_matches_the_cpu_reference(scaling: str) -> None:
    from models.gpu.fp8 import Fp8Conv1x1, Fp8Linear, Fp8Recipe

    torch.manual_seed(0)
    lin = torch.nn.Linear(320, 640).to(torch.bfloat16)
    conv = torch.nn.Conv2d(320, 640, 1).to(torch.bfloat16)
    x = torch.randn(2, 77, 320, dtype=torch.bfloat16)
    xc = torch.randn(2, 320, 8, 8, dtype=torch.bfloat16)
    recipe = Fp8Recipe(scaling=scaling)
    with torch.no_grad():
        cpu = Fp8Linear.from_linear(lin, recipe)(x).float()
        cpu_c = Fp8Conv1x1(conv, recipe)(xc).float()
        gpu = Fp8Linear.from_linear(lin.cuda(), recipe)(x.cuda()).float().cpu()
        gpu_c = Fp8Conv1x1(conv.cuda(), recipe)(xc.cuda()).float().cpu()
    # same fp8 operands and scales; the GEMMs differ only in accumulation order (fast accum)
    for a, b in ((gpu, cpu), (gpu_c, cpu_c)):
        assert float((a - b).norm() / b.norm()) < 0.01


@pytest.mark.skipif(not _fp8_capable(), reason="fp8 needs CUDA capability >= 8.9")
def test_cuda_measure_graph_fp8_tiny(tmp_path: Path) -> None:
    from models.gpu.harness import measure

    doc = measure(
        "sd15-unet", "cuda", tmp_path / "m.json", mode="graph", steps=2, dtype="fp8", tiny=True,
        repeat_seconds=0.2, min_time_s=0.1, idle_seconds=0.1, op_repeats=1, source="builtin",
    )  # fmt: skip
    assert doc["graph"]["eager_calls_per_sample"] == 0 and doc["graph"]["replays_per_sample"] == 2
    assert doc["fp8"]["linear_fp8"] == 50
    mms = [o for o in doc["workload"]["ops"] if o["name"] == "aten._scaled_mm.default"]
    assert len(mms) == 63
    times = {t["i"]: t for t in doc["per_op"]}
    ops = doc["workload"]["ops"]
    assert all(times[i]["kernels"] >= 1 for i, o in enumerate(ops) if o["name"] == "aten._scaled_mm.default")
