"""The digits classifier (committed weights) and the Fréchet distance on its features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the digits classifier needs torch (trace extra)")
pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn (trace extra)")

from models.zoo.digits import load_digits_images, load_digits_labels  # noqa: E402
from models.zoo.digits_classifier import (  # noqa: E402
    FEATURE_DIM,
    accuracy,
    classify_digits,
    digits_features,
    frechet_distance,
    load_digits_classifier,
    split_indices,
    train_digits_classifier,
)

pytestmark = pytest.mark.trace

WEIGHTS = Path(__file__).resolve().parents[4] / "models" / "zoo" / "weights"


def test_frechet_distance_of_a_set_with_itself_is_zero() -> None:
    feats = np.random.default_rng(0).normal(size=(400, 16)) @ np.diag(np.linspace(0.1, 3, 16))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_one_dimension_closed_form() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, 2.0, size=(300, 1)), rng.normal(-1.0, 0.5, size=(200, 1))
    want = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-10)


def test_frechet_distance_translation_and_scaling_closed_forms() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(500, 8)) @ rng.normal(size=(8, 8)) + 1.0
    shift = np.arange(8, dtype=np.float64)
    # Same covariance: only the squared mean difference remains.
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-9)
    # b = k·a: Σb = k²Σa, so d² = (k-1)²·(‖μa‖² + tr Σa).
    k = 1.7
    mu, cov = a.mean(axis=0), np.cov(a, rowvar=False)
    want = (k - 1.0) ** 2 * (float(mu @ mu) + float(np.trace(cov)))
    assert frechet_distance(a, k * a) == pytest.approx(want, rel=1e-8)


def test_frechet_distance_matches_scipy_sqrtm() -> None:
    linalg = pytest.importorskip("scipy.linalg", reason="scipy gives the independent sqrtm")
    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))
    b = rng.normal(0.3, 1.0, size=(250, 12)) @ rng.normal(size=(12, 12))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    d = a.mean(0) - b.mean(0)
    want = d @ d + np.trace(ca + cb - 2.0 * np.real(linalg.sqrtm(ca @ cb)))
    assert frechet_distance(a, b) == pytest.approx(float(want), rel=1e-7)
    assert frechet_distance(b, a) == pytest.approx(float(want), rel=1e-7)


def test_frechet_distance_rejects_mismatched_features() -> None:
    with pytest.raises(ValueError, match="feature arrays"):
        frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))


def test_committed_classifier_reaches_its_recorded_test_accuracy() -> None:
    meta = json.loads((WEIGHTS / "digits_classifier.json").read_text())
    images, labels = load_digits_images(), load_digits_labels()
    _, test_idx = split_indices(len(labels), meta["training"]["seed"])
    assert len(test_idx) == meta["data"]["n_test"] == 359
    acc = accuracy(load_digits_classifier(), images[test_idx], labels[test_idx])
    assert acc > 0.95
    assert acc == pytest.approx(meta["test_accuracy"], abs=1.0 / len(test_idx))


def test_features_and_probabilities_shapes() -> None:
    images = load_digits_images()[:32]
    clf = load_digits_classifier()
    feats = digits_features(images, clf)
    assert feats.shape == (32, FEATURE_DIM) and feats.dtype == np.float64
    assert np.all(feats >= 0.0)  # post-ReLU
    probs = classify_digits(images[:, 0].numpy(), clf)  # (N, 16, 16) numpy is accepted too
    assert probs.shape == (32, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="16, 16"):
        digits_features(torch.zeros(2, 1, 8, 8), clf)


def test_frechet_distance_grows_with_added_noise() -> None:
    images, labels = load_digits_images(), load_digits_labels()
    clf = load_digits_classifier()
    _, test_idx = split_indices(len(labels), 0)
    real = digits_features(images[test_idx], clf)
    rest = digits_features(np.delete(images.numpy(), test_idx, axis=0)[:800], clf)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(images[:800].shape, generator=gen)
    fds = [frechet_distance(real, rest)]
    for sigma in (0.2, 0.5, 1.0):
        noisy = (images[:800] + sigma * noise).clamp(-1.0, 1.0)
        fds.append(frechet_distance(real, digits_features(noisy, clf)))
    assert all(x < y for x, y in zip(fds, fds[1:], strict=False)), fds
    assert fds[-1] > 10.0 * fds[0], fds


def test_classifier_training_is_reproducible() -> None:
    images, labels = load_digits_images()[:256], load_digits_labels()[:256]
    runs = [train_digits_classifier(images, labels, epochs=1, seed=5, threads=1) for _ in "ab"]
    for (k, v), w in zip(runs[0].model.state_dict().items(), runs[1].model.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    assert runs[0].epoch_losses == runs[1].epoch_losses
    assert runs[0].n_test == 51 and runs[0].n_train == 205
