"""The CLI: validate exits 2 naming the line; run writes the results.json contract, deterministically."""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tqdm import tqdm

from simulator.cli import PLUGINS, main, missing_extra_error
from simulator.run import run_scenario

ROOT = Path(__file__).resolve().parents[3]
ARCH = ROOT / "scenarios" / "arch"
QUICKSTART_TRACE = ROOT / "scenarios" / "workloads" / "ddpm-cifar10.workload.json.gz"


def _scenario(tmp_path: Path, workload: str) -> Path:
    p = tmp_path / "sc.yaml"
    p.write_text(
        f"name: t\nworkload: {ROOT / 'scenarios/workloads' / workload}\nsteps: 10\n"
        f"designs: [{ARCH / 'edge-os-int8.yaml'}, {ARCH / 'dc-ws-fp16.yaml'}]\ngpus: [h100-sxm]\n"
    )
    return p


def test_validate_accepts_committed_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(ARCH.glob("*.yaml"))] + [str(ROOT / "scenarios/quickstart.yaml")]
    assert main(["validate", *files]) == 0
    assert "ok (arch)" in capsys.readouterr().out


def test_validate_knows_systems_and_system_sweeps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [ROOT / "scenarios/multicore/one-die.yaml", ROOT / "scenarios/sweeps/multicore-cores.yaml"]
    assert main(["validate", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert "one-die.yaml: ok (system)" in out and "multicore-cores.yaml: ok (sweep)" in out
    bad = tmp_path / "sys.yaml"
    bad.write_text(f"name: s\ncores:\n  - name: a\n    arch: {ARCH / 'edge-os-int8.yaml'}\n    count: 0\n")
    assert main(["validate", str(bad)]) == 2
    assert "sys.yaml:5 cores.0.count" in capsys.readouterr().err


def test_validate_rejects_with_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((ARCH / "edge-os-int8.yaml").read_text().replace("  rows: 32", "  rows: many"))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "rows: many" in t)
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "validate", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert f"bad.yaml:{line} compute.rows:" in proc.stderr
    assert "'many'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_errors_are_one_paragraph(tmp_path: Path) -> None:
    p = tmp_path / "sc.yaml"
    p.write_text("name: t\nworkload: nothing.json.gz\ndesigns: [a.yaml]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(p), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "sc.yaml:3 designs.0: no such arch file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_writes_the_contract_and_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = _scenario(tmp_path, "dit-block.layers.yaml")
    assert main(["run", str(sc), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "E vs GPU" in out and "edge-os-int8" in out and "h100-sxm" in out.lower()
    assert main(["run", str(sc), "--out", str(tmp_path / "b")]) == 0
    a = (tmp_path / "a" / "results.json").read_bytes()
    assert a == (tmp_path / "b" / "results.json").read_bytes()
    assert (tmp_path / "a" / "report.html").read_bytes() == (tmp_path / "b" / "report.html").read_bytes()
    doc = json.loads(a)
    assert set(doc) >= {"picojoule_version", "workload", "designs"}
    assert doc["workload"]["steps"] == 10
    kinds = [d["kind"] for d in doc["designs"]]
    assert kinds == ["accelerator", "accelerator", "gpu"]
    for d in doc["designs"]:
        assert set(d) >= {
            "name",
            "kind",
            "latency_s_per_step",
            "latency_s_per_image",
            "energy_j_per_step",
            "energy_j_per_image",
            "energy_breakdown_j",
            "area_mm2",
            "per_op",
        }
        assert d["energy_j_per_image"] == pytest.approx(10 * d["energy_j_per_step"])
        assert d["energy_j_per_image"] == pytest.approx(sum(d["energy_breakdown_j"].values()))
        assert len(d["per_op"]) == 5
        for op in d["per_op"]:
            assert set(op) >= {"index", "name", "kind", "macs", "cycles", "latency_s", "energy_j"}
    assert doc["designs"][2]["area_mm2"] is None
    assert doc["designs"][0]["area_mm2"] > 0
    html = (tmp_path / "a" / "report.html").read_text()
    assert not (tmp_path / "a" / "plotly.min.js").exists() and len(html) > 4_000_000  # plotly.js inlined


def test_quickstart_runs_on_the_committed_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's main job: the committed DDPM CIFAR-10 trace, three designs and the H100."""
    assert main(["run", str(ROOT / "scenarios/quickstart.yaml"), "--out", str(tmp_path / "q")]) == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "q" / "results.json").read_text())
    assert doc["workload"]["model"] == "ddpm-cifar10"
    assert doc["workload"]["steps"] == 50
    names = [d["name"] for d in doc["designs"]]
    assert names[:3] == ["edge-os-int8", "dc-os-int8-sparse", "dc-ws-fp16"]
    gpu = doc["designs"][-1]
    assert gpu["kind"] == "gpu"
    # DDPM CIFAR-10 is ~12.4 GFLOPs a step: the MACs the simulator costs must say so.
    macs = sum(op["macs"] for op in doc["designs"][0]["per_op"])
    assert 5.5e9 < macs < 6.7e9
    for d in doc["designs"][:3]:
        assert 0 < d["energy_j_per_image"] < gpu["energy_j_per_image"]
    assert "random-init" in out or "random" in doc["workload"]["weights"]


def test_decoder_is_added_once_per_image(tmp_path: Path) -> None:
    """SD-1.5: 25 UNet steps + one VAE decode; the decoder's cost is added once, on every line."""
    out = run_scenario(ROOT / "scenarios/sd15.yaml", tmp_path / "sd")
    assert out.doc["workload"]["steps"] == 25
    for d in out.designs:
        dec = d.extras["decoder"]
        assert dec["energy_j"] > 0
        assert d.energy_j_per_image == pytest.approx(25 * d.energy_j_per_step + dec["energy_j"], rel=1e-9)
        assert d.latency_s_per_image == pytest.approx(25 * d.latency_s_per_step + dec["latency_s"], rel=1e-9)


def test_every_documented_command_is_wired() -> None:
    """The README's command table names these; each must parse its --help."""
    for command in ("validate", "run", "trace", "train", "gpu", "calibrate", "rtl", "sweep", "bench", "quality"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0, command


@pytest.mark.parametrize("name", ["simulator.cli", *PLUGINS])
def test_every_command_module_is_a_cli_py_with_one_register_signature(name: str) -> None:
    """Every command lives in its package's cli.py and adds itself the same way (docs/architecture.md)."""
    assert name.endswith(".cli")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        pytest.skip(f"{name} is not installed")
    sig = inspect.signature(module.register)
    assert [str(p.annotation) for p in sig.parameters.values()] == [
        "argparse._SubParsersAction[argparse.ArgumentParser]"
    ]
    assert sig.return_annotation == "None"
    assert not hasattr(module, "main") or name == "simulator.cli"


def test_a_closed_pipe_ends_quietly() -> None:
    """`picojoule trace --summary FILE | head`: no BrokenPipeError traceback, exit code 141 (SIGPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "simulator", "trace", "--summary", str(QUICKSTART_TRACE)],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141


@pytest.mark.parametrize(
    ("argv", "modules", "extras"),
    [
        (["trace", "--model", "tiny-unet", "--out", "{tmp}/t.workload.json.gz"], ["models.trace.tracer"], "trace"),
        (
            ["quality", "--arch", str(ARCH / "quality-int8.yaml"), "--model", "digits-ddpm", "--out", "{tmp}/q.json"],
            [],
            "trace",
        ),
        (["gpu", "measure", "--model", "tiny-unet", "--out", "{tmp}/m.json"], ["models.gpu.harness"], "trace,gpu"),
        (["train", "digits", "--out", "{tmp}/w"], ["models.zoo.digits_train", "models.zoo.retrain"], "trace"),
    ],
    ids=["trace", "quality", "gpu-measure", "train"],
)
def test_a_missing_extra_names_what_to_install(
    argv: list[str],
    modules: list[str],
    extras: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without torch these commands end in one paragraph naming the extra, not a ModuleNotFoundError."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ModuleNotFoundError
    for name in modules:  # imported by earlier tests: import them afresh, as in a new process
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: picojoule {argv[0]} needs torch (the trace extra)")
    assert f"pip install 'picojoule[{extras}]'" in err and "pip install torch==2.13.0" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_missing_module_of_no_extra_stays_a_bug() -> None:
    assert missing_extra_error(ModuleNotFoundError("x", name="models.nope"), "run") is None
    err = missing_extra_error(ModuleNotFoundError("x", name="onnxruntime.capi"), "quality")
    assert err is not None and "onnxruntime (the trace extra)" in str(err)


def test_quality_progress_counts_model_calls_and_leaves_stdout_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two designs with different numerics: reference + 2 calibrations + 2 emulations = 5 runs of 3 calls
    (each spec calibrates itself: models.numerics.session.QualitySession.calibration)."""
    from models.numerics import cli as quality_cli
    from models.numerics.quality_model import EmulatedImages
    from models.numerics.session import QualitySession

    class FakeModel:  # a QualityModel without torch: constant images
        name, data_range, weights = "fake", 2.0, "none"

        def reference(self, n: int, steps: int, seed: int) -> np.ndarray:
            return np.zeros((n, 1, 4, 4), np.float32)

        def calibrate(self, numerics: object, n: int, steps: int, seed: int) -> dict[str, float]:
            return {}

        def emulate(self, numerics: object, amax: object, n: int, steps: int, seed: int) -> EmulatedImages:
            return EmulatedImages(np.full((n, 1, 4, 4), 0.1, np.float32), {})

        def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None:
            return None

        def data_images(self, n: int) -> np.ndarray | None:
            return None

    monkeypatch.setattr(
        quality_cli, "make_session", lambda model, **kw: QualitySession(FakeModel(), kw["images"], kw["steps"], 0, 1)
    )
    bar_out = io.StringIO()
    # A bar that draws into bar_out whatever the command asks (stderr is no terminal under pytest).
    monkeypatch.setattr(
        quality_cli, "tqdm", lambda **kw: tqdm(**{**kw, "file": bar_out, "disable": False, "mininterval": 0})
    )
    argv = ["quality", "--arch", str(ARCH / "quality-int8.yaml"), "--arch", str(ARCH / "quality-int8-mx.yaml")]
    argv += ["--images", "2", "--steps", "3", "--out", str(tmp_path / "q.json")]
    assert main(argv) == 0
    drawn = bar_out.getvalue()
    assert "0/15" in drawn and "15/15" in drawn  # a calibration per design: none can be reused
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("quality-int8 ") and "|" not in out and "call" not in out
    assert json.loads((tmp_path / "q.json").read_text())["designs"][1]["name"] == "quality-int8-mx"


#: Committed YAML under scenarios/ that is not an input of ours, so `validate` cannot know it:
#: the peers' own inputs, kept to regenerate their committed outputs (docs/validation.md).
NOT_OURS = {
    "validation/peers/stream/inputs": "Stream's own architecture and core format (a peer's inputs)",
    "validation/peers/zigzag": "ZigZag's own hardware format (a peer's inputs)",
}


def test_validate_accepts_every_committed_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    root = ROOT / "scenarios"
    files = sorted(p for p in root.rglob("*.y*ml") if not any(p.is_relative_to(root / folder) for folder in NOT_OURS))
    assert len(files) >= 50
    assert main(["validate", *map(str, files)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.count(": ok (") == len(files)
    assert f"{root / 'thousandfold.yaml'}: ok (ladder)" in out
    assert f"{root / 'multicore' / 'chiplet-rram.yaml'}: ok (arch)" in out


def test_validate_checks_a_ladder_like_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ladder = (ROOT / "scenarios" / "thousandfold.yaml").read_text()
    for entry in (ROOT / "scenarios").iterdir():  # the ladder's relative paths resolve beside it
        (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "l.yaml").write_text(ladder.replace("gpu: h100-sxm\n", "gpu: h999\n"))
    assert main(["validate", str(tmp_path / "thousandfold.yaml")]) == 0
    assert main(["validate", str(tmp_path / "l.yaml")]) == 2
    line = next(i for i, t in enumerate(ladder.splitlines(), 1) if t.startswith("gpu: "))
    assert f"l.yaml:{line} gpu: unknown GPU 'h999'" in capsys.readouterr().err
