"""A sweep's results store corrupted, then the sweep resumed (``picojoule sweep`` on the same
--out): damaged bytes, SQL edits of its tables and rows, other files in its place. Exit 2 must
name the store and leave it and the sweep's other outputs as they were (a store is user data);
exit 0 must give every design point."""

from __future__ import annotations

import csv
import itertools
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from fuzz_support import budgets, check, fuzz_settings, run_cli
from hypothesis import given, note
from hypothesis import strategies as st
from mutations import byte_mutations
from sweep_support import write_sweep

POINTS = 12  # sweep_support.SMALL_AXES on its one workload
SQL_EDITS = (
    "DROP TABLE meta",
    "DROP TABLE results",
    "DELETE FROM meta",
    "DELETE FROM results",
    "UPDATE meta SET value = 'other' WHERE name = 'format'",
    "UPDATE meta SET value = '99' WHERE name = 'schema_version'",
    "UPDATE results SET metrics = '{'",
    "UPDATE results SET metrics = NULL",
    "UPDATE results SET metrics = '{}'",
    "UPDATE results SET metrics = '[1, 2]'",
    """UPDATE results SET metrics = '{"energy_per_image": "NaN"}'""",
    "UPDATE results SET params = 'not json'",
    "UPDATE results SET arch = 'null'",
    "UPDATE results SET attempts = -1",
    "UPDATE results SET feasible = 'yes'",
    "UPDATE results SET eval_s = 'fast'",
    "UPDATE results SET key = key || 'x'",
    "UPDATE results SET workload = 'other'",
    "ALTER TABLE results ADD COLUMN extra TEXT",
    "ALTER TABLE results DROP COLUMN error",
    "CREATE TABLE other (x)",
    "PRAGMA user_version = 7",
)
_case = itertools.count()


@dataclass(frozen=True)
class GoodSweep:
    sweep: Path
    store: bytes
    kept: dict[str, bytes]  # results.csv, pareto.csv: must not change when the resume fails


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> GoodSweep:
    folder = tmp_path_factory.mktemp("good-sweep")
    sweep = write_sweep(folder)
    out = folder / "out"
    first = run_cli(["sweep", str(sweep), "--out", str(out), "--executor", "serial", "--no-progress"])
    assert first.code == 0, first.stderr
    kept = {name: (out / name).read_bytes() for name in ("results.csv", "pareto.csv")}
    return GoodSweep(sweep, (out / "results.sqlite").read_bytes(), kept)


def _other_program_db(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users VALUES (1, 'ada')")
    db.close()


@st.composite
def corruptions(draw: st.DrawFn, store: bytes) -> tuple[str, bytes]:
    """(description, the store's new bytes, or a WAL file's)."""
    kind = draw(st.sampled_from(["bytes", "bytes", "bytes", "file", "wal"]))
    if kind == "bytes":
        data, desc = draw(byte_mutations(store))
        return desc, data
    if kind == "wal":
        junk = draw(st.binary(min_size=0, max_size=4096))
        return f"WAL: {len(junk)} random bytes in results.sqlite-wal", junk
    name, data = draw(
        st.sampled_from(
            [
                ("empty file", b""),
                ("only the SQLite header", store[:100]),
                ("text", b"not a database\n"),
                ("random bytes", bytes(range(256)) * 16),
                ("another program's SQLite database", b"other"),
            ]
        )
    )
    return name, data


def _resume(good: GoodSweep, out: Path, desc: str) -> None:
    """Resume the sweep on ``out``, whose store was damaged as ``desc`` says, and check it."""
    store = out / "results.sqlite"
    before = store.read_bytes()
    outcome = run_cli(["sweep", str(good.sweep), "--out", str(out), "--executor", "serial", "--no-progress"])
    check("results store: sweep (resume)", outcome, names=["results.sqlite"], absent_on_error=[out / "report.html"],
          mutation=desc)  # fmt: skip
    if outcome.code == 2:
        assert store.read_bytes() == before, f"exit 2 changed the store: {desc}"
        for name, data in good.kept.items():
            assert (out / name).read_bytes() == data, f"exit 2 rewrote {name}: {desc}"
    elif outcome.code == 0:
        with (out / "results.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == POINTS, f"exit 0 with {len(rows)} of {POINTS} points in results.csv: {desc}"


def _out(good: GoodSweep, folder: Path) -> Path:
    out = folder / f"out-{next(_case)}"
    out.mkdir()
    (out / "results.sqlite").write_bytes(good.store)
    for name, data in good.kept.items():
        (out / name).write_bytes(data)
    return out


@pytest.mark.parametrize("examples", budgets(30))
def test_resume_on_damaged_store(examples: int, good: GoodSweep, tmp_path: Path) -> None:
    @fuzz_settings(examples)
    @given(corruption=corruptions(good.store))
    def case(corruption: tuple[str, bytes]) -> None:
        desc, data = corruption
        note(desc)
        out = _out(good, tmp_path)
        store = out / "results.sqlite"
        if desc.startswith("WAL"):
            (out / "results.sqlite-wal").write_bytes(data)
        elif data == b"other":
            store.unlink()
            _other_program_db(store)
        else:
            store.write_bytes(data)
        try:
            _resume(good, out, desc)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    case()


#: Every edit, and those that edit rows also on one row only.
EDITS = [*SQL_EDITS, *(f"{e} WHERE rowid = 3" for e in SQL_EDITS if e.startswith(("UPDATE results", "DELETE FROM")))]


@pytest.mark.parametrize("edit", EDITS)
def test_resume_on_edited_store(edit: str, good: GoodSweep, tmp_path: Path) -> None:
    """Each SQL edit of a good store, then resume."""
    out = _out(good, tmp_path)
    with sqlite3.connect(out / "results.sqlite") as db:
        db.execute(edit)
    db.close()
    _resume(good, out, f"SQL: {edit}")
