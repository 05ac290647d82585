"""Pydantic validation errors as located, one-paragraph :class:`SpecError` messages.

Every YAML schema (arch, GPU, scenario, sweep, layer list) validates through
:func:`model_from_data`, so an error reads ``file:line dotted.field: problem, got VALUE;
allowed: ...`` whatever the document. Strict-mode type errors are worded for YAML (``expected
an integer``), bounds name the limit.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from accelerator.errors import SpecError
from accelerator.spec_base import LocatedError
from accelerator.yamlpos import Positions


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _allowed(err: Any, message: str) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx and str(ctx["expected"]) not in message:
        return f"; allowed: {ctx['expected']}"
    return ""


#: What strict mode's type errors mean in a YAML file (pydantic's wording names Python types).
_TYPE_MESSAGES = {
    "int_type": "expected an integer (a bool, a string or a number with a fraction or '.0' is not one)",
    "float_type": "expected a number (a bool or a string is not one)",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "finite_number": "expected a finite number",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
}


def _message(err: Any) -> str:
    """One pydantic error as a sentence about the YAML value."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    bounds = {"less_than_equal": "at most", "less_than": "less than", "greater_than_equal": "at least"}
    if kind in bounds or kind == "greater_than":
        bound = next(ctx[k] for k in ("le", "lt", "ge", "gt") if k in ctx)
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {bounds.get(kind, 'greater than')} {bound} (the field's limit; docs/spec.md lists them)"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} entries allowed (the field's limit), got {ctx.get('actual_length')}"
    return str(err["msg"]).removeprefix("Value error, ")


def spec_error_from_validation(exc: ValidationError, positions: Positions, root: str = "") -> SpecError:
    """The first pydantic error as a located :class:`SpecError` (one paragraph)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, LocatedError):  # a combination check that names the field it is about
        loc = loc + cause.loc
    is_key = bool(loc) and loc[-1] == "[key]"
    loc = loc[:-1] if is_key else loc
    dotted = ".".join(p for p in (root, _dotted(loc)) if p)
    value = err.get("input")
    if err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; see docs/spec.md for the fields)"
    else:
        message = ("unknown key: " if is_key else "") + _message(err)
        if not isinstance(value, dict | list):
            message += f", got {value!r}"
        message += _allowed(err, message)
    more = len(exc.errors()) - 1
    if more:
        message += f" ({more} more problem{'s' if more > 1 else ''} in this file)"
    return positions.error(dotted, message)


M = TypeVar("M", bound=BaseModel)


def model_from_data(cls: type[M], data: Any, positions: Positions, what: str, root: str = "") -> M:
    """Validate parsed YAML ``data`` as the schema ``cls``; errors are located :class:`SpecError`.

    ``what`` names the document in the message when it is not a mapping ("arch", "sweep", ...).
    """
    if not isinstance(data, dict):
        raise positions.error(root, f"expected a mapping of {what} fields, got {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from_validation(exc, positions, root) from None
