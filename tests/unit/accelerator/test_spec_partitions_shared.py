"""``partitions`` on a shared level (``memory.levels[].partitions`` with ``per_pe: false``): some
operands of ``holds`` get a capacity of their own, the others share the rest (Eyeriss's GLB: 8 kB
of filters beside 100 kB of fmaps, JSSC 2017 Sec. V-A). The spec's errors name the line, the
field, the value and what is allowed; the per-PE rules are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import parse_arch

ROOT = Path(__file__).resolve().parents[3]
EYERISS = (ROOT / "scenarios" / "validation" / "eyeriss.yaml").read_text(encoding="utf-8")
#: The GLB's partitions line as eyeriss.yaml writes it.
GLB_PARTS = "      partitions: {weight: {size_bytes: 8192}}\n"


def _glb(parts: str, holds: str | None = None) -> str:
    """eyeriss.yaml with the GLB's partitions replaced by ``parts`` (and its holds by ``holds``)."""
    assert GLB_PARTS in EYERISS
    extra = "" if holds is None else f"      holds: {holds}\n"
    return EYERISS.replace(GLB_PARTS, f"      partitions: {parts}\n{extra}")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_eyeriss_glb_gives_the_filters_8_kb() -> None:
    glb = parse_arch(EYERISS).memory.levels[1]
    assert not glb.per_pe and glb.size_bytes == 110_592  # 27 banks x 512 x 64 b (Sec. V-A)
    assert glb.partitions is not None
    assert {k: (p.size_bytes, p.read_energy_pj, p.write_energy_pj) for k, p in glb.partitions.items()} == {
        "weight": (8192, None, None)
    }
    assert glb.prefetch == ("weight",)


@pytest.mark.parametrize(
    "parts,holds",
    [
        ("{weight: {size_bytes: 110591}}", None),  # 1 B left for the fmaps: allowed
        ("{weight: {size_bytes: 8192}, act: {size_bytes: 1000}}", None),  # out shares the rest
        ("{weight: {size_bytes: 8192}, act: {size_bytes: 51200}, out: {size_bytes: 51200}}", None),  # all: sum
        ("{weight: {size_bytes: 8192}, act: {size_bytes: 102400}}", "[act, weight]"),  # all of holds
    ],
)
def test_shared_partitions_that_load(parts: str, holds: str | None) -> None:
    glb = parse_arch(_glb(parts, holds)).memory.levels[1]
    assert glb.partitions is not None and len(glb.partitions) == parts.count("size_bytes")


@pytest.mark.parametrize(
    "parts,holds,message",
    [
        (
            "{out: {size_bytes: 8192}}",
            "[act, weight]",
            "partitions name ['out'], which the level does not hold; allowed: ['act', 'weight']",
        ),
        (
            "{weight: {size_bytes: 110592}}",
            None,
            "partitions take 110592 B of size_bytes 110592, leaving nothing for ['act', 'out'] (not "
            "partitioned, they share the rest); allowed: partitions adding up to at most 110591 B",
        ),
        (
            "{weight: {size_bytes: 100000}, act: {size_bytes: 20000}}",
            None,
            "partitions take 120000 B of size_bytes 110592, leaving nothing for ['out']",
        ),
        (
            "{weight: {size_bytes: 8192}, act: {size_bytes: 51200}, out: {size_bytes: 51199}}",
            None,
            "partitions name every operand of holds and add up to 110591 B, size_bytes is 110592; they must be equal",
        ),
        (
            "{weight: {size_bytes: 8192, read_energy_pj: 1.5}}",
            None,
            "partitions ['weight'] give read_energy_pj / write_energy_pj on a shared level: a shared "
            "level's accesses cost the level's energy (priced per bank); give read_energy_pj on the level",
        ),
        (
            "{weight: {size_bytes: 8192}, act: {size_bytes: 4096, write_energy_pj: 2.0}}",
            None,
            "partitions ['act'] give read_energy_pj / write_energy_pj on a shared level",
        ),
        ("{weight: {size_bytes: 0}}", None, "must be at least 1"),
        ("{filters: {size_bytes: 8192}}", None, "'act', 'weight' or 'out'"),
    ],
)
def test_shared_partition_errors_are_located(parts: str, holds: str | None, message: str) -> None:
    text = _glb(parts, holds)
    with pytest.raises(SpecError) as err:
        parse_arch(text, "e.yaml")
    s = str(err.value)
    assert s.startswith(f"e.yaml:{_line_of(text, 'partitions: ' + parts[:8])} memory.levels.1.partitions"), s
    assert message in s, s


def _spad(parts: str) -> str:
    """eyeriss.yaml with the per-PE spad's partitions replaced by ``parts``."""
    start = EYERISS.index("      # Sec. V-C")
    end = EYERISS.index("    - name: glb")
    return EYERISS[:start] + f"      partitions: {parts}\n" + EYERISS[end:]


@pytest.mark.parametrize(
    "parts,message",
    [
        # a per-PE level still names exactly its holds (no pool beside the scratchpads) ...
        ("{weight: {size_bytes: 448}, act: {size_bytes: 72}}", "on a per-PE level they must name the same operands"),
        # ... whose sizes add up to size_bytes
        ("{weight: {size_bytes: 448}, act: {size_bytes: 24}, out: {size_bytes: 47}}", "add up to 519 B"),
    ],
)
def test_per_pe_rules_are_unchanged(parts: str, message: str) -> None:
    text = _spad(parts)
    with pytest.raises(SpecError) as err:
        parse_arch(text, "e.yaml")
    s = str(err.value)
    assert s.startswith(f"e.yaml:{_line_of(text, 'partitions: {weight')} memory.levels.0.partitions"), s
    assert message in s, s


def test_per_pe_partitions_may_still_price_their_accesses() -> None:
    text = _spad("{weight: {size_bytes: 448, read_energy_pj: 1.5}, act: {size_bytes: 24}, out: {size_bytes: 48}}")
    spad = parse_arch(text).memory.levels[0]
    assert spad.partitions is not None and spad.partitions["weight"].read_energy_pj == 1.5
