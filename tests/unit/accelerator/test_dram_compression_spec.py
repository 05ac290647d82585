"""``memory.dram.compression`` (Eyeriss's run-length coded fmaps in DRAM): absent by default,
strict and bounded, its combinations checked, errors located at the line and dotted field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import load_arch, parse_arch
from accelerator.spec_dram import dram_compression_problem

ROOT = Path(__file__).resolve().parents[3]
RLC = (ROOT / "scenarios" / "validation" / "eyeriss-rlc.yaml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_absent_by_default() -> None:
    for path in sorted((ROOT / "scenarios" / "arch").glob("*.yaml")):
        assert load_arch(path).memory.dram.compression is None, path.name
    assert load_arch(ROOT / "scenarios" / "validation" / "eyeriss.yaml").memory.dram.compression is None


def test_eyeriss_code_loads() -> None:
    a = parse_arch(RLC)
    c = a.memory.dram.compression
    assert c is not None
    # JSSC 2017 Sec. IV-B: 5-bit run + 16-bit value, 3 pairs per 64-bit word, ifmaps and ofmaps
    assert (c.format, c.run_bits, c.value_bits, c.pairs_per_word, c.word_bits) == ("run_length", 5, 16, 3, 64)
    assert c.operands == ("act", "out")
    assert dram_compression_problem(a.memory.dram, a.compute.precision, a.mapping.memory_model) is None


@pytest.mark.parametrize(
    "old,new,field,message",
    [
        ("pairs_per_word: 3", "pairs_per_word: 4", "pairs_per_word", "need 84 bits, more than word_bits 64"),
        ("operands: [act, out]", "operands: [act, weight]", "operands.1", "'act' or 'out'"),
        ("operands: [act, out]", "operands: [out, out]", "operands", "operands repeat"),
        ("operands: [act, out]", "operands: []", "operands", "at least 1"),
        ("run_bits: 5", "run_bits: 0", "run_bits", "at least 1"),
        ("run_bits: 5", "run_bits: 17", "run_bits", "at most 16"),
        ("value_bits: 16", "value_bits: 33", "value_bits", "at most 32"),
        ("format: run_length", "format: huffman", "format", "run_length"),
        ("word_bits: 64", "word_bits: 64.0", "word_bits", "integer"),
    ],
)
def test_bad_code_names_line_and_field(old: str, new: str, field: str, message: str) -> None:
    assert old in RLC
    text = RLC.replace(old, new)
    with pytest.raises(SpecError) as err:
        parse_arch(text, "rlc.yaml")
    assert err.value.field == f"memory.dram.compression.{field}"
    assert err.value.line == _line_of(text, new)
    assert message in str(err.value)


def test_combinations_with_the_design() -> None:
    a = parse_arch(RLC)
    dram = a.memory.dram
    loc, message = dram_compression_problem(dram, "fp16", "one_level") or ((), "")
    assert loc == ("compression",)
    assert "nest memory model only (mapping.memory_model: nest)" in message
    loc, message = dram_compression_problem(dram, "int8", "nest") or ((), "")
    assert loc == ("compression", "value_bits")
    assert "allowed: 8" in message
