"""`open_outcome_store(url)`: the outcome store beside the thread store the same URL names."""

from __future__ import annotations

from urllib.parse import urlsplit

from kbbot.errors import StoreError
from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, OutcomeStore, retention_seconds


def open_outcome_store(url: str, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> OutcomeStore:
    """`memory://`, `sqlite:///path/state.db` (or `sqlite:///:memory:`), `redis://host:6379/0`, as for
    `kbbot.store.open_store`. Opening does not connect; `await store.ping()` checks the store is reachable."""
    retention_s = retention_seconds(retention_days)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from kbbot.outcomes.memory import MemoryOutcomeStore

        return MemoryOutcomeStore(retention_s=retention_s)
    if scheme == "sqlite":
        from kbbot.outcomes.sqlite import SqliteOutcomeStore

        path = url[len("sqlite://") :]
        if path == "/:memory:":
            path = ":memory:"
        if not path or path == "/":
            raise StoreError(f"no database path in {url!r}; use sqlite:///path/state.db")
        return SqliteOutcomeStore(path=path, retention_s=retention_s)
    if scheme in {"redis", "rediss", "unix"}:
        from kbbot.outcomes.redis import RedisOutcomeStore

        return RedisOutcomeStore(url=url, retention_s=retention_s)
    raise StoreError(f"unknown store URL {url!r}; use memory://, sqlite:///path/state.db or redis://host:6379/0")
