"""The model zoo registry: names, options, hooks, seeds, fake tracing, local models, digits."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest

from accelerator.errors import TraceError
from models.workload import Op
from models.zoo import SampleOptions, get, list_models

ZOO = {
    "ddpm-cifar10",
    "digits-ddpm",
    "dit-s-2",
    "dit-xl-2",
    "sd-vae-decoder",
    "sd15-unet",
    "terrain",
    "tiny-unet",
}


def test_registry_names_and_unknown_name() -> None:
    assert set(list_models()) == ZOO
    with pytest.raises(TraceError, match=r"unknown model 'sd99'; allowed: ddpm-cifar10, digits-ddpm"):
        get("sd99")
    for name in list_models():
        e = get(name)
        assert e.weights == "random-init" or e.weights.startswith("trained:")
        assert e.weights_source
    assert get("terrain").weights.startswith("trained:") and get("terrain").frontend == "onnx"
    assert get("digits-ddpm").weights.startswith("trained:")


def test_options_are_checked() -> None:
    with pytest.raises(TraceError, match="does not support scheduler 'ddim'; allowed: native"):
        get("terrain").resolve(SampleOptions(scheduler="ddim"))
    with pytest.raises(TraceError, match="steps must be a positive integer"):
        get("ddpm-cifar10").resolve(SampleOptions(steps=0))
    with pytest.raises(TraceError, match="no classifier-free guidance"):
        get("ddpm-cifar10").resolve(SampleOptions(cfg=True))
    with pytest.raises(TraceError, match="exactly 1 call"):
        get("sd-vae-decoder").resolve(SampleOptions(steps=4))
    sd = get("sd15-unet").resolve(SampleOptions())
    assert (sd.steps, sd.resolution, sd.cfg) == (50, 64, True)


pytest.importorskip("torch", reason="building models needs torch (the trace extra)")
import torch  # noqa: E402

pytest.importorskip("diffusers", reason="the zoo models need diffusers (the trace extra)")


@pytest.mark.trace
def test_hook_wraps_every_model_call_and_seeds_are_reproducible() -> None:
    entry = get("tiny-unet")
    model = entry.build(resolution=8, seed=1)
    calls: list[tuple[int, int]] = []

    def hook(step: int, total: int):
        calls.append((step, total))
        return contextlib.nullcontext()

    out = entry.sample(model, SampleOptions(steps=3, scheduler="ddim", batch=2, seed=4), hook)
    # the resolution defaults to the built model's, not the entry's (16)
    assert calls == [(0, 3), (1, 3), (2, 3)]
    assert out.shape == (2, 3, 8, 8)
    again = entry.sample(model, SampleOptions(steps=3, scheduler="ddim", batch=2, seed=4))
    assert torch.equal(out, again)
    same = entry.build(resolution=8, seed=1)
    other = entry.build(resolution=8, seed=2)
    p = [next(m.parameters()) for m in (model, same, other)]
    assert torch.equal(p[0], p[1]) and not torch.equal(p[0], p[2])


@pytest.mark.trace
def test_fake_tracing_gives_the_real_op_sequence() -> None:
    from models.trace.tracer import trace

    real = trace("tiny-unet", steps=2, fake=False)
    fake = trace("tiny-unet", steps=2, fake=True)
    assert fake.provenance["execution"] == "fake" and real.provenance["execution"] == "real"

    # a real kernel's output strides can force a clone for contiguity that fake ones do not; such a
    # clone also shifts the tensor ids numbered after it, so ops are compared without their ids
    def no_ids(ops: tuple[Op, ...]) -> list[Op]:
        return [dataclasses.replace(op, reads=(), writes=()) for op in ops]

    extra = [op for op in no_ids(real.ops) if op not in no_ids(fake.ops)]
    assert {op.name for op in extra} <= {"aten.clone.default"}
    assert [op for op in no_ids(real.ops) if op.name != "aten.clone.default"] == [
        op for op in no_ids(fake.ops) if op.name != "aten.clone.default"
    ]
    assert real.has_tensor_ids and fake.has_tensor_ids
    assert fake.flops_per_step == real.flops_per_step


@pytest.mark.trace
def test_sd15_cfg_runs_as_batch_two_with_a_77x768_text_embedding() -> None:
    from models.trace.tracer import trace

    w = trace("sd15-unet", resolution=8, steps=2, fake=True)
    assert w.provenance["cfg"] is True and w.steps == 3  # PNDM (PLMS) makes steps + 1 calls
    first_conv = next(op for op in w.ops if op.kind == "conv")
    assert first_conv.input_shapes[0] == (2, 4, 8, 8)
    cross = [op for op in w.ops if op.kind == "attention" and op.params["kv_len"] == 77]
    assert len(cross) == 16  # one cross-attention per transformer block
    assert all(op.input_shapes[0][0] == 2 for op in cross)


@pytest.mark.trace
def test_local_safetensors_and_diffusers_folder(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from models.trace.tracer import trace

    model = get("tiny-unet").build(resolution=16, seed=5)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    reference = trace("tiny-unet", steps=2, stats=True, seed=5)
    local = trace(str(weights), arch="tiny-unet", steps=2, stats=True, seed=5)
    assert local.ops == reference.ops and local.stats == reference.stats  # bit-identical
    assert local.provenance["weights"] == "trained:local:w.safetensors"
    assert "sha256:" in local.provenance["weights_source"]
    model.save_pretrained(str(tmp_path / "unet"))
    folder = trace(str(tmp_path / "unet"), steps=2, stats=True, seed=5)
    assert folder.ops == reference.ops
    for name, table in reference.stats.items():  # from_pretrained: last-ulp differences
        for row, other in zip(table, folder.stats[name], strict=True):
            nan = float("nan")  # None = not recorded (e.g. deltas of the first step)
            expected = [nan if v is None else v for v in row]
            got = [nan if v is None else v for v in other]
            assert got == pytest.approx(expected, rel=1e-3, abs=1e-3, nan_ok=True), name
    with pytest.raises(TraceError, match="needs --arch NAME"):
        get(str(weights))
    with pytest.raises(TraceError, match="does not fit the ddpm-cifar10 architecture"):
        get(str(weights), arch="ddpm-cifar10").build(resolution=32)


@pytest.mark.trace
def test_digits_ddpm_is_trained_or_says_how_to_train_it() -> None:
    from models.trace.tracer import trace

    entry = get("digits-ddpm")
    model = entry.build()
    assert int(model.config.sample_size) == 16
    w = trace("digits-ddpm", steps=3, stats=True, scheduler="ddim")
    assert w.steps == 3 and w.provenance["weights"].startswith("trained:")
    assert w.stats["delta_int8_zero_frac"][2]


@pytest.mark.trace
@pytest.mark.slow
def test_sd15_unet_real_at_a_tiny_resolution_matches_its_fake_trace() -> None:
    """The real 860M-parameter UNet at 8² latents (about a minute to build on 2 cores)."""
    from models.trace.tracer import trace

    real = trace("sd15-unet", resolution=8, steps=1, cfg=False, scheduler="ddim")
    fake = trace("sd15-unet", resolution=8, steps=1, cfg=False, scheduler="ddim", fake=True)
    assert real.provenance["execution"] == "real"
    assert real.provenance["aten_ops_per_step"] == pytest.approx(1616, abs=4)  # docs/tracing.md: 1616
    assert real.flops_per_step == fake.flops_per_step
    assert [op for op in real.ops if op.name != "aten.clone.default"] == [
        op for op in fake.ops if op.name != "aten.clone.default"
    ]
