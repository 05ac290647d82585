"""The results store of a sweep: one SQLite file (WAL), written only by the driver.

One row per evaluation, keyed by the hash of (design point, workload, simulator version)
(:func:`simulator.sweep.points.task_key`), holding its status, attempts, metrics, error text
and timings. Every batch of outcomes is one committed transaction, so a killed driver loses at
most the points that were in flight; rerunning skips every key already recorded, so no point is
evaluated twice and none is lost. Readers (a progress monitor, a test) may open the file at
any time; WAL lets them read while the driver writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import SimulationError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,        -- hash of (design point, workload, simulator version)
    point_id TEXT NOT NULL,      -- hash of the design point's arch
    workload TEXT NOT NULL,      -- workload label (file name)
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    attempts INTEGER NOT NULL,   -- evaluations started (a worker death counts one)
    params TEXT NOT NULL,        -- JSON: axis and derived values by name
    metrics TEXT,                -- JSON: metric columns (done) or null
    feasible INTEGER,            -- 1 when every constraint on metrics holds
    error TEXT,                  -- why it failed, or which constraint on metrics it missed
    eval_s REAL,                 -- seconds the evaluation took in its worker
    worker TEXT,
    finished_at REAL NOT NULL,   -- unix time the driver recorded it
    arch TEXT NOT NULL           -- JSON: the validated arch evaluated
);
"""


@dataclass(frozen=True)
class Record:
    """One row of the store."""

    key: str
    point_id: str
    workload: str
    status: str  # "done" | "failed"
    attempts: int
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    feasible: bool
    error: str | None
    eval_s: float
    worker: str
    arch: Mapping[str, Any]


class ResultStore:
    """The SQLite file of one sweep output folder; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a process kill loses no commit
        self.conn.executescript(_SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
        if row is None:
            self.conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise SimulationError(
                f"{self.path} has results store schema {row[0]}, this picojoule "
                f"writes {SCHEMA_VERSION}; use another --out folder"
            )

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def recorded(self, keys: Iterable[str]) -> dict[str, str]:
        """Status of each of ``keys`` already in the store."""
        out: dict[str, str] = {}
        chunk: list[str] = []
        for key in keys:
            chunk.append(key)
            if len(chunk) == 500:
                out.update(self._status(chunk))
                chunk = []
        if chunk:
            out.update(self._status(chunk))
        return out

    def _status(self, keys: Sequence[str]) -> dict[str, str]:
        marks = ",".join("?" * len(keys))
        rows = self.conn.execute(f"SELECT key, status FROM results WHERE key IN ({marks})", tuple(keys))
        return dict(rows.fetchall())

    def write(self, records: Sequence[Record]) -> None:
        """Insert or replace ``records`` in one transaction."""
        now = time.time()
        rows = [
            (
                r.key,
                r.point_id,
                r.workload,
                r.status,
                r.attempts,
                _dumps(r.params),
                _dumps(r.metrics) if r.status == "done" else None,
                int(r.feasible),
                r.error,
                r.eval_s,
                r.worker,
                now,
                _dumps(r.arch),
            )
            for r in records
        ]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET "
                "status=excluded.status, attempts=results.attempts+excluded.attempts, "
                "metrics=excluded.metrics, feasible=excluded.feasible, error=excluded.error, "
                "eval_s=excluded.eval_s, worker=excluded.worker, finished_at=excluded.finished_at",
                rows,
            )

    def delete(self, keys: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM results WHERE key=?", ((k,) for k in keys))

    def records(self, keys: Iterable[str] | None = None) -> Iterator[Record]:
        """Rows for ``keys`` (all rows when ``None``), in ``keys`` order."""
        query = (
            "SELECT key, point_id, workload, status, attempts, params, metrics, feasible, error, "
            "eval_s, worker, arch FROM results"
        )
        if keys is None:
            for row in self.conn.execute(query + " ORDER BY rowid"):
                yield _record(row)
            return
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            found = {
                row[0]: row
                for row in self.conn.execute(f"{query} WHERE key IN ({','.join('?' * len(chunk))})", tuple(chunk))
            }
            yield from (_record(found[k]) for k in chunk if k in found)


def _dumps(x: Mapping[str, Any]) -> str:
    # NaN is stored as null: JSON has no NaN, and "not measured" reads the same in every tool
    return json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in x.items()}, sort_keys=True)


def _record(row: tuple[Any, ...]) -> Record:
    metrics = json.loads(row[6]) if row[6] else {}
    return Record(
        key=row[0],
        point_id=row[1],
        workload=row[2],
        status=row[3],
        attempts=row[4],
        params=json.loads(row[5]),
        metrics={k: (float("nan") if v is None else v) for k, v in metrics.items()},
        feasible=bool(row[7]),
        error=row[8],
        eval_s=row[9] or 0.0,
        worker=row[10] or "",
        arch=json.loads(row[11]),
    )
