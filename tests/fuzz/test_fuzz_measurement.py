"""Mutated GPU measurement files (``picojoule gpu measure`` output, the committed H100 runs)
through ``picojoule calibrate``: the parsed JSON tree and the gzip bytes. After exit 2 no
calibration file may be written."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from fuzz_support import SCENARIOS, budgets, check, fuzz_settings, run_cli, write
from hypothesis import given, note
from hypothesis import strategies as st
from mutations import byte_mutations, dump_json, number_mutations, tree_mutations

#: The smallest committed run (81 ops): calibrating it takes about 0.2 s.
MEASUREMENT = SCENARIOS / "gpu" / "h100-sxm-2026-11-27" / "run1" / "microbench-b1-bf16.json.gz"
_case = itertools.count()


def _calibrate(work: Path, data: bytes, mutation: str, bad: bool) -> None:
    note(mutation)
    n = next(_case)
    path = write(work / f"{n}-{MEASUREMENT.name}", data)
    out = work / f"{n}-calibration.json"
    try:
        outcome = run_cli(["calibrate", str(path), "--out", str(out)])
        # a fit that fails names the measurement by its key (measured.microbench), not by its file
        names = [path.name, "measured.microbench"]
        check("GPU measurement: calibrate", outcome, names=names, absent_on_error=[out], mutation=mutation,
              suspicious=bad)  # fmt: skip
        if outcome.code == 0:
            assert out.is_file(), f"exit 0 without {out}"
    finally:
        path.unlink()
        out.unlink(missing_ok=True)


@pytest.mark.parametrize("examples", budgets(30))
def test_tree_mutations(examples: int, tmp_path: Path) -> None:
    tree = json.loads(gzip.decompress(MEASUREMENT.read_bytes()))

    @fuzz_settings(examples)
    @given(mutated=tree_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _calibrate(tmp_path, gzip.compress(dump_json(data), mtime=0), mutation, bad)

    case()


@pytest.mark.parametrize("examples", budgets(20))
def test_byte_mutations(examples: int, tmp_path: Path) -> None:
    packed = MEASUREMENT.read_bytes()
    text = gzip.decompress(packed)

    @fuzz_settings(examples)
    @given(inside=st.booleans(), data=st.data())
    def case(inside: bool, data: st.DataObject) -> None:
        if inside:
            raw, mutation = data.draw(byte_mutations(text))
            _calibrate(tmp_path, gzip.compress(raw, mtime=0), f"JSON bytes: {mutation}", False)
        else:
            raw, mutation = data.draw(byte_mutations(packed))
            _calibrate(tmp_path, raw, f"gzip bytes: {mutation}", False)

    case()


@pytest.mark.parametrize("examples", budgets(30))
def test_number_mutations(examples: int, tmp_path: Path) -> None:
    tree = json.loads(gzip.decompress(MEASUREMENT.read_bytes()))

    @fuzz_settings(examples)
    @given(mutated=number_mutations(tree))
    def case(mutated: tuple[object, str, bool]) -> None:
        data, mutation, bad = mutated
        _calibrate(tmp_path, gzip.compress(dump_json(data), mtime=0), mutation, bad)

    case()
