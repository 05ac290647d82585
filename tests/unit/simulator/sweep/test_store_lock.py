"""One sweep driver per output folder (``simulator.sweep.store.exclusive_store``): a second
driver on the same --out is refused at once with exit 2 and leaves the folder as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_support import write_sweep

from simulator.cli import main
from simulator.sweep.store import StoreError, exclusive_store


def test_a_second_driver_on_a_locked_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sweep = write_sweep(tmp_path)
    with exclusive_store(out):  # the first driver, here held by the test
        code = main(["sweep", str(sweep), "--out", str(out), "--executor", "serial", "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(f"error: {out / 'results.sqlite'}: another sweep is running on this store")
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no store, no export


def test_the_lock_is_released_after_a_sweep(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sweep = write_sweep(tmp_path)
    args = ["sweep", str(sweep), "--out", str(out), "--executor", "serial", "--no-progress"]
    assert main(args) == 0
    assert main(args) == 0  # a resume after the first driver ended
    with exclusive_store(out):
        pass


def test_nested_holders_in_one_process_conflict(tmp_path: Path) -> None:
    """flock locks belong to the open folder, not the process: a second open is refused too."""
    with exclusive_store(tmp_path), pytest.raises(StoreError, match="another sweep is running"):
        with exclusive_store(tmp_path):
            pass
