"""rtl.cli: the ``rtl`` sub-commands parse, and tool checks explain themselves."""

from __future__ import annotations

import argparse

import pytest

from accelerator.errors import SimulationError
from rtl.cli import MUTANTS, build_name, missing_tools, register


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="picojoule")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_rtl_subcommands_parse() -> None:
    p = _parser()
    args = p.parse_args(["rtl", "test", "--rows", "2", "--mutants"])
    assert (args.rows, args.cols, args.mutants, args.sim) == (2, 4, True, None)
    assert callable(args.func)
    args = p.parse_args(["rtl", "activity", "--modes", "int4", "--sparsities", "0", "0.9"])
    assert args.modes == ["int4"] and args.sparsities == [0.0, 0.9]
    assert callable(p.parse_args(["rtl", "area"]).func)


def test_bad_shape_is_a_user_error() -> None:
    args = _parser().parse_args(["rtl", "area", "--rows", "0"])
    with pytest.raises(SimulationError, match="0x4"):
        args.func(args)


def test_unknown_simulator_is_explained() -> None:
    assert "unknown simulator" in (missing_tools("ghdl") or "")


def test_build_names_keep_flavours_apart() -> None:
    names = {build_name(4, 4, "verilator"), build_name(4, 4, "verilator", saif=True),
             build_name(4, 4, "verilator", ["PE_MUTATION"]), build_name(3, 2, "icarus")}
    assert len(names) == 4
    assert all(m.startswith("pe_mutant_") for m in MUTANTS)


def test_area_model_is_the_simulators_pe() -> None:
    from rtl.cli import model_pe_area_um2

    # INT8 multiplier 282 + INT32 adder 137 + 32 register bits x 4.5 um^2 (area_45nm.yaml)
    assert model_pe_area_um2() == pytest.approx(282 + 137 + 32 * 4.5)
