"""`open_store(url)`: the store a URL names. Backends are imported only when asked for."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from kbbot.errors import ConfigError, StoreError
from kbbot.store.base import DEFAULT_THREAD_TTL_S, ThreadStore, redact_url

log = logging.getLogger(__name__)


def open_store(url: str, *, thread_ttl_s: int = DEFAULT_THREAD_TTL_S) -> ThreadStore:
    """`memory://`, `sqlite:///path/state.db` (or `sqlite:///:memory:`), `redis://host:6379/0`.

    Opening does not connect; `await store.ping()` checks the store is reachable."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from kbbot.store.memory import MemoryThreadStore

        return MemoryThreadStore(thread_ttl_s=thread_ttl_s)
    if scheme == "sqlite":
        from kbbot.store.sqlite import SqliteThreadStore

        path = url[len("sqlite://") :]
        # sqlite:///abs/path -> /abs/path; sqlite:///rel.db -> /rel.db is what the URL says, keep it
        if path == "/:memory:":
            path = ":memory:"
        if not path or path == "/":
            raise StoreError(f"no database path in {url!r}; use sqlite:///path/state.db")
        return SqliteThreadStore(path=path, thread_ttl_s=thread_ttl_s)
    if scheme in {"redis", "rediss", "unix"}:
        try:
            from kbbot.store.redis import RedisThreadStore
        except ModuleNotFoundError as exc:
            if exc.name != "redis" and not (exc.name or "").startswith("redis."):
                raise
            # an optional extra: say how to get it, not a traceback
            raise ConfigError(
                f"the Redis thread store ({redact_url(url)}) needs the redis package: pip install 'kbbot[redis]'"
            ) from None

        return RedisThreadStore(url=url, thread_ttl_s=thread_ttl_s)
    raise StoreError(f"unknown store URL {url!r}; use memory://, sqlite:///path/state.db or redis://host:6379/0")

