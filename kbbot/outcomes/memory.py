"""In-process outcome store: a dict of serialised records. For tests; records are lost when the process ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from kbbot.conversation.state import ThreadKey
from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, PRUNE_EVERY, OutcomeFn, retention_seconds
from kbbot.outcomes.record import ThreadOutcome
from kbbot.store.base import Sweeps


class MemoryOutcomeStore:
    def __init__(
        self,
        *,
        retention_s: int = retention_seconds(DEFAULT_RETENTION_DAYS),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._retention_s = retention_s
        self._clock = clock
        # JSON, not objects, so the memory store round-trips exactly like the others
        self._records: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._sweeps = Sweeps(every=PRUNE_EVERY)

    def _read(self, skey: str) -> ThreadOutcome | None:
        data = self._records.get(skey)
        if data is None:
            return None
        record = ThreadOutcome.from_json(data)
        # past retention reads as gone at once; the row itself goes at the next prune, as in the other stores
        return None if record.created_at < self._clock() - self._retention_s else record

    async def get(self, key: ThreadKey) -> ThreadOutcome | None:
        return self._read(key.as_str())

    async def update(self, key: ThreadKey, fn: OutcomeFn) -> ThreadOutcome | None:
        async with self._lock:
            old = self._read(key.as_str())
            new = fn(old)
            if new is None or new == old:
                return old
            self._records[key.as_str()] = new.to_json()
            if self._sweeps.due_after_write():
                self._drop_opened_before(self._clock() - self._retention_s)
            return new

    async def list(
        self, *, since: float, until: float | None = None, asker: str | None = None
    ) -> list[ThreadOutcome]:
        records = [r for r in (self._read(k) for k in list(self._records)) if r is not None]
        kept = [
            r
            for r in records
            if r.created_at >= since
            and (until is None or r.created_at < until)
            and (asker is None or r.asker == asker)
        ]
        return sorted(kept, key=lambda r: (r.created_at, r.key.as_str()))

    def _drop_opened_before(self, cutoff: float) -> int:
        gone = [k for k, data in self._records.items() if ThreadOutcome.from_json(data).created_at < cutoff]
        for k in gone:
            del self._records[k]
        return len(gone)

    async def prune(self, *, now: float) -> int:
        async with self._lock:
            return self._drop_opened_before(now - self._retention_s)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._records.clear()
