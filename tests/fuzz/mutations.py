"""Mutations for the fuzz suite, as hypothesis strategies: parsed trees (YAML, JSON), numbers,
raw text and raw bytes. Each returns the mutated input and a description of what changed (and,
for trees and numbers, whether a surely-bad value stayed in)."""

from __future__ import annotations

import contextlib
import copy
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import yaml
from hypothesis import strategies as st

# -- values ----------------------------------------------------------------------------------

LONG = "x" * 10_000
#: Values that no field of ours should take as they are (each exit 0 with one is reviewed).
BAD_VALUES: tuple[Any, ...] = (
    None, True, False, -1, 0, -0.5, 1e308, -1e308, math.nan, math.inf, -math.inf, "64KB", "", "null",
    [], {}, [1, 2], {"a": 1}, 10**30, -(10**30), 2**63, LONG, "é\u202e\x00",
)  # fmt: skip
#: Bad values that are numbers out of any sane range (an exit 0 with one of these is suspicious):
#: the tree mutations' extremes, and the number mutations' astronomical ones (2^53 + 1, 10^18,
#: 1e300: above every declared plausibility bound, docs/spec.md and docs/reliability.md).
_SURELY_BAD = (-1, -0.5, 1e308, -1e308, 10**30, -(10**30), 2**63, 2**53 + 1, 10**18, 1e300)


#: Fields whose real values reach past the astronomical ones above (largest real value, why): an
#: activation's max |x| in a float32 trace reaches float32's largest finite value (attention masks
#: filled with ``finfo(float32).min``; ``models.workload.schema.MAX_ABSMAX``), so 10^30 there is a
#: value a trace can hold, not a surely-bad one; beyond the bound it still counts.
LARGE_BY_NATURE: dict[str, float] = {
    "act_absmax": 3.4028234663852886e38,
    "act_channel_absmax_ratio": 3.4028234663852886e38,
}


def is_surely_bad(value: Any, path: Path_ = ()) -> bool:
    """Negative, NaN, infinite or astronomically large: no count, size or rate is ever that (for
    the field at ``path``: :data:`LARGE_BY_NATURE` takes large values up to its bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if math.isnan(value) or math.isinf(value):
        return True
    largest = next((LARGE_BY_NATURE[k] for k in path if isinstance(k, str) and k in LARGE_BY_NATURE), None)
    if largest is not None and 0 <= value <= largest:
        return False
    return any(value == v for v in _SURELY_BAD)


def values(nan: bool = True) -> st.SearchStrategy[Any]:
    """A replacement value: one of :data:`BAD_VALUES` (without NaN/inf where the format has
    none) or a random small int, float or string."""
    bad = [v for v in BAD_VALUES if nan or not (isinstance(v, float) and not math.isfinite(v))]
    return st.one_of(
        st.sampled_from(bad),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=nan, allow_infinity=nan),
        st.text(max_size=12),
    )


# -- parsed trees ----------------------------------------------------------------------------

Path_ = tuple[Any, ...]
TREE_KINDS = ("delete", "replace", "replace", "replace", "rename", "extra", "nest", "wrap")


@st.composite
def _tree_path(draw: st.DrawFn, tree: Any) -> Path_:
    """A path into ``tree`` by a random walk from the root (so top-level fields come up often)."""
    path: list[Any] = []
    node = tree
    while isinstance(node, (dict, list)) and node:
        if path and draw(st.integers(0, 2)) == 0:
            break
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    return tuple(path)


def _nested(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


@st.composite
def _one_tree_mutation(
    draw: st.DrawFn, tree: Any, value_strategy: st.SearchStrategy[Any]
) -> tuple[Any, str, Path_, bool]:
    path = draw(_tree_path(tree))
    kind = draw(st.sampled_from(TREE_KINDS))
    where = ".".join(map(str, path)) or "<root>"
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    current = parent[path[-1]] if path else tree
    new: Any
    if kind == "replace" or (kind in ("delete", "rename", "extra") and not path):
        new = draw(value_strategy)
        desc, bad = f"replace {where} with {new!r:.60}", is_surely_bad(new, path)
    elif kind == "nest":
        depth = draw(st.sampled_from([1, 2, 10, 70, 200]))
        new = _nested(current, depth, draw(st.booleans()))
        desc, bad = f"nest {where} {depth} levels deep", False
    elif kind == "wrap":
        new = [current]
        desc, bad = f"wrap {where} in a list", False
    else:
        key = path[-1]
        if kind == "delete":
            del parent[key]
            return tree, f"delete {where}", path, False
        name = draw(st.sampled_from(["_x", "upper", "typo", "text"]))
        if isinstance(parent, dict):
            new_key = {"_x": f"{key}_x", "upper": str(key).upper(), "typo": str(key)[:-1]}.get(name)
            new_key = new_key if new_key is not None else draw(st.text(min_size=1, max_size=8))
            if kind == "rename":
                parent[new_key] = parent.pop(key)
                return tree, f"rename {where} to {new_key!r}", path, False
            parent[new_key] = copy.deepcopy(current)
            return tree, f"add {new_key!r} beside {where}", path, False
        parent.insert(key, copy.deepcopy(current))
        return tree, f"duplicate list item {where}", path, False
    if not path:
        return new, desc, path, bad
    parent[path[-1]] = new
    return tree, desc, path, bad


def _lookup(tree: Any, path: Path_) -> Any:
    for key in path:
        tree = tree[key]  # raises when a later mutation moved or removed it
    return tree


@st.composite
def tree_mutations(draw: st.DrawFn, tree: Any, nan: bool = True) -> tuple[Any, str, bool]:
    """1 to 3 mutations of a deep copy of ``tree``: (mutated tree, description, whether a
    surely-bad value is still in the tree where a mutation put it)."""
    tree = copy.deepcopy(tree)
    descs, bad_at = [], []
    for _ in range(draw(st.integers(1, 3))):
        tree, desc, path, bad = draw(_one_tree_mutation(tree, values(nan)))
        descs.append(desc)
        if bad:
            bad_at.append(path)
    still_bad = False
    for path in bad_at:
        with contextlib.suppress(LookupError, TypeError):
            still_bad = still_bad or is_surely_bad(_lookup(tree, path), path)
    return tree, "; ".join(descs), still_bad


def _numbers(tree: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _numbers(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _numbers(v, (*path, i))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path


def _number_for(old: int | float, nan: bool) -> st.SearchStrategy[Any]:
    if isinstance(old, int):
        edges = [0, -1, 1, 2, old + 1, old * 2, 2**31, 2**53 + 1, 2**63, 10**18]
        return st.one_of(st.sampled_from(edges), st.integers(0, 10**9))
    floats = [0.0, -0.0, 5e-324, 1e-300, old * 2, old / 3, -1.0, 1e300]
    floats += [math.nan, math.inf] if nan else []
    return st.one_of(st.sampled_from(floats), st.floats(0, 1e6))


@st.composite
def number_mutations(draw: st.DrawFn, tree: Any, nan: bool = True) -> tuple[Any, str, bool]:
    """1 to 3 numbers of a deep copy of ``tree`` replaced by other numbers of their type (edge
    values, doubles, zero, negatives): inputs that mostly still parse, to reach the checks of
    meaning and the models behind them. Fields are chosen evenly, not list items (a workload
    has thousands of statistics and a few hundred op fields)."""
    tree = copy.deepcopy(tree)
    fields: dict[str, list[Path_]] = defaultdict(list)
    for path in _numbers(tree):
        fields[".".join("*" if isinstance(k, int) else str(k) for k in path)].append(path)
    descs, paths = [], []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(fields[draw(st.sampled_from(sorted(fields)))]))
        parent = _lookup(tree, path[:-1])
        new = draw(_number_for(parent[path[-1]], nan))
        parent[path[-1]] = new
        descs.append(f"set {'.'.join(map(str, path))} = {new!r}")
        paths.append(path)
    return tree, "; ".join(descs), any(is_surely_bad(_lookup(tree, p), p) for p in paths)


def dump_yaml(tree: Any) -> bytes:
    """``tree`` as block-style YAML (NaN as ``.nan``, keys in their order)."""
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8")


def dump_json(tree: Any) -> bytes:
    """``tree`` as JSON; NaN and infinities as Python's ``NaN``/``Infinity`` extension."""
    return json.dumps(tree).encode("utf-8")


# -- text and bytes --------------------------------------------------------------------------

ODD_CHARS = st.sampled_from(list(":-{}[]&*!|>'\"#%@`,\t\n ") + ["\x00", "\x1b", "\u2028", "\ufeff", "é"])


@st.composite
def text_mutations(draw: st.DrawFn, text: str) -> tuple[bytes, str]:
    """One raw-text mutation of ``text`` (YAML, CSV): truncate, insert a character or an
    invalid UTF-8 byte, delete a span, duplicate, drop or swap lines, shift indentation."""
    kind = draw(st.sampled_from(["truncate", "insert", "insert", "byte", "delete", "dup_line", "drop_line",
                                 "swap_lines", "indent"]))  # fmt: skip
    raw = text.encode("utf-8")
    at = draw(st.integers(0, len(text)))
    lines = text.splitlines(keepends=True)
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw)))], f"truncate at byte {at}"
    if kind == "insert":
        c = draw(st.one_of(ODD_CHARS, st.characters()))
        return (text[:at] + c + text[at:]).encode("utf-8", "surrogatepass"), f"insert {c!r} at {at}"
    if kind == "byte":
        b = draw(st.sampled_from([b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80"]))
        return raw[:at] + b + raw[at:], f"insert byte {b!r} at {at}"
    if kind == "delete":
        n = draw(st.integers(1, 40))
        return (text[:at] + text[at + n :]).encode("utf-8"), f"delete {n} chars at {at}"
    if not lines:
        return raw, "no lines"
    if kind == "dup_line":
        lines.insert(i, lines[i])
        desc = f"duplicate line {i + 1}"
    elif kind == "drop_line":
        del lines[i]
        desc = f"drop line {i + 1}"
    elif kind == "swap_lines":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        desc = f"swap lines {i + 1} and {j + 1}"
    else:
        lines[i] = " " * draw(st.integers(1, 5)) + lines[i]
        desc = f"indent line {i + 1}"
    return "".join(lines).encode("utf-8"), desc


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """One mutation of raw bytes: truncate, flip bits, zero or randomise a span, append or
    insert garbage."""
    kind = draw(st.sampled_from(["truncate", "flip", "flip", "zero", "random", "append", "insert"]))
    at = draw(st.integers(0, max(0, len(data) - 1)))
    if kind == "truncate":
        return data[:at], f"truncate to {at} bytes"
    if kind == "flip":
        out = bytearray(data)
        flips = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 7)), min_size=1, max_size=8))
        for pos, bit in flips:
            out[pos] ^= 1 << bit
        return bytes(out), f"flip bits {flips}"
    n = draw(st.integers(1, 512))
    junk = draw(st.binary(min_size=n, max_size=n))
    if kind == "zero":
        return data[:at] + bytes(n) + data[at + n :], f"zero {n} bytes at {at}"
    if kind == "random":
        return data[:at] + junk + data[at + n :], f"overwrite {n} bytes at {at}"
    if kind == "append":
        return data + junk, f"append {n} random bytes"
    return data[:at] + junk + data[at:], f"insert {n} random bytes at {at}"
