"""``pytest tests/golden --regen-golden`` rewrites the golden files instead of checking them.

It is the one way to regenerate goldens: the simulator results (``results/``) and the traced
op counts (``traces/``) alike. Review ``git diff tests/golden`` and commit.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/{results,traces}/*.json from the current code instead of comparing",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))
