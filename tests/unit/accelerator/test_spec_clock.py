"""``clock_network`` in the arch spec: off by default, strict and bounded, its storage names checked
against the per-PE levels and partitions, errors located at the line and dotted field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import load_arch, parse_arch
from accelerator.spec_clock import register_bits_per_pe

ROOT = Path(__file__).resolve().parents[3]
EYERISS = (ROOT / "scenarios" / "validation" / "eyeriss.yaml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_off_by_default() -> None:
    for path in sorted((ROOT / "scenarios" / "arch").glob("*.yaml")):
        c = load_arch(path).clock_network
        assert (c.enabled, c.register_storage, c.flop_energy_fj) == (False, (), None), path.name


def test_eyeriss_charges_its_clock_with_the_two_small_spads_as_registers() -> None:
    for name in ("eyeriss.yaml", "eyeriss-rlc.yaml"):
        a = load_arch(ROOT / "scenarios" / "validation" / name)
        assert a.clock_network.enabled
        assert a.clock_network.register_storage == ("spad.act", "spad.out")
        # ifmap spad 12 x 16 b + psum spad 24 x 16 b (JSSC 2017 Sec. V-C)
        assert register_bits_per_pe(a.clock_network, a.memory) == 12 * 16 + 24 * 16


def test_a_whole_level_counts_all_its_bits() -> None:
    text = EYERISS.replace("register_storage: [spad.act, spad.out]", "register_storage: [spad]")
    a = parse_arch(text)
    assert register_bits_per_pe(a.clock_network, a.memory) == 520 * 8


@pytest.mark.parametrize(
    "new,field,message",
    [
        ("register_storage: [glb]", "clock_network.register_storage.0", "names no per-PE level; allowed: spad"),
        ("register_storage: [spad.act, rf]", "clock_network.register_storage.1", "names no per-PE level"),
        (
            "register_storage: [spad.psum]",
            "clock_network.register_storage.0",
            "allowed: spad.act, spad.out, spad.weight",
        ),
        ("register_storage: [spad, spad.act]", "clock_network.register_storage.1", "names whole already"),
        ("register_storage: [spad.act, spad.act]", "clock_network.register_storage", "names repeat"),
        ("register_storage: [spad.act, 3]", "clock_network.register_storage.1", "string"),
        ("register_storage: [spad.act]\n  flop_energy_fj: 1001", "clock_network.flop_energy_fj", "1000"),
        ("register_storage: [spad.act]\n  flop_energy_fj: -1", "clock_network.flop_energy_fj", "0"),
        ("register_storage: [spad.act]\n  flop_energy_fj: .nan", "clock_network.flop_energy_fj", "finite"),
        ("register_storage: [spad.act]\n  gated: true", "clock_network.gated", "unknown field"),
    ],
)
def test_bad_clock_network_names_line_and_field(new: str, field: str, message: str) -> None:
    old = "register_storage: [spad.act, spad.out]"
    assert old in EYERISS
    text = EYERISS.replace(old, new)
    with pytest.raises(SpecError) as err:
        parse_arch(text, "eyeriss.yaml")
    assert err.value.field == field
    assert err.value.line == _line_of(text, new.split("\n")[-1].strip())
    assert message in str(err.value)


def test_enabled_must_be_a_bool() -> None:
    text = EYERISS.replace("enabled: true", "enabled: 1")
    with pytest.raises(SpecError) as err:
        parse_arch(text, "eyeriss.yaml")
    assert err.value.field == "clock_network.enabled"
