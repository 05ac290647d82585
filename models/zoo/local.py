"""Local models: a diffusers model folder, or a safetensors file loaded into a zoo architecture.

    picojoule trace --model path/to/unet_folder ...            # config.json + weights
    picojoule trace --model path/to/pipeline --arch sd15-unet  # model_index.json: picks unet/
    picojoule trace --model weights.safetensors --arch ddpm-cifar10

The folder's ``config.json`` ``_class_name`` picks the sampler: UNet2DModel → the DDPM loop of
``ddpm-cifar10``, UNet2DConditionModel → ``sd15-unet``, DiTTransformer2DModel → ``dit-s-2``,
AutoencoderKL → ``sd-vae-decoder`` (with those entries' scheduler configs). Files are read
with ``local_files_only``: nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from accelerator.errors import TraceError
from models.zoo.catalog import registry_by_name
from models.zoo.entry import SampleOptions, StepHook, ZooEntry

CLASS_TO_ARCH = {
    "UNet2DModel": "ddpm-cifar10",
    "UNet2DConditionModel": "sd15-unet",
    "DiTTransformer2DModel": "dit-s-2",
    "AutoencoderKL": "sd-vae-decoder",
}
PIPELINE_PARTS = ("unet", "transformer", "vae")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _model_folder(path: Path, arch: str | None) -> Path:
    if (path / "config.json").is_file():
        return path
    if (path / "model_index.json").is_file():
        wanted = {"sd-vae-decoder": "vae"}.get(arch or "", None)
        for part in [wanted] if wanted else PIPELINE_PARTS:
            if (path / part / "config.json").is_file():
                return path / part
    raise TraceError(
        f"{path}: not a diffusers model folder (no config.json, nor a pipeline folder with "
        f"{'/'.join(PIPELINE_PARTS)}/config.json)"
    )


def local_entry(path: Path, arch: str | None, registry: dict[str, ZooEntry]) -> ZooEntry:
    """A ZooEntry for a local model (see the module docstring)."""
    if arch is not None and arch not in registry:
        raise TraceError(f"unknown --arch {arch!r}; allowed: {', '.join(sorted(registry))}")
    if not path.exists():
        raise TraceError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix != ".safetensors":
            raise TraceError(f"{path}: a local model file must be .safetensors")
        if arch is None:
            raise TraceError(f"{path}: a .safetensors file needs --arch NAME (a zoo architecture)")
        base = registry[arch]
        if base.frontend != "torch":
            raise TraceError(f"--arch {arch!r} is not a torch architecture")
        kind = "safetensors"
        source = f"{path.resolve()} sha256:{_sha256(path)}"
        resolution = base.default_resolution
    else:
        folder = _model_folder(path, arch)
        config = json.loads((folder / "config.json").read_text())
        cls = str(config.get("_class_name", ""))
        if arch is None:
            if cls not in CLASS_TO_ARCH:
                raise TraceError(
                    f"{folder}: model class {cls!r} has no sampler here; "
                    f"allowed: {', '.join(CLASS_TO_ARCH)} (or pass --arch)"
                )
            arch = CLASS_TO_ARCH[cls]
        base = registry[arch]
        kind = "folder"
        source = str(folder.resolve())
        size = config.get("sample_size")
        if isinstance(size, list):
            size = size[0]
        resolution = int(size) // (8 if cls == "AutoencoderKL" else 1) if size else 0
        resolution = resolution or base.default_resolution
        path = folder
    return replace(
        base,
        name=str(path),
        summary=f"local {kind} model in the {base.name} architecture",
        module="models.zoo.local",
        weights=f"trained:local:{path.name}",
        weights_source=source,
        default_resolution=resolution,
        options={**base.options, "path": str(path), "kind": kind, "arch": base.name},
    )


def _base(entry: ZooEntry) -> ZooEntry:
    return registry_by_name()[str(entry.options["arch"])]


def build(entry: ZooEntry, resolution: int, seed: int) -> Any:
    path = Path(str(entry.options["path"]))
    base = _base(entry)
    if entry.options["kind"] == "safetensors":
        from safetensors.torch import load_file

        model = base.build(resolution, seed)
        state = load_file(str(path))
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            first = str(exc).splitlines()[1:3]
            raise TraceError(f"{path} does not fit the {base.name} architecture: {' '.join(first).strip()}") from None
        if missing or unexpected:
            raise TraceError(
                f"{path} does not fit the {base.name} architecture: missing "
                f"{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
        return model
    import diffusers

    config = json.loads((path / "config.json").read_text())
    cls = getattr(diffusers, str(config.get("_class_name", "")), None)
    if cls is None:
        raise TraceError(f"{path}: unknown diffusers class {config.get('_class_name')!r}")
    model = cls.from_pretrained(str(path), local_files_only=True, low_cpu_mem_usage=False)
    model.eval()
    return model


def resolution_of(model: Any) -> int | None:
    size = getattr(getattr(model, "config", None), "sample_size", None)
    if not isinstance(size, int):
        return None
    return size // 8 if type(model).__name__ == "AutoencoderKL" else size


def sample(entry: ZooEntry, model: Any, options: SampleOptions, hook: StepHook) -> Any:
    base = _base(entry)
    return base._impl().sample(base, model, options, hook)
