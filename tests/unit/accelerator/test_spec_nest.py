"""The nest engine's spec fields: ``mapping`` (memory_model, seed, samples), per-PE
``partitions``, the ``row_stationary`` dataflow; the default is the one-level model, every
committed design names the loop-nest engine with the fast search, and errors name the line and
the dotted field."""

from __future__ import annotations

from pathlib import Path

import pytest
from simcase import without_mapping

from accelerator.errors import SpecError
from accelerator.spec import load_arch, parse_arch

ROOT = Path(__file__).resolve().parents[3]
#: eyeriss.yaml without its closing ``mapping`` section (the search's restarts), so the tests can add one
EYERISS = without_mapping((ROOT / "scenarios" / "validation" / "eyeriss.yaml").read_text(encoding="utf-8"))


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_the_default_is_the_one_level_model_and_committed_designs_use_the_nest() -> None:
    bare = parse_arch(EYERISS).mapping  # no mapping section
    assert (bare.memory_model, bare.search, bare.seed, bare.samples, bare.restarts) == (
        "one_level",
        "sampled",
        0,
        600,
        1,
    )
    assert load_arch(ROOT / "scenarios" / "validation" / "eyeriss.yaml").mapping.restarts == 128
    paths = sorted((ROOT / "scenarios" / "arch").glob("*.yaml"))
    assert len(paths) == 11
    for path in paths:
        m = load_arch(path).mapping
        # one search per (shape, design): a sweep pays every restart per point
        assert (m.memory_model, m.search, m.seed, m.samples, m.restarts) == ("nest", "fast", 0, 600, 1), path.name


def test_eyeriss_spads_are_partitions() -> None:
    spad = parse_arch(EYERISS).memory.levels[0]
    assert spad.partitions is not None
    assert {k: p.size_bytes for k, p in spad.partitions.items()} == {"weight": 448, "act": 24, "out": 48}
    assert all(p.read_energy_pj is None for p in spad.partitions.values())  # the SRAM model prices them


def test_row_stationary_with_nest_loads() -> None:
    text = EYERISS.replace("dataflow: weight_stationary", "dataflow: row_stationary")
    text = text.replace("compute:\n", "mapping: {memory_model: nest, seed: 7, samples: 50}\ncompute:\n", 1)
    a = parse_arch(text)
    assert (a.compute.dataflow, a.mapping.memory_model, a.mapping.seed, a.mapping.samples) == (
        "row_stationary",
        "nest",
        7,
        50,
    )


def _partitions(sizes: str) -> str:
    """The Eyeriss spec with the spad's partitions replaced by ``sizes``."""
    start = EYERISS.index("      # Sec. V-C")
    end = EYERISS.index("    - name: glb")
    return EYERISS[:start] + f"      partitions: {sizes}\n" + EYERISS[end:]


@pytest.mark.parametrize(
    "text,field,needle,message",
    [
        (
            EYERISS.replace("dataflow: weight_stationary", "dataflow: row_stationary"),
            "compute",
            "compute:",
            "needs mapping.memory_model: nest",
        ),
        (
            _partitions("{weight: {size_bytes: 448}, act: {size_bytes: 24}, out: {size_bytes: 40}}"),
            "memory.levels.0.partitions",
            "partitions: {weight",
            "add up to 512 B, size_bytes is 520",
        ),
        (
            _partitions("{weight: {size_bytes: 520}}"),
            "memory.levels.0.partitions",
            "partitions: {weight",
            "must name the same operands",
        ),
        (
            _partitions(
                "{weight: {size_bytes: 448, read_energy_pj: -1}, act: {size_bytes: 24}, out: {size_bytes: 48}}"
            ),
            "memory.levels.0.partitions.weight.read_energy_pj",
            "partitions: {weight",
            "at least 0",
        ),
        (
            EYERISS.replace("{weight: {size_bytes: 8192}}", "{weight: {size_bytes: 8192, read_energy_pj: 1.0}}"),
            "memory.levels.1.partitions",
            "partitions: {weight",
            "a shared level's accesses cost the level's energy",
        ),
        (
            EYERISS.replace("compute:\n", "mapping: {memory_model: deep}\ncompute:\n", 1),
            "mapping.memory_model",
            "mapping:",
            "'one_level' or 'nest'",
        ),
        (
            EYERISS.replace("compute:\n", "mapping: {memory_model: nest, samples: 1000000}\ncompute:\n", 1),
            "mapping.samples",
            "mapping:",
            "at most 100000",
        ),
    ],
)
def test_errors_are_located(text: str, field: str, needle: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_arch(text, "e.yaml")
    s = str(err.value)
    assert s.startswith(f"e.yaml:{_line_of(text, needle)} {field}: "), s
    assert message in s, s


def test_nest_needs_per_pe_levels_innermost() -> None:
    text = EYERISS.replace("compute:\n", "mapping: {memory_model: nest}\ncompute:\n", 1)
    spad = text[text.index("    - name: spad") : text.index("    - name: glb")]
    swapped = text.replace(spad, "").replace("  dram:\n", spad + "  dram:\n", 1)
    with pytest.raises(SpecError, match="per-PE levels first") as err:
        parse_arch(swapped, "e.yaml")
    assert str(err.value).startswith(f"e.yaml:{_line_of(swapped, 'memory:')} memory: ")
