"""Redis outcome store, for several bot processes sharing one workspace. The only outcome module importing `redis`.

Each thread's record is a JSON string under `kbbot:outcome:<team:channel:thread_ts>` that expires by itself when
its retention ends (EXPIREAT opening time + retention); the sorted set `kbbot:outcomes` holds every thread key
scored by its opening time, so a report reads a time range without scanning the keyspace. `update` is an
optimistic transaction (WATCH the record, MULTI/EXEC the write), retried when another process wrote first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from kbbot.conversation.state import ThreadKey
from kbbot.errors import ConflictError, StoreError
from kbbot.outcomes.base import DEFAULT_RETENTION_DAYS, PRUNE_EVERY, OutcomeFn, retention_seconds
from kbbot.outcomes.record import ThreadOutcome
from kbbot.store.base import MAX_CAS_ATTEMPTS

log = logging.getLogger(__name__)


class RedisOutcomeStore:
    def __init__(
        self,
        *,
        url: str,
        retention_s: int = retention_seconds(DEFAULT_RETENTION_DAYS),
        prefix: str = "kbbot",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._retention_s = retention_s
        self._prefix = prefix
        self._clock = clock
        self._index = f"{prefix}:outcomes"
        self._writes = 0
        try:
            self._client: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        except (RedisError, ValueError) as exc:
            raise StoreError(f"bad Redis URL {_redact(url)!r}: {exc}") from exc

    def _record_key(self, skey: str) -> str:
        return f"{self._prefix}:outcome:{skey}"

    def _failed(self, what: str, exc: Exception) -> StoreError:
        return StoreError(f"Redis outcome store at {_redact(self._url)}: {what} failed: {exc}")

    def _live(self, record: ThreadOutcome) -> bool:
        return record.created_at >= self._clock() - self._retention_s

    async def get(self, key: ThreadKey) -> ThreadOutcome | None:
        try:
            data = await self._client.get(self._record_key(key.as_str()))
        except RedisError as exc:
            raise self._failed("read", exc) from exc
        if data is None:
            return None
        record = ThreadOutcome.from_json(data)
        return record if self._live(record) else None

    async def update(self, key: ThreadKey, fn: OutcomeFn) -> ThreadOutcome | None:
        skey = key.as_str()
        rkey = self._record_key(skey)
        for attempt in range(MAX_CAS_ATTEMPTS):
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    await pipe.watch(rkey)
                    data = await pipe.get(rkey)
                    old = ThreadOutcome.from_json(data) if data is not None else None
                    if old is not None and not self._live(old):
                        old = None
                    new = fn(old)
                    if new is None or new == old:
                        await pipe.unwatch()
                        return old
                    pipe.multi()
                    pipe.set(rkey, new.to_json(), exat=int(new.created_at + self._retention_s) + 1)
                    pipe.zadd(self._index, {skey: new.created_at})
                    await pipe.execute()
                break
            except WatchError:
                log.debug("outcome %s: another process wrote first (attempt %s), retrying", skey, attempt + 1)
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            except RedisError as exc:
                raise self._failed("write", exc) from exc
        else:
            raise ConflictError(f"outcome {skey}: gave up after {MAX_CAS_ATTEMPTS} conflicting writes")
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            # the records expire by themselves; this drops their entries from the index of threads by time
            await self.prune(now=self._clock())
        return new

    async def list(
        self, *, since: float, until: float | None = None, asker: str | None = None
    ) -> list[ThreadOutcome]:
        low = max(since, self._clock() - self._retention_s)
        high = "+inf" if until is None else f"({until!r}"
        try:
            skeys = await self._client.zrangebyscore(self._index, low, high)
            datas = await self._client.mget([self._record_key(k.decode()) for k in skeys]) if skeys else []
        except RedisError as exc:
            raise self._failed("list", exc) from exc
        records = [ThreadOutcome.from_json(d) for d in datas if d is not None]
        kept = [r for r in records if self._live(r) and (asker is None or r.asker == asker)]
        return sorted(kept, key=lambda r: (r.created_at, r.key.as_str()))

    async def prune(self, *, now: float) -> int:
        cutoff = now - self._retention_s
        try:
            skeys = await self._client.zrangebyscore(self._index, "-inf", f"({cutoff!r}")
            if not skeys:
                return 0
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(*[self._record_key(k.decode()) for k in skeys])
                pipe.zrem(self._index, *skeys)
                await pipe.execute()
        except RedisError as exc:
            raise self._failed("prune", exc) from exc
        return len(skeys)

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise self._failed("ping", exc) from exc

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except RedisError as exc:  # closing a dead connection is not worth failing shutdown over
            log.warning("closing Redis outcome store: %s", exc)


def _redact(url: str) -> str:
    """The URL without a password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
