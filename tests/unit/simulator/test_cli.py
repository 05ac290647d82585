"""The CLI: validate exits 2 naming the line; run writes the results.json contract, deterministically."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import PLUGINS, main
from simulator.run import run_scenario

ROOT = Path(__file__).resolve().parents[3]
ARCH = ROOT / "scenarios" / "arch"


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
    assert '<script src="plotly.min.js">' in html and (tmp_path / "a" / "plotly.min.js").stat().st_size > 1_000_000


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
