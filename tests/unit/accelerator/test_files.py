"""Atomic output files: all or nothing, with clean errors that name the path and the cause."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accelerator import files
from accelerator.files import OutputError, ensure_out_dir, write_bytes_atomic, write_text_atomic


def test_writes_and_replaces(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "results.json"
    write_text_atomic(p, "one")
    write_text_atomic(p, "two")
    assert p.read_text() == "two"
    assert sorted(x.name for x in p.parent.iterdir()) == ["results.json"]  # no temporary left


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    p = write_bytes_atomic(tmp_path / "a.bin", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "results.json"
    p.write_text("old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OutputError, match="no space left on the device; the previous file"):
        write_text_atomic(p, "new, and longer than what fits")
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["results.json"]


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "out"
    f.write_text("")
    with pytest.raises(OutputError, match="must be a folder"):
        ensure_out_dir(f)
    with pytest.raises(OutputError, match="cannot create the output folder: a parent of it is a file"):
        ensure_out_dir(f / "sub")


def test_a_folder_is_not_a_file_path(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"):
        write_text_atomic(tmp_path, "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_unwritable_out_dir(tmp_path: Path) -> None:
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    with pytest.raises(OutputError, match="permission denied"):
        ensure_out_dir(d)


def test_packaged_scenario_finds_committed_inputs_and_names_missing_ones() -> None:
    from accelerator.files import PackagedInputError, packaged_scenario

    ladder = packaged_scenario("thousandfold.yaml")
    assert ladder.is_file() and ladder.read_bytes().startswith(b"#")
    assert packaged_scenario("arch").is_dir()
    with pytest.raises(PackagedInputError, match=r"scenarios/no-such\.yaml: not in the installed package"):
        packaged_scenario("no-such.yaml")


def test_a_missing_scenarios_path_names_the_installed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a checkout the README's ``scenarios/quickstart.yaml`` is missing: the message says
    where the installed copy is, and the file is still reported missing (never substituted)."""
    from accelerator.errors import SpecError
    from accelerator.files import input_file_message, input_problem, packaged_scenario
    from accelerator.yamlpos import load_yaml

    monkeypatch.chdir(tmp_path)
    copy = packaged_scenario("quickstart.yaml")
    problem = input_problem("scenarios/quickstart.yaml")
    assert problem == f"no such file; picojoule's committed copy is installed at {copy} (give that path to use it)"
    with pytest.raises(SpecError, match=r"^scenarios/quickstart\.yaml: no such file; .* installed at "):
        load_yaml("scenarios/quickstart.yaml")
    message = input_file_message("scenario", "scenarios/quickstart.yaml", tmp_path, problem)
    assert message.startswith(f"no such scenario file 'scenarios/quickstart.yaml' (relative to {tmp_path}); ")
    assert str(copy) in message
    # no hint: not under scenarios/, absolute, or a name the package does not hold
    assert input_problem("quickstart.yaml") == "no such file"
    assert input_problem(tmp_path / "scenarios" / "quickstart.yaml") == "no such file"
    assert input_problem("scenarios/no-such.yaml") == "no such file"
    assert input_problem("scenarios/arch") == "no such file"  # a folder of the package, not a file
