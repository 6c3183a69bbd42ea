"""The thread store contract: where kbbot remembers each Slack thread, shared by every bot process.

Backends (one module each, so an optional client library is imported only by its backend):

    memory://                    memory.py   one process; tests and `kbbot chat`
    sqlite:///path/state.db      sqlite.py   the embedded default; several processes on one host
    redis://host:6379/0          redis.py    several bot processes behind a load balancer

How the Slack adapter uses it, per incoming event:

    if not await store.claim_event(event_id):        # Slack retried, or another process has it
        return
    turn = await store.transact(key, conversation.updater(user_turn, now=time.time()))
    # now render and post turn.replies, add turn.reactions, post turn.escalation; the state is already saved

`transact` reads the thread's state, calls `fn(state)` -> (new_state, result), and writes new_state only if
the stored version is still the one it read (compare-and-set); on a conflict it reads again and calls `fn`
again, so `fn` must be pure. `fn` returning the state it was given (or one with the same version), or None,
writes nothing. A written state must have a higher version than the stored one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar, runtime_checkable

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import StoreError

R = TypeVar("R")

DEFAULT_THREAD_TTL_S = 7 * 24 * 3600
DEFAULT_EVENT_TTL_S = 3600
# Compare-and-set attempts before giving up with ConflictError: only reached under pathological contention.
MAX_CAS_ATTEMPTS = 100


@runtime_checkable
class ThreadStore(Protocol):
    async def get(self, key: ThreadKey) -> ThreadState | None:
        """The thread's state, or None when unknown or expired."""
        ...

    async def transact(
        self, key: ThreadKey, fn: Callable[[ThreadState | None], tuple[ThreadState | None, R]]
    ) -> R:
        """Atomically replace the thread's state with fn's; returns fn's result from the attempt that won."""
        ...

    async def claim_event(self, event_id: str, *, ttl_s: int = DEFAULT_EVENT_TTL_S) -> bool:
        """True for the first claim of `event_id` across all processes sharing the store, False after."""
        ...

    async def hit_rate(self, key: str, *, window_s: int) -> int:
        """Count one hit for `key` now and return how many hits `key` had in the last `window_s` seconds, this
        one included, across all processes sharing the store. The window slides (a burst straddling a minute
        boundary is still one burst); hits older than the window are forgotten."""
        ...

    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached (health checks)."""
        ...

    async def close(self) -> None: ...


def check_window(window_s: int) -> int:
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, not {window_s}")
    return window_s


def should_write(old: ThreadState | None, new: ThreadState | None) -> bool:
    """Whether a transact result needs writing; rejects a state that would move the version backwards."""
    if new is None or new is old:
        return False
    old_version = old.version if old is not None else 0
    if new.version == old_version:
        return False
    if new.version < old_version:
        raise StoreError(f"refusing to store thread state version {new.version} over {old_version}")
    return True


class KeyLocks:
    """Per-thread asyncio locks, reference-counted so idle threads cost nothing.

    Writers to one thread inside one process queue on the lock instead of burning compare-and-set retries
    against each other; the CAS still guards against other processes."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
