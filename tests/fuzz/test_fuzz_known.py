"""One reproducer for each failure the fuzz suite found, kept as a regression test once fixed
(all seven found on 2026-12-05 are). A new finding is added here as a strict xfail with an
entry in ``fuzz_support.KNOWN_BUGS`` until its fix lands. The bounds of time and memory are
checked in ``test_fuzz_limits.py``, a full disk in ``test_fuzz_disk_full.py``."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pytest
import yaml
from fuzz_support import SCENARIOS, Outcome, link_scenarios, run_cli
from sweep_support import write_sweep

LONG = "x" * 5000
MEASUREMENT = SCENARIOS / "gpu" / "h100-sxm-2026-11-27" / "run1" / "microbench-b1-bf16.json.gz"


def _clean_error(outcome: Outcome) -> None:
    assert not outcome.escaped, outcome.escaped[-2000:]
    assert outcome.code == 2, f"exit {outcome.code}: {outcome.stderr[-2000:]}"
    assert outcome.stderr.startswith("error:") and "Traceback" not in outcome.stderr


def _scenario(tmp_path: Path, **change: object) -> Path:
    work = link_scenarios(tmp_path)
    tree = yaml.safe_load((SCENARIOS / "quickstart.yaml").read_text()) | change
    path = work / "s.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.parametrize("field", ["workload", "decoder", "gpu_calibration"])
def test_scenario_path_too_long(field: str, tmp_path: Path) -> None:
    _clean_error(run_cli(["validate", str(_scenario(tmp_path, **{field: LONG}))]))


def test_design_path_too_long(tmp_path: Path) -> None:
    _clean_error(run_cli(["validate", str(_scenario(tmp_path, designs=[LONG]))]))


def test_sweep_base_too_long(tmp_path: Path) -> None:
    sweep = yaml.safe_load((SCENARIOS / "sweeps" / "edge-array.yaml").read_text()) | {"base": LONG}
    path = link_scenarios(tmp_path) / "sweeps" / "s.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(sweep))
    _clean_error(run_cli(["validate", str(path)]))


@pytest.mark.parametrize("command", ["run", "calibrate"])
def test_out_too_long(command: str, tmp_path: Path) -> None:
    source = SCENARIOS / "quickstart.yaml" if command == "run" else MEASUREMENT
    _clean_error(run_cli([command, str(source), "--out", str(tmp_path / LONG)]))


def test_measurement_bad_gzip(tmp_path: Path) -> None:
    raw = bytearray(MEASUREMENT.read_bytes())
    raw[3:11] = bytes(8)  # the gzip header's flags and time: the deflate stream now misreads
    path = tmp_path / MEASUREMENT.name
    path.write_bytes(bytes(raw))
    with pytest.raises(Exception):  # noqa: B017  (the reproducer: gzip itself refuses it)
        gzip.decompress(bytes(raw))
    _clean_error(run_cli(["calibrate", str(path), "--out", str(tmp_path / "c.json")]))


STORE_ROW_BUG = (
    "a store row's unreadable columns escape simulator/sweep/store.py _record (JSONDecodeError, "
    "AttributeError) or simulator/sweep/export.py (ValueError)"
)


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE results SET metrics = '{' WHERE rowid = 3",
        "UPDATE results SET params = 'not json' WHERE rowid = 3",
        "UPDATE results SET metrics = '[1, 2]' WHERE rowid = 3",
        "UPDATE results SET eval_s = 'fast' WHERE rowid = 3",
    ],
)
def test_store_bad_row(edit: str, tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    out = tmp_path / "out"
    argv = ["sweep", str(sweep), "--out", str(out), "--executor", "serial", "--no-progress"]
    assert run_cli(argv).code == 0
    with sqlite3.connect(out / "results.sqlite") as db:
        db.execute(edit)
    db.close()
    _clean_error(run_cli(argv))


def test_unknown_gpu(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, gpus=["no-such-gpu"])
    outcome = run_cli(["validate", str(scenario)])
    _clean_error(outcome)
    assert "s.yaml" in outcome.stderr
