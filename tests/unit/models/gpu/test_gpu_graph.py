"""Graph mode's bookkeeping on the CPU (models.gpu.graph), with a fake graph backend.

:class:`FakeGraph` does what a CUDA graph does to memory: ``capture`` runs the function once
and keeps its output tensors as the static outputs; ``replay`` runs it again on the static
inputs and writes the results into those same tensors. The real backend is tested on CUDA in
test_gpu_cuda_modes.py (marked ``gpu``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the measurement harness needs torch (trace extra)")
pytest.importorskip("diffusers", reason="the built-in models need diffusers (trace extra)")

from torch.utils._pytree import tree_flatten  # noqa: E402

from models.gpu.graph import graphed  # noqa: E402
from models.gpu.harness import measure, measure_modes  # noqa: E402
from models.gpu.measurement import MeasurementError, load_measurement  # noqa: E402
from models.gpu.targets import Target, build_target  # noqa: E402


def _tensors(out: Any) -> list[torch.Tensor]:
    return [x for x in tree_flatten(out)[0] if isinstance(x, torch.Tensor)]


class FakeGraph:
    """Capture = run once and keep the outputs; replay = rerun, write into those outputs."""

    warmup_calls = 2

    def __init__(self) -> None:
        self.fn: Callable[[], Any] | None = None
        self.static: list[torch.Tensor] = []
        self.captures = 0
        self.replays = 0

    def capture(self, fn: Callable[[], Any]) -> Any:
        self.fn, self.captures = fn, self.captures + 1
        out = fn()
        self.static = _tensors(out)
        return out

    def replay(self) -> None:
        assert self.fn is not None
        self.replays += 1
        for s, new in zip(self.static, _tensors(self.fn()), strict=True):
            s.copy_(new)


def _tiny(name: str, steps: int = 3) -> Target:
    return build_target(name, "cpu", torch.float32, batch=2, steps=steps, tiny=True, source="builtin")


@pytest.mark.trace
@pytest.mark.parametrize("name", ["ddpm-cifar10", "dit-s-2", "sd15-unet"])
def test_graphed_loop_is_the_eager_loop(name: str) -> None:
    """Copy-in, replay, copy-out reproduces the eager sampler bit for bit; one replay per step."""
    target = _tiny(name)
    fake = FakeGraph()
    with torch.no_grad():
        eager = target.sample()
        step_eager = target.step()
        with graphed(target, fake) as g:
            assert g.stats.captured == "forward" and fake.captures == 1
            assert "forward" not in target.module.__dict__  # patched only inside sample()
            looped = g.sample()
            assert g.stats.replays == 3 and g.stats.eager_calls == 0
            assert torch.equal(looped, eager)
            step = _tensors(g.step())[0]
            assert g.stats.replays == 4 and fake.replays == 4
            ref = _tensors(step_eager)[0]  # DiT's step keeps the first 4 of the model's 8 channels
            assert torch.equal(step[:, : ref.shape[1]], ref)  # the step's inputs, not the loop's last
            assert g.per_sample() == {"replays": 3, "eager_calls": 0}
    assert "forward" not in target.module.__dict__  # the class's forward again


@pytest.mark.trace
def test_one_call_target_captures_the_step() -> None:
    target = _tiny("sd-vae-decoder")  # decode(), not forward(): the step closure is the graph
    with torch.no_grad():
        eager = target.step()
        with graphed(target, FakeGraph()) as g:
            assert g.stats.captured == "step"
            assert torch.equal(g.sample(), eager) and g.stats.replays == 1


class _Toy(torch.nn.Module):
    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        return x * 2 * gain


def _toy_target(sample_calls: list[tuple[Any, ...]]) -> tuple[Target, _Toy]:
    toy = _Toy()
    x = torch.ones(2, 3)

    def sample() -> list[torch.Tensor]:
        return [toy(*args) for args in sample_calls]

    return Target("toy", toy, lambda: toy(x), sample, len(sample_calls), 1), toy


def test_calls_unlike_the_captured_one_run_eagerly() -> None:
    calls = [(torch.full((2, 3), 3.0),), (torch.ones(4, 3),), (torch.ones(2, 3), 0.5), (torch.ones(2, 3).double(),)]
    target, _ = _toy_target(calls)
    with torch.no_grad(), graphed(target, FakeGraph()) as g:
        outs = g.sample()
        assert (g.stats.replays, g.stats.eager_calls) == (1, 3)  # shape, argument, dtype differ
        assert [float(o[0, 0]) for o in outs] == [6.0, 2.0, 1.0, 2.0]
        first = outs[0]
        g.sample()
        assert float(first[0, 0]) == 6.0  # outputs are copies, not the static buffers


def test_a_step_of_several_model_calls_cannot_be_graphed() -> None:
    toy = _Toy()
    x = torch.ones(2)
    target = Target("twice", toy, lambda: toy(toy(x)), lambda: toy(x), 1, 1)
    with pytest.raises(MeasurementError, match="makes 2 forward calls"):
        with graphed(target, FakeGraph()):
            pass
    assert "forward" not in toy.__dict__


def test_graph_mode_on_the_cpu_is_a_clear_error() -> None:
    with pytest.raises(MeasurementError, match="--mode graph needs --device cuda"):
        measure("ddpm-cifar10", "cpu", None, mode="graph", tiny=True)
    with pytest.raises(MeasurementError, match="mode must be one of"):
        measure("ddpm-cifar10", "cpu", None, mode="compile", tiny=True)


def test_cli_graph_on_the_cpu_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    out = tmp_path / "m.json"
    code = main(["gpu", "measure", "--model", "ddpm-cifar10", "--device", "cpu", "--mode", "graph",
                 "--out", str(out), "--tiny"])  # fmt: skip
    assert code == 2 and not out.exists()
    assert "--mode graph needs --device cuda" in capsys.readouterr().err


def _tiny_ddpm_modes(outs: Mapping[str, Path | None], backend: Callable[[], Any]) -> dict[str, Any]:
    """measure_modes on the tiny built-in DDPM on the CPU, quick settings, the given graph backend."""
    return measure_modes(
        "ddpm-cifar10", "cpu", outs, steps=2, dtype="fp32", tiny=True, repeat_seconds=0.1, min_time_s=0.05,
        idle_seconds=0.0, op_repeats=1, source="builtin", graph_backend=backend,
    )  # fmt: skip


@pytest.mark.trace
def test_measure_modes_with_a_fake_graph(tmp_path: Path) -> None:
    """One build, eager and graph files; graph latencies, counts and notes recorded."""
    outs = {"eager": tmp_path / "e.json", "graph": tmp_path / "g.json.gz"}
    docs = _tiny_ddpm_modes(outs, FakeGraph)
    e, g = load_measurement(outs["eager"]), load_measurement(outs["graph"])
    assert (e["settings"]["mode"], g["settings"]["mode"]) == ("eager", "graph")
    assert "graph" not in e and g["graph"]["captured"] == "forward"
    assert g["graph"]["replays_per_sample"] == 2 and g["graph"]["eager_calls_per_sample"] == 0
    assert g["graph"]["warmup_calls"] == FakeGraph.warmup_calls
    assert g["workload"] == e["workload"] and g["per_op"] == e["per_op"]  # one eager profile
    assert any("eager profiled step" in n for n in g["notes"])
    assert not any("graph mode" in n for n in e["notes"])
    assert g["latency"]["sample"]["n"] >= 2 and g["latency"]["s_per_step"] > 0
    assert docs["graph"]["latency"] == g["latency"]


@pytest.mark.trace
def test_measure_graph_fp8_cli_path(tmp_path: Path) -> None:
    """measure(mode=graph, dtype=fp8) end to end on the CPU: fp8 counts and _scaled_mm GEMMs."""
    doc = measure(
        "sd15-unet", "cpu", tmp_path / "m.json", mode="graph", steps=2, dtype="fp8", tiny=True,
        repeat_seconds=0.1, min_time_s=0.05, idle_seconds=0.0, op_repeats=1, source="builtin",
        graph_backend=FakeGraph,
    )  # fmt: skip
    assert doc["settings"]["dtype"] == "fp8" and doc["fp8"]["linear_fp8"] == 50
    ops = doc["workload"]["ops"]
    mms = [o for o in ops if o["name"] == "aten._scaled_mm.default"]
    assert len(mms) == 63  # 50 linear + 13 1x1 conv layers, one call each
    for o in mms:
        (m, k), (_, n) = o["input_shapes"][0], o["input_shapes"][1]
        assert o["kind"] == "gemm" and o["macs"] == m * n * k and o["weight_is_param"]
    casts = [o for o in ops if o["dtype"] == "float8_e4m3fn"]
    assert len(casts) == 63 and {o["kind"] for o in casts} == {"elementwise"}


@pytest.mark.trace
def test_measure_all_tiny_cpu(tmp_path: Path) -> None:
    from models.gpu.measure_all import main

    code = main(["--device", "cpu", "--tiny", "--out", str(tmp_path), "--only", "ddpm-cifar10", "--also-fp8"])
    assert code == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert names == ["ddpm-cifar10-b1-bf16-eager.json", "ddpm-cifar10-b1-fp8-eager.json",
                     "ddpm-cifar10-b16-bf16-eager.json", "ddpm-cifar10-b16-fp8-eager.json"]  # fmt: skip
    log = (tmp_path / "log.txt").read_text()
    assert "plan: 4 entries" in log and "graph mode skipped" in log
    assert main(["--device", "cpu", "--tiny", "--out", str(tmp_path / "none"), "--max-minutes", "0"]) == 1
    assert "SKIPPED" in (tmp_path / "none" / "log.txt").read_text()
    assert main(["--device", "cpu", "--tiny", "--out", str(tmp_path), "--mode", "graph"]) == 2
    assert main(["--device", "cpu", "--tiny", "--out", str(tmp_path / "t"), "--only", "terrain"]) == 1
    assert "terrain: no tiny variant" in (tmp_path / "t" / "log.txt").read_text()


def test_measure_all_estimate_fits_the_budget() -> None:
    """The default H100 plan stays under ~7 minutes by the harness's own estimate."""
    from models.gpu.measure_all import STARTUP_S, _jobs, estimate_s

    args = argparse.Namespace(mode="both", device="cuda", dtype="bf16", only=None, also_fp8=True)
    jobs = _jobs(args)
    assert [(j[0], j[1], j[4], tuple(j[5])) for j in jobs][-3:] == [
        ("ddpm-cifar10", 1, "fp8", ("graph",)), ("ddpm-cifar10", 16, "fp8", ("graph",)),
        ("sd15-unet", 1, "fp8", ("graph",)),
    ]  # fmt: skip
    total_s = STARTUP_S + sum(estimate_s(m, b, modes, 3.0) for m, b, _, _, _, modes in jobs)
    assert 4 * 60 < total_s < 7 * 60


class BrokenGraph(FakeGraph):
    """A forward that cannot be captured (a host sync inside it, on a real GPU)."""

    def capture(self, fn: Callable[[], Any]) -> Any:
        raise RuntimeError("operation not permitted when stream is capturing")


@pytest.mark.trace
def test_a_failed_capture_keeps_the_eager_file(tmp_path: Path) -> None:
    outs = {"eager": tmp_path / "e.json", "graph": tmp_path / "g.json"}
    docs = _tiny_ddpm_modes(outs, BrokenGraph)
    assert set(docs) == {"eager"} and not outs["graph"].exists()
    notes = load_measurement(outs["eager"])["notes"]
    assert any(n.startswith("graph mode FAILED") and "stream is capturing" in n for n in notes)
    with pytest.raises(RuntimeError, match="stream is capturing"):  # alone, graph mode still fails loudly
        _tiny_ddpm_modes({"graph": None}, BrokenGraph)
