"""Inputs built to exhaust memory or time, each run in a child process under an address-space
limit (:data:`MEMORY_BYTES`, ``RLIMIT_AS``) and a wall-time limit (:data:`SECONDS`): alias bombs,
deep nesting, oversize files, gzip bombs, huge integers, endless and blocking files. Each must
end with exit 2 and a located one-paragraph message, not a MemoryError, a traceback or a hang."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fuzz_support import COUNTS, SCENARIOS

MEMORY_BYTES = 1 << 30
"""Address space a case may use (1 GiB); ``picojoule run`` on the quick start needs about half."""
SECONDS = 30.0
"""Wall time a case may take, interpreter start included."""
CHILD = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_BYTES}, {MEMORY_BYTES}))
from simulator.cli import main
sys.exit(main(sys.argv[1:]))
"""
MEASUREMENT = SCENARIOS / "gpu" / "h100-sxm-2026-11-27" / "run1" / "microbench-b1-bf16.json.gz"


def _gzip_spaces(path: Path, mib: int) -> None:
    """``mib`` MiB of JSON whitespace, gzipped (about 4.5 KB per MiB)."""
    chunk = b" " * (1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as f:
        for _ in range(mib):
            f.write(chunk)


def _alias_bomb(path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path.write_text("\n".join(lines) + "\ncompute: *a9\nmemory: {}\n")


def _bomb_scenario(folder: Path) -> None:
    """A scenario whose workload is a 1 GiB gzip bomb."""
    _gzip_spaces(folder / "bomb.workload.json.gz", 1024)
    arch = SCENARIOS / "arch" / "edge-os-int8.yaml"
    (folder / "s.yaml").write_text(f"name: limits\nworkload: bomb.workload.json.gz\ndesigns: ['{arch}']\n")


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], object]  # writes the input into the folder it is given
    argv: tuple[str, ...]  # {d} is that folder
    names: tuple[str, ...]  # what the message must name
    bug: str = ""  # a known failure (strict xfail): what is wrong
    seconds: float = SECONDS


CASES = (
    Case(
        "yaml alias bomb", lambda d: _alias_bomb(d / "laughs.yaml"), ("validate", "{d}/laughs.yaml"), ("laughs.yaml",)
    ),
    Case(
        "yaml nested 100,000 deep",
        lambda d: (d / "deep.yaml").write_text("compute: " + "[" * 100_000 + "]" * 100_000),
        ("validate", "{d}/deep.yaml"),
        ("deep.yaml",),
    ),
    Case(
        "yaml of 9 MiB",
        lambda d: (d / "big.yaml").write_text("# " + "x" * (9 << 20)),
        ("validate", "{d}/big.yaml"),
        ("big.yaml",),
    ),
    Case(
        "csv of 10 MiB",
        lambda d: (d / "big.scalesim.csv").write_text("Layer, M, N, K,\n" + "g, 64, 64, 64,\n" * 700_000),
        ("validate", "{d}/big.scalesim.csv"),
        ("big.scalesim.csv",),
    ),
    Case(
        "workload gzip bomb (1 GiB)",
        lambda d: _gzip_spaces(d / "bomb.workload.json.gz", 1024),
        ("trace", "--summary", "{d}/bomb.workload.json.gz"),
        ("bomb.workload.json.gz",),
    ),
    Case(
        "workload gzip bomb in a scenario",
        _bomb_scenario,
        ("run", "{d}/s.yaml", "--out", "{d}/out"),
        ("bomb.workload.json.gz",),
    ),
    Case(
        "workload JSON nested 200,000 deep",
        lambda d: (d / "deep.workload.json.gz").write_bytes(gzip.compress(b"[" * 200_000 + b"]" * 200_000)),
        ("validate", "{d}/deep.workload.json.gz"),
        ("deep.workload.json.gz",),
    ),
    Case(
        "workload with a 1,000,000-digit integer",
        lambda d: (d / "int.workload.json.gz").write_bytes(gzip.compress(b'{"steps": ' + b"9" * 1_000_000 + b"}")),
        ("validate", "{d}/int.workload.json.gz"),
        ("int.workload.json.gz",),
    ),
    Case("workload /dev/zero", lambda d: None, ("trace", "--summary", "/dev/zero"), ("/dev/zero",)),
    Case(
        "measurement gzip bomb (1 GiB)",
        lambda d: _gzip_spaces(d / "bomb.json.gz", 1024),
        ("calibrate", "{d}/bomb.json.gz", "--out", "{d}/c.json"),
        ("bomb.json.gz",),
    ),
    Case(
        "measurement /dev/zero",
        lambda d: None,
        ("calibrate", "/dev/zero", "--out", "{d}/c.json"),
        ("/dev/zero",),
    ),
    Case(
        "yaml /dev/zero",
        lambda d: None,
        ("validate", "/dev/zero"),
        ("/dev/zero",),
    ),
    Case(
        "scenario design /dev/zero",
        lambda d: (d / "s.yaml").write_text(
            f"name: z\nworkload: '{SCENARIOS / 'workloads' / 'tiny-unet.workload.json.gz'}'\ndesigns: [/dev/zero]\n"
        ),
        ("validate", "{d}/s.yaml"),
        ("/dev/zero", "s.yaml"),
    ),
    Case(
        "yaml named pipe",
        lambda d: os.mkfifo(d / "fifo.yaml"),
        ("validate", "{d}/fifo.yaml"),
        ("fifo.yaml",),
        seconds=5,
    ),
    Case(
        "measurement with a huge per-op list",
        lambda d: (d / "m.json").write_text(
            gzip.decompress(MEASUREMENT.read_bytes())
            .decode()
            .replace('"per_op": [', '"per_op": [' + "{}, " * 2_000_000)
        ),
        ("calibrate", "{d}/m.json", "--out", "{d}/c.json"),
        ("m.json",),
    ),
)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, raises=(AssertionError, pytest.fail.Exception), reason=c.bug)]
            if c.bug
            else [],
        )
        for c in CASES
    ],
)
def test_bounded(case: Case, tmp_path: Path) -> None:
    case.make(tmp_path)
    argv = [a.format(d=tmp_path) for a in case.argv]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, *argv],
            capture_output=True,
            text=True,
            timeout=case.seconds,
            env=env,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        COUNTS["limits (child process)"]["known bug" if case.bug else "failure"] += 1
        pytest.fail(f"picojoule {' '.join(argv)}: still running after {case.seconds:.0f} s")
    seconds = time.perf_counter() - start
    ok = (
        proc.returncode == 2
        and proc.stderr.startswith("error:")
        and "Traceback" not in proc.stderr
        and any(n in proc.stderr for n in case.names)
    )
    COUNTS["limits (child process)"]["exit 2" if ok else "known bug" if case.bug else "failure"] += 1
    assert ok, f"picojoule {' '.join(argv)}: exit {proc.returncode} in {seconds:.1f} s\n{proc.stderr[-3000:]}"
    assert not (tmp_path / "out" / "results.json").exists()
