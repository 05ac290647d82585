"""Sweep axes: the value specs of one axis (a list, a ``range`` or a ``log_range``) and their
values, counted before they are enumerated so that no axis can exhaust memory; and the check
that each value is one its field can take."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from accelerator.yamlpos import Positions
from simulator.sweep.design import Axis, Derived, DesignSpec, design_point
from simulator.sweep.paths import set_path

MAX_AXIS_VALUES = 100_000
"""Most values one axis may have (a range or log_range is counted before it is enumerated)."""
MAX_LOG_FACTOR = 1e6
"""Largest ``log_range.factor`` (ratio of neighbouring values): sizes, bandwidths and counts are
swept in steps of 2 to 16 (the committed sweeps use 2); a factor of 10^6 already leaps six
decades between neighbours, past every span a plausibility bound of the arch spec leaves."""

#: A finite number (``.inf`` and ``.nan`` are refused).
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeSpec(_Strict):
    """Evenly spaced values start, start+step, ... up to and including stop."""

    start: Finite
    stop: Finite
    step: Finite = Field(..., gt=0)


class LogRangeSpec(_Strict):
    """Geometric values from start to stop: ``num`` of them, or multiplying by ``factor``."""

    start: Finite = Field(..., gt=0)
    stop: Finite = Field(..., gt=0)
    num: StrictInt | None = Field(default=None, ge=2, le=MAX_AXIS_VALUES)
    factor: Finite | None = Field(default=None, gt=1, le=MAX_LOG_FACTOR)

    @model_validator(mode="after")
    def _one_of(self) -> LogRangeSpec:
        if (self.num is None) == (self.factor is None):
            raise ValueError("give exactly one of num (how many values) or factor (ratio of neighbours)")
        return self


class AxisSpec(_Strict):
    values: tuple[Any, ...] | None = Field(default=None, min_length=1)
    range: RangeSpec | None = None
    log_range: LogRangeSpec | None = None

    @model_validator(mode="after")
    def _one_of(self) -> AxisSpec:
        if sum(x is not None for x in (self.values, self.range, self.log_range)) != 1:
            raise ValueError("an axis is a list of values, or a mapping with one of values, range, log_range")
        return self


def _num(x: float) -> float:
    return float(f"{x:.12g}")


def _count(span: float, step: float, what: str) -> int:
    """How many values ``0, step, 2·step, ...`` fit in ``span`` (rounding error forgiven); raises
    ValueError above :data:`MAX_AXIS_VALUES`."""
    quotient = span / step
    if not math.isfinite(quotient) or quotient >= MAX_AXIS_VALUES:
        many = f"{math.floor(quotient) + 1:,}" if math.isfinite(quotient) else "too many"
        raise ValueError(
            f"the {what} has {many} values, more than the limit of {MAX_AXIS_VALUES:,} (MAX_AXIS_VALUES);"
            " use a larger step or factor, or a shorter span"
        )
    return max(math.floor(quotient + 1e-9) + 1, 0)


def axis_values(spec: tuple[Any, ...] | AxisSpec) -> tuple[Any, ...]:
    """The values of one axis, in order; ranges of integers stay integers.

    Raises ValueError when a range or log_range would have more than :data:`MAX_AXIS_VALUES`
    values; the count is computed before any value is.
    """
    if isinstance(spec, tuple):
        values = spec
    elif spec.values is not None:
        values = spec.values
    elif spec.range is not None:
        r = spec.range
        n = _count(r.stop - r.start, r.step, "range")
        as_int = all(float(v).is_integer() for v in (r.start, r.stop, r.step))
        vals = [r.start + i * r.step for i in range(n)]
        return tuple(int(round(v)) if as_int else _num(v) for v in vals)
    else:
        return _log_values(spec)
    if len(values) > MAX_AXIS_VALUES:
        raise ValueError(f"the axis has {len(values):,} values, more than the limit of {MAX_AXIS_VALUES:,}")
    return values


def _log_values(spec: AxisSpec) -> tuple[Any, ...]:
    lr = spec.log_range
    assert lr is not None  # AxisSpec checks that one is given
    as_int = float(lr.start).is_integer() and float(lr.stop).is_integer()
    if lr.num is not None:
        raw = [lr.start * (lr.stop / lr.start) ** (i / (lr.num - 1)) for i in range(lr.num)]
    else:
        assert lr.factor is not None
        n = _count(math.log(lr.stop / lr.start), math.log(lr.factor), f"log_range (factor {lr.factor!r})")
        raw = [lr.start * lr.factor**i for i in range(n)]
        as_int = as_int and float(lr.factor).is_integer()
    out = [int(round(v)) if as_int else _num(v) for v in raw]
    return tuple(dict.fromkeys(out))  # rounding can repeat a value


def _where(name: str, i: int, positions: Positions) -> str:
    return f"axes.{name}.{i}" if f"axes.{name}.{i}" in positions.lines else f"axes.{name}"


def check_axis(
    name: str,
    values: tuple[Any, ...],
    path: tuple[str | int, ...],
    base: dict[str, Any],
    model: type[DesignSpec],
    positions: Positions,
) -> tuple[int, ...]:
    """Reject a value that is wrong for its field whatever the other axes are; returns the indices
    of the values refused by a check of a field's parent (``block_skip`` not a shape traces record),
    which another axis may satisfy: :func:`check_suspects` decides on them once all axes are known."""
    if not values:
        raise positions.error(f"axes.{name}", "the axis has no values (check start, stop and step)")
    suspects = []
    for i, value in enumerate(values):
        try:
            model.model_validate(set_path(base, path, value))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = tuple(err["loc"])
            if loc[: len(path)] == path:
                msg = err["msg"].removeprefix("Value error, ")
                raise positions.error(
                    _where(name, i, positions), f"value {value!r} is not allowed for {name}: {msg}"
                ) from None
            if path[: len(loc)] == loc:
                suspects.append(i)
    return tuple(suspects)


def check_suspects(
    axes: Sequence[Axis],
    suspects: Sequence[tuple[int, ...]],
    base_data: dict[str, Any],
    base_full: dict[str, Any],
    derived: Sequence[Derived],
    model: type[DesignSpec],
    positions: Positions,
) -> None:
    """Refuse a suspect value (:func:`check_axis`) whose design is invalid at the base and with
    every other axis at its first value, then at its last: in all likelihood no setting of the other
    axes makes it valid (the reasoning of the sweep's corner check, ``spec._check_designs``)."""
    for a, indices in zip(axes, suspects, strict=True):
        for i in indices:
            value = a.values[i]
            settings = [[(a, value)]] + [[(b, value if b is a else b.values[k]) for b in axes] for k in (0, -1)]
            points = [design_point(base_data, base_full, s, derived, (), model) for s in settings]
            if all(p.failed is not None for p in points):
                why = (points[0].infeasible or "").removeprefix("invalid design: ").removeprefix(": ")
                raise positions.error(
                    _where(a.name, i, positions),
                    f"value {value!r} is not allowed for {a.name} at the base design nor at the other axes' "
                    f"first or last values: {why.replace('Value error, ', '')}",
                )
