"""Tensor ids from the recorder: views keep the producer's id, in-place ops write a new one,
parameters have none, and the UNet's skip connections are edges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the tracer needs torch (the trace extra)")
import torch  # noqa: E402

from models.trace.migrate import differences, migrate  # noqa: E402
from models.trace.tracer import trace_calls  # noqa: E402
from models.workload import Workload, consumers, edges, load, step_inputs, to_json  # noqa: E402
from models.zoo import StepHook  # noqa: E402

pytestmark = pytest.mark.trace
ROOT = Path(__file__).resolve().parents[4]


class _Skip(torch.nn.Module):
    """linear → reshape (a view) → relu_ (in place) → mul; then the linear's output again (skip)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)  # op 0: addmm reads x, writes h
        v = h.view(2, 4, 2)  # a view: no op, same tensor
        r = v.clone()  # op 1: reads h (through the view)
        r.relu_()  # op 2: reads r, writes a new version of it
        s = r.flatten(1) * 2.0  # op 3
        return s + h  # op 4: the skip reads op 0's output


def _record() -> Workload:
    module = _Skip()
    x = torch.randn(2, 8)
    rec = trace_calls(module, lambda hook: _call(module, x, hook))
    return Workload(ops=rec.ops)


def _call(module: torch.nn.Module, x: torch.Tensor, hook: StepHook) -> None:
    with hook(0, 1):
        module(x)


def test_views_in_place_ops_and_parameters() -> None:
    w = _record()
    names = [op.name.split(".")[1] for op in w.ops]
    assert names == ["addmm", "clone", "relu_", "mul", "add"]
    addmm, clone, relu, mul, add = w.ops
    assert len(addmm.reads) == 1  # x only: the weight and bias are parameters, without ids
    (h,) = addmm.writes
    assert clone.reads == (h,)  # the view reads its base's tensor
    assert relu.reads == clone.writes and relu.writes != clone.writes  # in place: a new version
    assert mul.reads == relu.writes
    assert add.reads == (*mul.writes, h)
    assert step_inputs(w) == list(addmm.reads)
    assert consumers(w) == {0: [1, 4], 1: [2], 2: [3], 3: [4], 4: []}


def test_the_recorded_ids_are_deterministic() -> None:
    assert _record().ops == _record().ops


def test_skip_connections_of_the_committed_unet_are_edges() -> None:
    """tiny-unet: every concatenation of an up-block reads a tensor written by a down-block
    (or conv_in) op many ops earlier, and the edge carries that op's whole output."""
    w = load(ROOT / "scenarios" / "workloads" / "tiny-unet.workload.json.gz")
    cats = [i for i, op in enumerate(w.ops) if op.name == "aten.cat.default" and op.module.startswith("up_blocks")]
    assert len(cats) == 4  # two up-blocks of two resnets
    for c in cats:
        skips = [e for e in edges(w) if e.consumer == c and e.producer < c - 20]
        assert len(skips) == 1, c
        (e,) = skips
        source = w.ops[e.producer].module
        assert source == "conv_in" or source.startswith("down_blocks"), source
        assert e.bytes == w.ops[e.producer].out_bytes > 0


def test_migrating_a_version_1_trace_gives_the_committed_file(tmp_path: Path) -> None:
    """The committed tiny-unet written back at version 1 (no ids), then migrated: the same
    bytes as the committed file (ids from one re-traced call; statistics kept as recorded)."""
    committed = ROOT / "scenarios" / "workloads" / "tiny-unet.workload.json.gz"
    doc = to_json(load(committed))
    doc["version"] = 1
    for op in doc["ops"]:
        del op["reads"], op["writes"]
    old = tmp_path / "tiny-unet.workload.json"
    old.write_text(json.dumps(doc))
    assert "version 1 -> 2" in migrate(old)
    assert old.read_bytes() == committed.read_bytes()
    assert differences(doc, to_json(load(old))) == []
    assert "already has tensor ids" in migrate(old)
