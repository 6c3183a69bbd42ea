"""In-process thread store: a dict. For tests and `kbbot chat`; state is lost when the process ends."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.store.base import DEFAULT_EVENT_TTL_S, DEFAULT_THREAD_TTL_S, check_window, should_write

log = logging.getLogger(__name__)

R = TypeVar("R")


class MemoryThreadStore:
    def __init__(
        self, *, thread_ttl_s: int = DEFAULT_THREAD_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self._ttl = thread_ttl_s
        self._clock = clock
        # serialised JSON, not objects, so the memory store round-trips exactly like the others
        self._threads: dict[str, tuple[str, float]] = {}
        self._events: dict[str, float] = {}
        self._rates: dict[str, deque[float]] = {}  # key -> times of its hits, oldest first
        self._lock = asyncio.Lock()

    def _read(self, key: ThreadKey) -> ThreadState | None:
        row = self._threads.get(key.as_str())
        if row is None:
            return None
        data, expires_at = row
        if expires_at <= self._clock():
            del self._threads[key.as_str()]
            return None
        return ThreadState.from_json(data)

    async def get(self, key: ThreadKey) -> ThreadState | None:
        return self._read(key)

    async def transact(
        self, key: ThreadKey, fn: Callable[[ThreadState | None], tuple[ThreadState | None, R]]
    ) -> R:
        # One event loop, no await between read and write: the lock is all the atomicity needed.
        async with self._lock:
            old = self._read(key)
            new, result = fn(old)
            if should_write(old, new):
                assert new is not None
                self._threads[key.as_str()] = (new.to_json(), self._clock() + self._ttl)
            return result

    def _claim(self, event_id: str, *, ttl_s: int, now: float) -> bool:
        # no await: one event loop makes this read-modify-write atomic
        expires_at = self._events.get(event_id)
        if expires_at is not None and expires_at > now:
            return False
        self._events[event_id] = now + ttl_s
        if len(self._events) > 10_000:
            self._events = {k: v for k, v in self._events.items() if v > now}
        return True

    async def claim_event(self, event_id: str, *, ttl_s: int = DEFAULT_EVENT_TTL_S) -> bool:
        return self._claim(event_id, ttl_s=ttl_s, now=self._clock())

    async def claim_delivery(
        self, lease: str, claims: Sequence[str], *, lease_ttl_s: int, ttl_s: int = DEFAULT_EVENT_TTL_S
    ) -> tuple[str, ...] | None:
        now = self._clock()
        if not self._claim(lease, ttl_s=lease_ttl_s, now=now):
            return None
        return tuple(c for c in claims if not self._claim(c, ttl_s=ttl_s, now=now))

    async def hit_rate(self, key: str, *, window_s: int) -> int:
        now = self._clock()
        since = now - check_window(window_s)
        # No await: one event loop makes this read-modify-write atomic without the lock.
        hits = self._rates.setdefault(key, deque())
        while hits and hits[0] <= since:
            hits.popleft()
        hits.append(now)
        if len(self._rates) > 10_000:
            self._rates = {k: v for k, v in self._rates.items() if v and v[-1] > since}
        return len(hits)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._threads.clear()
        self._events.clear()
        self._rates.clear()
