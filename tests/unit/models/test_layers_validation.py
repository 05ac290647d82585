"""Layer lists and SCALE-Sim CSVs that would give wrong numbers silently are refused (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from models.layers import load_layers_yaml, load_scalesim_csv

HEAD = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def _csv_error(tmp_path: Path, text: str | bytes) -> SpecError:
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(SpecError) as info:
        load_scalesim_csv(p)
    assert str(info.value).startswith(f"{p}:")
    return info.value


@pytest.mark.parametrize(
    "text, line, complaint",
    [
        (HEAD, 1, "a header but no layers"),
        (HEAD + "c1, 8, 8, 3, 3, 4, 4, 1, 7,\n", 2, "expected 8 columns"),  # an extra column is not dropped
        (HEAD + "c1, 8, 8, 3, 3, 4, 4,\n", 2, "expected 8 columns"),
        (HEAD + "c1, 8, , 3, 3, 4, 4, 1,\n", 2, "column 'IFMAP Width': expected a positive integer, got ''"),
        (HEAD + "c1, 8, 8, 3, 3, true, 4, 1,\n", 2, "column 'Channels': expected a positive integer, got 'true'"),
        (
            HEAD + "c1, 8, 8, 3, 3, 0, 4, 1,\n",
            2,
            "column 'Channels': expected an integer in [1, 1,048,576] (MAX_DIM), got 0",
        ),
        (HEAD + "c1, 8, 8, 3, 3, -4, 4, 1,\n", 2, "got '-4'"),
        (HEAD + "c1, 8, 8, 3, 3, 4.5, 4, 1,\n", 2, "got '4.5'"),
        (HEAD + "c1, 8, 8, 3, 3, 99999999, 4, 1,\n", 2, "MAX_DIM"),
        ("Layer, M, N, K, Sparsity,\nfc, 4, 4, 4, 2:4,\n", 1, "unrecognised header"),
        ("Layer, M, N, K,\nfc, 1048576, 1048576, 1048576,\n", 2, "MAX_MACS_PER_STEP"),
    ],
)
def test_bad_topologies_name_the_line_and_value(tmp_path: Path, text: str, line: int, complaint: str) -> None:
    err = _csv_error(tmp_path, text)
    assert err.line == line
    assert complaint in str(err)


def test_non_utf8_csv_is_refused_with_its_line(tmp_path: Path) -> None:
    err = _csv_error(tmp_path, HEAD.encode() + b"c\xe91, 8, 8, 3, 3, 4, 4, 1,\n")
    assert err.line == 2 and "not UTF-8" in str(err) and "0xe9" in str(err)


def test_a_valid_gemm_topology_still_reads(tmp_path: Path) -> None:
    p = tmp_path / "g.csv"
    p.write_text("Layer, M, N, K,\nfc, 4, 8, 16,\n")
    assert load_scalesim_csv(p).ops[0].macs == 4 * 8 * 16


@pytest.mark.parametrize(
    "layer, field, complaint",
    [
        ("{name: a, type: gemm, M: true, N: 4, K: 4}", "layers.0.gemm.M", "got True"),
        ("{name: a, type: gemm, M: 4.0, N: 4, K: 4}", "layers.0.gemm.M", "got 4.0"),
        ("{name: a, type: gemm, M: '4', N: 4, K: 4}", "layers.0.gemm.M", "got '4'"),
        ("{name: a, type: gemm, M: 2000000, N: 4, K: 4}", "layers.0.gemm.M", "1048576"),
        ("{name: a, type: conv, C: 6, H: 8, W: 8, K: 4, R: 3, S: 3, groups: 4}", "layers.0", "groups 4 must divide"),
        ("{name: a, type: gemm, M: 1048576, N: 1048576, K: 1048576}", "layers.0", "MAX_MACS_PER_STEP"),
    ],
)
def test_layer_yaml_is_strict_and_bounded(tmp_path: Path, layer: str, field: str, complaint: str) -> None:
    p = tmp_path / "l.yaml"
    p.write_text(f"name: x\nlayers:\n  - {layer}\n")
    with pytest.raises(SpecError) as info:
        load_layers_yaml(p)
    assert info.value.line == 3 and info.value.field == field
    assert complaint in str(info.value)


def test_layer_yaml_steps_are_bounded(tmp_path: Path) -> None:
    p = tmp_path / "l.yaml"
    p.write_text("name: x\nsteps: 100000\nlayers:\n  - {name: a, type: gemm, M: 4, N: 4, K: 4}\n")
    with pytest.raises(SpecError, match=r"l.yaml:2 steps: .*10000.*got 100000"):
        load_layers_yaml(p)
