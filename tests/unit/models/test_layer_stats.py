"""Statistics a layer list carries (``act_zero_frac``, ``out_zero_frac``): per op and step in the
workload, round-tripped through the workload file, bounded with located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from models.layers import load_layers_yaml
from models.workload import STAT_FIELDS, STAT_RANGES, load, save

ROOT = Path(__file__).resolve().parents[3]
TWO = (
    "name: two\nsteps: 3\nlayers:\n"
    "  - {name: A, type: conv, N: 1, C: 4, H: 8, W: 8, K: 4, R: 3, S: 3, act_zero_frac: 0.25, out_zero_frac: 1}\n"
    "  - {name: B, type: gemm, M: 8, N: 8, K: 8, act_zero_frac: 0.5}\n"
)


def test_out_zero_frac_is_a_bounded_statistic() -> None:
    assert "out_zero_frac" in STAT_FIELDS
    assert STAT_RANGES["out_zero_frac"] == (0.0, 1.0)


def test_layer_stats_become_the_workloads_and_round_trip(tmp_path: Path) -> None:
    (tmp_path / "two.layers.yaml").write_text(TWO, encoding="utf-8")
    w = load_layers_yaml(tmp_path / "two.layers.yaml")
    assert w.stats["act_zero_frac"] == ((0.25, 0.5),) * 3  # every step alike
    assert w.stats["out_zero_frac"] == ((1.0, None),) * 3  # B gives none: not recorded
    assert w.stat("out_zero_frac", 2, 0) == 1.0 and w.stat("out_zero_frac", 0, 1) is None
    back = load(save(w, tmp_path / "two.json.gz"))
    assert back.stats == w.stats


def test_a_list_without_stats_has_none() -> None:
    w = load_layers_yaml(ROOT / "scenarios/workloads/dit-block.layers.yaml")
    assert dict(w.stats) == {}


def test_eyeriss_layers_carry_table_v_zeros() -> None:
    w = load_layers_yaml(ROOT / "scenarios/validation/alexnet-conv-b4.layers.yaml")
    # JSSC 2017 Table V "zeros in ifmaps" (%): 0.01, 38.7, 72.5, 79.3, 77.6
    assert w.stats["act_zero_frac"] == ((0.0001, 0.387, 0.725, 0.793, 0.776),)
    assert w.stats["out_zero_frac"] == ((0.387, 0.725, 0.793, 0.776, None),)


@pytest.mark.parametrize(
    "value,message",
    [
        ("1.5", "at most 1"),
        ("-0.1", "at least 0"),
        ("true", "a bool or a string is not one"),
        ("'0.5'", "a bool or a string is not one"),
        (".nan", "finite"),
    ],
)
def test_bad_stat_names_its_line_and_field(tmp_path: Path, value: str, message: str) -> None:
    text = TWO.replace("out_zero_frac: 1}", f"out_zero_frac: {value}}}")
    (tmp_path / "bad.layers.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_layers_yaml(tmp_path / "bad.layers.yaml")
    assert err.value.line == 4
    assert "layers.0.conv.out_zero_frac" in str(err.value) and message in str(err.value)
