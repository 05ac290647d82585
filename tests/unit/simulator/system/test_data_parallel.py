"""Data parallelism (``parallelism: data``): alike cores each run the whole step on their share
of the batch, classifier-free guidance's two passes included; ``auto`` picks by the objective."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from accelerator.system import SystemSpec, parse_system
from models.workload import Workload
from simulator import evaluate, load_arch, load_workload
from simulator.optable import batch_op
from simulator.system import evaluate_system
from simulator.system.data import divide_op, items_per_call, replicas
from simulator.system.split import channel_share as split_share

SCENARIOS = Path(__file__).resolve().parents[4] / "scenarios"
ARCH = SCENARIOS / "arch"


@cache
def _workload(name: str) -> Workload:
    return load_workload(SCENARIOS / "workloads" / f"{name}.workload.json.gz")


def _tiny() -> Workload:
    return _workload("tiny-unet")


def _sd() -> Workload:
    """SD-1.5's UNet, traced with CFG: each call runs the two passes as a batch of 2."""
    return _workload("sd15-unet-64")


def _system(count: int, parallelism: str, arch: str = "edge-os-int8.yaml", objective: str = "energy") -> SystemSpec:
    text = (
        f"name: s\ncores:\n  - {{name: c, arch: {arch}, count: {count}, parallelism: {parallelism}}}\n"
        f"schedule: {{objective: {objective}}}\n"
    )
    return parse_system(text, "s.yaml", ARCH)


def test_replicas_divide_the_images_of_a_call() -> None:
    assert items_per_call(_sd(), 1) == 2 and items_per_call(_sd(), 3) == 6
    assert items_per_call(_tiny(), 1) == 1 and items_per_call(_tiny(), 4) == 4
    assert [replicas(c, 6) for c in (1, 2, 3, 4, 5, 6, 8)] == [1, 2, 3, 3, 3, 6, 6]
    assert replicas(8, 1) == 1


def test_one_cfg_pass_is_half_the_traced_op() -> None:
    halved = 0
    for op in _sd().ops:
        half = divide_op(op, 2)
        if half is op:
            continue
        halved += 1
        again = batch_op(half, 2)
        assert (again.macs, again.flops, again.out_bytes, again.gemm) == (op.macs, op.flops, op.out_bytes, op.gemm)
        assert again.output_shape == op.output_shape and half.weight_bytes == op.weight_bytes
    assert halved > 0.9 * len(_sd().ops)


def test_two_data_cores_on_two_images_are_one_core_on_one() -> None:
    """Closed form: at batch 2 on 2 alike cores each core runs the step of one image, so the
    batch takes one image's time on one core and each image costs what it costs alone (its
    weights read by each core: more than one core reading them once for both images)."""
    w, arch = _tiny(), load_arch(ARCH / "edge-os-int8.yaml")
    alone = evaluate(w, arch, steps=5)
    both = evaluate(w, arch, steps=5, batch=2)
    dp = evaluate_system(w, _system(2, "data"), steps=5, batch=2)
    assert dp.latency_s_per_image == pytest.approx(alone.latency_s_per_image, rel=1e-12)
    assert dp.latency_s_per_image == pytest.approx(both.latency_s_per_image / 2, rel=0.1)
    assert dp.energy_j_per_image == pytest.approx(alone.energy_j_per_image, rel=1e-12)
    assert dp.energy_j_per_image >= both.energy_j_per_image
    assert dp.traffic_bytes_per_image["noc"] == 0.0 and dp.energy_breakdown_j.get("noc", 0.0) == 0.0
    assert [c.busy_s for c in dp.cores][0] == pytest.approx(dp.cores[1].busy_s, rel=1e-12)
    assert dp.fusion_plan["step"]["replicas"] == 2


def test_cfg_passes_on_two_cores() -> None:
    """SD-1.5 at batch 1: each core runs one of the two guidance passes."""
    w = _sd()
    one = evaluate_system(w, _system(1, "split", "dc-os-int8-sparse.yaml"), steps=3)
    dp = evaluate_system(w, _system(2, "data", "dc-os-int8-sparse.yaml"), steps=3)
    assert dp.latency_s_per_image == pytest.approx(one.latency_s_per_image / 2, rel=0.05)
    assert dp.latency_s_per_image > one.latency_s_per_image / 2  # the shared ops run whole on both
    # weights are read by each core: at least one core's energy, more by about one core's weight reads
    assert dp.energy_j_per_image > one.energy_j_per_image
    assert dp.traffic_bytes_per_image["dram"] > one.traffic_bytes_per_image["dram"]
    assert dp.traffic_bytes_per_image["noc"] == 0.0


def test_without_a_batch_to_share_one_core_runs_everything() -> None:
    w, arch = _tiny(), load_arch(ARCH / "edge-os-int8.yaml")
    dp = evaluate_system(w, _system(3, "data"), steps=4)
    want = evaluate(w, arch, steps=4)
    assert dp.latency_s_per_image == want.latency_s_per_image
    assert dp.energy_j_per_image > want.energy_j_per_image  # two cores leak while they wait
    assert [c.busy_s > 0 for c in dp.cores] == [True, False, False]


@pytest.mark.parametrize("objective", ["energy", "latency"])
def test_auto_picks_the_best_of_the_three_by_the_objective(objective: str) -> None:
    w = _sd()
    arch = "dc-os-int8-sparse.yaml"
    got = {p: evaluate_system(w, _system(2, p, arch, objective), steps=2) for p in ("split", "pipeline", "data")}
    auto = evaluate_system(w, _system(2, "auto", arch, objective), steps=2)

    def key(r: object) -> tuple[float, float]:
        e, t = r.energy_j_per_image, r.latency_s_per_image  # type: ignore[attr-defined]
        return (e, t) if objective == "energy" else (t, e)

    best = min(got, key=lambda p: key(got[p]))
    assert key(auto) == key(got[best])
    assert set(auto.fusion_plan["step"]["parallelism"].values()) == {best}
    again = evaluate_system(w, _system(2, "auto", arch, objective), steps=2)
    assert again.to_json() == auto.to_json()


def test_a_split_counts_its_busiest_instance() -> None:
    """A split is as slow as its busiest instance: ceil(n / count) of the n output channels."""
    conv = next(op for op in _tiny().ops if op.kind == "conv" and op.weight_is_param)
    assert conv.gemm is not None
    n = conv.gemm[2]
    assert split_share(conv, 4, 1) == pytest.approx(-(-n // 4) / n)
    odd = replace(conv, gemm=(conv.gemm[0], conv.gemm[1], 3, conv.gemm[3]))
    assert split_share(odd, 2, 1) == pytest.approx(2 / 3)  # not the ideal 1/2
    assert split_share(odd, 4, 1) == pytest.approx(1 / 3)  # one instance waits
    attn = next(op for op in _sd().ops if op.kind == "attention")  # batch x heads = 16
    assert split_share(attn, 3, 1) == pytest.approx(6 / 16)
    norm = next(op for op in _tiny().ops if op.gemm is None)
    assert split_share(norm, 4, 1) == 0.25


def test_a_batch_on_one_core_is_todays_batch() -> None:
    w, arch = _tiny(), load_arch(ARCH / "edge-os-int8.yaml")
    got = evaluate_system(w, _system(1, "data"), steps=3, batch=2)
    want = evaluate(w, arch, steps=3, batch=2)
    assert got.energy_j_per_image == want.energy_j_per_image
    assert got.latency_s_per_image == want.latency_s_per_image
    assert got.energy_j_per_step == pytest.approx(want.energy_j_per_step, rel=1e-12)


def test_data_cores_beside_others_balance_their_links_and_fusion_saves() -> None:
    text = (
        "name: mixed\ncores:\n"
        "  - {name: arr, arch: dc-os-int8-sparse.yaml, count: 2, parallelism: data, runs: [conv, gemm, attention]}\n"
        "  - {name: vec, arch: edge-os-int8.yaml, count: 1}\n"
        "chiplets: {count: 2}\n"
    )
    s = parse_system(text, "s.yaml", ARCH)
    flat = evaluate_system(_sd(), s, steps=2)
    fused = evaluate_system(_sd(), s, steps=2, fused=True)
    assert fused.traffic_bytes_per_image["dram"] <= flat.traffic_bytes_per_image["dram"]
    assert fused.energy_j_per_image <= flat.energy_j_per_image
    for r in (flat, fused):
        assert r.links and all(x.bytes_sent == x.bytes_received for x in r.links)
        assert r.fusion_plan["step"]["parallelism"] == {"arr": "data", "vec": "split"}
