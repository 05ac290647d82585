"""The system spec (accelerator/system.py): strict fields, located errors, runnable kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator import system as sysmod
from accelerator.errors import SpecError
from accelerator.system import check_runnable, load_system, parse_system

ROOT = Path(__file__).resolve().parents[3]
ARCH_DIR = ROOT / "scenarios" / "arch"

GOOD = """\
name: two
cores:
  - name: big
    arch: edge-os-int8.yaml
    count: 2
  - name: vec
    runs: [norm, elementwise]
    arch:
      name: v
      clock_ghz: 1.0
      technology_nm: 7
      compute:
        rows: 8
        cols: 8
        macs_per_pe_per_cycle: {int8: 1}
        precision: int8
      memory:
        levels:
          - {name: glb, size_bytes: 65536, bandwidth_bytes_per_cycle: 64}
        dram: {kind: hbm3, bandwidth_gb_per_s: 819.2}
noc:
  topology: ring
chiplets:
  count: 3
"""


def _error(old: str, new: str) -> tuple[SpecError, int]:
    assert old in GOOD, old
    text = GOOD.replace(old, new)
    with pytest.raises(SpecError) as info:
        parse_system(text, "sys.yaml", ARCH_DIR)
    line = next(i for i, x in enumerate(text.splitlines(), 1) if new.strip().splitlines()[-1].strip() in x)
    return info.value, line


def test_good_system_loads_with_cited_defaults() -> None:
    s = parse_system(GOOD, "sys.yaml", ARCH_DIR)
    assert [c.name for c in s.cores] == ["big", "vec"]
    assert s.cores[0].arch.name == "edge-os-int8"
    assert s.cores[1].arch.compute.rows == 8
    assert s.instances == 3
    assert s.noc.energy_pj_per_bit_per_hop == sysmod.NOC_PJ_PER_BIT_PER_HOP
    assert s.chiplets.d2d.energy_pj_per_bit == sysmod.D2D_PJ_PER_BIT
    assert s.cores[0].runs_kind("attention") and not s.cores[1].runs_kind("attention")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("    count: 2", "    count: 0", "cores.0.count", "at least 1"),
        ("    count: 2", f"    count: {sysmod.MAX_CORES + 1}", "cores.0.count", "at most"),
        ("    count: 2", "    count: 2.0", "cores.0.count", "expected an integer"),
        ("  topology: ring", "  topology: torus", "noc.topology", "torus"),
        ("    runs: [norm, elementwise]", "    runs: [norm, matmul]", "cores.1.runs.1", "matmul"),
        ("  count: 3", "  count: 4", "", "exceeds the 3 core instances"),
        ("noc:\n", "nocc:\n", "nocc", "unknown field"),
        ("        rows: 8", "        rows: -8", "cores.1.arch.compute.rows", "at least 1"),
    ],
)
def test_errors_are_located(old: str, new: str, field: str, words: str) -> None:
    err, line = _error(old, new)
    assert err.file == "sys.yaml"
    assert err.field == (field or None) or (not field and err.field in (None, ""))
    if field:
        assert err.line == line, str(err)
    assert words in str(err)


def test_arch_file_errors_name_the_arch_file(tmp_path: Path) -> None:
    bad = (ARCH_DIR / "edge-os-int8.yaml").read_text().replace("  rows: 32", "  rows: true")
    (tmp_path / "bad.yaml").write_text(bad)
    text = GOOD.replace("arch: edge-os-int8.yaml", "arch: bad.yaml")
    with pytest.raises(SpecError) as info:
        parse_system(text, "sys.yaml", tmp_path)
    assert info.value.file is not None and info.value.file.endswith("bad.yaml")
    assert info.value.field == "compute.rows"


def test_missing_arch_file_is_located() -> None:
    text = GOOD.replace("arch: edge-os-int8.yaml", "arch: nowhere.yaml")
    with pytest.raises(SpecError) as info:
        parse_system(text, "sys.yaml", ARCH_DIR)
    assert info.value.field == "cores.0.arch" and info.value.line == 4


def test_arch_of_wrong_type_is_located() -> None:
    with pytest.raises(SpecError) as info:
        parse_system(GOOD.replace("arch: edge-os-int8.yaml", "arch: 7"), "sys.yaml", ARCH_DIR)
    assert info.value.field == "cores.0.arch" and "expected a path" in str(info.value)


def test_duplicate_core_names() -> None:
    with pytest.raises(SpecError, match="used twice"):
        parse_system(GOOD.replace("name: vec", "name: big"), "sys.yaml", ARCH_DIR)


def test_unrunnable_kind_is_named() -> None:
    s = parse_system(GOOD.replace("    arch: edge-os-int8.yaml\n", "    arch: edge-os-int8.yaml\n    runs: [conv]\n"),
                     "sys.yaml", ARCH_DIR)  # fmt: skip
    check_runnable(s, ["conv", "norm"])
    with pytest.raises(SpecError, match="'attention', which no core runs"):
        check_runnable(s, ["conv", "attention"])


def test_op_kinds_match_the_workload_format() -> None:
    from models.workload.schema import OP_KINDS

    assert sysmod.OP_KINDS == OP_KINDS


def test_scenario_systems_load() -> None:
    for name in ("one-die", "four-chiplets", "hetero", "cfg-pair"):
        s = load_system(ROOT / "scenarios" / "multicore" / f"{name}.yaml")
        assert s.name == name
