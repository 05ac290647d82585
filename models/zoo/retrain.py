"""Retrain picojoule's committed digits models and write their weights with provenance.

``picojoule train digits`` and ``picojoule train digits-classifier`` (:mod:`models.zoo.cli`)
call :func:`train_and_save_digits` and :func:`train_and_save_classifier`: both train on CPU,
reproducibly, and write ``<stem>.safetensors`` + ``<stem>.json`` (config, seed, epochs, losses,
versions, date, command) to an output folder (see docs/digits.md). Needs torch, diffusers and
scikit-learn (the trace extra).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import diffusers
import numpy
import safetensors
import sklearn
import torch
from safetensors.torch import save_file

from accelerator.errors import TraceError
from models.zoo.digits import (
    DDPM_META_FILE,
    WEIGHTS_DIR,
    image_grid,
    load_digits_images,
    load_digits_labels,
    sample_digits,
    write_png_gray,
)
from models.zoo.digits_classifier import (
    CLASSIFIER_META_FILE,
    TEST_FRACTION,
    classify_digits,
    digits_features,
    frechet_distance,
    load_digits_classifier,
    train_digits_classifier,
)
from models.zoo.digits_train import DDPMTrainConfig, deterministic_cpu, train_digits_ddpm

GRID_SAMPLES = 100
GRID_COLS = 10
GRID_SCALE = 4
"""The sample grid: the first 100 DDIM-50 samples of seed 0, 10 per row, each pixel 4×4."""
QUALITY_SAMPLES = 500
"""DDIM-50 samples (seed 0) whose classifier statistics the provenance JSON records."""


def output_dir(out: Path | None) -> Path:
    """``out``, or the package's committed weights folder when ``None``; created if missing."""
    path = out if out is not None else WEIGHTS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def provenance(command: str) -> dict[str, Any]:
    """What produced a weights file: ``command``, argv, date, library versions, machine."""
    return {
        "command": command,
        "argv": sys.argv,
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__,
            "safetensors": safetensors.__version__,
        },
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
    }


def save_weights(out: Path, stem: str, model: Any, meta: dict[str, Any]) -> Path:
    """Write ``out/<stem>.safetensors`` and ``out/<stem>.json`` (``meta`` plus the weights'
    file name, SHA-256 and parameter count); returns the weights path."""
    wpath = out / f"{stem}.safetensors"
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(wpath), metadata={"format": "pt", "picojoule_model": stem})
    meta["weights_file"] = wpath.name
    meta["weights_sha256"] = hashlib.sha256(wpath.read_bytes()).hexdigest()
    meta["n_params"] = int(sum(v.numel() for v in state.values()))
    (out / f"{stem}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return wpath


def train_and_save_digits(out: Path, config: DDPMTrainConfig, grid: Path, command: str) -> dict[str, Any]:
    """Train the digits DDPM with ``config``, write weights + JSON to ``out`` and the sample
    grid to ``grid``; returns the JSON written."""
    prov = provenance(command)
    images = load_digits_images()
    print(f"training the digits DDPM on {images.shape[0]} images, {config}", flush=True)
    result = train_digits_ddpm(images, config, log=lambda s: print(s, flush=True))
    meta: dict[str, Any] = {
        "model": "digits-ddpm",
        "architecture": "diffusers.UNet2DModel",
        "unet_config": result.unet_config,
        "scheduler_config": result.scheduler_config,
        "data": {
            "source": "sklearn.datasets.load_digits (bundled with scikit-learn, no download)",
            "n_images": int(images.shape[0]),
            "preprocessing": "8x8 values 0..16 -> /16 -> bilinear upscale to 16x16 "
            "(align_corners=False) -> clamp [0,1] -> 2x-1 in [-1,1]",
        },
        "training": {
            **asdict(config),
            "objective": "epsilon-prediction MSE, uniform t in [0, 1000)",
            "optimizer": "AdamW, linear warm-up then cosine decay to 0",
            "saved_weights": "EMA",
            "optimizer_steps": result.optimizer_steps,
            "epoch_losses": [round(v, 6) for v in result.epoch_losses],
            "wall_s": round(result.wall_s, 1),
            "deterministic_algorithms": True,
        },
        **prov,
        "sample_grid": {"file": grid.name, "scheduler": "ddim", "steps": 50, "seed": 0},
    }
    with deterministic_cpu(config.threads):
        samples = sample_digits(result.model, QUALITY_SAMPLES, steps=50, seed=0)
        meta["sample_quality"] = sample_quality(samples, images)
    grid.parent.mkdir(parents=True, exist_ok=True)
    write_png_gray(grid, image_grid(samples[:GRID_SAMPLES], GRID_COLS, scale=GRID_SCALE))
    wpath = save_weights(out, DDPM_META_FILE.removesuffix(".json"), result.model, meta)
    print(f"wrote {wpath}, {out / DDPM_META_FILE} and {grid} ({result.wall_s:.0f} s training)")
    print(f"sample quality: {json.dumps(meta['sample_quality'])}")
    return meta


def sample_quality(samples: Any, images: Any) -> dict[str, Any] | None:
    """FD to the real digits and mean classifier confidence, if the classifier is there."""
    try:
        clf = load_digits_classifier()
    except TraceError:
        return None
    probs = classify_digits(samples, clf)
    return {
        "sampler": "ddim",
        "steps": 50,
        "seed": 0,
        "n": int(samples.shape[0]),
        "frechet_distance_to_real": round(
            frechet_distance(digits_features(samples, clf), digits_features(images, clf)), 3
        ),
        "mean_max_class_probability": round(float(probs.max(axis=1).mean()), 4),
        "predicted_class_counts": [int((probs.argmax(axis=1) == c).sum()) for c in range(10)],
    }


def train_and_save_classifier(out: Path, *, epochs: int, seed: int, threads: int, command: str) -> dict[str, Any]:
    """Train the digits classifier and write weights + JSON to ``out``; returns the JSON written."""
    images, labels = load_digits_images(), load_digits_labels()
    result = train_digits_classifier(
        images,
        labels,
        epochs=epochs,
        seed=seed,
        threads=threads,
        log=lambda s: print(s, flush=True),
    )
    meta: dict[str, Any] = {
        "model": "digits-classifier",
        "architecture": "models.zoo.digits_classifier.DigitsCNN",
        "data": {
            "source": "sklearn.datasets.load_digits, preprocessed as models.zoo.digits."
            "load_digits_images (16x16, [-1,1])",
            "split": f"numpy default_rng(seed).permutation; first {TEST_FRACTION:.0%} is test",
            "n_train": result.n_train,
            "n_test": result.n_test,
        },
        "training": {
            "epochs": epochs,
            "seed": seed,
            "threads": threads,
            "batch_size": 64,
            "optimizer": "Adam lr 2e-3",
            "epoch_losses": [round(v, 6) for v in result.epoch_losses],
            "wall_s": round(result.wall_s, 1),
            "deterministic_algorithms": True,
        },
        "test_accuracy": result.test_accuracy,
        **provenance(command),
    }
    wpath = save_weights(out, CLASSIFIER_META_FILE.removesuffix(".json"), result.model, meta)
    print(f"wrote {wpath}: test accuracy {result.test_accuracy:.4f} on {result.n_test} images")
    return meta
