"""The outcome store contract: where each thread's `ThreadOutcome` is kept for reports, durable across restarts.

Backends, opened from the same URL as the thread store (`open_outcome_store`), one module each:

    memory://                  memory.py   one process; tests
    sqlite:///path/state.db    sqlite.py   table `thread_outcomes` in the thread store's own file
    redis://host:6379/0        redis.py    a JSON string per thread plus a sorted set of threads by opening time

`update(key, fn)` is atomic across processes: two people voting on one answer at the same moment both count.
A record is kept for `retention_s` after its thread was opened (default 90 days), then pruned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from kbbot.conversation.state import ThreadKey
from kbbot.outcomes.record import ThreadOutcome

DEFAULT_RETENTION_DAYS = 90
DAY_S = 86_400
# Writes between sweeps of records past retention, so a busy store does not grow without bound.
PRUNE_EVERY = 500

OutcomeFn = Callable[[ThreadOutcome | None], ThreadOutcome | None]


@runtime_checkable
class OutcomeStore(Protocol):
    async def get(self, key: ThreadKey) -> ThreadOutcome | None:
        """The thread's record, or None when unknown or past retention."""
        ...

    async def update(self, key: ThreadKey, fn: OutcomeFn) -> ThreadOutcome | None:
        """Atomically replace the thread's record with fn(record); fn may run more than once, so it must be pure.
        fn returning None (or the record unchanged) writes nothing. Returns what is stored afterwards."""
        ...

    async def list(
        self, *, since: float, until: float | None = None, asker: str | None = None
    ) -> list[ThreadOutcome]:
        """Records of threads opened at or after `since` (and before `until`), oldest first; `asker` keeps only
        that person's threads."""
        ...

    async def prune(self, *, now: float) -> int:
        """Delete records of threads opened more than the retention before `now`; returns how many went."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def retention_seconds(days: int) -> int:
    if days <= 0:
        raise ValueError(f"outcome retention must be at least one day, not {days}")
    return days * DAY_S
