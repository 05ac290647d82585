"""``terrain``: the trained consistency UNet inside ``adaptive-terrain-diffusion==0.4.2`` (MIT).

A real, third-party trained image generator: 10.4M parameters, 128² single-channel
heightmaps conditioned on a difficulty in 1..100, shipped as ONNX inside the wheel
(``terrain_diffusion/weights/terrain_consistency_unet_difficulty100.onnx``; install with
``pip install --no-deps adaptive-terrain-diffusion==0.4.2``). The file is found through
``importlib.metadata``, never downloaded.

Sampler (``native``): multistep consistency sampling (Song et al., "Consistency Models",
ICML 2023, Algorithm 1) over Karras et al. (2022) sigmas with ρ = 7 between the package's
``sigma_max`` = 80 and ``sigma_min`` = 0.002: ``x = f(σ₀·z, σ₀)``, then for each later σᵢ
``x = f(x + sqrt(σᵢ² − σ_min²)·z, σᵢ)``. One step is the package's own one-step sampler.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np

from accelerator.errors import TraceError
from models.zoo import SampleOptions, StepHook, ZooEntry

DISTRIBUTION = "adaptive-terrain-diffusion"
VERSION = "0.4.2"
ONNX_NAME = "terrain_consistency_unet_difficulty100.onnx"
NATIVE_SIZE = 128  # terrain_diffusion.generator.TerrainGenerator.native_size
NUM_CLASSES = 100  # difficulty labels 1..100, fed as (d - 1) / 99
SIGMA_MIN = 0.002  # TerrainGenerator.sigma_min
SIGMA_MAX = 80.0  # TerrainGenerator.sigma_max
RHO = 7.0  # Karras et al. 2022, Eq. 5


def onnx_path(entry: ZooEntry | None = None) -> Path:
    """The ONNX file inside the installed wheel; TraceError if the package is missing."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise TraceError(
            f"model 'terrain' needs the {DISTRIBUTION} wheel (MIT), which ships the trained "
            f"ONNX UNet: pip install --no-deps {DISTRIBUTION}=={VERSION}"
        ) from None
    for f in dist.files or []:
        if str(f).endswith(ONNX_NAME):
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    raise TraceError(
        f"{DISTRIBUTION} {dist.version} is installed but {ONNX_NAME} is not in it; "
        f"reinstall: pip install --no-deps --force-reinstall {DISTRIBUTION}=={VERSION}"
    )


def karras_sigmas(steps: int) -> np.ndarray:
    """``steps`` noise levels from SIGMA_MAX down to SIGMA_MIN (Karras et al. 2022, Eq. 5)."""
    if steps == 1:
        return np.array([SIGMA_MAX])
    ramp = np.linspace(0.0, 1.0, steps)
    lo, hi = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    return (hi + ramp * (lo - hi)) ** RHO


def build(entry: ZooEntry, resolution: int, seed: int) -> Any:
    from models.onnx.frontend import OnnxModel  # lazy: onnx + torch; this module loads without them

    if resolution != NATIVE_SIZE:
        raise TraceError(f"model 'terrain' runs at {NATIVE_SIZE}² only; got resolution {resolution}")
    return OnnxModel(onnx_path(entry))


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> np.ndarray:
    """Multistep consistency sampling; returns the model-space heightmaps [B, 1, 128, 128]."""
    if options.resolution != NATIVE_SIZE:
        raise TraceError(f"model 'terrain' runs at {NATIVE_SIZE}² only; got resolution {options.resolution}")
    assert options.steps is not None
    rng = np.random.default_rng(options.seed)
    b = options.batch
    difficulty = rng.integers(1, NUM_CLASSES + 1, size=b)
    labels = ((difficulty - 1) / (NUM_CLASSES - 1)).astype(np.float32)
    sigmas = karras_sigmas(options.steps)
    shape = (b, 1, NATIVE_SIZE, NATIVE_SIZE)
    x = np.zeros(shape, dtype=np.float32)
    for i, sigma in enumerate(sigmas):
        noise = rng.standard_normal(shape, dtype=np.float32)
        if i == 0:
            noisy = noise * np.float32(sigma)
        else:
            noisy = x + noise * np.float32(np.sqrt(sigma**2 - SIGMA_MIN**2))
        feeds = {
            "noisy": np.ascontiguousarray(noisy, dtype=np.float32),
            "sigma": np.full(b, sigma, dtype=np.float32),
            "difficulty": labels,
        }
        with hook(i, len(sigmas)):
            x = model.run(feeds)[0]
    return x
