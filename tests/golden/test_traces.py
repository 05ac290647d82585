"""Golden traces of every zoo model at small sizes: op counts and FLOPs per step.

Each case traces one model call (shape only) and compares a compact record (aten ops, ops,
FLOPs, MACs, ops and FLOPs by kind) with ``tests/golden/traces/<case>.json``. Regenerate
after an intended change with ``pytest tests/golden --regen-golden`` (the one way for every
golden file) and review the diff. Big models run on fake tensors (shapes without values; seconds, no
memory); ``execution`` in the record says which.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="tracing needs torch (the trace extra)")
pytest.importorskip("diffusers", reason="the zoo models need diffusers (the trace extra)")

from models.trace.tracer import trace  # noqa: E402
from models.workload import Workload  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "traces"

#: case name -> trace() arguments (small sizes; fake=True for the big models)
CASES: dict[str, dict[str, Any]] = {
    "tiny-unet-16": {"model": "tiny-unet", "resolution": 16},
    "ddpm-cifar10-32": {"model": "ddpm-cifar10", "resolution": 32},
    "dit-s-2-8": {"model": "dit-s-2", "resolution": 8, "cfg": False},
    "dit-xl-2-32-fake": {"model": "dit-xl-2", "resolution": 32, "cfg": False, "fake": True},
    "sd15-unet-8-fake": {"model": "sd15-unet", "resolution": 8, "cfg": False, "fake": True},
    "sd15-unet-64-cfg-fake": {"model": "sd15-unet", "resolution": 64, "fake": True},
    "sd-vae-decoder-16-fake": {"model": "sd-vae-decoder", "resolution": 16, "fake": True},
    "terrain-128": {"model": "terrain", "resolution": 128},
}


def record(w: Workload) -> dict[str, Any]:
    kinds = Counter(op.kind for op in w.ops)
    flops: Counter[str] = Counter()
    for op in w.ops:
        flops[op.kind] += op.flops
    p = w.provenance
    return {
        "model": p["model"],
        "resolution": p["resolution"],
        "batch": p["batch"],
        "cfg": p["cfg"],
        "execution": p["execution"],
        "params": p["params"],
        "aten_ops_per_step": p.get("aten_ops_per_step"),
        "ops_per_step": len(w.ops),
        "macs_per_step": w.macs_per_step,
        "flops_per_step": w.flops_per_step,
        "ops_by_kind": dict(sorted(kinds.items())),
        "flops_by_kind": dict(sorted(flops.items())),
        "unsupported": [dict(u) for u in w.unsupported],
    }


@pytest.mark.trace
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_trace(case: str, regen_golden: bool) -> None:
    args = dict(CASES[case])
    model = args.pop("model")
    if model == "terrain":
        from models.zoo.terrain import onnx_path

        try:
            onnx_path()
        except Exception as exc:  # noqa: BLE001 - the reason is shown in the skip
            pytest.skip(f"terrain needs adaptive-terrain-diffusion==0.4.2: {exc}")
    got = record(trace(model, steps=1 if model == "sd-vae-decoder" else 2, **args))
    path = GOLDEN / f"{case}.json"
    if regen_golden:
        path.write_text(json.dumps(got, indent=2) + "\n")
        return
    if not path.is_file():
        pytest.fail(f"{path} missing: run `pytest tests/golden --regen-golden`, review and commit")
    assert got == json.loads(path.read_text())


def test_every_golden_trace_has_its_case() -> None:
    stale = sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in CASES)
    assert not stale, f"golden traces without a case in CASES: {stale}"


def _golden(case: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{case}.json").read_text())


def test_golden_numbers_match_the_published_ones() -> None:
    """The published sizes of these models, and the table of docs/tracing.md."""
    ddpm = _golden("ddpm-cifar10-32")
    assert ddpm["params"] == 35_746_307
    assert ddpm["flops_per_step"] == pytest.approx(12.4e9, rel=0.02)
    dit = _golden("dit-xl-2-32-fake")
    # DiT-XL/2 256²: 118.6 GFLOPs (Peebles & Xie 2023, Table 4, counting MACs as FLOPs)
    assert dit["macs_per_step"] == pytest.approx(118.6e9, rel=0.02)
    sd = _golden("sd15-unet-64-cfg-fake")
    # CFG doubles the batch: about 1,616 aten ops and 800 GFLOPs per image-half at 64²
    assert sd["batch"] == 1 and sd["cfg"] is True
    assert sd["flops_per_step"] / 2 == pytest.approx(803e9, rel=0.02)
    assert sd["aten_ops_per_step"] == pytest.approx(1616, abs=8)
    vae = _golden("sd-vae-decoder-16-fake")
    assert vae["flops_per_step"] == pytest.approx(155e9, rel=0.02)
    assert vae["params"] == pytest.approx(83.7e6, rel=0.01)
    terrain = _golden("terrain-128")
    assert terrain["params"] == pytest.approx(10.4e6, rel=0.01)
    assert 2 * terrain["macs_per_step"] == pytest.approx(17.7e9, rel=0.01)
    assert terrain["unsupported"] == []
