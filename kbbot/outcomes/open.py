"""`open_outcome_store(url)`: the outcome store beside the thread store the same URL names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, OutcomeStore, retention_seconds
from kbbot.store.url import Backend, backend_opener

OUTCOME_STORES = {
    Backend.MEMORY: "kbbot.outcomes.memory:MemoryOutcomeStore",
    Backend.SQLITE: "kbbot.outcomes.sqlite:SqliteOutcomeStore",
    Backend.REDIS: "kbbot.outcomes.redis:RedisOutcomeStore",
}

# The table names modules, so only the backend in use is imported; mypy still checks each keeps the contract.
if TYPE_CHECKING:
    from kbbot.outcomes.memory import MemoryOutcomeStore
    from kbbot.outcomes.redis import RedisOutcomeStore
    from kbbot.outcomes.sqlite import SqliteOutcomeStore

    _KEEP_THE_CONTRACT: tuple[type[OutcomeStore], ...] = (
        MemoryOutcomeStore,
        SqliteOutcomeStore,
        RedisOutcomeStore,
    )


def open_outcome_store(url: str, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> OutcomeStore:
    """`memory://`, `sqlite:///path/state.db` (or `sqlite:///:memory:`), `redis://host:6379/0`, as for
    `kbbot.store.open_store`. Opening does not connect; `await store.ping()` checks the store is reachable."""
    retention_s = retention_seconds(retention_days)
    open_backend = backend_opener(url, classes=OUTCOME_STORES, what="outcome store")
    store: OutcomeStore = open_backend(retention_s=retention_s)
    return store
