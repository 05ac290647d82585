"""One design of a sweep from its axis values: derived values, then the constraints that need
no evaluation, then the validated design (an arch, or a multi-core system) and its identity.

Kept apart from ``spec.py`` (which checks a sweep file) and ``points.py`` (which enumerates
points) so that both can build designs: ``load_sweep`` tries the base design and the axis
corners, ``build_point`` every point of a search.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from accelerator.spec import ArchSpec
from accelerator.system import SystemSpec
from simulator.cost.hardware import area_mm2
from simulator.sweep.expressions import Expr, ExprError
from simulator.sweep.paths import get_path, resolve_path, set_path

#: What a sweep's design points are: single-core archs, or multi-core systems.
DesignSpec = ArchSpec | SystemSpec


@dataclass(frozen=True)
class Axis:
    name: str  # as written, e.g. "memory.levels.glb.size_bytes"
    path: tuple[str | int, ...]  # into the arch data, levels by index
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Derived:
    name: str
    expr: Expr
    path: tuple[str | int, ...] | None  # the spec field it sets, or None for a named value


@dataclass(frozen=True)
class Constraint:
    expr: Expr
    after_evaluation: bool  # reads metrics, so is checked on the result


@dataclass(frozen=True)
class DesignPoint:
    params: dict[str, Any]  # axis values and derived values, by name
    arch: dict[str, Any] = field(default_factory=dict)  # validated arch (or system) data, every default filled in
    point_id: str = ""  # hash of the arch (or system); "" when infeasible
    infeasible: str | None = None  # why the point is not evaluated
    failed: str | None = None  # the derived value or constraint (``derived.x``, ``constraints.0``) that
    # could not be evaluated, or "" for an invalid design; None when nothing failed


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _archs(spec: DesignSpec) -> list[tuple[ArchSpec, int]]:
    """The archs of a design with their instance counts (an arch alone: itself, once)."""
    if isinstance(spec, SystemSpec):
        return [(c.arch, c.count) for c in spec.cores]
    return [(spec, 1)]


def builtin(name: str, spec: DesignSpec) -> float:
    """A builtin name's value (``pes``, ``sram_bytes``, ``area_mm2``), summed over a system's instances."""
    total = 0.0
    for a, count in _archs(spec):
        pes = a.compute.rows * a.compute.cols
        if name == "pes":
            value: float = pes
        elif name == "sram_bytes":
            value = sum(lv.size_bytes * (pes if lv.per_pe else 1) for lv in a.memory.levels)
        else:
            value = area_mm2(a)
        total += count * value
    return int(total) if name != "area_mm2" else total


class _Resolver:
    """Looks names up for expressions: derived values, builtins, then design fields."""

    def __init__(self, base_full: dict[str, Any], data: dict[str, Any], model: type[DesignSpec]) -> None:
        self.base_full = base_full
        self.data = data
        self.model = model
        self.named: dict[str, Any] = {}
        self._spec: DesignSpec | None = None

    def spec(self) -> DesignSpec:
        if self._spec is None:
            self._spec = self.model.model_validate(self.data)
        return self._spec

    def set_field(self, path: tuple[str | int, ...], value: Any) -> None:
        self.data = set_path(self.data, path, value)
        self._spec = None

    def __call__(self, name: str) -> Any:
        if name in self.named:
            return self.named[name]
        if name in ("pes", "sram_bytes", "area_mm2"):
            return builtin(name, self.spec())
        path = resolve_path(self.base_full, name)
        missing = object()
        value = get_path(self.data, path, missing)
        return get_path(self.base_full, path) if value is missing else value


def design_point(
    base_data: dict[str, Any],
    base_full: dict[str, Any],
    settings: Sequence[tuple[Axis, Any]],
    derived: Sequence[Derived],
    constraints: Sequence[Constraint],
    model: type[DesignSpec] = ArchSpec,
) -> DesignPoint:
    """The design with each axis of ``settings`` at its value (the base design when empty)."""
    params: dict[str, Any] = {a.name: v for a, v in settings}
    data = base_data
    for axis, value in settings:
        data = set_path(data, axis.path, value)
    res = _Resolver(base_full, data, model)
    where = ""
    try:
        for d in derived:
            where = f"derived.{d.name}"
            value = d.expr.evaluate(res)
            params[d.name] = value
            if d.path is None:
                res.named[d.name] = value
            else:
                res.set_field(d.path, value)
        where = ""
        spec = res.spec()
        for i, c in enumerate(constraints):
            where = f"constraints.{i}"
            if not c.after_evaluation and not c.expr.evaluate(res):
                return DesignPoint(params, infeasible=f"constraint not met: {c.expr.text}")
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        return DesignPoint(params, infeasible=f"invalid design: {loc}: {err['msg']}", failed=where)
    except ExprError as exc:
        return DesignPoint(params, infeasible=str(exc), failed=where)
    dump = spec.model_dump(mode="json")
    return DesignPoint(params, arch=dump, point_id=digest(canonical_json(dump)))
