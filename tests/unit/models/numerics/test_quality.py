"""PSNR and SSIM against closed forms; the Fréchet distance of identical sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.numerics.metrics import SSIM_K1, compare, psnr_db, psnr_per_image, ssim_per_image


def test_psnr_closed_form() -> None:
    a = np.zeros((2, 4, 4))
    b = a.copy()
    b[0] += 0.1  # MSE 0.01 -> 10 log10(4 / 0.01) = 26.0206 dB for range 2
    b[1] += 0.2  # MSE 0.04 -> 20.0000 dB
    assert psnr_per_image(b, a, 2.0) == pytest.approx([26.0206, 20.0], abs=1e-4)
    q = compare(b, a, 2.0)
    assert q.psnr_db == pytest.approx(10 * math.log10(4 / 0.025))  # from the mean MSE
    assert q.psnr_db_min == pytest.approx(20.0) and q.max_abs_error == pytest.approx(0.2)
    assert psnr_db(0.0, 2.0) == math.inf


def test_ssim_of_constant_images_is_the_luminance_term() -> None:
    x, y = np.full((1, 16, 16), 0.5), np.full((1, 16, 16), -0.25)
    c1 = (SSIM_K1 * 2.0) ** 2
    expected = (2 * 0.5 * -0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert ssim_per_image(x, y, 2.0) == pytest.approx([expected], rel=1e-12)


def test_ssim_identity_and_ordering_by_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3, 1, 16, 16))
    assert ssim_per_image(x, x) == pytest.approx([1.0] * 3)
    noisy = x + rng.normal(0, 0.3, x.shape)
    worse = x + rng.normal(0, 0.6, x.shape)
    assert (ssim_per_image(noisy, x) > ssim_per_image(worse, x)).all()


def test_frechet_of_identical_sets_is_zero() -> None:
    pytest.importorskip("torch", reason="digits features need torch")
    from models.zoo.digits import load_digits_images
    from models.zoo.digits_classifier import CLASSIFIER_WEIGHTS_FILE, WEIGHTS_DIR

    assert (WEIGHTS_DIR / CLASSIFIER_WEIGHTS_FILE).is_file(), "the digits classifier weights belong to the repo"
    from models.numerics.metrics import digits_frechet

    imgs = load_digits_images()[:80]
    assert digits_frechet(imgs, imgs) == pytest.approx(0.0, abs=1e-6)
    assert digits_frechet(imgs[:40], imgs[40:]) > 0.0
