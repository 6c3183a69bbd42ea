"""SQLite outcome store: table `thread_outcomes` in the same file as the thread store (`sqlite:///path/state.db`).

Its migrations are recorded in the file's `migrations` table beside the thread store's, under names of their
own (`outcomes_...`), so either store may open a file first. `update` reads, applies and writes inside one
`BEGIN IMMEDIATE` transaction: SQLite's write lock makes it atomic across processes on the host, so there is
no compare-and-set to retry. The file is opened and used as the thread store uses it (`kbbot.store.sqlite_db`:
on the event loop while the file is free, on a worker thread when another process holds the write lock).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kbbot.conversation.state import ThreadKey
from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, PRUNE_EVERY, OutcomeFn, retention_seconds
from kbbot.outcomes.record import ThreadOutcome
from kbbot.store.base import Sweeps
from kbbot.store.sqlite_db import Migrations, SqliteDatabase, immediate

R = TypeVar("R")

# (name, SQL) in order; a name is applied once per database and never edited after release.
MIGRATIONS: Migrations = (
    ("outcomes_0001_thread_outcomes", """
        CREATE TABLE thread_outcomes (
            key        TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            asker      TEXT,
            outcome    TEXT NOT NULL,
            record     TEXT NOT NULL
        );
        CREATE INDEX thread_outcomes_created_at ON thread_outcomes (created_at);
        CREATE INDEX thread_outcomes_asker ON thread_outcomes (asker, created_at);
        """),
)


class SqliteOutcomeStore:
    def __init__(
        self,
        *,
        path: str | Path,
        retention_s: int = retention_seconds(DEFAULT_RETENTION_DAYS),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._retention_s = retention_s
        self._clock = clock
        self._db = SqliteDatabase(path=str(path), what="outcome store", migrations=MIGRATIONS)
        self._sweeps = Sweeps(every=PRUNE_EVERY)

    async def _call(self, work: Callable[[sqlite3.Connection], R]) -> R:
        return await self._db.call(work)

    async def _call_in_thread(self, work: Callable[[sqlite3.Connection], R]) -> R:
        # a report's or the learning loop's read of weeks of threads would hold up the event loop: not inline
        return await asyncio.to_thread(self._db.run, work)

    def _cutoff(self, now: float) -> float:
        return now - self._retention_s

    def _read(self, conn: sqlite3.Connection, skey: str) -> ThreadOutcome | None:
        row = conn.execute(
            "SELECT record FROM thread_outcomes WHERE key = ? AND created_at >= ?",
            (skey, self._cutoff(self._clock())),
        ).fetchone()
        return ThreadOutcome.from_json(row[0]) if row else None

    async def get(self, key: ThreadKey) -> ThreadOutcome | None:
        return await self._call(lambda conn: self._read(conn, key.as_str()))

    async def update(self, key: ThreadKey, fn: OutcomeFn) -> ThreadOutcome | None:
        skey = key.as_str()

        def work(conn: sqlite3.Connection) -> ThreadOutcome | None:
            with immediate(conn):
                old = self._read(conn, skey)
                new = fn(old)
                if new is None or new == old:
                    return old
                conn.execute(
                    "INSERT OR REPLACE INTO thread_outcomes (key, created_at, updated_at, asker, outcome, record)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (skey, new.created_at, new.updated_at, new.asker, new.outcome.value, new.to_json()),
                )
                if self._sweeps.due_after_write():
                    cutoff = self._cutoff(self._clock())
                    conn.execute("DELETE FROM thread_outcomes WHERE created_at < ?", (cutoff,))
            return new

        return await self._call(work)

    async def list(
        self, *, since: float, until: float | None = None, asker: str | None = None
    ) -> list[ThreadOutcome]:
        def work(conn: sqlite3.Connection) -> list[ThreadOutcome]:
            sql = "SELECT record FROM thread_outcomes WHERE created_at >= ? AND created_at >= ?"
            params: list[object] = [since, self._cutoff(self._clock())]
            if until is not None:
                sql += " AND created_at < ?"
                params.append(until)
            if asker is not None:
                sql += " AND asker = ?"
                params.append(asker)
            rows = conn.execute(sql + " ORDER BY created_at, key", params).fetchall()
            return [ThreadOutcome.from_json(row[0]) for row in rows]

        return await self._call_in_thread(work)

    async def prune(self, *, now: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cur = conn.execute("DELETE FROM thread_outcomes WHERE created_at < ?", (self._cutoff(now),))
            return int(cur.rowcount)

        return await self._call_in_thread(work)

    async def ping(self) -> None:
        await self._call(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        await asyncio.to_thread(self._db.close)
