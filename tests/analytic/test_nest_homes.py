"""Tensors kept on chip on the nest path (``mapping.memory_model: nest``) through
``simulator.evaluate``: closed forms of the DRAM bytes.

The design: an 8×8 weight-stationary INT8 array under one double-buffered GLB (int8 weights,
inputs and outputs: one byte per element). Where the GLB holds whole tensors the mapper reads every
operand once from DRAM, so an op's DRAM bytes are the sizes of the operands it does not keep:

- two chained GEMMs (fc1 ``64×48 · 48×32``, fc2 ``64×32 · 32×16``; a layer list chains by size):
  fc1 keeps its output for fc2, so fc1 moves its input and weights (``64·48 + 48·32``) and fc2 its
  weights and output (``32·16 + 64·16``); on a GLB too small to hold the tensor both go to DRAM;
- weights resident across steps: no weight bytes per step, the parameters once per image;
- fused attention: the scores (``B·Lq·Lk``) never reach DRAM; unfused they are written, read by
  the softmax, written back and read by P·V (4 × ``B·Lq·Lk``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.spec import parse_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost.hardware import hardware
from simulator.cost.residency import fill_cost, plan
from simulator.evaluation import evaluate
from simulator.optable import prepare
from simulator.result import DesignResult, OpResult


def arch_text(glb_bytes: int = 1 << 20, fused: bool = True, memory_extra: str = "") -> str:
    return f"""name: homes
clock_ghz: 1.0
technology_nm: 45
mapping: {{memory_model: nest}}
compute:
  rows: 8
  cols: 8
  dataflow: weight_stationary
  macs_per_pe_per_cycle: {{int8: 1}}
  precision: int8
  fused_attention: {str(fused).lower()}
memory:
  levels:
    - {{name: glb, size_bytes: {glb_bytes}, banks: 16, width_bits: 64, bandwidth_bytes_per_cycle: 128,
       double_buffered: true}}
  dram: {{kind: lpddr5, bandwidth_gb_per_s: 51.2}}
{memory_extra}"""


def _workload(tmp_path: Path, layers: str, steps: int = 1) -> Workload:
    p = tmp_path / "w.layers.yaml"
    p.write_text(f"name: w\nsteps: {steps}\nlayers:\n{layers}", encoding="utf-8")
    return load_layers_yaml(p)


def _chain(m: int) -> str:
    return f"  - {{name: fc1, type: gemm, M: {m}, N: 32, K: 48}}\n  - {{name: fc2, type: gemm, M: {m}, N: 16, K: 32}}\n"


def _ops(res: DesignResult) -> dict[str, OpResult]:
    return {op.name: op for op in res.per_op}


def test_a_chained_tensor_that_fits_stays_on_chip(tmp_path: Path) -> None:
    res = evaluate(_workload(tmp_path, _chain(64)), parse_arch(arch_text()))
    fc1, fc2 = (_ops(res)[n] for n in ("fc1", "fc2"))
    assert fc1.mapping["output_kept"] and fc2.mapping["input_resident"]
    assert fc1.traffic_bytes["dram"] == 64 * 48 + 48 * 32
    assert fc2.traffic_bytes["dram"] == 32 * 16 + 64 * 16
    assert res.extras["traffic_bytes_per_image"]["dram"] == 64 * 48 + 48 * 32 + 32 * 16 + 64 * 16
    assert not any("inter-op activation reuse" in n for n in res.notes)


def test_a_chained_tensor_that_does_not_fit_goes_through_dram(tmp_path: Path) -> None:
    # fc1's output is 256·32 = 8 KiB, the whole GLB: nothing would be left for the tiles
    res = evaluate(_workload(tmp_path, _chain(256)), parse_arch(arch_text(glb_bytes=8192)))
    fc1, fc2 = (_ops(res)[n] for n in ("fc1", "fc2"))
    assert not fc1.mapping["output_kept"] and not fc2.mapping["input_resident"]
    assert fc1.traffic_bytes["dram"] >= 256 * 48 + 48 * 32 + 256 * 32
    assert fc2.traffic_bytes["dram"] >= 256 * 32 + 32 * 16 + 256 * 16


def test_resident_weights_leave_dram_every_step_and_fill_once(tmp_path: Path) -> None:
    workload = _workload(tmp_path, _chain(64), steps=2)
    spec = parse_arch(arch_text(memory_extra="  weight_residency: across_steps\n"))
    res = evaluate(workload, spec)
    fc1, fc2 = (_ops(res)[n] for n in ("fc1", "fc2"))
    assert fc1.traffic_bytes["dram"] == 64 * 48 and fc2.traffic_bytes["dram"] == 64 * 16
    assert fc1.mapping["weights_resident"] and fc2.mapping["weights_resident"]
    params = 48 * 32 + 32 * 16
    wr = res.extras["weight_residency"]
    assert wr["resident"] and wr["resident_bytes"] == params
    assert res.extras["traffic_bytes_per_image"]["dram"] == 2 * (64 * 48 + 64 * 16) + params
    fill = fill_cost(hardware(spec), plan(prepare(workload), spec, hardware(spec)))
    assert wr["fill_energy_j"] == pytest.approx(sum(fill.energy_pj.values()) * 1e-12, rel=1e-12)
    per_op = evaluate(workload, parse_arch(arch_text()))  # the same design reading weights per op
    assert res.energy_j_per_image == pytest.approx(
        sum(s["energy_j"] for s in res.per_step) + wr["fill_energy_j"], rel=1e-12
    )
    assert res.energy_breakdown_j["dram"] < per_op.energy_breakdown_j["dram"]
    assert any("weights resident in glb" in n for n in res.notes)


def test_weights_that_do_not_fit_are_read_per_op(tmp_path: Path) -> None:
    workload = _workload(tmp_path, _chain(64), steps=2)
    res = evaluate(workload, parse_arch(arch_text(glb_bytes=1024, memory_extra="  weight_residency: across_steps\n")))
    assert not res.extras["weight_residency"]["resident"]
    assert any("weights not resident" in n for n in res.notes)
    assert _ops(res)["fc1"].traffic_bytes["dram"] >= 64 * 48 + 48 * 32


ATTN = "  - {name: attn, type: attention, batch: 2, Lq: 32, Lk: 32, d: 16}\n"


def test_fused_attention_keeps_the_scores_on_chip(tmp_path: Path) -> None:
    workload = _workload(tmp_path, ATTN)
    fused = _ops(evaluate(workload, parse_arch(arch_text())))["attn"]
    unfused = _ops(evaluate(workload, parse_arch(arch_text(fused=False))))["attn"]
    qkvo = 4 * 2 * 32 * 16
    scores = 2 * 32 * 32
    assert fused.mapping["fused_attention"] and fused.mapping["scores_rows_per_block"] == 32
    assert fused.traffic_bytes["dram"] == qkvo
    assert unfused.traffic_bytes["dram"] == qkvo + 4 * scores
    # the softmax reads and writes the scores in the GLB instead of DRAM
    assert fused.energy_breakdown_j["dram"] < unfused.energy_breakdown_j["dram"]


def test_fused_attention_blocks_the_query_rows_on_a_small_buffer(tmp_path: Path) -> None:
    res = evaluate(_workload(tmp_path, ATTN), parse_arch(arch_text(glb_bytes=1024)))
    attn = _ops(res)["attn"]
    # a head's 32×32 B of scores exceed half the GLB: 16 query rows per block (512 B)
    assert attn.mapping["scores_rows_per_block"] == 16
    assert [n["copies"] for n in attn.mapping["nests"]] == [4, 4]
