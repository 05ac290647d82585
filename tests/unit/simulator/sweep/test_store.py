"""The sweep results store: WAL SQLite, one row per key, upserts that count attempts."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from simulator.sweep.store import Record, ResultStore


def _rec(key: str, status: str = "done", **kw: object) -> Record:
    base = dict(
        key=key,
        point_id="p" + key,
        workload="tiny",
        status=status,
        attempts=1,
        params={"compute.rows": 8, "block": [1, 16]},
        metrics={"energy_j_per_image": 0.5},
        feasible=status == "done",
        error=None if status == "done" else "boom",
        eval_s=0.01,
        worker="w1",
        arch={"name": "a"},
    )
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


def test_round_trip_and_status(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([_rec("a"), _rec("b", "failed", metrics={})])
        store.write([_rec("c", metrics={"energy_j_per_image": 1e-3, "area_mm2": math.nan})])
        assert store.recorded(["a", "b", "c", "zzz"]) == {"a": "done", "b": "failed", "c": "done"}
        rows = {r.key: r for r in store.records(["c", "a", "b", "missing"])}
    assert list(rows) == ["c", "a", "b"]  # in the order asked, missing keys left out
    assert rows["a"].params == {"compute.rows": 8, "block": [1, 16]}
    assert rows["a"].metrics == {"energy_j_per_image": 0.5}
    assert rows["b"].error == "boom" and rows["b"].metrics == {} and not rows["b"].feasible
    assert rows["c"].metrics["energy_j_per_image"] == 1e-3 and math.isnan(rows["c"].metrics["area_mm2"])


def test_wal_mode_and_readers_see_commits(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        store.write([_rec("a")])
        reader = sqlite3.connect(path)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT count(*) FROM results").fetchone()[0] == 1  # writer still open
        reader.close()


def test_rewriting_a_key_keeps_one_row_and_adds_attempts(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([_rec("a", "failed", attempts=3, metrics={})])
        store.write([_rec("a", "done", attempts=1)])  # --retry-failed
        rows = list(store.records())
    assert len(rows) == 1
    assert rows[0].status == "done" and rows[0].attempts == 4 and rows[0].metrics["energy_j_per_image"] == 0.5


def test_many_keys_are_chunked(tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(1234)]
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([_rec(k) for k in keys[::2]])
        assert len(store.recorded(keys)) == 617
        assert [r.key for r in store.records(keys)] == keys[::2]
