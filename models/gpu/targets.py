"""What ``picojoule gpu measure`` runs: a model, one denoising step, and its sampling loop.

:func:`build_target` returns a :class:`Target` for a model name. It takes the model and
sampler from the model zoo (``models.zoo.get(name)``) when the zoo has that entry, and
otherwise builds the same architecture from its published diffusers config with random
weights (true shapes and FLOPs, which is all latency and energy depend on): the DDPM
CIFAR-10 UNet (google/ddpm-cifar10-32), DiT-S/2 (Peebles & Xie 2023, 256² → 32² latent),
the SD-1.5 UNet (runwayml/stable-diffusion-v1-5 unet/config.json) and the SD VAE decoder.
``tiny=True`` shrinks every architecture to a few channels for fast CPU tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from accelerator.errors import TraceError
from models.zoo import SampleOptions, get, terrain_torch

#: Models the built-in fallback knows, with the default sampling steps of each.
BUILTIN_STEPS: dict[str, int] = {
    "ddpm-cifar10": 50,
    "dit-s-2": 50,
    "sd15-unet": 50,
    "sd-vae-decoder": 1,
    "microbench": 1,
}


class MicroBench(torch.nn.Module):
    """Single ops over a range of sizes: the points the efficiency curves are fitted to.

    GEMMs (square and SD-like skinny ones), 3×3 convolutions, attention, a norm and an
    elementwise add, each a separate op, so per-op times map one-to-one to sizes.
    """

    def __init__(self, tiny: bool) -> None:
        super().__init__()
        squares = (16, 32) if tiny else (256, 512, 1024, 2048, 4096, 8192)
        skinny = ((8, 16),) if tiny else ((64, 320), (256, 640), (1024, 1280), (4096, 320), (4096, 1280))
        convs = ((4, 8),) if tiny else ((128, 32), (256, 16), (320, 64), (640, 32), (1280, 16), (512, 128))
        self.square = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(n, n)) for n in squares)
        self.skinny = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(c, c)) for _, c in skinny)
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(c, c, 3, padding=1) for c, _ in convs)
        self.sizes = (squares, skinny, convs)
        self.elems = (1 << 10, 1 << 14) if tiny else (1 << 16, 1 << 20, 1 << 24, 1 << 27)
        self.attn = ((1, 2, 16, 8),) if tiny else ((2, 8, 1024, 64), (2, 8, 4096, 40), (2, 6, 256, 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = x.sum()
        squares, skinny, convs = self.sizes
        for w in self.square:
            acc = acc + (torch.randn_like(w) @ w)[0, 0]
        for (m, c), w in zip(skinny, self.skinny, strict=True):
            acc = acc + (torch.randn(m, c, dtype=w.dtype, device=w.device) @ w)[0, 0]
        for (c, hw), conv in zip(convs, self.convs, strict=True):
            inp = torch.randn(1, c, hw, hw, dtype=x.dtype, device=x.device)
            acc = acc + conv(inp)[0, 0, 0, 0]
        for b, h, n, d in self.attn:
            q = torch.randn(b, h, n, d, dtype=x.dtype, device=x.device)
            acc = acc + torch.nn.functional.scaled_dot_product_attention(q, q, q)[0, 0, 0, 0]
        for n in self.elems:
            a = torch.randn(n, dtype=x.dtype, device=x.device)
            acc = acc + (a + a)[0]
            rows = a.view(-1, 1024)  # every size is a multiple of 1024
            acc = acc + torch.nn.functional.layer_norm(rows, (1024,))[0, 0]
        return acc


@dataclass
class Target:
    """A runnable model: ``step()`` is one model invocation, ``sample()`` one batch of images."""

    name: str
    module: torch.nn.Module
    step: Callable[[], Any]
    sample: Callable[[], Any]
    steps: int
    batch: int
    provenance: dict[str, Any] = field(default_factory=dict)


def _ddim_loop(
    call: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0: torch.Tensor, steps: int
) -> Callable[[], torch.Tensor]:
    from diffusers import DDIMScheduler

    sched = DDIMScheduler(num_train_timesteps=1000)
    sched.set_timesteps(steps)

    def sample() -> torch.Tensor:
        x = x0.clone()
        for t in sched.timesteps:
            eps = call(x, t.to(x.device))
            x = sched.step(eps, t, x).prev_sample
        return x

    return sample


def _unet2d(tiny: bool) -> tuple[torch.nn.Module, tuple[int, int, int]]:
    from diffusers import UNet2DModel

    if tiny:
        cfg: dict[str, Any] = dict(
            sample_size=8, block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        )  # fmt: skip
    else:  # google/ddpm-cifar10-32 config.json
        cfg = dict(
            sample_size=32, block_out_channels=(128, 256, 256, 256), layers_per_block=2,
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            downsample_padding=0, flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6,
        )  # fmt: skip
    size = cfg["sample_size"]
    return UNet2DModel(in_channels=3, out_channels=3, **cfg), (3, size, size)


def _build_builtin(name: str, device: str, dtype: torch.dtype, batch: int, steps: int, tiny: bool) -> Target:
    gen = torch.Generator().manual_seed(0)
    if name == "ddpm-cifar10":
        module, shape = _unet2d(tiny)
        module = module.to(device=device, dtype=dtype).eval()
        x = torch.randn((batch, *shape), generator=gen, device="cpu").to(device, dtype)

        def call(x_: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return module(x_, t).sample

    elif name == "dit-s-2":
        from diffusers import DiTTransformer2DModel

        heads, layers, size = (2, 2, 8) if tiny else (6, 12, 32)
        module = DiTTransformer2DModel(
            num_attention_heads=heads, attention_head_dim=16 if tiny else 64, in_channels=4,
            out_channels=8, num_layers=layers, sample_size=size, patch_size=2,
            num_embeds_ada_norm=1000,
        ).to(device=device, dtype=dtype).eval()  # fmt: skip
        x = torch.randn((batch, 4, size, size), generator=gen, device="cpu").to(device, dtype)
        labels = torch.zeros(batch, dtype=torch.long, device=device)

        def call(x_: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out = module(x_, timestep=t.expand(x_.shape[0]), class_labels=labels).sample
            return out[:, :4]  # learned-sigma half dropped, as DiTPipeline does

    elif name == "sd15-unet":
        from diffusers import UNet2DConditionModel

        if tiny:
            cfg: dict[str, Any] = dict(
                sample_size=8, block_out_channels=(32, 64), layers_per_block=1,
                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
            )  # fmt: skip
        else:  # runwayml/stable-diffusion-v1-5 unet/config.json, 64² latent = 512² image
            cfg = dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
        module = UNet2DConditionModel(in_channels=4, out_channels=4, **cfg)
        module = module.to(device=device, dtype=dtype).eval()
        size, ctx_dim = cfg["sample_size"], cfg["cross_attention_dim"]
        x = torch.randn((batch, 4, size, size), generator=gen, device="cpu").to(device, dtype)
        ctx = torch.randn((batch, 77, ctx_dim), generator=gen, device="cpu").to(device, dtype)

        def call(x_: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return module(x_, t, encoder_hidden_states=ctx).sample

    elif name == "microbench":
        module = MicroBench(tiny).to(device=device, dtype=dtype).eval()
        x = torch.ones(4, device=device, dtype=dtype)

        def bench() -> torch.Tensor:
            return module(x)

        prov = {"model": name, "weights": "random-init", "tiny": tiny}
        return Target(name, module, bench, bench, 1, batch, prov)
    elif name == "sd-vae-decoder":
        from diffusers import AutoencoderKL

        chans = (16, 32) if tiny else (128, 256, 512, 512)
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=chans,
            down_block_types=("DownEncoderBlock2D",) * len(chans),
            up_block_types=("UpDecoderBlock2D",) * len(chans), layers_per_block=1 if tiny else 2,
            norm_num_groups=8 if tiny else 32,
        )  # fmt: skip
        module = vae.to(device=device, dtype=dtype).eval()
        size = 4 if tiny else 64
        z = torch.randn((batch, 4, size, size), generator=gen, device="cpu").to(device, dtype)

        def one() -> torch.Tensor:
            return module.decode(z).sample

        prov = {"model": name, "weights": "random-init", "latent": [size, size], "tiny": tiny}
        return Target(name, module, one, one, 1, batch, prov)
    else:
        raise TraceError(f"unknown model {name!r}; built-in: {', '.join(BUILTIN_STEPS)}")
    t0 = torch.tensor(500, device=device)
    prov = {"model": name, "weights": "random-init", "sample_shape": list(x.shape[1:]),
            "sampler": f"DDIM {steps} steps (diffusers)", "tiny": tiny}  # fmt: skip
    return Target(name, module, lambda: call(x, t0), _ddim_loop(call, x, steps), steps, batch, prov)


def _move(x: Any, device: str, dtype: torch.dtype) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device, dtype) if x.is_floating_point() else x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_move(v, device, dtype) for v in x)
    if isinstance(x, dict):
        return {k: _move(v, device, dtype) for k, v in x.items()}
    return x


def _back(out: Any) -> Any:
    """The model's output on the CPU in fp32, where the zoo's CPU-side sampler expects it."""
    if isinstance(out, torch.Tensor):
        return out.float().cpu()
    if hasattr(out, "sample") and isinstance(out.sample, torch.Tensor):
        out.sample = out.sample.float().cpu()
        return out
    if isinstance(out, tuple):
        return type(out)(_back(v) for v in out)
    return out


def _from_zoo(name: str, device: str, dtype: torch.dtype, batch: int, steps: int | None) -> Target | None:
    """The zoo's model and sampler for ``name`` on ``device``, or ``None`` if the zoo lacks it.

    The zoo's samplers keep latents and the scheduler on the CPU; hooks move each model
    call's inputs to ``device``/``dtype`` and its output back, so the loop is the zoo's own.
    One step replays the first model call's (moved) inputs.
    """
    try:
        entry = get(name)
    except TraceError:  # no such entry: use the built-in
        return None
    if entry.frontend != "torch":
        return None
    module = entry.build(seed=0).to(device=device, dtype=dtype).eval()
    first: dict[str, Any] = {}

    def pre(_m: Any, args: Any, kwargs: Any) -> Any:
        moved = (_move(args, device, dtype), _move(kwargs, device, dtype))
        first.setdefault("call", moved)
        return moved

    module.register_forward_pre_hook(pre, with_kwargs=True)
    module.register_forward_hook(lambda _m, _a, out: _back(out))
    opts = SampleOptions(steps=steps, batch=batch)
    resolved = entry.resolve(opts)

    def sample() -> Any:
        return entry.sample(module, opts)

    def step() -> Any:
        if "call" not in first:
            sample()
        args, kwargs = first["call"]
        return module.forward(*args, **kwargs)  # no hooks on the root: output stays on device

    prov = {
        "model": name, "weights": entry.weights, "source": entry.weights_source,
        "resolution": resolved.resolution, "sampler": f"zoo {resolved.scheduler}",
        "cfg": resolved.cfg, "runner": "models.zoo, scheduler on the CPU, model on device",
    }  # fmt: skip
    return Target(name, module, step, sample, int(resolved.steps or 1), batch, prov)


def build_target(
    name: str, device: str, dtype: torch.dtype, *, batch: int = 1, steps: int | None = None,
    tiny: bool = False, source: str = "auto",
) -> Target:  # fmt: skip
    """The runnable model ``name``: ``source`` "zoo", "builtin" or "auto" (zoo first).

    ``terrain`` (trained, ONNX in the zoo) runs as a torch module (:mod:`models.zoo.terrain_torch`):
    "zoo" reads the zoo's ONNX file, "export" a torch export, "auto" the first that works;
    ``tiny`` does not shrink it (there is one trained terrain model, small already).
    """
    if batch < 1:
        raise TraceError(f"batch must be a positive integer, got {batch}")
    if name == "terrain" and source in ("auto", "zoo", "export"):
        t = terrain_torch.build(device, dtype, batch=batch, steps=steps, source=source)
        prov = {**t.provenance, "tiny": False, **({"tiny_ignored": True} if tiny else {})}
        return Target(name, t.module, t.step, t.sample, t.steps, batch, prov)
    if source not in ("auto", "zoo", "builtin"):
        raise TraceError(f"source must be auto, zoo or builtin (export: terrain only), got {source!r}")
    if not tiny and source != "builtin":
        found = _from_zoo(name, device, dtype, batch, steps)
        if found is not None:
            return found
        if source == "zoo":
            raise TraceError(f"the model zoo has no torch model {name!r}")
    if name not in BUILTIN_STEPS:
        raise TraceError(f"unknown model {name!r}; built-in: {', '.join(BUILTIN_STEPS)}")
    with torch.random.fork_rng(devices=[]), torch.device(device):  # init weights in place
        torch.manual_seed(0)
        return _build_builtin(name, device, dtype, batch, steps or BUILTIN_STEPS[name], tiny)
