"""Standard workloads of ``picojoule bench``: the committed traces, and SD-1.5 when no trace is.

The traces are the committed ``scenarios/workloads/``, packaged (:mod:`simulator.bench.inputs`),
or those of the folder ``picojoule bench --scenarios DIR`` names.

Until a Stable Diffusion 1.5 UNet trace is committed under ``scenarios/workloads/``, the bench
builds one denoising step of it op by op from the published architecture (diffusers
``UNet2DConditionModel`` config of ``runwayml/stable-diffusion-v1-5``: block channels
320/640/1280/1280, two ResNet blocks per level, 8 attention heads, 768-wide text context of 77
tokens, 64×64 latent, batch 1): every convolution, linear layer and attention with the norms,
activations, residual adds, concatenations and resamplings between them, in execution order,
as a trace would list them. Shapes are exact; there are no value statistics (dense).
"""

from __future__ import annotations

import math

from models.layers import AttentionLayer, ConvLayer, GemmLayer, attention_op, conv_op, gemm_op
from models.workload import Op, Workload
from models.workload import load as load_trace
from simulator.bench.inputs import BenchInputs, bench_inputs

_B = 4  # trace convention: fp32 bytes per element


class _Builder:
    def __init__(self) -> None:
        self.ops: list[Op] = []

    def _vec(self, kind: str, name: str, shape: tuple[int, ...], inputs: int = 1) -> None:
        n = math.prod(shape)
        self.ops.append(
            Op(
                name=name,
                kind=kind,
                module=name,
                input_shapes=(shape,) * inputs,
                output_shape=shape,
                flops=n * (5 if kind == "norm" else 1),
                act_bytes=n * inputs * _B,
                out_bytes=n * _B,
            )
        )

    def conv(self, name: str, c: int, hw: int, k: int, r: int = 3, stride: int = 1) -> int:
        self.ops.append(
            conv_op(
                ConvLayer(
                    type="conv", name=name, N=1, C=c, H=hw, W=hw, K=k, R=r, S=r, stride=stride, padding=r // 2, groups=1
                )
            )
        )
        return (hw + 2 * (r // 2) - r) // stride + 1

    def linear(self, name: str, m: int, k: int, n: int) -> None:
        self.ops.append(gemm_op(GemmLayer(type="gemm", name=name, M=m, N=n, K=k, batch=1)))

    def resnet(self, name: str, c_in: int, c_out: int, hw: int) -> None:
        self._vec("norm", f"{name}.norm1", (1, c_in, hw, hw))
        self._vec("elementwise", f"{name}.silu1", (1, c_in, hw, hw))
        self.conv(f"{name}.conv1", c_in, hw, c_out)
        self._vec("elementwise", f"{name}.temb_silu", (1, 1280))
        self.linear(f"{name}.time_emb_proj", 1, 1280, c_out)
        self._vec("elementwise", f"{name}.add_temb", (1, c_out, hw, hw), 2)
        self._vec("norm", f"{name}.norm2", (1, c_out, hw, hw))
        self._vec("elementwise", f"{name}.silu2", (1, c_out, hw, hw))
        self.conv(f"{name}.conv2", c_out, hw, c_out)
        if c_in != c_out:
            self.conv(f"{name}.conv_shortcut", c_in, hw, c_out, r=1)
        self._vec("elementwise", f"{name}.residual", (1, c_out, hw, hw), 2)

    def transformer(self, name: str, c: int, hw: int) -> None:
        tokens, heads = hw * hw, 8
        self._vec("norm", f"{name}.norm", (1, c, hw, hw))
        self.conv(f"{name}.proj_in", c, hw, c, r=1)
        for attn, ctx_len, ctx_dim in (("attn1", tokens, c), ("attn2", 77, 768)):
            self._vec("norm", f"{name}.{attn}.norm", (1, tokens, c))
            self.linear(f"{name}.{attn}.to_q", tokens, c, c)
            self.linear(f"{name}.{attn}.to_k", ctx_len, ctx_dim, c)
            self.linear(f"{name}.{attn}.to_v", ctx_len, ctx_dim, c)
            self.ops.append(
                attention_op(
                    AttentionLayer(
                        type="attention", name=f"{name}.{attn}", batch=heads, Lq=tokens, Lk=ctx_len, d=c // heads
                    )
                )
            )
            self.linear(f"{name}.{attn}.to_out", tokens, c, c)
            self._vec("elementwise", f"{name}.{attn}.residual", (1, tokens, c), 2)
        self._vec("norm", f"{name}.ff.norm", (1, tokens, c))
        self.linear(f"{name}.ff.proj", tokens, c, 8 * c)
        self._vec("elementwise", f"{name}.ff.geglu", (1, tokens, 4 * c), 2)
        self.linear(f"{name}.ff.out", tokens, 4 * c, c)
        self._vec("elementwise", f"{name}.ff.residual", (1, tokens, c), 2)
        self.conv(f"{name}.proj_out", c, hw, c, r=1)
        self._vec("elementwise", f"{name}.residual", (1, c, hw, hw), 2)


def sd15_unet_step() -> Workload:
    """One SD-1.5 UNet step (64×64 latent, batch 1), op by op; see the module docstring."""
    b = _Builder()
    b.linear("time_embedding.linear_1", 1, 320, 1280)
    b._vec("elementwise", "time_embedding.act", (1, 1280))
    b.linear("time_embedding.linear_2", 1, 1280, 1280)
    hw = 64
    b.conv("conv_in", 4, hw, 320)
    channels = (320, 640, 1280, 1280)
    skips = [320]
    c_prev = 320
    for i, c in enumerate(channels):
        for j in range(2):
            b.resnet(f"down_blocks.{i}.resnets.{j}", c_prev, c, hw)
            if i < 3:
                b.transformer(f"down_blocks.{i}.attentions.{j}", c, hw)
            c_prev = c
            skips.append(c)
        if i < 3:
            hw = b.conv(f"down_blocks.{i}.downsamplers.0.conv", c, hw, c, stride=2)
            skips.append(c)
    b.resnet("mid_block.resnets.0", 1280, 1280, hw)
    b.transformer("mid_block.attentions.0", 1280, hw)
    b.resnet("mid_block.resnets.1", 1280, 1280, hw)
    for i, c in enumerate(reversed(channels)):
        for j in range(3):
            skip = skips.pop()
            b._vec("data", f"up_blocks.{i}.cat.{j}", (1, c_prev + skip, hw, hw), 2)
            b.resnet(f"up_blocks.{i}.resnets.{j}", c_prev + skip, c, hw)
            if i > 0:
                b.transformer(f"up_blocks.{i}.attentions.{j}", c, hw)
            c_prev = c
        if i < 3:
            hw *= 2
            b._vec("resample", f"up_blocks.{i}.upsamplers.0.interpolate", (1, c, hw, hw))
            b.conv(f"up_blocks.{i}.upsamplers.0.conv", c, hw, c)
    b._vec("norm", "conv_norm_out", (1, 320, hw, hw))
    b._vec("elementwise", "conv_act", (1, 320, hw, hw))
    b.conv("conv_out", 320, hw, 4)
    return Workload(
        ops=tuple(b.ops),
        steps=1,
        provenance={
            "model": "sd-1.5-unet (op list built from the published config, no trace)",
            "weights": "none (shapes only)",
            "resolution": 512,
            "latent": 64,
            "batch": 1,
        },
    )


def standard_workloads(inputs: BenchInputs | None = None) -> dict[str, Workload]:
    """The bench's workloads: every trace of ``inputs`` (default: the committed traces,
    packaged), plus SD-1.5 (its trace if there is one, else :func:`sd15_unet_step`)."""
    out: dict[str, Workload] = {}
    for path in (inputs or bench_inputs()).trace_files():
        out[path.name.removesuffix(".workload.json.gz")] = load_trace(path)
    if not any(k.startswith(("sd15", "sd-1.5", "stable-diffusion-1.5")) for k in out):
        out["sd15-unet"] = sd15_unet_step()
    return out
