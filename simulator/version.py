"""What a result depends on: the package version, and a fingerprint of the model's own source.

A sweep's results store keys every evaluation by (design point, workload, options, simulator
version). The package version alone does not change when the cost model does, so a resumed
sweep could mix results of two models; :func:`simulator_version` adds a hash of every file the
evaluation reads (the cost model, the spec and its cited tables, the workload format), so any
change to them starts fresh points while an unchanged tree resumes exactly.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Where the evaluation's behaviour lives, relative to the folder holding the packages.
MODEL_SOURCES = (
    "accelerator",
    "models/workload",
    "models/layers.py",
    "simulator/optable.py",
    "simulator/evaluation.py",
    "simulator/result.py",
    "simulator/cost",
    "simulator/system",
    "simulator/gpu/model.py",
    "simulator/gpu/params.py",
    "simulator/sweep/design.py",
    "simulator/sweep/worker.py",
)
_SUFFIXES = (".py", ".yaml")


def picojoule_version() -> str:
    """The installed distribution's version (``0+unknown`` when run from a bare checkout)."""
    try:
        return version("picojoule")
    except PackageNotFoundError:
        return "0+unknown"


def model_fingerprint(root: Path | None = None) -> str:
    """SHA-256 over the relative paths and bytes of :data:`MODEL_SOURCES` (``.py`` and ``.yaml``)."""
    base = root if root is not None else Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for entry in MODEL_SOURCES:
        p = base / entry
        files = sorted(f for f in p.rglob("*") if f.suffix in _SUFFIXES) if p.is_dir() else [p]
        for f in files:
            if "__pycache__" in f.parts or not f.is_file():
                continue
            h.update(f.relative_to(base).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


@cache
def simulator_version() -> str:
    """``<package version>+model.<first 12 hex digits of the model fingerprint>``."""
    return f"{picojoule_version()}+model.{model_fingerprint()[:12]}"
