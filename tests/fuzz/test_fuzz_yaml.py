"""Mutated YAML inputs through ``picojoule validate``: every arch, the layer list, every sweep and
the quick-start scenario, each mutated as a parsed tree, as raw text, and number by number
(``fuzz_support``). An arch or layer list whose numbers changed and that still validates is
also simulated (``picojoule run``), so odd-but-accepted values reach the cost models."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_support import SCENARIOS, budgets, check, fuzz_settings, link_scenarios, run_cli, write
from hypothesis import given, note
from hypothesis import strategies as st
from mutations import dump_yaml, number_mutations, text_mutations, tree_mutations

ARCHES = sorted((SCENARIOS / "arch").glob("*.yaml"))
LAYERS = SCENARIOS / "workloads" / "dit-block.layers.yaml"
SWEEPS = sorted((SCENARIOS / "sweeps").glob("*.yaml"))
SCENARIO = SCENARIOS / "quickstart.yaml"
TINY = SCENARIOS / "workloads" / "tiny-unet.workload.json.gz"
EDGE = SCENARIOS / "arch" / "edge-os-int8.yaml"

#: format -> (committed files, folder of the mutated copy below the work folder)
FORMATS: dict[str, tuple[list[Path], str]] = {
    "arch": (ARCHES, "arch-copy"),
    "layer list": ([LAYERS], "workloads-copy"),
    "sweep": (SWEEPS, "sweeps"),  # sweeps refer to ../arch and ../workloads: the links beside
    "scenario": ([SCENARIO], "."),  # the scenario refers to arch/, workloads/, gpu/
}
_case = itertools.count()


def _validate(
    fmt: str, work: Path, source: Path, data: bytes, mutation: str, suspicious: bool, simulate: bool = False
) -> None:
    note(mutation)
    # a fresh name per case keeps one file per case (the linked folders are never written)
    n = next(_case)
    path = write(work / FORMATS[fmt][1] / f"{n}-{source.name}", data)
    scenario, out = work / f"{n}-simulate.yaml", work / f"out-{n}"
    try:
        outcome = run_cli(["validate", str(path)])
        check(f"{fmt} YAML: validate", outcome, names=[path.name], mutation=mutation, suspicious=suspicious)
        if simulate and outcome.code == 0:
            arch, workload = (path, TINY) if fmt == "arch" else (EDGE, path)
            # an error of the design and workload together (no tile fits) is located by the design's name
            design = str(yaml.safe_load(arch.read_text()).get("name", arch.name))
            scenario.write_text(f"name: fuzz\nworkload: '{workload}'\ndesigns: ['{arch}']\n")
            outputs = [out / "results.json", out / "report.html"]
            ran = run_cli(["run", str(scenario), "--out", str(out)])
            check(f"{fmt} YAML: run", ran, names=[path.name, design], absent_on_error=outputs, mutation=mutation,
                  suspicious=suspicious)  # fmt: skip
    finally:
        path.unlink()
        scenario.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)


def _tree(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("examples", budgets(40))
def test_tree_mutations(fmt: str, examples: int, tmp_path: Path) -> None:
    files = FORMATS[fmt][0]
    work = link_scenarios(tmp_path)

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(files))
        tree, mutation, bad = data.draw(tree_mutations(_tree(source)))
        _validate(fmt, work, source, dump_yaml(tree), f"{source.name}: {mutation}", bad)

    case()


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("examples", budgets(30))
def test_text_mutations(fmt: str, examples: int, tmp_path: Path) -> None:
    files = FORMATS[fmt][0]
    work = link_scenarios(tmp_path)

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(files))
        raw, mutation = data.draw(text_mutations(source.read_text()))
        _validate(fmt, work, source, raw, f"{source.name}: {mutation}", False)

    case()


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("examples", budgets(30))
def test_number_mutations(fmt: str, examples: int, tmp_path: Path) -> None:
    files = FORMATS[fmt][0]
    work = link_scenarios(tmp_path)

    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(files))
        tree, mutation, bad = data.draw(number_mutations(_tree(source)))
        simulate = fmt in ("arch", "layer list")
        _validate(fmt, work, source, dump_yaml(tree), f"{source.name}: {mutation}", bad, simulate)

    case()
