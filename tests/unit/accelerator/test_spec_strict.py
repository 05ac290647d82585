"""Strict types and declared limits in the arch and GPU specs (issue 14).

A bool is not a number, a string is not a number, a float is not an integer count; an
integer where a float is expected is fine. Count-like fields have upper bounds, and every
such error names file:line, the dotted field, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator import spec
from accelerator.errors import SpecError
from accelerator.gpu import parse_gpu
from accelerator.spec import parse_arch

ROOT = Path(__file__).resolve().parents[3]
EDGE = (ROOT / "scenarios" / "arch" / "edge-os-int8.yaml").read_text()
H100 = (ROOT / "accelerator" / "gpus" / "h100-sxm.yaml").read_text()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _arch_error(old: str, new: str) -> tuple[SpecError, int]:
    assert old in EDGE, old
    text = EDGE.replace(old, new)
    with pytest.raises(SpecError) as info:
        parse_arch(text, "bad.yaml")
    return info.value, _line_of(text, new.strip().splitlines()[-1].strip())


WRONG_TYPES = [
    # a bool where an integer count is expected
    ("  rows: 32", "  rows: true", "compute.rows", "expected an integer", "got True"),
    # a float, even a whole one, where an integer count is expected
    ("  rows: 32", "  rows: 16.5", "compute.rows", "expected an integer", "got 16.5"),
    ("  cols: 32", "  cols: 16.0", "compute.cols", "expected an integer", "got 16.0"),
    ("{int8: 1, int4: 2}", "{int8: 1, int4: 2.0}", "compute.macs_per_pe_per_cycle.int4", "expected an integer", "2.0"),
    # a string where a size or a count is expected
    (
        "      size_bytes: 524288",
        "      size_bytes: 64KB",
        "memory.levels.1.size_bytes",
        "expected an integer",
        "'64KB'",
    ),
    ("      banks: 16", '      banks: "16"', "memory.levels.1.banks", "expected an integer", "'16'"),
    # a bool or a string where a float is expected
    ("clock_ghz: 1.0", "clock_ghz: true", "clock_ghz", "expected a number", "got True"),
    ("    efficiency: 0.8", '    efficiency: "0.8"', "memory.dram.efficiency", "expected a number", "'0.8'"),
    # a number where a bool is expected
    (
        "    act_zero_gating: true",
        "    act_zero_gating: 1",
        "compute.sparsity.act_zero_gating",
        "expected true or false",
        "got 1",
    ),
    (
        "      double_buffered: true",
        "      double_buffered: yes please",
        "memory.levels.1.double_buffered",
        "expected true or false",
        "",
    ),
    # a bool inside a list of integers
    (
        "    act_zero_gating: true",
        "    act_zero_gating: true\n    block_skip: [1, true]",
        "compute.sparsity.block_skip.1",
        "expected an integer",
        "got True",
    ),
]


@pytest.mark.parametrize(("old", "new", "field", "problem", "value"), WRONG_TYPES)
def test_wrong_types_are_located_errors(old: str, new: str, field: str, problem: str, value: str) -> None:
    err, line = _arch_error(old, new)
    assert err.field == field
    assert str(err).startswith(f"bad.yaml:{line} {field}: {problem}"), str(err)
    assert value in str(err)


def test_an_integer_where_a_float_is_expected_is_fine() -> None:
    text = EDGE.replace("clock_ghz: 1.0", "clock_ghz: 1").replace("bandwidth_gb_per_s: 51.2", "bandwidth_gb_per_s: 51")
    a = parse_arch(text, "ok.yaml")
    assert a.clock_ghz == 1.0 and isinstance(a.clock_ghz, float | int)
    assert a.memory.dram.bandwidth_gb_per_s == 51
    assert a.memory.levels[1].holds == ("act", "weight", "out")


def test_lists_in_yaml_are_the_tuples_of_the_schema() -> None:
    text = EDGE.replace("    act_zero_gating: true", "    act_zero_gating: true\n    block_skip: [1, 8]")
    text = text.replace("      double_buffered: true", "      double_buffered: true\n      holds: [act, weight]")
    a = parse_arch(text, "ok.yaml")
    assert a.compute.sparsity.block_skip == (1, 8)
    assert a.memory.levels[1].holds == ("act", "weight")


LIMITS = [
    ("  rows: 32", "  rows: 4097", "compute.rows", spec.MAX_ARRAY_DIM),
    ("  cols: 32", "  cols: 100000", "compute.cols", spec.MAX_ARRAY_DIM),
    (
        "{int8: 1, int4: 2}",
        "{int8: 1, int4: 2048}",
        "compute.macs_per_pe_per_cycle.int4",
        spec.MAX_MACS_PER_PE_PER_CYCLE,
    ),
    ("  vector_lanes: 32", "  vector_lanes: 2000000", "compute.vector_lanes", spec.MAX_VECTOR_LANES),
    ("      size_bytes: 524288", "      size_bytes: 5242880000000", "memory.levels.1.size_bytes", spec.MAX_LEVEL_BYTES),
    ("      banks: 16", "      banks: 100000", "memory.levels.1.banks", spec.MAX_BANKS),
    ("      width_bits: 128", "      width_bits: 131072", "memory.levels.1.width_bits", spec.MAX_WIDTH_BITS),
]


@pytest.mark.parametrize(("old", "new", "field", "limit"), LIMITS)
def test_count_like_fields_have_named_upper_bounds(old: str, new: str, field: str, limit: int) -> None:
    err, line = _arch_error(old, new)
    assert err.field == field
    assert str(err).startswith(f"bad.yaml:{line} {field}: must be at most {limit} "), str(err)


def test_limits_are_generous() -> None:
    # far above real designs: TPU v1 is 256x256; wafer-scale SRAM is ~44 GB in all
    assert spec.MAX_ARRAY_DIM >= 1024 and spec.MAX_LEVEL_BYTES >= 1 << 36 and spec.MAX_LEVELS >= 8


def test_too_many_levels_is_a_located_error() -> None:
    level = "    - name: l{i}\n      size_bytes: 1024\n      bandwidth_bytes_per_cycle: 8\n"
    many = "".join(level.format(i=i) for i in range(spec.MAX_LEVELS + 1))
    text = EDGE.replace("  levels:\n", "  levels:\n" + many, 1)
    with pytest.raises(SpecError) as info:
        parse_arch(text, "bad.yaml")
    assert info.value.field == "memory.levels"
    assert f"at most {spec.MAX_LEVELS} entries" in str(info.value)
    assert str(info.value).startswith(f"bad.yaml:{_line_of(text, 'levels:')} memory.levels:")


GPU_WRONG = [
    ("sm_count: {value: 132,", "sm_count: {value: 132.5,", "sm_count.value", "expected an integer"),
    ("sm_count: {value: 132,", "sm_count: {value: true,", "sm_count.value", "expected an integer"),
    ("tdp_w: {value: 700.0,", 'tdp_w: {value: "700 W",', "tdp_w.value", "expected a number"),
    ("l2_bytes: {value: 52428800,", "l2_bytes: {value: 50MB,", "l2_bytes.value", "expected an integer"),
    ("  fp32: {value: 67.0,", "  fp32: {value: false,", "peak_tflops_dense.fp32.value", "expected a number"),
]


@pytest.mark.parametrize(("old", "new", "field", "problem"), GPU_WRONG)
def test_gpu_spec_is_strict(old: str, new: str, field: str, problem: str) -> None:
    assert old in H100, old
    text = H100.replace(old, new)
    with pytest.raises(SpecError) as info:
        parse_gpu(text, "gpu.yaml")
    assert info.value.field == field
    assert str(info.value).startswith(f"gpu.yaml:{_line_of(text, new)} {field}: {problem}"), str(info.value)


def test_gpu_spec_takes_an_integer_for_a_float() -> None:
    g = parse_gpu(H100.replace("tdp_w: {value: 700.0,", "tdp_w: {value: 700,"), "gpu.yaml")
    assert g.tdp_w.value == 700
