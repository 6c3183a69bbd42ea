"""SQLite thread store: the embedded default. One file, WAL mode, safe for several processes on one host.

The sqlite3 module blocks, so every call runs in a worker thread (`asyncio.to_thread`) on one connection
guarded by a lock. Compare-and-set is `UPDATE ... WHERE version = ?` (or `INSERT OR IGNORE` for a new
thread) inside a transaction: a row count of 0 means another writer got there first, and `transact` retries.
Schema changes are named migrations recorded in the `migrations` table.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import ConflictError, StoreError
from kbbot.store.base import (
    DEFAULT_EVENT_TTL_S,
    DEFAULT_THREAD_TTL_S,
    MAX_CAS_ATTEMPTS,
    KeyLocks,
    check_window,
    should_write,
)

log = logging.getLogger(__name__)

R = TypeVar("R")

# (name, SQL) in order; a name is applied once per database and never edited after release.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_threads_and_events",
        """
        CREATE TABLE threads (
            key        TEXT PRIMARY KEY,
            version    INTEGER NOT NULL,
            state      TEXT NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX threads_expires_at ON threads (expires_at);
        CREATE TABLE events (
            event_id   TEXT PRIMARY KEY,
            expires_at REAL NOT NULL
        );
        CREATE INDEX events_expires_at ON events (expires_at);
        """,
    ),
    (
        "0002_rate_hits",
        """
        CREATE TABLE rate_hits (
            key TEXT NOT NULL,
            at  REAL NOT NULL
        );
        CREATE INDEX rate_hits_key_at ON rate_hits (key, at);
        CREATE INDEX rate_hits_at ON rate_hits (at);
        """,
    ),
)

# Expired rows are swept every this many writes, so the file does not grow without bound.
SWEEP_EVERY = 500
# Two processes opening a new database at once race to switch it to WAL and migrate it; SQLite answers the loser
# "database is locked" at once, without waiting on busy_timeout, so opening is retried for this long.
OPEN_RETRY_S = 10.0


class SqliteThreadStore:
    def __init__(
        self,
        *,
        path: str | Path,
        thread_ttl_s: int = DEFAULT_THREAD_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = str(path)
        self._ttl = thread_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None  # used by worker threads, one at a time (self._lock)
        self._inline: sqlite3.Connection | None = None  # used only on the event loop; see _call
        self._writes = 0
        self._key_locks = KeyLocks()

    # --- connection and schema ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        deadline = time.monotonic() + OPEN_RETRY_S
        while True:
            try:
                conn = self._open()
                break
            except StoreError as exc:
                locked = isinstance(exc.__cause__, sqlite3.OperationalError) and "locked" in str(exc.__cause__)
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.05))
        self._conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"cannot open the SQLite thread store at {self._path}: {exc}") from exc
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
                log.info("thread store: applied migration %s", name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _run(self, work: Callable[[sqlite3.Connection], R]) -> R:
        with self._lock:
            conn = self._connect()
            try:
                return work(conn)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"SQLite thread store at {self._path} failed: {exc}") from exc

    async def _call(self, work: Callable[[sqlite3.Connection], R]) -> R:
        # A statement on a WAL database takes microseconds, less than a hop to a worker thread and back, so the
        # work runs right here on the event loop, on a connection that never waits for a lock (busy_timeout 0).
        # When another process holds the write lock, SQLite says so at once and the work goes to a worker thread,
        # whose connection waits for the lock without holding up the event loop.
        conn = self._inline
        if conn is None:
            return await asyncio.to_thread(self._run_opening_inline, work)
        try:
            return work(conn)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not (isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)):
                raise StoreError(f"SQLite thread store at {self._path} failed: {exc}") from exc
        return await asyncio.to_thread(self._run, work)

    def _run_opening_inline(self, work: Callable[[sqlite3.Connection], R]) -> R:
        result = self._run(work)
        with self._lock:
            if self._inline is None and self._conn is not None:
                inline = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
                inline.execute("PRAGMA synchronous=NORMAL")
                inline.execute("PRAGMA busy_timeout=0")
                self._inline = inline
        return result

    # --- the contract ------------------------------------------------------------------------------------------

    def _read(self, conn: sqlite3.Connection, key: str) -> tuple[ThreadState | None, int]:
        row = conn.execute("SELECT version, state, expires_at FROM threads WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None, 0
        version, data, expires_at = row
        if expires_at <= self._clock():
            # Expired but still on disk: a new thread starts from nothing, CAS against the dead row's version.
            return None, int(version)
        return ThreadState.from_json(data), int(version)

    async def get(self, key: ThreadKey) -> ThreadState | None:
        state, _ = await self._call(lambda conn: self._read(conn, key.as_str()))
        return state

    def _write(self, conn: sqlite3.Connection, key: str, expected: int, new: ThreadState) -> bool:
        expires_at = self._clock() + self._ttl
        conn.execute("BEGIN IMMEDIATE")
        try:
            if expected == 0:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO threads (key, version, state, expires_at) VALUES (?, ?, ?, ?)",
                    (key, new.version, new.to_json(), expires_at),
                )
            else:
                cur = conn.execute(
                    "UPDATE threads SET version = ?, state = ?, expires_at = ? WHERE key = ? AND version = ?",
                    (new.version, new.to_json(), expires_at, key, expected),
                )
            won = cur.rowcount == 1
            self._writes += 1
            if won and self._writes % SWEEP_EVERY == 0:
                now = self._clock()
                conn.execute("DELETE FROM threads WHERE expires_at <= ?", (now,))
                conn.execute("DELETE FROM events WHERE expires_at <= ?", (now,))
                # a flood window is a minute or so; a day covers any window anyone configures
                conn.execute("DELETE FROM rate_hits WHERE at <= ?", (now - 86_400,))
            conn.execute("COMMIT")
            return won
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def transact(
        self, key: ThreadKey, fn: Callable[[ThreadState | None], tuple[ThreadState | None, R]]
    ) -> R:
        skey = key.as_str()
        async with self._key_locks.hold(skey):
            for attempt in range(MAX_CAS_ATTEMPTS):
                old, stored_version = await self._call(lambda conn: self._read(conn, skey))
                new, result = fn(old)
                if not should_write(old, new):
                    return result
                assert new is not None
                # stored_version is the row's, even when the row has expired (then `old` is None): the CAS is
                # against what is on disk.
                if await self._call(functools.partial(self._write, key=skey, expected=stored_version, new=new)):
                    return result
                log.debug("thread %s: compare-and-set lost (attempt %s), retrying", skey, attempt + 1)
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConflictError(f"thread {skey}: gave up after {MAX_CAS_ATTEMPTS} conflicting writes")

    async def claim_event(self, event_id: str, *, ttl_s: int = DEFAULT_EVENT_TTL_S) -> bool:
        def claim(conn: sqlite3.Connection) -> bool:
            now = self._clock()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM events WHERE event_id = ? AND expires_at <= ?", (event_id, now))
                cur = conn.execute(
                    "INSERT OR IGNORE INTO events (event_id, expires_at) VALUES (?, ?)", (event_id, now + ttl_s)
                )
                conn.execute("COMMIT")
                return cur.rowcount == 1
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return await self._call(claim)

    async def hit_rate(self, key: str, *, window_s: int) -> int:
        since_s = check_window(window_s)

        def count(conn: sqlite3.Connection) -> int:
            now = self._clock()
            conn.execute("BEGIN IMMEDIATE")  # other processes' hits wait: the count is exact
            try:
                conn.execute("DELETE FROM rate_hits WHERE key = ? AND at <= ?", (key, now - since_s))
                conn.execute("INSERT INTO rate_hits (key, at) VALUES (?, ?)", (key, now))
                (hits,) = conn.execute("SELECT COUNT(*) FROM rate_hits WHERE key = ?", (key,)).fetchone()
                conn.execute("COMMIT")
                return int(hits)
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return await self._call(count)

    async def ping(self) -> None:
        await self._call(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                for conn in (self._inline, self._conn):
                    if conn is not None:
                        conn.close()
                self._conn = self._inline = None

        await asyncio.to_thread(close)
