"""YAML loading that remembers where every value came from.

``load_yaml(path)`` returns plain Python data (dicts, lists, scalars) and a :class:`Positions`
table mapping each dotted field path (``memory.glb.size_bytes``, ``levels.0.name``) to its
1-based line number, so validation errors can say ``file:line field``.

Loading is bounded, so no input can hang or exhaust memory: files larger than
:data:`MAX_YAML_BYTES`, nesting deeper than :data:`MAX_DEPTH`, documents that expand (through
aliases) to more than :data:`MAX_NODES` values, and aliases that refer to themselves are
errors that name the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from accelerator.errors import SpecError
from accelerator.files import input_problem

MAX_YAML_BYTES = 8 * 1024 * 1024
"""Largest YAML input read (bytes): hand-written specs, scenarios and layer lists are far smaller."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (a spec needs fewer than 10 levels)."""
MAX_NODES = 250_000
"""Most values a document may expand to, aliases counted each time they are used (a
1,000-layer list is about 15,000)."""


@dataclass(frozen=True)
class Positions:
    """Line numbers (1-based) of every dotted path in one YAML document."""

    file: str
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, dotted: str) -> int | None:
        """Line of ``dotted`` or of its nearest ancestor that has one."""
        path = dotted
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0]
        return self.lines.get("")

    def error(self, dotted: str, message: str) -> SpecError:
        """A :class:`SpecError` located at ``dotted``."""
        return SpecError(message, file=self.file, line=self.line_of(dotted), field=dotted or None)


@dataclass
class _Budget:
    """What is left of :data:`MAX_NODES`, and the nodes on the path being walked."""

    nodes: int = MAX_NODES
    ancestors: set[int] = field(default_factory=set)


def _walk(node: yaml.Node, path: str, lines: dict[str, int], budget: _Budget) -> Any:
    line = node.start_mark.line + 1
    lines.setdefault(path, line)
    budget.nodes -= 1
    if budget.nodes < 0:
        raise SpecError(
            f"the document expands to more than {MAX_NODES:,} values (aliases are counted each time "
            "they are used); split it or use fewer aliases",
            line=line,
            field=path or None,
        )
    if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        return _scalar(node)
    if id(node) in budget.ancestors:
        raise SpecError("an alias refers to a value that contains it (recursive alias)", line=line, field=path or None)
    if len(budget.ancestors) >= MAX_DEPTH:
        raise SpecError(f"nested deeper than {MAX_DEPTH} levels", line=line, field=path or None)
    budget.ancestors.add(id(node))
    try:
        return _walk_collection(node, path, lines, budget)
    finally:
        budget.ancestors.discard(id(node))


def _walk_collection(node: yaml.Node, path: str, lines: dict[str, int], budget: _Budget) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key, str) or not isinstance(key_node, yaml.ScalarNode):
                raise SpecError(f"mapping keys must be plain strings, got {key!r}", line=key_node.start_mark.line + 1)
            child = f"{path}.{key}" if path else key
            if key in out:
                raise SpecError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1, field=child)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, child, lines, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = f"{path}.{i}" if path else str(i)
            lines[child] = item.start_mark.line + 1
            items.append(_walk(item, child, lines, budget))
        return items
    raise AssertionError(f"not a collection node: {node!r}")


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def parse_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML ``text`` (named ``file`` in errors) into data and positions."""
    if len(text) > MAX_YAML_BYTES:
        raise SpecError(
            f"the file is larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB; not a YAML input of ours", file=file
        )
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise SpecError(f"nested too deeply (the limit is {MAX_DEPTH} levels)", file=file) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"not valid YAML: {problem}", file=file, line=line) from None
    lines: dict[str, int] = {}
    if node is None:
        raise SpecError("the file is empty; expected a YAML mapping", file=file, line=1)
    try:
        data = _walk(node, "", lines, _Budget())
    except SpecError as exc:
        raise SpecError(exc.detail, file=file, line=exc.line, field=exc.field) from None
    return data, Positions(file=file, lines=lines)


def load_yaml(path: str | Path) -> tuple[Any, Positions]:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`SpecError`.

    Only regular files are read (a device or a named pipe would never end), at most
    :data:`MAX_YAML_BYTES` of them."""
    p = Path(path)
    shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
    problem = input_problem(p)
    if problem is not None:
        raise SpecError(problem, file=shown)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", file=shown) from None
    if len(raw) > MAX_YAML_BYTES:
        raise SpecError(
            f"the file is larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB; not a YAML input of ours", file=shown
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start}: {exc.reason})", file=shown) from None
    return parse_yaml(text, str(path))
