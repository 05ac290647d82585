"""The adapter names the op of a mapper error: "no tile fits the buffers" only when no mapping fits
(:class:`NoMappingFits`), any other mapping error as it was raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SimulationError
from accelerator.spec import load_arch
from models.workload.files import load
from simulator.bench.nest import _clear_all
from simulator.cost.nest.mapping import NoMappingFits
from simulator.cost.nest.search import Mapper
from simulator.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[5]


@pytest.mark.parametrize(
    "raised, want",
    [
        (NoMappingFits("'conv': no mapping fits x"), r"^op \d+ \(.*\): no tile fits the buffers of edge-os-int8"),
        (SimulationError("no spatial unrolling of the preset"), r"^op \d+ \(.*\): no spatial unrolling of the preset$"),
    ],
)
def test_the_op_is_named_and_the_cause_kept(monkeypatch, raised: SimulationError, want: str) -> None:  # type: ignore[no-untyped-def]
    def fail(*_a, **_k):  # type: ignore[no-untyped-def]
        raise raised

    _clear_all()
    monkeypatch.setattr(Mapper, "best", fail)
    w = load(ROOT / "scenarios" / "workloads" / "tiny-unet.workload.json.gz")
    with pytest.raises(SimulationError, match=want):
        evaluate(w, load_arch(ROOT / "scenarios" / "arch" / "edge-os-int8.yaml"))
    _clear_all()
