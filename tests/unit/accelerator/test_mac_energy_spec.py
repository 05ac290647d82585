"""compute.mac_energy_pj and a register file's per-access energy: closed forms and spec errors.

A dense GEMM of M·N·K MACs on a design whose buffers never limit costs exactly
``M·N·K × mac_energy_pj`` in its compute component, whatever the node (the override is pJ at
the design's node, used as given); a register file with given per-access energies costs
``(a + w + p bits)/width × read + p bits/width × write`` per MAC.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simcase import arch, gemm, one

from accelerator import tech
from accelerator.errors import SpecError
from accelerator.spec import parse_arch
from simulator.cost.hardware import hardware
from simulator.evaluation import evaluate

M, N, K = 64, 96, 200
EDGE = (Path(__file__).resolve().parents[3] / "scenarios" / "arch" / "edge-os-int8.yaml").read_text()


@pytest.mark.parametrize("node", [45, 7])
@pytest.mark.parametrize(("precision", "pj"), [("int8", 0.23), ("int4", 0.061)])
def test_dense_gemm_compute_energy_is_macs_times_the_given_pj(precision: str, pj: float, node: int) -> None:
    a = arch(
        16, 16, "output_stationary", precision, technology_nm=node, compute_extra={"mac_energy_pj": {precision: pj}}
    )
    op = evaluate(one(gemm(M, N, K)), a).per_op[0]
    assert op.macs == M * N * K
    assert op.energy_breakdown_j["compute"] * 1e12 == pytest.approx(M * N * K * pj, rel=1e-12)


def test_precisions_left_out_keep_the_cited_table() -> None:
    # int4 overridden, the array runs int8: the Horowitz mult_int8 0.2 + add_int32 0.1 pJ at 45 nm
    a = arch(16, 16, "output_stationary", "int8", compute_extra={"mac_energy_pj": {"int4": 0.01}})
    assert hardware(a).mac_pj == pytest.approx(0.2 + 0.1)
    op = evaluate(one(gemm(M, N, K)), a).per_op[0]
    assert op.energy_breakdown_j["compute"] * 1e12 == pytest.approx(M * N * K * 0.3, rel=1e-12)


def test_default_is_the_node_scaled_table() -> None:
    a = arch(16, 16, "output_stationary", "int8", technology_nm=7)
    assert hardware(a).mac_pj == pytest.approx(0.3 * tech.node_energy_factor(7))


def test_register_file_energy_per_access_is_charged_per_mac() -> None:
    levels = [
        {
            "name": "rf",
            "size_bytes": 64,
            "per_pe": True,
            "width_bits": 8,
            "bandwidth_bytes_per_cycle": 4,
            "read_energy_pj": 0.05,
            "write_energy_pj": 0.08,
        },
        {"name": "glb", "size_bytes": 1 << 30, "banks": 256, "width_bits": 512, "bandwidth_bytes_per_cycle": 1 << 20},
    ]
    base = arch(16, 16, "output_stationary", "int8")
    data = base.model_dump()
    data["memory"]["levels"] = levels
    a = type(base).model_validate(data)
    # int8 activation and weight, int32 accumulator: 48 bits read in 8-bit accesses, 32 written
    per_mac = 0.05 * (8 + 8 + 32) / 8 + 0.08 * 32 / 8
    assert hardware(a).rf_pj_per_mac == pytest.approx(per_mac)
    op = evaluate(one(gemm(M, N, K)), a).per_op[0]
    assert op.energy_breakdown_j["rf"] * 1e12 == pytest.approx(M * N * K * per_mac, rel=1e-12)


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_arch(text, "bad.yaml")
    return info.value


def _with_mac_energy(entry: str) -> str:
    old = "  macs_per_pe_per_cycle: {int8: 1, int4: 2}"
    assert old in EDGE
    return EDGE.replace(old, f"{old}\n  mac_energy_pj: {entry}")


def _line(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if "mac_energy_pj" in line)


@pytest.mark.parametrize(
    ("entry", "field", "fragment"),
    [
        ("{int8: -0.1}", "compute.mac_energy_pj.int8", "must be at least 0 (the field's limit"),
        ("{int2: 0.1}", "compute.mac_energy_pj.int2", "unknown key"),
        ("{fp16: 1.0}", "compute.mac_energy_pj", "names fp16, which the array does not run; allowed: int8, int4"),
        ("{int8: .inf}", "compute.mac_energy_pj.int8", "finite"),
        ("{int8: true}", "compute.mac_energy_pj.int8", "got True"),
        ("{int8: 0.2pJ}", "compute.mac_energy_pj.int8", "got '0.2pJ'"),
    ],
)
def test_bad_mac_energy_names_line_field_and_value(entry: str, field: str, fragment: str) -> None:
    text = _with_mac_energy(entry)
    err = _error(text)
    assert err.field == field
    assert str(err).startswith(f"bad.yaml:{_line(text)} {field}:"), str(err)
    assert fragment in str(err), str(err)


def test_given_mac_energy_loads() -> None:
    a = parse_arch(_with_mac_energy("{int8: 0.23, int4: 0.1}"), "ok.yaml")
    assert a.compute.mac_energy_pj == {"int8": 0.23, "int4": 0.1}
    assert hardware(a).mac_pj == 0.23
