"""The nest's design read from the YAML spec (per-PE partitions and their energies), and the
adapter's refusals and notes (simulator/cost/nest_costs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec, MemoryLevel, load_arch
from accelerator.tech.regfile import register_file_access_pj
from models.layers import load_layers_yaml
from simulator.cost import analytic
from simulator.cost.hardware import level_energy
from simulator.cost.nest.arch import from_spec
from simulator.cost.nest_costs import limits
from simulator.optable import prepare
from simulator.validation.compare import with_nest

ROOT = Path(__file__).resolve().parents[5]
VAL = ROOT / "scenarios" / "validation"


def test_eyeriss_spads_priced_per_partition() -> None:
    """The filter spad (an SRAM) by the SRAM model of its size; the register-built ifmap and psum
    spads by the register-file model (``test_register_spads.py``), dearer than the filter SRAM's
    per-bit energy would suggest for their size, cheaper than the 448 B SRAM."""
    spec = load_arch(VAL / "eyeriss.yaml")
    arch = from_spec(spec)
    spad = arch.levels[0]
    assert [lv.name for lv in arch.levels] == ["spad", "glb", "dram"] and arch.fanout_level == 1
    assert spad.operand_bytes == (448, 24, 48) and spad.holds == (True, True, True)
    lv = MemoryLevel(name="x", size_bytes=448, per_pe=True, width_bits=16, bandwidth_bytes_per_cycle=6)
    rd, wr = level_energy(lv, spec.technology_nm, spec.vdd_v)  # the chip's 1 V supply
    assert spad.read_pj_per_bit[0] == pytest.approx(rd / 16) and spad.write_pj_per_bit[0] == pytest.approx(wr / 16)
    for o, words in ((1, 12), (2, 24)):  # nest order: weights, inputs, outputs
        rf = register_file_access_pj(words, 16, spec.technology_nm, spec.vdd_v)
        assert spad.read_pj_per_bit[o] == pytest.approx(rf.read_pj / 16)
        assert spad.write_pj_per_bit[o] == pytest.approx(rf.write_pj / 16)
    # a smaller array costs less per access
    assert spad.read_pj_per_bit[1] < spad.read_pj_per_bit[2] < spad.read_pj_per_bit[0]


def test_zigzag_registers_use_the_given_energies() -> None:
    arch = from_spec(load_arch(VAL / "zigzag-tpu-like.yaml"))
    rf = arch.levels[0]
    assert rf.holds == (True, False, True) and rf.operand_bytes == (128, 0, 2)
    assert rf.read_pj_per_bit == pytest.approx((0.095 / 8, 0.0, 0.0105 / 8))
    assert rf.bandwidth_bytes_per_cycle == 10  # ZigZag's rf ports: 8 + 8 + 2 x 16 + 2 x 16 bits
    assert arch.levels[1].holds == (False, True, True)


def test_per_pe_level_without_partitions_shares_its_capacity() -> None:
    spec = load_arch(ROOT / "scenarios" / "arch" / "edge-os-int8.yaml")
    arch = from_spec(spec)
    rf = arch.levels[0]
    assert rf.operand_bytes is None and rf.size_bytes == 64 and rf.holds == (True, True, True)
    rd, _ = level_energy(spec.memory.levels[0], spec.technology_nm)
    assert rf.read_pj_per_bit == pytest.approx((rd / 8,) * 3)


def _with(spec: ArchSpec, **compute: object) -> ArchSpec:
    data = spec.model_dump()
    data["compute"]["sparsity"].update(compute)
    return ArchSpec.model_validate(data)


def test_notes_name_what_the_nest_path_leaves_out(tmp_path: Path) -> None:
    p = tmp_path / "w.layers.yaml"
    p.write_text("name: w\nsteps: 1\nlayers:\n  - {name: a, type: attention, batch: 1, Lq: 8, Lk: 8, d: 8}\n")
    table = prepare(load_layers_yaml(p))
    base = with_nest(load_arch(ROOT / "scenarios" / "arch" / "dc-os-int8-resident.yaml"))
    notes = " | ".join(limits(base, table))
    for what in ("inter-op activation reuse", "fused attention not modelled", "weight residency across steps not"):
        assert what not in notes  # modelled on the nest path now (simulator.cost.nest_homes)
    sparse = _with(base, block_skip=[1, 16], compact_activations=True, temporal_delta=True, act_zero_gating=True)
    notes = " | ".join(limits(sparse, table))
    for what in ("block skipping", "compacted activations", "temporal deltas", "ranks mappings on the dense nest"):
        assert what in notes  # what each still leaves out (simulator.cost.nest_sparsity.notes)
    # zero gating itself is modelled: the only note naming it is the mapper's (it maps the dense nest)
    assert [n for n in limits(sparse, table) if "zero gating" in n] == [
        n for n in limits(sparse, table) if "ranks mappings on the dense nest" in n
    ]
    dense = _with(base, act_zero_gating=False, weight_zero_gating=False, block_skip=None)
    assert not any("ranks mappings on the dense nest" in n for n in limits(dense, table))
    for gate in ("act_zero_gating", "weight_zero_gating"):
        gated = _with(dense, **{gate: True})
        assert any("ranks mappings on the dense nest" in n for n in limits(gated, table)), gate


def test_one_level_model_refuses_row_stationary() -> None:
    spec = with_nest(load_arch(VAL / "eyeriss.yaml"), "row_stationary")
    table = prepare(load_layers_yaml(VAL / "alexnet-conv-b4.layers.yaml"))
    with pytest.raises(SimulationError, match="row_stationary has no one-level closed form"):
        analytic.evaluate_table(table, spec)
