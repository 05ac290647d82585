"""The fuzz and fault suite (``tests/fuzz``): see ``docs/reliability.md``.

The suite's shared modules ``fuzz_support`` and ``mutations`` sit beside this file; pytest's importlib mode puts
no test folder on ``sys.path``, so this conftest does (as ``pythonpath`` does for tests/helpers).
At the end of a run the counts of cases per format and outcome are printed; ``PJ_FUZZ_LOG=FILE``
also writes them, with every surely-bad value accepted and every warning raised, as JSON.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_support  # noqa: E402  (found through the line above)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = fuzz_support.summary_lines()
    if not lines:
        return
    terminalreporter.section("fuzz cases (tests/fuzz)")
    for line in lines:
        terminalreporter.write_line(line)
    log = os.environ.get("PJ_FUZZ_LOG")
    if log:
        fuzz_support.dump_log(log)
