"""Render the arch spec's field reference (``python -m accelerator.spec_doc > docs/spec.md``)."""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from accelerator import spec_base
from accelerator.numerics import MAX_ABS_THRESHOLD
from accelerator.spec import ArchSpec

INTRO = """# The accelerator spec (`scenarios/arch/*.yaml`)

An arch file describes one accelerator design. It is validated strictly (unknown fields are
errors) and frozen after loading; errors read `file:line dotted.field: problem, got VALUE;
allowed: ...` and `picojoule validate` exits with code 2. Energies and areas not given in the
file come from the cited tables in `accelerator/tech/` (45 nm base, Horowitz ISSCC 2014),
scaled to `technology_nm` (and the supply `vdd_v`, default the node's nominal) by the Stillmaker &
Baas 2017 polynomials (`accelerator.tech.node_energy_factor`; what a lowered supply changes:
`accelerator/tech/voltage.py`). Example: `scenarios/arch/edge-os-int8.yaml`.

This page is generated: `python -m accelerator.spec_doc > docs/spec.md`.
"""


def _models(cls: type[BaseModel], path: str, seen: list[tuple[str, type[BaseModel]]]) -> None:
    seen.append((path, cls))
    for name, f in cls.model_fields.items():
        ann: Any = f.annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            inner = getattr(cand, "__args__", None)
            for c in (cand, *(inner or ())):
                if isinstance(c, type) and issubclass(c, BaseModel) and all(c is not s for _, s in seen):
                    sub = f"{path}.{name}" if path else name
                    _models(c, sub + ("[]" if "tuple" in str(ann) else ""), seen)


_BOUNDS: tuple[tuple[type, str, str], ...] = (
    (at.Ge, "ge", "≥"),
    (at.Gt, "gt", ">"),
    (at.Le, "le", "≤"),
    (at.Lt, "lt", "<"),
    (at.MinLen, "min_length", "length ≥"),
    (at.MaxLen, "max_length", "length ≤"),
)


def _bounds(metadata: list[Any]) -> str:
    """``metadata``'s numeric bounds as ``" (≥ 1, ≤ 4096)"``; '' without any."""
    out = []
    for m in metadata:
        for meta in m.metadata if isinstance(m, FieldInfo) else [m]:
            for kind, attr, sign in _BOUNDS:
                if isinstance(meta, kind):
                    out.append(f"{sign} {getattr(meta, attr)}")
    return f" ({', '.join(out)})" if out else ""


def _type_name(ann: Any) -> str:
    """A readable type: ``int (≥ 1)``, ``dict[Literal['int8', ...], float (≥ 0)]``."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _type_name(args[0]) + _bounds(list(args[1:]))
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if ann is type(None):
        return "None"
    return str(getattr(ann, "__name__", ann))


def render() -> str:
    seen: list[tuple[str, type[BaseModel]]] = []
    _models(ArchSpec, "", seen)
    out = [INTRO, "A record type used by several fields is listed once, under the first field that uses it.\n"]
    for path, cls in seen:
        out.append(f"## `{path or 'top level'}` ({cls.__name__})\n")
        out.append("| field | type | default | meaning |\n|---|---|---|---|")
        for name, f in cls.model_fields.items():
            ann = _type_name(f.annotation) + _bounds(f.metadata)
            if f.is_required():
                default = "required"
            elif f.default_factory is dict:
                default = "`{}`"
            elif f.default_factory is not None:
                default = "(defaults)"
            else:
                default = f"`{f.default!r}`"
            desc = (f.description or "").replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{name}` | `{ann.replace('|', '∣')}` | {default} | {desc} |")
        out.append("")
    out.extend(_bounds_table())
    return "\n".join(out)


def _bounds_table() -> list[str]:
    """The plausibility bounds the field types above cite, each with its reason."""
    out = [
        "## Plausibility bounds\n",
        "The numeric bounds in the types above are physical-plausibility limits, declared in",
        "`accelerator/spec_base.py` (`BOUND_REASONS`) and `accelerator/numerics.py`: generous, so that no",
        "real design is refused, and there so that a typo or a unit slip is a located error, not an",
        "absurd result. A value outside one reads `file:line field: must be at most BOUND ..., got VALUE`.\n",
        "| bound | value | why |",
        "|---|---|---|",
    ]
    rows = [(name, getattr(spec_base, name), why) for name, why in spec_base.BOUND_REASONS.items()]
    rows.append(("MAX_ABS_THRESHOLD", MAX_ABS_THRESHOLD, "numerics thresholds: the largest finite fp16 value"))
    for name, value, why in rows:
        shown = f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
        out.append(f"| `{name}` | {shown} | {why} |")
    out.append("")
    return out


if __name__ == "__main__":
    sys.stdout.write(render())
