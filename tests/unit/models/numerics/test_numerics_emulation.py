"""Emulating numerics on a real sampling loop: exactness at fp32, monotone degradation, zero
thresholds that change nothing, integer accumulators, calibration recorded in the output."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="the numerics emulation needs torch (trace extra)")
pytest.importorskip("diffusers", reason="the digits sampler needs diffusers (trace extra)")

from accelerator.numerics import NumericsSpec, resolve_numerics  # noqa: E402
from models.numerics.emulate import EmulationState, NumericsMode  # noqa: E402
from models.numerics.session import make_session, quality_run  # noqa: E402


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    """The digits UNet (random init, seed 0): 2 images, 4 DDIM steps, 1 calibration image."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: one thread avoids oversubscription
    yield make_session("digits-random", images=2, steps=4, seed=0, calibration_images=1)
    torch.set_num_threads(threads)


def run(session, precision: str, **fields):  # type: ignore[no-untyped-def]
    return quality_run(resolve_numerics(NumericsSpec(**fields), precision), session)


def emulated_images(session, precision: str, **fields):  # type: ignore[no-untyped-def]
    n = resolve_numerics(NumericsSpec(**fields), precision)
    model = session.model
    return model.emulate(n, session.calibration(n), session.images, session.steps, session.seed).images


def test_fp32_emulation_reproduces_the_reference_exactly(session) -> None:  # type: ignore[no-untyped-def]
    images = emulated_images(session, "fp32")
    assert (images == session.reference).all()
    q = run(session, "fp32")
    assert q["psnr_db"] is None and q["ssim"] == 1.0 and q["max_abs_error"] == 0.0


def test_quality_degrades_monotonically_as_bits_drop(session) -> None:  # type: ignore[no-untyped-def]
    psnr = {p: run(session, p)["psnr_db"] for p in ("fp16", "int8", "int4")}
    assert psnr["fp16"] > psnr["int8"] > psnr["int4"], psnr
    assert psnr["fp16"] > 35.0  # fp16 everywhere is nearly lossless (measured ~48 dB)


def test_zero_thresholds_change_nothing(session) -> None:  # type: ignore[no-untyped-def]
    plain = emulated_images(session, "int8")
    zero = emulated_images(session, "int8", zero_skip={"act_threshold": 0.0, "weight_threshold_rel": 0.0})
    assert (plain == zero).all()
    delta = emulated_images(session, "fp32", temporal_delta={"enabled": True}, deltas={"format": "fp32"})
    assert (delta == session.reference).all()


def test_delta_thresholds_skip_more(session) -> None:  # type: ignore[no-untyped-def]
    base = run(session, "int8", temporal_delta={"enabled": True})
    skip = run(session, "int8", temporal_delta={"enabled": True, "threshold_rel": 0.05})
    assert skip["measured"]["delta_zero_frac"] > base["measured"]["delta_zero_frac"] > 0.0
    assert skip["max_abs_error"] > 0.0


def test_calibration_is_recorded(session) -> None:  # type: ignore[no-untyped-def]
    q = run(session, "int8")
    cal = q["calibration"]
    assert cal["seed"] == 1000 and cal["images"] == 1 and cal["method"] == "absmax"
    assert cal["amax"]["0.x"] > 0
    assert {f"0.x@{s}" for s in range(4)} <= set(cal["amax"])
    assert cal["amax"]["0.x"] == max(cal["amax"][f"0.x@{s}"] for s in range(4))


def test_integer_accumulator_saturates() -> None:
    lin = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    x = torch.ones(1, 4)

    def out(acc: str) -> float:
        n = resolve_numerics(NumericsSpec(accumulators={"format": acc}), "int8")
        ptrs = frozenset({lin.weight.untyped_storage().data_ptr()})
        state = EmulationState(numerics=n, weight_ptrs=ptrs, amax={"0.x@0": 1.0})
        state.begin_call()
        with torch.inference_mode(), NumericsMode(state):
            return float(lin(x))

    # codes 127 x 127 x 4 = 64516: exact in int32, saturated at 32767 in int16
    assert out("int32") == pytest.approx(4.0, rel=1e-6)
    assert out("int16") == pytest.approx(32767 / 127**2, rel=1e-6)


def test_int8_per_channel_psnr_on_the_trained_digits_model() -> None:
    from models.zoo.digits import DDPM_WEIGHTS_FILE, WEIGHTS_DIR

    assert (WEIGHTS_DIR / DDPM_WEIGHTS_FILE).is_file(), "the trained digits DDPM weights belong to the repo"
    s = make_session("digits-ddpm", images=4, steps=10, seed=0, calibration_images=2)
    q = quality_run(resolve_numerics(NumericsSpec(), "int8"), s)
    assert q["psnr_db"] is not None and q["psnr_db"] > 30.0, q
    assert not math.isnan(q["ssim"])


def test_a_designs_quality_does_not_depend_on_the_designs_before_it() -> None:
    """The calibration run applies weight numerics, so each distinct spec calibrates itself."""
    alone = make_session("digits-random", images=2, steps=4, seed=0, calibration_images=1)
    after = make_session("digits-random", images=2, steps=4, seed=0, calibration_images=1)
    int8 = resolve_numerics(NumericsSpec(), "int8")
    quality_run(resolve_numerics(NumericsSpec(), "fp16"), after)
    first, second = quality_run(int8, alone), quality_run(int8, after)
    assert first == second
    assert after.calibration(int8) != after.calibration(resolve_numerics(NumericsSpec(), "fp16"))
