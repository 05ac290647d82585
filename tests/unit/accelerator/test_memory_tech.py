"""Memory technologies as data (accelerator/tech/memory_tech.yaml): the table, the spec's
``technology`` / ``stacking`` / ``nvm_use`` fields, their located errors and the per-access,
leakage and area numbers ``simulator.cost.hardware`` takes from the table (closed forms)."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from accelerator import tech
from accelerator.errors import SpecError
from accelerator.spec import LevelTechnology, load_arch, parse_arch
from accelerator.spec_base import OffChipTechnology
from accelerator.tech import memory as mt
from simulator.cost.hardware import area_mm2, hardware, level_energy

HERE = Path(__file__).resolve().parent
ARCH = HERE.parents[2] / "scenarios" / "arch"
EXAMPLES = HERE / "memtech_archs"
BASE = (EXAMPLES / "weights-sram-hybrid-bond.yaml").read_text(encoding="utf-8")
NODE = 7.0
WIDTH = 512
SIZE = 67108864
USE = "  nvm_use: {weight_writes: per_model}\n"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def _wmem(technology: str, extra: str = "", stacking: str = "hybrid_bond", per_model: bool = True) -> str:
    """The example design with its weight level made of ``technology`` (weights programmed once per
    model version unless ``per_model`` is false: the default use rewrites them once per image)."""
    text = BASE.replace("      technology: sram\n", f"      technology: {technology}\n{extra}", 1)
    if per_model:
        text = text.replace("  weight_residency_level: wmem\n", "  weight_residency_level: wmem\n" + USE, 1)
    return text.replace("      stacking: hybrid_bond\n", f"      stacking: {stacking}\n", 1)


def test_every_row_has_a_source_and_the_spec_names_the_table() -> None:
    rows = mt.sources()
    assert len(rows) > 30 and all(src.strip() for _, _, src in rows)
    assert set(typing.get_args(LevelTechnology)) == set(mt.level_technologies())
    assert set(typing.get_args(OffChipTechnology)) == set(mt.off_chip_technologies())
    for name in mt.level_technologies():
        row = mt.memory_technology(name)
        assert (row.endurance_writes is not None) == (row.cls == "nvm"), name


def test_per_bit_row_costs_width_times_the_table() -> None:
    """dram_stacked: read and write are the table's pJ/bit x width_bits (interface included)."""
    a = parse_arch(_wmem("dram_stacked", "      leakage_mw: 50\n", stacking="none"))
    lv = a.memory.levels[2]
    read, write = level_energy(lv, NODE)
    assert read == pytest.approx(0.88 * WIDTH) and write == pytest.approx(0.88 * WIDTH)
    hw = hardware(a)
    assert hw.levels[1].read_pj == pytest.approx(0.88 * WIDTH)  # what the cost model charges per access
    assert hw.levels[1].leakage_mw == 50.0


def test_stacked_sram_adds_the_hybrid_bond_per_bit() -> None:
    a = parse_arch(BASE)
    stacked = a.memory.levels[2]
    flat = stacked.model_copy(update={"stacking": "none", "technology": None})
    (r1, w1), (r0, w0) = level_energy(stacked, NODE), level_energy(flat, NODE)
    assert r1 - r0 == pytest.approx(0.05 * WIDTH) and w1 - w0 == pytest.approx(0.05 * WIDTH)
    wire = WIDTH * tech.wire_energy_pj_per_bit_mm() * 0.5 * tech.sram_area_mm2(SIZE, NODE) ** 0.5
    assert r0 == pytest.approx(tech.sram_access_energy_pj(SIZE // 256, WIDTH, NODE) + wire)  # one of 256 banks


def test_nvm_write_is_the_table_read_is_the_sram_model() -> None:
    a = parse_arch(_wmem("stt_mram"))
    lv = a.memory.levels[2]
    read, write = level_energy(lv, NODE)
    sram_read, _ = level_energy(lv.model_copy(update={"technology": None, "stacking": "none"}), NODE)
    assert read == pytest.approx(sram_read + 0.05 * WIDTH)  # read_over_sram_model 1.0 + the bond
    assert write == pytest.approx((25.0 + 0.05) * WIDTH)


def test_explicit_energies_and_leakage_still_win() -> None:
    a = parse_arch(_wmem("rram", "      read_energy_pj: 7.0\n      write_energy_pj: 900.0\n      leakage_mw: 3.0\n"))
    assert level_energy(a.memory.levels[2], NODE) == (7.0, 900.0)
    assert hardware(a).levels[1].leakage_mw == 3.0


def test_leakage_is_the_sram_model_times_standby() -> None:
    sram = tech.sram_leakage_mw(SIZE, NODE)
    assert hardware(parse_arch(BASE)).levels[1].leakage_mw == pytest.approx(sram)
    assert hardware(parse_arch(_wmem("rram"))).levels[1].leakage_mw == 0.0
    edram = parse_arch(_wmem("edram", stacking="hybrid_bond"))
    assert hardware(edram).levels[1].leakage_mw == pytest.approx(0.2 * sram)


def test_area_comes_from_the_density() -> None:
    sram, rram = parse_arch(BASE), parse_arch(_wmem("rram"))
    assert area_mm2(rram) - area_mm2(sram) == pytest.approx(SIZE * 8 / 1.44e7 - tech.sram_area_mm2(SIZE, NODE))


def test_off_chip_technology() -> None:
    a = load_arch(EXAMPLES / "base-lpddr5x.yaml")
    hw = hardware(a)
    assert hw.dram_pj_per_bit == pytest.approx(10.8)
    assert hw.dram_burst_bytes == tech.dram_organisation("lpddr5")["burst_bytes"]
    assert tech.dram_energy_pj_per_bit("hbm3e") == mt.off_chip_technology("hbm3e").pj_per_bit == 3.9


def _error(text: str) -> str:
    with pytest.raises(SpecError) as err:
        parse_arch(text, "d.yaml")
    return str(err.value)


def test_dram_kind_must_match_the_technology() -> None:
    text = (EXAMPLES / "base-lpddr5x.yaml").read_text(encoding="utf-8")
    bad = text.replace("    technology: lpddr5x\n", "    technology: lpddr5x\n    kind: hbm3\n")
    s = _error(bad)
    assert s.startswith(f"d.yaml:{_line_of(bad, 'kind: hbm3')} memory.dram.kind: ") and "lpddr5" in s
    assert "give kind" in _error(text.replace("    technology: lpddr5x\n", ""))


def test_nvm_holds_weights_only_located() -> None:
    text = _wmem("rram").replace("      holds: [weight]\n", "      holds: [act, weight]\n")
    s = _error(text)
    assert s.startswith(f"d.yaml:{_line_of(text, 'holds: [act, weight]')} memory.levels.2.holds: ")
    assert "weights only" in s and "allowed: [weight]" in s


def test_nvm_needs_weights_across_steps_located() -> None:
    text = _wmem("rram").replace("  weight_residency: across_steps\n", "")
    s = _error(text)
    assert s.startswith(f"d.yaml:{_line_of(text, 'technology: rram')} memory.levels.2.technology: ")
    assert "every denoising step" in s


def test_endurance_exceeded_is_refused_with_the_arithmetic() -> None:
    # rram: 1e4 writes per cell; 1,000 images a day x 365 x 5 years, one rewrite each = 1.825e6
    text = _wmem("rram", per_model=False)
    s = _error(text)
    assert s.startswith(f"d.yaml:{_line_of(text, 'technology: rram')} memory.levels.2.technology: ")
    assert "1e+04" in s and "1.82e+06" in s
    ok = text.replace(
        "  weight_residency_level: wmem\n", "  weight_residency_level: wmem\n  nvm_use: {images_per_day: 5}\n"
    )
    assert parse_arch(ok).memory.nvm_use.writes_per_cell() == pytest.approx(5 * 365 * 5)  # 9,125 < 1e4
    assert parse_arch(_wmem("sot_mram", per_model=False)).memory.levels[2].technology == "sot_mram"  # 7e12 endures


def test_on_die_node_limit_located() -> None:
    text = _wmem("stt_mram", stacking="none")
    s = _error(text)
    assert s.startswith(f"d.yaml:{_line_of(text, 'technology: stt_mram')} memory.levels.2.technology: ")
    assert "14 nm" in s and "7 nm" in s
    assert parse_arch(text.replace("technology_nm: 7", "technology_nm: 14")).technology_nm == 14


def test_dram_class_needs_refresh_power_located() -> None:
    text = _wmem("dram_stacked", stacking="none")
    s = _error(text)
    assert s.startswith(f"d.yaml:{_line_of(text, 'technology: dram_stacked')} memory.levels.2.technology: ")
    assert "leakage_mw" in s
    assert "allowed: none" in _error(_wmem("dram_stacked", "      leakage_mw: 50\n"))


def test_examples_load_and_committed_archs_name_no_technology() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if "rram" not in path.name:
            load_arch(path)
    assert load_arch(EXAMPLES / "weights-rram-hybrid-bond.yaml").memory.nvm_use.weight_writes == "per_model"
    for path in sorted(ARCH.glob("*.yaml")):
        a = load_arch(path)
        assert all(lv.technology is None and lv.stacking == "none" for lv in a.memory.levels)
        assert a.memory.dram.technology is None
