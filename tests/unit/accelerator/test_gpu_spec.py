"""GPU specs: datasheet values load, every number has a source, errors name file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.gpu import builtin_gpus, load_gpu, parse_gpu

H100 = Path(__file__).parents[3] / "accelerator" / "gpus" / "h100-sxm.yaml"


def test_builtin_gpus_load_with_sources() -> None:
    assert {"h100-sxm", "h200", "a100-sxm-40gb", "a100-sxm-80gb"} <= set(builtin_gpus())
    for name in builtin_gpus():
        gpu = load_gpu(name)
        assert all(len(src) > 5 for src in gpu.sources().values()), name


def test_h100_datasheet_numbers() -> None:
    g = load_gpu("h100-sxm")
    assert g.peak_flops_per_s("bf16") == pytest.approx(989.4e12)
    assert g.peak_flops_per_s("fp8") == pytest.approx(1978.9e12)
    assert g.peak_flops_per_s("bf16", sparse=True) == pytest.approx(2 * 989.4e12)
    assert g.hbm_bytes_per_s == pytest.approx(3.35e12)
    assert g.tdp_w.value == 700.0 and g.sm_count.value == 132
    # H200: same die, more and faster memory; A100: no fp8
    assert load_gpu("h200").hbm_bytes_per_s == pytest.approx(4.8e12)
    with pytest.raises(SpecError, match="no fp8 peak"):
        load_gpu("a100-sxm-80gb").peak_flops_per_s("fp8")


def test_unknown_gpu_lists_builtins() -> None:
    with pytest.raises(SpecError, match="h100-sxm"):
        load_gpu("b300")


def test_errors_name_file_line_field() -> None:
    text = H100.read_text(encoding="utf-8").replace("tdp_w: {value: 700.0", 'tdp_w: {value: "lots"')
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("tdp_w"))
    with pytest.raises(SpecError) as err:
        parse_gpu(text, "x.yaml")
    assert err.value.file == "x.yaml" and err.value.line == line
    assert err.value.field == "tdp_w.value"
    assert "lots" in str(err.value)


def test_missing_source_and_unknown_field() -> None:
    text = H100.read_text(encoding="utf-8")
    no_source = text.replace(', source: "H100DS: max thermal design power up to 700 W (configurable)"', "")
    with pytest.raises(SpecError, match="tdp_w.source: required field is missing"):
        parse_gpu(no_source, "x.yaml")
    with pytest.raises(SpecError, match="unknown field") as err:
        parse_gpu(text + "tdp_watts: 1\n", "x.yaml")
    assert err.value.line == len(text.splitlines()) + 1


def test_idle_must_be_below_tdp() -> None:
    text = H100.read_text(encoding="utf-8").replace("idle_w: {value: 128.0", "idle_w: {value: 900.0")
    with pytest.raises(SpecError, match="idle_w"):
        parse_gpu(text, "x.yaml")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("boost_clock_ghz: {value: 1.83", "boost_clock_ghz: {value: .nan", "boost_clock_ghz.value"),
        ("tf32: {value: 494.7", "tf32: {value: .inf", "peak_tflops_dense.tf32.value"),
        ("l2_bandwidth_gb_per_s: {value: 5500.0", "l2_bandwidth_gb_per_s: {value: .inf", "l2_bandwidth_gb_per_s.value"),
    ],
)
def test_nan_and_infinity_are_refused(old: str, new: str, field: str) -> None:
    """Found by tests/fuzz/test_fuzz_gpu.py: a NaN passed every positivity check."""
    text = H100.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(SpecError) as err:
        parse_gpu(text.replace(old, new), "x.yaml")
    assert err.value.field == field
