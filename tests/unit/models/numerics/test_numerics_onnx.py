"""The ONNX numerics path on the trained terrain model: rewritten graphs against onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelerator.errors import SpecError
from accelerator.numerics import NumericsSpec, arch_numerics, resolve_numerics
from accelerator.spec import load_arch

ARCH = Path(__file__).parents[4] / "scenarios" / "arch"


@pytest.fixture(scope="module")
def terrain():  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    from models.numerics.onnx_emulate import terrain_model

    try:
        return terrain_model()
    except SpecError as exc:
        pytest.skip(f"terrain needs adaptive-terrain-diffusion==0.4.2: {exc}")


def test_fp32_emulation_is_the_reference_and_bf16_is_not(terrain) -> None:  # type: ignore[no-untyped-def]
    """fp32 numerics add no fake-quant node: bit-identical to the plain graph; bf16 rounds."""
    ref = terrain.reference(1, 2, 0)
    fp32 = resolve_numerics(NumericsSpec(), "fp32", 32)
    same = terrain.emulate(fp32, terrain.calibrate(fp32, 1, 2, 1), 1, 2, 0)
    assert np.array_equal(same.images, ref)
    bf16 = resolve_numerics(NumericsSpec(), "bf16", 32)
    err = np.abs(terrain.emulate(bf16, terrain.calibrate(bf16, 1, 2, 1), 1, 2, 0).images - ref).max()
    assert 0.0 < err < 0.2  # outputs in [-1, 1]; bf16 keeps 8 bits of mantissa


def test_int8_temporal_delta_counts(terrain) -> None:  # type: ignore[no-untyped-def]
    """Two steps with int8 deltas: every recorded activation feeds a weighted op, so the second
    step's deltas cover exactly half of all recorded activation elements."""
    n = arch_numerics(load_arch(ARCH / "quality-int8-delta.yaml"))
    c = terrain.emulate(n, terrain.calibrate(n, 1, 2, 1), 1, 2, 0).counts
    assert c["delta_elements"] * 2 == c["act_elements"]
    assert 0 < c["delta_zeros"] < c["delta_elements"] and 0 < c["act_zeros"] < c["act_elements"]
