"""The workload on disk: deterministic gzipped JSON (``dumps``/``save``) and a bounded, checked
reader (``load``, ``from_json``; regular files only, at most :data:`~models.workload.schema.MAX_DECOMPRESSED_BYTES`)."""

from __future__ import annotations

import errno
import gzip
import json
import math
import os
import stat
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from models.workload import schema
from models.workload.checks import _fail
from models.workload.core import Op, Workload
from models.workload.schema import (
    _ID_FIELDS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_STEPS,
    READ_VERSIONS,
    WorkloadError,
)


def _round(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(f"{x:.6g}")


def _op_to_json(op: Op) -> dict[str, Any]:
    d = asdict(op)
    d["input_shapes"] = [list(s) for s in op.input_shapes]
    d["output_shape"] = list(op.output_shape)
    d["gemm"] = list(op.gemm) if op.gemm is not None else None
    d["params"] = dict(op.params)
    d["reads"] = list(op.reads)
    d["writes"] = list(op.writes)
    return d


def to_json(w: Workload) -> dict[str, Any]:
    """The JSON document of a workload (see ``docs/workload-format.md``)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "provenance": dict(w.provenance),
        "steps": w.steps,
        "ops": [_op_to_json(op) for op in w.ops],
        "stats": {k: [[_round(v) for v in row] for row in table] for k, table in sorted(w.stats.items())},
        "unsupported": [dict(u) for u in w.unsupported],
    }


def _tuple_shape(value: Any, where: str) -> tuple[Any, ...]:
    """A JSON list as a tuple; :func:`validate` checks its elements."""
    if not isinstance(value, list):
        raise _fail(where, f"expected a list of integers, got {value!r}")
    return tuple(value)


_OP_FIELDS = frozenset(Op.__dataclass_fields__)
_OP_FIELDS_V1 = _OP_FIELDS - set(_ID_FIELDS)
_TOP_FIELDS = ("format", "version", "provenance", "steps", "ops", "stats", "unsupported")


def _op_from_json(d: Any, i: int, version: int) -> Op:
    where = f"ops.{i}"
    if not isinstance(d, dict):
        raise _fail(where, f"expected an object, got {type(d).__name__}")
    if isinstance(d.get("name"), str) and d["name"]:
        where = f"ops.{i} ({d['name']})"
    allowed = _OP_FIELDS if version >= 2 else _OP_FIELDS_V1
    unknown = set(d) - allowed
    if unknown:
        raise _fail(where, f"unknown fields {sorted(unknown)}; allowed in version {version}: {sorted(allowed)}")
    if "name" not in d or "kind" not in d:
        raise _fail(where, "every op needs 'name' and 'kind'")
    kw = dict(d)
    shapes = d.get("input_shapes", [])
    if not isinstance(shapes, list):
        raise _fail(f"{where}.input_shapes", f"expected a list of shapes, got {shapes!r}")
    kw["input_shapes"] = tuple(_tuple_shape(s, f"{where}.input_shapes.{j}") for j, s in enumerate(shapes))
    kw["output_shape"] = _tuple_shape(d.get("output_shape", []), f"{where}.output_shape")
    gemm = d.get("gemm")
    kw["gemm"] = _tuple_shape(gemm, f"{where}.gemm") if gemm is not None else None
    params = d.get("params", {})
    if not isinstance(params, dict):
        raise _fail(f"{where}.params", f"expected an object, got {params!r}")
    kw["params"] = params
    for name in _ID_FIELDS:
        ids = d.get(name, [])
        if not isinstance(ids, list):
            raise _fail(f"{where}.{name}", f"expected a list of tensor ids, got {ids!r}")
        kw[name] = tuple(ids)
    return Op(**kw)


def _field(doc: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = doc.get(key, default)
    if not isinstance(value, kind):
        raise _fail(key, f"expected a JSON {'object' if kind is dict else 'list'}, got {value!r}")
    return value


def _table(table: Any) -> Any:
    """A statistics table as tuples; anything else is left for :func:`validate` to name."""
    if not isinstance(table, list):
        return table
    return tuple(tuple(row) if isinstance(row, list) else row for row in table)


def from_json(doc: Any, source: str = "<workload>") -> Workload:
    """Build a workload from its JSON document; errors name ``source``, the field (with the op's
    index and name) and the bad value."""
    try:
        if not isinstance(doc, dict):
            raise _fail("(top)", "expected a JSON object")
        if doc.get("format") != FORMAT_NAME:
            raise _fail("format", f"expected {FORMAT_NAME!r}, got {doc.get('format')!r}")
        version = doc.get("version")
        if isinstance(version, bool) or version not in READ_VERSIONS:
            readable = " and ".join(map(str, READ_VERSIONS))
            raise _fail(
                "version",
                f"this picojoule reads versions {readable}, the file is version {version!r};"
                " re-trace it with this version",
            )
        unknown = sorted(set(doc) - set(_TOP_FIELDS))
        if unknown:
            raise _fail(unknown[0], f"unknown field; allowed: {', '.join(_TOP_FIELDS)}")
        if "steps" not in doc:
            raise _fail("steps", f"required field is missing (an integer in [1, {MAX_STEPS:,}])")
        ops = tuple(_op_from_json(o, i, version) for i, o in enumerate(_field(doc, "ops", list, [])))
        stats = {k: _table(t) for k, t in _field(doc, "stats", dict, {}).items()}
        unsupported = _field(doc, "unsupported", list, [])
        for i, u in enumerate(unsupported):
            if not isinstance(u, dict):
                raise _fail(f"unsupported.{i}", f"expected an object, got {u!r}")
        return Workload(
            ops=ops,
            steps=doc["steps"],
            provenance=_field(doc, "provenance", dict, {}),
            stats=stats,
            unsupported=tuple(unsupported),
            format_version=version,
        )
    except WorkloadError as exc:
        raise WorkloadError(f"{source}: {exc}") from None
    except TypeError as exc:
        raise WorkloadError(f"{source}: malformed workload: {exc}") from None


def dumps(w: Workload) -> bytes:
    """Deterministic gzipped JSON bytes of a workload."""
    text = json.dumps(to_json(w), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def save(w: Workload, path: str | Path) -> Path:
    """Write ``w`` to ``path`` (gzipped JSON); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(dumps(w))
    tmp.replace(p)
    return p


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number the format allows (statistics are finite or null)")


class TooLargeError(ValueError):
    """A file holds more bytes (after decompression) than its reader's stated limit."""


def read_bounded(p: Path, limit: int) -> bytes:
    """A regular file's bytes, decompressed if gzipped, refusing more than ``limit`` of them.

    Raises :class:`TooLargeError` past the limit, ``OSError`` (``ENOTSUP`` for a device, a pipe
    or a socket, which would never end), and the gzip/zlib errors of a damaged file."""
    if not stat.S_ISREG(os.stat(p).st_mode):
        if stat.S_ISDIR(os.stat(p).st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(p))
        raise OSError(errno.ENOTSUP, "not a regular file (a device, pipe or socket)", str(p))
    with p.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            f.seek(0)
            text = f.read(limit + 1)
        else:
            f.seek(0)
            # GzipFile decompresses as it reads, so a small file that inflates without bound
            # (a gzip bomb) stops at the limit instead of filling memory.
            with gzip.GzipFile(fileobj=f) as gz:
                text = gz.read(limit + 1)
    if len(text) > limit:
        raise TooLargeError(f"more than {limit:,} bytes after decompression")
    return text


def load(path: str | Path) -> Workload:
    """Read a workload file (gzipped or plain JSON); corrupt files raise :class:`WorkloadError`."""
    p = Path(path)
    try:
        text = read_bounded(p, schema.MAX_DECOMPRESSED_BYTES)
    except TooLargeError:
        raise WorkloadError(
            f"{path}: more than {schema.MAX_DECOMPRESSED_BYTES:,} bytes of JSON (MAX_DECOMPRESSED_BYTES); "
            "not a workload this picojoule reads"
        ) from None
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such workload file") from None
    except IsADirectoryError:
        raise WorkloadError(f"{path}: is a folder, not a workload file") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise WorkloadError(f"{path}: not a readable workload file (corrupt or truncated): {exc}") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise WorkloadError(f"{path}: not a workload file: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise WorkloadError(f"{path}: not a readable workload file (corrupt or truncated): {exc}") from None
    return from_json(doc, str(path))
