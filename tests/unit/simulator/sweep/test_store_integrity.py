"""A results store that is not picojoule's, or is damaged, is refused cleanly and left untouched;
a bad --out fails before any work; stores written before the format row still open."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sweep_support import write_sweep

from simulator.cli import main
from simulator.sweep.driver import run_sweep
from simulator.sweep.store import FORMAT_NAME, Record, ResultStore, StoreError


def _rec(key: str) -> Record:
    return Record(key=key, point_id="p" + key, workload="tiny", status="done", attempts=1,
                  params={"compute.rows": 8}, metrics={"energy_j_per_image": 0.5}, feasible=True,
                  error=None, eval_s=0.01, worker="w1", arch={"name": "a" * 300})  # fmt: skip


def _good_store(path: Path, rows: int = 300) -> Path:
    with ResultStore(path) as store:
        store.write([_rec(f"k{i}") for i in range(rows)])
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, as after a clean exit
    con.close()
    return path


def _text(p: Path) -> None:
    p.write_text("point_id,workload\n" * 50, encoding="utf-8")


def _other_program(p: Path) -> None:
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE songs (title TEXT, seconds REAL)")
    con.execute("INSERT INTO songs VALUES ('x', 1.5)")
    con.commit()
    con.close()


def _same_names_other_columns(p: Path) -> None:
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE meta (name TEXT, value TEXT)")
    con.execute("CREATE TABLE results (a, b)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.commit()
    con.close()


def _newer_schema(p: Path) -> None:
    _good_store(p)
    con = sqlite3.connect(p)
    con.execute("UPDATE meta SET value = '7' WHERE name = 'schema_version'")
    con.commit()
    con.close()


def _other_format(p: Path) -> None:
    _good_store(p)
    con = sqlite3.connect(p)
    con.execute("UPDATE meta SET value = 'someone.else' WHERE name = 'format'")
    con.commit()
    con.close()


def _truncated(p: Path) -> None:
    _good_store(p)
    with p.open("r+b") as f:
        f.truncate(p.stat().st_size // 2)


def _corrupt_pages(p: Path) -> None:
    _good_store(p)
    with p.open("r+b") as f:
        f.seek(5000)
        f.write(bytes(range(256)) * 80)


def _corrupt_header(p: Path) -> None:
    _good_store(p)
    with p.open("r+b") as f:
        f.write(b"\0" * 100)


VARIANTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "text file": (_text, r"not a picojoule results store \(not a SQLite file\)"),
    "other program's SQLite": (_other_program, r"its tables are songs; a store has meta and results"),
    "same table names": (_same_names_other_columns, r"table results has columns a, b; a picojoule store has key,"),
    "newer schema": (_newer_schema, r"results store schema '7'; this picojoule reads and writes 1"),
    "other format": (_other_format, r"meta.format is 'someone.else', not 'picojoule.sweep_store'"),
    "truncated": (_truncated, r"corrupt"),
    "corrupt pages": (_corrupt_pages, r"corrupt"),
    "corrupt header": (_corrupt_header, r"not a SQLite file"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_bad_store_is_refused_naming_the_file_and_left_as_it_was(tmp_path: Path, variant: str) -> None:
    make, message = VARIANTS[variant]
    path = tmp_path / "results.sqlite"
    make(path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=message) as info:
        ResultStore(path).close()
    assert str(info.value).startswith(f"{path}: ")
    assert "move the file away" in str(info.value) and "another --out" in str(info.value)
    assert path.read_bytes() == before  # nothing written into somebody else's file


@pytest.mark.parametrize("variant", ["text file", "other program's SQLite", "truncated", "corrupt pages"])
def test_sweep_on_a_bad_store_exits_2_with_one_paragraph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], variant: str
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    VARIANTS[variant][0](out / "results.sqlite")
    code = main(["sweep", str(write_sweep(tmp_path)), "--out", str(out), "--executor", "serial", "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(f"error: {out / 'results.sqlite'}: ") and "Traceback" not in err
    assert err.strip().count("\n") == 0  # one paragraph
    assert not (out / "results.csv").exists()  # refused before any evaluation


def test_a_zero_byte_file_is_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    path.touch()  # what a crash right after creating the file leaves: SQLite reads it as empty
    with ResultStore(path) as store:
        store.write([_rec("a")])
    with ResultStore(path) as store:
        assert store.recorded(["a"]) == {"a": "done"}
        assert store.conn.execute("SELECT value FROM meta WHERE name='format'").fetchone() == (FORMAT_NAME,)


def test_a_store_without_the_format_row_still_opens(tmp_path: Path) -> None:
    path = _good_store(tmp_path / "results.sqlite", rows=3)
    con = sqlite3.connect(path)  # as the first picojoule versions wrote it: schema_version only
    con.execute("DELETE FROM meta WHERE name = 'format'")
    con.commit()
    con.close()
    with ResultStore(path) as store:
        assert store.recorded(["k0", "k2", "x"]) == {"k0": "done", "k2": "done"}
        store.write([_rec("new")])
        assert len(list(store.records())) == 4


def test_a_sweep_resumes_on_a_store_without_the_format_row(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    first = run_sweep(sweep, tmp_path / "o", executor="serial", report=False)
    con = sqlite3.connect(tmp_path / "o" / "results.sqlite")
    con.execute("DELETE FROM meta WHERE name = 'format'")
    con.commit()
    con.close()
    again = run_sweep(sweep, tmp_path / "o", executor="serial", report=False)
    assert again.evaluated == 0 and again.skipped_already_done == first.points == 12


def test_a_folder_named_like_the_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "results.sqlite").mkdir()
    with pytest.raises(StoreError, match="is a folder, not a results store"):
        ResultStore(tmp_path / "results.sqlite")


def test_a_full_disk_while_writing_is_a_store_error(tmp_path: Path) -> None:
    path = _good_store(tmp_path / "results.sqlite", rows=3)
    with ResultStore(path) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
        with pytest.raises(StoreError, match=f"^{path}: cannot write to the results store: database or disk is full"):
            store.write([_rec(f"n{i}") for i in range(200)])
        assert len(list(store.records())) == 3  # the transaction left nothing half-written


@pytest.mark.parametrize("kind", ["file", "under a file"])
def test_an_out_that_cannot_be_a_folder_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker if kind == "file" else blocker / "sub"
    code = main(["sweep", str(write_sweep(tmp_path)), "--out", str(out), "--executor", "serial", "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"error: {out}: ")
    assert ("--out must be a folder" if kind == "file" else "a parent of it is a file") in err
    assert blocker.read_text(encoding="utf-8") == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_out_fails_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code = main(["sweep", str(write_sweep(tmp_path)), "--out", str(out), "--executor", "serial"])
    finally:
        out.chmod(0o700)
    _, err = capsys.readouterr()
    assert code == 2 and "permission denied" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_copies_of_a_good_store_open(tmp_path: Path) -> None:
    """The damage tests above are not passing because every store is refused."""
    path = _good_store(tmp_path / "a.sqlite")
    shutil.copy(path, tmp_path / "b.sqlite")
    with ResultStore(tmp_path / "b.sqlite") as store:
        assert len(list(store.records())) == 300
