"""Mutated inputs through the commands that write results: ``picojoule run`` on the quick-start
scenario and ``picojoule sweep`` on a tiny sweep. After exit 2 no result may be left in --out;
after exit 0 every result must be there."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
import yaml
from fuzz_support import SCENARIOS, budgets, check, fuzz_settings, link_scenarios, run_cli, write
from hypothesis import given, note
from mutations import dump_yaml, text_mutations, tree_mutations
from sweep_support import write_sweep

SCENARIO = SCENARIOS / "quickstart.yaml"
RUN_OUTPUTS = ("results.json", "report.html")
SWEEP_OUTPUTS = ("results.sqlite", "results.csv", "pareto.csv", "report.html")
_case = itertools.count()


def _run(work: Path, data: bytes, mutation: str, suspicious: bool) -> None:
    note(mutation)
    n = next(_case)
    scenario = write(work / f"{n}-quickstart.yaml", data)
    out = work / f"out-{n}"
    try:
        outcome = run_cli(["run", str(scenario), "--out", str(out)])
        outputs = [out / name for name in RUN_OUTPUTS]
        check("scenario YAML: run", outcome, names=[scenario.name], absent_on_error=outputs, mutation=mutation,
              suspicious=suspicious)  # fmt: skip
        if outcome.code == 0:
            assert all(p.is_file() for p in outputs), f"exit 0 without {RUN_OUTPUTS} in {out}"
    finally:
        scenario.unlink()
        shutil.rmtree(out, ignore_errors=True)  # a report is 5 MB: keep one at a time


@pytest.mark.parametrize("examples", budgets(12))
def test_run_tree_mutations(examples: int, tmp_path: Path) -> None:
    work = link_scenarios(tmp_path)
    tree = yaml.safe_load(SCENARIO.read_text())

    @fuzz_settings(examples)
    @given(mutated=tree_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _run(work, dump_yaml(data), mutation, bad)

    case()


@pytest.mark.parametrize("examples", budgets(8))
def test_run_text_mutations(examples: int, tmp_path: Path) -> None:
    work = link_scenarios(tmp_path)

    @fuzz_settings(examples)
    @given(mutated=text_mutations(SCENARIO.read_text()))
    def case(mutated: tuple[bytes, str]) -> None:
        _run(work, *mutated, False)

    case()


@pytest.mark.parametrize("examples", budgets(20))
def test_sweep_tree_mutations(examples: int, tmp_path: Path) -> None:
    """A tiny sweep (12 points on a 3-layer list, ``sweep_support``), mutated, run serially."""
    source = write_sweep(tmp_path)
    tree = yaml.safe_load(source.read_text())

    @fuzz_settings(examples)
    @given(mutated=tree_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        note(mutation)
        n = next(_case)
        sweep = write(tmp_path / f"{n}-sweep.yaml", dump_yaml(data))
        out = tmp_path / f"sweep-out-{n}"
        try:
            outcome = run_cli(["sweep", str(sweep), "--out", str(out), "--executor", "serial", "--no-progress"])
            outputs = [out / name for name in SWEEP_OUTPUTS]
            check("sweep YAML: sweep (run)", outcome, names=[sweep.name], absent_on_error=outputs,
                  mutation=mutation, suspicious=bad)  # fmt: skip
            if outcome.code == 0:
                assert all(p.is_file() for p in outputs), f"exit 0 without {SWEEP_OUTPUTS} in {out}"
        finally:
            sweep.unlink()
            shutil.rmtree(out, ignore_errors=True)

    case()
