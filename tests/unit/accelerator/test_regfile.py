"""The register-file access model (accelerator.tech.regfile) in closed form: the table's Liberty
entries, the mux tree's shape, a two-word array worked by hand, the Eyeriss spads' numbers, and
its scaling: monotone in words and width, node and supply exactly as node_energy_factor."""

from __future__ import annotations

import math

import pytest

from accelerator.errors import SpecError
from accelerator.tech import node_energy_factor
from accelerator.tech.regfile import (
    address_bits,
    liberty_to_base,
    mux_tree_levels,
    regfile_table,
    register_file_access_pj,
    register_file_parts,
)

# Stillmaker & Baas 2017 Table 5, 45 nm: 1.103 V^2 - 0.362 V + 0.2767 is 1.213130 at 1.1 V and
# 0.844330 at 0.9 V: the library's 1.1 V energies are 0.844330 / 1.213130 of themselves at 0.9 V
LIB_TO_09V = 0.844330 / 1.213130
HALF_V2 = 0.5 * 0.9 * 0.9  # fJ per fF per net transition at 0.9 V


def _v(name: str) -> float:
    return float(regfile_table()[name]["value"])


def test_the_table_holds_the_liberty_entries() -> None:
    # MUX2_X1 at slew 0.0171859 ns, load 1.890660 fF: A->Z when !B & !S, fall + rise
    assert _v("mux_data_to_out_fj") == pytest.approx(3.401348 + 2.454628, abs=1e-6)
    # S->Z: mean of (!A & B) and (A & !B), fall + rise
    assert _v("mux_select_to_out_fj") == pytest.approx((4.704895 + 2.192189 + 2.947089 + 4.995101) / 2, abs=1e-6)
    # DFF_X1 D pin with the clock low: mean of (!Q) and (Q), fall + rise
    assert _v("flop_data_internal_fj") == pytest.approx((4.232647 + 3.057099 + 4.176186 + 3.017534) / 2, abs=1e-6)
    # DFF_X1 CK when the output changes (fall only; rise 0), and Q and QN per transition
    assert _v("flop_clock_output_change_fj") == pytest.approx((7.553889 + 7.510408) / 2, abs=1e-6)
    assert _v("flop_q_internal_fj") == pytest.approx((4.034732 + 4.307118) / 2, abs=1e-6)
    assert _v("flop_qn_internal_fj") == pytest.approx((4.352509 + 3.961932) / 2, abs=1e-6)
    pins = (_v("mux_data_pin_ff"), _v("mux_select_pin_ff"), _v("flop_data_pin_ff"), _v("decoder_input_pin_ff"))
    assert pins == (0.946420, 1.919942, 1.140290, 0.918145)
    assert _v("local_net_ff") == 1.89066 and _v("liberty_vdd_v") == 1.1
    assert liberty_to_base() == pytest.approx(LIB_TO_09V, rel=1e-6)


@pytest.mark.parametrize(
    ("words", "levels"),
    [(1, ()), (2, (1,)), (3, (1, 1)), (4, (2, 1)), (12, (6, 3, 1, 1)), (24, (12, 6, 3, 1, 1))],
)
def test_mux_tree_by_hand(words: int, levels: tuple[int, ...]) -> None:
    assert mux_tree_levels(words) == levels


def test_mux_tree_has_words_minus_one_muxes_in_log2_levels() -> None:
    for words in range(1, 300):
        levels = mux_tree_levels(words)
        assert sum(levels) == words - 1
        assert len(levels) == (math.ceil(math.log2(words)) if words > 1 else 0)
        assert address_bits(words) == len(levels)


def test_two_words_one_bit_by_hand() -> None:
    # one MUX2_X1 (level 1); random data and address, each bit toggling with probability 1/2
    p = register_file_parts(2, 1)
    assert p.read_select_fj == pytest.approx(0.5 * 1.919942 * HALF_V2, rel=1e-9)  # 0.388788
    # level 1: only its own select toggles it (prob 1/2), then the other word differs w.p. 1/2
    assert p.read_mux_fj == pytest.approx(0.5 * 0.5 * 7.419637 * LIB_TO_09V / 2, rel=1e-6)  # 0.645502
    assert p.read_net_fj == pytest.approx(0.5 * 0.5 * 1.89066 * HALF_V2, rel=1e-9)  # 0.191429
    assert p.read_fj == pytest.approx(1.225720, abs=1e-5)
    # the bus drives both words' D pins; one flop's output changes; one address bit into 2 gates
    assert p.write_bus_fj == pytest.approx(0.5 * 2 * (1.140290 * HALF_V2 + 7.241733 * LIB_TO_09V / 2), rel=1e-6)
    change = 7.5321485 - 6.8727 + 4.170925 + 4.1572205  # CK excess over the held output, Q, QN
    assert p.write_flop_fj == pytest.approx(0.5 * (change * LIB_TO_09V + 1.89066 * HALF_V2), rel=1e-6)
    assert p.write_decode_fj == pytest.approx(0.5 * 1 * 2 * 0.918145 * HALF_V2, rel=1e-9)
    assert p.write_fj == pytest.approx(6.864274, abs=1e-5)


def test_higher_levels_add_the_data_arc() -> None:
    # three words: level 2's mux toggles by its own select (1/2) or, its select held (1/2), by the
    # level-1 mux below it changing (1 - 1/2): arcs = 1/2 E_S + 1/4 E_A, times p_d = 1/2 and s / 2
    p = register_file_parts(3, 1)
    level1 = 0.5 * (0.5 * 7.419637) * LIB_TO_09V / 2
    level2 = 0.5 * (0.5 * 7.419637 + 0.25 * 5.855976) * LIB_TO_09V / 2
    assert p.read_mux_fj == pytest.approx(level1 + level2, rel=1e-6)
    # nets: level 1 toggles w.p. 1/2 * 1/2, level 2 w.p. 1/2 * (1 - 1/4)
    assert p.read_net_fj == pytest.approx((0.25 + 0.375) * 1.89066 * HALF_V2, rel=1e-9)


def test_eyeriss_register_spads_at_65nm_1v() -> None:
    # ifmap spad 12 x 16 b and psum spad 24 x 16 b (Chen et al., JSSC 2017, Sec. V-C), 65 nm, 1 V;
    # the values were worked out apart from the module, from the table's formula
    ifmap = register_file_access_pj(12, 16, 65, 1.0)
    psum = register_file_access_pj(24, 16, 65, 1.0)
    assert (ifmap.read_pj, ifmap.write_pj) == pytest.approx((0.395612, 0.554294), abs=1e-5)
    assert (psum.read_pj, psum.write_pj) == pytest.approx((0.836538, 1.027017), abs=1e-5)


def test_monotone_in_words_and_width() -> None:
    reads = [register_file_access_pj(w, 16, 45, 0.9).read_pj for w in range(1, 130)]
    writes = [register_file_access_pj(w, 16, 45, 0.9).write_pj for w in range(1, 130)]
    assert all(b > a for a, b in zip(reads, reads[1:], strict=False))
    assert all(b > a for a, b in zip(writes, writes[1:], strict=False))
    for width in (1, 2, 8, 16, 32):
        a, b = register_file_access_pj(24, width, 45, 0.9), register_file_access_pj(24, width + 1, 45, 0.9)
        assert b.read_pj > a.read_pj and b.write_pj > a.write_pj
    # a read is all per bit: exactly proportional to the width
    assert register_file_access_pj(24, 32, 45, 0.9).read_pj == pytest.approx(
        2 * register_file_access_pj(24, 16, 45, 0.9).read_pj, rel=1e-12
    )


@pytest.mark.parametrize(("node", "vdd"), [(65, 1.0), (65, None), (32, 0.9), (7, 0.7), (130, 1.3)])
def test_node_and_supply_scale_as_node_energy_factor(node: float, vdd: float | None) -> None:
    base = register_file_access_pj(24, 16, 45, 0.9)
    other = register_file_access_pj(24, 16, node, vdd)
    f = node_energy_factor(node, vdd)
    assert other.read_pj == pytest.approx(base.read_pj * f, rel=1e-12)
    assert other.write_pj == pytest.approx(base.write_pj * f, rel=1e-12)
    assert base.read_pj == pytest.approx(register_file_parts(24, 16).read_fj * 1e-3, rel=1e-12)


@pytest.mark.parametrize(("words", "width"), [(0, 16), (12, 0), (-3, 16), (2.5, 16), (True, 16)])
def test_bad_sizes_are_refused(words: int, width: int) -> None:
    with pytest.raises(SpecError, match="expected a positive integer"):
        register_file_access_pj(words, width, 45, 0.9)


def test_unknown_node_is_refused() -> None:
    with pytest.raises(SpecError, match="no scaling data"):
        register_file_access_pj(12, 16, 28, 0.9)
