"""``picojoule train digits`` and ``picojoule train digits-classifier``.

Both retrain, on CPU and reproducibly, the small models whose weights picojoule commits under
``models/zoo/weights`` (see docs/digits.md), and write safetensors + a provenance JSON (config,
seed, epochs, losses, versions, date, command): :mod:`models.zoo.retrain` does the work, this
module parses the arguments. ``simulator/cli.py`` lists it in ``PLUGINS``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accelerator.errors import PicojouleError

REPO_DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
"""Where the committed sample grid lives in a source checkout."""


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


def _check(args: argparse.Namespace) -> None:
    if args.epochs < 1:
        raise PicojouleError(f"--epochs must be a positive integer, got {args.epochs}")
    if args.threads < 1:
        raise PicojouleError(f"--threads must be a positive integer, got {args.threads}")


def _command(args: argparse.Namespace, name: str) -> str:
    """The command line that reproduces this run (recorded in the provenance JSON)."""
    cmd = f"picojoule train {name} --epochs {args.epochs} --seed {args.seed}"
    if args.threads != 1:
        cmd += f" --threads {args.threads}"
    return cmd


def _train_digits(args: argparse.Namespace) -> int:
    _check(args)
    from models.zoo.digits_train import DDPMTrainConfig  # lazy: torch, diffusers (the trace extra)
    from models.zoo.retrain import output_dir, train_and_save_digits  # lazy: torch, diffusers, sklearn

    out = output_dir(args.out)
    grid = args.grid
    if grid is None:
        in_checkout = args.out is None and REPO_DOCS_IMG.parent.is_dir()
        grid = REPO_DOCS_IMG / "digits_samples.png" if in_checkout else out / "digits_samples.png"
    config = DDPMTrainConfig(epochs=args.epochs, seed=args.seed, threads=args.threads)
    train_and_save_digits(out, config, grid, _command(args, "digits"))
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    _check(args)
    from models.zoo.retrain import output_dir, train_and_save_classifier  # lazy: torch, diffusers, sklearn

    train_and_save_classifier(
        output_dir(args.out),
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
        command=_command(args, "digits-classifier"),
    )
    return 0
