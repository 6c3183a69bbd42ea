"""The thread store contract: where kbbot remembers each Slack thread, shared by every bot process.

Backends (one module each, so an optional client library is imported only by its backend):

    memory://                    memory.py   one process; tests and `kbbot chat`
    sqlite:///path/state.db      sqlite.py   the embedded default; several processes on one host
    redis://host:6379/0          redis.py    several bot processes behind a load balancer

How the Slack adapter uses it, per incoming event:

    taken = await store.claim_delivery(f"lease:{msg}", [event_id, msg], lease_ttl_s=10)
    if taken is None or (taken and not redelivered_unanswered):   # Slack retried, or another process has it
        return
    turn = await store.transact(key, conversation.updater(user_turn, now=time.time()))
    # now render and post turn.replies, add turn.reactions, post turn.escalation; the state is already saved

`transact` reads the thread's state, calls `fn(state)` -> (new_state, result), and writes new_state only if
the stored version is still the one it read (compare-and-set); on a conflict it reads again and calls `fn`
again, so `fn` must be pure. `fn` returning the state it was given (or one with the same version), or None,
writes nothing. A written state must have a higher version than the stored one. The retry loop is written
once, here (`retry_lost_writes`, shared with the outcome store's Redis backend); each backend brings its
versioned read and its conditional write.

A stored thread that no longer decodes (damaged, or written by an incompatible kbbot) is logged once and read
as no state: the thread starts afresh at the next message instead of failing at every one (`StateDecoder`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar, runtime_checkable

from kbbot.conversation.state import ThreadKey, ThreadState
from kbbot.errors import ConflictError, StoreError

log = logging.getLogger(__name__)

R = TypeVar("R")

DEFAULT_THREAD_TTL_S = 7 * 24 * 3600
DEFAULT_EVENT_TTL_S = 3600
# Compare-and-set attempts before giving up with ConflictError: only reached under pathological contention.
MAX_CAS_ATTEMPTS = 100
# Upper bound of the random pause after the n-th lost compare-and-set, times n: spreads the retrying writers.
CAS_BACKOFF_S = 0.002
# Undecodable thread keys remembered (so each is logged once) before the memory is cleared.
_MAX_REPORTED = 10_000


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

    async def claim_delivery(
        self, lease: str, claims: Sequence[str], *, lease_ttl_s: int, ttl_s: int = DEFAULT_EVENT_TTL_S
    ) -> tuple[str, ...] | None:
        """One delivery of a message, claimed in one step (one transaction, one round trip) across all
        processes sharing the store: None when `lease` is held already (someone is answering the message, or
        was less than `lease_ttl_s` ago), and then nothing else is claimed; otherwise the lease is now the
        caller's, each of `claims` is claimed for `ttl_s`, and the ones that had been claimed before are
        returned (none: a first delivery)."""
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


async def retry_lost_writes(attempt: Callable[[], Awaitable[tuple[bool, R]]], *, what: str) -> R:
    """Run `attempt()` -> (won, result) until a compare-and-set wins; every optimistic write in kbbot retries here.

    `what` names the record in the log and in the ConflictError ("thread T1:C1:1.0", "outcome T1:C1:1.0")."""
    for attempt_no in range(1, MAX_CAS_ATTEMPTS + 1):
        won, result = await attempt()
        if won:
            return result
        log.debug("%s: compare-and-set lost (attempt %s), retrying", what, attempt_no)
        await asyncio.sleep(random.uniform(0, CAS_BACKOFF_S * attempt_no))
    raise ConflictError(f"{what}: gave up after {MAX_CAS_ATTEMPTS} conflicting writes")


async def transact_with_retries(
    *,
    key: ThreadKey,
    locks: KeyLocks,
    read: Callable[[], Awaitable[tuple[ThreadState | None, int]]],
    write: Callable[[int, ThreadState], Awaitable[bool]],
    fn: Callable[[ThreadState | None], tuple[ThreadState | None, R]],
) -> R:
    """The compare-and-set loop every persistent thread store's `transact` runs.

    `read()` gives the thread's state and the version stored for it (0 when there is no row; the row's own
    version when the state expired or did not decode, so the write replaces exactly that row); `write(expected,
    new)` stores `new` only if the stored version is still `expected`, and says whether it did."""

    async def attempt() -> tuple[bool, R]:
        old, stored_version = await read()
        new, result = fn(old)
        if not should_write(old, new):
            return True, result
        assert new is not None
        return await write(stored_version, new), result

    name = key.as_str()
    async with locks.hold(name):
        return await retry_lost_writes(attempt, what=f"thread {name}")


class Sweeps:
    """Counts a store's writes and says when the next sweep of expired rows is due (every `every` writes), so a
    busy store does not grow without bound and a quiet one is not swept for nothing."""

    def __init__(self, *, every: int) -> None:
        self._every = every
        self._writes = 0

    def due_after_write(self) -> bool:
        self._writes += 1
        return self._writes % self._every == 0


class StateDecoder:
    """Decodes stored thread states; one that no longer decodes is logged once (per process) and read as None."""

    def __init__(self, *, backend: str) -> None:
        self._backend = backend
        self._reported: set[str] = set()

    def decode(self, key: str, data: str | bytes) -> ThreadState | None:
        try:
            return ThreadState.from_json(data)
        except StoreError as exc:
            if key not in self._reported:
                if len(self._reported) >= _MAX_REPORTED:
                    self._reported.clear()
                self._reported.add(key)
                log.warning(
                    "%s thread store: thread %s has a stored state that cannot be read (%s); "
                    "starting that thread afresh",
                    self._backend, key, exc,
                )
            return None

