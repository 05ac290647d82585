"""Mutated workload files (``tiny-unet.workload.json.gz``) through ``picojoule trace --summary``
and ``picojoule validate``: the parsed JSON tree, the gzip bytes, and the JSON bytes inside the
gzip. A mutated workload that still validates is also simulated (``picojoule run`` on one
design and the H100), so odd-but-accepted values reach the cost models."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from pathlib import Path

import pytest
from fuzz_support import SCENARIOS, budgets, check, fuzz_settings, run_cli, write
from hypothesis import given, note
from hypothesis import strategies as st
from mutations import byte_mutations, dump_json, number_mutations, tree_mutations

WORKLOAD = SCENARIOS / "workloads" / "tiny-unet.workload.json.gz"
ARCH = SCENARIOS / "arch" / "edge-os-int8.yaml"
_case = itertools.count()


def _check_all(work: Path, data: bytes, mutation: str, bad: bool) -> None:
    note(mutation)
    n = next(_case)
    path = write(work / f"{n}-tiny-unet.workload.json.gz", data)
    scenario = work / f"{n}-scenario.yaml"
    out = work / f"out-{n}"
    try:
        summary = run_cli(["trace", "--summary", str(path)])
        check("workload: trace --summary", summary, names=[path.name], mutation=mutation, suspicious=bad)
        validated = run_cli(["validate", str(path)])
        check("workload: validate", validated, names=[path.name], mutation=mutation, suspicious=bad)
        assert summary.code == validated.code, (
            f"trace --summary exit {summary.code} but validate exit {validated.code}: {mutation}\n"
            f"{summary.stderr[:500]}{validated.stderr[:500]}"
        )
        if validated.code == 0:
            scenario.write_text(f"name: fuzz\nworkload: {path.name}\ndesigns: ['{ARCH}']\ngpus: [h100-sxm]\n")
            outcome = run_cli(["run", str(scenario), "--out", str(out)])
            outputs = [out / "results.json", out / "report.html"]
            check("workload: run", outcome, names=[path.name, scenario.name], absent_on_error=outputs,
                  mutation=mutation, suspicious=bad)  # fmt: skip
    finally:
        path.unlink()
        scenario.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("examples", budgets(40))
def test_tree_mutations(examples: int, tmp_path: Path) -> None:
    tree = json.loads(gzip.decompress(WORKLOAD.read_bytes()))

    @fuzz_settings(examples)
    @given(mutated=tree_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _check_all(tmp_path, gzip.compress(dump_json(data), mtime=0), mutation, bad)

    case()


@pytest.mark.parametrize("examples", budgets(30))
def test_byte_mutations(examples: int, tmp_path: Path) -> None:
    packed = WORKLOAD.read_bytes()
    text = gzip.decompress(packed)

    @fuzz_settings(examples)
    @given(inside=st.booleans(), data=st.data())
    def case(inside: bool, data: st.DataObject) -> None:
        if inside:  # the JSON damaged, the gzip around it intact
            raw, mutation = data.draw(byte_mutations(text))
            _check_all(tmp_path, gzip.compress(raw, mtime=0), f"JSON bytes: {mutation}", False)
        else:
            raw, mutation = data.draw(byte_mutations(packed))
            _check_all(tmp_path, raw, f"gzip bytes: {mutation}", False)

    case()


@pytest.mark.parametrize("examples", budgets(30))
def test_number_mutations(examples: int, tmp_path: Path) -> None:
    tree = json.loads(gzip.decompress(WORKLOAD.read_bytes()))

    @fuzz_settings(examples)
    @given(mutated=number_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _check_all(tmp_path, gzip.compress(dump_json(data), mtime=0), mutation, bad)

    case()
