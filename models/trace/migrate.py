"""Give a version-1 trace the tensor identities of version 2 without re-recording it.

    python -m models.trace.migrate FILE [FILE ...]

A version-1 file has no ``Op.reads``/``Op.writes``. Identities depend only on the op
structure, which is the same every step, so one model call re-traced with the options in the
file's provenance (shapes only: no statistics, the first call) gives them. The re-traced ops
must equal the file's field for field (name, kind, shapes, costs, module, params); the file is
then rewritten at :data:`~models.workload.FORMAT_VERSION` with every other field kept as it
was — statistics included, which a re-trace would recompute — and :func:`differences` checks
that its document differs from the old one only in ``version`` and the new fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from accelerator.errors import TraceError
from models.trace.tracer import trace
from models.workload import FORMAT_VERSION, Workload, load, read_bounded, save

_NEW_OP_FIELDS = ("reads", "writes")


def retrace_ids(old: Workload) -> Workload:
    """``old`` with the tensor ids of one re-traced call (module docstring)."""
    p = old.provenance
    new = trace(
        str(p["model"]),
        steps=p.get("steps"),
        resolution=p.get("resolution"),
        batch=int(p.get("batch", 1)),
        scheduler=str(p.get("scheduler_option", "native")),
        seed=int(p.get("seed", 0)),
        cfg=p.get("cfg"),
        fake=p.get("execution") == "fake",
    )
    if len(new.ops) != len(old.ops):
        raise TraceError(f"re-traced {len(new.ops)} ops, the file has {len(old.ops)}: the op structure changed")
    for i, (a, b) in enumerate(zip(old.ops, new.ops, strict=True)):
        if replace(b, reads=(), writes=()) != replace(a, reads=(), writes=()):
            raise TraceError(f"op {i} ({a.name}) differs when re-traced: the op structure changed; re-trace the file")
    ops = tuple(replace(a, reads=b.reads, writes=b.writes) for a, b in zip(old.ops, new.ops, strict=True))
    return replace(old, ops=ops, format_version=FORMAT_VERSION)


def _document(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(read_bounded(path, 1 << 30))
    return doc


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Where two workload documents differ, apart from ``version`` and the version-2 op fields."""
    strip = [{k: v for k, v in d.items() if k != "version"} for d in (before, after)]
    for d in strip:
        d["ops"] = [{k: v for k, v in op.items() if k not in _NEW_OP_FIELDS} for op in d.get("ops", [])]
    a, b = strip
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def migrate(path: Path) -> str:
    """Rewrite ``path`` at the current version with tensor ids; returns a one-line report."""
    old = load(path)
    if old.has_tensor_ids:
        return f"{path}: version {old.format_version}, already has tensor ids"
    before = _document(path)
    new = retrace_ids(old)
    tmp = save(new, path.with_name(path.name + ".migrated"))
    diff = differences(before, _document(tmp))
    if diff:
        tmp.unlink()
        raise TraceError(f"{path}: migrating would change {', '.join(diff)}; left as it was")
    tmp.replace(path)
    reads = sum(len(op.reads) for op in new.ops)
    return f"{path}: version {old.format_version} -> {FORMAT_VERSION}, {reads} reads; every other field unchanged"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.trace.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.files:
        try:
            print(migrate(path), flush=True)
        except TraceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
