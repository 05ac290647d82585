"""Image-quality metrics: PSNR and SSIM per image, a Fréchet distance per set (numpy only).

Images are arrays ``(N, H, W)`` or ``(N, C, H, W)`` (channels averaged in SSIM) with a known
``data_range`` (2.0 for images in [-1, 1]). Nothing here downloads anything; the Fréchet
distance on the digits classifier's features imports torch only when called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

SSIM_K1 = 0.01
"""SSIM stabiliser constant K1 (Wang et al., IEEE TIP 13(4), 2004, §III.C)."""
SSIM_K2 = 0.03
"""SSIM stabiliser constant K2 (same source)."""
SSIM_SIGMA_PX = 1.5
"""Std of the Gaussian SSIM window, pixels (same source: 11×11, σ = 1.5)."""
SSIM_WINDOW_PX = 11
"""Side of the Gaussian SSIM window, pixels; clipped to the image side (made odd)."""


def fmt_value(v: Any, spec: str) -> str:
    """``format(v, spec)``, or ``-`` for a value that was not measured."""
    return "-" if v is None else format(v, spec)


def fmt_psnr(q: Any) -> str:
    """PSNR of a quality record for tables: ``inf`` for identical images (SSIM 1), ``nan`` if undefined."""
    if q.get("psnr_db") is None:
        return "inf" if q.get("ssim") == 1.0 else "nan"
    return f"{q['psnr_db']:.2f}"


def _as_nchw(x: Any) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise ValueError(f"expected images (N, H, W) or (N, C, H, W), got shape {arr.shape}")
    return arr


def mse_per_image(a: Any, b: Any) -> np.ndarray:
    """Mean squared error of each image pair, (N,)."""
    x, y = _as_nchw(a), _as_nchw(b)
    if x.shape != y.shape:
        raise ValueError(f"image sets differ in shape: {x.shape} vs {y.shape}")
    out: np.ndarray = ((x - y) ** 2).mean(axis=(1, 2, 3))
    return out


def psnr_db(mse: float, data_range: float) -> float:
    """Peak signal-to-noise ratio 10·log10(range² / MSE) in dB; ``inf`` when MSE is 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(data_range**2 / mse)


def psnr_per_image(a: Any, b: Any, data_range: float = 2.0) -> np.ndarray:
    """PSNR of each image pair in dB, (N,)."""
    return np.array([psnr_db(float(m), data_range) for m in mse_per_image(a, b)])


def _gauss_window(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r**2) / (2.0 * sigma**2))
    out: np.ndarray = g / g.sum()
    return out


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (..., H, W) with the 1-D window ``g`` on both axes."""
    k = len(g)
    h, w = img.shape[-2:]
    rows = sum(g[i] * img[..., i : h - k + 1 + i, :] for i in range(k))
    out: np.ndarray = sum(g[i] * rows[..., :, i : w - k + 1 + i] for i in range(k))
    return out


def ssim_per_image(
    a: Any,
    b: Any,
    data_range: float = 2.0,
    window_px: int = SSIM_WINDOW_PX,
    sigma_px: float = SSIM_SIGMA_PX,
) -> np.ndarray:
    """Mean SSIM of each image pair, (N,) (Wang et al., IEEE TIP 2004, eq. 13, Gaussian window).

    Local statistics use a normalised Gaussian window over the 'valid' region (no padding),
    population (biased) variances, C1 = (K1·L)², C2 = (K2·L)². Channels are averaged.
    """
    x, y = _as_nchw(a), _as_nchw(b)
    if x.shape != y.shape:
        raise ValueError(f"image sets differ in shape: {x.shape} vs {y.shape}")
    size = min(window_px, x.shape[-1], x.shape[-2])
    size -= 1 - size % 2
    g = _gauss_window(size, sigma_px)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mx, my = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mx * mx
    syy = _filter_valid(y * y, g) - my * my
    sxy = _filter_valid(x * y, g) - mx * my
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    out: np.ndarray = smap.mean(axis=(1, 2, 3))
    return out


@dataclass(frozen=True)
class PairQuality:
    """Per-image quality of a set against its reference from the same noise."""

    psnr_db: float  # from the mean MSE over all images (inf if all identical)
    psnr_db_min: float  # worst image
    ssim: float  # mean over images
    ssim_min: float  # worst image
    max_abs_error: float  # largest pixel difference, in image units

    def to_json(self) -> dict[str, float | None]:
        def finite(v: float) -> float | None:
            return None if math.isinf(v) or math.isnan(v) else float(f"{v:.6g}")

        return {k: finite(v) for k, v in self.__dict__.items()}


def compare(test: Any, reference: Any, data_range: float = 2.0) -> PairQuality:
    """PSNR and SSIM of ``test`` against ``reference`` (same shapes, same value range)."""
    mse = mse_per_image(test, reference)
    ssim = ssim_per_image(test, reference, data_range)
    diff = np.abs(_as_nchw(test) - _as_nchw(reference))
    return PairQuality(
        psnr_db=psnr_db(float(mse.mean()), data_range),
        psnr_db_min=psnr_db(float(mse.max()), data_range),
        ssim=float(ssim.mean()),
        ssim_min=float(ssim.min()),
        max_abs_error=float(diff.max()) if diff.size else 0.0,
    )


def digits_frechet(images_a: Any, images_b: Any) -> float:
    """Fréchet distance (d², as FID reports) between two sets of 16×16 digits images.

    Features are the committed digits classifier's 64-d penultimate activations
    (:mod:`models.zoo.digits_classifier`). With fewer images than feature dimensions the
    covariances are rank-deficient and the value is biased upward: compare sets of equal size.
    """
    from models.zoo.digits_classifier import (  # lazy: torch; the simulator imports this module torch-free
        digits_features,
        frechet_distance,
        load_digits_classifier,
    )

    clf = load_digits_classifier()
    return frechet_distance(digits_features(images_a, clf), digits_features(images_b, clf))
