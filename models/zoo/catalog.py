"""The zoo's entries. Adding a model = one ZooEntry here + one module with build/sample."""

from __future__ import annotations

from models.zoo import ZooEntry
from models.zoo.ddpm_cifar10 import TINY_UNET_CONFIG

ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry(
        name="ddpm-cifar10",
        summary="DDPM CIFAR-10 UNet2DModel, 35.7M params, 32² RGB (Ho et al. 2020)",
        module="models.zoo.ddpm_cifar10",
        weights="random-init",
        weights_source="config: google/ddpm-cifar10-32 (written out in code; no hub)",
        default_resolution=32,
        default_steps=50,
        native_scheduler="ddpm",
    ),
    ZooEntry(
        name="tiny-unet",
        summary="test-sized UNet2DModel with the DDPM block structure (2 levels, 32/64 ch), 16²",
        module="models.zoo.ddpm_cifar10",
        weights="random-init",
        weights_source="config: picojoule test model (models/zoo/ddpm_cifar10.py)",
        default_resolution=16,
        default_steps=4,
        native_scheduler="ddpm",
        options={"unet_config": TINY_UNET_CONFIG},
    ),
)
