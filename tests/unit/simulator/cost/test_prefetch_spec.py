"""``memory.levels[].prefetch`` in the arch spec: off by default, operands of ``holds`` on shared
levels only, never with ``double_buffered``; errors at the line and dotted field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import load_arch, parse_arch

ROOT = Path(__file__).resolve().parents[4]
EYERISS = (ROOT / "scenarios" / "validation" / "eyeriss.yaml").read_text(encoding="utf-8")
GLB_LINE = "      prefetch: [weight]\n"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_off_by_default() -> None:
    for path in sorted((ROOT / "scenarios" / "arch").glob("*.yaml")):
        assert all(lv.prefetch == () for lv in load_arch(path).memory.levels), path.name


def test_both_eyeriss_specs_prefetch_the_filters_in_the_glb() -> None:
    for name in ("eyeriss.yaml", "eyeriss-rlc.yaml"):
        levels = load_arch(ROOT / "scenarios" / "validation" / name).memory.levels
        assert [(lv.name, lv.prefetch) for lv in levels] == [("spad", ()), ("glb", ("weight",))], name


@pytest.mark.parametrize(
    ("new", "field", "message"),
    [
        ("prefetch: [weight, weight]", "memory.levels.1.prefetch", "names ['weight'] more than once"),
        ("prefetch: [filter]", "memory.levels.1.prefetch.0", "'act', 'weight' or 'out'"),
        ("prefetch: weight", "memory.levels.1.prefetch", "expected a list, got 'weight'"),
        ("prefetch: [weight]\n      holds: [act, out]", "memory.levels.1.prefetch", "allowed: ['act', 'out']"),
        ("prefetch: [weight]\n      double_buffered: true", "memory.levels.1.prefetch", "keep one of the two"),
    ],
)
def test_bad_prefetch_names_line_and_field(new: str, field: str, message: str) -> None:
    assert GLB_LINE in EYERISS
    text = EYERISS.replace(GLB_LINE, f"      {new}\n")
    with pytest.raises(SpecError) as err:
        parse_arch(text, "eyeriss.yaml")
    assert err.value.field == field
    assert err.value.line == _line_of(text, new.split("\n")[0])
    assert message in str(err.value)


def test_a_per_pe_level_may_not_prefetch() -> None:
    old = "      width_bits: 16\n"
    text = EYERISS.replace(old, old + "      prefetch: [weight]\n", 1)
    with pytest.raises(SpecError) as err:
        parse_arch(text, "eyeriss.yaml")
    assert err.value.field == "memory.levels.0.prefetch"
    assert err.value.line == _line_of(text, "prefetch: [weight]")
    assert "shared levels" in str(err.value)
