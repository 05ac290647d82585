"""``memory.weight_residency`` / ``weight_residency_level``: defaults and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import parse_arch

ARCH = Path(__file__).resolve().parents[3] / "scenarios" / "arch"
BASE = (ARCH / "dc-os-int8-sparse.yaml").read_text(encoding="utf-8")


def _with(memory_lines: str) -> str:
    return BASE.replace("  dram:\n", memory_lines + "  dram:\n", 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_default_is_per_op() -> None:
    a = parse_arch(BASE)
    assert a.memory.weight_residency == "per_op" and a.memory.weight_residency_level is None


def test_demo_arch_keeps_weights_in_the_glb() -> None:
    a = parse_arch((ARCH / "dc-os-int8-resident.yaml").read_text(encoding="utf-8"))
    assert a.memory.weight_residency == "across_steps"
    assert a.memory.weight_residency_level == "glb"


@pytest.mark.parametrize(
    "level,message",
    [
        ("dram", "DRAM is off chip"),
        ("l3", "no memory level of that name"),
        ("rf", "per-PE"),
    ],
)
def test_bad_level_is_located(level: str, message: str) -> None:
    text = _with(f"  weight_residency: across_steps\n  weight_residency_level: {level}\n")
    with pytest.raises(SpecError) as err:
        parse_arch(text, "d.yaml")
    s = str(err.value)
    assert s.startswith(f"d.yaml:{_line_of(text, 'weight_residency_level')} memory.weight_residency_level: ")
    assert message in s and repr(level) in s
    if level != "rf":
        assert "glb" in s  # names the levels that can hold the weights


def test_level_that_does_not_hold_weights() -> None:
    text = BASE.replace("      double_buffered: true\n", "      double_buffered: true\n      holds: [act, out]\n", 1)
    text = text.replace("  dram:\n", "  weight_residency: across_steps\n  weight_residency_level: glb\n  dram:\n", 1)
    with pytest.raises(SpecError, match="does not hold weights"):
        parse_arch(text, "d.yaml")


def test_unknown_mode_lists_the_allowed_ones() -> None:
    with pytest.raises(SpecError, match="per_op.*across_steps") as err:
        parse_arch(_with("  weight_residency: forever\n"), "d.yaml")
    assert "memory.weight_residency:" in str(err.value)
