"""`open_store(url)`: the thread store a URL names. Backends are imported only when asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kbbot.store.base import DEFAULT_THREAD_TTL_S, ThreadStore
from kbbot.store.url import Backend, backend_opener

THREAD_STORES = {
    Backend.MEMORY: "kbbot.store.memory:MemoryThreadStore",
    Backend.SQLITE: "kbbot.store.sqlite:SqliteThreadStore",
    Backend.REDIS: "kbbot.store.redis:RedisThreadStore",
}

# The table names modules, so only the backend in use is imported; mypy still checks each keeps the contract.
if TYPE_CHECKING:
    from kbbot.store.memory import MemoryThreadStore
    from kbbot.store.redis import RedisThreadStore
    from kbbot.store.sqlite import SqliteThreadStore

    _KEEP_THE_CONTRACT: tuple[type[ThreadStore], ...] = (MemoryThreadStore, SqliteThreadStore, RedisThreadStore)


def open_store(url: str, *, thread_ttl_s: int = DEFAULT_THREAD_TTL_S) -> ThreadStore:
    """`memory://`, `sqlite:///path/state.db` (or `sqlite:///:memory:`), `redis://host:6379/0`.

    Opening does not connect; `await store.ping()` checks the store is reachable."""
    open_backend = backend_opener(url, classes=THREAD_STORES, what="thread store")
    store: ThreadStore = open_backend(thread_ttl_s=thread_ttl_s)
    return store
