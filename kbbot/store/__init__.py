"""Thread stores: memory, SQLite (default) and Redis behind one contract (`ThreadStore` in base.py)."""

from __future__ import annotations

from kbbot.store.base import DEFAULT_THREAD_TTL_S, ThreadStore
from kbbot.store.open import open_store

__all__ = ["DEFAULT_THREAD_TTL_S", "ThreadStore", "open_store"]
