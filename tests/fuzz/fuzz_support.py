"""Shared pieces of the fuzz suite: the CLI run in-process, the outcome contract and the counts
that ``docs/reliability.md`` reports (the mutations are in ``mutations.py``).

The contract every mutated input must meet (``check``): exit code 0 (the input is still valid)
or 2 with one paragraph that starts with ``error:`` and names the file; never a traceback or
an exception out of ``main``; within :data:`CASE_SECONDS`; and after exit 2 none of the
command's outputs written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

CASE_SECONDS = 10.0
"""Wall-time bound of one in-process case (s); a case past 3x this is interrupted."""
SCALE = float(os.environ.get("PJ_FUZZ_SCALE", "1"))
"""Multiplies every example count (``PJ_FUZZ_SCALE=10`` for a deeper hunt)."""
DEEP = 10
"""How many times more examples the ``slow``-marked variant of each fuzz test runs."""

#: format -> outcome ("exit 0", "exit 2", "failure") -> cases run, for the summary and the docs.
COUNTS: defaultdict[str, Counter[str]] = defaultdict(Counter)
#: Mutations that put a surely-wrong value in and still exited 0 (reviewed by hand, see the docs).
ACCEPTED: list[str] = []
#: Python warnings (numpy overflow, ...) raised while a case ran: unchecked arithmetic on input.
WARNED: list[str] = []

#: Failures already reported: each is a set of strings that all appear in the escaped traceback or
#: stderr of such a case. A matching case is counted as "known bug" instead of failing the test,
#: so the fuzzing goes on past it. Each gets a strict-xfail reproducer in ``test_fuzz_known.py``:
#: once it is fixed that test fails; then delete the entry here and the xfail there. The seven
#: found on 2026-12-05 are fixed; their reproducers stay as regression tests.
KNOWN_BUGS: dict[str, tuple[str, ...]] = {}

#: Cases counted under each of :data:`KNOWN_BUGS`.
KNOWN_HITS: Counter[str] = Counter()


def fuzz_settings(examples: int) -> settings:
    """Deterministic hypothesis settings for ``examples`` cases (times :data:`SCALE`)."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,  # the time bound is ours (CASE_SECONDS), measured per case
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


def budgets(examples: int) -> list[Any]:
    """``parametrize`` values: the default run's budget, and a ``fuzz_deep`` one with :data:`DEEP`x more
    (out of the default run; ``.ci/run`` runs it after the README's test command)."""
    deep = [pytest.mark.slow, pytest.mark.fuzz_deep]
    return [pytest.param(examples, id="quick"), pytest.param(examples * DEEP, id="deep", marks=deep)]


class CaseTimeout(BaseException):
    """Raised inside a case that ran past 3x :data:`CASE_SECONDS` (a BaseException: no
    ``except Exception`` of the product swallows it)."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"interrupted after {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass(frozen=True)
class Outcome:
    """What one in-process ``picojoule`` command did."""

    argv: tuple[str, ...]
    code: int | None  # None: an exception escaped main()
    stdout: str
    stderr: str
    seconds: float
    escaped: str = ""  # the traceback of what escaped main()
    warned: tuple[str, ...] = ()


def run_cli(argv: Sequence[str]) -> Outcome:
    """Run ``picojoule ARGV`` in this process, capturing its output, warnings and escapes."""
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped = ""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _alarm(3 * CASE_SECONDS), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(argv))
        except SystemExit as exc:  # argparse; never expected with the argv we build
            code = exc.code if isinstance(exc.code, int) else 1
        except (Exception, CaseTimeout):
            escaped = traceback.format_exc()
    seconds = time.perf_counter() - start
    warned = tuple(f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})" for w in caught)
    return Outcome(tuple(argv), code, out.getvalue(), err.getvalue(), seconds, escaped, warned)


def check(
    fmt: str,
    outcome: Outcome,
    *,
    names: Sequence[str],
    absent_on_error: Sequence[Path] = (),
    mutation: str = "",
    suspicious: bool = False,
) -> None:
    """Count ``outcome`` under ``fmt`` and assert the contract (module docstring).

    ``names``: what a located message may name (the input's file name, a store's path);
    ``absent_on_error``: outputs that must not exist after exit 2; ``suspicious``: the mutation
    put in a value no input should accept, so an exit 0 is logged in :data:`ACCEPTED`."""
    problems = []
    if outcome.escaped:
        problems.append(f"exception escaped main():\n{outcome.escaped}")
    elif outcome.code not in (0, 2):
        problems.append(f"exit code {outcome.code}, expected 0 or 2")
    if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
        problems.append("a traceback was printed")
    if outcome.code == 2:
        if not outcome.stderr.startswith("error:"):
            problems.append("exit 2 without 'error:' at the start of stderr")
        if not any(n in outcome.stderr for n in names):
            problems.append(f"the message names none of {list(names)} (not located)")
        left = [str(p) for p in absent_on_error if p.exists()]
        if left:
            problems.append(f"exit 2 left outputs behind: {left}")
    if outcome.seconds > CASE_SECONDS:
        problems.append(f"took {outcome.seconds:.1f} s, over the {CASE_SECONDS:.0f} s bound")
    if outcome.warned:
        WARNED.append(f"{fmt}: {mutation}: {'; '.join(sorted(set(outcome.warned)))}")
    if outcome.code == 0 and suspicious and not problems:
        ACCEPTED.append(f"{fmt}: {mutation}")
    said = outcome.escaped + outcome.stderr
    known = [k for k, marks in KNOWN_BUGS.items() if problems and all(m in said for m in marks)]
    if known:
        COUNTS[fmt]["known bug"] += 1
        KNOWN_HITS.update(known)
        return
    COUNTS[fmt]["failure" if problems else f"exit {outcome.code}"] += 1
    if problems:
        raise AssertionError(
            _clip(f"picojoule {' '.join(outcome.argv)}\nmutation: {mutation}")
            + "\n- "
            + "\n- ".join(_clip(p) for p in problems)
            + f"\nstderr:\n{_clip(outcome.stderr)}"
        )


def _clip(text: str, keep: int = 1500) -> str:
    """``text`` with its middle cut out past 2x ``keep`` characters (a 10,000-character value in
    a path would bury the rest)."""
    return text if len(text) <= 2 * keep else f"{text[:keep]} [...] {text[-keep:]}"


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (its folder made) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def link_scenarios(folder: Path, parts: Sequence[str] = ("arch", "workloads", "gpu")) -> Path:
    """Symlink the committed ``scenarios/{arch,workloads,gpu}`` into ``folder``, so a mutated
    scenario or sweep written there (or in ``folder/sweeps``) finds what it references."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        link = folder / part
        if not link.exists():
            link.symlink_to(SCENARIOS / part, target_is_directory=True)
    return folder


def summary_lines() -> list[str]:
    """The counts table printed at the end of a run that ran fuzz cases."""
    if not COUNTS:
        return []
    cols = ("exit 0", "exit 2", "known bug", "failure")
    lines = [f"{'format':34s} {'cases':>7s} " + " ".join(f"{c:>9s}" for c in cols)]
    total = Counter[str]()
    for fmt, c in [*sorted(COUNTS.items()), ("all", total)]:
        if fmt != "all":
            total.update(c)
        lines.append(f"{fmt:34s} {sum(c.values()):7d} " + " ".join(f"{c[k]:9d}" for k in cols))
    lines.append(f"surely-bad values accepted (exit 0): {len(ACCEPTED)}; cases that raised Python warnings: "
                 f"{len(WARNED)} (PJ_FUZZ_LOG=FILE lists them)")  # fmt: skip
    return lines


def dump_log(path: str) -> None:
    """Write counts, accepted surely-bad mutations and warnings as JSON to ``path``."""
    doc = {"counts": {k: dict(v) for k, v in COUNTS.items()}, "accepted": ACCEPTED, "warned": WARNED}
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
