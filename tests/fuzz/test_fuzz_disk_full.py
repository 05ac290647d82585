"""A full disk under --out: a small tmpfs mounted for the test (root only; skipped with the reason
elsewhere). Every command must exit 2 with a clean message and leave the previous outputs as
they were, with no temporary files behind."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fuzz_support import SCENARIOS, check, link_scenarios, run_cli
from sweep_support import write_sweep

MEASUREMENT = SCENARIOS / "gpu" / "h100-sxm-2026-11-27" / "run1" / "microbench-b1-bf16.json.gz"
FS_BYTES = 8 << 20
"""Size of the mounted file system: room for old results (results.json is about 1.7 MB), not
for a report (about 5 MB)."""


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A :data:`FS_BYTES` tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES}", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(fs: Path, leave: int = 0) -> None:
    """Fill ``fs`` until ``leave`` bytes are free (0: until a write fails with ENOSPC)."""
    st = os.statvfs(fs)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with (fs / "filler").open("wb") as f:
        try:
            for _ in range(size // 65536 + 1):
                f.write(bytes(min(65536, size)))
                size -= 65536
                if size <= 0:
                    break
            f.flush()
            os.fsync(f.fileno())
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


@pytest.fixture(scope="module")
def old_results(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """results.json of an earlier run of the quick start with other steps (other bytes)."""
    work = link_scenarios(tmp_path_factory.mktemp("old"))
    scenario = yaml.safe_load((SCENARIOS / "quickstart.yaml").read_text()) | {"steps": 10}
    (work / "old.yaml").write_text(yaml.safe_dump(scenario))
    done = run_cli(["run", str(work / "old.yaml"), "--out", str(work / "out")])
    assert done.code == 0, done.stderr
    return (work / "out" / "results.json").read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp")


def _run_full(fs: Path, old: bytes, leave: int) -> tuple[Path, str]:
    out = fs / "out"
    out.mkdir()
    (out / "results.json").write_bytes(old)
    _fill(fs, leave)
    outcome = run_cli(["run", str(SCENARIOS / "quickstart.yaml"), "--out", str(out)])
    check("disk full: run", outcome, names=[str(out)], mutation=f"{leave} bytes left free")
    assert outcome.code == 2, f"exit {outcome.code} on a full disk"
    assert "no space left" in outcome.stderr, outcome.stderr
    assert not _leftovers(out), f"temporary files left behind: {_leftovers(out)}"
    return out, outcome.stderr


def test_run_no_room(small_fs: Path, old_results: bytes) -> None:
    out, _ = _run_full(small_fs, old_results, leave=0)
    assert (out / "results.json").read_bytes() == old_results, "the previous results.json changed"
    assert not (out / "report.html").exists()


def test_run_room_for_results_only(small_fs: Path, old_results: bytes) -> None:
    out, _ = _run_full(small_fs, old_results, leave=len(old_results) + (1 << 20))
    assert (out / "results.json").read_bytes() == old_results, "exit 2, yet results.json was replaced"


def test_sweep_full(small_fs: Path, tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    out = small_fs / "sweep"
    _fill(small_fs, leave=256 << 10)  # the store fits, the report does not
    outcome = run_cli(["sweep", str(sweep), "--out", str(out), "--executor", "serial", "--no-progress"])
    check("disk full: sweep", outcome, names=[str(out)], mutation="256 KiB left free")
    assert outcome.code == 2 and ("no space left" in outcome.stderr or "disk is full" in outcome.stderr), outcome.stderr
    assert not (out / "report.html").exists()


def test_calibrate_full(small_fs: Path) -> None:
    out = small_fs / "calibration.json"
    out.write_text("{}\n")
    _fill(small_fs)
    outcome = run_cli(["calibrate", str(MEASUREMENT), "--out", str(out)])
    check("disk full: calibrate", outcome, names=[str(out)], mutation="no room")
    assert outcome.code == 2 and "no space left" in outcome.stderr, outcome.stderr
    assert out.read_text() == "{}\n", "the previous calibration changed"
    assert not _leftovers(small_fs), _leftovers(small_fs)


def test_trace_summary_unaffected(small_fs: Path) -> None:
    """Reading needs no room: ``trace --summary`` of a workload on a full disk still works."""
    workload = shutil.copy(SCENARIOS / "workloads" / "tiny-unet.workload.json.gz", small_fs)
    _fill(small_fs)
    outcome = run_cli(["trace", "--summary", str(workload)])
    check("disk full: trace --summary", outcome, names=[str(workload)], mutation="no room")
    assert outcome.code == 0, outcome.stderr
