"""``memory.dram.compression`` through :func:`simulator.evaluate`: a layer list's zero fractions
code DRAM's fmaps in closed form; a design whose memory model does not apply the code, or whose
values are not the activations' width, is refused at the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import parse_arch
from models.layers import load_layers_yaml
from simulator.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[5]
VAL = ROOT / "scenarios" / "validation"
# one search (the file's restarts left out): the closed forms below hold for any mapping
RLC = (VAL / "eyeriss-rlc.yaml").read_text(encoding="utf-8").replace("\n  restarts: 128\n", "\n")
assert "restarts" not in RLC.split("\nmapping:\n")[1]
CODE = RLC[RLC.index("    compression:") : RLC.index("    operands: [act, out]\n") + len("    operands: [act, out]\n")]
PLAIN = RLC.replace(CODE, "")
# One small conv that fits the 108 kB GLB whole: DRAM reads its input and weights once and takes
# its output once. Elements: input 8·10·10 = 800, weights 8·8·3·3 = 576, output 8·8·8 = 512 (no
# padding: the engine counts a padded input's halo among the bytes it moves).
LAYER = (
    "name: one\nsteps: 1\nlayers:\n  - {name: c, type: conv, N: 1, C: 8, H: 10, W: 10, K: 8, R: 3, S: 3, "
    "act_zero_frac: 0.5, out_zero_frac: 0.75}\n"
)
N_IN, N_W, N_OUT = 800, 576, 512


def _bits(z: float) -> float:
    """Eyeriss's code (JSSC 2017 Sec. IV-B) per element: 64/3 bits per pair, (1 − z³²)/(1 − z)
    elements per pair (runs of up to 31 zeros), written out here apart from the engine's."""
    return 64 / 3 * (1 - z) / (1 - z**32)


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("one") / "one.layers.yaml"
    path.write_text(LAYER, encoding="utf-8")
    return path


def test_coded_dram_bytes_are_the_closed_form(layer: Path) -> None:
    workload = load_layers_yaml(layer)
    plain = evaluate(workload, parse_arch(PLAIN)).per_op[0].traffic_bytes["dram"]
    assert plain == 2 * (N_IN + N_W + N_OUT)  # 16-bit words, each tensor once
    coded = evaluate(workload, parse_arch(RLC)).per_op[0].traffic_bytes["dram"]
    assert coded == pytest.approx((N_IN * _bits(0.5) + N_OUT * _bits(0.75)) / 8 + 2 * N_W, rel=1e-12)
    # only the inputs coded: the outputs move plain
    act_only = parse_arch(RLC.replace("operands: [act, out]", "operands: [act]"))
    coded_in = evaluate(workload, act_only).per_op[0].traffic_bytes["dram"]
    assert coded_in == pytest.approx(N_IN * _bits(0.5) / 8 + 2 * (N_W + N_OUT), rel=1e-12)


def test_no_zeros_costs_the_codes_overhead(tmp_path: Path) -> None:
    path = tmp_path / "dense.layers.yaml"
    path.write_text(LAYER.replace(", act_zero_frac: 0.5, out_zero_frac: 0.75", ""), encoding="utf-8")
    coded = evaluate(load_layers_yaml(path), parse_arch(RLC)).per_op[0].traffic_bytes["dram"]
    # no statistics: no zeros, 64/3 bits per 16-bit element (4/3 the plain bytes)
    assert coded == pytest.approx((N_IN + N_OUT) * 64 / 3 / 8 + 2 * N_W, rel=1e-12)


def test_one_level_design_is_refused_at_the_field() -> None:
    text = (
        (VAL / "eyeriss.yaml")
        .read_text(encoding="utf-8")
        .replace("    efficiency: 1.0\n", "    efficiency: 1.0\n" + CODE)
    )
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith("compression:"))
    with pytest.raises(SpecError) as err:  # refused when the spec is read, at the field's line
        parse_arch(text)
    assert err.value.field == "memory.dram.compression" and err.value.line == line
    assert "nest memory model only (mapping.memory_model: nest)" in str(err.value)


def test_values_wider_than_the_activations_are_refused() -> None:
    with pytest.raises(SpecError) as err:
        parse_arch(RLC.replace("value_bits: 16", "value_bits: 8"))
    assert err.value.field == "memory.dram.compression.value_bits"
    assert "allowed: 16" in str(err.value)
