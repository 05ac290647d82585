"""Hand-written workloads: layer-list YAML and SCALE-Sim topology CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from models.layers import load_layers_yaml, load_scalesim_csv

ROOT = Path(__file__).resolve().parents[3]


def test_scalesim_csv_conv_shapes() -> None:
    w = load_scalesim_csv(ROOT / "scenarios/workloads/resnet18-head.scalesim.csv")
    conv1 = w.ops[0]
    # SCALE-Sim: no padding; (230 − 7)//2 + 1 = 112 output rows and columns.
    assert conv1.output_shape == (1, 64, 112, 112)
    assert conv1.gemm == (1, 112 * 112, 64, 3 * 7 * 7)
    assert conv1.macs == 112 * 112 * 64 * 147
    fc = w.ops[-1]
    assert fc.macs == 512 * 1000
    assert len(w.ops) == 5


def test_layer_yaml(tmp_path: Path) -> None:
    w = load_layers_yaml(ROOT / "scenarios/workloads/dit-block.layers.yaml")
    attn = w.ops[1]
    assert attn.kind == "attention" and attn.macs == 2 * 6 * 256 * 256 * 64
    assert w.macs_per_step == 256 * 384 * (1152 + 384 + 1536 + 1536) + 2 * 6 * 256 * 256 * 64
    p = tmp_path / "l.yaml"
    p.write_text("name: x\nlayers:\n  - {name: c, type: conv, C: 3, H: 8, W: 8, K: 4, R: 3, S: 3, padding: 1}\n")
    conv = load_layers_yaml(p).ops[0]
    assert conv.output_shape == (1, 4, 8, 8) and conv.macs == 64 * 4 * 27


def test_bad_layer_files_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "name: x\nlayers:\n  - {name: a, type: gemm, M: 4, N: 4, K: 4}\n  - {name: b, type: gemm, M: 0, N: 4, K: 4}\n"
    )
    with pytest.raises(SpecError, match=r"bad.yaml:4 layers.1.gemm.M"):
        load_layers_yaml(p)
    p.write_text("name: x\nlayers:\n  - {name: a, type: pool, M: 4}\n")
    with pytest.raises(SpecError, match=r"bad.yaml:3 layers.0"):
        load_layers_yaml(p)
    c = tmp_path / "bad.csv"
    c.write_text("Layer, M, N, K,\nfc, 4, x, 4,\n")
    with pytest.raises(SpecError, match=r"bad.csv:2: column 'N': expected a positive integer, got 'x'"):
        load_scalesim_csv(c)
    c.write_text("A, B\n1, 2\n")
    with pytest.raises(SpecError, match="unrecognised header"):
        load_scalesim_csv(c)
