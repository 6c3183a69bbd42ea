"""SQLite thread store: the embedded default. One file, WAL mode, safe for several processes on one host.

SQL runs through `SqliteDatabase.call`: on the event loop while the file is free, on a worker thread when another
process holds the write lock (the sqlite3 module blocks). Compare-and-set is `UPDATE ... WHERE version = ?` (or
`INSERT OR IGNORE` for a new thread) inside a transaction: a row count of 0 means another writer got there first,
and `transact` retries.
Schema changes are named migrations recorded in the `migrations` table.

When SQLite itself fails (a damaged file, a full disk, a read-only folder) the StoreError names the cause
(`kbbot.store.sqlite_db.describe_failure`) rather than whatever a rollback said afterwards, and `ping` (the
health check) keeps failing with that cause until an operation succeeds again: a store that cannot save a
thread is unhealthy even though `SELECT 1` would still answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import StoreError
from kbbot.store.base import (
    DEFAULT_EVENT_TTL_S,
    DEFAULT_THREAD_TTL_S,
    KeyLocks,
    StateDecoder,
    Sweeps,
    check_window,
    transact_with_retries,
)
from kbbot.store.sqlite_db import Migrations, SqliteDatabase, immediate

log = logging.getLogger(__name__)

R = TypeVar("R")

# (name, SQL) in order; a name is applied once per database and never edited after release.
MIGRATIONS: Migrations = (
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
# the event id the health probe writes (never a Slack event id, which starts with "Ev")
_HEALTH_PROBE = "kbbot:health-probe"


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
        self._db = SqliteDatabase(path=self._path, what="thread store", migrations=MIGRATIONS)
        self._sweeps = Sweeps(every=SWEEP_EVERY)
        self._key_locks = KeyLocks()
        self._decoder = StateDecoder(backend="SQLite")
        # why the last operation failed, until one succeeds again (what `ping` reports)
        self._failure: str | None = None

    # --- failures and where work runs -------------------------------------------------------------------------

    def _note_failure(self, why: str) -> None:
        # one log line per cause, not one per event while the cause lasts
        if why != self._failure:
            log.error("%s", why)
        self._failure = why

    def _note_success(self) -> None:
        if self._failure is not None:
            log.warning("SQLite thread store at %s works again", self._path)
            self._failure = None

    async def _call(self, work: Callable[[sqlite3.Connection], R]) -> R:
        try:
            result = await self._db.call(work)
        except StoreError as exc:
            self._note_failure(str(exc))
            raise
        self._note_success()
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
        return self._decoder.decode(key, data), int(version)

    async def get(self, key: ThreadKey) -> ThreadState | None:
        state, _ = await self._call(lambda conn: self._read(conn, key.as_str()))
        return state

    def _write(self, conn: sqlite3.Connection, key: str, expected: int, new: ThreadState) -> bool:
        expires_at = self._clock() + self._ttl
        with immediate(conn):
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
            if self._sweeps.due_after_write() and won:
                now = self._clock()
                conn.execute("DELETE FROM threads WHERE expires_at <= ?", (now,))
                conn.execute("DELETE FROM events WHERE expires_at <= ?", (now,))
                # a flood window is a minute or so; a day covers any window anyone configures
                conn.execute("DELETE FROM rate_hits WHERE at <= ?", (now - 86_400,))
        return won

    async def transact(
        self, key: ThreadKey, fn: Callable[[ThreadState | None], tuple[ThreadState | None, R]]
    ) -> R:
        skey = key.as_str()

        async def read() -> tuple[ThreadState | None, int]:
            return await self._call(lambda conn: self._read(conn, skey))

        async def write(expected: int, new: ThreadState) -> bool:
            # `expected` is the row's version even when the row has expired or did not decode (then the state
            # read was None): the CAS is against what is on disk.
            return await self._call(functools.partial(self._write, key=skey, expected=expected, new=new))

        return await transact_with_retries(key=key, locks=self._key_locks, read=read, write=write, fn=fn)

    def _claim(self, conn: sqlite3.Connection, event_id: str, *, ttl_s: int, now: float) -> bool:
        """Inside a write transaction: claim `event_id` unless a live claim holds it."""
        conn.execute("DELETE FROM events WHERE event_id = ? AND expires_at <= ?", (event_id, now))
        cur = conn.execute(
            "INSERT OR IGNORE INTO events (event_id, expires_at) VALUES (?, ?)", (event_id, now + ttl_s)
        )
        return cur.rowcount == 1

    async def claim_event(self, event_id: str, *, ttl_s: int = DEFAULT_EVENT_TTL_S) -> bool:
        def claim(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return self._claim(conn, event_id, ttl_s=ttl_s, now=self._clock())

        return await self._call(claim)

    async def claim_delivery(
        self, lease: str, claims: Sequence[str], *, lease_ttl_s: int, ttl_s: int = DEFAULT_EVENT_TTL_S
    ) -> tuple[str, ...] | None:
        def claim(conn: sqlite3.Connection) -> tuple[str, ...] | None:
            now = self._clock()
            with immediate(conn):
                if not self._claim(conn, lease, ttl_s=lease_ttl_s, now=now):
                    return None
                return tuple(c for c in claims if not self._claim(conn, c, ttl_s=ttl_s, now=now))

        return await self._call(claim)

    async def hit_rate(self, key: str, *, window_s: int) -> int:
        since_s = check_window(window_s)

        def count(conn: sqlite3.Connection) -> int:
            now = self._clock()
            with immediate(conn):  # other processes' hits wait: the count is exact
                conn.execute("DELETE FROM rate_hits WHERE key = ? AND at <= ?", (key, now - since_s))
                conn.execute("INSERT INTO rate_hits (key, at) VALUES (?, ?)", (key, now))
                (hits,) = conn.execute("SELECT COUNT(*) FROM rate_hits WHERE key = ?", (key,)).fetchone()
            return int(hits)

        return await self._call(count)

    async def ping(self) -> None:
        # A damaged file often still answers `SELECT 1`: reading the tables' first pages finds more of the damage.
        # After a failure, the probe also writes (a full disk fails writes, not reads), so health comes back by
        # itself once the cause is fixed, even with a load balancer sending no work meanwhile.
        write = self._failure is not None

        def probe(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT name FROM migrations LIMIT 1").fetchall()
            conn.execute("SELECT key, version FROM threads ORDER BY key LIMIT 1").fetchall()
            if write:
                with immediate(conn):
                    conn.execute(
                        "INSERT OR REPLACE INTO events (event_id, expires_at) VALUES (?, ?)",
                        (_HEALTH_PROBE, self._clock() + 60),
                    )

        await self._call(probe)

    async def close(self) -> None:
        await asyncio.to_thread(self._db.close)
