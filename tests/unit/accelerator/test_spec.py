"""Arch spec loading: valid files load frozen; malformed ones name file:line, field, value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from accelerator.errors import SpecError
from accelerator.spec import load_arch, parse_arch

ARCH_DIR = Path(__file__).resolve().parents[3] / "scenarios" / "arch"
GOOD = (ARCH_DIR / "edge-os-int8.yaml").read_text()


@pytest.mark.parametrize("path", sorted(ARCH_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_arch_loads(path: Path) -> None:
    arch = load_arch(path)
    assert arch.compute.rows >= 1 and arch.memory.levels


def test_spec_is_frozen() -> None:
    arch = parse_arch(GOOD, "a.yaml")
    with pytest.raises(ValidationError):
        arch.clock_ghz = 2.0  # type: ignore[misc]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "field", "fragment"),
    [
        ("clock_ghz: 1.0", "clock_ghz: fast", "clock_ghz", "'fast'"),
        ("  rows: 32", "  rows: -4", "compute.rows", "-4"),
        ("      size_bytes: 524288", "      size_bytes: 64KB", "memory.levels.1.size_bytes", "'64KB'"),
        ("  dataflow: output_stationary", "  dataflow: diagonal", "compute.dataflow", "output_stationary"),
        ("    kind: lpddr5", "    kind: sdram", "memory.dram.kind", "hbm3"),
        ("  precision: int8", "  precision: int2", "compute.precision", "int2"),
        ("technology_nm: 7", "technology_nm: 3", "", "allowed: 130"),
        (
            "    act_zero_gating: true",
            "    act_zero_gatting: true",
            "compute.sparsity.act_zero_gatting",
            "unknown field",
        ),
    ],
)
def test_malformed_spec_names_line_field_and_value(old: str, new: str, field: str, fragment: str) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new)
    with pytest.raises(SpecError) as info:
        parse_arch(text, "bad.yaml")
    err = info.value
    line = _line_of(text, new.strip())
    message = str(err)
    assert err.file == "bad.yaml"
    if field:
        assert err.field == field
        assert message.startswith(f"bad.yaml:{line} {field}:"), message
    assert fragment in message, message


def test_precision_must_be_supported_by_the_array() -> None:
    text = GOOD.replace("  precision: int8", "  precision: fp16")
    with pytest.raises(SpecError, match="not among macs_per_pe_per_cycle"):
        parse_arch(text, "bad.yaml")


def test_missing_field_and_duplicate_key() -> None:
    with pytest.raises(SpecError, match="compute: required field is missing"):
        parse_arch(
            "\n".join(
                line for line in GOOD.splitlines() if not line.startswith("compute") and not line.startswith("  ")
            ),
            "bad.yaml",
        )
    with pytest.raises(SpecError, match=r"bad.yaml:2 clock_ghz: duplicate key"):
        parse_arch("clock_ghz: 1\nclock_ghz: 2\n", "bad.yaml")


def test_not_yaml_and_missing_file() -> None:
    with pytest.raises(SpecError, match=r"bad.yaml:\d+: not valid YAML"):
        parse_arch("name: [unclosed\n", "bad.yaml")
    with pytest.raises(SpecError, match="no such file"):
        load_arch(ARCH_DIR / "does-not-exist.yaml")
