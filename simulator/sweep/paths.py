"""Dotted paths into architecture data: ``compute.rows``, ``memory.levels.glb.size_bytes``.

A path step into a list is an index (``levels.1``) or, for lists of named mappings such as
memory levels, a name (``levels.glb``). :func:`resolve_path` turns a written path into keys
and indices; :func:`set_path` returns a new mapping with one value replaced, copying only the
containers along the path so design points share the rest with the base.
"""

from __future__ import annotations

from typing import Any

Path_ = tuple[str | int, ...]


def resolve_path(data: Any, dotted: str) -> Path_:
    """Keys and indices of ``dotted`` in ``data``; raises KeyError saying which step is wrong."""
    out: list[str | int] = []
    node = data
    for step in dotted.split("."):
        if isinstance(node, dict):
            if step not in node:
                raise KeyError(
                    f"{'.'.join(map(str, out)) or 'the arch'} has no field {step!r} (fields: {', '.join(node)})"
                )
            out.append(step)
            node = node[step]
        elif isinstance(node, (list, tuple)):
            if step.isdigit() and int(step) < len(node):
                index = int(step)
            else:
                names = [item.get("name") if isinstance(item, dict) else None for item in node]
                if step not in names:
                    raise KeyError(
                        f"{'.'.join(map(str, out))} has no entry {step!r} "
                        f"(entries: {', '.join(str(n) for n in names)} or 0..{len(node) - 1})"
                    )
                index = names.index(step)
            out.append(index)
            node = node[index]
        else:
            raise KeyError(f"{'.'.join(map(str, out))} is a value, not a mapping (no field {step!r})")
    return tuple(out)


def get_path(data: Any, path: Path_, default: Any = None) -> Any:
    """The value at ``path`` or ``default`` when a step is missing."""
    node = data
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def set_path(data: Any, path: Path_, value: Any) -> Any:
    """A copy of ``data`` with ``value`` at ``path``; missing mappings on the way are created."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, (list, tuple)) and isinstance(head, int):
        items = list(data)
        items[head] = set_path(items[head], rest, value)
        return items
    node = dict(data) if isinstance(data, dict) else {}
    node[head] = set_path(node.get(head), rest, value)
    return node
