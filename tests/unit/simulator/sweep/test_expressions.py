"""The sweep expression language: closed forms, what it rejects, and its error messages."""

from __future__ import annotations

import pytest

from simulator.sweep.expressions import ExprError, parse_expr


def test_expressions_compute_closed_forms() -> None:
    names = {"compute.rows": 16, "compute.cols": 8, "memory.levels.1.size_bytes": 65536, "b": 3}
    assert parse_expr("compute.rows * compute.cols").evaluate(names.__getitem__) == 128
    assert parse_expr("memory.levels[1].size_bytes // 1024").evaluate(names.__getitem__) == 64
    assert parse_expr("log2(compute.rows) + max(b, 2) ** 2").evaluate(names.__getitem__) == 13.0
    assert parse_expr("1 < b <= 3 and not b == 2").evaluate(names.__getitem__) is True
    assert parse_expr("8 if b > 5 else 4").evaluate(names.__getitem__) == 4
    assert parse_expr("compute.rows * b").names == frozenset({"compute.rows", "b"})


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("compute.rows.bit_length()", "Call is not allowed"),
        ("[x for x in y]", "ListComp is not allowed"),
        ("1 +", "not a valid expression"),
    ],
)
def test_expressions_reject_anything_else(text: str, complaint: str) -> None:
    with pytest.raises(ExprError, match=complaint.replace("(", r"\(")):
        parse_expr(text)


def test_expression_errors_name_the_expression() -> None:
    with pytest.raises(ExprError, match="unknown name 'nope' in 'nope \\+ 1'"):
        parse_expr("nope + 1").evaluate({}.__getitem__)
    with pytest.raises(ExprError, match="cannot evaluate '1 / 0'"):
        parse_expr("1 / 0").evaluate({}.__getitem__)
