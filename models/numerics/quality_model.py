"""What a quality model is: the protocol of the models whose sampling loops run with emulated
numerics, and the record of one emulated run.

Torch-free (it is the seam between :mod:`models.numerics.session`, which drives the runs, and
the models: :class:`~models.numerics.session.TorchSampler`,
:class:`~models.numerics.onnx_emulate.OnnxTerrain`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from accelerator.numerics import NumericsSpec


@dataclass(frozen=True)
class EmulatedImages:
    images: np.ndarray  # float32 (N, 1, H, W) in the model's output range
    counts: dict[str, float]  # act_elements, act_zeros, delta_elements, delta_zeros, delta_clipped


class QualityModel(Protocol):
    """A model whose sampling loop can run with emulated numerics."""

    name: str
    data_range: float  # peak-to-peak range of its output images (for PSNR/SSIM)
    weights: str  # provenance of its weights

    @property
    def sampler(self) -> str:
        """Its sampling loop, in words."""

    def reference(self, n: int, steps: int, seed: int) -> np.ndarray: ...

    def calibrate(self, numerics: NumericsSpec, n: int, steps: int, seed: int) -> dict[str, float]: ...

    def emulate(
        self, numerics: NumericsSpec, amax: dict[str, float], n: int, steps: int, seed: int
    ) -> EmulatedImages: ...

    def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None: ...

    def data_images(self, n: int | None) -> np.ndarray | None:
        """``n`` real images (all of them for ``None``), or ``None`` for a model without a data set."""
