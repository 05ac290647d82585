"""Mutated GPU inputs given directly: the built-in GPU spec YAML (``accelerator/gpus/*.yaml``)
through ``picojoule validate`` and, as a scenario's ``gpus: [path.yaml]``, through ``picojoule
run``; and the committed calibration (``scenarios/gpu/h100-sxm-calibration.json``) as a
scenario's ``gpu_calibration`` through ``validate`` and ``run`` (exit 2 must name the file).
The scenario runs the tiny layer list of ``sweep_support`` on the edge design, so a case takes
a few tens of milliseconds."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_support import ROOT, SCENARIOS, budgets, check, fuzz_settings, run_cli, write
from hypothesis import given, note
from hypothesis import strategies as st
from mutations import byte_mutations, dump_json, dump_yaml, number_mutations, text_mutations, tree_mutations
from sweep_support import EDGE_ARCH, TINY_LAYERS

GPUS = sorted((ROOT / "accelerator" / "gpus").glob("*.yaml"))
CALIBRATION = SCENARIOS / "gpu" / "h100-sxm-calibration.json"
OUTPUTS = ("results.json", "report.html")
_case = itertools.count()


def _scenario(work: Path, n: int, gpu: Path | str, calibration: Path | None) -> Path:
    (work / "tiny.layers.yaml").write_text(TINY_LAYERS)
    lines = ["name: fuzz-gpu", "workload: tiny.layers.yaml", f"designs: ['{EDGE_ARCH}']", f"gpus: ['{gpu}']"]
    lines += [f"gpu_calibration: '{calibration}'"] if calibration is not None else []
    return write(work / f"{n}-scenario.yaml", ("\n".join(lines) + "\n").encode())


def _run(fmt: str, scenario: Path, names: list[str], mutation: str, bad: bool) -> None:
    out = scenario.parent / f"out-{scenario.stem}"
    outputs = [out / name for name in OUTPUTS]
    try:
        ran = run_cli(["run", str(scenario), "--out", str(out)])
        check(fmt, ran, names=names, absent_on_error=outputs, mutation=mutation, suspicious=bad)
        if ran.code == 0:
            assert all(p.is_file() for p in outputs), f"exit 0 without {OUTPUTS} in {out}"
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _gpu_case(work: Path, source: Path, data: bytes, mutation: str, bad: bool, simulate: bool) -> None:
    note(mutation)
    n = next(_case)
    path = write(work / "gpus" / f"{n}-{source.name}", data)
    scenario = _scenario(work, n, path, None)
    try:
        outcome = run_cli(["validate", str(path)])
        check("GPU spec YAML: validate", outcome, names=[path.name], mutation=mutation, suspicious=bad)
        if simulate:
            _run("GPU spec YAML: run", scenario, [path.name], mutation, bad)
    finally:
        path.unlink()
        scenario.unlink()


def _gpu_tree(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("examples", budgets(25))
def test_gpu_tree_mutations(examples: int, tmp_path: Path) -> None:
    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(GPUS))
        tree, mutation, bad = data.draw(tree_mutations(_gpu_tree(source)))
        _gpu_case(tmp_path, source, dump_yaml(tree), f"{source.name}: {mutation}", bad, simulate=False)

    case()


@pytest.mark.parametrize("examples", budgets(15))
def test_gpu_text_mutations(examples: int, tmp_path: Path) -> None:
    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(GPUS))
        raw, mutation = data.draw(text_mutations(source.read_text()))
        _gpu_case(tmp_path, source, raw, f"{source.name}: {mutation}", False, simulate=False)

    case()


@pytest.mark.parametrize("examples", budgets(20))
def test_gpu_number_mutations_run(examples: int, tmp_path: Path) -> None:
    """Numbers changed (mostly still valid): validate, then run a scenario that names the file."""

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(GPUS))
        tree, mutation, bad = data.draw(number_mutations(_gpu_tree(source)))
        _gpu_case(tmp_path, source, dump_yaml(tree), f"{source.name}: {mutation}", bad, simulate=True)

    case()


def _calibration_case(work: Path, data: bytes, mutation: str, bad: bool) -> None:
    note(mutation)
    n = next(_case)
    path = write(work / f"{n}-{CALIBRATION.name}", data)
    scenario = _scenario(work, n, "h100-sxm", path)
    try:
        outcome = run_cli(["validate", str(scenario)])
        check("calibration JSON: validate", outcome, names=[path.name], mutation=mutation, suspicious=bad)
        _run("calibration JSON: run", scenario, [path.name], mutation, bad)
    finally:
        path.unlink()
        scenario.unlink()


@pytest.mark.parametrize("examples", budgets(25))
def test_calibration_tree_mutations(examples: int, tmp_path: Path) -> None:
    tree = json.loads(CALIBRATION.read_text())

    @fuzz_settings(examples)
    @given(mutated=tree_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _calibration_case(tmp_path, dump_json(data), mutation, bad)

    case()


@pytest.mark.parametrize("examples", budgets(15))
def test_calibration_number_mutations(examples: int, tmp_path: Path) -> None:
    tree = json.loads(CALIBRATION.read_text())

    @fuzz_settings(examples)
    @given(mutated=number_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _calibration_case(tmp_path, dump_json(data), mutation, bad)

    case()


@pytest.mark.parametrize("examples", budgets(10))
def test_calibration_byte_mutations(examples: int, tmp_path: Path) -> None:
    raw = CALIBRATION.read_bytes()

    @fuzz_settings(examples)
    @given(mutated=byte_mutations(raw))
    def case(mutated: tuple[bytes, str]) -> None:
        _calibration_case(tmp_path, *mutated, False)

    case()
