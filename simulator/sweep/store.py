"""The results store of a sweep: one SQLite file (WAL), written only by the driver.

One row per evaluation, keyed by the hash of (design point, workload, simulator version)
(:func:`simulator.sweep.points.task_key`), holding its status, attempts, metrics, error text
and timings. Every batch of outcomes is one committed transaction, so a killed driver loses at
most the points that were in flight; rerunning skips every key already recorded, so no point is
evaluated twice and none is lost. Readers (a progress monitor, a test) may open the file at
any time; WAL lets them read while the driver writes.

Opening checks that the file is a picojoule store before anything is written to it: a SQLite
file (or an empty one, which SQLite treats as a new database) whose tables are exactly
``meta`` and ``results``, ``meta`` naming :data:`FORMAT_NAME` (stores written before that row
existed carry only ``schema_version`` and still open), the schema version this picojoule
writes, the expected ``results`` columns, and an intact file (``PRAGMA quick_check``). Anything
else, and any SQLite failure later (a disk full, a file corrupted mid-run), is a
:class:`StoreError` naming the file and what to do.

One driver at a time: :func:`exclusive_store` holds an exclusive ``flock`` on the output folder
for the whole sweep (store and exports), so a second driver on the same ``--out`` is refused at
once instead of evaluating every point again and racing the first one's ``results.csv``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerator.errors import PicojouleError

#: ``meta.format`` of a picojoule results store.
FORMAT_NAME = "picojoule.sweep_store"
SCHEMA_VERSION = 1

#: The first 16 bytes of every SQLite 3 database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"

#: What to do about a results file this picojoule cannot use.
_ADVICE = "move the file away (or delete it) or pick another --out folder"

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

_RESULT_COLUMNS = (
    "key", "point_id", "workload", "status", "attempts", "params", "metrics", "feasible", "error",
    "eval_s", "worker", "finished_at", "arch",
)  # fmt: skip


class StoreError(PicojouleError):
    """A results store cannot be used: not a picojoule store, another schema, corrupt, unwritable."""


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


def _check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a path that is a folder or a file that is not SQLite."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a results store; {_ADVICE}")
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return  # a new store
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the results store: {exc.strerror or exc}") from None
    if head and head != _SQLITE_MAGIC:
        # an empty file is an empty SQLite database (what a crash right after creating it leaves)
        raise StoreError(f"{path}: not a picojoule results store (not a SQLite file); {_ADVICE}")


@contextlib.contextmanager
def exclusive_store(out: Path) -> Iterator[None]:
    """Hold the output folder ``out`` for one sweep driver; a second one gets a :class:`StoreError`.

    The lock is an ``flock`` on the folder itself: nothing is written into ``out``, and the OS
    drops it when the process ends however it ends (no stale lock to clean up). Where the file
    system cannot lock (``flock`` unsupported), the sweep runs unlocked, as before."""
    try:
        import fcntl  # POSIX only; elsewhere there is no lock (the driver ran unlocked before)
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                yield  # the file system cannot lock (some network mounts): run unlocked
                return
            raise StoreError(
                f"{out / 'results.sqlite'}: another sweep is running on this store (its --out folder {out} is "
                "locked); wait for it to finish, or pick another --out folder"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


class ResultStore:
    """The SQLite file of one sweep output folder; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_file(self.path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the results store: {exc}; {_ADVICE}") from None
        try:
            with self._guard("open"):
                self._open()
        except BaseException:
            self.conn.close()
            raise

    def _open(self) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and tables != {"meta", "results"}:
            raise StoreError(
                f"{self.path}: not a picojoule results store (its tables are {', '.join(sorted(tables))}; "
                f"a store has meta and results); {_ADVICE}"
            )
        if tables:
            self._check_existing()
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a process kill loses no commit
        if not tables:
            self.conn.executescript(_SCHEMA)
            self.conn.executemany(
                "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                (("format", FORMAT_NAME), ("schema_version", str(SCHEMA_VERSION))),
            )

    def _check_existing(self) -> None:
        """The tables, meta rows and columns of a store that exists, and an intact file."""
        meta = dict(self.conn.execute("SELECT name, value FROM meta").fetchall())
        fmt = meta.get("format", FORMAT_NAME)  # stores made before the format row are picojoule's
        if fmt != FORMAT_NAME:
            raise StoreError(f"{self.path}: meta.format is {fmt!r}, not {FORMAT_NAME!r}; {_ADVICE}")
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: results store schema {version!r}; this picojoule reads and writes "
                f"{SCHEMA_VERSION}; {_ADVICE}"
            )
        columns = tuple(r[1] for r in self.conn.execute("PRAGMA table_info(results)"))
        if columns != _RESULT_COLUMNS:
            raise StoreError(
                f"{self.path}: table results has columns {', '.join(columns)}; a picojoule store has "
                f"{', '.join(_RESULT_COLUMNS)}; {_ADVICE}"
            )
        problems = [r[0] for r in self.conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise StoreError(f"{self.path}: the results store is corrupt ({'; '.join(problems)}); {_ADVICE}")

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """SQLite failures (a corrupt page, a full disk, a read-only file) as a :class:`StoreError`."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "malformed" in text or "not a database" in text:
                raise StoreError(
                    f"{self.path}: the results store is corrupt, or not one (SQLite: {text}); {_ADVICE}"
                ) from None
            raise StoreError(f"{self.path}: cannot {doing} the results store: {text}") from None

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
        with self._guard("read"):
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
        with self._guard("write to"), self.conn:
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
        with self._guard("write to"), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM results WHERE key=?", ((k,) for k in keys))

    def records(self, keys: Iterable[str] | None = None) -> Iterator[Record]:
        """Rows for ``keys`` (all rows when ``None``), in ``keys`` order."""
        query = (
            "SELECT key, point_id, workload, status, attempts, params, metrics, feasible, error, "
            "eval_s, worker, arch FROM results"
        )
        if keys is None:
            with self._guard("read"):
                rows = self.conn.execute(query + " ORDER BY rowid").fetchall()
            yield from (_record(row, self.path) for row in rows)
            return
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            with self._guard("read"):
                cursor = self.conn.execute(f"{query} WHERE key IN ({','.join('?' * len(chunk))})", tuple(chunk))
                found = {row[0]: row for row in cursor}
            yield from (_record(found[k], self.path) for k in chunk if k in found)


def _dumps(x: Mapping[str, Any]) -> str:
    # NaN is stored as null: JSON has no NaN, and "not measured" reads the same in every tool
    return json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in x.items()}, sort_keys=True)


def _json_object(path: Path, row: tuple[Any, ...], column: str, text: Any, empty_ok: bool) -> dict[str, Any]:
    """A JSON-object column of a row, or a :class:`StoreError` naming the row and column."""
    if empty_ok and not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise StoreError(
            f"{path}: row {row[1]!r} ({row[2]}), column {column}: not a JSON object ({str(text)[:60]!r}); "
            f"the store is damaged: {_ADVICE}"
        )
    return value


def _record(row: tuple[Any, ...], path: Path) -> Record:
    """One row as a :class:`Record`; a damaged row is a :class:`StoreError`, never a traceback."""
    metrics = _json_object(path, row, "metrics", row[6], empty_ok=True)
    bad = [k for k, v in metrics.items() if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))]
    numbers = {"attempts": row[4], "eval_s": row[9] or 0.0}
    bad += [k for k, v in numbers.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
    if bad:
        raise StoreError(
            f"{path}: row {row[1]!r} ({row[2]}): {', '.join(bad)} not a number; the store is damaged: {_ADVICE}"
        )
    return Record(
        key=row[0],
        point_id=row[1],
        workload=row[2],
        status=row[3],
        attempts=int(row[4]),
        params=_json_object(path, row, "params", row[5], empty_ok=False),
        metrics={k: (float("nan") if v is None else v) for k, v in metrics.items()},
        feasible=bool(row[7]),
        error=row[8],
        eval_s=float(numbers["eval_s"]),
        worker=row[10] or "",
        arch=_json_object(path, row, "arch", row[11], empty_ok=False),
    )
