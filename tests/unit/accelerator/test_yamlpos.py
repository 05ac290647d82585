"""Bounded YAML loading: inputs that would expand without limit are located errors, in bounded time."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator import yamlpos
from accelerator.errors import SpecError
from accelerator.yamlpos import MAX_DEPTH, MAX_NODES, load_yaml, parse_yaml


def _laughs(levels: int) -> str:
    """The 'billion laughs': each level refers to the previous one ten times."""
    lines = ["l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_positions_and_plain_aliases_still_work() -> None:
    data, pos = parse_yaml("a: &x {b: 1}\nc: *x\nd:\n  - 2\n", "f.yaml")
    assert data == {"a": {"b": 1}, "c": {"b": 1}, "d": [2]}
    assert pos.line_of("d.0") == 4 and pos.line_of("c") == 2
    assert pos.line_of("c.b") == 1  # an aliased value is located where its anchor defines it


def test_alias_expansion_is_bounded() -> None:
    with pytest.raises(SpecError, match=f"more than {MAX_NODES:,} values") as exc:
        parse_yaml(_laughs(7), "laughs.yaml")  # 10^7 values if expanded
    assert str(exc.value).startswith("laughs.yaml:")


def test_an_expansion_just_under_the_limit_loads() -> None:
    data, _ = parse_yaml(_laughs(4), "f.yaml")  # 1 + 10 + 100 + 1000 + ... values, well under
    assert len(data["l3"]) == 10 and data["l3"][9][9][9] == [1] * 10


@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a {b: *a}\n"])
def test_recursive_aliases_are_errors(text: str) -> None:
    with pytest.raises(SpecError, match="recursive alias"):
        parse_yaml(text, "f.yaml")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 100_000])
def test_deep_nesting_is_an_error(depth: int) -> None:
    with pytest.raises(SpecError, match=f"{MAX_DEPTH} levels"):
        parse_yaml("a: " + "[" * depth + "]" * depth + "\n", "f.yaml")


def test_nesting_at_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1  # the top mapping is one level
    data, _ = parse_yaml("a: " + "[" * depth + "]" * depth + "\n", "f.yaml")
    assert data["a"] is not None


def test_oversized_files_are_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlpos, "MAX_YAML_BYTES", 64)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 100 + "\n")
    with pytest.raises(SpecError, match="larger than"):
        load_yaml(big)
    with pytest.raises(SpecError, match="larger than"):
        parse_yaml(big.read_text(), "big.yaml")


def test_a_folder_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a folder"):
        load_yaml(tmp_path)
