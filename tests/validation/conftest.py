"""``pytest tests/validation --regen-validation`` rewrites ``golden.json`` (our side of every
comparison) from the current code instead of checking it. Review ``git diff`` and update the
tables in ``docs/validation.md`` (``picojoule validation`` prints them)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-validation",
        action="store_true",
        default=False,
        help="rewrite tests/validation/golden.json from the current code instead of comparing",
    )


@pytest.fixture
def regen_validation(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-validation"))
