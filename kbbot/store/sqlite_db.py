"""One kbbot SQLite file as every SQLite-backed store opens and uses it (the thread store and the outcome store
share the file named by `sqlite:///path/state.db`).

WAL mode, `synchronous=NORMAL`, a 10 s busy timeout, named migrations recorded in the file's `migrations` table
(each store brings its own names). `SqliteDatabase.call` is how a store's async methods run their SQL: right on the
event loop while the file is free, on a worker thread when another process holds the write lock.
When SQLite fails, the StoreError names the cause in plain words where the result code says it
(`describe_failure`), not whatever a rollback said afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from kbbot.errors import StoreError

log = logging.getLogger(__name__)

R = TypeVar("R")

# (name, SQL) in order; a name is applied once per database and never edited after release.
Migrations = tuple[tuple[str, str], ...]

# Two processes opening a new database at once race to switch it to WAL and migrate it; SQLite answers the loser
# "database is locked" at once, without waiting on busy_timeout, so opening is retried for this long.
OPEN_RETRY_S = 10.0

# SQLite's result codes for a store that cannot work until someone acts, with what to tell them.
_CAUSES = {
    "SQLITE_CORRUPT": "the database file is damaged; move it aside and kbbot starts a new one",
    "SQLITE_NOTADB": "the file is not an SQLite database; move it aside and kbbot starts a new one",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database (or its folder) is read-only",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
    "SQLITE_IOERR": "the disk reported an I/O error",
}


def describe_failure(exc: sqlite3.Error) -> str:
    """SQLite's own message and, when the result code says what is wrong, the cause in plain words."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    cause = _CAUSES.get(name) or next((v for k, v in _CAUSES.items() if name.startswith(k + "_")), None)
    return f"{exc} ({cause})" if cause else str(exc)


def is_locked(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def rollback(conn: sqlite3.Connection) -> None:
    # SQLite has often rolled back already (a full disk, a damaged page); a second ROLLBACK would fail with
    # "cannot rollback - no transaction is active" and that message would replace the one that says why
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction: committed when the block finishes, rolled back (if still open) when it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        rollback(conn)
        raise
    conn.execute("COMMIT")


class SqliteDatabase:
    """The file of one store (`what`: "thread store", "outcome store"), opened on first use and migrated.

    `await call(work)` runs `work(conn)` and turns SQLite's errors into StoreError; `run(work)` is its blocking
    form, for worker threads."""

    def __init__(self, *, path: str, what: str, migrations: Migrations) -> None:
        self.path = path
        self._what = what
        self._migrations = migrations
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None  # used by worker threads, one at a time (self._lock)
        self._inline: sqlite3.Connection | None = None  # used only on the event loop (see `call`)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        deadline = time.monotonic() + OPEN_RETRY_S
        while True:
            try:
                conn = self._open()
                break
            except StoreError as exc:
                if not is_locked(exc.__cause__) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.05))
        self._conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            why = describe_failure(exc) if isinstance(exc, sqlite3.Error) else str(exc)
            raise StoreError(f"cannot open the SQLite {self._what} at {self.path}: {why}") from exc
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with immediate(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
            for name, sql in self._migrations:
                if name in done:
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
                log.info("%s: applied migration %s", self._what, name)

    def failed(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"SQLite {self._what} at {self.path} failed: {describe_failure(exc)}")

    def run(self, work: Callable[[sqlite3.Connection], R]) -> R:
        """`work(conn)` on the worker connection (opened and migrated first if need be); blocks, so call it from
        a worker thread. Raises StoreError when the file cannot be opened or SQLite fails."""
        with self._lock:
            conn = self._connect()
            try:
                return work(conn)
            except sqlite3.Error as exc:
                rollback(conn)
                raise self.failed(exc) from exc

    async def call(self, work: Callable[[sqlite3.Connection], R]) -> R:
        """`work(conn)` for a coroutine; raises StoreError as `run` does. `work` may run twice (the first try
        rolled back), so it must do all its writing inside one transaction.

        A statement on a WAL database takes microseconds, less than a hop to a worker thread and back (which,
        under load, also makes the event loop and the engine's thread queue for the GIL once more), so `work`
        runs right here on the event loop, on a connection that never waits for a lock (busy_timeout 0). When
        another process holds the write lock, SQLite says so at once and the work goes to a worker thread, whose
        connection waits for the lock without holding up the event loop."""
        conn = self._inline
        if conn is None:
            return await asyncio.to_thread(self._run_opening_inline, work)
        try:
            return work(conn)
        except sqlite3.Error as exc:
            rollback(conn)
            if not is_locked(exc):
                raise self.failed(exc) from exc
        return await asyncio.to_thread(self.run, work)

    def _run_opening_inline(self, work: Callable[[sqlite3.Connection], R]) -> R:
        result = self.run(work)
        self._inline_connection()
        return result

    def _inline_connection(self) -> sqlite3.Connection | None:
        """A second connection with busy_timeout 0 (SQLite answers "locked" at once instead of waiting), made once
        the file is open and migrated; None before that."""
        with self._lock:
            if self._inline is None and self._conn is not None:
                inline = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
                inline.execute("PRAGMA synchronous=NORMAL")
                inline.execute("PRAGMA busy_timeout=0")
                self._inline = inline
            return self._inline

    def close(self) -> None:
        """Close both connections (from a worker thread: it waits for a `run` under way)."""
        with self._lock:
            for conn in (self._inline, self._conn):
                if conn is not None:
                    conn.close()
            self._conn = self._inline = None
