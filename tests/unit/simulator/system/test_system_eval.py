"""Invariants of the multi-core scheduler (simulator/system): a one-core system is today's
model, fusion never adds DRAM traffic, every link balances and the NoC energy is its closed form."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerator.errors import SpecError
from accelerator.system import SystemSpec, parse_system
from models.workload import Workload
from simulator import evaluate, load_arch, load_workload
from simulator.system import evaluate_system
from simulator.system.costs import Evaluator, plan
from simulator.system.fusion import fuse, layer_by_layer
from simulator.system.graph import INFERRED_NOTE, op_edges
from simulator.system.noc import Ledger, Network
from simulator.system.schedule import schedule

ROOT = Path(__file__).resolve().parents[4]
ARCH = ROOT / "scenarios" / "arch"
WORKLOADS = ROOT / "scenarios" / "workloads"


@cache
def _tiny() -> Workload:
    return load_workload(WORKLOADS / "tiny-unet.workload.json.gz")


@cache
def _decoder() -> Workload:
    return load_workload(WORKLOADS / "sd-vae-decoder-64.workload.json.gz")


def _system(body: str) -> SystemSpec:
    return parse_system("name: s\n" + body, "s.yaml", ARCH)


ONE = "cores:\n  - {name: c, arch: edge-os-int8.yaml}\n"
MESH = (
    "cores:\n  - {name: c, arch: edge-os-int8.yaml, count: 4}\n"
    "noc: {topology: mesh, link_bandwidth_bytes_per_cycle: 32}\nchiplets: {count: 2}\n"
)
PIPE = "cores:\n  - {name: c, arch: edge-os-int8.yaml, count: 3, parallelism: pipeline}\nchiplets: {count: 3}\n"


@pytest.mark.parametrize("arch", ["edge-os-int8.yaml", "dc-os-int8-resident.yaml"])
def test_one_core_is_todays_model(arch: str) -> None:
    w = _tiny()
    s = _system(f"cores:\n  - {{name: c, arch: {arch}}}\n")
    got = evaluate_system(w, s, steps=7, decoder=_decoder())
    want = evaluate(w, load_arch(ARCH / arch), steps=7, decoder=_decoder())
    assert got.energy_j_per_image == want.energy_j_per_image
    assert got.latency_s_per_image == want.latency_s_per_image
    assert got.energy_breakdown_j["noc"] == 0 and got.energy_breakdown_j["d2d"] == 0
    assert 0.99 < got.cores[0].utilization <= 1.0  # busy but for the weight fill


def test_unrunnable_kind_is_an_error_naming_it() -> None:
    s = _system("cores:\n  - {name: c, arch: edge-os-int8.yaml, runs: [conv, gemm]}\n")
    with pytest.raises(SpecError, match="no core runs"):
        evaluate_system(_tiny(), s)


def _dram(system: SystemSpec, w: Workload, depth: int) -> tuple[float, float]:
    net = Network(system)
    pl = plan(system, net, Evaluator(w, 1, w.steps, True))
    edges = op_edges(w).edges
    flat = schedule(system, net, w, pl, edges, layer_by_layer(len(pl.costs)))
    fused = schedule(system, net, w, pl, edges, fuse(w, pl.costs, edges, depth))
    return sum(s.dram_bytes for s in flat.slots), sum(s.dram_bytes for s in fused.slots)


@settings(max_examples=12, deadline=None)
@given(
    which=st.sampled_from(["tiny", "decoder"]),
    start=st.integers(0, 60),
    length=st.integers(2, 40),
    depth=st.integers(2, 24),
    body=st.sampled_from([ONE, MESH, PIPE]),
)
def test_fusion_never_adds_dram_traffic(which: str, start: int, length: int, depth: int, body: str) -> None:
    full = _tiny() if which == "tiny" else _decoder()
    ops = full.ops[start : start + length] or full.ops[:length]
    w = Workload(ops=tuple(replace(op, reads=(), writes=()) for op in ops), steps=1)
    flat, fused = _dram(_system(body), w, depth)
    assert fused <= flat * (1 + 1e-12)


def test_links_balance_and_noc_energy_is_its_closed_form() -> None:
    s = _system(MESH)
    r = evaluate_system(_tiny(), s, steps=3, decoder=_decoder(), fused=True)
    assert r.links, "the split and the die crossing move bytes"
    for x in r.links:
        assert x.bytes_sent == x.bytes_received, x.link
    noc_bits = sum(8 * x.bytes_sent for x in r.links if x.kind == "noc")
    d2d_bits = sum(8 * x.bytes_sent for x in r.links if x.kind == "d2d")
    assert r.energy_breakdown_j["noc"] == pytest.approx(noc_bits * s.noc.energy_pj_per_bit_per_hop * 1e-12)
    assert r.energy_breakdown_j["d2d"] == pytest.approx(d2d_bits * s.chiplets.d2d.energy_pj_per_bit * 1e-12)
    assert d2d_bits > 0


def test_a_route_on_a_mesh() -> None:
    """2x2 mesh on one die: instance 0 to 3 is two hops (x then y); the ledger counts each."""
    s = _system("cores:\n  - {name: c, arch: edge-os-int8.yaml, count: 4}\nnoc: {energy_pj_per_bit_per_hop: 0.5}\n")
    net, ledger = Network(s), Ledger()
    route = net.route(0, 3)
    assert [x.name for x in route.links] == ["die0:0->1", "die0:1->3"]
    end = net.send(ledger, 0, 3, 1000.0, 0.0)
    bw = s.noc.link_bandwidth_bytes_per_cycle * 1e9
    assert end == pytest.approx(1000.0 / bw + 2 * s.noc.router_latency_cycles * 1e-9)
    assert ledger.sent_by == {0: 1000.0} and ledger.received_by == {3: 1000.0}
    assert net.energy_j(ledger) == pytest.approx((1000 * 8 * 2 * 0.5e-12, 0.0))


def test_a_route_across_chiplets() -> None:
    """Three dies on a 2-column grid (0 1 / 2): die 0 to die 2 is one crossing in y, die 1 to 2 two."""
    net = Network(_system(PIPE))
    r02, r12 = net.route(0, 2), net.route(1, 2)
    assert (r02.noc_hops, [x.name for x in r02.links]) == (0, ["d2d:0->2"])
    assert [x.name for x in r12.links] == ["d2d:1->0", "d2d:0->2"] and r12.d2d_hops == 2


def test_deterministic_json() -> None:
    s = _system(MESH)
    a = evaluate_system(_tiny(), s, steps=3, fused=True).to_json()
    b = evaluate_system(_tiny(), s, steps=3, fused=True).to_json()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_inferred_edges_are_noted() -> None:
    w = Workload(ops=tuple(replace(op, reads=(), writes=()) for op in _tiny().ops[:5]), steps=1)
    g = op_edges(w)
    assert g.inferred and [(e.producer, e.consumer) for e in g.edges] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    r = evaluate_system(w, _system(ONE))
    assert INFERRED_NOTE in r.notes


def test_tensor_ids_give_real_edges() -> None:
    ops = _tiny().ops[:4]
    ids = [((), (10,)), ((10,), (11,)), ((11,), (12,)), ((10, 12), (13,))]  # op 3: a skip from op 0
    w = Workload(ops=tuple(replace(op, reads=r, writes=wr) for op, (r, wr) in zip(ops, ids, strict=True)), steps=1)
    g = op_edges(w)
    assert not g.inferred
    assert [(e.producer, e.consumer, e.tensor) for e in g.edges] == [(0, 1, 10), (1, 2, 11), (0, 3, 10), (2, 3, 12)]
    assert g.edges[2].bytes == ops[0].out_bytes  # the tensor as its producer wrote it


@pytest.mark.parametrize("depth", [2, 5, 16])
def test_fusion_with_real_edges_never_adds_dram_traffic(depth: int) -> None:
    """The traced tensor ids (skip connections included) on the whole tiny UNet."""
    w = _tiny()
    assert not op_edges(w).inferred
    for body in (ONE, MESH, PIPE):
        flat, fused = _dram(_system(body), w, depth)
        assert fused <= flat * (1 + 1e-12)
        assert fused < flat  # something is kept on chip
