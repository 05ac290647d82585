"""Safe arithmetic expressions for sweep files: derived parameters and constraints.

An expression is one Python-syntax expression over numbers, names and a few functions::

    compute.rows * compute.cols              # a spec field by dotted path
    memory.levels.glb.size_bytes // 1024     # memory levels by name ...
    memory.levels[1].size_bytes              # ... or by index
    sram_bytes <= sram_budget_bytes and area_mm2 <= 4.0

Nothing else is allowed (no attribute calls, no comprehensions, no imports): the text is
parsed with :mod:`ast` and walked over a whitelist, never handed to ``eval``. Names are
resolved by a caller-supplied function, so the same expression can be checked at load time
(which names does it use?) and evaluated per design point.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: lambda a, b: _power(a, b),
}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}

#: Functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": int,
    "float": float,
    "round": round,
    "log2": math.log2,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "ceil": math.ceil,
    "floor": math.floor,
}


class ExprError(ValueError):
    """An expression is malformed or cannot be evaluated (the message says why)."""


MAX_INT_BITS = 256
"""Largest integer an expression may compute, in bits (a spec field needs fewer than 64), so that
``2 ** 10**9`` is refused before it is computed instead of taking minutes and gigabytes."""
MAX_EXPONENT = 1024
"""Largest exponent ``**`` takes (floats overflow past 2**1024 anyway)."""


def _number(value: Any, op: str) -> int | float:
    """``value`` as an operand of arithmetic: a number, never a string (``'a' * 10**9``)."""
    if isinstance(value, (int, float)):
        return value
    raise ExprError(f"{op} needs numbers, got {value!r}")


def _bounded(value: Any) -> Any:
    """Refuse integers over MAX_INT_BITS and floats that overflowed or are not numbers."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExprError(f"the result has more than {MAX_INT_BITS} bits (MAX_INT_BITS)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"the result is {value}, not a finite number")
    return value


def _power(base: Any, exponent: Any) -> Any:
    base, exponent = _number(base, "**"), _number(exponent, "**")
    if abs(exponent) > MAX_EXPONENT:
        raise ExprError(f"exponent {exponent!r} is larger than {MAX_EXPONENT} (MAX_EXPONENT)")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
            raise ExprError(f"{base} ** {exponent} has more than {MAX_INT_BITS} bits (MAX_INT_BITS)")
    return operator.pow(base, exponent)


def _dotted(node: ast.AST) -> str | None:
    """``a.b[1].c`` as ``"a.b.1.c"``; ``None`` when the node is not a plain name chain."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        head = _dotted(node.value)
        key = node.slice.value
        if head is None or not isinstance(key, (int, str)) or isinstance(key, bool):
            return None
        return f"{head}.{key}"
    return None


@dataclass(frozen=True)
class Expr:
    """A parsed expression and the dotted names it reads."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, resolve: Callable[[str], Any]) -> Any:
        """The value, with each dotted name looked up by ``resolve`` (which raises KeyError)."""
        try:
            return _eval(self.tree.body, resolve)
        except KeyError as exc:
            raise ExprError(f"unknown name {exc.args[0]!r} in {self.text!r}") from None
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise ExprError(f"cannot evaluate {self.text!r}: {exc}") from None


def parse_expr(text: str) -> Expr:
    """Parse and check ``text``; raises :class:`ExprError` naming what is not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"not a valid expression: {exc.msg}") from None
    names: set[str] = set()
    _check(tree.body, names)
    return Expr(text=text, tree=tree, names=frozenset(names))


def _check(node: ast.AST, names: set[str]) -> None:
    dotted = _dotted(node)
    if dotted is not None:
        names.add(dotted)
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, bool, str)):
            raise ExprError(f"constant {node.value!r} is not a number, string or boolean")
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, names)
        _check(node.right, names)
        return
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, names)
        return
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, names)
        return
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        for v in (node.left, *node.comparators):
            _check(v, names)
        return
    if isinstance(node, ast.IfExp):
        for v in (node.test, node.body, node.orelse):
            _check(v, names)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ExprError(f"unknown function {node.func.id!r}; allowed: {', '.join(sorted(FUNCTIONS))}")
        for a in node.args:
            _check(a, names)
        return
    raise ExprError(
        f"{type(node).__name__} is not allowed: use numbers, dotted field names, + - * / // % **, "
        f"comparisons, and/or/not, x if c else y, and {', '.join(sorted(FUNCTIONS))}"
    )


def _eval(node: ast.AST, resolve: Callable[[str], Any]) -> Any:
    dotted = _dotted(node)
    if dotted is not None:
        return resolve(dotted)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        symbol = _SYMBOLS[type(node.op)]
        left = _number(_eval(node.left, resolve), symbol)
        right = _number(_eval(node.right, resolve), symbol)
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, resolve)
        if not isinstance(node.op, ast.Not):
            operand = _number(operand, "a sign")
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, resolve) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, resolve)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, resolve)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, resolve) else node.orelse, resolve)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)  # checked by _check
        args = [_number(_eval(a, resolve), f"{node.func.id}()") for a in node.args]
        return _bounded(FUNCTIONS[node.func.id](*args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _check rejects it first
