"""``picojoule train digits`` and ``picojoule train digits-classifier``.

Both retrain, on CPU and reproducibly, the small models whose weights picojoule commits under
``models/zoo/weights`` (see docs/digits.md), and write safetensors + a provenance JSON (config,
seed, epochs, losses, versions, date, command). The lead wires :func:`register` into
``simulator/cli.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

from accelerator.errors import PicojouleError

REPO_DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
"""Where the committed sample grid lives in a source checkout."""

GRID_SAMPLES = 100
GRID_COLS = 10
GRID_SCALE = 4
"""The sample grid: the first 100 DDIM-50 samples of seed 0, 10 per row, each pixel 4×4."""
QUALITY_SAMPLES = 500
"""DDIM-50 samples (seed 0) whose classifier statistics the provenance JSON records."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train`` with the sub-commands ``digits`` and ``digits-classifier``."""
    train = subparsers.add_parser("train", help="retrain picojoule's small trained models (CPU, reproducible)")
    models = train.add_subparsers(dest="train_model", metavar="MODEL", required=True)

    ddpm = models.add_parser("digits", help="the digits DDPM (diffusers UNet2DModel, 16x16, sklearn digits)")
    _common(ddpm, default_epochs=50)
    ddpm.add_argument(
        "--grid",
        type=Path,
        default=None,
        help="PNG of 100 DDIM-50 samples (default: docs/img/digits_samples.png in a checkout "
        "when --out is not given, else OUT/digits_samples.png)",
    )
    ddpm.set_defaults(func=_train_digits)

    clf = models.add_parser("digits-classifier", help="the CNN whose features give the digits Frechet distance")
    _common(clf, default_epochs=30)
    clf.set_defaults(func=_train_classifier)


def _common(parser: argparse.ArgumentParser, default_epochs: int) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: the package's models/zoo/weights, i.e. overwrite the committed weights)",
    )
    parser.add_argument("--epochs", type=int, default=default_epochs, help="training epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of init, batches and noise")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (results depend on it)")


def _check(args: argparse.Namespace) -> Path:
    from models.zoo.digits import WEIGHTS_DIR

    if args.epochs < 1:
        raise PicojouleError(f"--epochs must be a positive integer, got {args.epochs}")
    if args.threads < 1:
        raise PicojouleError(f"--threads must be a positive integer, got {args.threads}")
    out: Path = args.out if args.out is not None else WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    return out


def _provenance(args: argparse.Namespace, name: str) -> dict[str, Any]:
    import diffusers
    import numpy
    import safetensors
    import sklearn
    import torch

    cmd = f"picojoule train {name} --epochs {args.epochs} --seed {args.seed}"
    if args.threads != 1:
        cmd += f" --threads {args.threads}"
    return {
        "command": cmd,
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


def _save(out: Path, stem: str, model: Any, meta: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    wpath = out / f"{stem}.safetensors"
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(wpath), metadata={"format": "pt", "picojoule_model": stem})
    meta["weights_file"] = wpath.name
    meta["weights_sha256"] = hashlib.sha256(wpath.read_bytes()).hexdigest()
    meta["n_params"] = int(sum(v.numel() for v in state.values()))
    (out / f"{stem}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return wpath


def _train_digits(args: argparse.Namespace) -> int:
    from models.zoo.digits_train import DDPMTrainConfig

    out = _check(args)
    grid = args.grid
    if grid is None:
        in_checkout = args.out is None and REPO_DOCS_IMG.parent.is_dir()
        grid = REPO_DOCS_IMG / "digits_samples.png" if in_checkout else out / "digits_samples.png"
    config = DDPMTrainConfig(epochs=args.epochs, seed=args.seed, threads=args.threads)
    train_and_save_digits(out, config, grid, _provenance(args, "digits"))
    return 0


def train_and_save_digits(out: Path, config: Any, grid: Path, provenance: dict[str, Any]) -> dict[str, Any]:
    """Train the digits DDPM with ``config`` (a DDPMTrainConfig), write weights + JSON to
    ``out`` and the sample grid to ``grid``; returns the JSON written."""
    from dataclasses import asdict

    from models.zoo.digits import (
        DDPM_META_FILE,
        image_grid,
        load_digits_images,
        sample_digits,
        write_png_gray,
    )
    from models.zoo.digits_train import deterministic_cpu, train_digits_ddpm

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
        **provenance,
        "sample_grid": {"file": grid.name, "scheduler": "ddim", "steps": 50, "seed": 0},
    }
    with deterministic_cpu(config.threads):
        samples = sample_digits(result.model, QUALITY_SAMPLES, steps=50, seed=0)
        meta["sample_quality"] = _sample_quality(samples, images)
    grid.parent.mkdir(parents=True, exist_ok=True)
    write_png_gray(grid, image_grid(samples[:GRID_SAMPLES], GRID_COLS, scale=GRID_SCALE))
    wpath = _save(out, DDPM_META_FILE.removesuffix(".json"), result.model, meta)
    print(f"wrote {wpath}, {out / DDPM_META_FILE} and {grid} ({result.wall_s:.0f} s training)")
    print(f"sample quality: {json.dumps(meta['sample_quality'])}")
    return meta


def _sample_quality(samples: Any, images: Any) -> dict[str, Any] | None:
    """FD to the real digits and mean classifier confidence, if the classifier is there."""
    from accelerator.errors import TraceError
    from models.zoo.digits_classifier import (
        classify_digits,
        digits_features,
        frechet_distance,
        load_digits_classifier,
    )

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


def _train_classifier(args: argparse.Namespace) -> int:
    from models.zoo.digits import load_digits_images, load_digits_labels
    from models.zoo.digits_classifier import (
        CLASSIFIER_META_FILE,
        TEST_FRACTION,
        train_digits_classifier,
    )

    out = _check(args)
    images, labels = load_digits_images(), load_digits_labels()
    result = train_digits_classifier(
        images,
        labels,
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
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
            "epochs": args.epochs,
            "seed": args.seed,
            "threads": args.threads,
            "batch_size": 64,
            "optimizer": "Adam lr 2e-3",
            "epoch_losses": [round(v, 6) for v in result.epoch_losses],
            "wall_s": round(result.wall_s, 1),
            "deterministic_algorithms": True,
        },
        "test_accuracy": result.test_accuracy,
        **_provenance(args, "digits-classifier"),
    }
    wpath = _save(out, CLASSIFIER_META_FILE.removesuffix(".json"), result.model, meta)
    print(f"wrote {wpath}: test accuracy {result.test_accuracy:.4f} on {result.n_test} images")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m models.zoo.cli train digits``) until the CLI wires it."""
    parser = argparse.ArgumentParser(prog="picojoule")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except PicojouleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
