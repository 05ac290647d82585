"""The zoo's entries. Adding a model = one ZooEntry here + one module with build/sample.

Imports no torch (the architecture configs entries carry are written out here), so listing the
zoo does not load a model library.
"""

from __future__ import annotations

from typing import Any

from models.zoo.entry import ZooEntry

#: ``tiny-unet``: the same block structure, small enough for unit tests (about 0.5M params).
TINY_UNET_CONFIG: dict[str, Any] = {
    "block_out_channels": [32, 64],
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
    "layers_per_block": 1,
    "norm_num_groups": 8,
}

#: facebook/DiT-XL-2-256 transformer/config.json
DIT_XL_2: dict[str, Any] = {
    "activation_fn": "gelu-approximate",
    "attention_bias": True,
    "attention_head_dim": 72,
    "dropout": 0.0,
    "in_channels": 4,
    "norm_elementwise_affine": False,
    "norm_num_groups": 32,
    "norm_type": "ada_norm_zero",
    "num_attention_heads": 16,
    "num_embeds_ada_norm": 1000,
    "num_layers": 28,
    "out_channels": 8,
    "patch_size": 2,
    "sample_size": 32,
    "upcast_attention": False,
}

#: DiT-S/2: Peebles & Xie, "Scalable Diffusion Models with Transformers", Table 1.
DIT_S_2: dict[str, Any] = {
    **DIT_XL_2,
    "attention_head_dim": 64,
    "num_attention_heads": 6,
    "num_layers": 12,
}

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
    ZooEntry(
        name="sd15-unet",
        summary="Stable Diffusion 1.5 UNet2DConditionModel, 860M params, 77x768 text embedding",
        module="models.zoo.sd15",
        weights="random-init",
        weights_source="config: runwayml/stable-diffusion-v1-5 (written out in code; no hub)",
        default_resolution=64,
        resolution_unit="latent",
        default_steps=50,
        native_scheduler="pndm",
        schedulers=("native", "ddim", "ddpm"),
        supports_cfg=True,
        default_cfg=True,
        options={"fast_init": True},
    ),
    ZooEntry(
        name="dit-xl-2",
        summary="DiT-XL/2 DiTTransformer2DModel (750M params in this layout), class-conditional",
        module="models.zoo.dit",
        weights="random-init",
        weights_source="config: facebook/DiT-XL-2-256 (written out in code; no hub)",
        default_resolution=32,
        resolution_unit="latent",
        default_steps=250,
        native_scheduler="ddpm",
        supports_cfg=True,
        default_cfg=True,
        options={"config": DIT_XL_2, "fast_init": True},
    ),
    ZooEntry(
        name="dit-s-2",
        summary="DiT-S/2 DiTTransformer2DModel (12 layers, 384 wide), class-conditional",
        module="models.zoo.dit",
        weights="random-init",
        weights_source="config: DiT-S/2 of Peebles & Xie 2023, Table 1 (DiT-XL-2-256 layout)",
        default_resolution=32,
        resolution_unit="latent",
        default_steps=250,
        native_scheduler="ddpm",
        supports_cfg=True,
        default_cfg=True,
        options={"config": DIT_S_2},
    ),
    ZooEntry(
        name="sd-vae-decoder",
        summary="Stable Diffusion AutoencoderKL decoder (83.7M params with encoder), latent in",
        module="models.zoo.vae",
        weights="random-init",
        weights_source="config: runwayml/stable-diffusion-v1-5 vae (written out in code; no hub)",
        default_resolution=64,
        resolution_unit="latent",
        default_steps=1,
        fixed_steps=1,
        native_scheduler="decode",
        schedulers=("native",),
    ),
    ZooEntry(
        name="terrain",
        summary="trained consistency UNet (10.4M params) of adaptive-terrain-diffusion 0.4.2, 128²",
        module="models.zoo.terrain",
        frontend="onnx",
        weights="trained:adaptive-terrain-diffusion==0.4.2",
        weights_source="terrain_diffusion/weights/terrain_consistency_unet_difficulty100.onnx (MIT)",
        default_resolution=128,
        default_steps=50,
        native_scheduler="consistency-multistep",
        schedulers=("native",),
    ),
    ZooEntry(
        name="digits-ddpm",
        summary="picojoule's DDPM trained on scikit-learn digits (UNet2DModel, 16², 1 channel)",
        module="models.zoo.digits_ddpm",
        weights="trained:picojoule digits DDPM",
        weights_source="models/zoo/weights/digits_ddpm.safetensors (picojoule train digits)",
        default_resolution=16,
        default_steps=50,
        native_scheduler="ddpm",
    ),
)


def registry_by_name() -> dict[str, ZooEntry]:
    """The zoo's entries by name."""
    return {e.name: e for e in ENTRIES}
